"""The outbox against the in-process Bot API: 429s, 500s, 403s, restarts, concurrent claims, rate limits.

Each test says what was queued, what Telegram answered, and then checks both what the chats show and
what the outbox table holds: nothing lost, nothing sent twice, blocked users marked.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import heapq
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.error import TimedOut
from telegram.ext import ApplicationBuilder

from bot import cli
from bot.outbox import DispatchStats, OutboxDispatcher, SendLimiter, install, process_owner
from bot.playground.transport import OFFLINE_TOKEN, Fault, InProcessBotAPI, RateRules
from bot.settings import PROJECT_ROOT, Settings
from rules import outbox
from storage import outbox as store
from storage.db import Database
from storage.models import OutboxMessage
from tests.people import account_at, telegram_account


class FakeClock:
    """Time that moves only when the code under test sleeps or the test says so."""

    def __init__(self) -> None:
        self.start = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.elapsed = 0.0

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def api() -> InProcessBotAPI:
    return InProcessBotAPI()


@pytest.fixture
async def bot(api: InProcessBotAPI) -> AsyncIterator[Bot]:
    bot = Bot(token=OFFLINE_TOKEN, request=api, get_updates_request=api)
    await bot.initialize()
    yield bot
    await bot.shutdown()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_dispatcher(database: Database, bot: Bot, clock: FakeClock, **kwargs: object) -> OutboxDispatcher:
    return OutboxDispatcher(database, bot, clock=clock.now, sleep=clock.sleep, **kwargs)  # type: ignore[arg-type]


async def enqueue(database: Database, clock: FakeClock, chat_id: int, key: str, **kwargs: object) -> bool:
    async with database.transaction() as session:
        return await outbox.enqueue(
            session,
            account_id=await telegram_account(session, chat_id),
            text=kwargs.pop("text", f"message {key}"),  # type: ignore[arg-type]
            dedupe_key=key,
            now=clock.now(),
            **kwargs,  # type: ignore[arg-type]
        )


async def rows(database: Database) -> dict[str, OutboxMessage]:
    async with database.transaction() as session:
        found = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return {row.dedupe_key: row for row in found}


def texts(api: InProcessBotAPI, chat_id: int) -> list[str]:
    return [message.text for message in api.chats.get(chat_id, [])]


# --- enqueue and cancel ------------------------------------------------------------------------------


async def test_same_dedupe_key_twice_is_one_row_and_one_message(database, api, bot, clock):
    assert await enqueue(database, clock, 501, "decision:7", text="Hồ sơ đã được duyệt")
    assert not await enqueue(database, clock, 501, "decision:7", text="Hồ sơ đã được duyệt")

    stats = await make_dispatcher(database, bot, clock).run_once()

    assert stats.sent == 1
    assert texts(api, 501) == ["Hồ sơ đã được duyệt"]
    stored = await rows(database)
    assert list(stored) == ["decision:7"]
    assert stored["decision:7"].status == "sent"
    assert stored["decision:7"].telegram_message_id == api.chats[501][0].message_id
    assert await make_dispatcher(database, bot, clock).run_once() == DispatchStats()
    assert api.sent_count() == 1


async def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(database, clock):
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            await outbox.enqueue(
                session, account_id=await telegram_account(session, 1), text="x", dedupe_key="k", now=clock.now()
            )
            raise RuntimeError("the feature's change failed")
    assert await rows(database) == {}


async def test_enqueue_refuses_what_telegram_would_refuse(database, clock):
    async with database.transaction() as session:
        with pytest.raises(ValueError):
            await outbox.enqueue(
                session, account_id=await telegram_account(session, 1), text="x" * 4097, dedupe_key="long"
            )
        with pytest.raises(ValueError):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, 1),
                text="caption",
                dedupe_key="nofile",
                method="sendDocument",
            )
        with pytest.raises(ValueError):
            await outbox.enqueue(
                session, account_id=await telegram_account(session, 1), text="x", dedupe_key="m", method="sendSticker"
            )
        with pytest.raises(ValueError):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, 1),
                text="x",
                dedupe_key="e",
                extra={"pars_mode": "HTML"},
            )
        with pytest.raises(ValueError):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, 1),
                text="x",
                dedupe_key="n",
                due_at=dt.datetime(2020, 3, 15),
            )
    assert await rows(database) == {}


async def test_cancelled_topic_is_not_sent(database, api, bot, clock):
    await enqueue(database, clock, 601, "remind:42:d-1", topic="invitation:42")
    await enqueue(database, clock, 601, "remind:42:d-0", topic="invitation:42")
    await enqueue(database, clock, 602, "remind:43:d-1", topic="invitation:43")

    async with database.transaction() as session:
        assert await outbox.cancel(session, topic="invitation:42") == 2
        assert await outbox.pending_count(session) == 1

    await make_dispatcher(database, bot, clock).run_once()

    assert 601 not in api.chats
    assert texts(api, 602) == ["message remind:43:d-1"]
    stored = await rows(database)
    assert [stored[key].status for key in ("remind:42:d-1", "remind:42:d-0", "remind:43:d-1")] == [
        "cancelled",
        "cancelled",
        "sent",
    ]
    async with database.transaction() as session:
        assert await outbox.status_counts(session) == {"cancelled": 2, "sent": 1}


async def test_future_row_waits_for_its_time(database, api, bot, clock):
    await enqueue(database, clock, 701, "digest:1", due_at=clock.now() + dt.timedelta(hours=1))
    dispatcher = make_dispatcher(database, bot, clock)

    assert (await dispatcher.run_once()).claimed == 0
    clock.advance(3600)
    assert (await dispatcher.run_once()).sent == 1
    assert texts(api, 701) == ["message digest:1"]


# --- Telegram's answers ------------------------------------------------------------------------------


async def test_429_reschedules_at_retry_after_then_delivers_once(database, api, bot, clock):
    await enqueue(database, clock, 801, "promo:1")
    api.fail_next(Fault.too_many_requests(5))
    dispatcher = make_dispatcher(database, bot, clock)
    started = clock.now()

    stats = await dispatcher.run_once()

    assert stats.rate_limited and stats.sent == 0
    assert 801 not in api.chats
    row = (await rows(database))["promo:1"]
    assert row.status == "pending"
    assert row.attempts == 0  # flood control is not the message's fault
    assert abs((row.due_at - (started + dt.timedelta(seconds=5))).total_seconds()) < 1
    assert "RetryAfter" in (row.last_error or "")

    clock.advance(2)
    assert (await dispatcher.run_once()).sent == 0  # still paused
    clock.advance(3)
    assert (await dispatcher.run_once()).sent == 1
    assert (await dispatcher.run_once()).claimed == 0
    assert texts(api, 801) == ["message promo:1"]
    row = (await rows(database))["promo:1"]
    assert (row.status, row.attempts) == ("sent", 1)


async def test_429_puts_the_rest_of_the_batch_back(database, api, bot, clock):
    for chat_id in (811, 812, 813):
        await enqueue(database, clock, chat_id, f"promo:{chat_id}")
    api.fail_next(Fault.too_many_requests(5), chat_id=811)

    # One call at a time: the 429 comes back before the next call starts (several at once: below).
    stats = await make_dispatcher(database, bot, clock, max_in_flight=1).run_once()

    assert stats.claimed == 3 and stats.sent == 0 and stats.deferred == 3
    assert api.sent_count() == 1  # one try, then the bot held back
    stored = await rows(database)
    assert {row.status for row in stored.values()} == {"pending"}
    assert all(row.due_at >= clock.now() + dt.timedelta(seconds=4) for row in stored.values())


async def test_server_errors_are_retried_with_backoff(database, api, bot, clock):
    await enqueue(database, clock, 901, "decision:9")
    api.fail_next(Fault.server_error(), times=2)
    dispatcher = make_dispatcher(database, bot, clock)

    assert (await dispatcher.run_once()).retried == 1
    first = (await rows(database))["decision:9"]
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.due_at == clock.now() + dt.timedelta(seconds=2)

    clock.advance(1)
    assert (await dispatcher.run_once()).claimed == 0  # backoff not over
    clock.advance(1)
    assert (await dispatcher.run_once()).retried == 1
    assert (await rows(database))["decision:9"].due_at == clock.now() + dt.timedelta(seconds=4)
    clock.advance(4)
    assert (await dispatcher.run_once()).sent == 1

    assert texts(api, 901) == ["message decision:9"]
    row = (await rows(database))["decision:9"]
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert api.sent_count() == 3


async def test_network_timeouts_are_retried(database, api, bot, clock):
    await enqueue(database, clock, 902, "decision:10")
    timeouts = iter([True])

    def time_out_once(method: str, params: dict[str, object]) -> Fault | None:
        if method == "sendMessage" and next(timeouts, False):
            raise TimedOut()
        return None

    api.fault_hook = time_out_once
    dispatcher = make_dispatcher(database, bot, clock)
    assert (await dispatcher.run_once()).retried == 1
    clock.advance(2)
    assert (await dispatcher.run_once()).sent == 1
    assert texts(api, 902) == ["message decision:10"]


async def test_persistent_server_error_fails_after_max_attempts(database, api, bot, clock):
    await enqueue(database, clock, 903, "decision:11")
    api.fault_hook = lambda method, params: Fault.server_error() if method == "sendMessage" else None
    dispatcher = make_dispatcher(database, bot, clock, max_attempts=4)

    for _ in range(10):
        await dispatcher.run_once()
        clock.advance(700)

    row = (await rows(database))["decision:11"]
    assert (row.status, row.attempts) == ("failed", 4)
    assert "Internal Server Error" in (row.last_error or "")
    assert api.sent_count() == 4
    assert 903 not in api.chats


async def test_blocked_user_is_undeliverable_and_marked(database, api, bot, clock):
    async with database.transaction() as session:
        await telegram_account(session, 1001, "Lan")
        await telegram_account(session, 1002, "Minh")
    await enqueue(database, clock, 1001, "remind:1")
    await enqueue(database, clock, 1002, "remind:2")
    api.fail_next(Fault.blocked(), chat_id=1001)
    blocked: list[int] = []
    dispatcher = make_dispatcher(database, bot, clock, on_blocked=blocked.append)

    stats = await dispatcher.run_once()

    assert (stats.undeliverable, stats.sent) == (1, 1)
    assert blocked == [1001]
    stored = await rows(database)
    assert stored["remind:1"].status == "undeliverable"
    assert "blocked" in (stored["remind:1"].last_error or "")
    assert stored["remind:2"].status == "sent"
    async with database.transaction() as session:
        accounts = {address: await account_at(session, address) for address in (1001, 1002)}
    blocked_at = accounts[1001].bot_blocked_at
    assert blocked_at is not None and abs((blocked_at - clock.now()).total_seconds()) < 1
    assert accounts[1002].bot_blocked_at is None

    clock.advance(3600)
    assert await dispatcher.run_once() == DispatchStats()
    assert api.sent_count() == 2
    assert 1001 not in api.chats


async def test_bad_request_fails_without_retry(database, api, bot, clock):
    await enqueue(database, clock, 1101, "digest:2", extra={"parse_mode": "HTML"})
    api.fail_next(Fault(400, "Bad Request: can't parse entities"))
    dispatcher = make_dispatcher(database, bot, clock)

    assert (await dispatcher.run_once()).failed == 1
    clock.advance(3600)
    assert (await dispatcher.run_once()).claimed == 0
    row = (await rows(database))["digest:2"]
    assert row.status == "failed"
    assert "can't parse entities" in (row.last_error or "").lower()


async def test_document_and_message_with_keyboard_and_no_default_parse_mode(database, api, bot, clock):
    keyboard = {"inline_keyboard": [[{"text": "Xác nhận", "callback_data": "v1:rsvp:yes"}]]}
    async with database.transaction() as session:
        await outbox.enqueue(
            session,
            account_id=await telegram_account(session, 1201),
            text="Danh sách đại biểu",
            dedupe_key="export:1",
            method="sendDocument",
            extra=outbox.file_payload(b"PK\x03\x04 xlsx bytes", "dai-bieu.xlsx"),
            reply_markup=keyboard,
            now=clock.now(),
        )
        await outbox.enqueue(
            session,
            account_id=await telegram_account(session, 1201),
            text="<b>not html</b> https://example.org",
            dedupe_key="plain:1",
            reply_markup=keyboard,
            extra={"disable_web_page_preview": True},
            now=clock.now(),
        )

    dispatcher = make_dispatcher(database, bot, clock)
    await dispatcher.run_once()
    clock.advance(2)
    await dispatcher.run_once()

    document, message = api.chats[1201]
    assert (document.method, document.file_name, document.file_bytes) == (
        "sendDocument",
        "dai-bieu.xlsx",
        b"PK\x03\x04 xlsx bytes",
    )
    assert document.text == "Danh sách đại biểu"
    assert document.button_labels == ["Xác nhận"]
    assert message.text == "<b>not html</b> https://example.org" and message.button_labels == ["Xác nhận"]
    sent_params = [params for method, params in api.calls if method == "sendMessage"]
    assert "parse_mode" not in sent_params[0]
    assert sent_params[0]["link_preview_options"] == {"is_disabled": True}


# --- restarts and leases -----------------------------------------------------------------------------


async def test_rows_claimed_by_a_dead_sender_are_sent_once_after_the_lease(database, api, bot, clock):
    for index in range(3):
        await enqueue(database, clock, 1300 + index, f"remind:{index}")
    async with database.transaction() as session:
        claimed = await store.claim(
            session, owner="sender-a", now=clock.now(), lease=dt.timedelta(seconds=60), limit=10
        )
    assert len(claimed) == 3
    await database.dispose()  # sender A's process is gone

    restarted = Database(database.url)
    try:
        sender_b = make_dispatcher(restarted, bot, clock, owner="sender-b")
        assert (await sender_b.run_once()).claimed == 0  # A's lease still holds
        clock.advance(61)
        assert (await sender_b.run_once()).sent == 3
        clock.advance(3600)
        assert (await sender_b.run_once()).claimed == 0
        stored = await rows(restarted)
    finally:
        await restarted.dispose()

    for index in range(3):
        assert texts(api, 1300 + index) == [f"message remind:{index}"]
    assert {(row.status, row.attempts, row.lease_owner) for row in stored.values()} == {("sent", 2, "sender-b")}


class Killed(BaseException):
    """kill -9: nothing after it runs, no ``except Exception`` catches it."""


class DiesAfterTheFirstSend(OutboxDispatcher):
    """A sender killed right after Telegram took its first message, before recording it."""

    async def _sent(self, row: store.ClaimedRow, message_id: int, stats: DispatchStats) -> None:
        raise Killed


async def test_a_restarted_sender_takes_back_at_once_what_its_crashed_run_had_claimed(database, api, bot, clock):
    await enqueue(database, clock, 1350, "remind:a1", text="a1")
    await enqueue(database, clock, 1350, "remind:a2", text="a2")
    for chat_id in range(1351, 1355):
        await enqueue(database, clock, chat_id, f"remind:{chat_id}", text=f"for {chat_id}")
    # One call at a time, so one message is on its way when the sender dies (several: below).
    crashed = DiesAfterTheFirstSend(database, bot, owner="bot-1/0", clock=clock.now, sleep=clock.sleep, max_in_flight=1)

    with pytest.raises(Killed):
        await crashed.run_once()

    assert texts(api, 1350) == ["a1"] and api.sent_count() == 1
    left = await rows(database)
    assert left.pop("remind:a2").status == "pending"  # one row per chat in a batch: a2 waits behind a1
    assert {(row.status, row.lease_owner) for row in left.values()} == {("sending", "bot-1/0")}
    await database.dispose()  # the process is gone

    restarted = Database(database.url)
    try:
        standby = make_dispatcher(restarted, bot, clock, owner="bot-1/1")
        assert (await standby.run_once()).claimed == 0  # another sender's rows are left to their lease
        again = make_dispatcher(restarted, bot, clock, owner="bot-1/0")
        first = await again.run_once()  # the lease still has 60 s to run
        clock.advance(1.1)
        second = await again.run_once()  # a2, a second after a1 in its chat
        stored = await rows(restarted)
    finally:
        await restarted.dispose()

    assert (first.sent, second.sent) == (5, 1)
    assert clock.elapsed < 2  # nobody waited for the lease
    # At least once: the message in flight when the sender died is sent again, and only that one.
    assert texts(api, 1350) == ["a1", "a1", "a2"]
    assert all(texts(api, chat_id) == [f"for {chat_id}"] for chat_id in range(1351, 1355))
    assert {(row.status, row.lease_owner) for row in stored.values()} == {("sent", "bot-1/0")}
    assert stored["remind:a1"].attempts == 2 and stored["remind:1351"].attempts == 2


# --- several calls on their way at once ------------------------------------------------------------------


class HeldBotAPI(InProcessBotAPI):
    """The in-process Bot API whose calls wait until the test lets them through, as calls wait a network
    round trip: the test sees how many are on their way at once, whatever the machine's speed."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.on_their_way = 0
        self.most_at_once = 0

    async def do_request(self, url: str, method: str, request_data=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        if url.endswith("/getMe"):
            return await super().do_request(url, method, request_data, *args, **kwargs)
        self.on_their_way += 1
        self.most_at_once = max(self.most_at_once, self.on_their_way)
        try:
            await self.gate.wait()
            return await super().do_request(url, method, request_data, *args, **kwargs)
        finally:
            self.on_their_way -= 1


@pytest.fixture
async def held() -> AsyncIterator[tuple[HeldBotAPI, Bot]]:
    api = HeldBotAPI()
    bot = Bot(token=OFFLINE_TOKEN, request=api, get_updates_request=api)
    await bot.initialize()
    yield api, bot
    await bot.shutdown()


async def test_several_calls_are_on_their_way_at_once_and_each_outcome_is_recorded(database, held, clock):
    api, bot = held
    for chat_id in range(1400, 1406):
        await enqueue(database, clock, chat_id, f"remind:{chat_id}", text=f"for {chat_id}")
    dispatcher = make_dispatcher(database, bot, clock, max_in_flight=4)

    batch = asyncio.create_task(dispatcher.run_once())
    await _until(lambda: api.on_their_way == 4, "four calls on their way")
    on_their_way = {row.dedupe_key: row.status for row in (await rows(database)).values()}
    api.gate.set()
    stats = await batch

    # Four calls waited on the network together; the other two started as places came free.
    assert api.most_at_once == 4 and not batch.exception()
    assert list(on_their_way.values()) == ["sending"] * 6  # claimed, none recorded yet
    assert (stats.claimed, stats.sent) == (6, 6)
    assert all(texts(api, chat_id) == [f"for {chat_id}"] for chat_id in range(1400, 1406))
    assert {(row.status, row.attempts) for row in (await rows(database)).values()} == {("sent", 1)}


async def test_a_429_while_other_calls_are_on_their_way_loses_and_repeats_nothing(database, held, clock):
    api, bot = held
    for chat_id in range(811, 817):
        await enqueue(database, clock, chat_id, f"promo:{chat_id}", text=f"for {chat_id}")
    api.fail_next(Fault.too_many_requests(5), chat_id=811)
    dispatcher = make_dispatcher(database, bot, clock, max_in_flight=3)

    batch = asyncio.create_task(dispatcher.run_once())
    await _until(lambda: api.on_their_way == 3, "three calls on their way")
    api.gate.set()
    stats = await batch

    # 811 met flood control; 812 and 813 were on their way and went out; nothing more was started.
    assert (stats.sent, stats.deferred, stats.rate_limited) == (2, 4, True)
    assert api.sent_count() == 3  # three tries, one refused
    clock.advance(5.1)
    await dispatcher.drain()
    assert all(texts(api, chat_id) == [f"for {chat_id}"] for chat_id in range(811, 817))
    assert {row.status for row in (await rows(database)).values()} == {"sent"}


class DiesBeforeRecordingAnySend(OutboxDispatcher):
    """A sender killed with several calls on their way: none of their outcomes is recorded."""

    async def _sent(self, row: store.ClaimedRow, message_id: int, stats: DispatchStats) -> None:
        raise Killed


async def test_a_crash_with_calls_on_their_way_sends_again_only_those(database, held, clock):
    api, bot = held
    for chat_id in range(1500, 1506):
        await enqueue(database, clock, chat_id, f"remind:{chat_id}", text=f"for {chat_id}")
    crashed = DiesBeforeRecordingAnySend(
        database, bot, owner="bot-2/0", clock=clock.now, sleep=clock.sleep, max_in_flight=3
    )

    batch = asyncio.create_task(crashed.run_once())
    await _until(lambda: api.on_their_way == 3, "three calls on their way")
    api.gate.set()
    with pytest.raises(Killed):
        await batch
    first_three = [chat_id for chat_id in range(1500, 1506) if texts(api, chat_id)]
    assert len(first_three) == 3  # the three on their way reached Telegram; the rest were never started

    again = make_dispatcher(database, bot, clock, owner="bot-2/0")
    await again.drain()

    # At least once: each message on its way when the sender died is shown twice, every other one once.
    assert {chat_id: len(texts(api, chat_id)) for chat_id in range(1500, 1506)} == {
        chat_id: 2 if chat_id in first_three else 1 for chat_id in range(1500, 1506)
    }
    assert {row.status for row in (await rows(database)).values()} == {"sent"}


async def test_a_batch_claims_what_may_go_out_in_the_next_second(database, api, bot, clock):
    async with database.transaction() as session:
        for chat_id in range(3000, 3100):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, chat_id),
                text="hi",
                dedupe_key=f"wave:{chat_id}",
                now=clock.now(),
            )
    killed_after_claiming = make_dispatcher(database, bot, clock, batch_size=50)
    assert killed_after_claiming.claim_size() == 30  # what the limiter lets out in a second, not the batch size

    async with database.transaction() as session:
        claimed = await store.claim(
            session,
            owner=killed_after_claiming.owner,
            now=clock.now(),
            lease=killed_after_claiming.lease,
            limit=killed_after_claiming.claim_size(),
        )
    paused = make_dispatcher(database, bot, clock, batch_size=50)
    paused.limiter.pause(5)
    assert paused.claim_size() == 0
    assert await paused.run_once() == DispatchStats()  # nothing is claimed to wait for flood control

    stats = await make_dispatcher(database, bot, clock, batch_size=50).run_once()

    assert len(claimed) == 30  # what a crash right now would leave waiting for its lease
    assert (stats.claimed, stats.sent) == (30, 30)
    async with database.transaction() as session:
        assert await outbox.status_counts(session) == {"sending": 30, "sent": 30, "pending": 40}


