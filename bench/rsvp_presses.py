"""1,000 RSVP button presses through the whole Application, beside a bare PTB bot answering the same presses.

Setup (not timed): a fresh database with the seed plan (dates moved ahead, the district conference given a
day and a venue), 1,000 invitations to the 300-seat district conference (700 exemplars, 300 guests and
leaders), and each delegate opening their personal link, which binds it and shows the invitation card.
Timed: every delegate presses "Tham dự" on their card once, in a random order — 210 + 90 seats are taken,
the other 700 go on their pools' waitlists. Each confirmed delegate also receives the check-in QR and the
calendar file, as in production. The bare bot answers the same button presses with one handler that
answers the query, edits the card and sends a confirmation.

The fair floor is the "minimal seat-safe press": bare PTB plus one SQLAlchemy 2 async transaction on the
same engine (``storage.db.Database``, so BEGIN IMMEDIATE on SQLite) that reads the invitation, takes the
conference's row lock on PostgreSQL, counts the pool's accepted seats, sets the invitation's status and
appends an event row, then answers the query, edits the card and sends a confirmation. It presses the
same invitations in the same order, in the same run, on a database of its own prepared the same way.
The two take turns, 50 presses each (``--rsvp-chunk``), the one going first changing every turn: on a
shared machine whose speed drifts by half within a minute, a bot measured after the other measured a
different machine; by turns both see the same one. Aim: dienhinh ≥ 0.5 × the minimal press.

    python -m bench.rsvp_presses [--presses 1000] [--database-url postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy import update as sql_update
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bench import common
from bench.common import Aim, BenchError, DriverTrips
from bot.app import build_application
from bot.playground.transport import OFFLINE_TOKEN, InProcessBotAPI, Persona, SentMessage, UpdateFactory
from bot.services import Services
from bot.settings import Settings
from rules import invitations
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.db import Database
from storage.models import Base, Conference, Invitation, InvitationEvent, SeatPool

NAME = "rsvp_presses"
SECRET = b"bench-link-secret"
FIRST_USER = 500_000
AIM_RATIO = 0.5
# Presses a bot makes in one turn before the other bot's turn (the two bots take turns through the run).
CHUNK = 50
# Trips to the database per press in the last run of each seat-safe bot (``bench.common.DriverTrips``).
TRIPS: dict[str, float] = {}


@dataclass
class Options:
    presses: int = 1000
    repeats: int = 2
    database_url: str | None = None
    seed: int = 7
    chunk: int = CHUNK


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """This bench's options; with ``shared`` (``python -m bench``) --database-url is another bench's."""
    group = parser.add_argument_group(NAME)
    group.add_argument(
        "--presses", type=int, default=1000, help="delegates pressing Tham dự (default 1000; a multiple of 10)"
    )
    group.add_argument("--rsvp-repeats", type=int, default=2, help="repeats of the three bots (median; default 2)")
    group.add_argument(
        "--rsvp-chunk", type=int, default=CHUNK, help=f"presses per turn of the minimal press and dienhinh ({CHUNK})"
    )
    if not shared:
        parser.add_argument("--database-url", default=None)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        presses=args.presses,
        repeats=args.rsvp_repeats,
        database_url=args.database_url,
        chunk=args.rsvp_chunk,
    )


# --- dienhinh -----------------------------------------------------------------------------------------


async def prepare(url: str, presses: int) -> list[int]:
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.run_sync(Base.metadata.create_all)
    now = dt.datetime.now(dt.UTC)
    ids: list[int] = []
    async with database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), now.date()))
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None and conference.rsvp_deadline is not None
        conference.starts_at = conference.rsvp_deadline + dt.timedelta(days=5)
        conference.venue = "Hội trường UBND quận Tây Hồ"
        exemplars = presses * 7 // 10
        for n in range(presses):
            invitation = await invitations.create_invitation(
                db,
                conference=conference,
                pool_code=invitations.EXEMPLAR_POOL if n < exemplars else invitations.GUEST_POOL,
                person=invitations.Person(f"Đại biểu số {n + 1}", birth_year=1960 + n % 40),
                secret=SECRET,
                now=now,
            )
            assert invitation is not None
            ids.append(invitation.id)
    await database.dispose()
    return ids


def _cards(api: InProcessBotAPI, people: Sequence[Persona]) -> list[SentMessage]:
    cards = []
    for person in people:
        card = next((m for m in reversed(api.messages(person.user_id)) if m.buttons), None)
        if card is None:
            raise BenchError(f"delegate {person.user_id} got no invitation card")
        cards.append(card)
    return cards


def expected_accepted(presses: int) -> int:
    """The district conference's pools: 210 exemplar seats and 90 for guests (70% of invitees exemplars)."""
    exemplars = presses * 7 // 10
    return min(exemplars, 210) + min(presses - exemplars, 90)


