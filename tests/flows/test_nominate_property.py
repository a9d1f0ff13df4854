"""Random sequences of messages, files and button presses thrown at the nomination conversation.

Whatever people do, the bot never fails, never stores a sent nomination missing a required answer, and
always answers: with a question, a note, a final message, or at least a toast for a button.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.playground.harness import Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import intake
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.db import Database
from storage.models import Base, Nomination

ANSWERS = [
    "1",
    "2",
    "3",
    "7",
    "0",
    "xong",
    "gửi",
    "Gửi",
    "sửa",
    "tiếp tục",
    "có",
    "không",
    "Nam",
    "nữ",
    "tày",
    "hmong",
    "Nguyễn Văn An",
    "1975",
    "1850",
    "năm 1990",
    "25",
    "0912345678",
    "12345",
    "bỏ qua",
    "phuong buoi",
    "văn minh",
    "🎉",
    "",
    "   ",
    "A" * 3000,
    "Tổ trưởng tổ dân phố",
    "Đề cử",
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm và giúp đỡ hộ nghèo vươn lên trong cuộc sống.",
]
COMMANDS = ["/nominate", "/back", "/cancel", "/start", "/help", "/nominate"]

# The way through the form for an individual: scenarios start with a random part of it, so the random
# actions after it land on every question, including the summary and sending.
HAPPY_PATH: list[tuple[str, object]] = [
    ("press", 2),
    ("press", 1),
    ("text", "Nguyễn Văn An"),
    ("press", 1),
    ("text", "1975"),
    ("press", 1),
    ("text", "tày"),
    ("press", 1),
    ("text", "công nhân"),
    ("text", "Tổ trưởng tổ dân phố"),
    ("text", "phuong buoi"),
    ("text", "0912345678"),
    ("press", 1),
    ("press", 1),
    ("text", ANSWERS[-1]),
    ("photo", ""),
    ("press", 1),
    ("press", 1),
    ("press", 1),
]

ACTIONS = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(ANSWERS)),
    st.tuples(st.just("text"), st.text(max_size=40)),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("press"), st.integers(min_value=1, max_value=9)),
    st.tuples(st.just("press_old"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("photo"), st.just("")),
    st.tuples(st.just("document"), st.just("")),
    st.tuples(st.just("sticker"), st.just("")),
)


async def _scenario(actions: list[tuple[str, object]]) -> None:
    directory = tempfile.mkdtemp()
    url = f"sqlite+aiosqlite:///{directory}/p.sqlite3"
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    async with database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), dt.date.today()))
    await database.dispose()
    playground = Playground(lambda: Services.create(Settings(database_url=url, bot_token="", webhook_url="")))
    await playground.start()
    user = playground.person(Persona(4242, "Hà"))
    try:
        await user.send("/nominate")
        for kind, value in actions:
            toasts_before = len(user.toasts)
            if kind == "text":
                replies = await user.send(str(value) or " ")
            elif kind == "command":
                replies = await user.send(str(value))
            elif kind == "press":
                with_buttons = [m for m in user.messages if m.buttons]
                if not with_buttons:
                    continue
                target = with_buttons[-1]
                replies = await user.press(min(int(value), len(target.buttons)), target)
            elif kind == "press_old":
                with_buttons = [m for m in user.messages if m.buttons]
                if not with_buttons:
                    continue
                target = with_buttons[int(value) % len(with_buttons)]
                replies = await user.press(1, target)
            elif kind == "photo":
                replies = await user.send_photo(b"\x89PNG" + bytes([len(user.messages) % 256]))
            elif kind == "document":
                replies = await user.send_document(b"%PDF" + bytes([len(user.messages) % 256]), "giay-khen.pdf")
            else:
                replies = await user.send_sticker()
            answered = bool(replies) or len(user.toasts) > toasts_before
            assert answered, f"no answer to {kind} {value!r}"
            assert not any("hệ thống gặp sự cố" in m.text for m in replies), f"error after {kind} {value!r}"
        async with playground.services.database.transaction() as db:
            sent = (await db.scalars(select(Nomination).where(Nomination.status == "submitted"))).all()
            for nomination in sent:
                assert nomination.code
                assert (
                    intake.missing_steps(nomination, asks_unit=intake.asks_unit(nomination), asks_conference=True) == []
                )
    finally:
        await playground.stop()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(HAPPY_PATH)), st.lists(ACTIONS, min_size=1, max_size=30))
def test_random_conversations_never_break_the_form(prefix, actions):
    asyncio.run(_scenario(HAPPY_PATH[:prefix] + actions))
