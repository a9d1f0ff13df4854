"""Welcome, help, cancel, and the catch-alls that make sure nobody is left without an answer."""

from __future__ import annotations

import logging

from telegram import BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.i18n import Translator
from handlers import presses
from handlers.menu import GROUP_TITLES, Group, bot_commands, help_lines
from rules import accounts, identities
from rules.nominations import Status
from rules.roles import NotAllowed, Role, can_organise
from rules.text import person_name
from rules.welcome import Welcome, welcome
from rules.welcome import cached as welcome_cached

logger = logging.getLogger(__name__)


async def load_account(update: Update, context: BotContext) -> None:
    """Before any feature: who is asking (their account, role and language).

    The user id PTB gives is an address (``rules.identities``): a Telegram id, or the address a channel
    adapter gave the person when their message came in (the adapter made the identity then).
    """
    user = update.effective_user
    if user is None or user.is_bot:
        return
    cached = context.services.accounts.get(user.id)
    if cached is not None:
        context.account = cached
        return
    if identities.is_channel_address(user.id):
        # Only an update a channel adapter made may speak for a channel identity.
        from_adapter = identities.UPDATE_MARK in update.api_kwargs
        account = None
        if from_adapter:
            async with context.transaction() as db:
                account = await accounts.at_address(db, user.id)
        if account is None:
            logger.warning("update %s from an unknown address ignored", update.update_id)
            raise ApplicationHandlerStop
    else:
        # Committed before any feature runs: the person exists from their first message on.
        contact = await accounts.meet(
            context.services.database,
            channel=identities.TELEGRAM,
            external_id=str(user.id),
            display_name=person_name(user.first_name, user.last_name),
            username=user.username,
            bootstrap_organiser=user.id in context.services.settings.organiser_ids,
            now=context.now(),
        )
        account = contact.account
    context.use_account(account, address=user.id)


def _role(context: BotContext) -> str:
    return context.account.role if context.account else Role.CITIZEN


def _draft_line(t: Translator, facts: Welcome) -> str:
    """The unfinished form the person left, and how to go on with it (empty when there is none)."""
    if facts.draft_status == Status.CHANGES_REQUESTED:
        return t(
            "Your nomination {code} ({name}) was sent back for changes. Type /nominate to edit it and send it again.",
            code=facts.draft_code or "",
            name=facts.draft_nominee or "—",
        )
    if facts.draft_status is None:
        return ""
    if facts.draft_nominee:
        return t(
            "You have a nomination not sent yet: {name}. Type /nominate to go on with it.", name=facts.draft_nominee
        )
    return t("You have a nomination you began and did not send. Type /nominate to go on with it.")


def _welcome(context: BotContext, first_name: str, facts: Welcome) -> str:
    t = context.t
    role = facts.role
    focal_point = (
        t("You are the focal point of {unit}: you send its nominations.", unit=facts.unit_name)
        if facts.unit_name
        else t("You are the focal point of your unit: you send your unit's nominations.")
    )
    intros: dict[str, str] = {
        Role.ORGANISER: t("You are an organiser: you can review nominations, invite delegates and follow progress."),
        Role.REVIEWER: t("You are a reviewer: you can review the nominations sent in."),
        Role.FOCAL_POINT: focal_point,
    }
    intro = intros.get(
        role,
        t(
            "I help units and citizens put forward exemplars and good deeds, and invited delegates answer their invitations."
        ),
    )
    parts = [
        t("Hello {name}! I am the assistant of the emulation and commendation work.", name=first_name),
        intro,
        _draft_line(t, facts),
        t("What you can do:") + "\n" + help_lines(role, t),
        # What an organiser needs to give this person a role (/grant #42), on any channel.
        t("Your account number: #{number}.", number=context.account.id) if context.account else "",
    ]
    return "\n\n".join(part for part in parts if part)


async def start(update: Update, context: BotContext) -> None:
    assert update.message is not None and update.effective_user is not None
    if context.account is None:
        facts = Welcome(role=Role.CITIZEN)
    else:
        kept = welcome_cached(context.services.database.engine.sync_engine, context.account.id)
        if kept is not None:
            facts = kept
        else:
            async with context.transaction() as db:
                facts = await welcome(db, context.account.id)
    text = _welcome(context, update.effective_user.first_name, facts)
    if context.args:
        # Deep links that no feature claimed: expired or mistyped.
        text = context.t("This link is not valid or has expired. Please ask whoever sent it for a new one.") + (
            "\n\n" + text
        )
    await update.message.reply_text(text)


async def help_command(update: Update, context: BotContext) -> None:
    assert update.message is not None
    t = context.t
    parts = [t("What you can do:") + "\n" + help_lines(_role(context), t)]
    if context.channel == identities.TELEGRAM:
        parts.append(t("When I show buttons you can also type the number or the name of an option."))
    else:
        parts.append(zalo_help(context))
    await update.message.reply_text("\n\n".join(parts))


