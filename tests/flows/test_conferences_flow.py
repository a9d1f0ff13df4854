"""Which conferences are offered, when a unit's allowance is used up, and /conference, as people meet them.

The seed plan is loaded with its real 2020 dates, and the bot's clock (which a test moves) stands in 2020:
the grassroots conference is held by 14/3/2020 and takes nominations until 29/2; the district conference is
held in Quý II/2020 (1/4–30/6), takes nominations until 15/5 and delegates' answers until 10/6.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator

import openpyxl
import pytest
from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.settings import Settings
from rules import accounts, calendar, outbox
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import Role
from rules.text import fold
from storage.models import (
    AuditEntry,
    Campaign,
    Conference,
    ConferenceArrangement,
    InvitationImport,
    Nomination,
    OrgUnit,
    UnitAllowance,
)
from tests.flows.conftest import running

GRASSROOTS = "Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt"
DISTRICT = "Hội nghị Điển hình tiên tiến"
FEBRUARY = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)  # 10:00 on 10/2/2020: both take nominations
MAY = dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC)  # the grassroots conference is over; the district's ahead
JULY = dt.datetime(2020, 7, 2, 3, 0, tzinfo=dt.UTC)  # both are over
HUNG, MINH = 5005, 2002


class Clock:
    """The bot's clock: it keeps running (the outbox's pacing needs that), from a moment a test sets."""

    def __init__(self, moment: dt.datetime) -> None:
        self.now = moment

    @property
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    @now.setter
    def now(self, moment: dt.datetime) -> None:
        self.offset = moment - dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(MAY)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, seed_plan=True) as pg:
        yield pg


@pytest.fixture
def hung(playground: Playground) -> ChatUser:
    return playground.person(Persona(HUNG, "Hùng", "Trần Văn"))


async def _conference(playground: Playground, code: str) -> Conference:
    async with playground.services.database.transaction() as db:
        return await db.scalar(
            select(Conference).where(Conference.code == code).execution_options(populate_existing=True)
        )


async def _drain(playground: Playground, clock: Clock) -> None:
    for _ in range(10):
        await playground.services.outbox.drain()
        async with playground.services.database.transaction() as db:
            if not await outbox.pending_count(db):
                return
        clock.offset += dt.timedelta(seconds=2)
    raise AssertionError("the outbox did not empty")


def _guest_list() -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Họ và tên", "Năm sinh", "Giới tính", "Đơn vị"])
    sheet.append(["Nguyễn Văn An", 1968, "Nam", "Phường Bưởi"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- ended conferences are not offered ---------------------------------------------------------------------


async def test_in_may_the_grassroots_conference_is_no_longer_offered_for_a_guest_list(playground, organiser):
    # Before: in May 2020 the bot asked "which conference?" with the grassroots one, over since 14/3/2020.
    report = await organiser.send_document(_guest_list(), "khach-moi.xlsx")

    assert "Danh sách khách mời này dành cho hội nghị nào?" not in [m.text for m in report]
    assert GRASSROOTS not in report[-1].text and DISTRICT in report[0].text
    async with playground.services.database.transaction() as db:
        [staged] = (await db.scalars(select(InvitationImport))).all()
        district = await db.scalar(select(Conference.id).where(Conference.code == "district"))
    assert staged.conference_id == district

    invite = await organiser.send("/invite all")
    assert invite[-1].text == f"{DISTRICT} chưa có đề cử đã được duyệt nào đang chờ mời."


async def test_an_old_button_for_an_ended_conference_is_refused(playground, organiser, clock):
    clock.now = FEBRUARY
    asked = await organiser.send_document(_guest_list(), "khach-moi.xlsx")
    assert asked[-1].text == "Danh sách khách mời này dành cho hội nghị nào?"
    assert [label for label in asked[-1].button_labels] == [GRASSROOTS, DISTRICT]

    clock.now = MAY
    await organiser.press(GRASSROOTS)

    assert organiser.toasts[-1] == "Lựa chọn này không còn nữa."
    assert organiser.last.button_labels == [DISTRICT]
    async with playground.services.database.transaction() as db:
        assert (await db.scalars(select(InvitationImport))).all() == []


async def test_when_every_conference_is_over_nothing_is_offered(playground, organiser, citizen, clock):
    clock.now = JULY
    guests = await organiser.send_document(_guest_list(), "khach-moi.xlsx")
    invite = await organiser.send("/invite all")
    arrange = await organiser.send("/conference")
    nominate = await citizen.send("/nominate")

    assert guests[-1].text == (
        "Hiện không có hội nghị nào nhận danh sách khách mời: các hội nghị trong kế hoạch đều đã diễn ra."
    )
    assert invite[-1].text == "Hiện không có hội nghị nào nhận giấy mời: các hội nghị trong kế hoạch đều đã diễn ra."
    assert arrange[-1].text == ("Hiện không có hội nghị nào thay đổi được: các hội nghị trong kế hoạch đều đã diễn ra.")
    assert nominate[-1].text.startswith("Hiện không có hội nghị nào đang nhận đề cử")
    # The lists are still there after the conference: an attendance list is wanted afterwards too.
    attendance = await organiser.send("/attendance")
    assert attendance[-1].text == "Bạn cần danh sách trích ngang của hội nghị nào?"


# --- a unit's allowance used up ------------------------------------------------------------------------------


@pytest.fixture
async def minh(playground: Playground, clock: Clock) -> ChatUser:
    """Phường Bưởi's focal point, with a district nomination ready to send (every question answered)."""
    clock.now = FEBRUARY
    person = playground.person(Persona(MINH, "Minh", "Trần Văn"))
    async with playground.services.database.transaction() as db:
        account = await accounts.ensure_telegram_account(
            db, telegram_user_id=MINH, display_name="Trần Văn Minh", username=None, organiser_ids=(), now=clock.now
        )
        buoi = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        await accounts.assign_role(db, account.id, Role.FOCAL_POINT, unit_id=buoi)
        campaign = await db.scalar(select(Campaign.id))
        district = await db.scalar(select(Conference.id).where(Conference.code == "district"))
        db.add(
            Nomination(
                campaign_id=campaign,
                conference_id=district,
                nominator_id=account.id,
                source="focal_point",
                unit_id=buoi,
                status="draft",
                kind="individual",
                nominee_name="Nguyễn Văn Bình",
                nominee_fold=fold("Nguyễn Văn Bình"),
                gender="nam",
                birth_year=1978,
                sensitive_consent=False,
                occupation_group="cong_nhan",
                position="Tổ trưởng tổ dân phố số 5",
                title_code="nguoi_tot_viec_tot",
                movement_code="van_minh_do_thi",
                achievements="Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh.",
                publicity_consent=True,
                draft_step="summary",
                draft_expires_at=clock.now + dt.timedelta(hours=72),
                created_at=clock.now,
                updated_at=clock.now,
            )
        )
    return person