def test_the_owner_name_survives_a_kill_and_differs_for_a_process_beside_it(tmp_path):
    holder = [sys.executable, "-c", _PRINT_OWNER_AND_WAIT, str(tmp_path)]
    first_run = subprocess.Popen(holder, cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert first_run.stdout is not None
        first_name = first_run.stdout.readline().strip()
        beside = process_owner(tmp_path)  # a second bot process, started while the first one runs
    finally:
        first_run.kill()  # SIGKILL: no clean-up runs
        first_run.wait()
    restarted = subprocess.run(holder, cwd=PROJECT_ROOT, input="", capture_output=True, text=True, check=True)

    deployment = (tmp_path / ".outbox-owner").read_text(encoding="ascii").strip()
    assert first_name == f"{deployment}/0"
    assert beside == f"{deployment}/1"
    assert restarted.stdout.strip() == first_name


_PRINT_OWNER_AND_WAIT = """
import sys
from pathlib import Path
from bot.outbox import process_owner
print(process_owner(Path(sys.argv[1])), flush=True)
sys.stdin.read()
"""


async def test_unclaimed_rows_survive_a_new_database_object(database, api, bot, clock):
    await enqueue(database, clock, 1401, "remind:a")
    await enqueue(database, clock, 1402, "remind:b", due_at=clock.now() + dt.timedelta(minutes=5))
    await database.dispose()

    restarted = Database(database.url)
    try:
        dispatcher = make_dispatcher(restarted, bot, clock)
        assert (await dispatcher.run_once()).sent == 1
        clock.advance(300)
        assert (await dispatcher.run_once()).sent == 1
        stored = await rows(restarted)
    finally:
        await restarted.dispose()
    assert texts(api, 1401) == ["message remind:a"]
    assert texts(api, 1402) == ["message remind:b"]
    assert {row.status for row in stored.values()} == {"sent"}


async def test_a_sender_that_lost_its_lease_cannot_overwrite(database, clock):
    await enqueue(database, clock, 1501, "remind:x")
    lease = dt.timedelta(seconds=60)
    async with database.transaction() as session:
        [row_a] = await store.claim(session, owner="a", now=clock.now(), lease=lease, limit=1)
    clock.advance(61)
    async with database.transaction() as session:
        [row_b] = await store.claim(session, owner="b", now=clock.now(), lease=lease, limit=1)
    assert row_a.id == row_b.id and row_b.attempts == 2

    async with database.transaction() as session:
        assert not await store.mark_sent(session, row_a.id, "a", 11, clock.now())
        assert not await store.reschedule(session, row_a.id, "a", clock.now(), "late")
        assert await store.mark_sent(session, row_b.id, "b", 12, clock.now())
    row = (await rows(database))["remind:x"]
    assert (row.status, row.telegram_message_id, row.lease_owner) == ("sent", 12, "b")


async def test_cancel_while_sending_is_not_undone_by_a_retry(database, api, bot, clock):
    await enqueue(database, clock, 1601, "remind:c", topic="invitation:9")
    async with database.transaction() as session:
        [row] = await store.claim(session, owner="a", now=clock.now(), lease=dt.timedelta(seconds=60), limit=1)
    async with database.transaction() as session:
        assert await outbox.cancel(session, topic="invitation:9") == 1
        assert not await store.reschedule(session, row.id, "a", clock.now(), "HTTP 500")
    clock.advance(3600)
    assert (await make_dispatcher(database, bot, clock).run_once()).claimed == 0
    assert (await rows(database))["remind:c"].status == "cancelled"


# --- concurrent claims -------------------------------------------------------------------------------


async def test_concurrent_claims_never_hand_out_a_row_twice(database, clock):
    total = 300
    async with database.transaction() as session:
        for index in range(total):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, index + 1),
                text="x",
                dedupe_key=f"k{index}",
                now=clock.now(),
            )
    other = Database(database.url)
    now = clock.now() + dt.timedelta(seconds=1)

    async def claim(db: Database, owner: str) -> tuple[str, list[int]]:
        async with db.transaction() as session:
            claimed = await store.claim(session, owner=owner, now=now, lease=dt.timedelta(seconds=60), limit=20)
        return owner, [row.id for row in claimed]

    try:
        results = await asyncio.gather(
            *(claim(database if index % 2 else other, f"worker-{index}") for index in range(24))
        )
    finally:
        await other.dispose()

    handed_out = [row_id for _, ids in results for row_id in ids]
    assert len(handed_out) == len(set(handed_out)) == total
    stored = await rows(database)
    owner_of = {row_id: owner for owner, ids in results for row_id in ids}
    assert all(row.status == "sending" and row.lease_owner == owner_of[row.id] for row in stored.values())
    assert {row.attempts for row in stored.values()} == {1}


