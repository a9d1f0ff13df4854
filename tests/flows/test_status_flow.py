"""/status and /export as organisers use them, and as everyone else is refused them.

The seed plan is loaded and the clock stands at 10:00 on 12/5/2020 in Hà Nội, three days before the
district conference's nominations close. Phường Bưởi has sent three nominations, Phường Nhật Tân one;
the other units none. Four people were invited to the district conference: three exemplars accepted (two
women, one of them checked in) and one guest has not answered.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from handlers.status import split_message
from rules import accounts, charts
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import Role
from rules.text import fold
from storage.models import AuditEntry, Campaign, Conference, Invitation, Nomination, OrgUnit

NOW = dt.datetime(2020, 5, 12, 3, 0, tzinfo=dt.UTC)  # 10:00 on 12/5/2020 in Hà Nội
REVIEWER_ID = 3003


@pytest.fixture
async def playground(settings: Settings) -> AsyncIterator[Playground]:
    pg = Playground(lambda: Services.create(settings, clock=lambda: NOW))
    await pg.start()
    async with pg.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        await _fill(db)
    try:
        yield pg
    finally:
        await pg.stop()


async def _fill(db) -> None:
    campaign_id = await db.scalar(select(Campaign.id).where(Campaign.code == "tay-ho-2020"))
    district = await db.scalar(select(Conference.id).where(Conference.code == "district"))
    units = {unit.code: unit.id for unit in await db.scalars(select(OrgUnit))}
    nominator = await accounts.ensure_telegram_account(
        db, telegram_user_id=5005, display_name="Minh", username=None, organiser_ids=(), now=NOW
    )
    sent = NOW - dt.timedelta(days=3)
    for index, (unit, state) in enumerate(
        [("buoi", "submitted"), ("buoi", "approved"), ("buoi", "approved"), ("nhat_tan", "rejected")], start=1
    ):
        db.add(
            Nomination(
                code=f"DH-2020-{index:04d}",
                campaign_id=campaign_id,
                conference_id=district,
                nominator_id=nominator.id,
                source="focal_point",
                unit_id=units[unit],
                status=state,
                kind="individual",
                nominee_name=f"Nguyễn Văn {index}",
                nominee_fold=fold(f"Nguyễn Văn {index}"),
                gender="nam",
                birth_year=1980,
                ethnicity="tay",
                religion="khong",
                submitted_at=sent,
                achievements="Gương mẫu trong phong trào.",
            )
        )
    people = [
        ("exemplar", "accepted", "Trần Thị Hoa", "nu", 1995, True),
        ("exemplar", "accepted", "Lê Thị Mai", "nu", 1970, False),
        ("exemplar", "accepted", "Phạm Văn Nam", "nam", 1960, False),
        ("guest_leader", "pending", "Đỗ Văn Khách", "nam", 1965, False),
    ]
    for index, (pool, state, name, gender, born, checked_in) in enumerate(people):
        db.add(
            Invitation(
                conference_id=district,
                pool_code=pool,
                import_key=f"person-{index}",
                full_name=name,
                name_fold=fold(name),
                gender=gender,
                birth_year=born,
                occupation_group="cong_nhan" if index == 0 else "can_bo_cong_chuc",
                unit_id=units["buoi"],
                status=state,
                checkin_code=f"C{index:03d}",
                checked_in_at=NOW if checked_in else None,
            )
        )


@pytest.fixture
async def reviewer(playground: Playground) -> ChatUser:
    async with playground.services.database.transaction() as db:
        account = await accounts.ensure_telegram_account(
            db, telegram_user_id=REVIEWER_ID, display_name="Tuấn", username=None, organiser_ids=(), now=NOW
        )
        await accounts.assign_role(db, account.id, Role.REVIEWER)
    return playground.person(Persona(REVIEWER_ID, "Tuấn", "Lê Minh"))


async def test_the_organiser_sees_each_conference_in_vietnamese_with_a_chart(organiser):
    replies = await organiser.send("/status")

    texts = [reply.text for reply in replies if reply.method == "sendMessage"]
    # The conference current on 12/5/2020 only: the grassroots one was held by 14/3.
    district, footer = texts
    assert "grassroots" not in footer

    assert district.startswith("📊 Hội nghị Điển hình tiên tiến (mã: district)")
    assert "• Hạn gửi đề cử: 15/5/2020 (còn 3 ngày)" in district
    assert "• Hạn đại biểu xác nhận tham dự: 10/6/2020 (còn 29 ngày)" in district
    assert "• Hạn hoàn thành hội nghị: 30/6/2020 (còn 49 ngày)" in district
    assert "📝 Đề cử: đã nhận 4" in district
    assert "Đang chờ xét duyệt: 1; Đã được duyệt: 2; Không được chấp nhận: 1" in district
    assert "🏢 Đơn vị: 2/39 đã có đề cử, 0 đủ số dự kiến" in district
    assert (
        "⚠️ 37 đơn vị chưa có đề cử nào (Phường Phú Thượng, Phường Quảng An, Phường Thụy Khuê…) — /status district units để xem"
    ) in district
    assert "🪑 Chỗ ngồi (tối đa 300 đại biểu):" in district
    assert "• Đại biểu điển hình tiên tiến: 3/210 đã nhận lời (1%) — cần thêm 207 đại biểu điển hình" in district
    assert "   đã mời 3 · chưa trả lời 0 · từ chối 0 · danh sách chờ 0" in district
    assert (
        "• Đại biểu khách mời và lãnh đạo các cấp, các ngành: 0/90 đã nhận lời (0%) — "
        "cần thêm 90 đại biểu khách mời, lãnh đạo"
    ) in district
    assert "Tỉ lệ đại biểu điển hình trong 3 người đã nhận lời: 100% (kế hoạch: ít nhất 70%)" in district
    assert "Đã điểm danh: 1/3" in district
    assert "⚖️ Cơ cấu trong 3 đại biểu đã nhận lời:" in district
    assert "• Nữ: 2 (67%) — mục tiêu ít nhất 30%: đạt" in district
    assert "• Thanh niên (16–30 tuổi): 1 (33%) — mục tiêu ít nhất 15%: đạt" in district
    assert "• Người trực tiếp sản xuất, công tác: 1 (33%) — mục tiêu ít nhất 30%: đạt" in district
    assert "Xem đầy đủ cơ cấu: /status balance" in district
    assert "• Chỉ còn 3 ngày là hết hạn gửi đề cử mà vẫn còn 37 đơn vị chưa có đề cử nào." in district
    assert footer.startswith("Xem chi tiết: /status MÃ")

    photo = replies[-1]
    assert photo.method == "sendPhoto"
    assert photo.text == "Biểu đồ: Hội nghị Điển hình tiên tiến"
    assert photo.file_bytes is not None and photo.file_bytes.startswith(charts.PNG_SIGNATURE)
    image = Image.open(io.BytesIO(photo.file_bytes))
    image.verify()
    assert image.format == "PNG" and image.size[0] == 900


class _CountingDrawer:
    """handlers.status's chart process, counting the charts it is asked to draw."""

    def __init__(self, drawer) -> None:
        self.drawer, self.drawn = drawer, 0

    async def run(self, function, *args):
        self.drawn += 1
        return await self.drawer.run(function, *args)