@dataclass
class Opened:
    """The whole Application after every delegate opened their link and got the invitation card."""

    app: Any
    api: InProcessBotAPI
    factory: UpdateFactory
    people: list[Persona]
    cards: list[SentMessage]

    def presses(self, order: Sequence[int]) -> list[Update]:
        """Each delegate's press on "Tham dự", in ``order``."""
        return [self.factory.press(self.people[n], self.cards[n], _attend_data(self.cards[n])) for n in order]

    async def statuses(self) -> dict[str, int]:
        async with self.app.services.database.transaction() as db:
            rows = (await db.execute(select(Invitation.status, func.count()).group_by(Invitation.status))).all()
        return {str(status): int(count) for status, count in rows}

    async def close(self) -> None:
        await self.app.shutdown()
        await self.app.services.database.dispose()


async def open_cards(url: str, ids: Sequence[int]) -> Opened:
    """The real Application on ``url`` (prepared by :func:`prepare`), each delegate's link opened."""
    settings = Settings(database_url=url, bot_token="", webhook_url="", link_secret=SECRET.decode())
    api = InProcessBotAPI()
    app = build_application(Services.create(settings), request=api)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    factory = UpdateFactory(api, app.bot)
    people = [Persona(FIRST_USER + n, f"Đại biểu {n}") for n in range(len(ids))]
    async with app.services.database.transaction() as db:
        rows = (await db.scalars(select(Invitation).where(Invitation.id.in_(ids)).order_by(Invitation.id))).all()
        tokens = [invitations.link_token(row, SECRET) for row in rows]
    for person, token in zip(people, tokens, strict=True):
        await app.process_update(factory.text(person, f"/start inv_{token}"))
    return Opened(app, api, factory, people, _cards(api, people))


def check_outcome(counts: dict[str, int], presses: int) -> None:
    if counts.get("accepted") != expected_accepted(presses) or sum(counts.values()) != presses:
        raise BenchError(f"unexpected outcome {counts}")