async def test_postgres_claim_skips_rows_locked_by_an_open_claim(database, clock):
    if database.dialect != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE")
    async with database.transaction() as session:
        for index in range(10):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, index + 1),
                text="x",
                dedupe_key=f"k{index}",
                now=clock.now(),
            )
    other = Database(database.url)
    lease = dt.timedelta(seconds=60)
    try:
        async with database.transaction() as holding:
            first = await store.claim(holding, owner="a", now=clock.now(), lease=lease, limit=4)
            async with other.transaction() as session:
                second = await asyncio.wait_for(
                    store.claim(session, owner="b", now=clock.now(), lease=lease, limit=10), timeout=5
                )
    finally:
        await other.dispose()
    assert len(first) == 4 and len(second) == 6
    assert not {row.id for row in first} & {row.id for row in second}


# --- rate limits -------------------------------------------------------------------------------------


async def _broadcast(database: Database, bot: Bot, clock: FakeClock, limiter: SendLimiter) -> None:
    async with database.transaction() as session:
        for index in range(5):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, 77),
                text=f"#{index}",
                dedupe_key=f"one:{index}",
                now=clock.now(),
            )
        for chat_id in range(2000, 2100):
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, chat_id),
                text="hi",
                dedupe_key=f"all:{chat_id}",
                now=clock.now(),
            )
    dispatcher = make_dispatcher(database, bot, clock, limiter=limiter, batch_size=50)
    for _ in range(500):
        stats = await dispatcher.run_once()
        async with database.transaction() as session:
            if await outbox.pending_count(session) == 0:
                return
        if stats.sent == 0:
            clock.advance(0.25)
    raise AssertionError("the outbox never emptied")


