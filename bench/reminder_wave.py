"""A reminder wave: 1,000 answer reminders at 08:00, sent through the real outbox under Telegram's limits.

The database holds the seed plan and ``--wave-delegates`` invited delegates who opened their links and have
not answered; the clock says 10 June is three days away and it is 08:00 in Hà Nội. The bot starts as it
does in production: the planner runs at start-up and queues one reminder per delegate (texts rendered in
Vietnamese, each with its personal link); besides, ``--wave-busy-chats`` chats get ``--wave-extra`` more
messages each, so the sender must also keep to one message a second in one chat. The outbox job of the
real Application (``OutboxDispatcher`` on the JobQueue, every OUTBOX_INTERVAL_SECONDS) then sends them,
in real time, to the in-process Bot API, which answers 429 to anything beyond 30 messages a second
overall or 1 a second per chat (``RateRules``), as Telegram does.

Reported: messages, seconds from the first to the last delivery, the achieved rate and its share of 30/s,
the busiest one-second window, 429s received, duplicates (a chat shown the same text twice: must be 0)
and lost messages (rows not sent when the wave ended: must be 0), and the aim: ≥ 95% of 30/s. Expect
about 35–36 s.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import datetime as dt
import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench import common
from bench.common import Aim, BenchError, describe_database, machine
from bot.playground.harness import Playground
from bot.playground.transport import InProcessBotAPI, RateRules
from bot.services import Services
from bot.settings import Settings
from rules import links, outbox
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.text import fold
from storage.db import Database
from storage.models import Account, Base, ChannelIdentity, Conference, Invitation, OutboxMessage

NAME = "reminder_wave"
TELEGRAM_OVERALL_PER_SECOND = 30
HANOI = dt.timezone(dt.timedelta(hours=7))
# Three days before the district conference's answer deadline (10/6/2020 17:00), at REMINDER_TIME.
WAVE_AT = dt.datetime(2020, 6, 7, 8, 0, tzinfo=HANOI)
FIRST_CHAT = 70_000_000
TIMEOUT_SECONDS = 300
AIM_SHARE = 0.95


@dataclass
class Options:
    delegates: int = 1000
    busy_chats: int = 10
    extra: int = 5
    # Each Bot API call's network round trip (Hà Nội to Telegram's servers: 50–250 ms), and how many calls
    # the sender has on their way at once (the setting OUTBOX_MAX_IN_FLIGHT).
    round_trip_ms: float = 100.0
    in_flight: int = Settings.model_fields["outbox_max_in_flight"].default
    database_url: str | None = None
    json_path: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wave-delegates", type=int, default=Options.delegates, help="delegates reminded (1000)")
    parser.add_argument(
        "--wave-busy-chats", type=int, default=Options.busy_chats, help="chats that get several messages (10)"
    )
    parser.add_argument("--wave-extra", type=int, default=Options.extra, help="extra messages per busy chat (5)")
    parser.add_argument(
        "--wave-round-trip-ms", type=float, default=Options.round_trip_ms, help="each call's round trip (100 ms)"
    )
    parser.add_argument(
        "--wave-in-flight",
        type=int,
        default=Options.in_flight,
        help="calls on their way at once (OUTBOX_MAX_IN_FLIGHT)",
    )
    parser.add_argument("--wave-json", type=Path, default=None, help="where to write the wave's JSON")
    parser.add_argument(
        "--wave-database-url",
        default=None,
        help="a PostgreSQL server: a fresh database is made on it for the wave and dropped afterwards (default: "
        "--database-url when python -m bench is given one, else a fresh SQLite file)",
    )


def options_from(args: argparse.Namespace) -> Options:
    options = Options(
        delegates=args.wave_delegates,
        busy_chats=args.wave_busy_chats,
        extra=args.wave_extra,
        round_trip_ms=args.wave_round_trip_ms,
        in_flight=args.wave_in_flight,
        # ``python -m bench --database-url URL`` runs the wave on that server too.
        database_url=args.wave_database_url or getattr(args, "database_url", None),
        json_path=args.wave_json,
    )
    if options.round_trip_ms < 0 or options.in_flight < 1:
        raise SystemExit("--wave-round-trip-ms must be ≥ 0 and --wave-in-flight at least 1")
    if options.delegates < 1 or options.busy_chats < 0 or options.extra < 0 or options.busy_chats > options.delegates:
        raise SystemExit("--wave-delegates must be at least 1, --wave-busy-chats between 0 and it, --wave-extra ≥ 0")
    return options


class WaveClock:
    """Time that starts at the wave's moment and runs in real time (the limiter must see time pass)."""

    def __init__(self, start: dt.datetime) -> None:
        self.start = start.astimezone(dt.UTC)
        self.started = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.monotonic() - self.started)


