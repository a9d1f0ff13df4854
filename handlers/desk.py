"""The organisers' desk: ``/checkin`` at the door and ``/override`` for an answer given over the phone.

Both take what an organiser can see or hear (``rules.rsvp.find_delegates``): the invitation number that
every list prints (``/delegates``, the ``/invitations`` workbook, the attendance list), a check-in or
invitation code as it is printed or read out, or the delegate's name, with or without tone marks. A
number, a code or a whole name that fits one person is acted on; anything else — part of a name, a name
several people share — is a pick list (buttons, or the number or the label typed), even for a single
match, so nobody is checked in or answered for by a guess.

``/checkin 42``, ``/checkin K7M2-Q9XD``, ``/checkin Trần Văn Hùng``;
``/override 42 dự đã xác nhận qua điện thoại``, ``/override Lê Thị Mai không dự ốm`` (the answer in
Vietnamese or English, with or without tone marks: dự, tham dự, có dự; không dự, không tham dự, vắng
mặt, từ chối; attend, decline), the reason after it, required and kept in the history.

Callback data: ``desk1:<invitation id>`` one delegate of the pick list (re-checked against the list the
organiser was shown, and the organiser's role again by the rules).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import Translator
from handlers import clarify, guesses, presses
from handlers.common import is_organiser, refuse
from handlers.dialogue import Dialogue
from handlers.keyboards import keyboard
from handlers.presses import ButtonData, Id
from handlers.rsvp import (
    checkin_text,
    enqueue_pass,
    pass_if_seated,
    refusal_text,
    status_word,
    tell_promoted,
)
from rules import address, link_codes, outbox, rsvp, seats
from rules.accounts import AccountSnapshot
from rules.choices import Option
from rules.guesses import GuessKind
from rules.invitations import Status
from rules.roles import NotAllowed, Role, can_review
from rules.rsvp import DelegateMatch, DelegateSearch, DeskErrand, InvitationView
from rules.seats import Outcome, RsvpResult
from rules.text import fold

END = ConversationHandler.END
PICKING = "desk.picking"
PICK = "desk1"
PICK_DATA = ButtonData(PICK, int, Id())
CHECK_IN = "checkin"
ATTEND = "attend"
DECLINE = "decline"


def _account(context: BotContext) -> AccountSnapshot:
    assert context.account is not None
    return context.account


async def _say(update: Update, context: BotContext, text: str, **kwargs: Any) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(update.effective_chat.id, text, **kwargs)


# --- what the organiser typed ---------------------------------------------------------------------------


def _checkin_usage(t: Translator) -> str:
    return t(
        "Type the delegate's check-in code, their number in the lists or their name, for example: /checkin "
        "K7M2-Q9XD, /checkin 42 or /checkin Trần Văn Hùng. Or scan their QR code with your phone's camera."
    )


def _override_usage(t: Translator) -> str:
    return t(
        "To record a delegate's answer for them, type their number in the lists (/delegates, the invitations "
        "and attendance files), their code or their name, then the answer (attend or decline) and the reason, "
        "for example:\n/override 42 attend confirmed by phone\n/override Trần Văn Hùng decline ill\n\n"
        "The reason is required and is kept in the history."
    )


# The answer as organisers type it after the delegate, matched on the folded key (no tone marks, any
# case). Whole phrases only: a bare "có" or "không" could begin a reason, and "vắng" folds to "vâng" (yes).
_ANSWER_WORDS = {
    ATTEND: ("tham dự", "dự", "có dự", "sẽ dự", "có tham dự", "attend", "accept", "attending"),
    DECLINE: (
        "không tham dự",
        "không dự",
        "không đi",
        "vắng mặt",
        "từ chối",
        "decline",
        "not attending",
        "not attend",
    ),
}


def override_answers(t: Translator) -> dict[str, str]:
    """Folded phrase → ``attend`` or ``decline``: the button labels in the person's language, and the
    words above in Vietnamese and English."""
    answers = {fold(t("Attend")): ATTEND, fold(t("Decline")): DECLINE}
    for action, phrases in _ANSWER_WORDS.items():
        answers.update((fold(phrase), action) for phrase in phrases)
    return answers


def split_override(t: Translator, words: list[str]) -> tuple[str, str | None, str]:
    """``Trần Văn Hùng không dự ốm`` → ("Trần Văn Hùng", "decline", "ốm"): the delegate, the answer and
    the reason. The answer is the first words that spell one (the longest there: "không dự" before "dự");
    (everything, None, "") when none does."""
    answers = override_answers(t)
    for start in range(1, len(words)):
        for end in range(min(len(words), start + 3), start, -1):
            action = answers.get(fold(" ".join(words[start:end])))
            if action is not None:
                return " ".join(words[:start]), action, " ".join(words[end:])
    return " ".join(words), None, ""


# --- the commands ---------------------------------------------------------------------------------------


async def checkin_command(update: Update, context: BotContext) -> str | int:
    """``/checkin CODE | NUMBER | NAME``: organisers and reviewers check a delegate in."""
    t = context.t
    if not can_review(_account(context).role):
        await _say(update, context, t("Sorry, only organisers and reviewers can check delegates in."))
        return END
    typed = " ".join(context.args or ())
    if not typed.strip():
        await _say(update, context, _checkin_usage(t))
        return END
    if await guesses.cooling_down(update, context):
        return END
    return await _find(update, context, DeskErrand(action=CHECK_IN, typed=typed))


async def override_command(update: Update, context: BotContext) -> str | int:
    """``/override NUMBER_CODE_OR_NAME attend|decline reason…`` (organisers): also after the deadline."""
    t = context.t
    if not is_organiser(context):
        await _say(update, context, t("Sorry, only organisers can use this command."))
        return END
    who, action, reason = split_override(t, list(context.args or ()))
    if action is None or not who.strip() or not reason.strip():
        await _say(update, context, _override_usage(t))
        return END
    return await _find(update, context, DeskErrand(action=action, reason=reason.strip(), typed=who))


async def _find(update: Update, context: BotContext, errand: DeskErrand) -> str | int:
    account = _account(context)
    checking_in = errand.action == CHECK_IN
    async with context.transaction() as db:
        search = await rsvp.find_delegates(
            db,
            errand.typed,
            secret=context.services.link_secret,
            actor_id=account.id,
            role=Role.REVIEWER if checking_in else Role.ORGANISER,
        )
    if isinstance(search, NotAllowed):
        return await refuse(update, context, search)
    code = link_codes.parse_code(errand.typed)
    if code is not None:  # a code counts in the guessing throttle, as it does when typed anywhere
        guesses.record(update, context, GuessKind.CHECK_IN_CODE, missed=not search.matches)
    if search.exact and len(search.matches) == 1:
        return await _act(update, context, errand, search.matches[0].id)
    if not search.matches:
        await _say(update, context, _not_found_text(context.t, errand, code))
        return END
    if search.too_many:
        await _say(
            update,
            context,
            context.t(
                "More than {count} delegates fit “{typed}”. Please type more of the name, or their number in the "
                "lists.",
                count=context.t.number(len(search.matches)),
                typed=errand.typed,
            ),
        )
        return END
    offered = _offered(errand, search)
    if not offered:
        await _say(update, context, _nobody_seated_text(context.t, errand, search.matches))
        return END
    errand.ids = [match.id for match in offered]
    async with context.transaction() as db:
        await rsvp.keep_errand(db, account.id, errand)
    return await _ask(update, context, errand, offered)


def _offered(errand: DeskErrand, search: DelegateSearch) -> list[DelegateMatch]:
    """Who may be picked: at the door, the delegates with a seat; for an override, everyone found."""
    if errand.action != CHECK_IN:
        return list(search.matches)
    return [match for match in search.matches if match.status == Status.ACCEPTED]


def _not_found_text(t: Translator, errand: DeskErrand, code: str | None) -> str:
    if code is not None:
        return t(
            "No delegate has the code {code}. Please check it and type it again.", code=link_codes.format_code(code)
        )
    return t(
        "I found no delegate with the number, code or name “{typed}”. Type /delegates to see the numbers.",
        typed=errand.typed,
    )


def _nobody_seated_text(t: Translator, errand: DeskErrand, matches: tuple[DelegateMatch, ...]) -> str:
    lines = [t("Nobody who fits “{typed}” has a confirmed seat:", typed=errand.typed)]
    lines += [
        t("• {delegate}: {status}", delegate=_label(t, match, False), status=status_word(t, match.status))
        for match in matches
    ]
    return "\n".join(lines)


# --- the pick list --------------------------------------------------------------------------------------


def _label(t: Translator, match: DelegateMatch, with_conference: bool) -> str:
    text = t("{name} (no. {number})", name=match.full_name, number=match.id)
    if match.unit_name:
        text += f", {match.unit_name}"
    if with_conference:
        text += f" — {match.conference_title}"
    return text + (" ✅" if match.checked_in else "")


def _options(t: Translator, matches: list[DelegateMatch]) -> list[Option]:
    several_conferences = len({match.conference_title for match in matches}) > 1
    return [Option(str(match.id), _label(t, match, several_conferences)) for match in matches]


def _question(t: Translator, errand: DeskErrand) -> str:
    if errand.action == CHECK_IN:
        return t(
            "Delegates who fit “{typed}”: whom do you check in? Choose one from this list.",
            typed=errand.typed,
        )
    answer = t("attending") if errand.action == ATTEND else t("not attending")
    return t(
        "Delegates who fit “{typed}”: for whom do you record “{answer}”? Choose one from this list.",
        typed=errand.typed,
        answer=answer,
    )


async def _ask(
    update: Update, context: BotContext, errand: DeskErrand, offered: list[DelegateMatch], note: str | None = None
) -> str:
    t = context.t
    text = _question(t, errand)
    if note:
        text = f"{note}\n\n{text}"
    await _say(update, context, text, reply_markup=keyboard(PICK, _options(t, offered)))
    return PICKING


async def _still_offered(context: BotContext) -> tuple[DeskErrand, list[DelegateMatch]]:
    async with context.transaction() as db:
        errand = await rsvp.open_errand(db, _account(context).id)
        offered = await rsvp.delegate_matches(db, errand.ids)
    return errand, offered


async def picked_pressed(update: Update, context: BotContext, invitation_id: int) -> str | int:
    errand, offered = await _still_offered(context)
    option = next((o for o in _options(context.t, offered) if o.key == str(invitation_id)), None)
    assert context.press is not None
    if not errand.action or option is None:
        await presses.answer(context, context.t("That choice is no longer available."))
        await context.press.close()
        return END
    await context.press.close(option.label)
    return await _act(update, context, errand, invitation_id)


async def picked_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    errand, offered = await _still_offered(context)
    if not errand.action or not offered:
        await _say(update, context, context.t("That choice is no longer available."))
        return END
    options = _options(context.t, offered)
    result = await clarify.answer(context, PICK, update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return PICKING
    if isinstance(result, clarify.Again):
        return await _ask(update, context, errand, offered, note=result.note)
    return await _act(update, context, errand, int(result.option.key))


async def picked_other(update: Update, context: BotContext) -> str | int:
    errand, offered = await _still_offered(context)
    if not errand.action or not offered:
        return END
    return await _ask(update, context, errand, offered, note=clarify.retry_note(context.t, len(offered)))


async def cancel(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await rsvp.close_errand(db, _account(context).id)
    await _say(update, context, context.t("Cancelled. Nothing was changed."))
    return END


# --- doing it -------------------------------------------------------------------------------------------


async def _act(update: Update, context: BotContext, errand: DeskErrand, invitation_id: int) -> int:
    account, now, t = _account(context), context.now(), context.t
    if errand.action == CHECK_IN:
        async with context.transaction() as db:
            await rsvp.close_errand(db, account.id)
            checked = await rsvp.check_in(db, invitation_id=invitation_id, actor_id=account.id, now=now)
        await _say(update, context, checkin_text(t, checked))
        return END
    async with context.transaction() as db:
        await rsvp.close_errand(db, account.id)
        outcome = await _override(db, context, invitation_id, errand.action, errand.reason)
    if outcome is None:
        await _say(update, context, t("That choice is no longer available."))
        return END
    invitation, result, told = outcome
    await _say(update, context, _override_reply(t, invitation, result, errand.reason, told=told))
    return END


async def _override(
    db: AsyncSession, context: BotContext, invitation_id: int, action: str, reason: str
) -> tuple[InvitationView, RsvpResult, bool] | None:
    account, now = _account(context), context.now()
    if action == ATTEND:
        result = await seats.accept(db, invitation_id, now=now, actor_id=account.id, override_reason=reason)
    else:
        result = await seats.decline(
            db, invitation_id, now=now, reason=reason, actor_id=account.id, override_reason=reason
        )
    invitation = await rsvp.load_view(db, invitation_id, now)
    if invitation is None:
        return None
    told = result.changed and await _tell_overridden(db, context, invitation, result, reason)
    await tell_promoted(db, context, result.promoted)
    return invitation, result, told


def _override_reply(t: Translator, invitation: InvitationView, result: RsvpResult, reason: str, *, told: bool) -> str:
    name = invitation.full_name
    if result.outcome is Outcome.ACCEPTED:
        text = t("Recorded for {name}: attending. Reason: {reason}", name=name, reason=reason)
    elif result.outcome is Outcome.WAITLISTED:
        text = t(
            "{name}'s pool is full, so they are on the waitlist: number {position}. Reason: {reason}",
            name=name,
            position=t.number(result.position or 0),
            reason=reason,
        )
    elif result.outcome is Outcome.DECLINED:
        text = t("Recorded for {name}: not attending. Reason: {reason}", name=name, reason=reason)
    elif result.outcome is Outcome.UNCHANGED:
        return t(
            "{name}'s answer is already: {status}. Nothing was changed.",
            name=name,
            status=status_word(t, result.status),
        )
    elif result.outcome is Outcome.CLOSED:
        return t(
            "{name}'s invitation cannot be answered (status: {status}).",
            name=name,
            status=status_word(t, result.status),
        )
    elif result.outcome is Outcome.LOCKED:
        return t("{name} has already checked in; their answer can no longer be changed.", name=name)
    else:
        return refusal_text(t, result)
    if told:
        text += "\n" + t("I have told them.")
    return text


async def _tell_overridden(
    db: AsyncSession, context: BotContext, invitation: InvitationView, result: RsvpResult, reason: str
) -> bool:
    if invitation.account_id is None:
        return False
    t = context.services.translators.get(await rsvp.account_locale(db, invitation.account_id))
    if result.outcome is Outcome.WAITLISTED:
        answer = t("on the waitlist, number {position}", position=t.number(result.position or 0))
    else:
        answer = status_word(t, result.status)
    key = f"rsvp.override:{invitation.id}:{result.event_id}"
    await outbox.enqueue(
        db,
        account_id=invitation.account_id,
        text=t(
            "Dear {honorific} {name},\nThe organisers have recorded your answer for {conference}: {answer}. "
            "Reason: {reason}",
            honorific=address.honorific(t, invitation.gender),
            name=invitation.full_name,
            conference=invitation.conference.title,
            answer=answer,
            reason=reason,
        ),
        dedupe_key=key,
        topic=f"invitation:{invitation.id}",
        now=context.now(),
    )
    if result.status == Status.ACCEPTED:
        delegate = await pass_if_seated(db, context, result)
        if delegate is not None:
            await enqueue_pass(db, context, delegate, account_id=invitation.account_id, t=t, key=key)
    return True


def conversation() -> ConversationHandler[BotContext]:
    """``/checkin`` and ``/override``, with the pick list they may ask; it goes before the delegate's
    conversation (``handlers.rsvp``), which takes typed codes: a number typed at the list is its answer."""
    commands: list[BaseHandler[Update, BotContext, Any]] = [
        CommandHandler("checkin", checkin_command),
        CommandHandler("override", override_command),
    ]
    button: BaseHandler[Update, BotContext, Any] = presses.button(PICK_DATA, picked_pressed)
    return Dialogue(
        entry_points=[*commands, button],
        states={
            PICKING: [
                button,
                MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, picked_typed),
                MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, picked_other),
            ]
        },
        fallbacks=[CommandHandler("cancel", cancel), *commands, button],
        name="desk",
        persistent=True,
        allow_reentry=True,
    )


__all__ = ["conversation", "override_answers", "split_override"]