async def test_the_chart_is_drawn_again_exactly_when_its_figures_change(playground, organiser, monkeypatch):
    from handlers import status as status_handlers

    charts.forget()
    drawer = _CountingDrawer(status_handlers.CHARTS)
    monkeypatch.setattr(status_handlers, "CHARTS", drawer)

    first = (await organiser.send("/status"))[-1].file_bytes
    again = (await organiser.send("/status"))[-1].file_bytes
    assert drawer.drawn == 1  # the same figures: the picture kept is sent again
    assert again == first

    # Đỗ Văn Khách, the guest, accepts: the seats and the balance change, so does the chart.
    async with playground.services.database.transaction() as db:
        guest = await db.scalar(select(Invitation).where(Invitation.full_name == "Đỗ Văn Khách"))
        guest.status = "accepted"
    replies = await organiser.send("/status")
    assert "• Đại biểu khách mời và lãnh đạo các cấp, các ngành: 1/90 đã nhận lời (1%)" in replies[0].text
    changed = replies[-1].file_bytes
    assert drawer.drawn == 2
    assert changed is not None and changed != first
    image = Image.open(io.BytesIO(changed))
    image.verify()
    assert image.format == "PNG" and image.size[0] == 900


async def test_one_conference_in_full(organiser):
    replies = await organiser.send("/status district")

    # The units summed up, every balance figure: one message, then the chart.
    assert [reply.method for reply in replies] == ["sendMessage", "sendPhoto"]
    text = replies[0].text
    assert len(text) <= 4096
    assert "⚠️ 37 đơn vị chưa có đề cử nào (Phường Phú Thượng, Phường Quảng An, Phường Thụy Khuê…)" in text
    assert "• Dân tộc thiểu số: 0 (0%)" in text
    assert "   (chưa có thông tin: 3)" in text
    assert "• Cán bộ, công chức, viên chức: 2 (67%)" in text