async def prepare(database: Database, options: Options, now: dt.datetime) -> None:
    """Tables, the seed plan, the delegates (each bound to a chat) and the busy chats' extra messages."""
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        conference_id = await db.scalar(select(Conference.id).where(Conference.code == "district"))
        accounts = [
            Account(
                display_name=f"Đại biểu {index}",
                role="citizen",
                identities=[
                    ChannelIdentity(channel="telegram", external_id=str(FIRST_CHAT + index), address=FIRST_CHAT + index)
                ],
            )
            for index in range(options.delegates)
        ]
        db.add_all(accounts)
        await db.flush()
        db.add_all(
            Invitation(
                conference_id=conference_id,
                pool_code="exemplar",
                import_key=f"bench:{index}",
                full_name=f"Nguyễn Văn Đại Biểu {index}",
                name_fold=fold(f"Nguyễn Văn Đại Biểu {index}"),
                status="pending",
                link_nonce=links.new_nonce(),
                account_id=account.id,
            )
            for index, account in enumerate(accounts)
        )
        for chat in range(options.busy_chats):
            for number in range(options.extra):
                await outbox.enqueue(
                    db,
                    account_id=accounts[chat].id,
                    text=f"Thông báo bổ sung số {number + 1} cho đại biểu {chat}.",
                    dedupe_key=f"bench:extra:{chat}:{number}",
                    due_at=now,
                    now=now,
                )


async def _outbox_counts(database: Database) -> dict[str, int]:
    async with database.transaction() as db:
        rows = await db.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
        return {status: int(count) for status, count in rows.all()}


def busiest_second(times: Sequence[float]) -> int:
    """The most deliveries in any one-second window."""
    ordered = sorted(times)
    return max((bisect.bisect_left(ordered, t + 1.0) - i for i, t in enumerate(ordered)), default=0)


def shortest_gap_in_a_chat(api: InProcessBotAPI) -> float | None:
    gaps = [
        later.sent_at - earlier.sent_at
        for messages in api.chats.values()
        for earlier, later in itertools.pairwise(messages)
    ]
    return min(gaps) if gaps else None


async def _run(options: Options, database_url: str, log: Callable[[str], None]) -> dict[str, Any]:
    clock = WaveClock(WAVE_AT)
    database = Database(database_url)
    try:
        await prepare(database, options, clock())
    finally:
        await database.dispose()
    settings = Settings(
        database_url=database_url,
        bot_token="",
        webhook_url="",
        link_secret="bench-link-secret",
        outbox_max_in_flight=options.in_flight,
    )
    api = InProcessBotAPI()
    api.round_trip = options.round_trip_ms / 1000
    api.rate_rules = RateRules(overall_per_second=TELEGRAM_OVERALL_PER_SECOND, per_chat_per_second=1)
    playground = Playground(lambda: Services.create(settings, clock=clock), api=api)
    expected = options.delegates + options.busy_chats * options.extra
    started = time.monotonic()
    await playground.start(run_jobs=True)  # the planner queues the wave at start-up; the outbox job sends it
    planned = time.monotonic()
    try:
        queued = sum((await _outbox_counts(playground.services.database)).values())
        if queued != expected:
            raise BenchError(f"expected {expected} queued messages, found {queued}")
        log(f"  {queued} messages queued in {planned - started:.2f} s; sending …")
        while time.monotonic() - planned < TIMEOUT_SECONDS:
            await asyncio.sleep(0.5)
            counts = await _outbox_counts(playground.services.database)
            if counts.get("pending", 0) + counts.get("sending", 0) == 0:
                break
        finished = time.monotonic()
        counts = await _outbox_counts(playground.services.database)
    finally:
        await playground.stop()
    delivered = [message for messages in api.chats.values() for message in messages]
    if not delivered:
        raise BenchError("nothing was delivered")
    first, last = min(m.sent_at for m in delivered), max(m.sent_at for m in delivered)
    seconds = last - first
    rate = (len(delivered) - 1) / seconds if seconds > 0 else float("inf")
    duplicates = sum(n - 1 for messages in api.chats.values() for n in Counter(m.text for m in messages).values())
    gap = shortest_gap_in_a_chat(api)
    per_chat = Counter(message.chat_id for message in delivered)
    # The fastest the limits allow: 30 a second overall, and one a second in the busiest chat.
    floor = max((expected - 1) / TELEGRAM_OVERALL_PER_SECOND, max(per_chat.values()) - 1)
    return {
        "benchmark": NAME,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "database": describe_database(database_url),
        "options": {
            "delegates": options.delegates,
            "busy_chats": options.busy_chats,
            "extra_per_busy_chat": options.extra,
            "outbox_interval_seconds": settings.outbox_interval_seconds,
            "outbox_batch_size": settings.outbox_batch_size,
            "round_trip_ms": options.round_trip_ms,
            "outbox_max_in_flight": options.in_flight,
            "fake_api_limits": {"overall_per_second": TELEGRAM_OVERALL_PER_SECOND, "per_chat_per_second": 1},
        },
        "messages": expected,
        "delivered": len(delivered),
        "planning_seconds": round(planned - started, 3),
        "seconds": round(seconds, 3),
        "wall_seconds": round(finished - planned, 3),
        "fastest_possible_seconds": round(floor, 3),
        "rate_per_second": round(rate, 2),
        "share_of_30": round(rate / TELEGRAM_OVERALL_PER_SECOND, 3),
        "busiest_second": busiest_second([m.sent_at for m in delivered]),
        "shortest_gap_in_one_chat_seconds": round(gap, 3) if gap is not None else None,
        "http_429_received": api.rate_violations,
        "duplicates": duplicates,
        "lost": expected - counts.get("sent", 0),
        "outbox_status": counts,
    }


