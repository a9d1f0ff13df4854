"""Guest lists: spreadsheets of guests and leaders, checked row by row, invited once an organiser confirms.

An organiser sends an Excel workbook (.xlsx) or a CSV file (UTF-8 with or without BOM, or Windows-1258 as
Vietnamese Excel saves "CSV"). :func:`read_table` finds the header row (the first of the first rows that
has a name column; headers are matched in Vietnamese or English, ignoring case and tone marks) and
:func:`stage_import` checks every row against the conference: the name, the year of birth, gender,
ethnic group, religion and occupation group from the reference lists, the unit among the plan's units
(by name or code), the phone number, the delegate group (guests and leaders unless the row says
otherwise). Every problem carries the row number the spreadsheet shows (the header is row 1 when it is the
first row). The same person twice in the file (folded name and year of birth) is reported on the second
row; a person already invited to the conference is reported and skipped without blocking the others.

Reading is guarded: a file over one of the ``MAX_…`` limits (packed and unpacked size, parts and packing
ratio of an .xlsx, sheets, rows, columns, cells, seconds) is refused naming the limit, checked from the zip's
directory and while a streaming scan reads it, before openpyxl builds anything. The bot and the CLI read
through :func:`read_guest_list`, in a process of their own that is killed past the time limit and whose
memory is capped, outside any transaction; :func:`stage_import` then checks and keeps the table in a short
one.

Nothing is invited while the import is pending. :func:`confirm_import` invites the good rows, once: the
import becomes ``confirmed``, every invitation is keyed by its person (``rules.invitations.person_key``), so
confirming twice or importing the same file again creates no duplicates. :func:`cancel_import` drops it.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import logging
import multiprocessing
import os
import re
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from multiprocessing.connection import Connection
from typing import Any
from xml.parsers import expat

import openpyxl
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rules.accounts import acting
from rules.choices import Option, pick
from rules.conferences import Closed, Use, closed, is_open_for
from rules.delegates import Invited, invited
from rules.i18n import N_
from rules.intake import OLDEST_BIRTH_YEAR, YOUNGEST_AGE, Problem, Step, parse_birth_year, parse_phone, parse_text
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, Person, create_invitation, person_key
from rules.refdata import RefEntry, RefList, reference, search_key
from rules.roles import Actor, NotAllowed, Role, audit_actor
from rules.text import clean, nfc
from storage.models import AuditEntry, Conference, InvitationImport, OrgUnit, SeatPool

logger = logging.getLogger(__name__)

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 2000
HEADER_SEARCH_ROWS = 10
MAX_POSITION_CHARS = 300
# Limits checked before and while a file is read, so that a broken or hostile one (a zip bomb, a row of a
# million cells, 150 sheets) is refused at once, naming the limit, instead of stalling the bot. A real
# guest list is far inside every one: 2,000 rows of 15 columns are 30,000 cells, about 2 MB unpacked.
MAX_PARTS = 200  # files inside an .xlsx (a zip archive)
MAX_PART_BYTES = 25 * 1024 * 1024  # one of them, unpacked
MAX_UNPACKED_BYTES = 50 * 1024 * 1024  # all of them, unpacked
MAX_RATIO = 100  # unpacked ÷ packed size of a part (a zip bomb's is about 1,000; Apache POI refuses 100)
RATIO_FROM_BYTES = 1024 * 1024  # a smaller part may pack tighter: it cannot cost much
MAX_SHEETS = 20
MAX_SHEET_ROWS = 50_000  # row elements in a sheet (empty formatted rows too); data rows: MAX_ROWS
MAX_COLUMNS = 100  # cells in one row, and the number of the last column
MAX_CELLS = 200_000  # cells and shared strings in the whole file
READ_SECONDS = 10.0
READ_MEMORY_BYTES = 512 * 1024 * 1024  # what the reading process may take beyond what it starts with
_ROWS_READ = MAX_ROWS + HEADER_SEARCH_ROWS + 1  # rows of a sheet read: enough to say "too many rows"
PENDING, CONFIRMED, CANCELLED = "pending", "confirmed", "cancelled"


class Column(StrEnum):
    NAME = "name"
    BIRTH_YEAR = "birth_year"
    GENDER = "gender"
    ETHNICITY = "ethnicity"
    RELIGION = "religion"
    UNIT = "unit"
    POSITION = "position"
    OCCUPATION = "occupation"
    PHONE = "phone"
    POOL = "pool"


# Header names, compared on their search key (folded, letters and digits only).
HEADERS: dict[Column, tuple[str, ...]] = {
    Column.NAME: ("Họ và tên", "Họ tên", "Tên", "Họ và tên đại biểu", "Name", "Full name"),
    Column.BIRTH_YEAR: ("Năm sinh", "Ngày sinh", "Ngày tháng năm sinh", "Birth year", "Year of birth", "Born"),
    Column.GENDER: ("Giới tính", "Gender", "Sex"),
    Column.ETHNICITY: ("Dân tộc", "Ethnicity", "Ethnic group"),
    Column.RELIGION: ("Tôn giáo", "Religion"),
    Column.UNIT: ("Đơn vị", "Cơ quan", "Cơ quan, đơn vị", "Đơn vị công tác", "Nơi công tác", "Unit"),
    Column.POSITION: ("Chức vụ", "Chức danh", "Position", "Title"),
    Column.OCCUPATION: ("Thành phần", "Nghề nghiệp", "Occupation", "Occupation group"),
    Column.PHONE: ("Số điện thoại", "Điện thoại", "SĐT", "Phone", "Phone number", "Mobile"),
    Column.POOL: ("Nhóm", "Nhóm đại biểu", "Loại đại biểu", "Pool", "Group", "Category"),
}
# Columns people often add that carry nothing to import; not reported as unused.
_SILENT_HEADERS = frozenset({"stt", "tt", "so", "sott", "no", "ghichu", "note", "notes", "kyten"})
# Header keys long enough to match as the beginning of a longer header ("Họ và tên đại biểu").
_PREFIX_MIN = 5
# Names of the pools of the seed plan that people write in a "Nhóm" column.
POOL_ALIASES: dict[str, tuple[str, ...]] = {
    EXEMPLAR_POOL: ("điển hình", "điển hình tiên tiến", "đại biểu điển hình", "exemplar", "exemplars"),
    GUEST_POOL: (
        "khách mời",
        "lãnh đạo",
        "khách mời và lãnh đạo",
        "khách mời, lãnh đạo",
        "guest",
        "guests",
        "leader",
        "leaders",
        "guests and leaders",
    ),
}

UNREADABLE_MESSAGES: dict[str, str] = {
    "too_large": N_("The file is too large ({size} MB); please send a file of at most {max} MB."),
    "empty": N_("The file is empty."),
    "old_excel": N_(
        "This is an old Excel file (.xls). Please save it as an Excel workbook (.xlsx) or as CSV UTF-8 and send it again."
    ),
    "not_spreadsheet": N_(
        "I could not read this file as a spreadsheet. Please send an Excel workbook (.xlsx) or a CSV file."
    ),
    "encoding": N_("I could not read the text of this CSV file. Please save it as “CSV UTF-8” and send it again."),
    "no_header": N_(
        "I found no header row with a column for the full name (“Họ và tên”) in the first {rows} rows. Please put the column names in the first row."
    ),
    "too_many_rows": N_("The file has more than {max} rows; please split it into several files."),
    "no_rows": N_("The file has a header row but nobody listed under it."),
    "too_many_parts": N_(
        "The file is made of {count} parts; a workbook of at most {max} parts is accepted. Please copy the guest list into a new workbook and send that."
    ),
    "part_too_large": N_(
        "Unpacked, one part of this file takes {size} MB; at most {max} MB is accepted. Please send only the guest list."
    ),
    "unpacked_too_large": N_(
        "Unpacked, this file takes {size} MB; at most {max} MB is accepted. Please send only the guest list."
    ),
    "compression_ratio": N_(
        "A part of this file unpacks to {ratio} times its packed size (at most {max} times is accepted), as a “zip bomb” does. If it is a real guest list, please open it in Excel, save it again and send it."
    ),
    "too_many_sheets": N_(
        "The workbook has more than {max} sheets. Please send the guest list in a workbook with fewer sheets."
    ),
    "too_many_columns": N_(
        "Row {row} has more than {max} columns. Please delete the columns that are not needed and send the file again."
    ),
    "too_many_cells": N_("The file has more than {max} cells. Please send only the guest list."),
    "too_slow": N_(
        "Reading the file took more than {seconds} seconds, so I stopped. Please send only the guest list, in a simple workbook."
    ),
    "too_much_memory": N_(
        "Reading the file needed more than {max} MB of memory, so I stopped. Please send only the guest list, in a simple workbook."
    ),
}

PROBLEM_MESSAGES: dict[str, str] = {
    "missing_name": N_("Row {row}: the full name is missing."),
    "bad_name": N_("Row {row}: “{value}” does not look like a full name."),
    "bad_birth_year": N_(
        "Row {row}: “{value}” is not a plausible year of birth (write a year from {oldest} to {youngest})."
    ),
    "unknown_gender": N_("Row {row}: unknown gender “{value}” (write Nam or Nữ)."),
    "unknown_ethnicity": N_("Row {row}: unknown ethnic group “{value}”."),
    "unknown_religion": N_("Row {row}: unknown religion “{value}”."),
    "unknown_occupation": N_("Row {row}: unknown occupation group “{value}”."),
    "unknown_unit": N_(
        "Row {row}: no unit of the plan is called “{value}”; write the unit's name as in the plan, or its code."
    ),
    "ambiguous_unit": N_("Row {row}: “{value}” matches several units ({units}); please write the full name."),
    "bad_phone": N_("Row {row}: “{value}” is not a Vietnamese phone number."),
    "unknown_pool": N_("Row {row}: unknown delegate group “{value}” (write {pools})."),
    "missing_pool": N_("Row {row}: the delegate group is missing (write {pools})."),
    "position_too_long": N_("Row {row}: the position is too long (at most {max} characters)."),
    "duplicate_in_file": N_("Row {row}: {name} is already on row {first}; this row is left out."),
    "already_invited": N_("Row {row}: {name} is already invited to this conference; skipped."),
    "ignored_columns": N_("Row {row}: these columns are not used: {columns}."),
}
# Problems that do not keep the row (or the file) from being imported.
NOT_BLOCKING = frozenset({"already_invited", "ignored_columns"})


class UnreadableFile(Exception):
    """The file cannot be read as a guest list at all; ``msgid`` and ``values`` say why."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.values = values

    @property
    def msgid(self) -> str:
        return UNREADABLE_MESSAGES[self.code]


