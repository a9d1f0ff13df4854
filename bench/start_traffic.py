"""/start traffic: updates per second through the whole Application, beside a bare PTB bot.

Both bots get the same traffic: N updates of ``/start`` (every fourth one ``/help``) from M people, most of
whom have written before, as pre-built Update objects fed one at a time to ``Application.process_update``,
which is how PTB processes updates by default. The bare bot is a plain ``telegram.ext.Application`` whose
CommandHandlers answer with texts of the same length, without persistence; the dienhinh bot is
``build_application`` on a database made with ``Base.metadata.create_all``. The difference between the two
rates is what the project adds to an update: account lookup (a row created on first contact),
translation, NFC normalisation, the persistence flush.

Every measurement gets a freshly initialised app; building the updates and a warm-up are not timed. The
two bots run side by side and take turns, 100 updates each (``--chunk``), the one going first changing
every turn, ``--repeats`` times; the median of the repeats' ratios counts. After every
measurement the bench checks, untimed, that each update got exactly one reply, in its own chat, of the
kind its command asks for, and that nothing was logged as an error: a bench that answers nothing fails
instead of reporting a fast rate.

When the rate ratio is under the aim (or with ``--profile``) one more dienhinh run is made under cProfile,
counting the SQL statements of each update: the findings are printed and stored with the results.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import logging
import pstats
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, func, select
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

from bench import common
from bench.common import RESULTS_DIR, Aim, BenchError, DriverTrips, describe_database, machine
from bot.app import build_application
from bot.playground.transport import OFFLINE_TOKEN, InProcessBotAPI, Persona, UpdateFactory
from bot.services import Services
from bot.settings import Settings
from storage.db import Database
from storage.models import Base, ChannelIdentity

NAME = "start_traffic"
AIM = 0.5  # dienhinh should reach at least half of the bare bot's rate
HELP_EVERY = 4  # every fourth update is /help, the others /start
WARMUP_USERS = 5
WARMUP_UPDATES = 40
# Each measurement's people are new to the database: a user id range of their own.
FIRST_USER_ID = 10_000_000
USER_ID_STRIDE = 1_000_000

FIRST_NAMES = ("Lan", "Minh", "Hoa", "Tuấn", "Thảo", "Dũng", "Hương", "Nam", "Mai", "Quang", "Linh", "Sơn")
LAST_NAMES = ("Nguyễn Thị", "Trần Văn", "Lê", "Phạm", "Hoàng", "Vũ Đức", "Đặng", "Bùi")

# The bare bot answers with texts as long as dienhinh's (337 and 228 characters in Vietnamese).
BARE_START = (
    "Xin chào {name}! Tôi là trợ lý công tác thi đua – khen thưởng.\n\n"
    "Tôi giúp các đơn vị và người dân đề cử điển hình tiên tiến, người tốt – việc tốt, và giúp đại biểu "
    "được mời xác nhận tham dự.\n\nBạn có thể:\n/start — Lời chào và các việc tôi giúp được\n"
    "/help — Hướng dẫn sử dụng\n/lang — Đổi ngôn ngữ / Change language\n/cancel — Dừng việc đang làm"
)
BARE_HELP = (
    "Bạn có thể:\n/start — Lời chào và các việc tôi giúp được\n/help — Hướng dẫn sử dụng\n"
    "/lang — Đổi ngôn ngữ / Change language\n/cancel — Dừng việc đang làm\n\n"
    "Khi tôi hiện các nút bấm, bạn cũng có thể gõ số thứ tự hoặc tên của lựa chọn."
)
GREETING = "Xin chào {name}!"


# --- traffic ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One update of the traffic: who sends which command."""

    persona: Persona
    command: str


def personas(count: int, first_user_id: int) -> list[Persona]:
    return [
        Persona(
            first_user_id + k,
            FIRST_NAMES[k % len(FIRST_NAMES)],
            LAST_NAMES[k % len(LAST_NAMES)],
            username=f"bench_user_{first_user_id + k}",
        )
        for k in range(count)
    ]


