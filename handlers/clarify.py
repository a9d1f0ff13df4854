"""Typed answers to a choice, asked back when they are not certain: "Ý bạn là …? 1. Đúng 2. Không".

``rules.choices.follow_up`` decides what a typed answer does. This module keeps what it leaves open (a
did-you-mean or a short list) as the person's scratch row, written in the caller's transaction, so a
restart resumes it; turns the outcome into what the caller sends (:class:`Ask`) or does (:class:`Chosen`,
:class:`Again`); and answers the two buttons a clarification adds, "No" and "the whole list", whose press
shows the question's options again.

The clarification's other buttons are the question's own (``<question>:<key>``), so pressing "Yes" or an
option of a short list is exactly a press at the question, re-checked by its handler against the options
offered now. A clarification belongs to the question it was asked at: any other step the person takes (a
command, a press elsewhere, a photo) closes it (:func:`close_on_other_updates`), so a later "1" can't
confirm a did-you-mean the person no longer sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler

from bot.context import BotContext
from bot.i18n import Translator
from handlers.presses import INACTIVE, ButtonData, Choice, button
from rules.choices import (
    AskAgain,
    Chosen,
    Confirm,
    Labels,
    Option,
    Pending,
    ShortList,
    follow_up,
)
from storage import scratch
from storage.models import PersistedData

KIND = "choice_pending"
PREFIX = "ta"
DATA = ButtonData(PREFIX, str, Choice("no", "all"))
# Accounts with an open clarification, so that the updates of everyone else cost no database round trip;
# filled from the database on first use after a start (a restart resumes a clarification).
_OPEN = "clarify.open"

__all__ = ["Again", "Ask", "Chosen", "answer", "close_on_other_updates", "handlers", "retry_note", "send", "typed"]


@dataclass(frozen=True)
class Ask:
    """The clarification to send; the caller stays at its question."""

    text: str
    markup: InlineKeyboardMarkup


@dataclass(frozen=True)
class Again:
    """Ask the question again, with ``note`` above it; ``reason`` as in ``rules.choices.AskAgain``."""

    note: str
    reason: str = "unmatched"

    @property
    def unmatched(self) -> bool:
        """The answer named no option (or too many): a caller with a search of its own may try it."""
        return self.reason in ("unmatched", "too_many")


def _labels(t: Translator) -> Labels:
    return Labels(right=t("Yes, that one"), wrong=t("No"), full_list=t("Show the whole list"))


def retry_note(t: Translator, count: int) -> str:
    if count == 1:  # one option: "type 1", never "(1–1)"
        if not t.buttons:
            return t("Sorry, I did not understand that answer. Please type 1 to choose it.")
        return t("Sorry, I did not understand that answer. Please press the button or type 1.")
    if not t.buttons:
        return t(
            "Sorry, I did not understand that answer. Please type the number of your choice (1–{count}).", count=count
        )
    return t(
        "Sorry, I did not understand that answer. Please press a button or type its number (1–{count}).", count=count
    )


async def typed(
    db: AsyncSession,
    context: BotContext,
    question: str,
    answer: str,
    options: Sequence[Option],
    *,
    named: Sequence[Option] = (),
    columns: int = 1,
) -> Chosen | Ask | Again:
    """A typed ``answer`` at ``question`` (its keyboard's callback prefix), whose buttons are ``options``.

    ``named``: options that may be typed by name but have no button (the rest of a long list).
    ``columns``: how the question lays out its buttons, to show them the same way again.
    """
    assert context.account is not None
    account_id = context.account.id
    t = context.t
    stored = await scratch.recall(db, KIND, account_id)
    pending = Pending.from_json(stored) if stored else None
    outcome, still_open = follow_up(question, pending, answer, options, _labels(t), named=named)
    if still_open is not None:
        shown = [[option.key, option.label] for option in options]
        await scratch.remember(db, KIND, account_id, {**still_open.to_json(), "shown": shown, "columns": columns})
        (await _open(context, db)).add(account_id)
    elif stored:
        await _close(db, context, account_id)
    return _render(outcome, question, len(options), t)


async def answer(
    context: BotContext,
    question: str,
    answer: str,
    options: Sequence[Option],
    *,
    named: Sequence[Option] = (),
    columns: int = 1,
) -> Chosen | Ask | Again:
    """:func:`typed` in a transaction of its own (for a caller that holds none)."""
    async with context.transaction() as db:
        return await typed(db, context, question, answer, options, named=named, columns=columns)


def _render(outcome: Any, question: str, count: int, t: Translator) -> Chosen | Ask | Again:
    if isinstance(outcome, Chosen):
        return outcome
    labels = _labels(t)
    if isinstance(outcome, Confirm):
        text = t("Did you mean {option}?", option=outcome.option.label)
        if outcome.again:
            text = retry_note(t, 2) + "\n\n" + text
        buttons = [
            InlineKeyboardButton(labels.right, callback_data=f"{question}:{outcome.option.key}"),
            InlineKeyboardButton(labels.wrong, callback_data=f"{PREFIX}:no"),
        ]
        return Ask(text, InlineKeyboardMarkup([buttons]))
    if isinstance(outcome, ShortList):
        text = t("Several options match what you typed. Which one do you mean?")
        if outcome.again:
            text = retry_note(t, len(outcome.options) + 1) + "\n\n" + text
        rows = [[InlineKeyboardButton(o.label, callback_data=f"{question}:{o.key}")] for o in outcome.options]
        rows.append([InlineKeyboardButton(labels.full_list, callback_data=f"{PREFIX}:all")])
        return Ask(text, InlineKeyboardMarkup(rows))
    assert isinstance(outcome, AskAgain)
    return Again(_again_note(outcome.reason, count, t), outcome.reason)


def _again_note(reason: str, count: int, t: Translator) -> str:
    if reason == "too_many":
        return t("Many options match what you typed. Please type more of the name, or choose a number.")
    if reason == "declined":
        return t("All right. Please choose again.")
    if reason == "full_list":
        return t("Here is the whole list again.")
    if reason == "gone":
        return t("That choice is no longer available.")
    return retry_note(t, count)


async def send(update: Update, context: BotContext, ask: Ask) -> None:
    """Send the clarification to the person's chat."""
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, ask.text, reply_markup=ask.markup)