def problem_message(problem: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(msgid, values) of a stored problem, for the caller to translate."""
    return PROBLEM_MESSAGES[problem["code"]], {"row": problem["row"], **problem.get("values", {})}


def blocking(problems: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [problem for problem in problems if problem["code"] not in NOT_BLOCKING]


def bad_rows(problems: Iterable[dict[str, Any]]) -> list[int]:
    """The row numbers left out because of a problem, in order."""
    return sorted({problem["row"] for problem in blocking(problems)})


# --- reading the file ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """The rows under the header: (row number as the spreadsheet shows it, cells), and the column map;
    the file's SHA-256, which says whether the same file was imported before."""

    file_sha256: str
    header_row: int
    columns: dict[Column, int]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]
    ignored: tuple[str, ...] = ()


def _header_key(value: Any) -> str:
    return search_key(str(value)) if value is not None else ""


_HEADER_KEYS = {search_key(name): column for column, names in HEADERS.items() for name in names}


def header_column(value: Any) -> Column | None:
    """The column a header cell names, or None ("Họ và tên", "HO TEN", "Full name" → NAME)."""
    key = _header_key(value)
    if not key:
        return None
    if key in _HEADER_KEYS:
        return _HEADER_KEYS[key]
    prefixes = [name for name in _HEADER_KEYS if len(name) >= _PREFIX_MIN and key.startswith(name)]
    return _HEADER_KEYS[max(prefixes, key=len)] if prefixes else None