def _assert_each_delivered_once(api: InProcessBotAPI) -> None:
    assert texts(api, 77) == ["#0", "#1", "#2", "#3", "#4"]
    assert all(texts(api, chat_id) == ["hi"] for chat_id in range(2000, 2100))
    assert sum(len(messages) for messages in api.chats.values()) == 105


async def test_limiter_keeps_a_broadcast_under_telegram_limits(database, api, bot, clock):
    api.rate_rules = RateRules(clock=clock.monotonic)
    limiter = SendLimiter(clock=clock.monotonic, sleep=clock.sleep)

    await _broadcast(database, bot, clock, limiter)

    assert api.rate_violations == 0
    _assert_each_delivered_once(api)
    assert clock.elapsed < 10  # 105 messages at ≈28/s, the one busy chat at 1/s
    assert {row.status for row in (await rows(database)).values()} == {"sent"}


async def test_without_limits_telegram_answers_429_and_still_nothing_is_lost(database, api, bot, clock):
    # The fake server's limits are real: a sender that ignores them gets 429s. The outbox recovers.
    api.rate_rules = RateRules(clock=clock.monotonic)
    limiter = SendLimiter(overall_per_second=1000, per_chat_per_second=1000, clock=clock.monotonic, sleep=clock.sleep)

    await _broadcast(database, bot, clock, limiter)

    assert api.rate_violations > 0
    _assert_each_delivered_once(api)