# --- the clarification's own buttons, and closing it --------------------------------------------------


async def _open(context: BotContext, db: AsyncSession) -> set[int]:
    """The accounts with an open clarification (read once per process, in the caller's transaction: a
    second one would wait for it)."""
    accounts: set[int] | None = context.bot_data.get(_OPEN)
    if accounts is None:
        keys = await db.scalars(select(PersistedData.key).where(PersistedData.kind == KIND))
        accounts = {int(key) for key in keys if key.isdigit()}
        context.bot_data[_OPEN] = accounts
    return accounts


async def _close(db: AsyncSession, context: BotContext, account_id: int) -> None:
    await scratch.forget(db, KIND, account_id)
    (await _open(context, db)).discard(account_id)


async def _pressed(update: Update, context: BotContext, answer: str) -> None:
    """ "No" under a did-you-mean, or "the whole list" under a short list: the question's options again."""
    press = context.press
    assert press is not None and context.account is not None
    t = context.t
    async with context.transaction() as db:
        stored = await scratch.recall(db, KIND, context.account.id)
        if stored:
            await _close(db, context, context.account.id)
    pending = Pending.from_json(stored) if stored else None
    if pending is None:
        await press.answer(t(INACTIVE), alert=True)
        await press.close()
        return
    labels = _labels(t)
    await press.close(labels.wrong if answer == "no" else labels.full_list)
    note = _again_note("declined" if answer == "no" else "full_list", 0, t)
    shown = [Option(str(key), str(label)) for key, label in stored.get("shown", [])]
    columns = int(stored.get("columns", 1)) or 1
    buttons = [InlineKeyboardButton(o.label, callback_data=f"{pending.question}:{o.key}") for o in shown]
    markup = InlineKeyboardMarkup([buttons[i : i + columns] for i in range(0, len(buttons), columns)])
    await context.bot.send_message(press.chat_id, note, reply_markup=markup if buttons else None)


def handlers() -> list[BaseHandler[Update, BotContext, Any]]:
    """The presses of "No" and "the whole list" (after the conversations, before the catch-alls)."""
    return [button(DATA, _pressed)]


async def close_on_other_updates(update: Update, context: BotContext) -> None:
    """Before any feature: a command, a press at another question or a non-text message moves the person
    on, so an open clarification closes (a typed text goes to the question, which decides)."""
    if context.account is None:
        return
    message = update.message
    if message is not None and message.text and not message.text.startswith("/"):
        return
    query = update.callback_query
    if query is not None and DATA.parse(query.data if isinstance(query.data, str) else None) is not None:
        return
    accounts: set[int] | None = context.bot_data.get(_OPEN)
    if accounts is not None and context.account.id not in accounts:
        return
    async with context.transaction() as db:
        if context.account.id in await _open(context, db):
            await _close(db, context, context.account.id)
