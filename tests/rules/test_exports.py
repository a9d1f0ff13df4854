"""The organisers' files without a bot: invitations with links and QR codes, the attendance list, the
calendar event, and the delegates summary behind /delegates."""

from __future__ import annotations

import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from bot.i18n import Translators
from rules import calendar, delegates, exports
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, Person, create_invitation, invitation_code, invitation_link
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import OPERATOR
from storage.db import Database
from storage.models import AuditEntry, Conference, Invitation, OrgUnit

NOW = dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC)
STARTS = dt.datetime(2020, 6, 18, 1, 30, tzinfo=dt.UTC)  # 08:30 in Hà Nội
SECRET = b"test-link-secret"
BOT = "dienhinh_bot"
VI = Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default


async def _world(database: Database) -> dict[str, int]:
    """The seed plan, the district conference on 18/6/2020, and six invitations in several states."""
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        conference.starts_at = STARTS
        conference.venue = "Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân"
        units = dict((await db.execute(select(OrgUnit.code, OrgUnit.id))).all())
        people = [
            ("Trần Thị Bình", 1985, "nu", "kinh", "buoi", EXEMPLAR_POOL, "accepted", "cong_nhan"),
            ("Nguyễn Văn An", 1970, "nam", "tay", "nhat_tan", GUEST_POOL, "accepted", None),
            ("Lê Văn Ánh", 1992, "nam", "kinh", "buoi", EXEMPLAR_POOL, "accepted", "nong_dan"),
            ("Phạm Thị Dung", 1988, "nu", "kinh", "buoi", EXEMPLAR_POOL, "pending", None),
            ("Đỗ Văn Em", 1979, "nam", "kinh", "nhat_tan", EXEMPLAR_POOL, "declined", None),
            ("Hoàng Văn Gia", 1960, "nam", "kinh", "buoi", GUEST_POOL, "cancelled", None),
        ]
        ids: dict[str, int] = {"conference": conference.id}
        for name, year, gender, ethnicity, unit, pool, status, occupation in people:
            invitation = await create_invitation(
                db,
                conference=conference,
                pool_code=pool,
                person=Person(
                    full_name=name,
                    birth_year=year,
                    gender=gender,
                    ethnicity=ethnicity,
                    unit_id=units[unit],
                    position="Tổ trưởng" if pool == EXEMPLAR_POOL else "Phó Chủ tịch UBND",
                    occupation_group=occupation,
                ),
                secret=SECRET,
                now=NOW,
            )
            assert invitation is not None
            invitation.status = status
            ids[name] = invitation.id
        bình = await db.get_one(Invitation, ids["Trần Thị Bình"])
        bình.checked_in_at = STARTS - dt.timedelta(minutes=20)
    return ids


def _sheet(data: bytes) -> openpyxl.worksheet.worksheet.Worksheet:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet is not None
    return sheet