async def _district_allowance_used(playground: Playground) -> None:
    """Another focal point of Phường Bưởi sent its ten district nominations meanwhile."""
    async with playground.services.database.transaction() as db:
        buoi = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        district = await db.scalar(select(Conference).where(Conference.code == "district"))
        allowance = await db.scalar(
            select(UnitAllowance.nominations).where(
                UnitAllowance.unit_id == buoi, UnitAllowance.conference_id == district.id
            )
        )
        assert allowance == 10
        other = await accounts.ensure_telegram_account(
            db, telegram_user_id=2003, display_name="Lê Thị Thu", username=None, organiser_ids=(), now=FEBRUARY
        )
        for index in range(allowance):
            db.add(
                Nomination(
                    code=f"DH-2020-9{index:03d}",
                    campaign_id=district.campaign_id,
                    conference_id=district.id,
                    nominator_id=other.id,
                    source="focal_point",
                    unit_id=buoi,
                    status="submitted",
                    kind="individual",
                    nominee_name=f"Người {index}",
                    nominee_fold=fold(f"Người {index}"),
                    submitted_at=FEBRUARY,
                )
            )


async def test_a_used_up_allowance_is_said_and_the_focal_point_chooses(playground, minh):
    await _district_allowance_used(playground)
    await minh.send("/nominate")
    await minh.press("Tiếp tục")

    # Before: the draft went silently to the grassroots conference. Now: said, and two choices.
    asked = await minh.press("Gửi")
    assert asked[-1].text == (
        f"Phường Bưởi đã dùng hết 10 đề cử được gửi cho {DISTRICT}.\nBạn muốn xử lý đề cử này thế nào?"
    )
    assert asked[-1].button_labels == [f"Gửi cho {GRASSROOTS}", "Giữ bản nháp"]

    kept = await minh.send("2")  # typed, as on Zalo
    assert kept[-1].text.startswith("Bản nháp được giữ đến")
    [draft] = [n for n in await _nominations(playground) if n.nominator_id == await _account_id(playground, MINH)]
    assert (draft.status, draft.conference_id) == ("draft", (await _conference(playground, "district")).id)

    await minh.send("/nominate")
    await minh.press("Tiếp tục")
    await minh.press("Gửi")
    sent = await minh.press(f"Gửi cho {GRASSROOTS}")

    assert "Đã gửi. Mã đề cử của bạn là" in sent[-1].text
    [draft] = [n for n in await _nominations(playground) if n.nominator_id == await _account_id(playground, MINH)]
    assert (draft.status, draft.conference_id) == ("submitted", (await _conference(playground, "grassroots")).id)


