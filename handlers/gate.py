"""What the bot does with updates that are not a person writing to it in a private chat.

The features (every conversation, command and button) serve private chats only: they hold personal data
and personal links, and their questions are asked of one person. Everything else is settled here, before
any feature or account is touched:

- **Groups and supergroups.** The bot stays quiet unless it is addressed: a command of ours (``/help``,
  ``/start@dienhinh_bot``), a mention of its @username, or a reply to one of its messages. Then it answers
  once, in the group, that it works in private chats, with a button that opens one. A personal link
  (``/start inv_…``, ``chk_``, ``unit_``, ``end_``, or ``/start`` with a link's code) posted in a group
  binds nothing: the person is told to open it in a private chat and that others in the group may have
  seen it. A button pressed in a group is answered with the same advice (the bot never puts its own
  buttons in groups).
- **Channels** (the channel where approved exemplars are published): posts and edits are ignored.
- **Edited messages** in a private chat: an edit is never acted on. An edited command was answered when it
  was first sent, so it is ignored; an edited answer gets a note that only new messages are read, so the
  person sends the correction again (the question they are at is still open).
- **Anything else** (inline queries, reactions, polls, membership changes, business messages…): ignored.
"""

from __future__ import annotations

import logging

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, MessageEntity, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, MessageHandler, TypeHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from handlers.menu import COMMANDS
from rules.link_codes import parse_code

logger = logging.getLogger(__name__)

PERSONAL_LINK_PREFIXES = ("inv_", "chk_", "unit_", "end_")
_OUR_COMMANDS = frozenset(command.name for command in COMMANDS)


def is_private_conversation(update: Update) -> bool:
    """A new message, or a button press, from a person in their private chat with the bot."""
    if update.message is not None:
        return update.message.chat.type == Chat.PRIVATE
    query = update.callback_query
    if query is not None:
        return query.message is not None and query.message.chat.type == Chat.PRIVATE
    return False


async def gate(update: Update, context: BotContext) -> None:
    """Group -2: let private messages and presses through; settle every other update here and stop."""
    if is_private_conversation(update) or (update.edited_message is not None and _is_private(update)):
        return
    t = context.services.translators.default
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(_private_only(t), show_alert=True)
        elif update.message is not None and _addressed(update.message, context.bot.username):
            await _answer_in_group(update.message, context, t)
    except TelegramError as error:
        logger.warning("could not answer update %s outside a private chat: %s", update.update_id, error)
    raise ApplicationHandlerStop


def _is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == Chat.PRIVATE


def _command(message: Message) -> tuple[str, str, str] | None:
    """(command, @bot or "", argument) of a message that starts with a command."""
    entities = message.entities or ()
    if not entities or entities[0].type != MessageEntity.BOT_COMMAND or entities[0].offset != 0 or not message.text:
        return None
    word = message.text[1 : entities[0].length]
    command, _, bot = word.partition("@")
    return command.lower(), bot.lower(), message.text[entities[0].length :].strip()


def _addressed(message: Message, username: str) -> bool:
    """Whether a group message is meant for this bot (with privacy mode on, Telegram sends little else)."""
    own = username.lower()
    command = _command(message)
    if command is not None:
        name, bot, _ = command
        return bot == own if bot else name in _OUR_COMMANDS
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and (replied.from_user.username or "").lower() == own:
        return True
    text = message.text or message.caption or ""
    return f"@{own}" in text.lower()


def _private_only(t: Translator) -> str:
    return t(
        "I only work in private chats, so that everyone's personal details stay private. Please write to me directly."
    )


def _is_personal(argument: str) -> bool:
    """A personal link's payload, or its typed code (``/start K7M2-Q9XD``)."""
    return argument.startswith(PERSONAL_LINK_PREFIXES) or parse_code(argument) is not None


async def _answer_in_group(message: Message, context: BotContext, t: Translator) -> None:
    command = _command(message)
    personal = command is not None and command[0] == "start" and _is_personal(command[2])
    if personal:
        text = t(
            "This is a personal link: please open it in a private chat with me, not in a group. Nothing was recorded. Others in this group may have seen it: if it no longer works for you, ask whoever sent it for a new one."
        )
    else:
        text = _private_only(t)
    button = InlineKeyboardButton(t("Open a private chat"), url=f"https://t.me/{context.bot.username}")
    await context.bot.send_message(message.chat.id, text, reply_markup=InlineKeyboardMarkup([[button]]))


async def edited(update: Update, context: BotContext) -> None:
    """An edited message in a private chat: never acted on (see the module's docstring)."""
    message = update.edited_message
    if message is None:
        return
    if _command(message) is None and (message.text or message.caption):
        await context.bot.send_message(
            message.chat.id,
            context.t(
                "I saw that you edited a message. I only read new messages: if you meant to change an answer, please send it again."
            ),
        )
    raise ApplicationHandlerStop


def gate_handler() -> BaseHandler[Update, BotContext, None]:
    return TypeHandler(Update, gate)


def edited_handler() -> BaseHandler[Update, BotContext, None]:
    return MessageHandler(filters.UpdateType.EDITED_MESSAGE, edited)
