"""Hostile guest lists: what refusing them costs the bot, and how long other writers wait during a parse.

Each hostile file is built here (none is stored): a row of 1,000,000 cells (the number 1 in each, 51 KB
packed; and random numbers, 3 MB packed, which passes every check of the zip's directory), a workbook of
150 full sheets, and a 1 MB zip bomb that unpacks to 1 GB. Each is handed to
``rules.guest_lists.read_guest_list`` as the bot does, on an event loop whose lag a ticker measures; then
``read_table`` reads it in this process, for what the reading itself costs.

Reported per file: the limit that refused it and the seconds to the refusal, the longest the event loop
was held, the bot process's peak RSS growth (``ru_maxrss``) and Python's peak allocation (tracemalloc)
while refusing; then the same reading in this process (time and peak allocation).

Last, the real Application (playground) is sent a legal guest list of ``--rows`` rows while another
connection to the same SQLite file writes every 20 ms: the longest that writer waited for the write lock,
and the event loop's longest lag, while the bot read, checked and staged the list.

    python -m bench.hostile_spreadsheets [--rows 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import multiprocessing
import random
import resource
import sqlite3
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench import common
from bench.common import BenchError, describe_database, machine
from bot.playground.harness import Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import guest_lists
from rules.guest_lists import UnreadableFile
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from storage.db import Database
from storage.models import Base, InvitationImport

NAME = "hostile_spreadsheets"
ORGANISER = 9001
DISTRICT = "Hội nghị Điển hình tiên tiến"
TICK_SECONDS = 0.005
WRITER_EVERY_SECONDS = 0.02

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT_TYPES = "http://schemas.openxmlformats.org/package/2006/content-types"
_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_WORKBOOK_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"

# --- building workbooks by hand (what openpyxl would never write) -----------------------------------------


def workbook(sheets: Sequence[Iterable[bytes]], *, level: int = 6) -> bytes:
    """An .xlsx of ``sheets``, each given as chunks of its XML, streamed into the zip (a 1 GB part is fine)."""
    count = len(sheets)
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{_WORKSHEET_TYPE}"/>'
        for n in range(1, count + 1)
    )
    listed = "".join(f'<sheet name="Sheet{n}" sheetId="{n}" r:id="rId{n}"/>' for n in range(1, count + 1))
    targets = "".join(
        f'<Relationship Id="rId{n}" Type="{_RELATIONSHIPS}/worksheet" Target="worksheets/sheet{n}.xml"/>'
        for n in range(1, count + 1)
    )
    fixed = {
        "[Content_Types].xml": f'<Types xmlns="{_CONTENT_TYPES}">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_WORKBOOK_TYPE}"/>{overrides}</Types>',
        "_rels/.rels": f'<Relationships xmlns="{_PACKAGE}">'
        f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheets>{listed}</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{_PACKAGE}">{targets}</Relationships>',
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, text in fixed.items():
            archive.writestr(name, text)
        for number, chunks in enumerate(sheets, start=1):
            with archive.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)
    return buffer.getvalue()


def sheet(rows: Iterable[bytes]) -> Iterator[bytes]:
    """A worksheet's XML around ``rows`` (each a ``<row>`` element, or any filler)."""
    yield f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>'.encode()
    yield from rows
    yield b"</sheetData></worksheet>"


def wide_row(cells: int, *, random_values: bool = False) -> bytes:
    """One row of ``cells`` cells: the number 1 in each (a million pack to 51 KB), or random numbers
    (3 MB: packed as tightly as a real sheet)."""
    picker = random.Random(8)

    def chunks() -> Iterator[bytes]:
        yield b'<row r="1">'
        for start in range(0, cells, 10_000):
            if random_values:
                yield b"".join(b"<c><v>%d</v></c>" % picker.randrange(100_000) for _ in range(10_000))
            else:
                yield b'<c t="n"><v>1</v></c>' * min(10_000, cells - start)
        yield b"</row>"

    return workbook([sheet(chunks())])


def many_sheets(count: int, rows: int = 500, columns: int = 10) -> bytes:
    """``count`` sheets of ``rows`` × ``columns`` numbers and no header row (so every sheet is read)."""

    def rows_of(offset: int) -> Iterator[bytes]:
        for number in range(1, rows + 1):
            values = b"".join(b"<c><v>%d</v></c>" % (offset + number * columns + c) for c in range(columns))
            yield b'<row r="%d">%s</row>' % (number, values)

    return workbook([sheet(rows_of(n * 1_000_000)) for n in range(count)], level=1)