async def test_a_new_nomination_names_the_used_up_conference_and_the_allowance_left(playground, minh):
    await _district_allowance_used(playground)
    await minh.send("/nominate")
    started = await minh.press("Làm lại từ đầu")

    assert f"Phường Bưởi còn được gửi 20 đề cử cho {GRASSROOTS}." in started[0].text
    assert started[-1].text == (
        f"Phường Bưởi đã dùng hết 10 đề cử được gửi cho {DISTRICT}.\nĐề cử này dành cho hội nghị nào?"
    )
    assert [label.split(" (")[0] for label in started[-1].button_labels] == [GRASSROOTS]


async def _nominations(playground: Playground) -> list[Nomination]:
    async with playground.services.database.transaction() as db:
        return list((await db.scalars(select(Nomination).order_by(Nomination.id))).all())


async def _account_id(playground: Playground, telegram_id: int) -> int:
    from tests.people import account_id_at

    found = await account_id_at(playground.services.database, telegram_id)
    assert found is not None
    return found


# --- /conference ---------------------------------------------------------------------------------------------


async def _accepted_delegate(playground: Playground, hung: ChatUser, clock: Clock) -> None:
    await hung.send("/start")
    district = await _conference(playground, "district")
    account_id = await _account_id(playground, HUNG)
    async with playground.services.database.transaction() as db:
        invitation = await create_invitation(
            db,
            conference=district,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name="Trần Văn Hùng", gender="nam", birth_year=1950, occupation_group="cong_nhan"),
            secret=playground.services.link_secret,
            now=clock.now,
        )
        assert invitation is not None
        invitation.status = "accepted"
        invitation.account_id = account_id


