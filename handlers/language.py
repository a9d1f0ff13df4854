"""/lang: the person chooses Vietnamese or English; stored on their account."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler

from bot.context import BotContext
from handlers.common import refresh_menu
from handlers.dialogue import Dialogue
from handlers.keyboards import ChoicePrompt
from rules import accounts
from rules.choices import Option

CHOOSING = "language.choosing"

# Each language is named in itself, so a person who can't read the current one still finds theirs.
LANGUAGES = (
    Option("vi", "Tiếng Việt", aliases=("Vietnamese", "vi")),
    Option("en", "English", aliases=("Tiếng Anh", "en")),
)


async def _chosen(update: Update, context: BotContext, option: Option) -> str:
    assert context.account is not None and update.effective_chat is not None
    async with context.transaction() as db:
        account = await accounts.set_locale(db, context.account.id, option.key)
    context.use_account(account)
    await context.bot.send_message(update.effective_chat.id, context.t("Done: I will use English from now on."))
    await refresh_menu(context, update.effective_chat.id)
    return ConversationHandler.END  # type: ignore[return-value]


PROMPT = ChoicePrompt(
    "lang",
    question=lambda context: context.t("Which language do you prefer?"),
    options=lambda context: LANGUAGES,
    on_choice=_chosen,
)


async def ask(update: Update, context: BotContext) -> str | int:
    if context.args:
        # "/lang english" answers the question at once; "/lang eng" is asked back like a typed answer.
        state = await PROMPT.answer_typed(update, context, " ".join(context.args))
        return CHOOSING if state is None else state
    await PROMPT.ask(update, context)
    return CHOOSING


async def cancel(update: Update, context: BotContext) -> int:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, context.t("Cancelled. Nothing was changed."))
    return ConversationHandler.END


def conversation() -> ConversationHandler:
    return Dialogue(
        entry_points=[CommandHandler("lang", ask)],
        states={CHOOSING: PROMPT.handlers()},
        fallbacks=[CommandHandler("cancel", cancel), CommandHandler("lang", ask)],
        name="language",
        interrupts=False,
        persistent=True,
        allow_reentry=True,
    )