async def test_units_and_balance_views(organiser):
    units = await organiser.send("/status units")
    balance = await organiser.send("/status balance district")

    assert all(reply.method == "sendMessage" for reply in units + balance)
    # The current conference's units, ten a page, those with no nomination first.
    [page] = units
    assert page.text.startswith("🏢 Đề cử theo đơn vị — Hội nghị Điển hình tiên tiến (mã: district):\n")
    assert "⚠️ 37/39 đơn vị chưa có đề cử nào." in page.text
    assert "⚠️ Phường Phú Thượng: 0/5 đề cử dự kiến, 0 được duyệt; chỉ tiêu 10" in page.text
    last = (await organiser.send("/status units 4"))[0].text
    assert "• Phường Bưởi: 3/5 đề cử dự kiến, 2 được duyệt; chỉ tiêu 10" in last
    assert "• Phường Nhật Tân: 1/5 đề cử dự kiến, 0 được duyệt; chỉ tiêu 10" in last
    assert len(balance) == 1
    assert balance[0].text.startswith("📊 Hội nghị Điển hình tiên tiến (mã: district)\n⚖️ Cơ cấu trong 3 đại biểu")
    assert "• Tôn giáo: —" in balance[0].text
    assert "• Nữ: 2 (67%) — mục tiêu ít nhất 30%: đạt" in balance[0].text


async def test_an_unknown_conference_code_lists_the_codes(organiser):
    replies = await organiser.send("/status tinh")

    assert replies[0].text == (
        "Không tìm thấy hội nghị đang mở nào có mã tinh. Các mã hiện có: grassroots, district. "
        "Bạn cũng có thể gõ /status units hoặc /status balance."
    )


async def test_citizens_and_reviewers_are_refused_politely(citizen, reviewer):
    for person in (citizen, reviewer):
        assert [reply.text for reply in await person.send("/status")] == [
            "Xin lỗi, chỉ Ban tổ chức mới xem được tình hình chung."
        ]
        assert [reply.text for reply in await person.send("/export")] == [
            "Xin lỗi, chỉ Ban tổ chức mới được tải các danh sách."
        ]