async def test_an_organiser_sets_the_day_time_and_venue_and_accepted_delegates_are_told(
    playground, organiser, hung, clock
):
    await _accepted_delegate(playground, hung, clock)

    menu = await organiser.send("/conference")
    assert menu[-1].text == (
        f"{DISTRICT}\n• Thời gian: chưa định (theo kế hoạch: chậm nhất 30/6/2020)\n"
        "• Địa điểm: chưa định\n\nBạn muốn đặt lại mục nào?"
    )
    assert menu[-1].button_labels == ["Ngày và giờ", "Địa điểm", "Xong"]

    day = await organiser.send("1")
    # The example is a day of this year: today, by the bot's clock (20/5/2020 here).
    assert day[-1].text == "Hội nghị họp ngày nào? Gõ như 20/5/2020, hoặc kèm giờ: 20/5/2020 8h30."
    wrong = await organiser.send("31/6/2020")
    assert wrong[-1].text.startswith("“31/6/2020” không phải là một ngày có thật.")
    early = await organiser.send("5/6/2020")
    assert early[-1].text.startswith("Đại biểu được trả lời giấy mời đến 17:00, 10/6/2020")
    outside = await organiser.send("2/7/2020")
    assert outside[-1].text.startswith("Theo kế hoạch, Hội nghị Điển hình tiên tiến tổ chức trong khoảng từ")
    hour = await organiser.send("20/6/2020")
    assert hour[-1].text == "Hội nghị bắt đầu lúc mấy giờ? Gõ như 8h30, 8:30 hoặc 14 giờ."
    bad = await organiser.send("25h")
    assert bad[-1].text.startswith("“25h” không phải là một giờ hợp lệ.")
    shown = await organiser.send("8h30")
    assert shown[-1].text == (
        f"Thời gian mới của {DISTRICT}: 08:30, Thứ Bảy, ngày 20 tháng 6 năm 2020\n"
        "(trước đây: chưa định (theo kế hoạch: chậm nhất 30/6/2020))\n\nLưu thay đổi này?"
    )
    assert shown[-1].button_labels == ["Lưu", "Nhập lại", "Huỷ"]
    assert (await _conference(playground, "district")).starts_at is None  # nothing saved before "Lưu"

    saved = await organiser.press("Lưu")

    assert saved[-1].text.startswith("Đã lưu. Đang gửi thông báo thay đổi tới 1 đại biểu đã nhận lời tham dự.")
    assert "• Thời gian: 08:30, Thứ Bảy, ngày 20 tháng 6 năm 2020" in saved[-1].text
    district = await _conference(playground, "district")
    assert district.starts_at == dt.datetime(2020, 6, 20, 1, 30, tzinfo=dt.UTC)
    await _drain(playground, clock)
    assert hung.last.text == (
        f"Kính gửi ông Trần Văn Hùng,\nBan Tổ chức xin thông báo thay đổi về {DISTRICT}:\n"
        "• Thời gian: 08:30, Thứ Bảy, ngày 20 tháng 6 năm 2020 (trước đây: chưa định)\n"
        "• Địa điểm: chưa định\nTrân trọng kính mời ông Trần Văn Hùng tham dự."
    )

    await organiser.press("Địa điểm")
    await organiser.send("Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân")
    await organiser.send("lưu")
    await _drain(playground, clock)
    assert "• Địa điểm: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân (trước đây: chưa định)" in hung.last.text

    async with playground.services.database.transaction() as db:
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "conference.arrangements"))).all()
        [arrangement] = (await db.scalars(select(ConferenceArrangement))).all()
    assert [entry.detail["told"] for entry in audit] == [1, 1]
    assert audit[0].detail["starts_at"] == [None, "2020-06-20T01:30:00+00:00"]
    assert arrangement.venue == "Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân"

    # The delegate's invitation card shows the new day and venue.
    card = await hung.send("/rsvp")
    assert "Thời gian: 08:30, 20/6/2020" in card[-1].text or "08:30" in card[-1].text
    assert "Địa điểm: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân" in card[-1].text

    # Loading the plan again keeps what was set in chat; the calendar file reads it.
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
    district = await _conference(playground, "district")
    assert district.venue == "Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân"
    ics = calendar.conference_ics(district, uid="t@dienhinh").decode()
    assert "DTSTART:20200620T013000Z" in ics and "LOCATION:Hội trường UBND quận Tây Hồ\\, 657 Lạc Long Quân" in ics


async def test_a_day_and_time_typed_together_and_only_organisers(playground, organiser, citizen):
    refused = await citizen.send("/conference")
    assert refused[-1].text == "Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."

    await organiser.send("/conference district")
    await organiser.press("Ngày và giờ")
    shown = await organiser.send("thứ Bảy, 20/6/2020 lúc 14 giờ")
    assert shown[-1].text.startswith(f"Thời gian mới của {DISTRICT}: 14:00, Thứ Bảy, ngày 20 tháng 6 năm 2020")
    again = await organiser.press("Nhập lại")
    assert again[-1].text.startswith("Hội nghị họp ngày nào?")
    await organiser.send("20/6 8:30")
    await organiser.press("Lưu")
    hour_only = await organiser.press("Chỉ đổi giờ")
    assert hour_only[-1].text.startswith("Hội nghị bắt đầu lúc mấy giờ?")
    shown = await organiser.send("2 giờ chiều")
    assert shown[-1].text.startswith(f"Thời gian mới của {DISTRICT}: 14:00, Thứ Bảy, ngày 20 tháng 6 năm 2020")
    cancelled = await organiser.press("Huỷ")
    assert cancelled[-1].text.startswith("Chưa có gì thay đổi.")
    assert (await _conference(playground, "district")).starts_at == dt.datetime(2020, 6, 20, 1, 30, tzinfo=dt.UTC)
    done = await organiser.send("xong")
    assert done[-1].text == "Xong. Gõ /conference khi cần thay đổi lại."
