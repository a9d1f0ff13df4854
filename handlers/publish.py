"""/publish CODE: an organiser posts the story of an approved exemplar, who consented, to the public channel.

The post goes through the outbox (the channel is not the person who asked), in the bot's default language,
with the first photo of the evidence when there is one. PUBLIC_CHANNEL_ID names the channel; the bot must
be one of its administrators.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotContext
from bot.i18n import Translator
from handlers.common import is_organiser
from handlers.review import ref_label, status_label
from rules import review
from rules.refdata import reference
from rules.review import NominationView, PublishRefusal


def story_text(t: Translator, view: NominationView) -> str:
    """The public story: who, where, for what, and what they did. No personal data beyond the name."""
    data = reference()
    lines = [t("🌟 Honouring an exemplar: {name}", name=view.nominee_name or "")]
    details = [
        (t("Unit: {value}", value=view.unit_name) if view.unit_name else None),
        (t("Proposed for: {value}", value=ref_label(t, data.titles, view.title_code)) if view.title_code else None),
        (
            t("Movement: {value}", value=ref_label(t, data.movements, view.movement_code))
            if view.movement_code
            else None
        ),
    ]
    lines += [line for line in details if line]
    if view.achievements:
        lines += ["", view.achievements]
    return "\n".join(lines)


async def publish(update: Update, context: BotContext) -> None:
    assert update.message is not None and context.account is not None
    t = context.t
    if not is_organiser(context):
        await update.message.reply_text(t("Sorry, only organisers can publish nominations."))
        return
    setting = context.services.settings.public_channel_id
    if not setting.strip():
        await update.message.reply_text(
            t(
                "Publishing is not set up: PUBLIC_CHANNEL_ID is empty. Please ask the administrator to set it to the channel's id and to make the bot an administrator of the channel."
            )
        )
        return
    channel_id = review.channel_chat_id(setting)
    if channel_id is None:
        await update.message.reply_text(
            t(
                "PUBLIC_CHANNEL_ID ({value}) is not a channel id: it must be the channel's numeric id, e.g. -1001234567890.",
                value=setting,
            )
        )
        return
    if not context.args:
        await update.message.reply_text(t("Please add the code of an approved nomination, e.g. /publish DH-2020-0001"))
        return
    channel_t = context.services.translators.default
    async with context.transaction() as db:
        result = await review.publish(
            db,
            " ".join(context.args),
            actor=context.account,
            now=context.now(),
            channel_id=channel_id,
            story=lambda view: story_text(channel_t, view),
        )
    await update.message.reply_text(_result_text(t, result))


def _result_text(t: Translator, result: review.Publication) -> str:
    code, name = result.code, result.nominee_name or ""
    if result.refusal == PublishRefusal.NOT_ALLOWED:
        return t("Sorry, only organisers can publish nominations.")
    if result.refusal == PublishRefusal.NOT_FOUND:
        return t("I found no nomination with the code {code}.", code=code)
    if result.refusal == PublishRefusal.ALREADY_PUBLISHED:
        when = t.datetime(result.published_at) if result.published_at else ""
        return t(
            "{code} ({name}) was already published at {time}; it is not posted twice.", code=code, name=name, time=when
        )
    if result.refusal == PublishRefusal.NOT_APPROVED:
        return t(
            "Only approved nominations can be published; {code} ({name}) is: {status}.",
            code=code,
            name=name,
            status=status_label(t, result.status or ""),
        )
    if result.refusal == PublishRefusal.NO_CONSENT:
        return t(
            "{code} ({name}) cannot be published: the nominee did not agree to be made public.", code=code, name=name
        )
    if result.with_photo:
        return t(
            "The story of {code} ({name}) with its photo will appear in the channel in a moment.", code=code, name=name
        )
    return t("The story of {code} ({name}) will appear in the channel in a moment.", code=code, name=name)


def handlers() -> list[CommandHandler[BotContext, None]]:
    return [CommandHandler("publish", publish)]