async def run(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Send the wave; return the figures (also written as JSON)."""
    # 429 retries are what is measured: the sender's warnings about them are not news here.
    logging.getLogger("bot.outbox").setLevel(logging.ERROR)
    async with common.fresh_database(options.database_url, "wave") as url:
        result = await _run(options, url, log)
    result["backend"] = make_url(url).get_backend_name()
    common.write_json(result, options.json_path, f"{NAME}.{result['backend']}.json")
    return result


def delivered_all_once(result: dict[str, Any]) -> bool:
    return result["duplicates"] == 0 and result["lost"] == 0


def aim_line(result: dict[str, Any]) -> str:
    share = result["share_of_30"]
    verdict = "ok" if share >= AIM_SHARE else f"gap {(AIM_SHARE - share) * 100:.1f} points"
    return f"aim ≥ {AIM_SHARE:.0%} of 30/s, 0 duplicates, 0 lost: {share:.1%} — {verdict}"


def aims(result: dict[str, Any]) -> list[Aim]:
    """The wave at ≥ 95% of Telegram's 30 messages a second, with 0 duplicates and 0 lost."""
    share, duplicates, lost = result["share_of_30"], result["duplicates"], result["lost"]
    gaps = [f"{(AIM_SHARE - share) * 100:.1f} points"] if share < AIM_SHARE else []
    gaps += [f"{duplicates} duplicates"] * bool(duplicates) + [f"{lost} lost"] * bool(lost)
    return [
        Aim(
            "reminder wave ÷ 30 msg/s, 0 duplicates, 0 lost",
            f"≥ {AIM_SHARE:.2f}",
            f"{share:.2f} ({result['rate_per_second']:.1f}/s; {duplicates} duplicates, {lost} lost)",
            not gaps,
            ", ".join(gaps),
            result.get("backend", ""),
        )
    ]


def report(result: dict[str, Any]) -> str:
    rows = [
        ("messages", str(result["messages"])),
        (
            "each call's round trip; calls at once",
            f"{result['options']['round_trip_ms']:.0f} ms; {result['options']['outbox_max_in_flight']}",
        ),
        ("seconds (first to last delivery)", f"{result['seconds']:.1f}"),
        ("fastest the limits allow", f"{result['fastest_possible_seconds']:.1f} s"),
        ("achieved rate", f"{result['rate_per_second']:.1f} /s"),
        ("share of 30/s", f"{result['share_of_30'] * 100:.1f}%"),
        ("busiest one-second window", str(result["busiest_second"])),
        ("shortest gap in one chat", f"{result['shortest_gap_in_one_chat_seconds']} s"),
        ("429s received", str(result["http_429_received"])),
        ("duplicates (must be 0)", str(result["duplicates"])),
        ("lost (must be 0)", str(result["lost"])),
        ("planner at start-up", f"{result['planning_seconds']:.2f} s"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    verdict = "ok" if delivered_all_once(result) else "FAILED"
    lines.append(f"{verdict}  [database: {result['database']}]")
    lines.append(aim_line(result))
    return "\n".join(lines) + f"\n\nresults: {result['json_path']}"


def main(argv: Sequence[str] | None = None) -> int:
    return common.main(
        argv,
        add_arguments,
        options_from,
        run,
        report,
        name=NAME,
        description=__doc__.splitlines()[0],
        ok=delivered_all_once,
    )


if __name__ == "__main__":
    raise SystemExit(main())
