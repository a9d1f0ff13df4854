"""Guest lists without a bot: reading XLSX and CSV, headers, row checks, staging, confirming once."""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from rules import guest_lists
from rules.guest_lists import Column, UnreadableFile, header_column, read_table
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, Person, create_invitation
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import OPERATOR
from storage.db import Database
from storage.models import AuditEntry, Conference, Invitation, InvitationImport, OrgUnit

NOW = dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC)
SECRET = b"test-link-secret"
HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Dân tộc", "Đơn vị", "Chức vụ", "Thành phần", "Số điện thoại"]


def xlsx(rows: list[list[Any]], *, title: str | None = None) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if title:
        sheet.append([title])
        sheet.append([])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def problems_by_row(staged: InvitationImport) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for problem in staged.problems:
        found.setdefault(problem["row"], []).append(problem["code"])
    return found


# --- headers and files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("Họ và tên", Column.NAME),
        ("HO VA TEN", Column.NAME),
        ("ho ten", Column.NAME),
        ("Full name", Column.NAME),
        ("Họ và tên đại biểu", Column.NAME),
        (unicodedata.normalize("NFD", "Năm sinh"), Column.BIRTH_YEAR),
        ("Ngày sinh", Column.BIRTH_YEAR),
        ("giới tính", Column.GENDER),
        ("Dân tộc", Column.ETHNICITY),
        ("Tôn giáo", Column.RELIGION),
        ("Đơn vị công tác", Column.UNIT),
        ("Chức vụ", Column.POSITION),
        ("Thành phần", Column.OCCUPATION),
        ("SĐT", Column.PHONE),
        ("Số điện thoại", Column.PHONE),
        ("Nhóm", Column.POOL),
        ("pool", Column.POOL),
        ("Ghi chú", None),
        ("Tên đơn vị", None),
    ],
)
def test_headers_match_in_vietnamese_and_english_without_tone_marks(header, column):
    assert header_column(header) == column


def test_the_header_may_sit_under_a_title_and_rows_keep_the_spreadsheet_numbers():
    data = xlsx(
        [["STT", "Họ và tên", "Email", "Ghi chú"], [1, "Nguyễn Văn An"], [2, None, None], [3, "Lê Thị Bình", "b@x.vn"]],
        title="DANH SÁCH KHÁCH MỜI",
    )

    table = read_table("khach-moi.xlsx", data)

    assert table.header_row == 3
    assert [number for number, _ in table.rows] == [4, 6]  # row 5 only has its STT: a template's empty row
    assert table.ignored == ("Email",)  # STT and Ghi chú are expected and not worth a remark


def test_csv_in_utf8_with_bom_and_semicolons_as_vietnamese_excel_saves_it():
    text = "Họ và tên;Năm sinh;Đơn vị\r\nNguyễn Văn An;1975;Phường Bưởi\r\n"
    table = read_table("khach.csv", "\ufeff".encode() + text.encode("utf-8"))

    assert table.columns == {Column.NAME: 0, Column.BIRTH_YEAR: 1, Column.UNIT: 2}
    assert table.rows == ((2, ("Nguyễn Văn An", "1975", "Phường Bưởi")),)


