"""Questions with a choice of answers: buttons on Telegram, typed numbers or labels everywhere.

Every keyboard in the bot is a :class:`ChoicePrompt`. It sends the question with inline buttons and
answers three ways: a button press (re-checked against the options offered now, never trusted), a typed
number or label (``handlers.clarify``: a partial name is asked back, "Did you mean …?", never taken
silently), and anything else (a photo, a sticker, text that names no option), which gets a polite note
and the same question again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, MessageHandler, filters

from bot.context import BotContext
from handlers import clarify
from handlers.presses import ButtonData, Key, answer, button
from rules.choices import Option

OptionsFn = Callable[[BotContext], Sequence[Option]]
QuestionFn = Callable[[BotContext], str]
ChoiceCallback = Callable[[Update, BotContext, Option], Awaitable[Any]]


def keyboard(prefix: str, options: Sequence[Option], columns: int = 1) -> InlineKeyboardMarkup:
    """Inline buttons whose callback data is ``prefix:key`` (well under Telegram's 64 bytes)."""
    buttons = [InlineKeyboardButton(option.label, callback_data=f"{prefix}:{option.key}") for option in options]
    rows = [buttons[i : i + columns] for i in range(0, len(buttons), columns)]
    return InlineKeyboardMarkup(rows)


class ChoicePrompt:
    """One question of a conversation whose answer is one of a list of options."""

    def __init__(
        self,
        prefix: str,
        question: QuestionFn,
        options: OptionsFn,
        on_choice: ChoiceCallback,
        *,
        columns: int = 1,
    ) -> None:
        if not re.fullmatch(r"[a-z0-9_.]{1,24}", prefix):
            raise ValueError(f"callback prefix {prefix!r} must be short lowercase ascii")
        self.prefix = prefix
        self.data = ButtonData(prefix, str, Key())
        self.question = question
        self.options = options
        self.on_choice = on_choice
        self.columns = columns

    async def ask(self, update: Update, context: BotContext, note: str | None = None) -> None:
        """Send the question (after ``note``, if any) with its buttons."""
        text = self.question(context)
        if note:
            text = f"{note}\n\n{text}"
        chat = update.effective_chat
        assert chat is not None
        await context.bot.send_message(
            chat.id, text, reply_markup=keyboard(self.prefix, self.options(context), self.columns)
        )

    def handlers(self) -> list[BaseHandler[Update, BotContext, Any]]:
        """The handlers to put in the conversation state that waits for this answer."""
        return [
            button(self.data, self._pressed),
            MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, self._typed),
            MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, self._other),
        ]

    async def _pressed(self, update: Update, context: BotContext, key: str) -> Any:
        option = next((o for o in self.options(context) if o.key == key), None)
        if option is None:
            await answer(context, context.t("That choice is no longer available."))
            await self.ask(update, context)
            return None
        await close_keyboard(context, option)
        return await self.on_choice(update, context, option)

    async def _typed(self, update: Update, context: BotContext) -> Any:
        assert update.message is not None and update.message.text is not None
        return await self.answer_typed(update, context, update.message.text)

    async def answer_typed(self, update: Update, context: BotContext, text: str) -> Any:
        """``text`` typed as the answer (also the words after a command, ``/lang english``)."""
        options = self.options(context)
        result = await clarify.answer(context, self.prefix, text, options, columns=self.columns)
        if isinstance(result, clarify.Ask):
            await clarify.send(update, context, result)
            return None
        if isinstance(result, clarify.Again):
            await self.ask(update, context, note=result.note)
            return None
        return await self.on_choice(update, context, result.option)

    async def _other(self, update: Update, context: BotContext) -> Any:
        await self.ask(update, context, note=clarify.retry_note(context.t, len(self.options(context))))
        return None


async def close_keyboard(context: BotContext, option: Option) -> None:
    """For a press: the chosen answer under the question, the buttons taken away so they can't be pressed
    again later (a message too old to edit stays as it is, and the answer comes as a new message)."""
    if context.press is not None:
        await context.press.close(option.label)