async def test_export_sends_a_workbook_that_opens_with_the_expected_rows(playground, organiser):
    replies = await organiser.send("/export district")

    document = replies[-1]
    assert document.method == "sendDocument"
    assert document.file_name == "dienhinh-20200512-district.xlsx"
    assert document.text.startswith("Tệp Excel gồm 4 đề cử, 4 giấy mời, 3 đại biểu đã nhận lời.")
    assert document.text.endswith(
        "Không có cột dân tộc và tôn giáo. Để có các cột này, xin nêu lý do: /export district nhạy cảm LÝ DO"
    )
    assert document.file_bytes is not None
    book = load_workbook(io.BytesIO(document.file_bytes))
    assert book.sheetnames == ["Đề cử", "Đại biểu", "Điểm danh", "Đơn vị", "Cơ cấu"]

    nominations = list(book["Đề cử"].iter_rows(values_only=True))
    assert nominations[0][:4] == ("Mã", "Hội nghị", "Tình trạng", "Đơn vị")
    assert [row[0] for row in nominations[1:]] == ["DH-2020-0001", "DH-2020-0002", "DH-2020-0003", "DH-2020-0004"]
    assert nominations[2][2:4] == ("Đã được duyệt", "Phường Bưởi")
    # Ethnicity and religion only when asked for with a reason (below); the phone is in full.
    assert "Dân tộc" not in nominations[0] and "Tôn giáo" not in nominations[0] and "Tày" not in nominations[1]
    assert "Điện thoại" in nominations[0]
    delegates = list(book["Đại biểu"].iter_rows(values_only=True))
    assert "Dân tộc" not in delegates[0] and "Tôn giáo" not in delegates[0]
    assert [row[4] for row in delegates[1:]] == ["Trần Thị Hoa", "Lê Thị Mai", "Phạm Văn Nam", "Đỗ Văn Khách"]
    assert delegates[4][2:4] == ("Đại biểu khách mời và lãnh đạo các cấp, các ngành", "Đã mời, chưa trả lời")
    attendance = list(book["Điểm danh"].iter_rows(values_only=True))
    assert [(row[2], row[8]) for row in attendance[1:]] == [
        ("Trần Thị Hoa", "Có"),
        ("Lê Thị Mai", "Không"),
        ("Phạm Văn Nam", "Không"),
    ]
    # Each delegate's invitation number, the same as in the Delegates sheet (not a running count).
    numbers = {row[4]: row[1] for row in delegates[1:]}
    assert [row[1] for row in attendance[1:]] == [numbers[row[2]] for row in attendance[1:]]
    units = list(book["Đơn vị"].iter_rows(values_only=True))
    assert units[0][1:] == (
        "Đơn vị",
        "Đề cử",
        "Dự kiến",
        "Còn thiếu",
        "Đã được duyệt",
        "Đơn vị tự gửi",
        "Chỉ tiêu",
        "Người khác gửi",
    )
    assert units[1][1:] == ("Phường Bưởi", 3, 5, 2, 2, 3, 10, 0)
    balance = list(book["Cơ cấu"].iter_rows(values_only=True))
    # 2 pools, 4 yes/no targets, 3 spreads with nothing recorded (one row each), 5 occupation groups.
    assert len(balance) == 1 + 14
    women = next(row for row in balance if row[2] == "Nữ")
    assert women[3:8] == (2, 3, pytest.approx(2 / 3), "ít nhất 30%", "đạt")
    exemplar = next(row for row in balance if row[2] == "Đại biểu điển hình tiên tiến")
    assert exemplar[3:8] == (3, 210, pytest.approx(3 / 210), "ít nhất 70%", "còn 207 chỗ trống")

    async with playground.services.database.transaction() as db:
        entry = await db.scalar(select(AuditEntry).where(AuditEntry.action == "status.export"))
    assert entry is not None
    assert entry.detail == {
        "conferences": ["district"],
        "rows": {"nominations": 4, "delegates": 4, "attendance": 3, "units": 39, "balance": 14},
        "phones": True,
        "sensitive_fields": [],
        "sensitive_reason": None,
    }
    assert entry.entry_hash is not None and entry.seq is not None  # in the chain


async def test_an_english_workbook_names_the_conference_and_its_pools_by_the_plans_english_titles(
    playground, organiser
):
    await organiser.send("/lang English")
    replies = await organiser.send("/export district")

    book = load_workbook(io.BytesIO(replies[-1].file_bytes or b""))
    delegates = list(book["Delegates"].iter_rows(values_only=True))
    # Before: "Hội nghị Điển hình tiên tiến" and "Đại biểu khách mời …" in an English workbook.
    assert {row[2] for row in delegates[1:]} == {"Exemplars", "Guests and leaders of all levels and sectors"}
    conference_cells = {row[0] for row in book["Balance"].iter_rows(min_row=2, values_only=True)}
    assert conference_cells == {"District Exemplars' Conference"}


async def test_ethnicity_and_religion_are_exported_only_when_asked_for_with_a_reason(playground, organiser):
    [refusal] = await organiser.send("/export district nhạy cảm")
    assert refusal.text.startswith("Dân tộc và tôn giáo là dữ liệu cá nhân nhạy cảm: xin nêu lý do cần dùng sau chữ")
    assert refusal.method == "sendMessage"

    replies = await organiser.send("/export district nhay cam báo cáo cơ cấu đại biểu cho Thường trực Quận ủy")

    document = replies[-1]
    assert document.method == "sendDocument"
    assert document.text.endswith(
        "Có các cột dân tộc và tôn giáo theo yêu cầu của bạn; lý do đã được ghi vào nhật ký kiểm tra."
    )
    book = load_workbook(io.BytesIO(document.file_bytes or b""))
    nominations = list(book["Đề cử"].iter_rows(values_only=True))
    assert "Dân tộc" in nominations[0] and "Tôn giáo" in nominations[0]
    assert "Tày" in nominations[1]
    delegates = list(book["Đại biểu"].iter_rows(values_only=True))
    assert "Dân tộc" in delegates[0] and "Tôn giáo" in delegates[0]
    async with playground.services.database.transaction() as db:
        entries = list((await db.scalars(select(AuditEntry).where(AuditEntry.action == "status.export"))).all())
    [entry] = entries  # the refusal exported nothing
    assert entry.detail["sensitive_fields"] == ["ethnicity", "religion"]
    assert entry.detail["sensitive_reason"] == "báo cáo cơ cấu đại biểu cho Thường trực Quận ủy"