def windows_1258(text: str) -> bytes:
    """What Vietnamese Windows writes: letters with their own marks (â, ơ, đ) precomposed, tones combining."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            letter = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
            out += (letter + "".join(c for c in parts if c in tones)).encode("cp1258")
    return out


def test_csv_in_windows_1258_is_read_and_normalised_to_nfc():
    data = windows_1258("Họ và tên,Đơn vị\r\nTrần Thị Hồng,Phường Nhật Tân\r\n")
    assert b"\xcc" in data or b"\xd2" in data  # combining tone marks, as Windows writes them
    table = read_table("khach.csv", data)

    name = table.rows[0][1][0]
    assert name == "Trần Thị Hồng"
    assert unicodedata.is_normalized("NFC", name)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("khach.xlsx", b"", "empty"),
        ("khach.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old_excel"),
        ("khach.xlsx", b"PK\x03\x04 not really a workbook", "not_spreadsheet"),
        ("khach.csv", "Tên cơ quan,Địa chỉ\nUBND,Hà Nội\n".encode(), "no_header"),
        ("khach.csv", "Họ và tên,Năm sinh\n".encode(), "no_rows"),
        ("khach.csv", b"\xff\xfeH\x00\x00\x00", "not_spreadsheet"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(name, data, code):
    with pytest.raises(UnreadableFile) as refused:
        read_table(name, data)
    assert refused.value.code == code
    assert refused.value.msgid in guest_lists.UNREADABLE_MESSAGES.values()


def test_a_file_over_the_size_limit_is_refused_before_reading():
    with pytest.raises(UnreadableFile) as refused:
        read_table("khach.csv", b"x" * (guest_lists.MAX_BYTES + 1))
    assert refused.value.code == "too_large"
    assert refused.value.values["max"] == 5


# --- staging and confirming --------------------------------------------------------------------------------


async def _district(database: Database) -> int:
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        conference_id = await db.scalar(select(Conference.id).where(Conference.code == "district"))
    assert conference_id is not None
    return conference_id


async def _stage(database: Database, conference_id: int, data: bytes, name: str = "khach-moi.xlsx") -> InvitationImport:
    table = read_table(name, data)
    async with database.transaction() as db:
        staged = await guest_lists.stage_import(db, conference_id, name, table, OPERATOR, NOW)
    assert isinstance(staged, InvitationImport)
    return staged


async def _confirm(database: Database, import_id: int) -> int:
    async with database.transaction() as db:
        created = await guest_lists.confirm_import(db, import_id, OPERATOR, NOW, SECRET)
    assert isinstance(created, int)
    return created


async def _invitations(database: Database) -> list[Invitation]:
    async with database.transaction() as db:
        return list((await db.scalars(select(Invitation).order_by(Invitation.id))).all())


BAD_LIST = [
    HEADER,
    [1, "Nguyễn Văn An", 1968, "Nam", "Kinh", "Phường Bưởi", "Bí thư Đảng ủy phường", "Cán bộ", "0912 345 678"],
    [2, "", 1970, "Nữ", "Kinh", "Phường Bưởi", "Chủ tịch Hội Phụ nữ", "", ""],
    [3, "Trần Văn Cường", 1850, "Nam", "Kinh", "Phường Nhật Tân", "", "", ""],
    [4, "Lê Thị Dung", 1980, "Nữ", "Tày", "Phường Không Có", "", "", ""],
    [5, "NGUYEN VAN AN", 1968, "Nam", "Kinh", "nhat_tan", "", "", ""],
    [6, "Phạm Thu Hà", dt.datetime(1990, 5, 12), "nu", "kinh", "tu_lien", "Giám đốc", "Chủ doanh nghiệp", 987654321],
]


async def test_every_bad_row_is_reported_with_its_number_and_reason(database):
    conference_id = await _district(database)

    staged = await _stage(database, conference_id, xlsx(BAD_LIST))

    assert staged.status == "pending"
    assert problems_by_row(staged) == {
        3: ["missing_name"],
        4: ["bad_birth_year"],
        5: ["unknown_unit"],
        6: ["duplicate_in_file"],
    }
    duplicate = next(p for p in staged.problems if p["code"] == "duplicate_in_file")
    assert duplicate["values"] == {"name": "NGUYEN VAN AN", "first": 2}
    assert guest_lists.problem_message(duplicate) == (
        "Row {row}: {name} is already on row {first}; this row is left out.",
        {"row": 6, "name": "NGUYEN VAN AN", "first": 2},
    )
    assert guest_lists.bad_rows(staged.problems) == [3, 4, 5, 6]
    assert [row["row"] for row in staged.rows] == [2, 7]
    ha = staged.rows[1]
    assert ha["birth_year"] == 1990  # a date of birth gives the year
    assert ha["gender"] == "nu" and ha["ethnicity"] == "kinh" and ha["occupation_group"] == "chu_doanh_nghiep"
    assert ha["phone_e164"] == "+84987654321"  # Excel dropped the leading 0
    assert ha["pool"] == GUEST_POOL
    assert await _invitations(database) == []  # nothing is invited before the organiser confirms


async def test_confirming_invites_the_good_rows_once(database):
    conference_id = await _district(database)
    staged = await _stage(database, conference_id, xlsx(BAD_LIST))

    assert await _confirm(database, staged.id) == 2
    assert await _confirm(database, staged.id) == 0

    invitations = await _invitations(database)
    assert [(i.full_name, i.pool_code, i.status) for i in invitations] == [
        ("Nguyễn Văn An", GUEST_POOL, "pending"),
        ("Phạm Thu Hà", GUEST_POOL, "pending"),
    ]
    assert all(i.token_hash and i.link_nonce for i in invitations)
    async with database.transaction() as db:
        buoi = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        stored = await db.get_one(InvitationImport, staged.id)
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "guest_list.import"))).all()
    assert invitations[0].unit_id == buoi
    assert invitations[0].position == "Bí thư Đảng ủy phường"
    assert stored.status == "confirmed" and stored.confirmed_at == NOW
    assert len(audit) == 1 and audit[0].detail["created"] == 2


async def test_importing_the_same_file_again_creates_no_duplicates(database):
    conference_id = await _district(database)
    data = xlsx(BAD_LIST)
    first = await _stage(database, conference_id, data)
    await _confirm(database, first.id)

    again = await _stage(database, conference_id, data)

    assert again.rows == []
    assert [p["row"] for p in again.problems if p["code"] == "already_invited"] == [2, 7]
    async with database.transaction() as db:
        earlier = await guest_lists.earlier_import(db, again)
    assert earlier is not None and earlier.id == first.id
    assert await _confirm(database, again.id) == 0
    assert len(await _invitations(database)) == 2


async def test_a_person_invited_as_an_exemplar_is_reported_and_the_others_still_go_in(database):
    conference_id = await _district(database)
    async with database.transaction() as db:
        conference = await db.get_one(Conference, conference_id)
        await create_invitation(
            db,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name="Nguyễn Văn An", birth_year=1968),
            secret=SECRET,
            now=NOW,
            import_key="nomination:1",
        )

    staged = await _stage(database, conference_id, xlsx(BAD_LIST[:2] + BAD_LIST[6:]))

    assert problems_by_row(staged) == {2: ["already_invited"]}
    assert guest_lists.blocking(staged.problems) == []
    assert [row["full_name"] for row in staged.rows] == ["Phạm Thu Hà"]
    assert await _confirm(database, staged.id) == 1


async def test_someone_invited_between_checking_and_confirming_is_skipped(database):
    conference_id = await _district(database)
    staged = await _stage(database, conference_id, xlsx(BAD_LIST[:2]))
    async with database.transaction() as db:
        conference = await db.get_one(Conference, conference_id)
        await create_invitation(
            db,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name="Nguyễn Văn An", birth_year=1968),
            secret=SECRET,
            now=NOW,
            import_key="nomination:7",
        )

    assert await _confirm(database, staged.id) == 0
    assert len(await _invitations(database)) == 1


async def test_reference_values_units_and_groups_are_checked(database):
    conference_id = await _district(database)
    rows = [
        ["Họ và tên", "Năm sinh", "Giới tính", "Dân tộc", "Tôn giáo", "Đơn vị", "Thành phần", "SĐT", "Nhóm"],
        ["Hoàng Văn Một", "", "Không rõ", "Klingon", "Phật giáo", "Bưởi", "Phi hành gia", "12345", "Khách mời"],
        ["Hoàng Văn Hai", "năm 1960", "Nam", "H'Mông", "Phat giao", "Phường", "nông dân", "", "Điển hình"],
        ["Hoàng Văn Ba", "abc", "", "", "Vô thần học", "Tây Hồ", "", "", "Phóng viên"],
        ["1234567", "", "", "", "", "", "", "", ""],
    ]

    staged = await _stage(database, conference_id, xlsx(rows))

    assert problems_by_row(staged) == {
        2: ["unknown_gender", "unknown_ethnicity", "unknown_occupation", "bad_phone"],
        3: ["ambiguous_unit"],
        4: ["bad_birth_year", "unknown_religion", "ambiguous_unit", "unknown_pool"],
        5: ["bad_name"],
    }
    assert staged.rows == []
    pool_problem = next(p for p in staged.problems if p["code"] == "unknown_pool")
    assert pool_problem["values"]["pools"] == (
        "“Đại biểu điển hình tiên tiến”, “Đại biểu khách mời và lãnh đạo các cấp, các ngành”"
    )


async def test_the_group_column_places_a_row_in_the_exemplar_pool(database):
    conference_id = await _district(database)
    rows = [["Họ và tên", "Năm sinh", "Đơn vị", "Nhóm"], ["Đỗ Văn Tư", 1979, "Phường Bưởi", "điển hình"]]

    staged = await _stage(database, conference_id, xlsx(rows))

    assert staged.problems == []
    assert staged.rows[0]["pool"] == EXEMPLAR_POOL
    assert guest_lists.pool_rows(staged) == {EXEMPLAR_POOL: 1}


async def test_a_new_file_from_the_same_organiser_replaces_the_pending_one_and_cancel_drops_it(database):
    conference_id = await _district(database)
    table = read_table("a.xlsx", xlsx(BAD_LIST[:2]))
    async with database.transaction() as db:
        first = await guest_lists.stage_import(db, conference_id, "a.xlsx", table, OPERATOR, NOW)
    async with database.transaction() as db:
        from rules import accounts

        organiser = await accounts.ensure_telegram_account(
            db, telegram_user_id=77, display_name="Hoà", username=None, organiser_ids=(77,), now=NOW
        )
        mine = await guest_lists.stage_import(db, conference_id, "a.xlsx", table, organiser.id, NOW)
        newer = await guest_lists.stage_import(db, conference_id, "b.xlsx", table, organiser.id, NOW)
        latest = await guest_lists.latest_pending(db, organiser.id)
    assert isinstance(first, InvitationImport) and isinstance(mine, InvitationImport)
    assert isinstance(newer, InvitationImport)
    assert latest is not None and latest.id == newer.id

    async with database.transaction() as db:
        statuses = dict((await db.execute(select(InvitationImport.id, InvitationImport.status))).all())
        assert await guest_lists.cancel_import(db, newer.id) is True
        assert await guest_lists.cancel_import(db, newer.id) is False
    assert statuses == {first.id: "pending", mine.id: "cancelled", newer.id: "pending"}
    assert await _confirm(database, newer.id) == 0
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Invitation)) == 0
