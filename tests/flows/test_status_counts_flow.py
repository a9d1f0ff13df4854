"""The numbers an organiser sees agree everywhere, and /status answers short first, details on request.

The seed plan, and the contradictions a district emulation officer met in a trial, reproduced on the same
data (clock at 10:00 on 12/5/2020 in Hà Nội, three days before the district conference's nominations
close, the grassroots conference long over):

- Phường Bưởi (allowance 10, 5 expected) has two nominations that citizens sent naming it, one approved:
  /status said "đã gửi 0/10 (dự kiến 5), được duyệt 1" and listed Bưởi among the units with none.
- Phòng Nội vụ (allowance 2, 1 expected) sent two through its focal point: "đã gửi 2/1 đề cử dự kiến".
- 91 delegates accepted, one of them an exemplar: "còn thiếu 63 người" for the 70% exemplar share, while
  209 of the 210 exemplar seats were empty.

Every screen — /status, /status units, the chart, the digest, the reminders, /deadlines and the workbook —
counts as ``rules.counts`` defines, and the tests compare them on these rows.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.settings import Settings
from handlers.menu import COMMANDS, Group
from handlers.schedule import Renderer
from rules import accounts, charts, schedule
from rules import status as status_rules
from rules.roles import Role
from rules.text import fold
from storage.models import Campaign, Conference, Invitation, Nomination, OrgUnit
from tests.flows.conftest import running
from tests.people import account_at

HANOI = dt.timezone(dt.timedelta(hours=7))
NOW = dt.datetime(2020, 5, 12, 10, 0, tzinfo=HANOI).astimezone(dt.UTC)
FOCAL_POINT_ID = 2002  # the focal point of Phòng Nội vụ
CITIZEN_ID = 1001
BUOI_FOCAL_POINT_ID = 2003


class Clock:
    """The application's injected clock, set by the test (it does not run on by itself)."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment

    def set(self, local: str) -> None:
        self.moment = dt.datetime.fromisoformat(local).replace(tzinfo=HANOI).astimezone(dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, zalo=True, seed_plan=True, fill=_fill) as pg:
        yield pg


@pytest.fixture
def organiser(playground: Playground) -> ChatUser:
    return playground.person(Persona(9001, "Hoà", "Phạm Thu"))


@pytest.fixture
def focal_point(playground: Playground) -> ChatUser:
    return playground.person(Persona(FOCAL_POINT_ID, "Bình", "Lê Văn"))


async def _fill(db) -> None:
    campaign_id = await db.scalar(select(Campaign.id).where(Campaign.code == "tay-ho-2020"))
    district = await db.scalar(select(Conference.id).where(Conference.code == "district"))
    units = {unit.code: unit.id for unit in await db.scalars(select(OrgUnit))}
    citizen = await accounts.ensure_telegram_account(
        db, telegram_user_id=CITIZEN_ID, display_name="Nguyễn Thị Lan", username=None, organiser_ids=(), now=NOW
    )
    focal = await accounts.ensure_telegram_account(
        db, telegram_user_id=FOCAL_POINT_ID, display_name="Lê Văn Bình", username=None, organiser_ids=(), now=NOW
    )
    await accounts.assign_role(db, focal.id, Role.FOCAL_POINT, unit_id=units["phong_noi_vu"])
    ward = await accounts.ensure_telegram_account(
        db, telegram_user_id=BUOI_FOCAL_POINT_ID, display_name="Trần Văn Minh", username=None, organiser_ids=(), now=NOW
    )
    await accounts.assign_role(db, ward.id, Role.FOCAL_POINT, unit_id=units["buoi"])
    sent = NOW - dt.timedelta(days=3)
    rows = [
        # (unit, source, status, nominator)
        ("buoi", "citizen", "approved", citizen.id),
        ("buoi", "citizen", "submitted", citizen.id),
        ("buoi", "citizen", "withdrawn", citizen.id),  # withdrawn: not a sent nomination
        ("phong_noi_vu", "focal_point", "submitted", focal.id),
        ("phong_noi_vu", "focal_point", "submitted", focal.id),
    ]
    for index, (unit, source, state, nominator) in enumerate(rows, start=1):
        db.add(
            Nomination(
                code=f"DH-2020-{index:04d}",
                campaign_id=campaign_id,
                conference_id=district,
                nominator_id=nominator,
                source=source,
                unit_id=units[unit],
                status=state,
                kind="individual",
                nominee_name=f"Nguyễn Văn {index}",
                nominee_fold=fold(f"Nguyễn Văn {index}"),
                gender="nam",
                birth_year=1980,
                submitted_at=sent,
                achievements="Gương mẫu trong phong trào.",
            )
        )
    # One exemplar and 90 guests and leaders accepted.
    for index in range(91):
        pool = "exemplar" if index == 0 else "guest_leader"
        name = f"Đại biểu {index}"
        db.add(
            Invitation(
                conference_id=district,
                pool_code=pool,
                import_key=f"person-{index}",
                full_name=name,
                name_fold=fold(name),
                status="accepted",
            )
        )


