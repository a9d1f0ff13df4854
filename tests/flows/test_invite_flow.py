"""Organisers invite delegates through the real Application: /invite, guest lists sent as spreadsheets,
/invitations (links and QR codes), /attendance (danh sách trích ngang) and /delegates.

The seed plan gives two conferences (grassroots and district), so commands without a conference ask which
one: the bot's clock stands at 10:00 on 1/3/2020 in Hà Nội, before either has been held. Approved
nominations are put in the database as the review leaves them.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import SentMessage
from bot.services import Services
from bot.settings import Settings
from rules import accounts
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, invitation_link
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.text import fold
from storage.models import AuditEntry, Campaign, Conference, Invitation, InvitationImport, Nomination, OrgUnit

DISTRICT = "Hội nghị Điển hình tiên tiến"
GRASSROOTS = "Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt"
GUESTS = "Đại biểu khách mời và lãnh đạo các cấp, các ngành"
REFUSAL = "Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."
HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Dân tộc", "Đơn vị", "Chức vụ", "Thành phần", "Số điện thoại"]
GUEST_LIST = [
    HEADER,
    [1, "Nguyễn Văn An", 1968, "Nam", "Kinh", "Phường Bưởi", "Bí thư Đảng ủy phường", "Cán bộ", "0912 345 678"],
    [2, "", 1970, "Nữ", "Kinh", "Phường Bưởi", "Chủ tịch Hội Phụ nữ", "", ""],
    [3, "Trần Văn Cường", 1850, "Nam", "Kinh", "Phường Nhật Tân", "", "", ""],
    [4, "Lê Thị Dung", 1980, "Nữ", "Tày", "Phường Không Có", "", "", ""],
    [5, "NGUYEN VAN AN", 1968, "Nam", "Kinh", "nhat_tan", "", "", ""],
    [6, "Phạm Thu Hà", 1990, "Nữ", "Kinh", "tu_lien", "Giám đốc", "Chủ doanh nghiệp", "0987654321"],
]


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


NOW = dt.datetime(2020, 3, 1, 3, 0, tzinfo=dt.UTC)  # 10:00 on 1/3/2020 in Hà Nội


def _now() -> dt.datetime:
    return NOW


@pytest.fixture
async def playground(settings: Settings) -> AsyncIterator[Playground]:
    pg = Playground(lambda: Services.create(settings, clock=lambda: NOW))
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()


@pytest.fixture
async def plan(playground: Playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))


async def _count(playground: Playground, model: Any = Invitation) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def _invitations(playground: Playground) -> list[Invitation]:
    async with playground.services.database.transaction() as db:
        return list((await db.scalars(select(Invitation).order_by(Invitation.id))).all())


async def _press_data(playground: Playground, user: ChatUser, message: SentMessage, data: str) -> list[SentMessage]:
    """Press a button by its callback data, even one the chat no longer shows (an old message)."""
    assert playground.factory is not None
    before = len(user.messages)
    await playground.deliver(playground.factory.press(user.persona, message, data))
    return user.messages[before:]


async def approved(playground: Playground, seq: int, name: str, *, status: str = "approved", **fields: Any) -> int:
    """A nomination for the district conference as the review leaves it."""
    async with playground.services.database.transaction() as db:
        nominator = await accounts.ensure_telegram_account(
            db, telegram_user_id=1001, display_name="Lan", username=None, organiser_ids=(), now=_now()
        )
        values: dict[str, Any] = {
            "code": f"DH-2020-{seq:04d}",
            "campaign_id": await db.scalar(select(Campaign.id).where(Campaign.code == "tay-ho-2020")),
            "conference_id": await db.scalar(select(Conference.id).where(Conference.code == "district")),
            "unit_id": await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi")),
            "nominator_id": nominator.id,
            "status": status,
            "kind": "individual",
            "nominee_name": name,
            "nominee_fold": fold(name),
            "gender": "nu",
            "birth_year": 1980 + seq,
            "ethnicity": "kinh",
            "occupation_group": "cong_nhan",
            "position": "Công nhân vệ sinh môi trường",
            "submitted_at": _now(),
            "decided_at": _now() if status == "approved" else None,
        }
        values.update(fields)
        nomination = Nomination(**values)
        db.add(nomination)
        await db.flush()
        return nomination.id


# --- guest lists ---------------------------------------------------------------------------------------


async def test_a_guest_list_with_bad_rows_is_reported_row_by_row_and_invited_when_confirmed(
    playground, plan, organiser
):
    asked = await organiser.send_document(xlsx(GUEST_LIST), "khach-moi.xlsx")

    assert asked[-1].text == "Danh sách khách mời này dành cho hội nghị nào?"
    assert asked[-1].button_labels == [GRASSROOTS, DISTRICT]
    report = (await organiser.press(DISTRICT))[-1]
    youngest = _now().year - 5
    assert report.text.splitlines() == [
        f"Danh sách khách mời “khach-moi.xlsx” cho {DISTRICT}: đã đọc 6 dòng.",
        "✅ Sẵn sàng để mời: 2 người.",
        f"{GUESTS}: 90 ghế; đã mời 0 (đã nhận lời 0) → sẽ mời thêm 2.",
        "",
        "❌ Các dòng có lỗi, không được nhập (4):",
        "Dòng 3: thiếu họ và tên.",
        f"Dòng 4: năm sinh “1850” không hợp lệ (ghi năm từ 1900 đến {youngest}).",
        "Dòng 5: kế hoạch không có đơn vị nào tên là “Phường Không Có”; vui lòng ghi tên đơn vị đúng như trong kế hoạch, hoặc mã đơn vị.",
        "Dòng 6: NGUYEN VAN AN đã có ở dòng 2; dòng này được bỏ qua.",
        "",
        "Chưa ai được mời cho đến khi bạn xác nhận. Bạn có thể mời ngay 2 người hợp lệ, hoặc sửa tệp rồi gửi lại.",
    ]
    assert report.button_labels == ["Mời 2 người hợp lệ", "Huỷ, không nhập"]
    assert await _count(playground) == 0
    confirm_data = str(report.buttons[0]["callback_data"])

    done = await organiser.press("Mời 2 người hợp lệ")

    assert done[-1].text == (
        "Đã tạo thư mời cho 2 người trong danh sách khách mời.\n"
        "Gõ /invitations để nhận đường dẫn cá nhân và mã QR của từng người, để các đơn vị chuyển đến đại biểu."
    )
    invitations = await _invitations(playground)
    assert [(i.full_name, i.birth_year, i.pool_code) for i in invitations] == [
        ("Nguyễn Văn An", 1968, GUEST_POOL),
        ("Phạm Thu Hà", 1990, GUEST_POOL),
    ]
    assert invitations[0].phone_e164 == "+84912345678"
    stale = await _press_data(playground, organiser, report, confirm_data)
    assert stale == []
    assert organiser.toasts[-1] == "Danh sách khách mời này đã được nhập hoặc đã bị huỷ."
    assert await _count(playground) == 2


async def test_cancelling_imports_nothing_and_the_same_file_twice_creates_no_duplicates(playground, plan, organiser):
    data = xlsx(GUEST_LIST)
    await organiser.send_document(data, "khach-moi.xlsx")
    report = await organiser.press(DISTRICT)
    assert report[-1].button_labels == ["Mời 2 người hợp lệ", "Huỷ, không nhập"]
    cancelled = await organiser.send("2")
    assert cancelled[-1].text == "Đã huỷ: không nhập gì."
    assert await _count(playground) == 0

    await organiser.send_document(data, "khach-moi.xlsx")
    await organiser.send("district")  # the conference typed by its code
    confirmed = await organiser.send("xác nhận")
    assert confirmed[-1].text.startswith("Đã tạo thư mời cho 2 người")

    await organiser.send_document(data, "khach-moi (1).xlsx")
    again = await organiser.press(DISTRICT)
    text = again[-1].text
    assert "Tệp này đã được nhập ngày" in text
    assert "✅ Sẵn sàng để mời: 0 người." in text
    assert "ℹ️ Đã được mời, bỏ qua (2):" in text
    assert "Dòng 2: Nguyễn Văn An đã được mời dự hội nghị này; bỏ qua." in text
    assert text.endswith("Tệp này không có dòng nào nhập được. Vui lòng sửa tệp rồi gửi lại.")
    assert not again[-1].buttons
    assert await _count(playground) == 2
    async with playground.services.database.transaction() as db:
        statuses = list((await db.scalars(select(InvitationImport.status).order_by(InvitationImport.id))).all())
    assert statuses == ["cancelled", "confirmed", "cancelled"]


async def test_a_caption_names_the_conference_and_an_unreadable_file_is_refused(playground, plan, organiser):
    broken = await organiser.send_document(b"PK\x03\x04 this is no workbook", "khach-moi.xlsx")
    assert broken[-1].text == "Danh sách khách mời này dành cho hội nghị nào?"
    refused = await organiser.press(DISTRICT)
    assert refused[-1].text == (
        "Xin lỗi, tôi không đọc được tệp này dưới dạng bảng tính. Vui lòng gửi tệp Excel (.xlsx) hoặc tệp CSV.\n\n"
        "Chưa nhập gì. Vui lòng sửa tệp rồi gửi lại."
    )
    old = await organiser.send_document(b"\xd0\xcf\x11\xe0" + b"\x00" * 64, "khach-moi.xls")
    assert old[-1].text.startswith("Danh sách khách mời này dành cho hội nghị nào?")
    refused = await organiser.press(DISTRICT)
    assert refused[-1].text.startswith("Đây là tệp Excel đời cũ (.xls).")
    assert await _count(playground, InvitationImport) == 0

    csv = "Họ và tên;Năm sinh;Đơn vị\nHoàng Minh Tuấn;1975;Phường Quảng An\n".encode()
    report = await _send_with_caption(playground, organiser, csv, "khach.csv", "district")
    assert report[-1].text.startswith(f"Danh sách khách mời “khach.csv” cho {DISTRICT}: đã đọc 1 dòng.")
    assert await _count(playground, InvitationImport) == 1


async def _send_with_caption(
    playground: Playground, user: ChatUser, data: bytes, name: str, caption: str
) -> list[SentMessage]:
    assert playground.factory is not None
    update = playground.factory.document(user.persona, data, name)
    message = update.message
    assert message is not None
    with message._unfrozen():
        message.caption = caption
    before = len(user.messages)
    await playground.deliver(update)
    return user.messages[before:]


async def test_a_restart_while_confirming_an_import_keeps_the_question(playground, plan, organiser):
    await organiser.send_document(xlsx(GUEST_LIST[:2]), "khach-moi.xlsx")
    await organiser.press(DISTRICT)

    await playground.restart()
    done = await organiser.send("1")

    assert done[-1].text.startswith("Đã tạo thư mời cho 1 người")
    assert await _count(playground) == 1


# --- /invite -------------------------------------------------------------------------------------------


async def test_invite_one_nomination_by_code_shows_the_pool_and_no_creates_nothing(playground, plan, organiser):
    nomination_id = await approved(playground, 1, "Đỗ Thị Hạnh")
    await approved(playground, 2, "Vũ Văn Khoa", status="submitted")

    preview = await organiser.send("/invite dh-2020-1")

    assert preview[-1].text.splitlines() == [
        f"Mời dự {DISTRICT}, với tư cách đại biểu điển hình tiên tiến:",
        "• DH-2020-0001 — Đỗ Thị Hạnh",
        "",
        "Đại biểu điển hình tiên tiến: 210 ghế; đã mời 0 (đã nhận lời 0) → sẽ mời thêm 1.",
        "",
        "Tạo 1 thư mời này?",
    ]
    assert preview[-1].button_labels == ["Đồng ý, mời 1 người", "Không, chưa mời"]
    no = await organiser.press("Không, chưa mời")
    assert no[-1].text == "Chưa mời ai. Không có thư mời nào được tạo."
    assert await _count(playground) == 0

    await organiser.send("/invite DH-2020-0001")
    yes = await organiser.press("Đồng ý, mời 1 người")
    assert yes[-1].text.startswith("Đã tạo thư mời cho 1 đại biểu điển hình.")
    invitations = await _invitations(playground)
    assert [(i.full_name, i.pool_code, i.nomination_id, i.status) for i in invitations] == [
        ("Đỗ Thị Hạnh", EXEMPLAR_POOL, nomination_id, "pending")
    ]

    twice = await organiser.send("/invite DH-2020-0001")
    assert twice[-1].text == f"DH-2020-0001 (Đỗ Thị Hạnh) đã được mời dự {DISTRICT}."
    not_approved = await organiser.send("/invite DH-2020-0002")
    assert (
        not_approved[-1].text
        == "Chỉ mời được các đề cử đã được duyệt; DH-2020-0002 đang ở tình trạng: Đang chờ xét duyệt."
    )
    unknown = await organiser.send("/invite DH-2020-0099")
    assert unknown[-1].text == "Không tìm thấy đề cử nào có mã DH-2020-0099."
    usage = await organiser.send("/invite")
    assert usage[-1].text.startswith("Để mời các điển hình đã được duyệt, vui lòng gõ ví dụ:")
    assert "vui lòng gửi cho tôi danh sách dạng tệp Excel (.xlsx) hoặc CSV" in usage[-1].text
    assert await _count(playground) == 1


async def test_the_invite_confirmation_takes_yes_words_and_asks_back_a_part(playground, plan, organiser):
    await approved(playground, 1, "Đỗ Thị Hạnh")
    await organiser.send("/invite DH-2020-0001")

    asked = await organiser.send("dong y moi")
    assert asked[-1].text == "Ý bạn là Đồng ý, mời 1 người?"
    assert await _count(playground) == 0
    await organiser.send("không")  # not that one: the confirmation again
    yes = await organiser.send("ừ")

    assert yes[-1].text.startswith("Đã tạo thư mời cho 1 đại biểu điển hình.")
    assert await _count(playground) == 1


async def test_invite_all_approved_of_a_conference_skips_those_already_invited(playground, plan, organiser):
    await approved(playground, 1, "Đỗ Thị Hạnh")
    await approved(playground, 2, "Vũ Văn Khoa")
    await approved(playground, 3, "Bùi Thị Lan")
    await organiser.send("/invite DH-2020-0002")
    await organiser.send("1")  # yes, typed
    assert await _count(playground) == 1

    asked = await organiser.send("/invite all")
    assert asked[-1].text == "Bạn muốn mời các điển hình đã được duyệt dự hội nghị nào?"
    preview = await organiser.send("2")

    assert preview[-1].text.splitlines() == [
        f"Mời dự {DISTRICT}, với tư cách đại biểu điển hình tiên tiến:",
        "• DH-2020-0001 — Đỗ Thị Hạnh",
        "• DH-2020-0003 — Bùi Thị Lan",
        "",
        "Đã được mời, bỏ qua (1):",
        "• DH-2020-0002 — Vũ Văn Khoa",
        "",
        "Đại biểu điển hình tiên tiến: 210 ghế; đã mời 1 (đã nhận lời 0) → sẽ mời thêm 2.",
        "",
        "Tạo 2 thư mời này?",
    ]
    stale_data = str(preview[-1].buttons[0]["callback_data"])
    done = await organiser.send("đồng ý")
    assert done[-1].text.startswith("Đã tạo thư mời cho 2 đại biểu điển hình.")
    assert await _count(playground) == 3

    await _press_data(playground, organiser, preview[-1], stale_data)
    assert organiser.toasts[-1] == "Xác nhận này đã cũ. Vui lòng gõ lại /invite."
    nothing = await organiser.send("/invite tất cả district")
    assert nothing[-1].text == f"Tất cả đề cử đã được duyệt của {DISTRICT} đều đã được mời (3)."
    async with playground.services.database.transaction() as db:
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "invitation.invite_nominations"))).all()
    assert [entry.detail["created"] for entry in audit] == [1, 2]


async def test_cancel_while_choosing_the_conference(playground, plan, organiser):
    await approved(playground, 1, "Đỗ Thị Hạnh")
    await organiser.send("/invite all")
    wrong = await organiser.send("hội nghị cấp thành phố")
    assert wrong[-1].text.startswith(
        "Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng bấm một nút hoặc gõ số thứ tự (1–2)."
    )
    cancelled = await organiser.send("/cancel")
    assert cancelled[-1].text == "Đã huỷ. Không có thư mời nào được tạo."
    after = await organiser.send("1")
    assert after[-1].text == "Tôi chưa hiểu ý bạn. Gõ /help để xem tôi có thể giúp gì."  # no question is open
    assert await _count(playground) == 0


# --- the files and the summary ------------------------------------------------------------------------


async def _invite_some(playground: Playground, organiser: ChatUser) -> None:
    await approved(playground, 1, "Đỗ Thị Hạnh")
    await approved(playground, 2, "Vũ Văn Khoa")
    await organiser.send("/invite all district")
    await organiser.send("1")
    await organiser.send_document(xlsx(GUEST_LIST[:2]), "khach-moi.xlsx")
    await organiser.press(DISTRICT)
    await organiser.send("1")
    assert await _count(playground) == 3


async def test_invitations_come_as_an_excel_file_with_links_and_qr_codes(playground, plan, organiser):
    await _invite_some(playground, organiser)

    asked = await organiser.send("/invitations")
    assert asked[-1].text == "Bạn cần danh sách thư mời của hội nghị nào?"
    form = await organiser.press(DISTRICT)
    assert form[-1].text == f"Bạn cần thư mời dự {DISTRICT} ở dạng nào?"
    assert form[-1].button_labels == [
        "Tải danh sách (Excel)",
        "Giấy mời in (PDF) — từng người",
        "Giấy mời theo đơn vị (PDF)",
    ]
    sent = await organiser.press("Tải danh sách (Excel)")

    document = sent[-1]
    assert document.method == "sendDocument"
    assert document.file_name == "thu-moi-district.xlsx"
    assert document.text.startswith(f"Danh sách thư mời dự {DISTRICT}: 3 người")
    sheet = openpyxl.load_workbook(io.BytesIO(document.file_bytes or b"")).active
    assert sheet is not None
    rows = [[c.value for c in row[:4]] for row in sheet.iter_rows(min_row=5)]
    invitations = {i.full_name: i for i in await _invitations(playground)}
    number = {name: invitation.id for name, invitation in invitations.items()}
    assert rows == [  # one unit, so by given name: An, Hạnh, Khoa; each with its invitation's number
        [number["Nguyễn Văn An"], "Nguyễn Văn An", "Phường Bưởi", GUESTS],
        [number["Đỗ Thị Hạnh"], "Đỗ Thị Hạnh", "Phường Bưởi", "Đại biểu điển hình tiên tiến"],
        [number["Vũ Văn Khoa"], "Vũ Văn Khoa", "Phường Bưởi", "Đại biểu điển hình tiên tiến"],
    ]
    secret = playground.services.link_secret
    for row in range(5, 8):
        link = invitation_link(invitations[sheet.cell(row=row, column=2).value], secret, "dienhinh_bot")
        assert sheet.cell(row=row, column=6).value == link
    assert len(sheet._images) == 3

    by_code = await organiser.send("/invitations district excel")
    assert by_code[-1].file_name == "thu-moi-district.xlsx"
    async with playground.services.database.transaction() as db:
        exported = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export.invitations")
        )
    assert exported == 2


async def test_attendance_list_and_delegates_summary(playground, plan, organiser):
    await _invite_some(playground, organiser)
    nothing = await organiser.send("/attendance district")
    assert nothing[-1].text == f"Chưa có đại biểu nào nhận lời dự {DISTRICT}."
    async with playground.services.database.transaction() as db:
        for invitation in (await db.scalars(select(Invitation))).all():
            if invitation.full_name != "Vũ Văn Khoa":
                invitation.status = "accepted"
            if invitation.full_name == "Đỗ Thị Hạnh":
                invitation.checked_in_at = _now()

    # The customary list has Dân tộc: asked for, with a reason (least exposure, issue 12).
    sent = await organiser.send("/attendance district nhạy cảm báo cáo cơ cấu đại biểu")

    document = sent[-1]
    assert document.file_name == "danh-sach-trich-ngang-district.xlsx"
    assert document.text.startswith(f"Danh sách trích ngang đại biểu dự {DISTRICT}: 2 đại biểu đã nhận lời, 1 người")
    sheet = openpyxl.load_workbook(io.BytesIO(document.file_bytes or b"")).active
    assert sheet is not None
    assert sheet["A1"].value == "DANH SÁCH TRÍCH NGANG ĐẠI BIỂU DỰ HỘI NGHỊ ĐIỂN HÌNH TIÊN TIẾN"
    assert sheet["A2"].value == "Thời gian: Quý II/2020"
    assert [c.value for c in sheet[5]][:9] == [
        "Số giấy mời",
        "Họ và tên",
        "Năm sinh",
        "Giới tính",
        "Dân tộc",
        "Đơn vị",
        "Chức vụ",
        "Thành phần",
        "Ký tên",
    ]
    number = {i.full_name: i.id for i in await _invitations(playground)}
    assert [[c.value for c in row[:8]] for row in sheet.iter_rows(min_row=6, max_row=7)] == [
        [
            number["Nguyễn Văn An"],
            "Nguyễn Văn An",
            1968,
            "Nam",
            "Kinh",
            "Phường Bưởi",
            "Bí thư Đảng ủy phường",
            "Cán bộ, công chức, viên chức",
        ],
        [
            number["Đỗ Thị Hạnh"],
            "Đỗ Thị Hạnh",
            1981,
            "Nữ",
            "Kinh",
            "Phường Bưởi",
            "Công nhân vệ sinh môi trường",
            "Công nhân",
        ],
    ]
    assert sheet.cell(row=7, column=10).value.startswith("Đã điểm danh lúc ")

    summary = await organiser.send("/delegates district")
    text = summary[-1].text
    assert text.startswith(f"Đại biểu dự {DISTRICT}\nSức chứa: 300 ghế.")
    assert (
        "Đại biểu điển hình tiên tiến: 210 ghế (tối thiểu 70% số đại biểu)\n"
        "Nhận lời tham dự: 1 (đã điểm danh: 1)\n"
        f"   • Đỗ Thị Hạnh (số {number['Đỗ Thị Hạnh']}) — Phường Bưởi ✅\n"
        "Đã mời, chưa trả lời: 1\n"
        f"   • Vũ Văn Khoa (số {number['Vũ Văn Khoa']}) — Phường Bưởi"
    ) in text
    assert f"{GUESTS}: 90 ghế (tối đa 30% số đại biểu)\nNhận lời tham dự: 1 (đã điểm danh: 0)" in text
    assert "Tổng cộng: đã mời 3, đã nhận lời 2." in text
    assert "• Nữ: tối thiểu 30%" in text
    assert "• Dân tộc thiểu số: chỉ báo cáo" in text
    assert "• Thành phần “Công nhân”: chỉ báo cáo" in text


async def test_non_organisers_are_refused_politely(playground, plan, citizen):
    for command in ("/invite all", "/invitations", "/attendance district", "/delegates"):
        replies = await citizen.send(command)
        assert [reply.text for reply in replies] == [REFUSAL]
    sent = await citizen.send_document(xlsx(GUEST_LIST), "khach-moi.xlsx")
    assert [reply.text for reply in sent] == [
        "Xin lỗi, chỉ Ban tổ chức mới được nhập danh sách khách mời. Gõ /help để xem tôi có thể giúp gì."
    ]
    assert await _count(playground, InvitationImport) == 0
    assert await _count(playground) == 0


async def test_a_forged_confirmation_from_a_non_organiser_is_refused(playground, plan, organiser, citizen):
    await organiser.send_document(xlsx(GUEST_LIST[:2]), "khach-moi.xlsx")
    report = (await organiser.press(DISTRICT))[-1]
    data = str(report.buttons[0]["callback_data"])

    assert await _press_data(playground, citizen, report, data) == []
    assert citizen.toasts[-1] == REFUSAL
    await _press_data(playground, citizen, report, "ivc:yes:1")
    assert citizen.toasts[-1] == REFUSAL
    assert await _count(playground) == 0
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(InvitationImport.status)) == "pending"


def test_the_seat_effect_warns_when_more_are_invited_than_seats_without_refusing():
    from zoneinfo import ZoneInfo

    from bot.i18n import Translators
    from handlers.exports import over_seats_line, pool_line, split_message
    from rules.seats import PoolCount

    t = Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default
    pool = PoolCount(code=GUEST_POOL, title=GUESTS, seats=90, invited=95, accepted=60, declined=10, pending=35)

    assert pool_line(t, pool, 12) == f"{GUESTS}: 90 ghế; đã mời 95 (đã nhận lời 60) → sẽ mời thêm 12."
    assert over_seats_line(t, pool, 5) is None  # 85 not declined + 5 = 90 seats
    assert over_seats_line(t, pool, 12) == (
        f"⚠️ Số người được mời nhiều hơn số ghế của “{GUESTS}” 7 người: khi hết ghế, người nhận lời sau sẽ vào danh sách chờ."
    )
    assert over_seats_line(t, PoolCount(code="x", title="x", seats=None), 500) is None
    pieces = split_message("\n".join(f"Dòng {n}: thiếu họ và tên." for n in range(1, 400)), limit=1000)
    assert len(pieces) > 1 and all(len(piece) <= 1000 for piece in pieces)
    assert "\n".join(pieces).count("\n") == 398
