"""Button presses: one parser for callback data, one way to answer a press and show what it did.

Every keyboard's callback data is described by a :class:`ButtonData`: a prefix and typed fields (an
:class:`Id`, a :class:`Choice` from a set, a :class:`Count`, a short :class:`Key`). :func:`button` makes the
handler of those buttons: it parses the press, and data that does not fit (forged, an id out of range, a
part missing or extra, no data at all) is answered with a toast and goes no further; otherwise the typed
value goes to the callback, and the press is answered exactly once, even when the callback fails.

While a press is handled, ``context.press`` is its :class:`Press`: the toast, and the result on the pressed
message (the chosen answer under the question, the buttons taken away). Telegram may refuse to touch that
message: older than 48 hours it arrives as an ``InaccessibleMessage``, and an edit can answer "message can't
be edited". Then the result comes as a new message. What the press does never depends on how it is shown.
A channel without edits (Zalo) takes the same road: every edit becomes a new message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from telegram import Bot, CallbackQuery, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler

from bot.context import BotContext
from bot.i18n import N_
from rules.text import parse_id

logger = logging.getLogger(__name__)

T = TypeVar("T")

INACTIVE = N_("This button is no longer active. Type /help to start again.")
# How Telegram refuses an edit of a message that is still there for the person: the result goes out anew.
_NOT_EDITABLE = (
    "message can't be edited",
    "message is not modified",
    "message to edit not found",
    "there is no text in the message to edit",
    "message_id_invalid",
)


# --- the data a button carries ---------------------------------------------------------------------------


class Field:
    """One ``:``-separated part of callback data: the text it must match and the value it stands for."""

    pattern = r"[A-Za-z0-9_.-]{1,48}"

    def value(self, text: str) -> object | None:
        return text


class Id(Field):
    """A database id: 1 … 2**31 - 1 (at most 10 ASCII digits; ``rules.text.MAX_ID``)."""

    pattern = r"[0-9]{1,10}"

    def value(self, text: str) -> object | None:
        return parse_id(text)


class Count(Field):
    """A small whole number (how many a confirmation is about)."""

    pattern = r"[0-9]{1,6}"

    def value(self, text: str) -> object | None:
        return int(text)


class Choice(Field):
    """One of a few fixed words (``a`` for approve, ``yes``, …)."""

    def __init__(self, *words: str) -> None:
        self.pattern = "|".join(re.escape(word) for word in words)


class Key(Field):
    """A short key: an option's key, a reference code, a token (``pattern`` narrows it)."""

    def __init__(self, pattern: str = Field.pattern) -> None:
        self.pattern = pattern


class ButtonData(Generic[T]):
    """The callback data of one keyboard, ``prefix:field:…``, and its value once parsed (``build(*fields)``)."""

    def __init__(self, prefix: str, build: Callable[..., T], *fields: Field) -> None:
        self.prefix = prefix
        self.build = build
        self.fields = fields
        parts = "".join(f":(?P<f{index}>{field.pattern})" for index, field in enumerate(fields))
        # Anchored and bounded, so that other data falls through to the next handler or the catch-all.
        self.pattern = rf"^{re.escape(prefix)}{parts}\Z"
        self._regex = re.compile(self.pattern)

    def parse(self, data: str | None) -> T | None:
        """The typed value of ``data``, or None when it is not this keyboard's (or no) data."""
        match = self._regex.match(data) if data else None
        if match is None:
            return None
        values = [field.value(match.group(f"f{index}")) for index, field in enumerate(self.fields)]
        if any(value is None for value in values):
            return None
        return self.build(*values)


# --- answering and showing -------------------------------------------------------------------------------