def plan_traffic(updates: int, users: int, *, first_user_id: int, seed: int) -> list[Sent]:
    """``updates`` commands from ``users`` people picked at random (the same picks for both bots)."""
    rng = random.Random(seed)
    people = personas(users, first_user_id)
    return [
        Sent(rng.choice(people), "/help" if index % HELP_EVERY == HELP_EVERY - 1 else "/start")
        for index in range(updates)
    ]


def traffic_mix(plan: Sequence[Sent]) -> dict[str, int]:
    seen: set[int] = set()
    first_contacts = 0
    for sent in plan:
        if sent.persona.user_id not in seen:
            seen.add(sent.persona.user_id)
            first_contacts += 1
    commands = Counter(sent.command for sent in plan)
    return {
        "updates": len(plan),
        "distinct_users": len(seen),
        "first_contact_updates": first_contacts,
        "returning_user_updates": len(plan) - first_contacts,
        "start": commands["/start"],
        "help": commands["/help"],
    }


# --- the two bots ----------------------------------------------------------------------------------


class BenchBot(Protocol):
    name: str
    api: InProcessBotAPI

    # Read-only, so that DienhinhBot's DienhinhApplication satisfies it as well as BareBot's Application.
    @property
    def app(self) -> Application: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _bare_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.effective_user is not None
    await update.message.reply_text(BARE_START.format(name=update.effective_user.first_name))


async def _bare_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_text(BARE_HELP)


class BareBot:
    """A plain PTB Application: the same transport, a handler per command, no persistence, no database."""

    name = "bare PTB"

    def __init__(self) -> None:
        self.api = InProcessBotAPI()
        self.app = ApplicationBuilder().token(OFFLINE_TOKEN).request(self.api).get_updates_request(self.api).build()
        self.app.add_handler(CommandHandler("start", _bare_start))
        self.app.add_handler(CommandHandler("help", _bare_help))

    async def start(self) -> None:
        await self.app.initialize()

    async def stop(self) -> None:
        await self.app.shutdown()


class DienhinhBot:
    """The project's Application as ``build_application`` makes it, started the way the Playground does."""

    name = "dienhinh"

    def __init__(self, database_url: str) -> None:
        self.api = InProcessBotAPI()
        settings = Settings(database_url=database_url, organiser_ids=(), bot_token="", webhook_url="")
        self.app = build_application(Services.create(settings), request=self.api)

    async def start(self) -> None:
        await self.app.initialize()
        if self.app.post_init:
            await self.app.post_init(self.app)

    async def stop(self) -> None:
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)


# --- measuring -------------------------------------------------------------------------------------


