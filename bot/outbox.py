"""The outbox sender: one repeating job claims due rows and sends them within Telegram's limits.

Each batch is claimed in its own short transaction (a lease, see ``storage.outbox``), each row is sent
through :class:`SendLimiter`, several calls on their way at once (``max_in_flight``: each waits a network
round trip), and each outcome is recorded in its own short transaction right after its call came back, so
a crash loses at most the outcomes of the messages in flight and the lease brings those rows back.
A batch is what the limiter lets out in the next second (about 28 rows, the first of each chat's queue),
so a crash leaves few rows claimed; a sender restarted under the same name (:func:`process_owner`) takes
them back at once instead of waiting for the lease. The README's "After a crash" says what a person sees.

Outcomes:

- sent → ``sent`` with Telegram's message id;
- 429 ``RetryAfter`` → back to ``pending`` at now + retry_after; the whole bot pauses that long (Telegram's
  flood control applies to the bot, not to one chat), so the rest of the batch is put back too;
- 5xx, network errors, timeouts → back to ``pending`` with exponential backoff, ``failed`` after
  ``max_attempts``;
- 403 ``Forbidden`` (blocked by the user, removed from the group) → ``undeliverable``, never retried, and
  the account is marked ``bot_blocked_at``;
- 400 ``BadRequest`` → ``failed`` with Telegram's description.

Logs name the row id and the error, never the text of a message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import dataclasses
import datetime as dt
import logging
import math
import os
import secrets
import socket
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from telegram import Bot, InputFile, LinkPreviewOptions, Message
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, CallbackContext, Job
from telegram.warnings import PTBDeprecationWarning

from rules.identities import CHANNELS, TELEGRAM
from storage import outbox as store
from storage.db import Database
from storage.models import utcnow

logger = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Sleep = Callable[[float], Awaitable[Any]]

MAX_BACKOFF = dt.timedelta(minutes=10)
# Busy chats a claim leaves out by id; beyond these, a busy chat's row is claimed and put back.
_MAX_SKIPPED = 500
# Waits shorter than this are clock rounding, not a reason to sleep again.
_EPSILON = 1e-6
# How often a sender whose every place in the window is on its way looks again (only when more calls may be
# on their way than the window holds).
_RETURN_POLL = 0.005
# Round trips kept to estimate the shortest (the earliest a new call can meet the server).
_ROUND_TRIPS_KEPT = 50


# --- rate limits -------------------------------------------------------------------------------------


class _Pacer:
    """Lets events through ``interval`` seconds apart on average: a token bucket refilling continuously.

    ``catch_up`` seconds of lateness are credited: a sender that was held up (a database write, a claim)
    may go again sooner, up to that much, instead of losing the time for good. 0 keeps a strict spacing.
    """

    __slots__ = ("catch_up", "interval", "next_at")

    def __init__(self, interval: float, catch_up: float = 0.0) -> None:
        self.interval = interval
        self.catch_up = catch_up
        self.next_at = float("-inf")

    def wait(self, now: float) -> float:
        return max(0.0, self.next_at - now)

    def take(self, now: float) -> None:
        self.next_at = max(self.next_at, now - self.catch_up) + self.interval

    def hold(self, until: float) -> None:
        self.next_at = max(self.next_at, until)


class _Window:
    """At most ``limit`` messages in any ``period`` seconds, counted as Telegram counts them.

    Telegram sees a message at some moment of its call, between the start and the end, and several calls
    are on their way at once (each waits a network round trip). The window counts each message at the
    middle of its call, where a call whose two ways take as long as each other meets the server; a new call
    is put at its start plus half the shortest round trip of the last calls, the earliest its middle can
    be; a call still on its way counts until it comes back. So the rate is not lowered by the round trip
    (counting from the ends would lose one round trip a window: 10% at 100 ms), and a window as Telegram
    counts holds more than ``limit`` only when a call is faster than every recent one or its two ways
    differ by more than the period's margin; a 429 that slips through is handled (the bot pauses, nothing
    is lost).
    """

    __slots__ = ("in_flight", "limit", "moments_", "period", "round_trips")

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self.moments_: list[float] = []  # the middle of each call of the last period that came back, in order
        self.in_flight = 0
        self.round_trips: deque[float] = deque(maxlen=_ROUND_TRIPS_KEPT)

    def lead(self) -> float:
        """From a new call's start to the earliest its middle can be: half the shortest recent round trip."""
        return min(self.round_trips) / 2 if self.round_trips else 0.0

    def _forget(self, at: float) -> None:
        keep = bisect.bisect_right(self.moments_, at - self.period)
        if keep:
            del self.moments_[:keep]

    def wait(self, now: float) -> float | None:
        """Seconds until one more call may start; None when only a call coming back can make room."""
        at = now + self.lead()
        self._forget(at)
        excess = len(self.moments_) + self.in_flight - self.limit + 1
        if excess <= 0:
            return 0.0
        if excess > len(self.moments_):
            return None
        return max(0.0, self.moments_[excess - 1] + self.period - at)

    def take(self) -> None:
        self.in_flight += 1

    def done(self, started: float, now: float) -> None:
        self.in_flight = max(0, self.in_flight - 1)
        self.round_trips.append(max(0.0, now - started))
        bisect.insort(self.moments_, (started + now) / 2)

    def moments(self, now: float) -> list[float]:
        """The middles that count for a call starting now, in order; a call on its way counts as a call
        starting now."""
        at = now + self.lead()
        self._forget(at)
        return sorted([*self.moments_, *([at] * self.in_flight)])