class Press:
    """One button press being handled: answered once, its result shown on the pressed message or anew."""

    def __init__(self, query: CallbackQuery, bot: Bot) -> None:
        self.query = query
        self.bot = bot
        self.answered = False

    @property
    def data(self) -> str | None:
        data = self.query.data
        return data if isinstance(data, str) else None

    @property
    def message(self) -> Message | None:
        """The pressed message, while Telegram still gives it (not an ``InaccessibleMessage``)."""
        message = self.query.message
        return message if isinstance(message, Message) else None

    @property
    def message_id(self) -> int | None:
        """The pressed message's id (known even when the message itself is not given)."""
        return self.query.message.message_id if self.query.message is not None else None

    @property
    def chat_id(self) -> int:
        message = self.query.message
        return message.chat.id if message is not None else self.query.from_user.id

    async def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Answer the press, with a toast when there is ``text``. A press is answered once: a text that
        comes after the answer (or that Telegram no longer takes) is sent as a message instead."""
        if self.answered:
            if text:
                await self.bot.send_message(self.chat_id, text)
            return
        self.answered = True
        try:
            await self.query.answer(text, show_alert=alert)
        except TelegramError as error:  # "query is too old" (answered too late), a network hiccup, …
            logger.info("could not answer button press %s: %s", self.query.id, error)
            if text:
                await self.bot.send_message(self.chat_id, text)

    async def close(self, chosen: str | None = None) -> None:
        """Take the buttons off the pressed message so they can't be pressed again, with the ``chosen``
        answer under the question; when the message can't be edited, the chosen answer comes anew.
        Never raises: what the press does next must not depend on how it is shown."""
        await self.answer()
        question = self.message.text if self.message is not None else None
        try:
            if chosen is not None and question:
                shown = await self._edit(f"{question}\n\n➜ {chosen}")
            else:
                shown = await self._edit()
            if not shown and chosen is not None:
                await self.bot.send_message(self.chat_id, f"➜ {chosen}")
        except TelegramError as error:
            logger.warning("could not show the answer to button press %s: %s", self.query.id, error)

    async def _edit(self, text: str | None = None) -> bool:
        """Edit the pressed message: its text (which takes the buttons away too), or only its buttons."""
        message = self.message
        if message is None:
            return False
        if text is None:
            return await remove_buttons(self.bot, message.chat.id, message.message_id)
        try:
            await self.bot.edit_message_text(text, chat_id=message.chat.id, message_id=message.message_id)
        except BadRequest as error:
            _refused_edit(error, message.message_id)
            return False
        return True


def _refused_edit(error: BadRequest, message_id: int) -> None:
    # The refusals Telegram gives for old or unchanged messages are expected; any other is worth a look,
    # but the person still gets the result (as a new message).
    if not any(reason in error.message.lower() for reason in _NOT_EDITABLE):
        logger.warning("could not edit message %s: %s", message_id, error)


async def remove_buttons(bot: Bot, chat_id: int, message_id: int) -> bool:
    """Take the buttons off a message the bot sent; False when Telegram won't edit it (too old, gone)."""
    try:
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
    except BadRequest as error:
        _refused_edit(error, message_id)
        return False
    return True


def begin(update: Update, context: BotContext) -> Press:
    """The press ``update`` carries, kept as ``context.press`` while it is handled."""
    query = update.callback_query
    assert query is not None
    if context.press is None or context.press.query is not query:
        context.press = Press(query, context.bot)
    return context.press


async def answer(context: BotContext, text: str | None = None) -> None:
    """Answer the press being handled, if any (with an alert when there is ``text``); nothing when typed."""
    if context.press is not None:
        await context.press.answer(text, alert=bool(text))


PressCallback = Callable[[Update, BotContext, T], Awaitable[Any]]


def button(data: ButtonData[T], callback: PressCallback[T]) -> CallbackQueryHandler[BotContext, Any]:
    """The handler of the buttons ``data`` describes: ``callback(update, context, value)`` for a press whose
    data parses; a toast for one whose data doesn't. Either way the press is answered exactly once."""

    async def pressed(update: Update, context: BotContext) -> Any:
        press = begin(update, context)
        value = data.parse(press.data)
        if value is None:
            await press.answer(context.t(INACTIVE), alert=True)
            return None
        try:
            return await callback(update, context, value)
        finally:
            await press.answer()  # if nothing has yet: the spinner stops, whatever happened

    return CallbackQueryHandler(pressed, pattern=data.pattern)