def _find_header(rows: Sequence[tuple[int, tuple[Any, ...]]], file_sha256: str) -> Table:
    for position, (number, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns: dict[Column, int] = {}
        ignored: list[str] = []
        for index, cell in enumerate(cells):
            column = header_column(cell)
            if column is not None:
                columns.setdefault(column, index)
            elif _header_key(cell) and _header_key(cell) not in _SILENT_HEADERS:
                ignored.append(clean(str(cell)))
        if Column.NAME in columns:
            # A row counts when a column we read has something in it (a template's numbered empty rows don't).
            used = sorted(columns.values())
            body = tuple(row for row in rows[position + 1 :] if any(_text(row[1][i]) for i in used if i < len(row[1])))
            if not body:
                raise UnreadableFile("no_rows")
            if len(body) > MAX_ROWS:
                raise UnreadableFile("too_many_rows", max=MAX_ROWS)
            return Table(file_sha256, number, columns, body, tuple(ignored))
    raise UnreadableFile("no_header", rows=HEADER_SEARCH_ROWS)


class _Budget:
    """What reading one file may still take: time, and cells (shared strings count as cells)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cells = 0

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise UnreadableFile("too_slow", seconds=_number(self.seconds))

    def add_cells(self, count: int) -> None:
        self.cells += count
        if self.cells > MAX_CELLS:
            raise UnreadableFile("too_many_cells", max=MAX_CELLS)


def _number(value: float) -> str:
    return f"{value:g}"


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f}"


def _check_archive(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    """The parts of an .xlsx, refused from its central directory before a byte is unpacked.

    The sizes are those the directory declares; Python's zipfile, which openpyxl reads through, stops at
    the declared size (and fails on a CRC mismatch), so a part cannot unpack to more than it declares.
    """
    parts = archive.infolist()
    if len(parts) > MAX_PARTS:
        raise UnreadableFile("too_many_parts", count=len(parts), max=MAX_PARTS)
    total = 0
    for part in parts:
        if part.file_size > MAX_PART_BYTES:
            raise UnreadableFile("part_too_large", size=_megabytes(part.file_size), max=MAX_PART_BYTES // 1024 // 1024)
        if part.file_size > RATIO_FROM_BYTES and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise UnreadableFile("compression_ratio", ratio=part.file_size // max(part.compress_size, 1), max=MAX_RATIO)
        total += part.file_size
    if total > MAX_UNPACKED_BYTES:
        raise UnreadableFile("unpacked_too_large", size=_megabytes(total), max=MAX_UNPACKED_BYTES // 1024 // 1024)
    # The workbook part first: it lists the sheets, so too many of them is found before their contents.
    return sorted(parts, key=lambda part: not part.filename.endswith("workbook.xml"))


_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_ROW, _CELL, _SHEET, _SHARED_STRING = (f"{_MAIN} {name}" for name in ("row", "c", "sheet", "si"))
_CELL_COLUMN = re.compile(r"([A-Za-z]{1,3})\d+")
_SCAN_CHUNK = 64 * 1024


class _PartScan:
    """Counts what openpyxl would build from one part, as expat streams it: sheets, rows, cells per row, cells.

    openpyxl builds a whole row before it hands it over, and it parses every sheet to its end when it opens
    the workbook, so a row of a million cells must be refused here, at its 101st cell, wherever it is.
    """

    def __init__(self, budget: _Budget, sheets: list[int]) -> None:
        self.budget = budget
        self.sheets = sheets  # shared by every part: [sheets listed so far]
        self.rows = self.row = self.column = self.cells_in_row = 0

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == _CELL:
            self._cell(attributes.get("r"))
        elif tag == _ROW:
            self.rows += 1
            if self.rows > MAX_SHEET_ROWS:
                raise UnreadableFile("too_many_rows", max=MAX_ROWS)
            number = attributes.get("r", "")
            self.row = int(number) if number.isdigit() else self.row + 1
            self.column = self.cells_in_row = 0
        elif tag == _SHARED_STRING:
            self.budget.add_cells(1)
        elif tag == _SHEET:
            self.sheets[0] += 1
            if self.sheets[0] > MAX_SHEETS:
                raise UnreadableFile("too_many_sheets", max=MAX_SHEETS)

    def _cell(self, reference: str | None) -> None:
        match = _CELL_COLUMN.fullmatch(reference or "")
        self.column = _column_number(match.group(1)) if match else self.column + 1
        self.cells_in_row += 1
        if self.column > MAX_COLUMNS or self.cells_in_row > MAX_COLUMNS:
            raise UnreadableFile("too_many_columns", row=self.row, max=MAX_COLUMNS)
        self.budget.add_cells(1)


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _scan_part(archive: zipfile.ZipFile, part: zipfile.ZipInfo, scan: _PartScan) -> None:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = scan.start
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(_SCAN_CHUNK):
                scan.budget.check_time()
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError:
        return  # not XML (a picture, say): nothing openpyxl builds rows from; a broken sheet fails in openpyxl
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError):
        raise UnreadableFile("not_spreadsheet") from None


def _scan_archive(data: bytes, budget: _Budget) -> None:
    """Refuse an .xlsx over a limit before openpyxl reads any of it (it parses every sheet as it opens)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise UnreadableFile("not_spreadsheet") from None
    with archive:
        sheets = [0]
        for part in _check_archive(archive):
            _scan_part(archive, part, _PartScan(budget, sheets))


def _sheet_rows(sheet: Any, budget: _Budget) -> list[tuple[int, tuple[Any, ...]]]:
    rows: list[tuple[int, tuple[Any, ...]]] = []
    for number, cells in enumerate(sheet.iter_rows(min_row=1, values_only=True), start=1):
        budget.check_time()
        budget.add_cells(len(cells))
        rows.append((number, tuple(cells)))
        if number >= _ROWS_READ:
            break
    return rows


def _xlsx_table(data: bytes, budget: _Budget, digest: str) -> Table:
    """The first sheet with a guest list, read-only and values only (the file was scanned already)."""
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # a damaged or foreign file can fail anywhere inside openpyxl
        raise UnreadableFile("not_spreadsheet") from None
    budget.cells = 0  # counted again as openpyxl reads them: a part can be listed as several sheets
    first_problem: UnreadableFile | None = None
    try:
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some programs write a wrong size; read what is there
            rows = _sheet_rows(sheet, budget)
            try:
                return _find_header(rows, digest)
            except UnreadableFile as problem:
                first_problem = first_problem or problem
    except UnreadableFile:
        raise
    except Exception:
        raise UnreadableFile("not_spreadsheet") from None
    finally:
        workbook.close()
    raise first_problem or UnreadableFile("no_header", rows=HEADER_SEARCH_ROWS)


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # Vietnamese Windows saves "CSV (Comma delimited)" in Windows-1258, with combining tone marks.
        encodings = ("utf-8-sig", "cp1258")
    for encoding in encodings:
        try:
            return nfc(data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("encoding")


def _csv_rows(data: bytes, budget: _Budget) -> list[tuple[int, tuple[Any, ...]]]:
    text = _decode(data)
    if "\x00" in text:
        raise UnreadableFile("not_spreadsheet")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        rows = []
        for number, cells in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
            budget.check_time()
            if len(cells) > MAX_COLUMNS:
                raise UnreadableFile("too_many_columns", row=number, max=MAX_COLUMNS)
            budget.add_cells(len(cells))
            rows.append((number, tuple(cells)))
            if number >= _ROWS_READ:
                break
        return rows
    except csv.Error:
        raise UnreadableFile("not_spreadsheet") from None


def read_table(file_name: str, data: bytes, *, seconds: float = READ_SECONDS) -> Table:
    """The guest list in an .xlsx or .csv file; raises :class:`UnreadableFile` when it cannot be read.

    Every limit (``MAX_…``, and ``seconds`` of reading) is checked before and while the file is read, and
    a file over one is refused with the limit it broke. This runs anywhere; the bot calls it through
    :func:`read_guest_list`, in a process of its own.
    """
    _check_bytes(data)
    budget = _Budget(seconds)
    digest = hashlib.sha256(data).hexdigest()
    if zipfile.is_zipfile(io.BytesIO(data)):
        _scan_archive(data, budget)
        return _xlsx_table(data, budget, digest)
    if file_name.lower().endswith((".xlsx", ".xlsm")):
        raise UnreadableFile("not_spreadsheet")
    return _find_header(_csv_rows(data, budget), digest)


def _check_bytes(data: bytes) -> None:
    if not data:
        raise UnreadableFile("empty")
    if len(data) > MAX_BYTES:
        raise UnreadableFile("too_large", size=f"{len(data) / 1024 / 1024:.1f}", max=MAX_BYTES // 1024 // 1024)
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnreadableFile("old_excel")


# --- reading in a process of its own ---------------------------------------------------------------------

# forkserver (Linux, macOS): readers are forked from a small server that imported this module once, not
# from the bot (which has threads and open connections), and start in milliseconds.
_PROCESSES = multiprocessing.get_context("forkserver")
_PROCESSES.set_forkserver_preload(["rules.guest_lists"])  # read when the server first starts
_FALLBACK_PROCESSES = multiprocessing.get_context("spawn")
_KILL_AFTER_SECONDS = 2.0  # beyond the reader's own time limit, for what it cannot interrupt


def _limit_memory(extra: int) -> None:
    """Cap this process's address space at what it uses now plus ``extra`` (Linux; elsewhere the time limit
    still holds)."""
    try:
        import resource

        with open("/proc/self/statm") as statm:
            used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = used + extra if hard == resource.RLIM_INFINITY else min(used + extra, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        return


def _child(results: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    _limit_memory(READ_MEMORY_BYTES)
    outcome: tuple[Any, ...]
    try:
        outcome = ("done", function(*args))
    except UnreadableFile as problem:  # sent as parts: an exception's pickle keeps only its first argument
        outcome = ("refused", problem.code, problem.values)
    except MemoryError:
        outcome = ("refused", "too_much_memory", {"max": READ_MEMORY_BYTES // 1024 // 1024})
    except Exception:  # whatever else a hostile file makes a library raise: not a spreadsheet we can read
        outcome = ("refused", "not_spreadsheet", {})
    results.send(outcome)
    results.close()


async def _start_reader(processes: Any, function: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, Any]:
    results, sender = processes.Pipe(duplex=False)
    process = processes.Process(target=_child, args=(sender, function, args), name="guest-list-reader", daemon=True)
    try:
        await asyncio.to_thread(process.start)  # hands the file over to the child: blocks for a large one
    except BaseException:
        results.close()
        raise
    finally:
        sender.close()
    return results, process


async def _in_process(function: Callable[..., Any], args: tuple[Any, ...], *, seconds: float) -> Any:
    """``function(*args)`` in a process of its own, killed ``seconds`` plus a grace after it started, with
    its memory capped; raises :class:`UnreadableFile` (``too_slow`` when it was killed)."""
    try:
        results, process = await _start_reader(_PROCESSES, function, args)
    except (EOFError, OSError) as problem:
        # The fork server died (killed, or it could not import this module after a bad deployment), and
        # every later start through it would fail the same way: start readers the slow, safe way instead.
        logger.warning("guest-list reader: the fork server failed (%s); starting readers with spawn", problem)
        results, process = await _start_reader(_FALLBACK_PROCESSES, function, args)
    try:
        if not await asyncio.to_thread(results.poll, seconds + _KILL_AFTER_SECONDS):
            raise UnreadableFile("too_slow", seconds=_number(seconds))
        try:
            outcome = results.recv()
        except EOFError:  # the child died without an answer (the kernel's OOM killer, say)
            raise UnreadableFile("not_spreadsheet") from None
    finally:
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join)
        process.close()
        results.close()
    if outcome[0] == "refused":
        raise UnreadableFile(outcome[1], **outcome[2])
    return outcome[1]


async def read_guest_list(file_name: str, data: bytes, *, seconds: float = READ_SECONDS) -> Table:
    """:func:`read_table` in a process of its own, off the event loop; call it outside any transaction.

    The limits inside :func:`read_table` refuse a hostile file while it is read. The process bounds what
    they cannot interrupt (openpyxl parsing one part in one call): it is killed when ``seconds`` and a
    grace have passed, its memory is capped at ``READ_MEMORY_BYTES`` more than it starts with, and the
    bot's own process never holds the unpacked file. Raises :class:`UnreadableFile`.
    """
    _check_bytes(data)
    table: Table = await _in_process(partial(read_table, seconds=seconds), (file_name, data), seconds=seconds)
    return table


# --- checking the rows ---------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return clean(str(value))


_DATE = re.compile(r"^\d{1,2}\s*[/.\-]\s*\d{1,2}\s*[/.\-]\s*(\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}$")


def _birth_year_text(value: Any) -> str:
    """A year of birth as text, also from a date of birth ("12/05/1985", a date cell)."""
    if isinstance(value, dt.date):
        return str(value.year)
    text = _text(value)
    match = _DATE.match(text) or _ISO_DATE.match(text)
    return match.group(1) if match else text


def _phone_text(value: Any) -> str:
    """Excel drops the leading 0 of a phone number stored as a number (912345678)."""
    text = _text(value)
    if isinstance(value, int | float) and len(text) == 9:
        return "0" + text
    return text


def _reference_code(entries: RefList[Any], text: str) -> str | None:
    """The code of the entry ``text`` names exactly, or of the only entry it matches (3+ letters)."""
    key = search_key(text)
    found: list[RefEntry] = entries.search(text)
    exact = [entry for entry in found if key in {search_key(n) for n in (entry.code, entry.label, *entry.aliases)}]
    if exact:
        return exact[0].code
    if len(found) == 1 and len(key) >= 3:
        return found[0].code
    return None


class _Units:
    """The plan's units, matched by code or by name (folded), or by a part of the name only one has."""

    def __init__(self, units: Iterable[OrgUnit]) -> None:
        self.units = list(units)
        self.keys = [search_key(unit.name) for unit in self.units]

    def match(self, text: str) -> OrgUnit | list[OrgUnit] | None:
        key = search_key(text)
        lowered = text.strip().lower()
        for unit, unit_key in zip(self.units, self.keys, strict=True):
            if unit.code == lowered or unit_key == key:
                return unit
        if len(key) < 3:
            return None
        found = [unit for unit, unit_key in zip(self.units, self.keys, strict=True) if key in unit_key]
        if len(found) == 1:
            return found[0]
        return found or None


@dataclass
class _Checker:
    """Checks rows one by one against the conference; collects good rows and problems."""

    units: _Units
    pools: list[SeatPool]
    already: Invited
    today: dt.date
    columns: dict[Column, int]

    def __post_init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.problems: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}
        # A list repeats its values ("Kinh", "Nam", "Cán bộ"): each is looked up once, so that checking
        # 2,000 rows keeps the transaction it runs in short.
        self.codes: dict[tuple[str, str], str | None] = {}
        self.pool_options = [
            Option(pool.code, pool.title, aliases=(pool.code, *POOL_ALIASES.get(pool.code, ()))) for pool in self.pools
        ]

    def cell(self, cells: tuple[Any, ...], column: Column) -> Any:
        index = self.columns.get(column)
        return cells[index] if index is not None and index < len(cells) else None

    def check(self, number: int, cells: tuple[Any, ...]) -> None:
        problems: list[dict[str, Any]] = []

        def problem(code: str, **values: Any) -> None:
            problems.append({"row": number, "code": code, "values": values})

        name = self._name(self.cell(cells, Column.NAME), problem)
        year = self._birth_year(self.cell(cells, Column.BIRTH_YEAR), problem)
        data = reference()
        row: dict[str, Any] = {
            "row": number,
            "full_name": name,
            "birth_year": year,
            "gender": self._reference(data.genders, self.cell(cells, Column.GENDER), "unknown_gender", problem),
            "ethnicity": self._reference(
                data.ethnic_groups, self.cell(cells, Column.ETHNICITY), "unknown_ethnicity", problem
            ),
            "religion": self._reference(data.religions, self.cell(cells, Column.RELIGION), "unknown_religion", problem),
            "occupation_group": self._reference(
                data.occupation_groups, self.cell(cells, Column.OCCUPATION), "unknown_occupation", problem
            ),
            "unit_id": self._unit(self.cell(cells, Column.UNIT), problem),
            "position": self._position(self.cell(cells, Column.POSITION), problem),
            "phone_e164": self._phone(self.cell(cells, Column.PHONE), problem),
            "pool": self._pool(self.cell(cells, Column.POOL), problem),
        }
        if name:
            self._once(row, name, year, problem)
        self.problems.extend(problems)
        if not blocking(problems):
            self.rows.append(row)

    def _name(self, value: Any, problem: Any) -> str | None:
        text = _text(value)
        if not text:
            problem("missing_name")
            return None
        parsed = parse_text(Step.NAME, text)
        if isinstance(parsed, Problem):
            problem("bad_name", value=text)
            return None
        return parsed

    def _birth_year(self, value: Any, problem: Any) -> int | None:
        text = _birth_year_text(value)
        if not text:
            return None
        parsed = parse_birth_year(text, self.today)
        if isinstance(parsed, Problem):
            problem("bad_birth_year", value=text, oldest=OLDEST_BIRTH_YEAR, youngest=self.today.year - YOUNGEST_AGE)
            return None
        return parsed

    def _reference(self, entries: RefList[Any], value: Any, code: str, problem: Any) -> str | None:
        text = _text(value)
        if not text:
            return None
        if (entries.name, text) not in self.codes:
            self.codes[entries.name, text] = _reference_code(entries, text)
        found = self.codes[entries.name, text]
        if found is None:
            problem(code, value=text)
        return found

    def _unit(self, value: Any, problem: Any) -> int | None:
        text = _text(value)
        if not text:
            return None
        found = self.units.match(text)
        if isinstance(found, list):
            names = ", ".join(unit.name for unit in found[:3]) + (", …" if len(found) > 3 else "")
            problem("ambiguous_unit", value=text, units=names)
            return None
        if found is None:
            problem("unknown_unit", value=text)
            return None
        return found.id

    @staticmethod
    def _position(value: Any, problem: Any) -> str | None:
        text = _text(value)
        if len(text) > MAX_POSITION_CHARS:
            problem("position_too_long", max=MAX_POSITION_CHARS)
            return None
        return text or None

    @staticmethod
    def _phone(value: Any, problem: Any) -> str | None:
        text = _phone_text(value)
        if not text:
            return None
        parsed = parse_phone(text)
        if isinstance(parsed, Problem):
            problem("bad_phone", value=text)
            return None
        return parsed

    def _pool(self, value: Any, problem: Any) -> str | None:
        text = _text(value)
        if not text and any(pool.code == GUEST_POOL for pool in self.pools):
            return GUEST_POOL
        pools = ", ".join(f"“{pool.title}”" for pool in self.pools)
        if not text:
            problem("missing_pool", pools=pools)
            return None
        option = None if text.isdigit() else pick(self.pool_options, text)
        if option is None:
            problem("unknown_pool", value=text, pools=pools)
            return None
        return option.key

    def _once(self, row: dict[str, Any], name: str, year: int | None, problem: Any) -> None:
        """The same person twice in the file, or already invited, is reported (the first row stays)."""
        key = person_key(name, year)
        row["key"] = key
        first = self.seen.setdefault(key, row["row"])
        if first != row["row"]:
            problem("duplicate_in_file", name=name, first=first)
        elif self.already.status_of(name=name, birth_year=year) is not None:
            problem("already_invited", name=name)
            row["already_invited"] = True


def check_rows(
    table: Table, *, units: Iterable[OrgUnit], pools: Sequence[SeatPool], already: Invited, today: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows to invite, problems) of a table; rows already invited are neither invited nor blocking."""
    checker = _Checker(_Units(units), list(pools), already, today, table.columns)
    if table.ignored:
        checker.problems.append(
            {"row": table.header_row, "code": "ignored_columns", "values": {"columns": ", ".join(table.ignored)}}
        )
    for number, cells in table.rows:
        checker.check(number, cells)
    rows = [row for row in checker.rows if not row.pop("already_invited", False)]
    return rows, checker.problems


# --- the import ----------------------------------------------------------------------------------------


async def stage_import(
    session: AsyncSession,
    conference_id: int,
    file_name: str,
    table: Table,
    actor_id: Actor | None,
    now: dt.datetime,
) -> InvitationImport | NotAllowed | Closed:
    """Check a guest list, read already (:func:`read_guest_list`, outside the transaction), and keep it pending.

    Organisers only (their role read now), and only for a conference open for guest lists at ``now``
    (``rules.conferences``: not ended). The same organiser's earlier pending import for the conference
    is cancelled, so only the latest file can be confirmed.
    """
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    creator = audit_actor(actor_id)
    conference = await session.get_one(Conference, conference_id)
    if not is_open_for(conference, Use.GUEST_LISTS, now):
        return closed(conference, now)
    units = (await session.scalars(select(OrgUnit).order_by(OrgUnit.id))).all()
    pools = (await session.scalars(select(SeatPool).where(SeatPool.conference_id == conference.id))).all()
    already = await invited(session, conference.id)
    rows, problems = check_rows(table, units=units, pools=pools, already=already, today=now.date())
    if creator is not None:
        await session.execute(
            update(InvitationImport)
            .where(
                InvitationImport.conference_id == conference.id,
                InvitationImport.created_by_id == creator,
                InvitationImport.status == PENDING,
            )
            .values(status=CANCELLED)
        )
    staged = InvitationImport(
        conference_id=conference.id,
        created_by_id=creator,
        file_name=clean(file_name)[:255] or "guest-list",
        file_sha256=table.file_sha256,
        status=PENDING,
        rows=rows,
        problems=problems,
        created_at=now,
    )
    session.add(staged)
    await session.flush()
    return staged


async def earlier_import(session: AsyncSession, staged: InvitationImport) -> InvitationImport | None:
    """A confirmed import of the same file into the same conference, if there was one."""
    return await session.scalar(
        select(InvitationImport)
        .where(
            InvitationImport.conference_id == staged.conference_id,
            InvitationImport.file_sha256 == staged.file_sha256,
            InvitationImport.status == CONFIRMED,
            InvitationImport.id != staged.id,
        )
        .order_by(InvitationImport.id.desc())
        .limit(1)
    )


async def get_import(session: AsyncSession, import_id: int) -> InvitationImport | None:
    return await session.get(InvitationImport, import_id, populate_existing=True)


async def latest_pending(session: AsyncSession, actor_id: int) -> InvitationImport | None:
    """The organiser's import waiting for their confirmation (the latest file they sent)."""
    return await session.scalar(
        select(InvitationImport)
        .where(InvitationImport.created_by_id == actor_id, InvitationImport.status == PENDING)
        .order_by(InvitationImport.id.desc())
        .limit(1)
    )


def _person(row: dict[str, Any]) -> Person:
    return Person(
        full_name=row["full_name"],
        gender=row.get("gender"),
        birth_year=row.get("birth_year"),
        ethnicity=row.get("ethnicity"),
        religion=row.get("religion"),
        occupation_group=row.get("occupation_group"),
        position=row.get("position"),
        unit_id=row.get("unit_id"),
        phone_e164=row.get("phone_e164"),
    )


async def confirm_import(
    session: AsyncSession, import_id: int, actor_id: Actor | None, now: dt.datetime, secret: bytes
) -> int | NotAllowed | Closed:
    """Invite the good rows of a pending import; the number of invitations created.

    The actor must be an organiser now (not only when the file was sent). An import that is no longer
    pending (confirmed already, cancelled) creates nothing; a person invited since the file was checked
    is skipped; a conference that has ended since takes nobody. Audited.
    """
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    staged = await session.scalar(
        select(InvitationImport)
        .where(InvitationImport.id == import_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if staged is None or staged.status != PENDING:
        return 0
    conference = await session.get_one(Conference, staged.conference_id)
    if not is_open_for(conference, Use.GUEST_LISTS, now):
        return closed(conference, now)
    already = await invited(session, conference.id)
    created = 0
    for row in staged.rows:
        if already.status_of(name=row["full_name"], birth_year=row.get("birth_year")) is not None:
            continue
        invitation = await create_invitation(
            session,
            conference=conference,
            pool_code=row["pool"],
            person=_person(row),
            secret=secret,
            now=now,
            actor_id=audit_actor(actor_id),
            import_key=row.get("key") or person_key(row["full_name"], row.get("birth_year")),
        )
        created += invitation is not None
    staged.status = CONFIRMED
    staged.confirmed_at = now
    session.add(
        AuditEntry(
            at=now,
            actor_id=audit_actor(actor_id),
            action="guest_list.import",
            entity="invitation_import",
            entity_id=str(staged.id),
            detail={
                "conference_id": conference.id,
                "file": staged.file_name,
                "sha256": staged.file_sha256,
                "rows": len(staged.rows),
                "created": created,
            },
        )
    )
    return created


async def cancel_import(session: AsyncSession, import_id: int) -> bool:
    """Drop a pending import; False when it was not pending (confirmed or cancelled already)."""
    result = await session.execute(
        update(InvitationImport)
        .where(InvitationImport.id == import_id, InvitationImport.status == PENDING)
        .values(status=CANCELLED)
    )
    return bool(getattr(result, "rowcount", 0))


def pool_rows(staged: InvitationImport) -> dict[str, int]:
    """How many people of the import go into each pool."""
    counts: dict[str, int] = {}
    for row in staged.rows:
        counts[row["pool"]] = counts.get(row["pool"], 0) + 1
    return counts


__all__ = [
    "HEADERS",
    "MAX_BYTES",
    "NOT_BLOCKING",
    "PROBLEM_MESSAGES",
    "UNREADABLE_MESSAGES",
    "Column",
    "Table",
    "UnreadableFile",
    "bad_rows",
    "blocking",
    "cancel_import",
    "check_rows",
    "confirm_import",
    "earlier_import",
    "get_import",
    "header_column",
    "latest_pending",
    "pool_rows",
    "problem_message",
    "read_guest_list",
    "read_table",
    "stage_import",
]