class ErrorCounter(logging.Handler):
    """Counts what is logged at ERROR: a failing handler must fail the bench, not speed it up."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Run:
    seconds: float
    updates: int

    @property
    def rate(self) -> float:
        return self.updates / self.seconds


@dataclass
class Measured:
    bot: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median_rate(self) -> float:
        return statistics.median(run.rate for run in self.runs)

    @property
    def median_run(self) -> Run:
        return sorted(self.runs, key=lambda run: run.rate)[len(self.runs) // 2]


Hook = Callable[[BenchBot, Sequence[Update], Sequence[Sent]], Awaitable[float]]


async def _feed_timed(bot: BenchBot, updates: Sequence[Update], plan: Sequence[Sent]) -> float:
    process = bot.app.process_update
    started = time.perf_counter()
    for update in updates:
        await process(update)
    return time.perf_counter() - started


async def measure(
    bot: BenchBot,
    warmup: Sequence[Sent],
    plan: Sequence[Sent],
    errors: ErrorCounter,
    feed: Hook = _feed_timed,
) -> Run:
    """Start ``bot``, warm it up, time ``plan`` through ``process_update`` one update at a time, check."""
    await bot.start()
    try:
        factory = UpdateFactory(bot.api, bot.app.bot)
        warm_updates = [factory.text(sent.persona, sent.command) for sent in warmup]
        timed_updates = [factory.text(sent.persona, sent.command) for sent in plan]
        for update in warm_updates:
            await bot.app.process_update(update)
        errors.records.clear()
        gc.collect()
        seconds = await feed(bot, timed_updates, plan)
        verify(bot, [*warmup, *plan], errors)
    finally:
        await bot.stop()
    return Run(seconds=seconds, updates=len(plan))


async def measure_by_turns(
    bots: Sequence[BenchBot], warmup: Sequence[Sent], plan: Sequence[Sent], errors: ErrorCounter, chunk: int
) -> list[Run]:
    """Start every bot and warm it up, then time ``plan`` through each, ``chunk`` updates a turn by turns
    (the bot going first changes every turn), and check each. A run takes a fraction of a second, and this
    shared machine's speed drifts by half within seconds: measured one after the other, the two bots would
    be measured on different machines."""
    updates: list[list[Update]] = []
    for bot in bots:
        await bot.start()
    try:
        for bot in bots:
            factory = UpdateFactory(bot.api, bot.app.bot)
            for update in [factory.text(sent.persona, sent.command) for sent in warmup]:
                await bot.app.process_update(update)
            updates.append([factory.text(sent.persona, sent.command) for sent in plan])
        errors.records.clear()
        gc.collect()
        seconds = [0.0] * len(bots)
        for number, first in enumerate(range(0, len(plan), chunk)):
            order = list(range(len(bots))) if number % 2 == 0 else list(reversed(range(len(bots))))
            for index in order:
                process = bots[index].app.process_update
                started = time.perf_counter()
                for update in updates[index][first : first + chunk]:
                    await process(update)
                seconds[index] += time.perf_counter() - started
        for bot in bots:
            verify(bot, [*warmup, *plan], errors)
    finally:
        for bot in bots:
            await bot.stop()
    return [Run(seconds=elapsed, updates=len(plan)) for elapsed in seconds]


def verify(bot: BenchBot, sent: Sequence[Sent], errors: ErrorCounter) -> None:
    """Every update answered exactly once, in its own chat, with the reply its command asks for."""
    problems: list[str] = []
    if errors.records:
        first = errors.records[0]
        problems.append(f"{len(errors.records)} errors logged, first: {first.name}: {first.getMessage()}")
    by_chat: dict[int, list[Sent]] = defaultdict(list)
    for item in sent:
        by_chat[item.persona.user_id].append(item)
    strangers = sorted(set(bot.api.chats) - set(by_chat))
    if strangers:
        problems.append(f"messages in chats nobody wrote from: {strangers[:5]}")
    for chat_id, wanted in by_chat.items():
        replies = bot.api.chats.get(chat_id, [])
        if len(replies) != len(wanted):
            problems.append(f"chat {chat_id}: {len(wanted)} updates, {len(replies)} replies")
            continue
        for item, reply in zip(wanted, replies, strict=True):
            greeting = GREETING.format(name=item.persona.first_name)
            if item.command == "/start" and not reply.text.startswith(greeting):
                problems.append(f"chat {chat_id}: /start answered with {reply.text[:60]!r}")
            if item.command == "/help" and (reply.text.startswith("Xin chào") or "/help" not in reply.text):
                problems.append(f"chat {chat_id}: /help answered with {reply.text[:60]!r}")
    sends = bot.api.sent_count({"sendMessage"})
    if sends != len(sent):
        problems.append(f"{len(sent)} updates but {sends} sendMessage calls")
    if problems:
        shown = "\n  ".join(problems[:10])
        raise BenchError(f"{bot.name}: {len(problems)} problems\n  {shown}")


# --- the database ----------------------------------------------------------------------------------


async def prepare_database(url: str) -> int:
    """Create the tables (``create_all``); return the first Telegram user id no account uses yet."""
    database = Database(url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.transaction() as session:
            highest = await session.scalar(
                select(func.max(ChannelIdentity.address)).where(ChannelIdentity.channel == "telegram")
            )
    finally:
        await database.dispose()
    return max(FIRST_USER_ID, (highest or 0) + 1)


# --- profiling -------------------------------------------------------------------------------------

GROUPS = ("first contact", "returning user")


def _package(filename: str) -> str:
    """Where a profiled function lives: a third-party package, a project package, the stdlib, C code."""
    if filename.startswith(("~", "<")):
        return "builtins / C"
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].removesuffix(".py")
    project = Path(__file__).resolve().parent.parent
    try:
        relative = path.resolve().relative_to(project)
    except ValueError:
        return "stdlib:asyncio" if path.parent.name == "asyncio" else f"stdlib:{path.stem}"
    return f"dienhinh:{relative.parts[0]}"


def _profile_findings(profile: cProfile.Profile, updates: int, top: int) -> dict[str, Any]:
    stats = pstats.Stats(profile)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    # The bench's own frames are resumed with each update's coroutine; they are not the bot's cost.
    raw = {key: value for key, value in raw.items() if _package(key[0]) != "dienhinh:bench"}
    total = sum(value[2] for value in raw.values())
    by_package: defaultdict[str, float] = defaultdict(float)
    for key, value in raw.items():
        by_package[_package(key[0])] += value[2]

    def label(key: tuple[str, int, str]) -> str:
        filename, line, name = key
        if filename.startswith("~"):
            return name
        return f"{_package(filename)} {Path(filename).name}:{line} {name}"

    def rows(index: int) -> list[dict[str, Any]]:
        ranked = sorted(raw.items(), key=lambda item: item[1][index], reverse=True)[:top]
        return [
            {
                "function": label(key),
                "calls_per_update": round(value[1] / updates, 2),
                "own_us_per_update": round(value[2] / updates * 1e6, 1),
                "cumulative_us_per_update": round(value[3] / updates * 1e6, 1),
            }
            for key, value in ranked
        ]

    return {
        "updates": updates,
        "us_per_update": round(total / updates * 1e6, 1),
        "own_time_by_package": [
            {"package": name, "share": round(tt / total, 3), "us_per_update": round(tt / updates * 1e6, 1)}
            for name, tt in sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:12]
        ],
        "top_cumulative": rows(3),
        "top_own_time": rows(2),
    }


def _kinds(plan: Sequence[Sent]) -> list[str]:
    """Each update's kind: its command, and whether its sender is new to the bot."""
    seen: set[int] = set()
    kinds = []
    for item in plan:
        group = GROUPS[1] if item.persona.user_id in seen else GROUPS[0]
        seen.add(item.persona.user_id)
        kinds.append(f"{item.command} {group}")
    return kinds