def _texts(replies) -> list[str]:
    return [reply.text for reply in replies if reply.method == "sendMessage"]


async def _district(playground: Playground) -> status_rules.ConferenceStatus:
    async with playground.services.database.transaction() as db:
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        status = await status_rules.conference_status(db, conference.id, today=NOW.astimezone(HANOI).date())
    assert status is not None
    return status


# --- item 2: numbers agree everywhere --------------------------------------------------------------------


async def test_a_unit_with_nominations_from_citizens_is_not_listed_as_having_none(organiser):
    # Before: "📝 … Đơn vị chưa gửi đề cử nào: 38/39 ⚠️ Phường Bưởi" while two nominations named Bưởi.
    text = "\n".join(_texts(await organiser.send("/status district")))

    assert "🏢 Đơn vị: 2/39 đã có đề cử, 1 đủ số dự kiến" in text
    assert "⚠️ 37 đơn vị chưa có đề cử nào (Phường Nhật Tân, Phường Phú Thượng, Phường Quảng An…)" in text
    assert "Phường Bưởi" not in text
    assert "Chỉ còn 3 ngày là hết hạn gửi đề cử mà vẫn còn 37 đơn vị chưa có đề cử nào." in text

    units = "\n".join(_texts(await organiser.send("/status units 4")))
    # Before: "⚠️ Phường Bưởi: đã gửi 0/10 (dự kiến 5), được duyệt 1".
    assert "• Phường Bưởi: 2/5 đề cử dự kiến, 1 được duyệt; đơn vị tự gửi 0/10 chỉ tiêu, người khác gửi 2" in units
    assert "⚠️ Phường Bưởi" not in units


async def test_a_unit_with_more_than_expected_reads_enough_never_2_of_1(organiser, focal_point):
    replies = await organiser.send("/status units 4")
    text = "\n".join(_texts(replies))
    # Before: "đã gửi 2/2 (dự kiến 1)" here and "đã gửi 2/1 đề cử dự kiến" in /deadlines.
    assert "• Phòng Nội vụ quận Tây Hồ: 2 đề cử, đủ số dự kiến (1), 0 được duyệt; chỉ tiêu 2" in text

    [deadlines] = await focal_point.send("/deadlines")
    assert "• Phòng Nội vụ quận Tây Hồ đã có 2 đề cử, đủ số dự kiến (1)" in deadlines.text
    assert "2/1" not in deadlines.text


async def test_the_exemplar_shortfall_is_the_empty_exemplar_seats(organiser):
    text = "\n".join(_texts(await organiser.send("/status district")))

    assert "• Đại biểu điển hình tiên tiến: 1/210 đã nhận lời (0%) — cần thêm 209 đại biểu điển hình" in text
    # Before: "… thấp hơn mức 70% mà kế hoạch đề ra (còn thiếu 63 người)".
    assert "còn 209 chỗ dành cho nhóm này chưa có người" in text
    assert "63" not in text