async def test_limiter_spaces_chats_and_groups():
    clock = FakeClock()
    limiter = SendLimiter(clock=clock.monotonic, sleep=clock.sleep)

    await limiter.acquire(5, False)
    assert limiter.chat_wait(5, False) == pytest.approx(1.01)
    await limiter.acquire(5, False)
    assert clock.elapsed == pytest.approx(1.01)

    await limiter.acquire(-100, True)
    assert limiter.chat_wait(-100, True) == pytest.approx(3.01)
    start = clock.elapsed
    for _ in range(20):
        await limiter.acquire(-100, True)
    assert clock.elapsed - start >= 60  # at most 20 a minute in a group

    limiter.pause(5)
    start = clock.elapsed
    await limiter.acquire(6, False)
    assert clock.elapsed - start == pytest.approx(5)


async def test_a_claim_takes_the_first_row_of_each_chat_and_none_of_a_chat_being_sent_to(database, clock):
    for index in range(3):
        await enqueue(database, clock, 7, f"seven:{index}")
    for chat_id in (8, 9):
        for index in range(2):
            await enqueue(database, clock, chat_id, f"chat{chat_id}:{index}")
    lease = dt.timedelta(seconds=60)

    async with database.transaction() as session:
        first = await store.claim(session, owner="a", now=clock.now(), lease=lease, limit=10)
    async with database.transaction() as session:
        # "b" runs beside "a": it may not send chat 7's second message while the first is on its way.
        beside = await store.claim(session, owner="b", now=clock.now(), lease=lease, limit=10)
        assert await store.mark_sent(session, first[0].id, "a", 1, clock.now())
    async with database.transaction() as session:
        after_seven = await store.claim(session, owner="b", now=clock.now(), lease=lease, limit=10, skip_chats=[9])

    assert [row.dedupe_key for row in first] == ["seven:0", "chat8:0", "chat9:0"]
    assert beside == []
    assert [row.dedupe_key for row in after_seven] == ["seven:1"]  # chat 8 still in flight, 9 skipped