async def _interleaved_run(
    url_minimal: str, url_ours: str, presses: int, order: Sequence[int], chunk: int
) -> tuple[float, float, dict[str, int]]:
    """(minimal seat-safe press seconds, dienhinh seconds, dienhinh's statuses), each bot on a database of its
    own prepared the same way, pressing the same order ``chunk`` presses at a time by turns (the one that
    goes first changes every turn): a machine that slows down for a while slows both, not one."""
    minimal = await MinimalBot.open(url_minimal, await prepare(url_minimal, presses))
    opened = await open_cards(url_ours, await prepare(url_ours, presses))
    api, people = opened.api, opened.people
    ours_updates, minimal_updates = opened.presses(order), minimal.presses(order)
    before = {person.user_id: len(api.chats[person.user_id]) for person in people}
    ours_trips = DriverTrips(opened.app.services.database.engine)
    minimal_trips = DriverTrips(minimal.database.engine)
    timed = {"minimal": 0.0, "dienhinh": 0.0}

    async def turn(name: str, app: Any, updates: Sequence[Update], trips: DriverTrips) -> None:
        with trips:
            started = time.perf_counter()
            for update in updates:
                await app.process_update(update)
            timed[name] += time.perf_counter() - started

    for number, first in enumerate(range(0, presses, chunk)):
        turns = [
            ("minimal", minimal.app, minimal_updates[first : first + chunk], minimal_trips),
            ("dienhinh", opened.app, ours_updates[first : first + chunk], ours_trips),
        ]
        for one in turns if number % 2 == 0 else reversed(turns):
            await turn(*one)
    TRIPS["minimal"] = minimal_trips.trips / presses
    TRIPS["dienhinh"] = ours_trips.trips / presses
    for person in people:
        if len(api.chats[person.user_id]) <= before[person.user_id]:
            raise BenchError(f"delegate {person.user_id}'s press got no answer")
    await minimal.close(presses)
    counts = await opened.statuses()
    await opened.close()
    check_outcome(counts, presses)
    return timed["minimal"], timed["dienhinh"], counts


def _attend_data(card: SentMessage) -> str:
    for button in card.buttons:
        data = str(button.get("callback_data", ""))
        if data.startswith("rsvp1:a:"):
            return data
    raise BenchError(f"no Tham dự button on the card: {card.button_labels}")


# --- bare PTB -----------------------------------------------------------------------------------------


async def _bare_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await query.edit_message_text(f"{query.message.text}\n\n➜ Tham dự")  # type: ignore[attr-defined]
    await context.bot.send_message(query.message.chat.id, "Xin cảm ơn! Chỗ của bạn tại hội nghị đã được xác nhận.")


async def _bare_run(presses: int, order: Sequence[int]) -> float:
    api = InProcessBotAPI()
    app: Application = ApplicationBuilder().token(OFFLINE_TOKEN).request(api).get_updates_request(api).build()
    app.add_handler(CallbackQueryHandler(_bare_pressed, pattern=r"^rsvp1:a:"))
    await app.initialize()
    factory = UpdateFactory(api, app.bot)
    people = [Persona(FIRST_USER + n, f"Đại biểu {n}") for n in range(presses)]
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Tham dự", callback_data="rsvp1:a:1")]])
    for person in people:
        await app.bot.send_message(person.user_id, "Giấy mời dự Hội nghị Điển hình tiên tiến", reply_markup=markup)
    cards = _cards(api, people)
    updates = [factory.press(people[n], cards[n], "rsvp1:a:1") for n in order]
    started = time.perf_counter()
    for update in updates:
        await app.process_update(update)
    elapsed = time.perf_counter() - started
    if sum(len(api.chats[p.user_id]) for p in people) != 2 * presses:
        raise BenchError("the bare bot left a press unanswered")
    await app.shutdown()
    return elapsed


# --- the minimal seat-safe press ---------------------------------------------------------------------