async def test_status_digest_reminders_deadlines_chart_and_workbook_count_the_same(playground, organiser):
    status = await _district(playground)
    by_unit = {unit.code: unit for unit in status.nominations.units}
    buoi, noi_vu = by_unit["buoi"], by_unit["phong_noi_vu"]
    assert (buoi.sent, buoi.by_focal_point, buoi.approved, buoi.missing, buoi.left) == (2, 0, 1, 3, 10)
    assert (noi_vu.sent, noi_vu.by_focal_point, noi_vu.missing, noi_vu.left) == (2, 2, 0, 0)
    at_zero = [unit.name for unit in status.nominations.units_at_zero]
    assert len(at_zero) == 37

    config = schedule.ScheduleConfig()
    async with playground.services.database.transaction() as db:
        conference = await db.get(Conference, status.conference_id)
        assert conference is not None
        progress = {unit.unit_id: unit for unit in await schedule.unit_progress(db, conference, config)}
        # Twelve hours on, the nomination deadline is within the digest's three days: it has news to give.
        later = NOW + dt.timedelta(hours=12)
        digest = await schedule.digest_content(db, since=later - dt.timedelta(days=1), until=later, config=config)
        reminders = await schedule.nomination_reminders(db, NOW, config)
    # The reminders and the digest: the same units, the same figures as /status.
    for unit in status.nominations.units:
        assert (progress[unit.unit_id].sent, progress[unit.unit_id].missing) == (unit.sent, unit.missing)
    assert digest is not None
    [district_digest] = [item for item in digest if item.conference.id == status.conference_id]
    assert sorted(district_digest.units_at_zero) == sorted(at_zero)
    reminded = {
        intent.unit.unit_id: intent.unit for intent in reminders if isinstance(intent, schedule.NominationReminder)
    }
    # Bưởi's focal point is reminded three days before the deadline, of the two nominations it has.
    [buoi_reminder] = [
        i for i in reminders if isinstance(i, schedule.NominationReminder) and i.unit.unit_id == buoi.unit_id
    ]
    assert buoi_reminder.unit == buoi
    text = Renderer.nomination_reminder(organiser.playground.services.translators.get("vi"), buoi_reminder)
    assert "Phường Bưởi mới có 2/5 đề cử dự kiến." in text
    assert noi_vu.unit_id not in reminded  # it has as many as expected

    # The chart: the exemplar bar as the seats line reads it.
    data = charts.chart_data(status, organiser.playground.services.translators.get("vi"))
    assert [bar.note for bar in data.pools] == ["1/210", "90/90"]

    # The workbook's units sheet: the same figures, row for row.
    replies = await organiser.send("/export district")
    book = load_workbook(io.BytesIO(replies[-1].file_bytes or b""), read_only=True)
    rows = {row[1]: row for row in book["Đơn vị"].iter_rows(min_row=2, values_only=True)}
    assert rows["Phường Bưởi"][2:] == (2, 5, 3, 1, 0, 10, 2)
    assert rows["Phòng Nội vụ quận Tây Hồ"][2:] == (2, 1, 0, 0, 2, 2, 0)
    assert sum(1 for row in rows.values() if row[2] == 0) == 37


# --- item 6: /status defaults to the conference current now --------------------------------------------