async def test_a_claim_starts_with_the_chats_that_have_most_rows_due(database, clock):
    await enqueue(database, clock, 8, "eight:0")  # older, but alone in its chat
    for index in range(3):
        await enqueue(database, clock, 7, f"seven:{index}")
    await enqueue(database, clock, 9, "nine:0")
    lease = dt.timedelta(seconds=60)

    async with database.transaction() as session:
        first = await store.claim(session, owner="a", now=clock.now(), lease=lease, limit=1)
    async with database.transaction() as session:
        then = await store.claim(session, owner="a", now=clock.now(), lease=lease, limit=1)

    # Chat 7 may receive one a second: its three rows are the long pole, so its first goes out first;
    # then the oldest due. Still one row per chat, in the chat's own order.
    assert [row.dedupe_key for row in first] == ["seven:0"]
    assert [row.dedupe_key for row in then] == ["eight:0"]


async def _send_through(
    limiter: SendLimiter, clock: FakeClock, call: float, held_up: float
) -> list[tuple[float, float]]:
    """300 messages to 300 chats; each call takes ``call`` s (every tenth 20 times that), and after every
    tenth the sender is held up ``held_up`` s (recording, claiming). Returns each call's start and end."""
    calls = []
    for chat_id in range(300):
        grant = await limiter.acquire(chat_id, False)
        start = clock.elapsed
        clock.advance(call * 20 if chat_id % 10 == 0 else call)
        limiter.done(grant)
        calls.append((start, clock.elapsed))
        if chat_id % 10 == 9:
            clock.advance(held_up)
    return calls


