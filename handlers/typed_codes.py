"""Typing a personal link's code does what opening the link does (Zalo has no deep links).

``/start K7M2-Q9XD`` works anywhere, like ``/start inv_…``. A code typed as a message ("K7M2Q9XD",
"mã mời k7m2-q9xd") is taken when no question is open: these handlers are entry points of the last
conversation (``handlers.rsvp``), so a question that is open gets the text first, as its answer.

One lookup finds whose code it is; then the link's own handler runs with the code instead of the token
(``open_invitation_with``, ``open_unit_link_with``, ``open_share_link_with``, ``open_checkin_with``), with
the same rules, refusals and binding. A code that belongs to no link is a miss in the same per-person
throttle as a wrong link (``handlers.guesses``).
"""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from handlers import endorse, guesses, roles, rsvp
from handlers.link_codes import MESSAGE_CODE, START_CODE, typed_in, unknown_code_text
from rules import links
from rules.guesses import GuessKind


async def open_typed_code(update: Update, context: BotContext) -> str | int:
    """Whatever link the typed code belongs to, opened as if the link had been."""
    code = typed_in(update, context)
    if code is None or update.effective_chat is None:
        return ConversationHandler.END
    if await guesses.cooling_down(update, context):
        return ConversationHandler.END
    async with context.transaction() as db:
        owner = await links.code_owner(db, code)
    if owner is None:
        guesses.record(update, context, GuessKind.TYPED_CODE, missed=True)
        await context.bot.send_message(update.effective_chat.id, unknown_code_text(context.t, code))
        return ConversationHandler.END
    if owner.kind == links.INVITATION:
        return await rsvp.open_invitation_with(update, context, code=code)
    if owner.kind == links.ENDORSEMENT:
        return await endorse.open_share_link_with(update, context, code=code)
    if owner.kind == links.UNIT:
        await roles.open_unit_link_with(update, context, code=code)
    elif owner.kind == links.CHECK_IN:
        await rsvp.open_checkin_with(update, context, code=code)
    return ConversationHandler.END


def entry_points() -> list[BaseHandler[Update, BotContext, Any]]:
    """``/start CODE``, and a message that is a code (see ``handlers.link_codes``)."""
    return [
        CommandHandler("start", open_typed_code, filters=START_CODE),
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & MESSAGE_CODE, open_typed_code),
    ]


__all__ = ["entry_points", "open_typed_code"]
