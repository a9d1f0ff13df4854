"""A hot standby: two ``dienhinh run`` processes on one database, one active, one waiting for the lease.

The processes are real (``python -m bot.cli run``), a Zalo-only bot each, against the fake Zalo server in
this test's event loop. The active one is killed with SIGKILL in the middle of a nomination and in the
middle of a reminder wave; the standby takes over: the nomination goes on at the same question, every
reminder reaches its person, none twice beyond the one that was in flight. On PostgreSQL the lease is an
advisory lock, on SQLite a lock file beside the database (``bot.lease``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.channels.zalo.fake_server import FakeUser, FakeZaloServer
from bot.lease import FileLease, PostgresLease, lease_for
from rules import accounts, outbox
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.db import Database

PROJECT = Path(__file__).resolve().parents[2]
# A guard against a hang, not a measurement (starting a process, migrating and taking over take seconds).
GIVE_UP_SECONDS = 90.0
WAVE = 120


class BotProcess:
    """``python -m bot.cli run`` with the environment given; its log lines are collected as they come."""

    def __init__(self, name: str, environment: dict[str, str]) -> None:
        self.name = name
        self.environment = environment
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            cwd=PROJECT,
            env=self.environment,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        async for line in self.process.stderr:
            self.lines.append(line.decode(errors="replace").rstrip())

    def said(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        if self.process is None:
            return None
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(20):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        return self.process.returncode


async def until(condition: Callable[[], bool], what: str, *processes: BotProcess) -> None:
    try:
        async with asyncio.timeout(GIVE_UP_SECONDS):
            for _ in iter(condition, True):
                await asyncio.sleep(0.05)
    except TimeoutError:
        logs = "\n".join(f"[{p.name}] {line}" for p in processes for line in p.lines[-30:])
        raise AssertionError(f"gave up waiting for {what}\n{logs}") from None


@pytest.fixture
async def server() -> AsyncIterator[FakeZaloServer]:
    async with FakeZaloServer() as fake:
        yield fake


@pytest.fixture
async def pair(database_url: str, server: FakeZaloServer, tmp_path: Path) -> AsyncIterator[list[BotProcess]]:
    environment = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DIENHINH_", "ZALO_"))},
        "DATABASE_URL": database_url,
        "BOT_TOKEN": "",
        "WEBHOOK_URL": "",
        "ZALO_BOT_TOKEN": server.token,
        "ZALO_API_BASE_URL": server.base_url,
        "LINK_SECRET": "standby-test-link-secret-0123456789",
        "LOG_LEVEL": "INFO",
        # One call on its way at a time, so "beyond the one in flight" is exact whatever the machine's speed;
        # several at once (the default) are sent again only those on their way: tests/test_outbox.py.
        "OUTBOX_MAX_IN_FLIGHT": "1",
    }
    processes = [
        BotProcess("A", {**environment, "OUTBOX_OWNER": f"standby-a-{tmp_path.name}"}),
        BotProcess("B", {**environment, "OUTBOX_OWNER": f"standby-b-{tmp_path.name}"}),
    ]
    try:
        yield processes
    finally:
        for process in processes:
            await process.stop()


async def _answer(
    server: FakeZaloServer, person: FakeUser, words: str, *processes: BotProcess, replies: int = 1
) -> str:
    """Send ``words`` as ``person``, wait for the bot's next ``replies`` messages to them, return the last."""
    before = len(server.received(person.id))
    server.queue(server.text_event(person, words))
    await until(lambda: len(server.received(person.id)) >= before + replies, f"an answer to {words!r}", *processes)
    return server.received(person.id)[-1].text or ""


async def _active_and_standby(server: FakeZaloServer, pair: list[BotProcess], database_url: str) -> FakeUser:
    """A serving, with the seed plan loaded; B waiting for the lease. Returns someone A has answered."""
    active, standby = pair
    await active.start()
    await until(lambda: active.said("active: holding the lease"), "A to become active", active)
    lan = server.user("Nguyễn Thị Lan")
    assert (await _answer(server, lan, "/start", active)).startswith("Xin chào Nguyễn Thị Lan!")
    database = Database(database_url)
    try:
        async with database.transaction() as db:
            await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), dt.datetime.now(dt.UTC).date()))
    finally:
        await database.dispose()
    await standby.start()
    await until(lambda: standby.said("standby: another process is active"), "B to wait", active, standby)
    return lan