def zip_bomb(unpacked: int) -> bytes:
    """A workbook whose one sheet is ``unpacked`` bytes of spaces: ~1 KB packed per MB unpacked."""
    block = b" " * (1024 * 1024)

    def filler() -> Iterator[bytes]:
        for _ in range(unpacked // len(block)):
            yield block

    return workbook([sheet(filler())], level=9)


def parts(count: int, size: int) -> bytes:
    """A zip of ``count`` parts of ``size`` spaces each (beside a tiny workbook)."""
    buffer = io.BytesIO()
    source = zipfile.ZipFile(io.BytesIO(workbook([sheet([])])), "r")
    with source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            archive.writestr(item, source.read(item))
        for number in range(count):
            archive.writestr(f"xl/media/filler{number}.bin", b" " * size)
    return buffer.getvalue()


GUEST_HEADER = ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Dân tộc", "Đơn vị", "Chức vụ", "Thành phần", "SĐT"]
_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ"]
_MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Thu", "Đức", "Ngọc", "Quang"]
_GIVEN = ["An", "Bình", "Cường", "Dung", "Hà", "Hạnh", "Khoa", "Lan", "Minh", "Nam", "Phương", "Tuấn", "Yến"]


def legal_guest_list(rows: int, *, extra_columns: int = 0) -> bytes:
    """A real guest list of ``rows`` different people, as Excel users fill it in (openpyxl writes it);
    ``extra_columns`` more columns of notes make it slower to read, not to check."""
    book = openpyxl.Workbook()
    page = book.active
    assert page is not None
    notes = [f"Cột phụ {n}" for n in range(1, extra_columns + 1)]
    page.append(GUEST_HEADER + notes)
    for number in range(1, rows + 1):
        name = (
            f"{_FAMILY[number % 10]} {_MIDDLE[number // 10 % 8]} {_GIVEN[number // 80 % 13]} "
            f"{_GIVEN[number // 1040 % 13]}"
        )
        page.append(
            [
                number,
                name,
                1950 + number % 50,
                "Nữ" if number % 2 else "Nam",
                "Kinh",
                "Phường Bưởi",
                "Phó Chủ tịch UBND phường",
                "Cán bộ",
                f"09{number:08d}",
                *(f"ghi chú {number}.{n}" for n in range(extra_columns)),
            ]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


HOSTILE: dict[str, Callable[[], bytes]] = {
    "row of 1,000,000 cells, each the number 1": lambda: wide_row(1_000_000),
    "row of 1,000,000 random numbers": lambda: wide_row(1_000_000, random_values=True),
    "150 sheets of 500 × 10 numbers": lambda: many_sheets(150),
    "zip bomb, 1 GB unpacked": lambda: zip_bomb(1024 * 1024 * 1024),
}

# --- measuring ------------------------------------------------------------------------------------------


@dataclass
class Options:
    rows: int = 2000
    json_path: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=Options.rows, help="rows of the legal guest list (2000)")
    parser.add_argument("--json", type=Path, default=None, dest="json_path", help="where to write the JSON")


def options_from(args: argparse.Namespace) -> Options:
    if args.rows < 1 or args.rows > guest_lists.MAX_ROWS:
        raise SystemExit(f"--rows must be between 1 and {guest_lists.MAX_ROWS}")
    return Options(rows=args.rows, json_path=args.json_path)


class LoopLag:
    """The longest the event loop was late for a tick, while it runs."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(TICK_SECONDS)
            self.worst = max(self.worst, time.perf_counter() - before - TICK_SECONDS)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(0)
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


async def refuse(label: str, data: bytes) -> dict[str, Any]:
    """Hand ``data`` to the bot's reader, then read it in this process; the figures of both."""
    rss_before = _max_rss_mb()
    tracemalloc.start()
    started = time.perf_counter()
    async with LoopLag() as lag:
        try:
            await guest_lists.read_guest_list("khach-moi.xlsx", data)
        except UnreadableFile as problem:
            refusal: UnreadableFile | None = problem
        else:
            refusal = None
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_growth = _max_rss_mb() - rss_before
    if refusal is None:
        raise BenchError(f"{label}: the hostile file was read, not refused")

    tracemalloc.start()
    started = time.perf_counter()
    with contextlib.suppress(UnreadableFile):
        guest_lists.read_table("khach-moi.xlsx", data)
    in_process_seconds = time.perf_counter() - started
    _, in_process_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "file": label,
        "packed_kb": round(len(data) / 1024),
        "refused_by": refusal.code,
        "refusal_values": {key: str(value) for key, value in refusal.values.items()},
        "seconds_to_refusal": round(seconds, 3),
        "max_event_loop_lag_ms": round(lag.worst * 1000, 1),
        "bot_peak_rss_growth_mb": round(rss_growth, 1),
        "bot_peak_python_allocation_mb": round(peak / 1024 / 1024, 1),
        "reader_seconds": round(in_process_seconds, 3),
        "reader_peak_python_allocation_mb": round(in_process_peak / 1024 / 1024, 1),
    }