async def _per_update_costs(
    database_url: str, warmup: Sequence[Sent], plan: Sequence[Sent], errors: ErrorCounter
) -> dict[str, Any]:
    """Wall time, SQL statements and connection checkouts of each update, by kind (no profiler)."""
    bot = DienhinhBot(database_url)
    engine = bot.app.services.database.engine
    driver = DriverTrips(engine)
    checkouts = [0]
    event.listen(engine.sync_engine.pool, "checkout", lambda *_: checkouts.__setitem__(0, checkouts[0] + 1))
    kinds = _kinds(plan)
    seconds: dict[str, list[float]] = defaultdict(list)
    sql: dict[str, list[int]] = defaultdict(list)
    checked_out: dict[str, list[int]] = defaultdict(list)
    trips: dict[str, list[int]] = defaultdict(list)
    examples: dict[str, list[str]] = {}

    async def feed(bench_bot: BenchBot, updates: Sequence[Update], sent: Sequence[Sent]) -> float:
        process = bench_bot.app.process_update
        clock = time.perf_counter
        started = clock()
        for update, kind in zip(updates, kinds, strict=True):
            driver.clear()
            checkouts[0] = 0
            before = clock()
            await process(update)
            seconds[kind].append(clock() - before)
            sql[kind].append(len(driver.statements))
            trips[kind].append(driver.trips)
            checked_out[kind].append(checkouts[0])
            examples.setdefault(kind, [" ".join(statement.split())[:110] for statement in driver.statements])
        return clock() - started

    with driver:
        run = await measure(bot, warmup, plan, errors, feed=feed)
    total = sum(sum(values) for values in seconds.values())
    return {
        "rate": round(run.rate, 1),
        "kinds": {
            kind: {
                "updates": len(seconds[kind]),
                "mean_us": round(statistics.fmean(seconds[kind]) * 1e6, 1),
                "median_us": round(statistics.median(seconds[kind]) * 1e6, 1),
                "share_of_time": round(sum(seconds[kind]) / total, 3),
                "sql_statements_per_update": round(statistics.fmean(sql[kind]), 2),
                "connection_checkouts_per_update": round(statistics.fmean(checked_out[kind]), 2),
                "driver_trips_per_update": round(statistics.fmean(trips[kind]), 2),
                "sql_of_first_such_update": examples[kind],
            }
            for kind in sorted(seconds)
        },
    }