def _most_in_one_second(moments: list[float]) -> int:
    """The most messages any 1-second window holds, each counted at its moment."""
    ordered = sorted(moments)
    return max(bisect.bisect_left(ordered, at + 1.0) - k for k, at in enumerate(ordered))


async def test_limiter_counts_each_call_at_its_middle_and_catches_up_after_a_hold_up():
    clock = FakeClock()
    slow = await _send_through(SendLimiter(clock=clock.monotonic, sleep=clock.sleep), clock, call=0.005, held_up=0)
    clock = FakeClock()
    held = await _send_through(SendLimiter(clock=clock.monotonic, sleep=clock.sleep), clock, call=0.001, held_up=0.1)

    # However long a call took, no 1-second window as Telegram saw it (halfway through each call) holds
    # more than 30 messages.
    for calls in (slow, held):
        assert _most_in_one_second([(start + end) / 2 for start, end in calls]) <= 30
    # The time the sender was held up between calls is made up afterwards: the rate stays near 30/s.
    assert (len(held) - 1) / (held[-1][0] - held[0][0]) >= 0.95 * 30


class RoundTrips:
    """Calls that each take a network round trip, several on their way at once, in simulated time: the
    limiter's sleep moves the clock to the end of each call due meanwhile and tells the limiter then."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.ends: list[tuple[float, int, Any]] = []
        self.limiter = SendLimiter(clock=clock.monotonic, sleep=self.sleep)
        self.calls: list[tuple[float, float]] = []

    async def sleep(self, seconds: float) -> None:
        target = self.clock.elapsed + seconds
        while self.ends and self.ends[0][0] <= target:
            end, _, grant = heapq.heappop(self.ends)
            self.clock.elapsed = max(self.clock.elapsed, end)
            self.limiter.done(grant)
        self.clock.elapsed = target

    async def send(self, chat_id: int, round_trip: float) -> None:
        grant = await self.limiter.acquire(chat_id, False)
        self.limiter.calling(grant)
        start = self.clock.elapsed
        heapq.heappush(self.ends, (start + round_trip, chat_id, grant))
        self.calls.append((start, start + round_trip))


async def test_calls_on_their_way_at_once_keep_telegrams_rate_whatever_the_round_trip():
    network = RoundTrips(FakeClock())
    for chat_id in range(600):
        # 100 ms a call, every seventh twice that: without calls on their way at once, 10 a second at most.
        await network.send(chat_id, 0.2 if chat_id % 7 == 0 else 0.1)

    starts = [start for start, _ in network.calls]
    assert (len(starts) - 1) / (starts[-1] - starts[0]) >= 0.97 * 30
    # As Telegram counts, halfway through each call: never more than 30 in one second.
    assert _most_in_one_second([(start + end) / 2 for start, end in network.calls]) <= 30
    # And counted at the calls' starts (a server that sees each message as soon as it is sent).
    assert _most_in_one_second([start for start, _ in network.calls]) <= 30


async def test_flood_control_keeps_each_chats_order(database, api, bot, clock):
    for index in range(3):
        await enqueue(database, clock, 880, f"order:{index}", text=f"#{index}")
    api.fail_next(Fault.too_many_requests(3), chat_id=880)
    dispatcher = make_dispatcher(database, bot, clock)

    assert (await dispatcher.run_once()).rate_limited
    for _ in range(10):
        clock.advance(1.5)
        await dispatcher.run_once()

    assert texts(api, 880) == ["#0", "#1", "#2"]


# --- wiring ------------------------------------------------------------------------------------------


async def test_install_registers_one_repeating_job_that_sends(database, api):
    application = ApplicationBuilder().token(OFFLINE_TOKEN).request(api).get_updates_request(api).build()
    await application.initialize()
    try:
        dispatcher = OutboxDispatcher(database, application.bot)
        job = install(application, dispatcher, interval_seconds=2)
        assert application.job_queue is not None
        assert application.job_queue.get_jobs_by_name("outbox") == (job,)
        # A second instance only to return at once while a drain runs: APScheduler would warn instead.
        assert (job.job.max_instances, job.job.coalesce) == (2, True)

        async with database.transaction() as session:
            await outbox.enqueue(
                session,
                account_id=await telegram_account(session, 1701),
                text="Nhắc lịch hội nghị",
                dedupe_key="remind:z",
            )
        await job.run(application)
    finally:
        await application.shutdown()
    assert texts(api, 1701) == ["Nhắc lịch hội nghị"]
    assert (await rows(database))["remind:z"].status == "sent"


@pytest.fixture
def logging_as_in_production(caplog: pytest.LogCaptureFixture):
    """The log levels `dienhinh run` sets (bot.cli), INFO captured; the library levels restored afterwards."""
    libraries = [logging.getLogger(name) for name in ("httpx", "apscheduler.executors")]
    levels = [library.level for library in libraries]
    cli._configure_logging(Settings(log_level="INFO"))
    caplog.set_level(logging.INFO)
    yield caplog
    for library, level in zip(libraries, levels, strict=True):
        library.setLevel(level)


async def _until(condition, what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_ticks_with_nothing_to_send_log_nothing_and_one_that_sends_logs_one_line(
    database, api, logging_as_in_production
):
    caplog = logging_as_in_production
    application = ApplicationBuilder().token(OFFLINE_TOKEN).request(api).get_updates_request(api).build()
    dispatcher = OutboxDispatcher(database, application.bot)
    drains: list[DispatchStats] = []
    drain = dispatcher.drain

    async def counted_drain(max_batches: int = 20) -> DispatchStats:
        drains.append(await drain(max_batches))
        return drains[-1]

    dispatcher.drain = counted_drain  # type: ignore[method-assign]
    install(application, dispatcher, interval_seconds=0.02)

    def info_lines() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]

    async with application:
        await application.start()
        try:
            await _until(lambda: drains, "a first tick")
            caplog.clear()  # "Scheduler started", "Application started": once per start, not per tick
            await _until(lambda: len(drains) >= 6, "five more ticks")
            idle = info_lines()
            caplog.clear()
            async with database.transaction() as session:
                await outbox.enqueue(
                    session,
                    account_id=await telegram_account(session, 1801),
                    text="Nhắc lịch hội nghị",
                    dedupe_key="remind:log",
                )
            await _until(lambda: any(stats.sent for stats in drains), "the message sent")
            sent_at_tick = len(drains)
            await _until(lambda: len(drains) >= sent_at_tick + 3, "three more ticks")
            busy = info_lines()
        finally:
            await application.stop()

    assert idle == []
    assert busy == ["outbox: sent 1 (1 claimed)"]
    assert texts(api, 1801) == ["Nhắc lịch hội nghị"]


async def test_a_stopped_test_clock_does_not_stall_the_sender(database):
    """The business clock decides what is due; pacing follows real time, so a frozen clock can't hang it."""
    import datetime as dt

    from telegram import Bot

    from bot.outbox import OutboxDispatcher
    from bot.playground.transport import OFFLINE_TOKEN, InProcessBotAPI
    from rules import outbox

    frozen = dt.datetime(2020, 3, 1, 1, 0, tzinfo=dt.UTC)
    api = InProcessBotAPI()
    bot = Bot(OFFLINE_TOKEN, request=api)
    await bot.initialize()
    async with database.transaction() as db:
        for n in range(3):
            await outbox.enqueue(
                db, account_id=await telegram_account(db, 77), text=f"tin {n}", dedupe_key=f"frozen:{n}", now=frozen
            )
    # Waiting at most half a second for a busy chat, no drain here waits for the one-second gap in chat 77.
    dispatcher = OutboxDispatcher(database, bot, clock=lambda: frozen, max_chat_wait=0.5)

    for _ in range(3):
        await dispatcher.drain()

    assert [m.text for m in api.messages(77)] == ["tin 0"]  # one a second in a chat; the rest wait, in order