async def test_the_invitations_file_has_a_row_a_link_and_a_qr_code_per_person(database):
    ids = await _world(database)
    async with database.transaction() as db:
        data = await exports.invitations_workbook(
            db, ids["conference"], labels=VI, secret=SECRET, bot_username=BOT, actor_id=OPERATOR, now=NOW
        )
        invitations = {i.full_name: i for i in (await db.scalars(select(Invitation))).all()}
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "export.invitations"))).all()

    sheet = _sheet(data)
    assert sheet.title == "Thư mời"
    assert sheet["A1"].value == "DANH SÁCH THƯ MỜI DỰ HỘI NGHỊ ĐIỂN HÌNH TIÊN TIẾN"
    assert [c.value for c in sheet[4]] == [
        "Số giấy mời",
        "Họ và tên",
        "Đơn vị",
        "Nhóm đại biểu",
        "Tình trạng",
        "Đường dẫn cá nhân",
        "Mã mời",
        "Mã QR",
    ]
    rows = [[c.value for c in row[:5]] for row in sheet.iter_rows(min_row=5)]
    # By unit (Nhật Tân after Bưởi), then by given name; the withdrawn invitation is left out.
    # The first column is each invitation's own number, the one /checkin and /override take.
    assert rows == [
        [ids["Lê Văn Ánh"], "Lê Văn Ánh", "Phường Bưởi", "Đại biểu điển hình tiên tiến", "Nhận lời tham dự"],
        [ids["Trần Thị Bình"], "Trần Thị Bình", "Phường Bưởi", "Đại biểu điển hình tiên tiến", "Nhận lời tham dự"],
        [ids["Phạm Thị Dung"], "Phạm Thị Dung", "Phường Bưởi", "Đại biểu điển hình tiên tiến", "Đã mời, chưa trả lời"],
        [
            ids["Nguyễn Văn An"],
            "Nguyễn Văn An",
            "Phường Nhật Tân",
            "Đại biểu khách mời và lãnh đạo các cấp, các ngành",
            "Nhận lời tham dự",
        ],
        [ids["Đỗ Văn Em"], "Đỗ Văn Em", "Phường Nhật Tân", "Đại biểu điển hình tiên tiến", "Từ chối"],
    ]
    for row in range(5, 10):
        name = sheet.cell(row=row, column=2).value
        link = invitation_link(invitations[name], SECRET, BOT)
        assert sheet.cell(row=row, column=6).value == link
        assert sheet.cell(row=row, column=6).hyperlink.target == link
        # Beside the link, the code that stands for it where links do not work (Zalo, a phone call).
        code = sheet.cell(row=row, column=7).value
        assert code == invitation_code(invitations[name], SECRET)
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
    assert len({sheet.cell(row=row, column=7).value for row in range(5, 10)}) == 5
    images = sheet._images
    assert len(images) == 5
    assert all(image.height > image.width for image in images)  # the name and code printed under each QR
    assert sorted(image.anchor._from.row for image in images) == [4, 5, 6, 7, 8]  # zero-based rows 5..9
    assert all(image.anchor._from.col == 7 for image in images)  # column H
    assert sheet.print_title_rows == "$4:$4"
    assert len(audit) == 1 and audit[0].detail == {"conference": "district", "rows": 5}


def test_each_qr_of_the_sheet_has_the_name_and_the_code_under_it_in_a_font_that_has_vietnamese():
    from matplotlib.ft2font import FT2Font
    from PIL import Image

    link = "https://t.me/dienhinh_bot?start=inv_abc"
    labelled = Image.open(io.BytesIO(exports.labelled_qr_png(link, "Nguyễn Thị Phượng", "K7M2-Q9XD")))
    plain = Image.open(io.BytesIO(exports.labelled_qr_png(link, "Nguyen Thi Phuong", "K7M2-Q9XD")))
    square = labelled.width

    # Below the square, text: the band under the QR holds dark pixels, and the tone marks change them.
    assert labelled.height > square + 50
    band = labelled.crop((0, square, square, labelled.height)).convert("L")
    assert band.getextrema()[0] < 100
    assert band.tobytes() != plain.crop((0, square, square, plain.height)).convert("L").tobytes()
    # The font draws every letter of Vietnamese (no empty boxes), without a system font.
    font = FT2Font(str(exports._font(22).path))
    assert all(
        font.get_char_index(ord(ch)) for ch in "ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵĐ"
    )
    # A name too long for two lines is cut with "…", never drawn outside the picture.
    long_name = exports.labelled_qr_png(link, "Công Tằng Tôn Nữ Hoàng Thị Phương Thảo Nguyên Vy Anh Thư", "K7M2-Q9XD")
    assert Image.open(io.BytesIO(long_name)).height == labelled.height


def test_the_qr_code_is_a_png_that_encodes_the_link():
    png = exports.qr_png("https://t.me/dienhinh_bot?start=inv_abc")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size[0] >= 100