def zalo_help(context: BotContext) -> str:
    """What differs for someone on Zalo (typed answers, codes instead of links, files as links), under the
    headings of /help's groups (``handlers.menu``), so both read the same way."""
    t = context.t
    invitations = [
        t(
            "If you were given an invitation, unit or check-in code (for example K7M2-Q9XD), type it here: it "
            "does what opening the link does on Telegram."
        )
    ]
    if is_organiser(context):
        invitations.append(
            t(
                "Guest lists cannot be sent on Zalo: send the Excel file to the bot on Telegram, or import it "
                "with the command line (dienhinh invitations import FILE)."
            )
        )
    general = [
        t("On Zalo, answer each question by typing the number of an option, or its name."),
        t(
            "Files (QR codes, calendars, Excel lists) come as a link when the server can share them; otherwise "
            "I tell you what they contain and where to get them."
        ),
    ]
    sections = [(Group.INVITATIONS, invitations), (Group.GENERAL, general)]
    return "\n\n".join(
        "\n".join([t("{group} — on Zalo", group=t(GROUP_TITLES[group])), *(f"• {line}" for line in lines)])
        for group, lines in sections
    )


async def cancel_outside(update: Update, context: BotContext) -> None:
    assert update.message is not None
    await update.message.reply_text(context.t("There is nothing to cancel. Type /help to see what I can do."))


async def unknown_command(update: Update, context: BotContext) -> None:
    assert update.message is not None and update.message.text is not None
    command = update.message.text.split(maxsplit=1)[0].split("@", 1)[0]
    await update.message.reply_text(
        context.t("Sorry, I do not know the command {command}. Type /help to see what I can do.", command=command)
    )


async def stray_message(update: Update, context: BotContext) -> None:
    assert update.message is not None
    await update.message.reply_text(context.t("I did not catch that. Type /help to see what I can do."))


async def stale_button(update: Update, context: BotContext) -> None:
    """A press no feature takes (its question is over, or its data is forged or empty): a toast, and the
    buttons taken off the message when it still can be edited."""
    press = presses.begin(update, context)
    await press.answer(context.t(presses.INACTIVE), alert=True)
    await press.close()


async def on_error(update: object, context: BotContext) -> None:
    """Log with the update id and tell the person, in their language, that it was our fault."""
    update_id = update.update_id if isinstance(update, Update) else None
    logger.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    user = update.effective_user
    account = context.services.accounts.get(user.id) if user else None
    t = context.services.translators.get(account.locale if account else None)
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            t(
                "Sorry, something went wrong on our side. What you entered so far is saved; please try again in a moment."
            ),
        )
    except TelegramError:
        logger.warning("could not tell chat %s about the error in update %s", update.effective_chat.id, update_id)
    # The person has had their answer; no later handler group should add another.
    raise ApplicationHandlerStop


async def refresh_menu(context: BotContext, chat_id: int) -> None:
    """The command menu of one chat, in the person's language and for their role."""
    if context.account is None:
        return
    await context.bot.set_my_commands(bot_commands(context.account.role, context.t), scope=BotCommandScopeChat(chat_id))


def not_allowed_text(context: BotContext, refusal: NotAllowed) -> str:
    if refusal.required == Role.ORGANISER:
        return context.t("Sorry, only organisers can do this.")
    return context.t("Sorry, only reviewers and organisers can do this.")


async def refuse(update: Update, context: BotContext, refusal: NotAllowed) -> int:
    """Tell the person a use case refused them for their role, as it is now in the database (it may have
    been taken away while a question was open); ends the conversation."""
    text = not_allowed_text(context, refusal)
    if context.press is not None:  # a toast, or a message when the press was answered already
        await context.press.answer(text, alert=True)
    elif update.effective_chat is not None:
        await context.bot.send_message(update.effective_chat.id, text)
    # The cached account may still show the old role; the next update reads it afresh.
    if update.effective_user is not None:
        context.services.accounts.forget(update.effective_user.id)
    return ConversationHandler.END


def is_organiser(context: BotContext) -> bool:
    return context.account is not None and can_organise(context.account.role)


def plain_command_handlers() -> list:
    """/start without a payload and /help: no conversation takes them, so they may go before the conversations."""
    return [
        CommandHandler("start", start, has_args=False),
        CommandHandler("help", help_command),
    ]


def command_handlers() -> list:
    """After the conversations and deep links: a /start payload nobody claimed, /cancel with nothing to cancel."""
    return [
        CommandHandler("start", start),
        CommandHandler("cancel", cancel_outside),
    ]


def catch_all_handlers() -> list:
    """Last in the feature group: whatever nothing else answered."""
    return [
        MessageHandler(filters.COMMAND, unknown_command),
        CallbackQueryHandler(stale_button),
        MessageHandler(filters.UpdateType.MESSAGE, stray_message),
    ]
