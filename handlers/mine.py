"""/mine: a nominator's nominations and their statuses; /nomination CODE: the details of one.

Reviewers and organisers may open any nomination; everyone else only the ones they sent. Ethnicity,
religion and phone are shown to organisers only (``rules.review.view`` leaves them out for others).
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotContext
from handlers.review import card_text, nomination_line, send_evidence
from rules import review
from rules.review import LookupRefusal
from rules.roles import can_review


async def mine(update: Update, context: BotContext) -> None:
    assert update.message is not None and context.account is not None
    t = context.t
    async with context.transaction() as db:
        items = await review.nominations_of(db, context.account.id)
    if not items:
        await update.message.reply_text(
            t("You have not sent any nominations yet. Type /nominate to put someone forward.")
        )
        return
    lines = [t("Your nominations:")]
    for item in items:
        lines.append(nomination_line(t, item.code, item.nominee_name, item.status))
    example = next((item.code for item in items if item.code), None)
    if example:
        lines += ["", t("For the details, type /nomination and the code, e.g. /nomination {code}", code=example)]
    await update.message.reply_text("\n".join(lines))


async def details(update: Update, context: BotContext) -> None:
    assert update.message is not None and context.account is not None
    t = context.t
    if not context.args:
        await update.message.reply_text(t("Please add the code of the nomination, e.g. /nomination DH-2020-0001"))
        return
    async with context.transaction() as db:
        found = await review.lookup(db, " ".join(context.args), context.account)
    if found.refusal == LookupRefusal.NOT_ALLOWED:
        await update.message.reply_text(t("Sorry, you can only see the nominations you sent yourself."))
        return
    if found.view is None:
        await update.message.reply_text(t("I found no nomination with the code {code}.", code=found.code))
        return
    if can_review(context.account.role):
        await send_evidence(context, update.message.chat_id, found.view)
    await update.message.reply_text(card_text(t, found.view, history=True))


def handlers() -> list[CommandHandler[BotContext, None]]:
    return [CommandHandler("mine", mine), CommandHandler("nomination", details)]