class _MinimalPress:
    """Bare PTB and one seat-safe transaction per press (see the module docstring)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.postgres = database.dialect == "postgresql"

    async def pressed(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None and query.data is not None
        invitation_id = int(query.data.rsplit(":", 1)[1])
        now = dt.datetime.now(dt.UTC)
        async with self.database.transaction() as db:
            conference_id, pool_code, status = (
                await db.execute(
                    select(Invitation.conference_id, Invitation.pool_code, Invitation.status).where(
                        Invitation.id == invitation_id
                    )
                )
            ).one()
            if self.postgres:  # SQLite: BEGIN IMMEDIATE has taken the write lock already
                await db.execute(select(Conference.id).where(Conference.id == conference_id).with_for_update())
            seats, held = (
                await db.execute(
                    select(
                        SeatPool.seats,
                        select(func.count())
                        .select_from(Invitation)
                        .where(
                            Invitation.conference_id == conference_id,
                            Invitation.pool_code == pool_code,
                            Invitation.status == "accepted",
                        )
                        .scalar_subquery(),
                    ).where(SeatPool.conference_id == conference_id, SeatPool.code == pool_code)
                )
            ).one()
            to_status = "accepted" if seats is None or held < seats else "waitlisted"
            await db.execute(
                sql_update(Invitation)
                .where(Invitation.id == invitation_id)
                .values(status=to_status, responded_at=now, updated_at=now)
            )
            await db.execute(
                insert(InvitationEvent).values(
                    invitation_id=invitation_id, from_status=status, to_status=to_status, at=now
                )
            )
        await query.answer()
        await query.edit_message_text(f"{query.message.text}\n\n➜ Tham dự")  # type: ignore[attr-defined]
        await context.bot.send_message(query.message.chat.id, "Xin cảm ơn! Chỗ của bạn tại hội nghị đã được xác nhận.")


@dataclass
class MinimalBot:
    """The minimal seat-safe press as a bot: bare PTB with :class:`_MinimalPress`, a card sent to each delegate."""

    app: Application
    database: Database
    factory: UpdateFactory
    people: list[Persona]
    ids: Sequence[int]
    cards: list[SentMessage]

    @classmethod
    async def open(cls, url: str, ids: Sequence[int]) -> MinimalBot:
        database = Database(url)
        api = InProcessBotAPI()
        app: Application = ApplicationBuilder().token(OFFLINE_TOKEN).request(api).get_updates_request(api).build()
        app.add_handler(CallbackQueryHandler(_MinimalPress(database).pressed, pattern=r"^rsvp1:a:"))
        await app.initialize()
        people = [Persona(FIRST_USER + n, f"Đại biểu {n}") for n in range(len(ids))]
        for person, invitation_id in zip(people, ids, strict=True):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("Tham dự", callback_data=f"rsvp1:a:{invitation_id}")]])
            await app.bot.send_message(person.user_id, "Giấy mời dự Hội nghị Điển hình tiên tiến", reply_markup=markup)
        return cls(app, database, UpdateFactory(api, app.bot), people, ids, _cards(api, people))

    def presses(self, order: Sequence[int]) -> list[Update]:
        return [self.factory.press(self.people[n], self.cards[n], f"rsvp1:a:{self.ids[n]}") for n in order]

    async def close(self, presses: int) -> None:
        await self.app.shutdown()
        async with self.database.transaction() as db:
            counts = dict((await db.execute(select(Invitation.status, func.count()).group_by(Invitation.status))).all())
        await self.database.dispose()
        if counts.get("accepted") != expected_accepted(presses):
            raise BenchError(f"the minimal press gave an unexpected outcome {counts}")


# --- running and reporting ----------------------------------------------------------------------------


async def run(options: Options, log: Any = print) -> dict[str, Any]:
    if options.presses <= 0 or options.presses % 10:
        raise BenchError("--presses must be a positive multiple of 10 (70% exemplars, 30% guests)")
    if options.chunk <= 0:
        raise BenchError("--rsvp-chunk must be a positive number of presses")
    # Two databases on the PostgreSQL server, or two fresh SQLite files (a SQLite URL given is not shared).
    server = options.database_url if options.database_url and "sqlite" not in options.database_url else None
    order = list(range(options.presses))
    random.Random(options.seed).shuffle(order)
    bare, minimal, ours = [], [], []
    counts: dict[str, int] = {}
    for repeat in range(options.repeats):
        bare.append(await _bare_run(options.presses, order))
        log(f"  run {repeat + 1}/{options.repeats} bare PTB  {bare[-1]:.3f} s  {options.presses / bare[-1]:8.0f}/s")
        async with (
            common.fresh_database(server, "rsvp_minimal") as url_minimal,
            common.fresh_database(server, "rsvp") as url_ours,
        ):
            floor, elapsed, counts = await _interleaved_run(
                url_minimal, url_ours, options.presses, order, options.chunk
            )
            minimal.append(floor)
            ours.append(elapsed)
            log(f"  run {repeat + 1}/{options.repeats} minimal   {floor:.3f} s  {options.presses / floor:8.0f}/s")
            log(f"  run {repeat + 1}/{options.repeats} dienhinh  {elapsed:.3f} s  {options.presses / elapsed:8.0f}/s")
    result: dict[str, Any] = {
        "benchmark": NAME,
        "presses": options.presses,
        "database": "postgresql" if server else "sqlite",
        "chunk": options.chunk,
        "bare_seconds": statistics.median(bare),
        "minimal_seconds": statistics.median(minimal),
        "dienhinh_seconds": statistics.median(ours),
        "bare_per_second": options.presses / statistics.median(bare),
        "minimal_per_second": options.presses / statistics.median(minimal),
        "dienhinh_per_second": options.presses / statistics.median(ours),
        # Each repeat's dienhinh ÷ minimal (measured one after the other on the same database), then the median.
        "ratio_to_minimal": statistics.median(m / o for m, o in zip(minimal, ours, strict=True)),
        "aim_ratio_to_minimal": AIM_RATIO,
        "outcome": counts,
        "driver_trips_per_press": {bot: round(trips, 2) for bot, trips in TRIPS.items()},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "date": dt.datetime.now(dt.UTC).isoformat(),
    }
    result["ratio"] = result["dienhinh_per_second"] / result["bare_per_second"]
    result["aim_met"] = result["ratio_to_minimal"] >= AIM_RATIO
    common.write_json(result, None, f"{NAME}.{result['database']}.json")
    return result


def report(result: dict[str, Any]) -> str:
    rows = [
        ("bare PTB", result["bare_seconds"], result["bare_per_second"]),
        ("minimal", result["minimal_seconds"], result["minimal_per_second"]),
        ("dienhinh", result["dienhinh_seconds"], result["dienhinh_per_second"]),
    ]
    lines = ["bot       presses  seconds  presses/s (median)", "--------  -------  -------  ------------------"]
    lines += [f"{name:8}  {result['presses']:7}  {seconds:7.3f}  {rate:18.0f}" for name, seconds, rate in rows]
    lines.append(
        f"ratio dienhinh/bare: {result['ratio']:.2f}  [database: {result['database']}; outcome: {result['outcome']}]"
    )
    trips = result.get("driver_trips_per_press", {})
    if trips:
        lines.append("driver trips per press: " + ", ".join(f"{bot} {count:.2f}" for bot, count in trips.items()))
    lines.append(aim_line(result))
    return "\n".join(lines)


def aim_line(result: dict[str, Any]) -> str:
    ratio, aim = result["ratio_to_minimal"], result["aim_ratio_to_minimal"]
    verdict = "ok" if ratio >= aim else f"gap {aim - ratio:.2f}"
    return f"aim dienhinh ≥ {aim:.2f} × minimal seat-safe press: {ratio:.2f} — {verdict} [{result['database']}]"


def aims(result: dict[str, Any]) -> list[Aim]:
    """Issue 11 item 1 for ``python -m bench``'s closing table."""
    ratio, aim = result["ratio_to_minimal"], result["aim_ratio_to_minimal"]
    return [
        Aim(
            figure="RSVP presses ÷ minimal seat-safe press",
            aim=f"≥ {aim:.2f}",
            measured=f"{ratio:.2f} ({result['dienhinh_per_second']:.0f}/s vs {result['minimal_per_second']:.0f}/s)",
            met=ratio >= aim,
            gap=f"{aim - ratio:.2f}",
            database=result["database"],
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    return common.main(
        argv, add_arguments, options_from, run, report, name=NAME, description=__doc__, ok=lambda r: r["aim_met"]
    )


if __name__ == "__main__":
    raise SystemExit(main())