@dataclass(eq=False)
class Grant:
    """One message the limiter let out: :meth:`SendLimiter.done` is told when its call came back."""

    chat: _Pacer
    started: float


class SendLimiter:
    """Keeps the bot under Telegram's broadcast limits: overall, per private chat, per group.

    Telegram allows about 30 messages a second overall, 1 a second in one chat and 20 a minute in one
    group. Overall, sends are spaced evenly at ``overall_per_second`` over one second and
    ``margin_seconds`` (a bucket that refills continuously, so a sender held up for a moment catches up),
    and no window of that length ever holds more than ``overall_per_second`` sends, counted from when each
    call came back (:meth:`done`). One limiter serves one bot token: two processes sending for the same
    bot must split ``overall_per_second`` between them.
    """

    def __init__(
        self,
        *,
        overall_per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        per_group_per_minute: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        margin_seconds: float = 0.01,
        catch_up_seconds: float = 0.1,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        period = 1.0 + margin_seconds
        self._window = _Window(max(1, math.floor(overall_per_second)), period)
        self._overall = _Pacer(period / overall_per_second, catch_up_seconds)
        self._chat_interval = 1.0 / per_chat_per_second + margin_seconds
        self._group_interval = max(60.0 / per_group_per_minute, 1.0 / per_chat_per_second) + margin_seconds
        self._chats: dict[int, _Pacer] = {}

    def _pacer(self, chat_id: int, is_group: bool) -> _Pacer:
        pacer = self._chats.get(chat_id)
        if pacer is None:
            pacer = self._chats[chat_id] = _Pacer(self._group_interval if is_group else self._chat_interval)
        return pacer

    def busy_chats(self, longer_than: float) -> list[int]:
        """The chats that may not receive a message for more than ``longer_than`` seconds from now."""
        until = self._clock() + longer_than
        return [chat_id for chat_id, pacer in self._chats.items() if pacer.next_at > until]

    def chat_wait(self, chat_id: int, is_group: bool) -> float:
        """Seconds until this chat may receive the next message (0 when it may now)."""
        pacer = self._chats.get(chat_id)
        return pacer.wait(self._clock()) if pacer else 0.0

    def allowance(self, seconds: float = 1.0) -> int:
        """How many messages the overall budget lets out in the next ``seconds`` (0 while paused)."""
        now = self._clock()
        end = now + seconds
        next_at, times, lead = self._overall.next_at, self._window.moments(now), self._window.lead()
        count = 0
        while count < 10 * self._window.limit:
            at = max(now, next_at)
            if len(times) >= self._window.limit:
                at = max(at, times[-self._window.limit] + self._window.period - lead)
            if at >= end - _EPSILON:
                break
            count += 1
            next_at = max(next_at, at - self._overall.catch_up) + self._overall.interval
            times.append(at + lead)
        return count

    def pause(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (Telegram answered 429 with this retry_after)."""
        self._overall.hold(self._clock() + seconds)

    async def acquire(self, chat_id: int, is_group: bool) -> Grant:
        """Wait until both the overall budget and this chat's budget allow one more message, and take it.
        Tell :meth:`done` when the call came back, with what this returns."""
        pacer = self._pacer(chat_id, is_group)
        while True:
            now = self._clock()
            window = self._window.wait(now)
            # Every place of the window is on its way: a call coming back makes room.
            wait = max(self._overall.wait(now), _RETURN_POLL if window is None else window, pacer.wait(now))
            if wait <= _EPSILON:
                break
            await self._sleep(wait)
        self._overall.take(now)
        self._window.take()
        pacer.take(now)
        self._forget_idle_chats(now)
        return Grant(pacer, now)

    def calling(self, grant: Grant) -> None:
        """The call for ``grant``'s message starts now: its round trip is measured from here, not from
        when it was let out (the task may start a little later)."""
        grant.started = self._clock()

    def done(self, grant: Grant) -> None:
        """The call for ``grant``'s message came back: count it at the middle of its call (see
        :class:`_Window`), and space that chat's next message from now."""
        now = self._clock()
        self._window.done(grant.started, now)
        grant.chat.next_at = max(grant.chat.next_at, now + grant.chat.interval)

    def _forget_idle_chats(self, now: float) -> None:
        if len(self._chats) > 4096:
            self._chats = {chat: pacer for chat, pacer in self._chats.items() if pacer.next_at > now}


# --- the dispatcher ----------------------------------------------------------------------------------


@dataclass
class DispatchStats:
    """What one batch (or several, added up) did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    deferred: int = 0
    undeliverable: int = 0
    failed: int = 0
    lost_lease: int = 0
    rate_limited: bool = False

    def add(self, other: DispatchStats) -> None:
        for item in dataclasses.fields(self):
            if item.name == "rate_limited":
                self.rate_limited = self.rate_limited or other.rate_limited
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def summary(self) -> str:
        """``sent 28, deferred 2 (30 claimed)``: the counts that are not zero, for one log line."""
        counts = [
            f"{item.name.replace('_', ' ')} {getattr(self, item.name)}"
            for item in dataclasses.fields(self)
            if item.name not in {"claimed", "rate_limited"} and getattr(self, item.name)
        ]
        paused = ", paused by flood control" if self.rate_limited else ""
        return f"{', '.join(counts) or 'nothing done'} ({self.claimed} claimed){paused}"


async def take_over(database: Database) -> int:
    """At takeover by the process now holding the active lease: put back every claimed row (their senders
    are dead) so they go out in the first batch instead of after their lease. Returns how many."""
    async with database.transaction() as session:
        released = await store.release_every_claim(session, error="its sender stopped; taken over")
    if released:
        logger.warning("outbox: took back %s message(s) left claimed by a sender that stopped", released)
    return released


def default_owner() -> str:
    """A name for this sender that no other process shares, and no later one either: host, pid and a
    random suffix. Rows it leaves claimed when it dies wait for their lease."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


# Slot locks this process holds (see process_owner): open for as long as the process lives, closed by the
# operating system however it ends, kill -9 included.
_SLOT_LOCKS: list[IO[bytes]] = []
MAX_SLOTS = 64


def process_owner(directory: Path) -> str:
    """A sender name that stays the same across restarts of this deployment and differs between the
    processes that run from ``directory`` at the same time.

    The name is ``<deployment>/<slot>``: the deployment is made once and kept in ``directory/.outbox-owner``;
    the slot is the first of ``directory/.outbox-owner.<n>.lock`` that no running process holds locked
    (``flock``). A bot restarted after a crash gets the slot, hence the name, its previous run had, and
    can take back at once the rows that run left claimed (``OutboxDispatcher`` does on its first run); a
    second process started beside a running one (a standby) gets the next slot and touches nothing of the
    first one's. Without ``flock`` (Windows) every start gets a name of its own.
    """
    directory.mkdir(parents=True, exist_ok=True)
    deployment = _deployment_name(directory / ".outbox-owner")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock on this system
        return f"{deployment}/{secrets.token_hex(4)}"
    for slot in range(MAX_SLOTS):
        lock = (directory / f".outbox-owner.{slot}.lock").open("ab")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        _SLOT_LOCKS.append(lock)
        return f"{deployment}/{slot}"
    raise RuntimeError(f"more than {MAX_SLOTS} bot processes run from {directory}")


def _deployment_name(path: Path) -> str:
    """The name in ``path``, made (host name and a random suffix) and written atomically the first time."""
    if not path.exists():
        draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(f"{socket.gethostname()[:32]}-{secrets.token_hex(4)}\n", encoding="ascii")
        try:
            os.link(draft, path)  # fails if another process made it first: then theirs is the name
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="ascii").strip()


