"""Endorsements by chat: ``/start end_<token>`` (or the link's typed code) shows a nomination's public
summary with an "Endorse" button (typing "ủng hộ" or "1" works too); ``/share CODE`` gives the nominator a
new link, and its code, to pass around.

The button carries the link's token, never a nomination id, and every press is checked again on the
server: a second press, or a press after the nomination was withdrawn or rejected, is refused.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from handlers import clarify, guesses
from handlers.dialogue import Dialogue
from handlers.keyboards import keyboard
from handlers.link_codes import or_type_code
from handlers.presses import ButtonData, Choice, Key, button
from rules import endorsements, identities, link_codes
from rules.choices import NO, YES, Option
from rules.endorsements import EndorseOutcome, EndorseResult, PublicSummary, ShareOutcome
from rules.guesses import GuessKind
from rules.link_codes import TypedCode, format_code
from rules.tokens import split_payload
from storage import scratch

CONFIRMING = "endorse.confirming"
# In user_data while the question is open (not persisted: after a restart the person opens the link again).
TOKEN = "endorse.token"
PREFIX = "end"


class EndorseAnswer(NamedTuple):
    answer: str
    token: str


DATA = ButtonData(PREFIX, EndorseAnswer, Choice("yes", "no"), Key(r"[A-Za-z0-9_-]{1,64}"))


def _memory(context: BotContext) -> dict[Any, Any]:
    """What this person is in the middle of (``user_data``: kept in memory only, see above)."""
    assert context.user_data is not None  # every update here comes from a person
    return context.user_data


def _options(t: Translator, token: str = "") -> list[Option]:
    # The token rides in the key (callback data "end:yes:<token>", 32 bytes), so a press is re-checked
    # against the link it came from; after a typed code, the code does (see _typed_code).
    return [
        Option(f"yes:{token}", t("Endorse"), aliases=("ủng hộ", "endorse"), means=YES),
        Option(f"no:{token}", t("Not now"), aliases=("để sau", "not now"), means=NO),
    ]


def share_message(
    t: Translator,
    *,
    bot_username: str,
    code: str,
    nominee_name: str,
    token: str,
    short_code: str,
    count: int = 0,
    channel: str = identities.TELEGRAM,
) -> str:
    """What the nominator reads with a share link and its typed code (``short_code``, canonical) on /share;
    on Zalo, which has no deep links, the code to send instead of the link."""
    if channel == identities.ZALO:
        return t(
            "People who know {name} ({code}) can endorse the nomination once by sending this bot on Zalo the "
            "message below. They see a short summary, without phone numbers or personal details:\n{command}\n\n"
            "Endorsements so far: {count}.",
            name=nominee_name,
            code=code,
            command=format_code(short_code),
            count=t.number(count),
        )
    return t(
        "Share this link with people who know {name} ({code}). Whoever opens it sees a short summary, without "
        "phone numbers or personal details, and can endorse the nomination once:\n{url}\n{or_code}\n\n"
        "Endorsements so far: {count}.",
        name=nominee_name,
        code=code,
        url=endorsements.share_url(bot_username, token),
        or_code=or_type_code(t, format_code(short_code)),
        count=t.number(count),
    )


def summary_text(t: Translator, summary: PublicSummary) -> str:
    """The public summary, one line per known field (each line a whole sentence of its own)."""
    lines = [t("Nomination {code}", code=summary.code or "")]
    lines.append(t("• Nominee: {name}", name=summary.nominee_name))
    if summary.unit_name:
        lines.append(t("• Unit: {unit}", unit=summary.unit_name))
    if summary.title_label:
        lines.append(t("• Proposed for: {title}", title=summary.title_label))
    if summary.movement_label:
        lines.append(t("• Emulation movement: {movement}", movement=summary.movement_label))
    if summary.achievements_excerpt:
        lines.append(t("• Achievements: {text}", text=summary.achievements_excerpt))
    return "\n".join(lines)


def _not_valid(t: Translator) -> str:
    return t(
        "Sorry, this link is not valid any more: the nominator may have made a new one. Please ask them for "
        "the current link."
    )


def _closed(t: Translator) -> str:
    return t("Sorry, this nomination is no longer open to endorsements.")


def _already(t: Translator, result: EndorseResult) -> str:
    assert result.endorsed_at is not None
    return t("You already endorsed this nomination on {date}. Thank you!", date=t.date(result.endorsed_at))


# --- /start end_<token> ------------------------------------------------------------------------------


async def open_share_link(update: Update, context: BotContext) -> str | int:
    """``/start end_<token>``."""
    token = split_payload(context.args[0], PREFIX) if context.args else None
    return await open_share_link_with(update, context, token=token or "")


async def open_share_link_with(
    update: Update, context: BotContext, *, token: str = "", code: TypedCode | None = None
) -> str | int:
    """Open a share link by its ``token`` or its typed ``code``: the summary and the question, if any."""
    assert update.message is not None and context.account is not None
    t = context.t
    if await guesses.cooling_down(update, context):
        return ConversationHandler.END
    async with context.transaction() as db:
        view = await endorsements.open_share_link(
            db, token=token, account_id=context.account.id, locale=t.locale, code=code
        )
    kind = GuessKind.TYPED_CODE if code else GuessKind.ENDORSEMENT_LINK
    guesses.record(update, context, kind, missed=view.outcome is EndorseOutcome.UNKNOWN)
    # What the answer is checked against: the link's token, or the code that stood for it.
    key = code.value if code is not None else token
    if view.outcome is EndorseOutcome.UNKNOWN or view.summary is None or not key:
        await update.message.reply_text(_not_valid(t))
        return ConversationHandler.END
    summary = summary_text(t, view.summary)
    if view.outcome is not EndorseOutcome.CAN_ENDORSE:
        await update.message.reply_text(f"{summary}\n\n{_opened_note(t, view)}")
        return ConversationHandler.END
    _memory(context)[TOKEN] = {"token": key, "name": view.summary.nominee_name}
    await update.message.reply_text(
        f"{summary}\n\n{_question(t, view.summary.nominee_name)}",
        reply_markup=keyboard(PREFIX, _options(t, key), columns=2),
    )
    return CONFIRMING


def _opened_note(t: Translator, view: EndorseResult) -> str:
    if view.outcome is EndorseOutcome.OWN:
        assert view.summary is not None
        return t(
            "This is your own nomination, so you cannot endorse it. Share the link with people who know {name}. "
            "Endorsements so far: {count}.",
            name=view.summary.nominee_name,
            count=t.number(view.count),
        )
    if view.outcome is EndorseOutcome.ALREADY:
        return _already(t, view)
    return t("This nomination is no longer open to endorsements.")


def _question(t: Translator, nominee_name: str) -> str:
    return t(
        "Do you know {name} and recognise these achievements? If so, choose “Endorse”. "
        "The reviewers will see your name among those who endorsed.",
        name=nominee_name,
    )


def _open_question(context: BotContext) -> dict[str, str] | None:
    question: dict[str, str] | None = _memory(context).get(TOKEN)
    return question


# --- the answer --------------------------------------------------------------------------------------


def _typed_code(context: BotContext, key: str) -> TypedCode | None:
    """The typed code a question's key stands for, or None when the key is a link's token.

    Tokens are 24 characters and codes 8 (``rules.link_codes``), so the two never meet.
    """
    return link_codes.typed_code(context.services.link_secret, key) if link_codes.is_canonical(key) else None


async def _endorse(context: BotContext, key: str) -> EndorseResult:
    assert context.account is not None
    async with context.transaction() as db:
        return await endorsements.endorse(
            db,
            token=key,
            account_id=context.account.id,
            now=context.now(),
            locale=context.t.locale,
            code=_typed_code(context, key),
        )


def _endorse_reply(t: Translator, result: EndorseResult) -> str:
    if result.outcome is EndorseOutcome.ENDORSED:
        assert result.summary is not None
        return t(
            "Thank you! Your endorsement of {name} is recorded. Endorsements so far: {count}.",
            name=result.summary.nominee_name,
            count=t.number(result.count),
        )
    if result.outcome is EndorseOutcome.ALREADY:
        return _already(t, result)
    if result.outcome is EndorseOutcome.OWN:
        return t("You cannot endorse your own nomination.")
    if result.outcome is EndorseOutcome.CLOSED:
        return _closed(t)
    return _not_valid(t)


def _not_now(t: Translator) -> str:
    return t("All right. You can open the link again at any time to endorse.")


async def pressed(update: Update, context: BotContext, chosen: EndorseAnswer) -> int:
    """A press of "Endorse" or "Not now", in the conversation or long after it (re-checked either way)."""
    press = context.press
    assert press is not None and update.effective_chat is not None
    t = context.t
    _memory(context).pop(TOKEN, None)
    if chosen.answer == "no":
        await press.close()
        await context.bot.send_message(update.effective_chat.id, _not_now(t))
        return ConversationHandler.END
    # A button's data can be forged: one carrying a code (40 bits, not 144) is a guess like a typed code.
    guessing = _typed_code(context, chosen.token) is not None
    if guessing and await guesses.cooling_down(update, context):
        await press.answer()
        return ConversationHandler.END
    result = await _endorse(context, chosen.token)
    if guessing:
        guesses.record(update, context, GuessKind.TYPED_CODE, missed=result.outcome is EndorseOutcome.UNKNOWN)
    if result.outcome is EndorseOutcome.ENDORSED:
        await press.close()
        await context.bot.send_message(update.effective_chat.id, _endorse_reply(t, result))
    else:
        await press.answer(_endorse_reply(t, result), alert=True)
        await press.close()
    return ConversationHandler.END


async def typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None and update.message.text is not None
    t = context.t
    question = _open_question(context)
    if question is None:
        await update.message.reply_text(
            t("Sorry, I lost track of which nomination this was. Please open the link again.")
        )
        return ConversationHandler.END
    token = question["token"]
    typed_answer = await clarify.answer(context, PREFIX, update.message.text, _options(t, token), columns=2)
    if isinstance(typed_answer, clarify.Ask):
        await clarify.send(update, context, typed_answer)
        return CONFIRMING
    if isinstance(typed_answer, clarify.Again):
        return await other(update, context, note=typed_answer.note)
    option = typed_answer.option
    _memory(context).pop(TOKEN, None)
    if option.key.startswith("no:"):
        await update.message.reply_text(_not_now(t))
        return ConversationHandler.END
    result = await _endorse(context, token)
    await update.message.reply_text(_endorse_reply(t, result))
    return ConversationHandler.END


async def other(update: Update, context: BotContext, note: str | None = None) -> str | int:
    """Anything but an answer: a note and the same question again."""
    assert update.message is not None
    t = context.t
    question = _open_question(context)
    if question is None:
        await update.message.reply_text(
            t("Sorry, I lost track of which nomination this was. Please open the link again.")
        )
        return ConversationHandler.END
    options = _options(t, question["token"])
    note = note or clarify.retry_note(t, len(options))
    await update.message.reply_text(
        f"{note}\n\n{_question(t, question['name'])}", reply_markup=keyboard(PREFIX, options, columns=2)
    )
    return CONFIRMING


async def cancel(update: Update, context: BotContext) -> int:
    assert update.message is not None
    _memory(context).pop(TOKEN, None)
    await update.message.reply_text(context.t("Cancelled. Nothing was changed."))
    return ConversationHandler.END


# --- /share CODE -------------------------------------------------------------------------------------

SHARE_OFFERED = "share.offered"
SHARE_DESK = "share"  # scratch row: {"code": the nomination whose link was shown}
SHARE_CONFIRMING = "share.confirming"
REVOKE = "revoke"
# "Revoke the old link…" under the link (``shr:revoke:<nomination code>``), then the confirmation
# (``shc:yes|no:<nomination code>``); each press is checked again by the rule (the nominator's own).
OFFER_DATA = ButtonData("shr", lambda answer, code: code, Choice(REVOKE), Key(r"[A-Za-z0-9-]{1,32}"))
CONFIRM_DATA = ButtonData("shc", EndorseAnswer, Choice("yes", "no"), Key(r"[A-Za-z0-9-]{1,32}"))
# A typed answer to the offer: its number or its words; anything else is not for this question.
OFFER_TYPED = filters.Regex(r"(?i)^\s*(1|thu\s*h[ồoô]i.*|revoke.*)\s*$")


def _offer_options(t: Translator, code: str) -> list[Option]:
    return [
        Option(
            f"{REVOKE}:{code}",
            t("Revoke the old link, make a new one"),
            aliases=("thu hồi", "thu hồi liên kết", "revoke"),
        )
    ]


def _confirm_options(t: Translator, code: str) -> list[Option]:
    return [
        Option(f"yes:{code}", t("Revoke it and make a new link"), aliases=("thu hồi", "revoke"), means=YES),
        Option(f"no:{code}", t("No, keep the current link"), aliases=("giữ", "keep"), means=NO),
    ]


async def share(update: Update, context: BotContext) -> str | int:
    """The nominator asks for the share link of one of their nominations: the same link every time."""
    assert update.message is not None and context.account is not None
    t = context.t
    code = " ".join(context.args or ())
    if not code:
        async with context.transaction() as db:
            mine = await endorsements.shareable_nominations(db, context.account.id)
        if len(mine) != 1:
            await update.message.reply_text(_which_nomination(t, mine))
            return ConversationHandler.END
        code = mine[0].code
    async with context.transaction() as db:
        result = await endorsements.share_link_for(
            db, code=code, account_id=context.account.id, secret=context.services.link_secret
        )
        if result.outcome is ShareOutcome.CREATED:
            # Which nomination a typed "1" (revoke) is about; kept across a restart.
            await scratch.remember(db, SHARE_DESK, context.account.id, {"code": result.code})
    if result.outcome is not ShareOutcome.CREATED or result.token is None:
        await update.message.reply_text(_share_refusal(t, result))
        return ConversationHandler.END
    await update.message.reply_text(
        _share_text(context, result), reply_markup=keyboard(OFFER_DATA.prefix, _offer_options(t, result.code))
    )
    return SHARE_OFFERED


def _share_refusal(t: Translator, result: endorsements.ShareResult) -> str:
    if result.outcome is ShareOutcome.NOT_FOUND:
        return t(
            "I cannot find a nomination with the code {code} among those you sent. Please check the code "
            "(for example DH-2020-0001).",
            code=result.code,
        )
    return t(
        "Nomination {code} cannot gather endorsements now: only nominations that have been sent in and "
        "are under consideration or approved can.",
        code=result.code,
    )


def _share_text(context: BotContext, result: endorsements.ShareResult) -> str:
    return share_message(
        context.t,
        bot_username=context.bot.username,
        code=result.code,
        nominee_name=result.nominee_name or "",
        token=result.token or "",
        short_code=result.short_code or "",
        count=result.count,
        channel=context.channel,
    )


async def _ask_to_revoke(update: Update, context: BotContext, code: str) -> str:
    t = context.t
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id,
        t(
            "If you revoke the link of {code}, the link and the code you handed out stop working: people who "
            "have them can no longer endorse. Endorsements given so far stay. Revoke it and make a new link?",
            code=code,
        ),
        reply_markup=keyboard(CONFIRM_DATA.prefix, _confirm_options(t, code)),
    )
    return SHARE_CONFIRMING


async def revoke_pressed(update: Update, context: BotContext, code: str) -> str:
    assert context.press is not None
    await context.press.close()
    return await _ask_to_revoke(update, context, code)


async def _shared_code(context: BotContext) -> str | None:
    """The nomination whose link the person was shown last (/share)."""
    assert context.account is not None
    async with context.transaction() as db:
        desk = await scratch.recall(db, SHARE_DESK, context.account.id)
    code = desk.get("code")
    return code if isinstance(code, str) else None


async def _lost_track(update: Update, context: BotContext) -> int:
    assert update.message is not None
    await update.message.reply_text(
        context.t("Sorry, I lost track of which nomination this was. Type /share and its code again.")
    )
    return ConversationHandler.END


async def revoke_typed(update: Update, context: BotContext) -> str | int:
    """A typed "1" or "thu hồi" under the link: the same as the button (Zalo has none)."""
    assert update.message is not None
    code = await _shared_code(context)
    if code is None:
        return await _lost_track(update, context)
    options = _offer_options(context.t, code)
    answer = await clarify.answer(context, OFFER_DATA.prefix, update.message.text or "", options)
    if isinstance(answer, clarify.Ask):
        await clarify.send(update, context, answer)
        return SHARE_OFFERED
    if isinstance(answer, clarify.Again):
        await update.message.reply_text(answer.note, reply_markup=keyboard(OFFER_DATA.prefix, options))
        return SHARE_OFFERED
    return await _ask_to_revoke(update, context, code)


async def revoke_confirm_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    code = await _shared_code(context)
    if code is None:
        return await _lost_track(update, context)
    options = _confirm_options(context.t, code)
    answer = await clarify.answer(context, CONFIRM_DATA.prefix, update.message.text or "", options)
    if isinstance(answer, clarify.Ask):
        await clarify.send(update, context, answer)
        return SHARE_CONFIRMING
    if isinstance(answer, clarify.Again):
        await update.message.reply_text(answer.note, reply_markup=keyboard(CONFIRM_DATA.prefix, options))
        return SHARE_CONFIRMING
    choice, _ = answer.option.key.split(":", 1)
    return await _revoke_decided(update, context, EndorseAnswer(choice, code))


async def _revoke_decided(update: Update, context: BotContext, chosen: EndorseAnswer) -> int:
    assert context.account is not None and update.effective_chat is not None
    t = context.t
    async with context.transaction() as db:
        await scratch.forget(db, SHARE_DESK, context.account.id)
    if chosen.answer == "no":
        await context.bot.send_message(update.effective_chat.id, t("All right: the current link keeps working."))
        return ConversationHandler.END
    async with context.transaction() as db:
        result = await endorsements.revoke_share_link(
            db,
            code=chosen.token,
            account_id=context.account.id,
            secret=context.services.link_secret,
            now=context.now(),
        )
    if result.outcome is not ShareOutcome.CREATED or result.token is None:
        await context.bot.send_message(update.effective_chat.id, _share_refusal(t, result))
        return ConversationHandler.END
    text = (
        t("Done: the old link and its code no longer work. This is the new one.")
        + "\n\n"
        + _share_text(context, result)
    )
    await context.bot.send_message(update.effective_chat.id, text)
    return ConversationHandler.END


async def confirm_pressed(update: Update, context: BotContext, chosen: EndorseAnswer) -> int:
    assert context.press is not None
    await context.press.close()
    return await _revoke_decided(update, context, chosen)


def _which_nomination(t: Translator, mine: list[endorsements.Shareable]) -> str:
    if not mine:
        return t(
            "You have no nomination that can gather endorsements yet. A share link is made when you send in a "
            "nomination."
        )
    listing = "\n".join(f"• {item.code} — {item.nominee_name}" for item in mine)
    return t(
        "Which nomination? Type /share followed by its code, for example /share {code}.\n\n{listing}",
        code=mine[0].code,
        listing=listing,
    )


def question_handlers() -> list[BaseHandler[Update, BotContext, Any]]:
    """The question "Do you endorse?": here, and in the conversation that hosts typed codes (handlers.rsvp)."""
    return [
        button(DATA, pressed),
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, typed),
        MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, other),
    ]


def handlers() -> list[Any]:
    """The /start end_ deep link must come before the generic /start (see bot.app)."""
    conversation = Dialogue(
        entry_points=[CommandHandler("start", open_share_link, filters=filters.Regex(r"^/start(@\w+)? end_"))],
        states={CONFIRMING: question_handlers()},
        fallbacks=[CommandHandler("cancel", cancel)],
        name="endorse",
        persistent=True,
        allow_reentry=True,
    )
    return [conversation]


def share_conversation() -> ConversationHandler[BotContext]:
    """/share, and the offer under the link to revoke it. It goes after every other conversation (see
    bot.app): the offer takes only its own typed answer ("1", "thu hồi"), when no other question does."""
    offered: list[BaseHandler[Update, BotContext, Any]] = [
        button(OFFER_DATA, revoke_pressed),
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & OFFER_TYPED, revoke_typed),
    ]
    confirming: list[BaseHandler[Update, BotContext, Any]] = [
        button(CONFIRM_DATA, confirm_pressed),
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, revoke_confirm_typed),
    ]
    return Dialogue(
        entry_points=[CommandHandler("share", share), *offered[:1], confirming[0]],
        states={SHARE_OFFERED: offered, SHARE_CONFIRMING: confirming},
        fallbacks=[CommandHandler("share", share), CommandHandler("cancel", cancel)],
        name="share",
        persistent=True,
        allow_reentry=True,
    )


def late_press() -> BaseHandler[Update, BotContext, Any]:
    """A press after the question ended (the person typed /cancel, or pressed a second time). It goes after
    every conversation that asks the question (here, and handlers.rsvp for typed codes), so that a press
    while one of them asks it ends that conversation's question."""
    return button(DATA, pressed)