class Writer(threading.Thread):
    """Another connection to the same SQLite file, writing a row every 20 ms; the longest it waited."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.waits: list[float] = []
        self.failures = 0

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("CREATE TABLE IF NOT EXISTS bench_writer (at REAL)")
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("INSERT INTO bench_writer VALUES (?)", (started,))
                connection.execute("COMMIT")
            except sqlite3.OperationalError:
                self.failures += 1
            self.waits.append(time.perf_counter() - started)
            time.sleep(WRITER_EVERY_SECONDS)
        connection.close()


async def legal_list_while_writing(url: str, rows: int) -> dict[str, Any]:
    """The real Application stages a legal guest list while another connection writes."""
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.transaction() as db:
            await apply_plan(db, load_plan_file(SEED_PLAN))
    finally:
        await database.dispose()
    settings = Settings(
        database_url=url, organiser_ids=(ORGANISER,), bot_token="", webhook_url="", link_secret="bench-link-secret"
    )
    playground = Playground(lambda: Services.create(settings))
    data = legal_guest_list(rows)
    await playground.start()
    try:
        organiser = playground.person(Persona(ORGANISER, "Hoà", "Phạm Thu"))
        await organiser.send_document(data, "khach-moi.xlsx")
        await organiser.press(DISTRICT)  # warms the reader's process server up; not measured
        writer = Writer(str(make_url(url).database))
        writer.start()
        await asyncio.sleep(0.2)
        await organiser.send_document(data, "khach-moi (1).xlsx")
        started = time.perf_counter()
        async with LoopLag() as lag:
            report = await organiser.press(DISTRICT)
        seconds = time.perf_counter() - started
        await asyncio.sleep(0.2)
        writer.stop.set()
        await asyncio.to_thread(writer.join)
        async with playground.services.database.transaction() as db:
            staged = (await db.scalars(select(InvitationImport).order_by(InvitationImport.id.desc()))).first()
    finally:
        await playground.stop()
    if staged is None or len(staged.rows) != rows:
        raise BenchError(f"the legal guest list was not staged: {report[0].text[:300]!r}")
    return {
        "rows": rows,
        "packed_kb": round(len(data) / 1024),
        "seconds_to_report": round(seconds, 3),
        "max_event_loop_lag_ms": round(lag.worst * 1000, 1),
        "writer_attempts": len(writer.waits),
        "writer_failures": writer.failures,
        "writer_max_wait_ms": round(max(writer.waits, default=0.0) * 1000, 1),
    }


async def run(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Refuse each hostile file, then stage a legal list beside a writer; return the figures (also JSON)."""
    # Each reader re-runs the main module first (multiprocessing's rule): in production the dienhinh script,
    # which imports bot.cli; here this module, whose imports the readers' server is made to hold already.
    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["rules.guest_lists", "bench.common", "bot.playground.harness", "bot.services"]
    )
    started = time.perf_counter()
    await guest_lists.read_guest_list("khach-moi.xlsx", legal_guest_list(1))
    server_start = time.perf_counter() - started
    hostile = []
    for label, build in HOSTILE.items():
        data = build()
        log(f"  {label}: {len(data) / 1024:,.0f} KB packed …")
        hostile.append(await refuse(label, data))
    # SQLite, where the write lock is the whole database's: what a parse inside a transaction would hold.
    with common.database_url(None, "dienhinh-hostile-", "hostile.sqlite3") as url:
        legal = await legal_list_while_writing(url, options.rows)
        database = describe_database(url)
    result = {
        "benchmark": NAME,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "database": database,
        "first_read_seconds": round(server_start, 3),
        "limits": {
            name: getattr(guest_lists, name)
            for name in (
                "MAX_BYTES",
                "MAX_PARTS",
                "MAX_PART_BYTES",
                "MAX_UNPACKED_BYTES",
                "MAX_RATIO",
                "MAX_SHEETS",
                "MAX_ROWS",
                "MAX_SHEET_ROWS",
                "MAX_COLUMNS",
                "MAX_CELLS",
                "READ_SECONDS",
                "READ_MEMORY_BYTES",
            )
        },
        "hostile": hostile,
        "legal": legal,
    }
    common.write_json(result, options.json_path, f"{NAME}.json")
    return result


def report(result: dict[str, Any]) -> str:
    lines = [f"first read (starts the readers' server): {result['first_read_seconds']:.2f} s"]
    for item in result["hostile"]:
        lines += [
            f"{item['file']} ({item['packed_kb']:,} KB)",
            f"  refused by {item['refused_by']} {item['refusal_values']} in {item['seconds_to_refusal']:.2f} s; "
            f"event loop lag ≤ {item['max_event_loop_lag_ms']} ms; bot RSS +{item['bot_peak_rss_growth_mb']} MB, "
            f"Python peak {item['bot_peak_python_allocation_mb']} MB",
            f"  the reader itself: {item['reader_seconds']:.2f} s, "
            f"Python peak {item['reader_peak_python_allocation_mb']} MB",
        ]
    legal = result["legal"]
    lines += [
        f"legal guest list of {legal['rows']:,} rows ({legal['packed_kb']:,} KB): report in "
        f"{legal['seconds_to_report']:.2f} s; event loop lag ≤ {legal['max_event_loop_lag_ms']} ms",
        f"  another connection writing every 20 ms: {legal['writer_attempts']} writes, "
        f"longest wait {legal['writer_max_wait_ms']} ms, {legal['writer_failures']} failed",
        f"[database: {result['database']}]",
    ]
    return "\n".join(lines) + f"\n\nresults: {result['json_path']}"


def main(argv: Sequence[str] | None = None) -> int:
    return common.main(argv, add_arguments, options_from, run, report, name=NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