class OutboxDispatcher:
    """Sends due outbox rows; ``run_once`` handles one batch, ``drain`` batches until the queue is quiet.

    A batch is small: what the limiter lets out in the next second (about 28), at most ``batch_size``. So
    when the process dies, few rows are left claimed; they wait for their lease (``lease``) before another
    sender takes them, unless this sender's next run starts under the same ``owner`` name
    (:func:`process_owner`): its first batch then takes them back at once.
    """

    def __init__(
        self,
        database: Database,
        bot: Bot,
        *,
        owner: str | None = None,
        clock: Clock = utcnow,
        sleep: Sleep | None = None,
        limiter: SendLimiter | None = None,
        batch_size: int = 50,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        max_attempts: int = 8,
        max_chat_wait: float = 1.0,
        max_in_flight: int = 10,
        on_blocked: Callable[[int], None] | None = None,
    ) -> None:
        """``max_chat_wait``: seconds one batch may spend waiting for busy chats; rows of a chat that
        would need more are put back until the chat is free. ``max_in_flight``: calls on their way at once.
        ``on_blocked(address)`` is called after an account was marked as having blocked the bot (e.g. to
        refresh a cache)."""
        self.database = database
        self.bot = bot
        self.owner = (owner or default_owner())[:64]
        self.clock = clock
        if limiter is None and sleep is not None:
            # The caller controls time (a test): pace on its clock, advanced by its sleep.
            limiter = SendLimiter(clock=lambda: clock().timestamp(), sleep=sleep)
        # Otherwise pace on real time: ``clock`` decides what is due, but a rate is about seconds that pass,
        # and a stopped test clock must not stall the sender.
        self.limiter = limiter or SendLimiter()
        # Each channel is paced and paused on its own: Telegram's flood control says nothing about Zalo,
        # and Zalo's 429 (a plan's quota used up) must not hold back Telegram's reminders. Zalo publishes no
        # per-second limit; the same spacing as Telegram's keeps a wave from looking like a flood.
        self.limiters: dict[str, SendLimiter] = {TELEGRAM: self.limiter}
        for channel in CHANNELS:
            if channel not in self.limiters:
                self.limiters[channel] = (
                    SendLimiter(clock=lambda: clock().timestamp(), sleep=sleep) if sleep is not None else SendLimiter()
                )
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.max_chat_wait = max_chat_wait
        self.on_blocked = on_blocked
        # A row is not started when less than this is left of its lease: its outcome must be recorded
        # before another sender may take the row over.
        self._lease_margin = lease / 4
        self._paused_until: dict[str, dt.datetime] = {}
        self._took_back_left_rows = False
        # Calls on their way at once: a network round trip each, so one at a time would cap the rate at one
        # a round trip (Telegram from Hà Nội: 50–250 ms, so 4–20 a second instead of 30).
        self.max_in_flight = max_in_flight
        self._places = asyncio.Semaphore(max_in_flight)
        self._on_their_way: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    def claim_size(self) -> int:
        """How many rows the next batch claims: what may be sent in the next second, at most ``batch_size``."""
        return min(self.batch_size, self.limiter.allowance(1.0))

    async def drain(self, max_batches: int = 20) -> DispatchStats:
        """Run batches while they come back full (a backlog), up to ``max_batches``; one log line if
        anything was claimed (a tick with nothing to send logs nothing).

        A batch's last calls may still be on their way while the next batch is claimed and started: the
        network round trip is paid once, not once a batch. Every outcome is recorded before this returns.
        """
        total = DispatchStats()
        try:
            for _ in range(max_batches):
                limit = self.claim_size()
                claimed = await self._send_batch(limit, total)
                if claimed < limit or total.rate_limited or limit == 0 or self._failure is not None:
                    break
        finally:
            await self._settle()
        if total.claimed:
            logger.info("outbox: %s", total.summary())
        return total

    async def run_once(self, limit: int | None = None) -> DispatchStats:
        """Claim one batch of due rows (``limit``, default :meth:`claim_size`), send them, record each
        outcome; every outcome is recorded when it returns."""
        stats = DispatchStats()
        try:
            await self._send_batch(limit, stats)
        finally:
            await self._settle()
        return stats

    async def _send_batch(self, limit: int | None, stats: DispatchStats) -> int:
        """Claim a batch and start its calls, at most ``max_in_flight`` on their way at once; returns how
        many rows were claimed. The calls still on their way are awaited by :meth:`_settle`."""
        if not self._took_back_left_rows:
            await self.take_back_left_rows()
        now = self.clock()
        if all(now < self._paused_until.get(channel, now) for channel in self.limiters):
            return 0
        limit = self.claim_size() if limit is None else limit
        if limit <= 0:
            return 0
        busy = [chat for limiter in self.limiters.values() for chat in limiter.busy_chats(self.max_chat_wait)]
        async with self.database.transaction() as session:
            rows = await store.claim(
                session, owner=self.owner, now=now, lease=self.lease, limit=limit, skip_chats=busy[:_MAX_SKIPPED]
            )
        stats.claimed += len(rows)
        chat_wait_budget = self.max_chat_wait
        # One row per chat (see store.claim): a row put back stays first in its chat's queue. The rows of
        # chats that may receive now go first, so a chat still waiting for its last second does not hold the
        # whole batch back: by the time its turn comes, it is usually free.
        rows.sort(key=lambda row: self._limiter(row).chat_wait(row.chat_id, _is_group(row)) > 0)
        for index, row in enumerate(rows):
            # A place first: what happened to the calls on their way (a 429, an error) decides this row.
            await self._places.acquire()
            waited: float | None = None
            try:
                if self._failure is not None:
                    # Recording an outcome failed (the database is gone): the rest stay claimed, and come
                    # back with their lease or this sender's next start (take_back_left_rows).
                    logger.warning("outbox: %s claimed message(s) left for later after an error", len(rows) - index)
                    break
                waited = await self._start(row, stats, chat_wait_budget)
                if waited is not None:
                    chat_wait_budget -= waited
            finally:
                if waited is None:
                    self._places.release()
        return len(rows)

    async def _start(self, row: store.ClaimedRow, stats: DispatchStats, chat_wait_budget: float) -> float | None:
        """Start ``row``'s call in the place taken for it (the call gives the place back), or put the row
        back or fail it; returns how long the row's chat made it wait, None when no call was started."""
        now = self.clock()
        if row.attempts > self.max_attempts:
            # Leases ran out again and again: senders keep dying on this row. It may have gone out.
            await self._fail(row, "lease expired after the last attempt", stats)
            return None
        paused_until = self._paused_until.get(row.channel)
        if paused_until and now < paused_until:
            await self._defer(row, f"waiting for {row.channel}'s flood control", stats, until=paused_until)
            return None
        if now >= row.lease_until - self._lease_margin:
            await self._defer(row, "batch ran out of lease", stats)
            return None
        limiter = self._limiter(row)
        chat_wait = limiter.chat_wait(row.chat_id, _is_group(row))
        if chat_wait > chat_wait_budget:
            await self._defer(row, None, stats)
            return None
        grant = await limiter.acquire(row.chat_id, _is_group(row))
        task = asyncio.create_task(self._deliver_in_place(row, stats, limiter, grant))
        self._on_their_way.add(task)
        task.add_done_callback(self._on_their_way.discard)
        return chat_wait

    async def _deliver_in_place(
        self, row: store.ClaimedRow, stats: DispatchStats, limiter: SendLimiter, grant: Grant
    ) -> None:
        try:
            await self._deliver(row, stats, limiter, grant)
        except BaseException as error:
            if self._failure is None:
                self._failure = error
            raise
        finally:
            self._places.release()

    async def _settle(self) -> None:
        """Wait for every call on its way and its outcome; then raise the first error recording one met."""
        while self._on_their_way:
            await asyncio.gather(*self._on_their_way, return_exceptions=True)
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def _limiter(self, row: store.ClaimedRow) -> SendLimiter:
        return self.limiters.get(row.channel, self.limiter)

    async def take_back_left_rows(self) -> int:
        """Put back at once the rows a previous run under this owner name left claimed (it was killed).

        Runs before this sender's first batch, when every row claimed under its name is a dead run's: the
        first batch sends them, in their place in the queue. Returns how many there were.
        """
        async with self.database.transaction() as session:
            released = await store.release(session, owner=self.owner, error="the sender stopped before recording")
        self._took_back_left_rows = True
        if released:
            logger.warning("outbox: took back %s message(s) this sender's previous run left claimed", released)
        return released

    async def _deliver(self, row: store.ClaimedRow, stats: DispatchStats, limiter: SendLimiter, grant: Grant) -> None:
        try:
            request = _request(row)
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            limiter.done(grant)
            await self._fail(row, f"malformed payload: {type(exc).__name__}: {exc}", stats)
            return
        try:
            try:
                limiter.calling(grant)
                message_id = await request(self.bot)
            finally:
                limiter.done(grant)
        except RetryAfter as exc:
            await self._flood_control(row, exc, stats)
        except Forbidden as exc:
            await self._undeliverable(row, exc, stats)
        except (BadRequest, ChatMigrated) as exc:
            await self._fail(row, _describe(exc), stats)
        except TelegramError as exc:  # NetworkError, TimedOut, 5xx, …
            await self._retry(row, _describe(exc), stats)
        except Exception as exc:
            logger.exception("outbox row %s: unexpected error while sending", row.id)
            await self._retry(row, _describe(exc), stats)
        else:
            await self._sent(row, message_id, stats)

    # --- outcomes: each in its own short transaction ---------------------------------------------------

    async def _sent(self, row: store.ClaimedRow, message_id: int, stats: DispatchStats) -> None:
        async with self.database.transaction() as session:
            recorded = await store.mark_sent(session, row.id, self.owner, message_id, self.clock())
        stats.sent += 1
        self._check_recorded(row, recorded, stats, "sent")

    async def _flood_control(self, row: store.ClaimedRow, exc: RetryAfter, stats: DispatchStats) -> None:
        seconds = retry_after_seconds(exc)
        self._limiter(row).pause(seconds)
        until = self._paused_until[row.channel] = self.clock() + dt.timedelta(seconds=seconds)
        stats.rate_limited = True
        logger.warning("outbox row %s: %s flood control, pausing %.1f s", row.id, row.channel, seconds)
        await self._defer(row, _describe(exc), stats, until=until)

    async def _retry(self, row: store.ClaimedRow, error: str, stats: DispatchStats) -> None:
        if row.attempts >= self.max_attempts:
            await self._fail(row, error, stats)
            return
        delay = min(dt.timedelta(seconds=2**row.attempts), MAX_BACKOFF)
        logger.warning("outbox row %s: attempt %s failed (%s), retry in %s", row.id, row.attempts, error, delay)
        async with self.database.transaction() as session:
            recorded = await store.reschedule(session, row.id, self.owner, self.clock() + delay, error)
        stats.retried += 1
        self._check_recorded(row, recorded, stats, "retry")

    async def _defer(
        self, row: store.ClaimedRow, reason: str | None, stats: DispatchStats, *, until: dt.datetime | None = None
    ) -> None:
        """Put the row back untried (it does not count as an attempt), first in its chat's queue as it was;
        with ``until``, that chat's queue waits until then."""
        async with self.database.transaction() as session:
            recorded = await store.reschedule(
                session, row.id, self.owner, until or row.due_at, reason, refund_attempt=True
            )
            if until is not None:
                await store.hold_chat(session, chat_id=row.chat_id, until=until)
        stats.deferred += 1
        self._check_recorded(row, recorded, stats, "deferral")

    async def _undeliverable(self, row: store.ClaimedRow, exc: Forbidden, stats: DispatchStats) -> None:
        blocked_account = False
        async with self.database.transaction() as session:
            recorded = await store.mark_undeliverable(session, row.id, self.owner, _describe(exc))
            if recorded and not _is_group(row):
                blocked_account = await store.mark_account_blocked(session, row.account_id, self.clock())
        logger.warning("outbox row %s: undeliverable (%s)", row.id, _describe(exc))
        stats.undeliverable += 1
        self._check_recorded(row, recorded, stats, "undeliverable")
        if blocked_account and self.on_blocked:
            self.on_blocked(row.chat_id)

    async def _fail(self, row: store.ClaimedRow, error: str, stats: DispatchStats) -> None:
        async with self.database.transaction() as session:
            recorded = await store.mark_failed(session, row.id, self.owner, error)
        logger.error("outbox row %s: failed after %s attempts (%s)", row.id, row.attempts, error)
        stats.failed += 1
        self._check_recorded(row, recorded, stats, "failure")

    @staticmethod
    def _check_recorded(row: store.ClaimedRow, recorded: bool, stats: DispatchStats, outcome: str) -> None:
        if not recorded:
            # Cancelled meanwhile, or another sender took the row over after our lease ran out.
            stats.lost_lease += 1
            logger.info("outbox row %s: %s not recorded (cancelled or lease taken over)", row.id, outcome)