async def test_the_attendance_list_is_the_customary_danh_sach_trich_ngang(database):
    ids = await _world(database)
    async with database.transaction() as db:
        data = await exports.attendance_workbook(
            db, ids["conference"], labels=VI, actor_id=OPERATOR, now=NOW, sensitive_reason="báo cáo cơ cấu dân tộc"
        )
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "export.attendance"))).one()

    sheet = _sheet(data)
    assert sheet["A1"].value == "DANH SÁCH TRÍCH NGANG ĐẠI BIỂU DỰ HỘI NGHỊ ĐIỂN HÌNH TIÊN TIẾN"
    assert sheet["A2"].value == "Thời gian: 18/6/2020"
    assert sheet["A3"].value == "Địa điểm: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân"
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
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=6, max_row=8)]
    # Accepted only, in Vietnamese name order: by given name (An < Ánh < Bình).
    # Thành phần is the occupation group, empty when it is not known (not the delegate group).
    assert rows == [
        [
            ids["Nguyễn Văn An"],
            "Nguyễn Văn An",
            1970,
            "Nam",
            "Tày",
            "Phường Nhật Tân",
            "Phó Chủ tịch UBND",
            None,
            None,
            None,
        ],
        [ids["Lê Văn Ánh"], "Lê Văn Ánh", 1992, "Nam", "Kinh", "Phường Bưởi", "Tổ trưởng", "Nông dân", None, None],
        [
            ids["Trần Thị Bình"],
            "Trần Thị Bình",
            1985,
            "Nữ",
            "Kinh",
            "Phường Bưởi",
            "Tổ trưởng",
            "Công nhân",
            None,
            "Đã điểm danh lúc 08:10",
        ],
    ]
    assert sheet.cell(row=10, column=2).value == "Tổng số: 3 đại biểu; đã điểm danh: 1"
    assert sheet.page_setup.orientation == "landscape"
    assert audit.detail["sensitive"] == ["ethnicity"] and audit.detail["rows"] == 3
    assert audit.detail["sensitive_reason"] == "báo cáo cơ cấu dân tộc"


async def test_the_attendance_list_leaves_ethnicity_out_unless_asked_for_with_a_reason(database):
    ids = await _world(database)
    async with database.transaction() as db:
        data = await exports.attendance_workbook(db, ids["conference"], labels=VI, actor_id=OPERATOR, now=NOW)
        audit = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "export.attendance"))).one()

    sheet = _sheet(data)
    assert [c.value for c in sheet[5]] == [
        "Số giấy mời",
        "Họ và tên",
        "Năm sinh",
        "Giới tính",
        "Đơn vị",
        "Chức vụ",
        "Thành phần",
        "Ký tên",
        "Ghi chú",
    ]
    values = {c.value for row in sheet.iter_rows(min_row=6) for c in row}
    assert "Tày" not in values and "Kinh" not in values
    assert audit.detail["sensitive"] == [] and audit.detail["sensitive_reason"] is None


async def test_a_conference_known_only_by_its_quarter_says_so(database):
    ids = await _world(database)
    async with database.transaction() as db:
        conference = await db.get_one(Conference, ids["conference"])
        conference.starts_at = None
        data = await exports.attendance_workbook(db, ids["conference"], labels=VI, actor_id=OPERATOR, now=NOW)
    assert _sheet(data)["A2"].value == "Thời gian: Quý II/2020"


async def test_the_delegates_summary_counts_by_pool_and_status(database):
    ids = await _world(database)
    async with database.transaction() as db:
        summary = await delegates.delegates_summary(db, ids["conference"], actor_id=OPERATOR)
    assert summary is not None
    exemplar, guest = summary.pools
    assert (exemplar.pool.code, exemplar.pool.seats, exemplar.share, exemplar.share_rule) == (
        EXEMPLAR_POOL,
        210,
        0.7,
        "min",
    )
    assert {status: [p.name for p in people] for status, people in exemplar.people.items()} == {
        "accepted": ["Lê Văn Ánh", "Trần Thị Bình"],
        "pending": ["Phạm Thị Dung"],
        "declined": ["Đỗ Văn Em"],
    }
    assert exemplar.people["accepted"][1].checked_in is True
    assert (exemplar.pool.accepted, exemplar.pool.checked_in) == (2, 1)
    assert (guest.pool.seats, guest.pool.accepted, guest.pool.cancelled) == (90, 1, 1)
    assert (summary.capacity, summary.invited, summary.accepted) == (300, 5, 3)
    assert [(t.dimension, t.target_share) for t in summary.targets][:2] == [("women", 0.3), ("youth", 0.15)]


