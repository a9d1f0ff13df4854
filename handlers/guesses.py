"""The one way a handler that looks up a personal link or a typed code guards against guessing.

Before the lookup: ``if await guesses.cooling_down(update, context): return`` (the person has been told
when to try again). After it: ``guesses.record(update, context, GuessKind.…, missed=…)`` with ``missed``
true when the token or code matched nothing or has expired. The rule is in rules.guesses; the token or
code itself is never passed on, let alone logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from telegram import Update

from bot.context import BotContext
from bot.i18n import Translator
from rules.guesses import GuessKind

logger = logging.getLogger(__name__)


def _key(update: Update, context: BotContext) -> tuple[str, int | None]:
    # Per person: their chats share one budget, and one member of a group cannot use up another's.
    if context.account is not None:
        return ("account", context.account.id)
    chat = update.effective_chat
    return ("chat", chat.id if chat is not None else None)


def cool_down_text(t: Translator, remaining: dt.timedelta) -> str:
    minutes = max(1, math.ceil(remaining.total_seconds() / 60))
    return t.plural(
        "You have entered a wrong link or code too many times. To keep personal links safe, I am not checking "
        "any for now: please try again in {n} minute.",
        "You have entered a wrong link or code too many times. To keep personal links safe, I am not checking "
        "any for now: please try again in {n} minutes.",
        minutes,
    )


async def cooling_down(update: Update, context: BotContext) -> bool:
    """True while this person's links and codes are not looked up; they have been told when to try again."""
    now = context.now()
    until = context.services.guesses.blocked_until(_key(update, context), now)
    if until is None:
        return False
    if update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, cool_down_text(context.t, until - now))
    return True


def record(update: Update, context: BotContext, kind: GuessKind, *, missed: bool) -> None:
    """Count a miss (hits are not counted); the miss that reaches the limit logs one warning."""
    if not missed:
        return
    key = _key(update, context)
    cool_down = context.services.guesses.missed(key, kind, context.now())
    if cool_down is None:
        return
    chat = update.effective_chat
    logger.warning(
        "%d wrong links or codes from %s=%s (chat %s) within %d minutes (%s, the last %s): "
        "nothing from them is looked up until %s",
        cool_down.misses,
        key[0],
        key[1],
        chat.id if chat is not None else "?",
        context.services.guesses.window // dt.timedelta(minutes=1),
        ", ".join(f"{name} {count}" for name, count in cool_down.by_kind),
        kind,
        cool_down.until.isoformat(timespec="seconds"),
    )
