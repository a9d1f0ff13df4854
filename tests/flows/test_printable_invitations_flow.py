"""Printable invitations (giấy mời) through the real Application: /invitations offers the Excel list, a PDF
per person and a PDF per unit; the letters are read back and must name the delegate, in the right form of
address, with their invitation code, in Vietnamese with every diacritic.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from bot.playground.harness import Playground
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, Person, create_invitation, invitation_code
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.printing import MOTTO
from storage.models import AuditEntry, Campaign, Conference, Invitation, OrgUnit

DISTRICT = "Hội nghị Điển hình tiên tiến"
EXCEL = "Tải danh sách (Excel)"
PER_PERSON = "Giấy mời in (PDF) — từng người"
PER_UNIT = "Giấy mời theo đơn vị (PDF)"
FORM_QUESTION = f"Bạn cần thư mời dự {DISTRICT} ở dạng nào?"
# Name, gender, unit code, position.
DELEGATES = [
    ("Nguyễn Văn An", "nam", "buoi", "Bí thư Đảng ủy phường"),
    ("Đỗ Thị Hạnh", "nu", "buoi", "Công nhân vệ sinh môi trường"),
    ("Trần Thị Ngọc Ánh", None, "nhat_tan", None),
]


@pytest.fixture
async def plan(playground: Playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))


async def _invite(playground: Playground, delegates=DELEGATES) -> dict[str, str]:
    """The delegates invited to the district conference; their invitation codes by name."""
    codes = {}
    async with playground.services.database.transaction() as db:
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        for index, (name, gender, unit, position) in enumerate(delegates):
            invitation = await create_invitation(
                db,
                conference=conference,
                pool_code=EXEMPLAR_POOL if index % 2 == 0 else GUEST_POOL,
                person=Person(
                    full_name=name,
                    gender=gender,
                    birth_year=1960 + index,
                    position=position,
                    unit_id=await db.scalar(select(OrgUnit.id).where(OrgUnit.code == unit)),
                ),
                secret=playground.services.link_secret,
                now=playground.services.clock(),
            )
            assert invitation is not None
            codes[name] = invitation_code(invitation, playground.services.link_secret)
    return codes


def _pages(data: bytes) -> list[str]:
    """The text of each page of a PDF, NFC and with its spacing made single."""
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    return [" ".join(unicodedata.normalize("NFC", page.extract_text()).split()) for page in reader.pages]


def _archive(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {unicodedata.normalize("NFC", name): archive.read(name) for name in archive.namelist()}


async def _audited(playground: Playground) -> int:
    async with playground.services.database.transaction() as db:
        return int(
            await db.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "export.invitation_letters")
            )
            or 0
        )


async def test_invitations_offers_the_excel_list_and_a_printable_letter_per_person(playground, plan, organiser):
    codes = await _invite(playground)

    asked = await organiser.send("/invitations")
    assert asked[-1].text == "Bạn cần danh sách thư mời của hội nghị nào?"
    form = await organiser.press(DISTRICT)
    assert form[-1].text == FORM_QUESTION
    assert form[-1].button_labels == [EXCEL, PER_PERSON, PER_UNIT]
    assert await _audited(playground) == 0

    sent = await organiser.press(PER_PERSON)

    assert sent[0].text == "Đang chuẩn bị 3 giấy mời để in…"
    document = sent[-1]
    assert document.method == "sendDocument"
    assert document.file_name == "giay-moi-district.zip"
    assert document.text.startswith(
        f"Giấy mời in dự {DISTRICT}: 3 người, mỗi người một tệp PDF, trong tệp ZIP này.\n"
        "Mỗi giấy mời có mã QR và mã mời riêng của đại biểu."
    )
    files = _archive(document.file_bytes or b"")
    assert sorted(files) == sorted(f"Giấy mời – {name}.pdf" for name, *_ in DELEGATES)
    an = _pages(files["Giấy mời – Nguyễn Văn An.pdf"])
    assert len(an) == 1
    page = an[0]
    for line in (
        "UBND QUẬN TÂY HỒ",
        "Số: ……/GM-UBND",
        " ".join(MOTTO),
        "Tây Hồ, ngày ",
        "GIẤY MỜI",
        "Kính gửi: Ông Nguyễn Văn An",
        "Bí thư Đảng ủy phường, Phường Bưởi",
        f"UBND quận Tây Hồ tổ chức {DISTRICT}.",
        "Thời gian: Quý II/2020 (ngày cụ thể sẽ được thông báo sau)",
        "Địa điểm: sẽ được thông báo sau",
        "Đề nghị xác nhận có tham dự hay không trước 17:00, Thứ Tư, ngày 10 tháng 6 năm 2020: quét mã QR",
        f"Mã mời: {codes['Nguyễn Văn An']}",
        "Trân trọng kính mời ông đến dự./.",
        "Nơi nhận: - Như trên; - Lưu: VT.",
        "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH",
    ):
        assert line in page, line
    assert page.index("CỘNG HOÀ") < page.index("GIẤY MỜI") < page.index("Kính gửi") < page.index("Trân trọng")
    [hanh] = _pages(files["Giấy mời – Đỗ Thị Hạnh.pdf"])
    assert "Kính gửi: Bà Đỗ Thị Hạnh" in hanh and "Trân trọng kính mời bà đến dự./." in hanh
    assert f"Mã mời: {codes['Đỗ Thị Hạnh']}" in hanh
    [anh] = _pages(files["Giấy mời – Trần Thị Ngọc Ánh.pdf"])
    assert "Kính gửi: Ông/Bà Trần Thị Ngọc Ánh" in anh and "Trân trọng kính mời ông/bà đến dự./." in anh
    assert "Phường Nhật Tân" in anh
    assert await _audited(playground) == 1

    # The Excel list is still there, as before.
    await organiser.send("/invitations")
    await organiser.press(DISTRICT)
    excel = await organiser.press(EXCEL)
    assert excel[-1].file_name == "thu-moi-district.xlsx"


async def test_letters_by_unit_typed_at_the_question_one_pdf_per_unit_a_page_per_person(playground, plan, organiser):
    codes = await _invite(playground)

    form = await organiser.send("/invitations district")
    assert form[-1].text == FORM_QUESTION
    unclear = await organiser.send("giấy")
    assert unclear[-1].button_labels  # asked back, nothing sent
    assert not any(message.file_name for message in unclear)
    sent = await organiser.send("theo đơn vị")

    document = sent[-1]
    assert document.file_name == "giay-moi-theo-don-vi-district.zip"
    assert document.text.startswith(
        f"Giấy mời in dự {DISTRICT}: 3 người trong 2 tệp PDF, mỗi đơn vị một tệp (mỗi người một trang), trong tệp ZIP này."
    )
    files = _archive(document.file_bytes or b"")
    assert sorted(files) == ["Giấy mời – Phường Bưởi.pdf", "Giấy mời – Phường Nhật Tân.pdf"]
    buoi = _pages(files["Giấy mời – Phường Bưởi.pdf"])
    assert len(buoi) == 2
    # In the unit's file by given name: An, then Hạnh.
    assert "Kính gửi: Ông Nguyễn Văn An" in buoi[0] and f"Mã mời: {codes['Nguyễn Văn An']}" in buoi[0]
    assert "Kính gửi: Bà Đỗ Thị Hạnh" in buoi[1] and f"Mã mời: {codes['Đỗ Thị Hạnh']}" in buoi[1]
    [nhat_tan] = _pages(files["Giấy mời – Phường Nhật Tân.pdf"])
    assert "Trần Thị Ngọc Ánh" in nhat_tan


async def test_a_form_named_after_the_command_is_sent_at_once_and_one_letter_comes_as_a_pdf(
    playground, plan, organiser
):
    codes = await _invite(playground, DELEGATES[:1])
    async with playground.services.database.transaction() as db:
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        conference.starts_at = dt.datetime(2020, 6, 25, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hà Nội
        conference.venue = "Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân"
        conference.what_to_bring = "Giấy mời này và căn cước công dân"

    excel = await organiser.send("/invitations district excel")
    assert [message.file_name for message in excel] == ["thu-moi-district.xlsx"]
    sent = await organiser.send("/invitations district từng người")

    document = sent[-1]
    assert document.file_name == "Giấy mời – Nguyễn Văn An.pdf"
    assert document.text.startswith(f"Giấy mời in dự {DISTRICT}: 1 người, mỗi người một trang A4.")
    [page] = _pages(document.file_bytes or b"")
    assert "Thời gian: Từ 08:00 đến 12:00, Thứ Năm, ngày 25 tháng 6 năm 2020" in page
    assert "Địa điểm: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân" in page
    assert "Đề nghị mang theo: Giấy mời này và căn cước công dân" in page
    assert f"Mã mời: {codes['Nguyễn Văn An']}" in page


async def test_a_plan_without_a_letter_section_prints_with_the_defaults(playground, organiser):
    seed = load_plan_file(SEED_PLAN)
    old = seed.model_copy(update={"letter": type(seed.letter)()})
    async with playground.services.database.transaction() as db:
        await apply_plan(db, old)
        campaign = await db.scalar(select(Campaign))
        assert campaign is not None and campaign.letter is None
    await _invite(playground, DELEGATES[1:2])

    sent = await organiser.send("/invitations district từng người")

    [page] = _pages(sent[-1].file_bytes or b"")
    assert page.startswith("UBND QUẬN TÂY HỒ")
    assert "Số:" not in page
    assert "Tây Hồ, ngày" not in page and "Ngày " in page
    assert page.endswith("TM. BAN TỔ CHỨC")


async def test_nobody_invited_yet_is_said_and_a_typed_answer_off_the_list_asks_again(playground, plan, organiser):
    form = await organiser.send("/invitations district")
    assert form[-1].text == FORM_QUESTION
    photo = await organiser.send_sticker()
    assert photo[-1].text == (
        "Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng bấm một nút hoặc gõ số thứ tự (1–3).\n\n" + FORM_QUESTION
    )
    assert photo[-1].button_labels == [EXCEL, PER_PERSON, PER_UNIT]

    nothing = await organiser.send("2")

    assert [message.text for message in nothing] == [
        f"Chưa có ai được mời dự {DISTRICT}. Gõ /invite để mời các điển hình đã được duyệt, hoặc gửi cho tôi danh sách khách mời dạng tệp Excel hoặc CSV."
    ]
    assert await _audited(playground) == 0


async def test_a_citizen_cannot_print_invitations(playground, plan, citizen):
    await _invite(playground)
    replies = await citizen.send("/invitations district từng người")
    assert [reply.text for reply in replies] == ["Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."]
    assert await _audited(playground) == 0


async def test_invitations_still_listed_as_handed_out_only(playground, plan, organiser):
    await _invite(playground)
    async with playground.services.database.transaction() as db:
        withdrawn = await db.scalar(select(Invitation).where(Invitation.full_name == "Đỗ Thị Hạnh"))
        assert withdrawn is not None
        withdrawn.status = "cancelled"

    sent = await organiser.send("/invitations district từng người")

    assert sorted(_archive(sent[-1].file_bytes or b"")) == [
        "Giấy mời – Nguyễn Văn An.pdf",
        "Giấy mời – Trần Thị Ngọc Ánh.pdf",
    ]