async def _profiles(
    database_url: str, warmup: Sequence[Sent], plan: Sequence[Sent], errors: ErrorCounter, top: int
) -> dict[str, Any]:
    """cProfile of the updates, one profile for first contacts and one for returning users."""
    profiles = {group: cProfile.Profile() for group in GROUPS}
    counts: Counter[str] = Counter()
    groups = [GROUPS[0] if kind.endswith(GROUPS[0]) else GROUPS[1] for kind in _kinds(plan)]

    async def feed(bench_bot: BenchBot, updates: Sequence[Update], sent: Sequence[Sent]) -> float:
        started = time.perf_counter()
        for update, group in zip(updates, groups, strict=True):
            profile = profiles[group]
            profile.enable()
            await bench_bot.app.process_update(update)
            profile.disable()
            counts[group] += 1
        return time.perf_counter() - started

    await measure(DienhinhBot(database_url), warmup, plan, errors, feed=feed)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    findings: dict[str, Any] = {}
    for group, profile in profiles.items():
        if not counts[group]:
            continue
        path = RESULTS_DIR / f"{NAME}.{group.replace(' ', '_')}.prof"
        profile.dump_stats(path)
        findings[group] = {**_profile_findings(profile, counts[group], top), "pstats_file": str(path)}
    return findings


async def diagnose_dienhinh(
    database_url: str, plans: Callable[[int], tuple[list[Sent], list[Sent]]], errors: ErrorCounter, top: int
) -> dict[str, Any]:
    """Two more dienhinh runs (not in the table), each with people new to the database: one timing each
    update and counting its SQL, one under cProfile."""
    costs = await _per_update_costs(database_url, *plans(0), errors)
    profiles = await _profiles(database_url, *plans(1), errors, top)
    return {
        "per_update": costs,
        "profiles": profiles,
        "notes": [
            "cProfile sees the event loop thread only: aiosqlite runs SQLite in a thread of its own, so the "
            "loop's wait for it shows as select.epoll.poll.",
            "A coroutine counts a 'call' each time it resumes, so calls_per_update of async functions > 1.",
        ],
    }


# --- the benchmark ---------------------------------------------------------------------------------


@dataclass
class Options:
    updates: int = 2000
    users: int = 200
    repeats: int = 3
    chunk: int = 100
    warmup: int = WARMUP_UPDATES
    seed: int = 20240501
    database_url: str | None = None
    profile: bool = False
    profile_top: int = 20
    json_path: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--updates", type=int, default=Options.updates, help="timed updates per run (2000)")
    parser.add_argument("--users", type=int, default=Options.users, help="distinct people sending them (200)")
    parser.add_argument("--repeats", type=int, default=Options.repeats, help="runs per bot; the median counts (3)")
    parser.add_argument(
        "--chunk", type=int, default=Options.chunk, help="updates a bot takes in one turn before the other (100)"
    )
    parser.add_argument("--warmup", type=int, default=Options.warmup, help="untimed updates first (40)")
    parser.add_argument("--seed", type=int, default=Options.seed, help="who sends what")
    parser.add_argument(
        "--database-url",
        default=None,
        help="run dienhinh on this database (e.g. a fresh postgresql+asyncpg://…; tables made with "
        "create_all); default: a fresh SQLite file",
    )
    parser.add_argument("--profile", action="store_true", help="profile dienhinh even when the aim is met")
    parser.add_argument("--profile-top", type=int, default=Options.profile_top, help="functions shown (20)")
    parser.add_argument("--json", type=Path, default=None, dest="json_path", help="where to write the JSON")