async def test_plain_status_shows_and_charts_the_conference_current_now(organiser, clock):
    clock.set("2020-02-20 09:00")  # both open: the grassroots conference is held by 14/3
    replies = await organiser.send("/status")
    texts = _texts(replies)
    assert sum("📊" in text for text in texts) == 1
    assert texts[0].startswith("📊 Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt (mã: grassroots)")
    assert "Các hội nghị khác đang mở: Hội nghị Điển hình tiên tiến (mã: district). Gõ /status MÃ để xem." in texts[-1]
    assert replies[-1].method == "sendPhoto"
    assert replies[-1].text == "Biểu đồ: Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt"

    clock.set("2020-03-15 09:00")  # the grassroots conference's window ended yesterday
    replies = await organiser.send("/status")
    texts = _texts(replies)
    assert texts[0].startswith("📊 Hội nghị Điển hình tiên tiến (mã: district)")
    assert "grassroots" not in "\n".join(texts)  # over: not offered as open
    assert replies[-1].text == "Biểu đồ: Hội nghị Điển hình tiên tiến"


def test_the_current_conference_is_decided_on_the_injected_clock():
    grassroots = Conference(id=1, code="g", window_end=dt.datetime(2020, 3, 14, 10, tzinfo=dt.UTC))
    district = Conference(id=2, code="d", starts_at=dt.datetime(2020, 6, 15, 1, tzinfo=dt.UTC))
    both = [grassroots, district]
    assert status_rules.current_conference(both, dt.datetime(2020, 3, 14, 16, 59, tzinfo=dt.UTC)) is grassroots
    # 00:30 on 15/3 in Hà Nội is still 14/3 in UTC: the local date counts.
    assert status_rules.current_conference(both, dt.datetime(2020, 3, 14, 17, 30, tzinfo=dt.UTC)) is district
    # Everything over: the last one held, so /status still has a conference to show.
    assert status_rules.current_conference(both, dt.datetime(2021, 1, 1, tzinfo=dt.UTC)) is district
    assert status_rules.current_conference([], dt.datetime(2021, 1, 1, tzinfo=dt.UTC)) is None


# --- item 8: short answers, then details on request ---------------------------------------------------


async def test_status_is_a_summary_and_the_units_come_page_by_page(organiser):
    overview = "\n".join(_texts(await organiser.send("/status")))
    # Before: 37 lines of "⚠️ unit" and an empty "Các đơn vị khác:".
    assert overview.count("⚠️ Phường") == 0
    assert "Các đơn vị khác" not in overview
    assert "— /status district units để xem" in overview

    [page1] = _texts(await organiser.send("/status units"))
    lines = page1.split("\n")
    assert lines[0] == "🏢 Đề cử theo đơn vị — Hội nghị Điển hình tiên tiến (mã: district):"
    assert lines[1] == "⚠️ 37/39 đơn vị chưa có đề cử nào."
    assert len(lines[2:-1]) == 10 and all(line.startswith("⚠️ ") for line in lines[2:-1])
    assert lines[-1] == "Trang 1/4. Gõ “tiếp” để xem trang sau, hoặc gõ số trang (1–4)."
    assert "Các đơn vị khác" not in page1

    [page2] = _texts(await organiser.send("tiếp"))
    assert "Trang 2/4." in page2
    assert page2.split("\n")[2] != lines[2]
    [page4] = _texts(await organiser.send("4"))
    assert page4.endswith("\nTrang 4/4 (trang cuối). Gõ số trang (1–4) để xem trang khác.")
    assert "• Phường Bưởi: 2/5 đề cử dự kiến" in page4  # units with nominations come after those with none
    [beyond] = _texts(await organiser.send("trang 9"))
    assert beyond.startswith("Danh sách có 4 trang; đây là trang 4.")
    [back] = _texts(await organiser.send("trước"))
    assert "Trang 3/4." in back