# --- requests ----------------------------------------------------------------------------------------

SendRequest = Callable[[Bot], Awaitable[int]]


def _request(row: store.ClaimedRow) -> SendRequest:
    """The Bot API call for a row, built before sending so a malformed payload is caught up front."""
    payload = row.payload
    # parse_mode is always given, so an Application-wide default parse mode never applies to plain text.
    options: dict[str, Any] = {"chat_id": row.chat_id, "parse_mode": payload.get("parse_mode")}
    for key in ("disable_notification", "protect_content"):
        if key in payload:
            options[key] = bool(payload[key])
    if payload.get("reply_markup"):
        options["api_kwargs"] = {"reply_markup": dict(payload["reply_markup"])}
    text = str(payload.get("text") or "")
    if row.method == "sendMessage":
        if payload.get("disable_web_page_preview"):
            options["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
        return _sending(lambda bot: bot.send_message(text=text, **options))
    file = _file(payload)
    if row.method == "sendDocument":
        return _sending(lambda bot: bot.send_document(document=file, caption=text or None, **options))
    if row.method == "sendPhoto":
        return _sending(lambda bot: bot.send_photo(photo=file, caption=text or None, **options))
    raise ValueError(f"unsupported method {row.method!r}")


def _sending(call: Callable[[Bot], Awaitable[Message]]) -> SendRequest:
    async def send(bot: Bot) -> int:
        return (await call(bot)).message_id

    return send


def _file(payload: dict[str, Any]) -> str | InputFile:
    if payload.get("file_id"):
        return str(payload["file_id"])
    data = base64.b64decode(payload["file_b64"], validate=True)
    return InputFile(data, filename=str(payload["filename"]))


def _is_group(row: store.ClaimedRow) -> bool:
    return row.is_group or row.chat_id < 0


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def retry_after_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds: PTB 22 gives an int (deprecated) or a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


# --- wiring ------------------------------------------------------------------------------------------


def install(
    application: Application[Any, Any, Any, Any, Any, Any], dispatcher: OutboxDispatcher, interval_seconds: float
) -> Job[Any]:
    """Send the outbox every ``interval_seconds`` from the Application's JobQueue (job name "outbox").

    One drain at a time: a tick that comes while a drain is still sending (a wave takes many seconds)
    only asks that drain to go once more when it is done, without waiting for the next tick. APScheduler
    is allowed a second instance for this; with one, it would skip the tick and log a warning every second
    of a wave.
    """
    if application.job_queue is None:
        raise RuntimeError("the outbox needs the JobQueue: install python-telegram-bot[job-queue]")
    draining = asyncio.Lock()
    ticked_meanwhile = asyncio.Event()

    async def send_outbox(_context: CallbackContext[Any, Any, Any, Any]) -> None:
        if draining.locked():
            ticked_meanwhile.set()
            return
        async with draining:
            while True:
                ticked_meanwhile.clear()
                await dispatcher.drain()
                if not ticked_meanwhile.is_set():
                    break

    return application.job_queue.run_repeating(
        send_outbox,
        interval=interval_seconds,
        name="outbox",
        job_kwargs={"max_instances": 2, "coalesce": True},
    )


__all__ = [
    "DispatchStats",
    "Grant",
    "OutboxDispatcher",
    "SendLimiter",
    "default_owner",
    "install",
    "retry_after_seconds",
]