def options_from(args: argparse.Namespace) -> Options:
    options = Options(
        updates=args.updates,
        users=args.users,
        repeats=args.repeats,
        chunk=args.chunk,
        warmup=args.warmup,
        seed=args.seed,
        database_url=args.database_url,
        profile=args.profile,
        profile_top=args.profile_top,
        json_path=args.json_path,
    )
    if options.updates < 1 or options.users < 1 or options.repeats < 1 or options.chunk < 1 or options.warmup < 0:
        raise SystemExit("--updates, --users, --repeats and --chunk must be at least 1, --warmup at least 0")
    return options


async def _run(options: Options, database_url: str, log: Callable[[str], None]) -> dict[str, Any]:
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    try:
        first_user_id = await prepare_database(database_url)
        bare, dienhinh = Measured(BareBot.name), Measured(DienhinhBot.name)
        mix: dict[str, int] = {}

        def plans(index: int) -> tuple[list[Sent], list[Sent]]:
            # Everyone in a run is new to the database and to the bot process, as in every other run.
            base = first_user_id + index * USER_ID_STRIDE
            warmup = plan_traffic(options.warmup, WARMUP_USERS, first_user_id=base, seed=options.seed - 1)
            plan = plan_traffic(options.updates, options.users, first_user_id=base + 1000, seed=options.seed)
            return warmup, plan

        ratios: list[float] = []
        for repeat in range(options.repeats):
            warmup, plan = plans(repeat)
            mix = traffic_mix(plan)
            runs = await measure_by_turns([BareBot(), DienhinhBot(database_url)], warmup, plan, errors, options.chunk)
            for measured, run in zip((bare, dienhinh), runs, strict=True):
                measured.runs.append(run)
                log(f"  run {repeat + 1}/{options.repeats} {measured.bot:<9} {run.seconds:7.3f} s  {run.rate:8.0f}/s")
            ratios.append(runs[1].rate / runs[0].rate)
        # Each repeat's ratio (the two bots measured by turns), then the median.
        ratio = statistics.median(ratios)
        result: dict[str, Any] = {
            "benchmark": NAME,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "database": describe_database(database_url),
            "options": {
                "updates": options.updates,
                "users": options.users,
                "repeats": options.repeats,
                "chunk": options.chunk,
                "warmup_updates": options.warmup,
                "help_every": HELP_EVERY,
                "seed": options.seed,
            },
            "traffic": mix,
            "bots": {
                measured.bot: {
                    "runs": [{**asdict(run), "rate": round(run.rate, 1)} for run in measured.runs],
                    "median_seconds": round(measured.median_run.seconds, 4),
                    "median_rate": round(measured.median_rate, 1),
                    "us_per_update": round(1e6 / measured.median_rate, 1),
                }
                for measured in (bare, dienhinh)
            },
            "ratio": round(ratio, 3),
            "aim": AIM,
            "aim_met": ratio >= AIM,
        }
        if options.profile or ratio < AIM:
            log("  diagnosing dienhinh (two more runs: per-update costs, cProfile) …")
            result["diagnosis"] = await diagnose_dienhinh(
                database_url,
                lambda index: plans(options.repeats + index),
                errors,
                options.profile_top,
            )
        return result
    finally:
        logging.getLogger().removeHandler(errors)