def test_long_texts_are_split_under_telegrams_limit_between_paragraphs_then_lines():
    paragraph = "\n".join(f"• Đơn vị số {n}: đã gửi 0/10" for n in range(200))
    text = f"Đầu\n\n{paragraph}\n\nCuối"

    pieces = split_message(text)

    assert len(pieces) > 1
    assert all(len(piece) <= 4096 for piece in pieces)
    assert pieces[0] == "Đầu"
    assert pieces[-1].endswith("Cuối")
    assert "\n".join("\n\n".join(pieces).split("\n\n")) == "\n".join(text.split("\n\n"))


async def test_the_attendance_list_has_ethnicity_only_when_asked_for_with_a_reason(playground, organiser):
    plain = await organiser.send("/attendance district")
    [refusal] = await organiser.send("/attendance district nhạy cảm")
    asked = await organiser.send("/attendance district nhạy cảm báo cáo cơ cấu dân tộc của đại biểu")

    assert plain[-1].text.endswith(
        "Không có cột dân tộc. Để có cột này, xin nêu lý do: /attendance district nhạy cảm LÝ DO"
    )
    assert "Dân tộc" not in [c.value for c in load_workbook(io.BytesIO(plain[-1].file_bytes or b"")).active[5]]
    assert refusal.text.startswith("Dân tộc là dữ liệu cá nhân nhạy cảm: xin nêu lý do cần dùng sau chữ “nhạy cảm”")
    assert asked[-1].method == "sendDocument"
    assert asked[-1].text.endswith("Danh sách có dữ liệu cá nhân nhạy cảm (dân tộc): vui lòng bảo quản cẩn thận.")
    assert "Dân tộc" in [c.value for c in load_workbook(io.BytesIO(asked[-1].file_bytes or b"")).active[5]]
    async with playground.services.database.transaction() as db:
        entries = list((await db.scalars(select(AuditEntry).where(AuditEntry.action == "export.attendance"))).all())
    assert [(e.detail["sensitive"], e.detail["sensitive_reason"]) for e in entries] == [
        ([], None),
        (["ethnicity"], "báo cáo cơ cấu dân tộc của đại biểu"),
    ]


async def test_each_balance_concept_has_one_label_on_every_screen(organiser):
    # Before: "Thanh niên (16–30 tuổi)" on the RSVP desk, "Đại biểu trẻ tuổi" in /delegates, "Người trực
    # tiếp sản xuất, lao động" on one screen and "… công tác" on another.
    status = (await organiser.send("/status balance district"))[-1].text
    delegates = (await organiser.send("/delegates district"))[-1].text
    workbook = load_workbook(io.BytesIO((await organiser.send("/export district"))[-1].file_bytes or b""))
    balance_sheet = {str(cell) for row in workbook["Cơ cấu"].iter_rows(values_only=True) for cell in row if cell}

    for label in ("Nữ", "Thanh niên (16–30 tuổi)", "Dân tộc thiểu số", "Người trực tiếp sản xuất, công tác"):
        assert f"• {label}: " in status, label
        assert f"• {label}: " in delegates, label
        assert label in balance_sheet, label
    for other in ("Đại biểu trẻ tuổi", "sản xuất, lao động"):
        assert other not in status + delegates + " ".join(balance_sheet)


async def test_in_english_status_uses_the_plans_english_titles(organiser):
    # Before: "📊 Hội nghị Điển hình tiên tiến (code: district)" and "• Đại biểu điển hình tiên tiến make up 1%…".
    await organiser.send("/lang English")

    district = "\n".join(reply.text for reply in await organiser.send("/status district") if reply.text)

    assert district.startswith("📊 District Exemplars' Conference (code: district)")
    assert "• Exemplars: 3/210 accepted (1%)" in district
    assert "• Guests and leaders of all levels and sectors: 0/90 accepted (0%)" in district
    assert "Chart: District Exemplars' Conference" in district
    for vietnamese in ("Hội nghị Điển hình", "Đại biểu điển hình", "Đại biểu khách mời", " make up "):
        assert vietnamese not in district, vietnamese
    delegates = (await organiser.send("/delegates district"))[-1].text
    assert delegates.startswith("Delegates of District Exemplars' Conference\n")
    assert "Exemplars: 210 seats (at least 70% of the delegates)" in delegates