async def test_page_buttons_work_however_old(playground, organiser):
    await organiser.send("/status units")
    first = organiser.messages[-1]
    assert [button["text"] for button in first.buttons] == ["· 1 ·", "2", "3", "4"]

    [page3] = _texts(await organiser.press("3", first))
    assert "Trang 3/4." in page3
    # The same old message pressed again later, after the data changed: the page as it stands now.
    async with playground.services.database.transaction() as db:
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        conference_id = conference.id
    [again] = _texts(await organiser.press_data(f"stu:{conference_id}:4", first))
    assert "Trang 4/4 (trang cuối)." in again
    [clamped] = _texts(await organiser.press_data(f"stu:{conference_id}:99", first))
    assert clamped.startswith("Danh sách có 4 trang; đây là trang 4.")
    async with playground.services.database.transaction() as db:
        conference = await db.get(Conference, conference_id)
        assert conference is not None
        conference.status = "closed"
    replies = await organiser.press_data(f"stu:{conference_id}:2", first)
    assert "Hội nghị này không còn mở. Vui lòng gõ /status để xem tình hình chung." in [r.text for r in replies]


async def test_a_typed_next_without_a_list_is_a_stray_message(organiser, playground):
    citizen = playground.person(Persona(CITIZEN_ID, "Lan", "Nguyễn Thị"))
    [reply] = await citizen.send("tiếp")
    assert reply.text == "Tôi chưa hiểu ý bạn. Gõ /help để xem tôi có thể giúp gì."
    [reply] = await organiser.send("tiếp")
    assert reply.text == "Tôi chưa hiểu ý bạn. Gõ /help để xem tôi có thể giúp gì."


async def test_on_zalo_the_units_are_paged_by_typing(playground):
    hoa = playground.zalo_person("Phạm Thu Hoà")
    await hoa.send("/start")
    async with playground.services.database.transaction() as db:
        account = await account_at(db, await hoa.address())
        assert account is not None
        await accounts.assign_role(db, account.id, Role.ORGANISER)
    playground.services.accounts.forget(await hoa.address())

    shown = "\n".join(await hoa.send("/status units"))
    assert "Trang 1/4. Gõ “tiếp” để xem trang sau, hoặc gõ số trang (1–4)." in shown
    assert "Trả lời" not in shown  # no numbered menu that would clash with the page numbers
    shown = "\n".join(await hoa.send("tiep"))
    assert "Trang 2/4." in shown
    shown = "\n".join(await hoa.send("3"))
    assert "Trang 3/4." in shown


async def test_help_is_grouped_by_task(organiser, playground):
    [reply] = await organiser.send("/help")
    text = reply.text
    headings = ["📝 Đề cử", "✉️ Giấy mời", "📊 Theo dõi", "⚙️ Quản trị", "ℹ️ Chung"]
    positions = [text.index(f"\n{heading}\n") for heading in headings]
    assert positions == sorted(positions)
    # Each command under its group's heading.
    assert text.index("/nominate —") < positions[1] < text.index("/invite —") < positions[2]
    assert positions[2] < text.index("/status —") < positions[3] < text.index("/grant —") < positions[4]
    assert text.count("\n/") + text.startswith("/") == len(COMMANDS)
    assert (
        "\n/export — Tệp Excel: đề cử, đại biểu, điểm danh, cơ cấu (dân tộc, tôn giáo chỉ khi gõ /export nhạy cảm LÝ DO)\n"
        in text
    )

    citizen = playground.person(Persona(CITIZEN_ID, "Lan", "Nguyễn Thị"))
    [reply] = await citizen.send("/help")
    assert "⚙️ Quản trị" not in reply.text and "/status" not in reply.text
    assert "📝 Đề cử\n/nominate —" in reply.text
    assert all(command.group in Group for command in COMMANDS)


async def test_zalo_help_follows_the_same_groups(playground):
    lan = playground.zalo_person("Nguyễn Thị Lan")
    shown = "\n".join(await lan.send("/help"))
    assert "📝 Đề cử\n/nominate —" in shown
    assert "✉️ Giấy mời — trên Zalo\n• " in shown
    assert "ℹ️ Chung — trên Zalo\n• Trên Zalo" in shown
    assert shown.index("✉️ Giấy mời — trên Zalo") < shown.index("ℹ️ Chung — trên Zalo")
