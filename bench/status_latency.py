"""/status latency with 100,000 nominations and 50,000 invitations, through the whole Application.

A fresh database (a SQLite file in a temporary folder, or a new database on the PostgreSQL server given by
``--database-url``, dropped afterwards) gets the tables (``create_all``), the seed plan, and then, by bulk
INSERTs, ``--nominations`` nominations (70% for the district conference, 30% for the grassroots one; from
the plan's units but five, which stay at zero; statuses and attributes drawn with a fixed seed) and
``--invitations`` invitations (60% / 40%; about a fifth accepted, far more than the seats, so every warning
and every balance figure has work to do). Then ``ANALYZE`` (``VACUUM ANALYZE`` on PostgreSQL), as the
autovacuum of a live database would have done.

Timed, after a warm-up: ``--calls`` times each of ``/status`` sent by an organiser through the in-process
Bot API (``bot/playground/harness.py``: update → handlers → database → text → chart → sendMessage/sendPhoto)
with the chart drawn every time (the pictures kept are forgotten before each call), ``/status`` with the
picture kept as in production (the figures did not change, so it is not drawn again), ``/status district``
(every balance figure, chart drawn) and ``/status units`` (the first page of units); then the bare
``rules.status`` computation of both conferences in one transaction, and the chart drawn alone. Each call's
replies are checked (the conference's text, the warning, a PNG; the page of units). Median and p95 in
milliseconds, and the SQL statements per call.

The event loop's lag is measured during every call: a ticker task wakes every 2 ms and records how late it
woke (the worst delay during each call; the same measured first over idle windows shows what the busy
machine adds), and the longest single step the loop ran, in the loop thread's CPU time. Aims: each median
under 100 ms, and no call delaying the loop more than 50 ms (``aims``; ``python -m bench`` gathers them).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import make_url

from bench import common
from bench.common import Aim, BenchError, LoopLag, describe_database, machine
from bot.channels.runtime import settle_start_up_objects
from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import charts
from rules import status as status_rules
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.refdata import reference
from rules.text import fold
from storage.db import Database
from storage.models import Account, Base, Campaign, Conference, Invitation, Nomination, UnitAllowance

NAME = "status_latency"
AIM_MS = 100.0  # median /status through the Application
ORGANISER_ID = 9001
NOW = dt.datetime(
    2020, 5, 12, 3, 0, tzinfo=dt.UTC
)  # 10:00 on 12/5/2020 in Hà Nội: district nominations close in 3 days
CHUNK = 5000
WARMUP_CALLS = 3
# The event loop's lag with nothing to do, in as many windows as calls, before the calls: what the machine adds.
IDLE_WINDOW_SECONDS = 0.1
AIM_LAG_MS = 50.0  # the worst event loop delay during one /status
UNITS_AT_ZERO = 5
NOMINATION_STATUSES = {
    "submitted": 25,
    "approved": 30,
    "rejected": 10,
    "changes_requested": 5,
    "duplicate": 3,
    "withdrawn": 2,
    "draft": 20,
    "expired": 5,
}
INVITATION_STATUSES = {
    "accepted": 20,
    "pending": 35,
    "declined": 15,
    "waitlisted": 20,
    "proposed": 2,
    "substituted": 3,
    "cancelled": 5,
}
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ")
MIDDLE = ("Văn", "Thị", "Đức", "Minh", "Thu", "Quang", "Ngọc")
GIVEN = ("An", "Bình", "Hoa", "Lan", "Minh", "Nam", "Hương", "Tuấn", "Thảo", "Dũng", "Mai", "Sơn")


@dataclass
class Options:
    nominations: int = 100_000
    invitations: int = 50_000
    calls: int = 50
    seed: int = 20200512
    database_url: str | None = None
    json_path: Path | None = None


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """This bench's options; with ``shared`` (``python -m bench``) --database-url is the other bench's."""
    parser.add_argument("--status-nominations", type=int, default=Options.nominations, help="nominations (100000)")
    parser.add_argument("--status-invitations", type=int, default=Options.invitations, help="invitations (50000)")
    parser.add_argument("--status-calls", type=int, default=Options.calls, help="timed /status calls (50)")
    parser.add_argument("--status-seed", type=int, default=Options.seed, help="what the rows hold")
    parser.add_argument("--status-json", type=Path, default=None, help="where to write this bench's JSON")
    if not shared:
        parser.add_argument(
            "--database-url",
            default=None,
            help="a PostgreSQL server (postgresql+asyncpg://…): a fresh database is made on it and dropped "
            "afterwards; default: a fresh SQLite file",
        )


def options_from(args: argparse.Namespace) -> Options:
    options = Options(
        nominations=args.status_nominations,
        invitations=args.status_invitations,
        calls=args.status_calls,
        seed=args.status_seed,
        database_url=args.database_url,
        json_path=args.status_json,
    )
    if options.nominations < 1 or options.invitations < 1 or options.calls < 1:
        raise SystemExit("--status-nominations, --status-invitations and --status-calls must be at least 1")
    return options


# --- filling the database --------------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, int], count: int) -> list[str]:
    return rng.choices(list(weights), weights=list(weights.values()), k=count)


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


@dataclass
class Seeded:
    campaign_id: int
    conferences: dict[str, int]
    unit_ids: list[int]
    nominator_ids: list[int]


async def _seed(database: Database) -> Seeded:
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        campaign_id = await db.scalar(select(Campaign.id).where(Campaign.code == "tay-ho-2020"))
        conferences = {code: cid for cid, code in (await db.execute(select(Conference.id, Conference.code))).all()}
        unit_ids = list(
            await db.scalars(
                select(UnitAllowance.unit_id)
                .where(UnitAllowance.conference_id == conferences["district"])
                .order_by(UnitAllowance.id)
            )
        )
        accounts = [{"display_name": f"Bench đầu mối {k}", "role": "focal_point"} for k in range(500)]
        await db.execute(insert(Account), accounts)
        nominator_ids = list(await db.scalars(select(Account.id).where(Account.display_name.like("Bench đầu mối %"))))
    assert campaign_id is not None
    return Seeded(campaign_id, conferences, unit_ids, nominator_ids)


def _nomination_rows(options: Options, seeded: Seeded, rng: random.Random) -> list[dict[str, Any]]:
    data = reference()
    sending = seeded.unit_ids[UNITS_AT_ZERO:]  # the first units send nothing: they are the "units at zero"
    statuses = _weighted(rng, NOMINATION_STATUSES, options.nominations)
    rows = []
    for index, status in enumerate(statuses):
        name = _name(rng)
        sent = status not in ("draft", "expired")
        focal = rng.random() < 0.6
        when = NOW - dt.timedelta(minutes=rng.randrange(60 * 24 * 90))
        rows.append(
            {
                "code": f"DH-2020-{index + 1:06d}" if sent else None,
                "campaign_id": seeded.campaign_id,
                "conference_id": seeded.conferences["district" if rng.random() < 0.7 else "grassroots"],
                "nominator_id": rng.choice(seeded.nominator_ids),
                "source": "focal_point" if focal else "citizen",
                "unit_id": rng.choice(sending) if focal or rng.random() < 0.9 else None,
                "status": status,
                "kind": "individual",
                "nominee_name": name,
                "nominee_fold": fold(name),
                "gender": rng.choice(("nam", "nu")),
                "birth_year": rng.randrange(1950, 2005),
                "ethnicity": rng.choice(data.ethnic_groups.entries[:8]).code,
                "religion": rng.choice(data.religions.entries).code,
                "occupation_group": rng.choice(data.occupation_groups.entries).code,
                "achievements": "Gương mẫu, tích cực trong phong trào thi đua.",
                "draft_editing": False,
                "submitted_at": when if sent else None,
                "decided_at": when if status in ("approved", "rejected", "duplicate") else None,
                "created_at": when,
                "updated_at": when,
            }
        )
    return rows


def _invitation_rows(options: Options, seeded: Seeded, rng: random.Random) -> list[dict[str, Any]]:
    data = reference()
    statuses = _weighted(rng, INVITATION_STATUSES, options.invitations)
    rows = []
    for index, status in enumerate(statuses):
        name = _name(rng)
        when = NOW - dt.timedelta(minutes=rng.randrange(60 * 24 * 30))
        rows.append(
            {
                "conference_id": seeded.conferences["district" if rng.random() < 0.6 else "grassroots"],
                "pool_code": "exemplar" if rng.random() < 0.7 else "guest_leader",
                "import_key": f"bench:{index}",
                "full_name": name,
                "name_fold": fold(name),
                "gender": rng.choice(("nam", "nu", None)),
                "birth_year": rng.choice((None, *range(1950, 2005))),
                "ethnicity": rng.choice((None, *(entry.code for entry in data.ethnic_groups.entries[:8]))),
                "religion": rng.choice((None, *data.religions.codes())),
                "occupation_group": rng.choice((None, *data.occupation_groups.codes())),
                "economic_sector": rng.choice((None, *data.economic_sectors.codes())),
                "sector": rng.choice((None, "giao_duc", "y_te", "van_hoa", "kinh_te")),
                "unit_id": rng.choice(seeded.unit_ids),
                "status": status,
                "waitlisted_at": when if status == "waitlisted" else None,
                "responded_at": when if status in ("accepted", "declined", "waitlisted") else None,
                "checked_in_at": when if status == "accepted" and rng.random() < 0.3 else None,
                "created_at": when,
                "updated_at": when,
            }
        )
    return rows


async def _bulk(database: Database, table: Any, rows: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        async with database.transaction() as db:
            await db.execute(insert(table), list(rows[start : start + CHUNK]))


async def _analyse(database: Database) -> None:
    async with database.engine.connect() as connection:
        if database.dialect == "postgresql":
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("VACUUM ANALYZE"))
        else:
            await connection.execute(text("ANALYZE"))
            await connection.commit()


async def fill(url: str, options: Options, log: Callable[[str], None]) -> dict[str, Any]:
    """Create and fill the database; returns what it holds and how long the filling took."""
    database = Database(url)
    rng = random.Random(options.seed)
    started = time.perf_counter()
    try:
        seeded = await _seed(database)
        nominations = _nomination_rows(options, seeded, rng)
        invitations = _invitation_rows(options, seeded, rng)
        await _bulk(database, Nomination.__table__, nominations)
        await _bulk(database, Invitation.__table__, invitations)
        await _analyse(database)
    finally:
        await database.dispose()
    seconds = time.perf_counter() - started
    log(f"  filled in {seconds:.1f} s: {len(nominations)} nominations, {len(invitations)} invitations")
    return {
        "nominations": len(nominations),
        "invitations": len(invitations),
        "units": len(seeded.unit_ids),
        "units_at_zero": UNITS_AT_ZERO,
        "fill_seconds": round(seconds, 1),
    }


# --- measuring -------------------------------------------------------------------------------------


def summary(samples: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {
        "calls": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "min_ms": round(ordered[0] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _check(replies: Sequence[Any], *, overview: bool = True) -> None:
    methods = [reply.method for reply in replies]
    if methods.count("sendPhoto") != 1 or methods[-1] != "sendPhoto":
        raise BenchError(f"/status answered with {methods}, not texts and one chart")
    texts = [reply.text for reply in replies if reply.method == "sendMessage"]
    # Plain /status shows the conference current now (the district one on 12/5/2020) and names the others.
    if sum("📊" in text for text in texts) != 1 or "(mã: district)" not in texts[0]:
        raise BenchError(f"/status did not show the current conference: {[text[:60] for text in texts]}")
    if overview and "Chỉ còn 3 ngày là hết hạn gửi đề cử" not in "".join(texts):
        raise BenchError("/status did not warn about the units at zero three days before the deadline")
    photo = replies[-1].file_bytes or b""
    if not photo.startswith(charts.PNG_SIGNATURE):
        raise BenchError("the chart is not a PNG")


def _check_units(replies: Sequence[Any]) -> None:
    methods = [reply.method for reply in replies]
    text = replies[0].text if methods == ["sendMessage"] else ""
    if "🏢" not in text or "(mã: district)" not in text:
        raise BenchError(f"/status units answered with {methods}: {text[:80]!r}, not the first page of units")


async def _time_calls(
    calls: int,
    call: Callable[[], Awaitable[Any]],
    before: Callable[[], None] = lambda: None,
    lag: LoopLag | None = None,
) -> tuple[list[float], list[tuple[float, float]]]:
    """(each call's duration, (the worst event loop delay, the longest loop step) during each call), in
    seconds."""
    samples, lags = [], []
    for _ in range(calls):
        before()
        if lag is not None:
            lag.take()
            lag.take_step()
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
        if lag is not None:
            lags.append((lag.take(), lag.take_step()))
    return samples, lags


def _lag_summary(lags: Sequence[tuple[float, float]]) -> dict[str, float]:
    delays, steps = [delay for delay, _ in lags], [step for _, step in lags]
    return {
        "median_ms": round(statistics.median(delays) * 1000, 2),
        "max_ms": round(max(delays) * 1000, 2),
        "longest_step_cpu_ms": round(max(steps) * 1000, 2),
    }


async def measure(url: str, options: Options) -> dict[str, Any]:
    settings = Settings(database_url=url, organiser_ids=(ORGANISER_ID,), bot_token="", webhook_url="")
    playground = Playground(lambda: Services.create(settings, clock=lambda: NOW))
    await playground.start()
    gc.collect()  # what filling the database left behind
    settle_start_up_objects()  # as ``dienhinh run`` does once it has started
    statements: list[str] = []
    engine = playground.services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", lambda _c, _k, statement, *_: statements.append(statement))
    organiser: ChatUser = playground.person(Persona(ORGANISER_ID, "Hoà", "Phạm Thu"))
    try:

        async def status_call() -> None:
            _check(await organiser.send("/status"))

        async def district_call() -> None:
            _check(await organiser.send("/status district"), overview=False)

        async def units_call() -> None:
            _check_units(await organiser.send("/status units"))

        for call in (status_call, district_call, units_call):
            for _ in range(WARMUP_CALLS):
                await call()
        async with LoopLag() as lag:
            idle_lag: list[tuple[float, float]] = []
            for _ in range(options.calls):
                await asyncio.sleep(IDLE_WINDOW_SECONDS)
                idle_lag.append((lag.take(), lag.take_step()))
            statements.clear()
            cold, cold_lag = await _time_calls(options.calls, status_call, charts.forget, lag)
            sql_per_call = len(statements) / options.calls
            warm, warm_lag = await _time_calls(options.calls, status_call, lag=lag)
            district, district_lag = await _time_calls(options.calls, district_call, charts.forget, lag)
            units, units_lag = await _time_calls(options.calls, units_call, lag=lag)

        database = playground.services.database
        today = NOW.astimezone(settings.tz).date()

        async def bare_call() -> None:
            async with database.transaction() as db:
                conferences = await status_rules.open_conferences(db)
                await status_rules.statuses(db, conferences, today=today)

        bare, _ = await _time_calls(options.calls, bare_call)
        async with database.transaction() as db:
            found = await status_rules.statuses(db, await status_rules.open_conferences(db), today=today)
        figures = next(status for status in found if status.code == "district")
        data = charts.chart_data(figures, playground.services.translators.default)

        async def render_call() -> None:
            charts.draw(data)

        drawing, _ = await _time_calls(options.calls, render_call)
    finally:
        await playground.stop()
    return {
        "status_through_application_chart_drawn": summary(cold),
        "status_through_application_chart_cached": summary(warm),
        "status_district_chart_drawn": summary(district),
        "status_units": summary(units),
        "rules_status_both_conferences": summary(bare),
        "chart_drawing_alone": summary(drawing),
        "sql_statements_per_status_call": round(sql_per_call, 1),
        "event_loop_lag": {
            "idle": _lag_summary(idle_lag),
            "status_chart_drawn": _lag_summary(cold_lag),
            "status_chart_cached": _lag_summary(warm_lag),
            "status_district": _lag_summary(district_lag),
            "status_units": _lag_summary(units_lag),
            "max_ms": round(max(delay for delay, _ in (*cold_lag, *warm_lag, *district_lag, *units_lag)) * 1000, 2),
            "longest_step_cpu_ms": round(
                max(step for _, step in (*cold_lag, *warm_lag, *district_lag, *units_lag)) * 1000, 2
            ),
        },
        "district_figures": {
            "received": figures.nominations.received,
            "accepted": figures.accepted,
            "units_at_zero": len(figures.nominations.units_at_zero),
            "warnings": [warning.kind.value for warning in figures.warnings],
        },
    }


# --- the benchmark ---------------------------------------------------------------------------------


async def run(options: Options, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fill a fresh database, time /status; return the results (also written as JSON)."""
    async with common.fresh_database(options.database_url, "status") as url:
        contents = await fill(url, options, log)
        figures = await measure(url, options)
    backend = make_url(url).get_backend_name()
    result = {
        "benchmark": NAME,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "database": describe_database(url),
        "backend": backend,
        "options": {"nominations": options.nominations, "invitations": options.invitations, "calls": options.calls},
        "contents": contents,
        **figures,
        "aim_median_ms": AIM_MS,
        "aim_lag_ms": AIM_LAG_MS,
    }
    result["aim_met"] = all(aim.met for aim in aims(result))
    common.write_json(result, options.json_path, f"{NAME}.{backend}.json")
    return result


TIMED = (
    ("/status, chart drawn", "status_through_application_chart_drawn"),
    ("/status, chart kept", "status_through_application_chart_cached"),
    ("/status district, chart drawn", "status_district_chart_drawn"),
    ("/status units", "status_units"),
)


def aims(result: dict[str, Any]) -> list[Aim]:
    """Each /status median under 100 ms, and the event loop never held more than 50 ms by one of them."""
    backend = result.get("backend", "")
    nominations = result["contents"]["nominations"]
    found = []
    for label, key in TIMED:
        median = result[key]["median_ms"]
        found.append(
            Aim(
                f"{label} median ({nominations:,} nominations)",
                f"< {AIM_MS:.0f} ms",
                f"{median:.1f} ms",
                median < AIM_MS,
                f"{median - AIM_MS:.1f} ms",
                backend,
            )
        )
    lag = result["event_loop_lag"]
    found.append(
        Aim(
            "event loop lag, worst during one /status",
            f"≤ {AIM_LAG_MS:.0f} ms",
            f"{lag['max_ms']:.1f} ms (idle {lag['idle']['max_ms']:.1f} ms; longest step "
            f"{lag['longest_step_cpu_ms']:.1f} ms CPU)",
            lag["max_ms"] <= AIM_LAG_MS,
            f"{lag['max_ms'] - AIM_LAG_MS:.1f} ms",
            backend,
        )
    )
    return found


def report(result: dict[str, Any]) -> str:
    rows = [
        *((label + " (Application)", result[key]) for label, key in TIMED),
        ("rules.status, both conferences", result["rules_status_both_conferences"]),
        ("the chart alone (Pillow)", result["chart_drawing_alone"]),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{'':<{width}}  {'median ms':>9}  {'p95 ms':>7}  {'max ms':>7}"]
    lines += [
        f"{label:<{width}}  {row['median_ms']:9.1f}  {row['p95_ms']:7.1f}  {row['max_ms']:7.1f}" for label, row in rows
    ]
    lag = result["event_loop_lag"]
    lines.append(
        "event loop lag, worst during one call (median / max ms): "
        + ", ".join(
            f"{label} {lag[key]['median_ms']:.1f} / {lag[key]['max_ms']:.1f}"
            for label, key in (
                ("drawn", "status_chart_drawn"),
                ("kept", "status_chart_cached"),
                ("district", "status_district"),
                ("units", "status_units"),
            )
        )
        + f"; idle {lag['idle']['median_ms']:.1f} / {lag['idle']['max_ms']:.1f}; the longest loop step "
        f"{lag['longest_step_cpu_ms']:.1f} ms CPU"
    )
    contents = result["contents"]
    lines.append(
        f"{result['sql_statements_per_status_call']} SQL statements per /status; {contents['nominations']} "
        f"nominations, {contents['invitations']} invitations (filled in {contents['fill_seconds']} s); "
        f"database: {result['database']}"
    )
    lines += [f"aim {aim.figure} {aim.aim}: {aim.measured} — {aim.verdict()}" for aim in aims(result)]
    return "\n".join(lines) + f"\n\nresults: {result['json_path']}"


def main(argv: Sequence[str] | None = None) -> int:
    return common.main(argv, add_arguments, options_from, run, report, name=NAME, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    raise SystemExit(main())