async def run(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure both bots; return the results (also written as JSON)."""
    given = common.asyncpg_url(options.database_url) if options.database_url else None
    with common.database_url(given, "dienhinh-bench-", "bench.sqlite3") as url:
        result = await _run(options, url, log)
    common.write_json(result, options.json_path, f"{NAME}.json")
    return result


def table(result: dict[str, Any]) -> str:
    repeats = result["options"]["repeats"]
    header = ("bot", "updates", "seconds", f"updates/s (median of {repeats})", "µs/update")
    rows = [
        (
            bot,
            str(result["options"]["updates"]),
            f"{data['median_seconds']:.3f}",
            f"{data['median_rate']:.0f}",
            f"{data['us_per_update']:.0f}",
        )
        for bot, data in result["bots"].items()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    verdict = "aim met" if result["aim_met"] else "BELOW AIM"
    traffic = result["traffic"]
    lines.append(
        f"ratio dienhinh/bare: {result['ratio']:.2f} (aim ≥ {result['aim']:.2f}: {verdict})  "
        f"[{traffic['start']} /start + {traffic['help']} /help from {traffic['distinct_users']} people, "
        f"{traffic['first_contact_updates']} first contacts; database: {result['database']}]"
    )
    return "\n".join(lines)


def diagnosis_report(diagnosis: dict[str, Any], bare_us: float) -> str:
    costs = diagnosis["per_update"]
    lines = [f"dienhinh per update, by kind (no profiler; bare PTB: {bare_us:.0f} µs for every kind):"]
    for kind, row in costs["kinds"].items():
        lines.append(
            f"  {kind:<22} {row['updates']:5d} updates  mean {row['mean_us']:7.0f} µs  median "
            f"{row['median_us']:7.0f} µs  {row['share_of_time'] * 100:5.1f}% of the time  "
            f"{row['sql_statements_per_update']:.2f} SQL, {row['driver_trips_per_update']:.2f} trips, "
            f"{row['connection_checkouts_per_update']:.2f} checkouts"
        )
        lines += [f"      {statement}" for statement in row["sql_of_first_such_update"]]
    for group, found in diagnosis["profiles"].items():
        lines.append("")
        lines.append(f"cProfile, {group} ({found['updates']} updates, {found['us_per_update']:.0f} µs each profiled):")
        lines.append(
            "  own time by package: "
            + ", ".join(f"{row['package']} {row['share'] * 100:.0f}%" for row in found["own_time_by_package"][:8])
        )
        lines.append("  by cumulative time (µs/update, entries/update):")
        lines += [
            f"    {row['cumulative_us_per_update']:8.1f}  {row['calls_per_update']:6.2f}×  {row['function']}"
            for row in found["top_cumulative"]
        ]
        lines.append("  by own time:")
        lines += [
            f"    {row['own_us_per_update']:8.1f}  {row['calls_per_update']:6.2f}×  {row['function']}"
            for row in found["top_own_time"]
        ]
        lines.append(f"  full profile: python -m pstats {found['pstats_file']}")
    return "\n".join(lines)


def report(result: dict[str, Any]) -> str:
    text = table(result)
    if "diagnosis" in result:
        text += "\n\n" + diagnosis_report(result["diagnosis"], result["bots"][BareBot.name]["us_per_update"])
    return text + f"\n\nresults: {result['json_path']}"


def aims(result: dict[str, Any]) -> list[Aim]:
    """Issue 11 item 3 for ``python -m bench``'s closing table."""
    ratio, aim = result["ratio"], result["aim"]
    bots = result["bots"]
    return [
        Aim(
            figure="/start + /help traffic ÷ bare PTB",
            aim=f"≥ {aim:.2f}",
            measured=f"{ratio:.2f} ({bots[DienhinhBot.name]['median_rate']:.0f}/s vs {bots[BareBot.name]['median_rate']:.0f}/s)",
            met=bool(result["aim_met"]),
            gap=f"{aim - ratio:.2f}",
            database="sqlite" if result["database"].startswith("sqlite") else "postgresql",
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return common.main(argv, add_arguments, options_from, run, report, name=NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
