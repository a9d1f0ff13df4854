"""The printed invitations' texts and files: dates as official letters write them, the form of address by
gender, and letters cut into files without losing a page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import unicodedata
import zipfile
from zoneinfo import ZoneInfo

from pypdf import PdfReader

from bot.i18n import Translators
from rules.printing import Letter, Letters, Per, bundle, closing, date_line, salutation

VI = Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default

LETTER = Letter(
    unit="Phường Bưởi",
    name="Nguyễn Văn An",
    person_file="Giấy mời – Nguyễn Văn An.pdf",
    unit_file="Giấy mời – Phường Bưởi.pdf",
    header=("UBND QUẬN TÂY HỒ",),
    number=None,
    date_line="Tây Hồ, ngày 02 tháng 12 năm 2026",
    heading="GIẤY MỜI",
    subject="Hội nghị Điển hình tiên tiến",
    salutation="Kính gửi: Ông Nguyễn Văn An",
    addressee=None,
    body="UBND quận Tây Hồ tổ chức Hội nghị Điển hình tiên tiến.",
    details=(("Thời gian:", "Quý II/2020"),),
    answer="Đề nghị xác nhận có tham dự hay không.",
    code_line="Mã mời: K7M2-Q9XD",
    link="https://t.me/dienhinh_bot?start=inv_x",
    closing="Trân trọng kính mời ông đến dự./.",
    signer_title=("TM. BAN TỔ CHỨC",),
    signer_name=None,
    recipients=("Nơi nhận:", "- Như trên;", "- Lưu: VT."),
)


def _text(data: bytes) -> list[str]:
    return [
        " ".join(unicodedata.normalize("NFC", page.extract_text()).split())
        for page in PdfReader(io.BytesIO(data)).pages
    ]


def test_the_date_line_pads_days_below_10_and_the_months_1_and_2_as_decree_30_2020_writes_them() -> None:
    assert date_line(VI, "Tây Hồ", dt.date(2020, 2, 5)) == "Tây Hồ, ngày 05 tháng 02 năm 2020"
    assert date_line(VI, "Tây Hồ", dt.date(2020, 12, 25)) == "Tây Hồ, ngày 25 tháng 12 năm 2020"
    assert date_line(VI, None, dt.date(2020, 3, 1)) == "Ngày 01 tháng 3 năm 2020"


def test_the_form_of_address_follows_the_gender_on_record() -> None:
    assert salutation(VI, "nam", "Lê Văn Hùng") == "Kính gửi: Ông Lê Văn Hùng"
    assert salutation(VI, "nu", "Đỗ Thị Hạnh") == "Kính gửi: Bà Đỗ Thị Hạnh"
    assert salutation(VI, None, "Trần Ánh") == "Kính gửi: Ông/Bà Trần Ánh"
    assert [closing(VI, gender) for gender in ("nam", "nu", None)] == [
        "Trân trọng kính mời ông đến dự./.",
        "Trân trọng kính mời bà đến dự./.",
        "Trân trọng kính mời ông/bà đến dự./.",
    ]


def test_a_long_letter_keeps_all_its_pages_and_namesakes_get_files_of_their_own() -> None:
    long = dataclasses.replace(LETTER, body="Nội dung dài. " * 400)
    namesake = dataclasses.replace(LETTER, code_line="Mã mời: AAAA-BBBB", unit="Phường Nhật Tân", unit_file="u2.pdf")
    letters = Letters("district", "Hội nghị", (long, namesake), "giay-moi-district.zip", "theo-don-vi.zip")

    made = bundle(letters, Per.PERSON)

    assert (made.filename, made.content_type, made.files) == ("giay-moi-district.zip", "application/zip", 2)
    with zipfile.ZipFile(io.BytesIO(made.data)) as archive:
        files = {unicodedata.normalize("NFC", name): archive.read(name) for name in archive.namelist()}
    assert sorted(files) == ["Giấy mời – Nguyễn Văn An (2).pdf", "Giấy mời – Nguyễn Văn An.pdf"]
    first = _text(files["Giấy mời – Nguyễn Văn An.pdf"])
    assert len(first) > 1 and "Mã mời: K7M2-Q9XD" in " ".join(first)
    assert first[0].startswith("UBND QUẬN TÂY HỒ") and first[-1].endswith("TM. BAN TỔ CHỨC")
    [second] = _text(files["Giấy mời – Nguyễn Văn An (2).pdf"])
    assert "Mã mời: AAAA-BBBB" in second

    by_unit = bundle(dataclasses.replace(letters, letters=(LETTER,)), Per.UNIT)
    assert (by_unit.filename, by_unit.content_type, by_unit.files) == (
        "Giấy mời – Phường Bưởi.pdf",
        "application/pdf",
        1,
    )