async def test_killed_in_the_middle_of_a_nomination_the_standby_goes_on_at_the_same_question(
    server: FakeZaloServer, pair: list[BotProcess], database_url: str
) -> None:
    active, standby = pair
    lan = await _active_and_standby(server, pair, database_url)
    assert "Đề cử này dành cho hội nghị nào?" in await _answer(server, lan, "/nominate", active, replies=2)
    assert (await _answer(server, lan, "2", active)).startswith("Bạn đề cử một cá nhân hay một tập thể")
    assert not standby.said("taking over")

    active.kill()
    assert active.process is not None
    await active.process.wait()
    # Typed while no process serves: it waits on Zalo's side and the standby answers it once it has taken over.
    name_question = await _answer(server, lan, "1", standby)

    assert name_question.startswith("Họ và tên đầy đủ của cá nhân"), name_question
    assert (await _answer(server, lan, "Nguyễn Văn Bình", standby)).startswith("Giới tính?")
    assert active.process.returncode == -signal.SIGKILL
    assert standby.said("standby: the lease is free after")


async def test_killed_in_the_middle_of_a_reminder_wave_every_reminder_arrives_once_but_the_one_in_flight(
    server: FakeZaloServer, pair: list[BotProcess], database_url: str
) -> None:
    active, standby = pair
    await _active_and_standby(server, pair, database_url)
    people = [server.user(f"Đại biểu {n}") for n in range(WAVE)]
    database = Database(database_url)
    try:
        async with database.transaction() as db:
            for n, person in enumerate(people):
                contact = await accounts.ensure_account(
                    db, channel="zalo", external_id=person.id, display_name=person.display_name, now=_now()
                )
                await outbox.enqueue(
                    db, account_id=contact.account.id, text=f"Nhắc việc số {n}", dedupe_key=f"standby-wave:{n}"
                )
    finally:
        await database.dispose()

    def delivered() -> Counter[str]:
        return Counter(
            message.text or ""
            for person in people
            for message in server.received(person.id)
            if (message.text or "").startswith("Nhắc việc")
        )

    await until(lambda: sum(delivered().values()) >= WAVE // 4, "a quarter of the wave", active, standby)
    active.kill()
    await until(lambda: len(delivered()) == WAVE, "the whole wave", active, standby)

    counts = delivered()
    assert set(counts) == {f"Nhắc việc số {n}" for n in range(WAVE)}
    assert sum(counts.values()) - WAVE <= 1, [text for text, count in counts.items() if count > 1]
    assert standby.said("active: holding the lease")


async def test_a_clean_stop_hands_over_at_once_and_a_lost_lease_stops_the_active_one(
    server: FakeZaloServer, pair: list[BotProcess], database_url: str
) -> None:
    active, standby = pair
    lan = await _active_and_standby(server, pair, database_url)

    assert await active.stop() == 0
    await until(lambda: standby.said("active: holding the lease"), "B to take over", active, standby)
    assert (await _answer(server, lan, "/help", standby)).startswith("Bạn có thể:")


# --- the leases themselves -------------------------------------------------------------------------------


async def test_a_second_lease_waits_until_the_first_is_released(database_url: str) -> None:
    first, second = lease_for(database_url, poll=0.02), lease_for(database_url, poll=0.02)
    await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    for _ in range(10):
        await asyncio.sleep(0.02)
    assert not waiting.done()

    await first.release()
    async with asyncio.timeout(GIVE_UP_SECONDS):
        await waiting
    assert not second.lost.is_set()
    await second.release()
    assert isinstance(first, PostgresLease if database_url.startswith("postgresql") else FileLease)


@pytest.mark.postgres
async def test_when_the_database_ends_the_lock_session_the_active_one_learns_it_has_lost_the_lease(
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the advisory lock's session is PostgreSQL's")
    lease = lease_for(database_url, poll=0.05)
    await lease.acquire()
    admin = Database(database_url)
    try:
        async with admin.engine.connect() as connection:
            await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND pid <> pg_backend_pid()"
                )
            )
        async with asyncio.timeout(GIVE_UP_SECONDS):
            await lease.lost.wait()
    finally:
        await lease.release()
        await admin.dispose()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
