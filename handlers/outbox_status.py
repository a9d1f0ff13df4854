"""/outbox for organisers: is everything the bot sends on its own going out?"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotContext
from handlers.common import is_organiser
from rules import outbox


async def outbox_status(update: Update, context: BotContext) -> None:
    assert update.message is not None
    t = context.t
    if not is_organiser(context):
        await update.message.reply_text(t("Sorry, only organisers can use this command."))
        return
    async with context.transaction() as db:
        counts = await outbox.status_counts(db)
    await update.message.reply_text(
        t(
            "Messages the bot sends on its own:\n"
            "• waiting: {pending}\n"
            "• being sent: {sending}\n"
            "• sent: {sent}\n"
            "• could not be delivered (the person blocked the bot): {undeliverable}\n"
            "• failed after retries: {failed}\n"
            "• cancelled: {cancelled}",
            **{
                status: t.number(counts.get(status, 0))
                for status in ("pending", "sending", "sent", "undeliverable", "failed", "cancelled")
            },
        )
    )


def handlers() -> list[CommandHandler[BotContext, None]]:
    return [CommandHandler("outbox", outbox_status)]
