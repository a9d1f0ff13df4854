"""1,000 RSVP button presses through the whole Application, beside a bare PTB bot answering the same presses.

Setup (not timed): a fresh database with the seed plan (dates moved ahead, the district conference given a
day and a venue), 1,000 invitations to the 300-seat district conference (700 exemplars, 300 guests and
leaders), and each delegate opening their personal link, which binds it and shows the invitation card.
Timed: every delegate presses "Tham dự" on their card once, in a random order — 210 + 90 seats are taken,
the other 700 go on their pools' waitlists. Each confirmed delegate also receives the check-in QR and the
calendar file, as in production. The bare bot answers the same button presses with one handler that
answers the query, edits the card and sends a confirmation.

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

from sqlalchemy import func, select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, ApplicationBuilder, CallbackQueryHandler, ContextTypes

from bench import common
from bench.common import BenchError
from bot.app import build_application
from bot.playground.transport import OFFLINE_TOKEN, InProcessBotAPI, Persona, SentMessage, UpdateFactory
from bot.services import Services
from bot.settings import Settings
from rules import invitations
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.db import Database
from storage.models import Base, Conference, Invitation

NAME = "rsvp_presses"
SECRET = b"bench-link-secret"
FIRST_USER = 500_000


@dataclass
class Options:
    presses: int = 1000
    repeats: int = 3
    database_url: str | None = None
    seed: int = 7


def add_arguments(parser: argparse.ArgumentParser, *, shared: bool = False) -> None:
    """This bench's options; with ``shared`` (``python -m bench``) --database-url is another bench's."""
    group = parser.add_argument_group(NAME)
    group.add_argument("--presses", type=int, default=1000, help="delegates pressing Tham dự (default 1000)")
    group.add_argument(
        "--rsvp-repeats", type=int, default=3, help="bare-bot repeats (median); dienhinh runs once per repeat"
    )
    if not shared:
        parser.add_argument("--database-url", default=None)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        presses=args.presses,
        repeats=args.rsvp_repeats,
        database_url=args.database_url,
    )


# --- dienhinh -----------------------------------------------------------------------------------------


async def _prepare(url: str, presses: int) -> list[int]:
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


async def _dienhinh_run(url: str, presses: int, order: Sequence[int]) -> tuple[float, dict[str, int]]:
    ids = await _prepare(url, presses)
    settings = Settings(database_url=url, bot_token="", webhook_url="", link_secret=SECRET.decode())
    api = InProcessBotAPI()
    app = build_application(Services.create(settings), request=api)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    factory = UpdateFactory(api, app.bot)
    people = [Persona(FIRST_USER + n, f"Đại biểu {n}") for n in range(presses)]
    async with app.services.database.transaction() as db:
        rows = (await db.scalars(select(Invitation).where(Invitation.id.in_(ids)).order_by(Invitation.id))).all()
        tokens = [invitations.link_token(row, SECRET) for row in rows]
    for person, token in zip(people, tokens, strict=True):
        await app.process_update(factory.text(person, f"/start inv_{token}"))
    cards = _cards(api, people)
    updates = [factory.press(people[n], cards[n], _attend_data(cards[n])) for n in order]
    before = {person.user_id: len(api.chats[person.user_id]) for person in people}
    started = time.perf_counter()
    for update in updates:
        await app.process_update(update)
    elapsed = time.perf_counter() - started
    for person in people:
        if len(api.chats[person.user_id]) <= before[person.user_id]:
            raise BenchError(f"delegate {person.user_id}'s press got no answer")
    async with app.services.database.transaction() as db:
        counts = dict((await db.execute(select(Invitation.status, func.count()).group_by(Invitation.status))).all())
    await app.shutdown()
    await app.services.database.dispose()
    if counts.get("accepted") != 300 * presses // 1000 or sum(counts.values()) != presses:
        raise BenchError(f"unexpected outcome {counts}")
    return elapsed, counts


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


# --- running and reporting ----------------------------------------------------------------------------


async def run(options: Options, log: Any = print) -> dict[str, Any]:
    if options.presses % 1000:
        raise BenchError("--presses must be a multiple of 1000 (the 300 seats scale with it)")
    order = list(range(options.presses))
    random.Random(options.seed).shuffle(order)
    bare, ours = [], []
    counts: dict[str, int] = {}
    with common.database_url(options.database_url, "dienhinh-rsvp-bench-", "rsvp.sqlite3") as url:
        for repeat in range(options.repeats):
            bare.append(await _bare_run(options.presses, order))
            log(f"  run {repeat + 1}/{options.repeats} bare PTB  {bare[-1]:.3f} s  {options.presses / bare[-1]:8.0f}/s")
            elapsed, counts = await _dienhinh_run(url, options.presses, order)
            ours.append(elapsed)
            log(f"  run {repeat + 1}/{options.repeats} dienhinh  {elapsed:.3f} s  {options.presses / elapsed:8.0f}/s")
    result: dict[str, Any] = {
        "benchmark": NAME,
        "presses": options.presses,
        "database": "postgresql" if options.database_url else "sqlite",
        "bare_seconds": statistics.median(bare),
        "dienhinh_seconds": statistics.median(ours),
        "bare_per_second": options.presses / statistics.median(bare),
        "dienhinh_per_second": options.presses / statistics.median(ours),
        "outcome": counts,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "date": dt.datetime.now(dt.UTC).isoformat(),
    }
    result["ratio"] = result["dienhinh_per_second"] / result["bare_per_second"]
    common.write_json(result, None, f"{NAME}.{result['database']}.json")
    return result


def report(result: dict[str, Any]) -> str:
    rows = [
        ("bare PTB", result["bare_seconds"], result["bare_per_second"]),
        ("dienhinh", result["dienhinh_seconds"], result["dienhinh_per_second"]),
    ]
    lines = ["bot       presses  seconds  presses/s (median)", "--------  -------  -------  ------------------"]
    lines += [f"{name:8}  {result['presses']:7}  {seconds:7.3f}  {rate:18.0f}" for name, seconds, rate in rows]
    lines.append(
        f"ratio dienhinh/bare: {result['ratio']:.2f}  [database: {result['database']}; outcome: {result['outcome']}]"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    return common.main(argv, add_arguments, options_from, run, report, name=NAME, description=__doc__)


if __name__ == "__main__":
    raise SystemExit(main())