# --- the calendar event ----------------------------------------------------------------------------------


def _unfold(data: bytes) -> list[str]:
    """The content lines of an .ics file, after checking its line endings and lengths (RFC 5545 §3.1)."""
    assert data.endswith(b"\r\n")
    raw_lines = data[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in raw_lines)
    assert all(len(line) <= 75 for line in raw_lines), [len(line) for line in raw_lines]
    lines: list[str] = []
    for raw in raw_lines:
        text = raw.decode("utf-8")  # every physical line is valid UTF-8: no character was split
        if text.startswith(" "):
            lines[-1] += text[1:]
        else:
            lines.append(text)
    return lines


def _fields(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        found.setdefault(name, value)
    return found


def _conference(**values: object) -> Conference:
    fields: dict[str, object] = {
        "id": 2,
        "code": "district",
        "title": "Hội nghị Điển hình tiên tiến, người tốt - việc tốt quận Tây Hồ",
        "starts_at": STARTS,
        "duration_minutes": 240,
        "venue": "Hội trường UBND quận Tây Hồ; 657 Lạc Long Quân",
        "what_to_bring": "Giấy mời, căn cước công dân.\nĐến trước 15 phút để điểm danh; mặc trang phục lịch sự "
        "(nam: áo sơ mi, cà vạt; nữ: áo dài truyền thống).",
    }
    fields.update(values)
    return Conference(**fields)


def test_the_calendar_event_is_rfc_5545_with_utc_times_and_an_alarm_the_day_before():
    data = calendar.conference_ics(
        _conference(), uid="invitation-42@dienhinh", url="https://t.me/dienhinh_bot?start=inv_x", now=NOW
    )
    assert data is not None

    lines = _unfold(data)
    fields = _fields(lines)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert fields["VERSION"] == "2.0"
    assert fields["UID"] == "invitation-42@dienhinh"
    assert fields["DTSTAMP"] == "20200520T030000Z"
    assert fields["DTSTART"] == "20200618T013000Z"
    assert fields["DTEND"] == "20200618T053000Z"
    assert fields["SUMMARY"] == "Hội nghị Điển hình tiên tiến\\, người tốt - việc tốt quận Tây Hồ"
    assert fields["LOCATION"] == "Hội trường UBND quận Tây Hồ\\; 657 Lạc Long Quân"
    assert fields["DESCRIPTION"].startswith("Giấy mời\\, căn cước công dân.\\nĐến trước 15 phút")
    assert fields["DESCRIPTION"].endswith("\\nhttps://t.me/dienhinh_bot?start=inv_x")
    assert fields["URL"] == "https://t.me/dienhinh_bot?start=inv_x"
    alarm = lines[lines.index("BEGIN:VALARM") : lines.index("END:VALARM") + 1]
    assert "TRIGGER:-P1D" in alarm and "ACTION:DISPLAY" in alarm
    assert any(line.startswith("DESCRIPTION:") for line in alarm)
    assert len(data.split(b"\r\n")) > len(lines)  # long lines were folded


def test_a_conference_without_a_fixed_day_has_no_calendar_event():
    assert calendar.conference_ics(_conference(starts_at=None), uid="x", now=NOW) is None


@pytest.mark.parametrize("text", ["ấ" * 80, "a" * 74 + "ấ" * 10, "x" * 200])
def test_folding_never_splits_a_character_and_keeps_the_text(text):
    folded = calendar.fold_line("DESCRIPTION:" + text)
    physical = folded.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in physical)
    assert physical[0] + "".join(line[1:] for line in physical[1:]) == "DESCRIPTION:" + text


def test_a_naive_time_is_refused():
    with pytest.raises(ValueError):
        calendar.utc_stamp(dt.datetime(2020, 6, 18, 8, 30))
