"""Invitations in chat: a delegate's personal link and answers, substitutes, check-in, overrides.

A delegate opens ``/start inv_<token>`` (or types their invitation code, or ``/rsvp``) and sees the
conference card with the buttons Attend / Decline / Propose a substitute (each can be typed too).
Declining asks for a reason; a substitute is five short questions (name, gender, year of birth,
occupation, position and unit) and goes to the organisers. An accepted delegate gets their check-in
code, a QR of their ``chk_`` link and a calendar file; a full pool puts them on the waitlist with their
position. Answers can be changed by opening the link again or with ``/rsvp`` until the RSVP deadline.
Typed codes of every kind enter through this conversation (``handlers.typed_codes``), which is why it
is the last one.

``/cancel`` at the decline reason or a substitute's question shows the card again, with its answers.

Organisers: ``/substitutes`` (each proposal with its effect on the balance, Approve / Reject / Skip) and,
with reviewers, scanning a delegate's QR (``/start chk_<token>``); ``/checkin`` and ``/override`` are in
``handlers.desk``.

Callback data, versioned and re-checked on the server:
``rsvp1:<a|d|s>:<invitation id>`` a card's action (the presser must be the invitee);
``rsvpl:<invitation id>`` one of several invitations (``/rsvp``);
``rsvpg:<gender>``, ``rsvpo:<occupation>`` the substitute's answers;
``rsub1:<a|r|n>:<proposal id>`` approve, reject or skip a proposed substitute (organisers).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, endorse, guesses, presses
from handlers.common import is_organiser, refuse
from handlers.dialogue import Dialogue
from handlers.keyboards import ChoicePrompt, close_keyboard, keyboard
from handlers.link_codes import or_type_invitation_code
from handlers.presses import ButtonData, Choice, Id
from rules import address, balance, intake, links, outbox, rsvp, seats
from rules.accounts import AccountSnapshot
from rules.choices import NO, YES, Option
from rules.guesses import GuessKind
from rules.intake import Problem, Step
from rules.invitations import Person, Status, code_of
from rules.link_codes import TypedCode
from rules.refdata import reference
from rules.roles import NotAllowed, can_review
from rules.rsvp import (
    BalanceEffect,
    CheckInOutcome,
    CheckInResult,
    DelegatePass,
    InvitationView,
    OpenOutcome,
    OpenResult,
    ProposalView,
    RsvpForm,
    SubstituteOutcome,
    SubstituteResult,
)
from rules.seats import Outcome, Promotion, RsvpResult
from rules.text import title_for
from rules.tokens import split_payload

END = ConversationHandler.END
CARD = "rsvp.card"
PICKING = "rsvp.picking"
REASON = "rsvp.reason"
SUB_NAME = "rsvp.sub_name"
SUB_GENDER = "rsvp.sub_gender"
SUB_YEAR = "rsvp.sub_year"
SUB_OCCUPATION = "rsvp.sub_occupation"
SUB_POSITION = "rsvp.sub_position"
DECIDING = "substitutes.deciding"


class CardPress(NamedTuple):
    action: str
    invitation_id: int


class ProposalPress(NamedTuple):
    action: str
    proposal_id: int


CARD_DATA = ButtonData("rsvp1", CardPress, Choice(*"ads"), Id())
PICK_DATA = ButtonData("rsvpl", int, Id())
PROPOSAL_DATA = ButtonData("rsub1", ProposalPress, Choice(*"arn"), Id())
HALF_DAY_MINUTES = 240

STATUS_WORDS: dict[str, str] = {
    Status.PROPOSED: N_("proposed substitute"),
    Status.PENDING: N_("waiting for an answer"),
    Status.ACCEPTED: N_("attending"),
    Status.DECLINED: N_("not attending"),
    Status.WAITLISTED: N_("on the waitlist"),
    Status.SUBSTITUTED: N_("replaced by a substitute"),
    Status.CANCELLED: N_("withdrawn by the organisers"),
}


def status_word(t: Translator, status: str | None) -> str:
    return t(STATUS_WORDS[status]) if status in STATUS_WORDS else status or ""


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def _account(context: BotContext) -> AccountSnapshot:
    assert context.account is not None
    return context.account


async def _say(update: Update, context: BotContext, text: str, **kwargs: Any) -> None:
    await context.bot.send_message(_chat_id(update), text, **kwargs)


async def _answer_query(context: BotContext, text: str | None = None) -> None:
    await presses.answer(context, text)


def _retry_note(t: Translator, count: int) -> str:
    return clarify.retry_note(t, count)


# --- the conference card ---------------------------------------------------------------------------------


def duration_text(t: Translator, minutes: int) -> str:
    """``½ ngày (4 giờ)``, ``2 giờ``, ``90 phút``."""
    if minutes % 60:
        return t("{minutes} minutes", minutes=t.number(minutes))
    hours = t("1 hour") if minutes == 60 else t("{hours} hours", hours=t.number(minutes // 60))
    return t("half a day ({hours})", hours=hours) if minutes == HALF_DAY_MINUTES else hours


def when_text(t: Translator, conference: rsvp.ConferenceView) -> str:
    """The date and time, or the plan's window while the day is not fixed ("Quý II/2020")."""
    if conference.starts_at is not None:
        return t.datetime(conference.starts_at)
    if conference.window_start is not None:
        return t("{quarter} (the exact date will be announced)", quarter=t.quarter(conference.window_start))
    if conference.window_end is not None:
        return t("no later than {date} (the exact date will be announced)", date=t.date(conference.window_end))
    return t("to be announced")


def _addressed(t: Translator, gender: str | None, name: str) -> dict[str, str]:
    """The values a message to a delegate names them with: ``{honorific} {name}`` ("ông Lê Văn Hùng")."""
    return {"honorific": address.honorific(t, gender), "name": name}


def _answer_line(t: Translator, invitation: InvitationView) -> str:
    status = invitation.status
    if status == Status.ACCEPTED:
        return t("Your answer: you will attend.")
    if status == Status.DECLINED:
        return t("Your answer: you will not attend.")
    if status == Status.WAITLISTED:
        return t(
            "Your answer: you will attend. All seats are taken for now: you are number {position} on the waitlist.",
            position=t.number(invitation.position or 0),
        )
    return t("You have not answered yet.")


def _deadline_line(t: Translator, invitation: InvitationView) -> str | None:
    deadline = invitation.conference.rsvp_deadline
    if invitation.checked_in_at is not None:
        return t("You checked in at {time}.", time=t.datetime(invitation.checked_in_at))
    if invitation.locked and deadline is not None:
        return _locked_text(t, deadline)
    if deadline is None:
        return None
    if invitation.status == Status.PENDING:
        return t("Please answer by {deadline}.", deadline=t.datetime(deadline))
    return t(
        "You can change your answer until {deadline}: open your link again or type /rsvp.",
        deadline=t.datetime(deadline),
    )


def _locked_text(t: Translator, deadline: Any) -> str:
    return t(
        "Answers closed on {deadline}, so your answer can no longer be changed here. If something has changed, "
        "please contact the organisers.",
        deadline=t.datetime(deadline),
    )


def card_text(t: Translator, invitation: InvitationView, code: str | None = None) -> str:
    """The invitation as its delegate reads it; ``code`` (shown) is their invitation code, which opens it
    again anywhere (on Zalo too)."""
    conference = invitation.conference
    lines = [
        t("Invitation to {conference}", conference=title_for(t.locale, conference.title, conference.title_en)),
        t(
            "We respectfully invite {honorific} {name} to attend ({pool}).",
            pool=invitation.pool_in(t.locale),
            **_addressed(t, invitation.gender, invitation.full_name),
        ),
        t("When: {when}", when=when_text(t, conference)),
        t("Where: {venue}", venue=conference.venue or t("to be announced")),
    ]
    if conference.duration_minutes:
        lines.append(t("Length: {duration}", duration=duration_text(t, conference.duration_minutes)))
    if conference.what_to_bring:
        lines.append(t("Please bring: {things}", things=conference.what_to_bring))
    if code:
        lines.append(t("Invitation code: {code}", code=code))
    lines += ["", _answer_line(t, invitation)]
    deadline = _deadline_line(t, invitation)
    if deadline:
        lines.append(deadline)
    return "\n".join(lines)


def card_options(t: Translator, invitation: InvitationView) -> list[Option]:
    """What the delegate may do now; nothing once answers are locked."""
    if invitation.locked or invitation.status not in seats.ANSWERABLE:
        return []
    attend = Option(f"a:{invitation.id}", t("Attend"), aliases=("attend", "accept"), means=YES)
    decline = Option(f"d:{invitation.id}", t("Decline"), aliases=("decline",), means=NO)
    substitute = Option(f"s:{invitation.id}", t("Propose a substitute"), aliases=("substitute", "thay thế"))
    if invitation.status == Status.PENDING:
        return [attend, decline, substitute]
    if invitation.status == Status.DECLINED:
        return [attend, substitute]
    return [decline, substitute]


async def _send_card(
    update: Update, context: BotContext, invitation: InvitationView, note: str | None = None
) -> str | int:
    t = context.t
    options = card_options(t, invitation)
    code = (
        code_of(context.services.link_secret, invitation.id, invitation.link_nonce) if invitation.link_nonce else None
    )
    text = card_text(t, invitation, code)
    if note:
        text = f"{note}\n\n{text}"
    await _say(update, context, text, reply_markup=keyboard("rsvp1", options) if options else None)
    return CARD if options else END


# --- opening the link, /rsvp ----------------------------------------------------------------------------


def _open_refusal(t: Translator, result: OpenResult) -> str:
    if result.outcome is OpenOutcome.EXPIRED:
        return t(
            "Sorry, this invitation link expired on {date}, the deadline for answers. Please contact the organisers.",
            date=t.datetime(result.expired_at) if result.expired_at else "",
        )
    if result.outcome is OpenOutcome.TAKEN:
        return t(
            "Sorry, this invitation has already been opened from another account: a personal link works "
            "for one account only. I have let the organisers know; please contact them if the invitation is yours."
        )
    if result.outcome is OpenOutcome.CLOSED:
        return _closed_text(t, result.status)
    return t(
        "Sorry, this invitation link is not valid. Please check that you opened the whole link, or ask whoever "
        "gave it to you."
    )


def _closed_text(t: Translator, status: str | None) -> str:
    if status == Status.SUBSTITUTED:
        return t(
            "This invitation has passed to a substitute approved by the organisers, so it cannot be answered any more."
        )
    return t("The organisers have withdrawn this invitation. If you think this is a mistake, please contact them.")


async def open_invitation(update: Update, context: BotContext) -> str | int:
    """``/start inv_<token>``: bind the invitation to this chat and show it."""
    token = split_payload(context.args[0], links.INVITATION) if context.args else None
    return await open_invitation_with(update, context, token=token or "")


async def open_invitation_with(
    update: Update, context: BotContext, *, token: str = "", code: TypedCode | None = None
) -> str | int:
    """Open an invitation by its link's ``token`` or its typed ``code``: the same rules either way."""
    account = _account(context)
    if await guesses.cooling_down(update, context):
        return END
    async with context.transaction() as db:
        result = await rsvp.open_link(db, token, account_id=account.id, now=context.now(), code=code)
        if result.outcome is OpenOutcome.TAKEN:
            await _tell_organisers_taken(db, context, result)
        if result.outcome is OpenOutcome.OPENED and result.invitation is not None:
            await rsvp.keep_form(db, account.id, RsvpForm(invitation_id=result.invitation.id))
    guesses.record(
        update,
        context,
        GuessKind.TYPED_CODE if code else GuessKind.INVITATION_LINK,
        missed=result.outcome in (OpenOutcome.UNKNOWN, OpenOutcome.EXPIRED),
    )
    if result.outcome is not OpenOutcome.OPENED or result.invitation is None:
        await _say(update, context, _open_refusal(context.t, result))
        return END
    note = None
    if result.first_open:
        note = context.t(
            "Dear {honorific} {name},\nThis is your personal invitation. Keep this chat: here you can change your "
            "answer, and I will send you reminders.",
            **_addressed(context.t, result.invitation.gender, result.invitation.full_name),
        )
    return await _send_card(update, context, result.invitation, note)


async def _tell_organisers_taken(db: AsyncSession, context: BotContext, result: OpenResult) -> None:
    intruder, invitation = _account(context), result.invitation
    assert invitation is not None
    now = context.now()
    for organiser in result.organisers:
        t = context.services.translators.get(organiser.locale)
        await outbox.enqueue(
            db,
            account_id=organiser.account_id,
            text=t(
                "Someone tried to open the personal invitation of {name} ({conference}) from another "
                "account: {intruder} (account #{account}). They were refused; the invitation stays with the "
                "account that opened it first.",
                name=invitation.full_name,
                conference=invitation.conference.title,
                intruder=intruder.display_name,
                account=intruder.id,
            ),
            dedupe_key=f"rsvp.taken:{invitation.id}:{intruder.id}:{organiser.account_id}",
            topic=f"invitation:{invitation.id}",
            now=now,
        )


def _pick_options(t: Translator, invitations: list[InvitationView]) -> list[Option]:
    return [
        Option(
            str(invitation.id),
            t(
                "{conference} — {status}",
                conference=invitation.conference.title,
                status=status_word(t, invitation.status),
            ),
        )
        for invitation in invitations
    ]


async def rsvp_command(update: Update, context: BotContext) -> str | int:
    """``/rsvp``: the person's invitations (one card, or a choice of them)."""
    account = _account(context)
    async with context.transaction() as db:
        mine = await rsvp.my_invitations(db, account.id, context.now())
        if len(mine) == 1:
            await rsvp.keep_form(db, account.id, RsvpForm(invitation_id=mine[0].id))
    t = context.t
    if not mine:
        await _say(
            update,
            context,
            t("You have no invitations yet. If you received a personal invitation link, please open it."),
        )
        return END
    if len(mine) == 1:
        return await _send_card(update, context, mine[0])
    await _say(update, context, t("Which invitation?"), reply_markup=keyboard("rsvpl", _pick_options(t, mine)))
    return PICKING


async def _picked(update: Update, context: BotContext, invitation_id: int) -> str | int:
    account = _account(context)
    async with context.transaction() as db:
        invitation = await rsvp.invitation_for(db, invitation_id, account.id, context.now())
        if invitation is not None:
            await rsvp.keep_form(db, account.id, RsvpForm(invitation_id=invitation.id))
    if invitation is None:
        await _answer_query(context, context.t("That choice is no longer available."))
        return await rsvp_command(update, context)
    await _answer_query(context)
    return await _send_card(update, context, invitation)


async def picked_pressed(update: Update, context: BotContext, invitation_id: int) -> str | int:
    state = await _picked(update, context, invitation_id)
    assert context.press is not None
    await context.press.close()
    return state


async def picked_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    async with context.transaction() as db:
        mine = await rsvp.my_invitations(db, _account(context).id, context.now())
    options = _pick_options(context.t, mine)
    result = await clarify.answer(context, "rsvpl", update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return PICKING
    if isinstance(result, clarify.Again):
        await _say(update, context, result.note, reply_markup=keyboard("rsvpl", options))
        return PICKING
    return await _picked(update, context, int(result.option.key))


# --- the card's actions ----------------------------------------------------------------------------------


async def card_pressed(update: Update, context: BotContext, card: CardPress) -> str | int:
    return await _act(update, context, card.action, card.invitation_id)


async def _form_invitation(db: AsyncSession, context: BotContext) -> InvitationView | None:
    """The invitation the person's open question is about, if it is still theirs."""
    account = _account(context)
    form = await rsvp.open_form(db, account.id)
    if form.invitation_id is None:
        return None
    return await rsvp.invitation_for(db, form.invitation_id, account.id, context.now())


async def card_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    async with context.transaction() as db:
        invitation = await _form_invitation(db, context)
    if invitation is None:
        return await rsvp_command(update, context)
    options = card_options(context.t, invitation)
    if not options:  # answers closed meanwhile: the card says so
        return await _send_card(update, context, invitation)
    result = await clarify.answer(context, "rsvp1", update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return CARD
    if isinstance(result, clarify.Again):
        return await _send_card(update, context, invitation, note=result.note)
    action, invitation_id = result.option.key.split(":")
    return await _act(update, context, action, int(invitation_id))


async def card_other(update: Update, context: BotContext) -> None:
    t = context.t
    if t.buttons:
        await _say(update, context, t("Please press a button under the invitation, or type its number."))
    else:
        await _say(update, context, t("Please type the number of your choice from the invitation."))


async def _act(update: Update, context: BotContext, action: str, invitation_id: int) -> str | int:
    """One action of a card, pressed or typed; the invitation is re-read and must be the person's."""
    if action == "a":
        return await _attend(update, context, invitation_id)
    t = context.t
    account = _account(context)
    async with context.transaction() as db:
        invitation = await rsvp.invitation_for(db, invitation_id, account.id, context.now())
        if invitation is not None:
            # The decline reason and the substitute's details are asked next: remember which invitation.
            await rsvp.keep_form(db, account.id, RsvpForm(invitation_id=invitation.id))
    if invitation is None:
        await _answer_query(context, t("Sorry, this invitation is not yours or no longer exists."))
        return END
    option = _card_option(t, invitation, action)
    if option is None:
        await _answer_query(context, t("That choice is no longer available."))
        return await _send_card(update, context, invitation)
    await close_keyboard(context, option)
    if action == "d":
        await _say(update, context, _reason_question(t))
        return REASON
    return await _start_substitute(update, context, invitation)


def _card_option(t: Translator, invitation: InvitationView, action: str) -> Option | None:
    return next((o for o in card_options(t, invitation) if o.key == f"{action}:{invitation.id}"), None)


async def _attend(update: Update, context: BotContext, invitation_id: int) -> str | int:
    """ "Attend": one transaction (rules.rsvp.attend), then the card, the answer and the pass (its QR drawn
    after the commit, so the seat lock is not held meanwhile)."""
    t = context.t
    async with context.transaction() as db:
        attended = await rsvp.attend(
            db,
            invitation_id,
            account_id=_account(context).id,
            now=context.now(),
            secret=context.services.link_secret,
            bot_username=context.bot.username,
        )
    invitation = attended.invitation
    if invitation is None:
        await _answer_query(context, t("Sorry, this invitation is not yours or no longer exists."))
        return END
    option = _card_option(t, invitation, "a")
    if not attended.offered or attended.result is None or option is None:
        await _answer_query(context, t("That choice is no longer available."))
        return await _send_card(update, context, invitation)
    await close_keyboard(context, option)
    await _say(update, context, _accept_text(t, attended.result, invitation))
    if attended.delegate is not None:
        await _send_pass(update, context, attended.delegate.render())
    return END


def _reason_question(t: Translator) -> str:
    return t(
        "Please tell us briefly why you cannot attend (for example: “away on work”). Type /cancel to keep your "
        "answer as it is."
    )


async def pass_if_seated(db: AsyncSession, context: BotContext, result: RsvpResult) -> DelegatePass | None:
    if result.status != Status.ACCEPTED or result.invitation_id is None:
        return None
    return await rsvp.delegate_pass(
        db, result.invitation_id, secret=context.services.link_secret, bot_username=context.bot.username
    )


def _accept_text(t: Translator, result: RsvpResult, invitation: InvitationView) -> str:
    conference = invitation.conference.title
    if result.outcome is Outcome.ACCEPTED:
        return t(
            "Thank you, {honorific} {name}: your seat at {conference} is confirmed.",
            conference=conference,
            **_addressed(t, invitation.gender, invitation.full_name),
        )
    if result.outcome is Outcome.WAITLISTED:
        return t(
            "Thank you, {honorific} {name}. All seats for {pool} are taken for now, so you are on the waitlist: "
            "number {position}. If a seat becomes free, I will tell you at once.",
            pool=invitation.pool_in(t.locale),
            **_addressed(t, invitation.gender, invitation.full_name),
            position=t.number(result.position or 0),
        )
    if result.outcome is Outcome.UNCHANGED and result.status == Status.ACCEPTED:
        return t("You have already confirmed that you will attend {conference}.", conference=conference)
    if result.outcome is Outcome.UNCHANGED:
        return t("You are already on the waitlist: number {position}.", position=t.number(result.position or 0))
    return refusal_text(t, result)


def refusal_text(t: Translator, result: RsvpResult) -> str:
    if result.outcome is Outcome.LOCKED:
        if result.checked_in_at is not None:
            return t("You have already checked in, so your answer can no longer be changed.")
        return _locked_text(t, result.deadline)
    if result.outcome is Outcome.CLOSED:
        return _closed_text(t, result.status)
    if result.outcome is Outcome.REASON_TOO_LONG:
        return t(
            "That is too long: please keep the reason within {max} characters.", max=t.number(seats.MAX_REASON_CHARS)
        )
    if result.outcome is Outcome.REASON_REQUIRED:
        return t("Please type a short reason in words.")
    return t("Sorry, this invitation is not yours or no longer exists.")


def pass_caption(t: Translator, delegate: DelegatePass) -> str:
    """The caption of the check-in QR: whose it is and the code to say when it cannot be scanned."""
    return t(
        "Check-in QR: {name} — {conference}\nYour check-in code: {code}\nOn the day, show this QR code at the "
        "entrance, or tell the organisers your code.",
        name=delegate.full_name,
        conference=delegate.conference_title,
        code=delegate.code,
    )


async def _send_pass(update: Update, context: BotContext, delegate: DelegatePass) -> None:
    """The check-in QR with its code, and the calendar file, to the delegate who just wrote."""
    t = context.t
    chat_id = _chat_id(update)
    await context.bot.send_photo(
        chat_id, InputFile(delegate.qr_png, filename="check-in.png"), caption=pass_caption(t, delegate)
    )
    if delegate.ics is not None:
        await context.bot.send_document(
            chat_id,
            InputFile(delegate.ics, filename=delegate.ics_filename),
            caption=t("Add the conference to your calendar."),
        )


async def enqueue_pass(
    db: AsyncSession, context: BotContext, delegate: DelegatePass, *, account_id: int, t: Translator, key: str
) -> None:
    """The same pass through the outbox, for someone who did not just write (promoted, overridden)."""
    now = context.now()
    topic = f"invitation:{delegate.invitation_id}"
    await outbox.enqueue(
        db,
        account_id=account_id,
        text=pass_caption(t, delegate),
        dedupe_key=f"{key}:qr",
        topic=topic,
        method=outbox.SEND_PHOTO,
        extra=outbox.file_payload(delegate.qr_png, "check-in.png"),
        now=now,
    )
    if delegate.ics is not None:
        await outbox.enqueue(
            db,
            account_id=account_id,
            text=t("Add the conference to your calendar."),
            dedupe_key=f"{key}:ics",
            topic=topic,
            method=outbox.SEND_DOCUMENT,
            extra=outbox.file_payload(delegate.ics, delegate.ics_filename),
            now=now,
        )


async def tell_promoted(db: AsyncSession, context: BotContext, promotions: tuple[Promotion, ...]) -> None:
    """Each promoted delegate hears of their seat in their own language, with their pass."""
    for promotion in promotions:
        if promotion.account_id is None:
            continue  # never opened their link: they see the seat when they do
        t = context.services.translators.get(promotion.locale)
        key = f"rsvp.promoted:{promotion.invitation_id}:{promotion.event_id}"
        await outbox.enqueue(
            db,
            account_id=promotion.account_id,
            text=t(
                "Dear {honorific} {name},\nGood news: a seat has become free at {conference} and it is yours. Your "
                "attendance is confirmed.",
                conference=promotion.conference_title,
                **_addressed(t, promotion.gender, promotion.full_name),
            ),
            dedupe_key=key,
            topic=f"invitation:{promotion.invitation_id}",
            now=context.now(),
        )
        delegate = await rsvp.delegate_pass(
            db, promotion.invitation_id, secret=context.services.link_secret, bot_username=context.bot.username
        )
        if delegate is not None:
            await enqueue_pass(db, context, delegate, account_id=promotion.account_id, t=t, key=key)


# --- declining --------------------------------------------------------------------------------------------


async def reason_given(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    t = context.t
    account = _account(context)
    async with context.transaction() as db:
        form = await rsvp.open_form(db, account.id)
        if form.invitation_id is None:
            result = None
        else:
            result = await seats.decline(
                db, form.invitation_id, now=context.now(), reason=update.message.text or "", actor_id=account.id
            )
            if result.outcome not in (Outcome.REASON_REQUIRED, Outcome.REASON_TOO_LONG):
                await rsvp.close_form(db, account.id)
            await tell_promoted(db, context, result.promoted)
    if result is None:
        return await rsvp_command(update, context)
    if result.outcome in (Outcome.REASON_REQUIRED, Outcome.REASON_TOO_LONG):
        await _say(update, context, refusal_text(t, result) + "\n\n" + _reason_question(t))
        return REASON
    await _say(update, context, _decline_text(t, result))
    return END


def _decline_text(t: Translator, result: RsvpResult) -> str:
    if result.outcome is Outcome.DECLINED:
        text = t(
            "Recorded: {honorific} {name} will not attend. Thank you for letting us know.",
            **_addressed(t, result.gender, result.full_name or ""),
        )
        if result.previous == Status.ACCEPTED:
            text += " " + t("Your seat has been passed on to another delegate.")
        if result.deadline is not None:
            text += "\n" + t(
                "You can change your answer until {deadline}: open your link again or type /rsvp.",
                deadline=t.datetime(result.deadline),
            )
        return text
    if result.outcome is Outcome.UNCHANGED:
        return t("You had already declined. Nothing was changed.")
    return refusal_text(t, result)


def text_please(question: Callable[[Translator], str]) -> Callable[[Update, BotContext], Coroutine[Any, Any, None]]:
    """A photo, a sticker or a file where a typed answer is asked: a word about it, then the same question."""

    async def callback(update: Update, context: BotContext) -> None:
        t = context.t
        await _say(update, context, t("Please type your answer as a text message.") + "\n\n" + question(t))

    return callback


# --- proposing a substitute -------------------------------------------------------------------------------


def _substitute_refusal(t: Translator, outcome: SubstituteOutcome, result: SubstituteResult | None = None) -> str:
    if outcome is SubstituteOutcome.LOCKED:
        return t("Answers are closed, so a substitute can no longer be proposed here. Please contact the organisers.")
    if outcome is SubstituteOutcome.CLOSED:
        return t("This invitation can no longer be answered, so no substitute can be proposed.")
    if outcome is SubstituteOutcome.ALREADY_INVITED and result is not None:
        return t(
            "{name} is already invited to this conference, so they cannot be your substitute. Type /rsvp to "
            "propose someone else.",
            name=result.substitute_name or "",
        )
    return t("Sorry, this invitation is not yours or no longer exists.")


async def _start_substitute(update: Update, context: BotContext, invitation: InvitationView) -> str | int:
    account = _account(context)
    async with context.transaction() as db:
        refusal = await rsvp.may_propose(db, invitation.id, actor_id=account.id, now=context.now())
        if refusal is None:
            await rsvp.keep_form(db, account.id, RsvpForm(invitation_id=invitation.id))
    if refusal is not None:
        await _say(update, context, _substitute_refusal(context.t, refusal))
        return END
    await _say(update, context, _name_question(context.t))
    return SUB_NAME


def _name_question(t: Translator) -> str:
    return t(
        "Who will attend in your place? Please type their full name. The organisers will decide; until then your "
        "invitation stays as it is. Type /cancel to stop."
    )


def _problem_text(t: Translator, problem: Problem) -> str:
    return t(problem.msgid, **problem.values)


async def _remember(context: BotContext, **answers: Any) -> RsvpForm:
    account = _account(context)
    async with context.transaction() as db:
        form = await rsvp.open_form(db, account.id)
        form.substitute.update(answers)
        await rsvp.keep_form(db, account.id, form)
    return form


async def name_given(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    parsed = intake.parse_text(Step.NAME, update.message.text or "")
    if isinstance(parsed, Problem):
        await _say(update, context, _problem_text(context.t, parsed) + "\n\n" + _name_question(context.t))
        return SUB_NAME
    await _remember(context, name=parsed)
    await GENDER_PROMPT.ask(update, context)
    return SUB_GENDER


def _reference_options(context: BotContext, entries: Any) -> list[Option]:
    english = context.t.locale == "en"
    return [
        Option(entry.code, entry.label_en if english else entry.label, aliases=tuple(entry.aliases))
        for entry in entries
    ]


async def _gender_chosen(update: Update, context: BotContext, option: Option) -> str:
    await _remember(context, gender=option.key)
    await _say(update, context, _year_question(context.t))
    return SUB_YEAR


GENDER_PROMPT = ChoicePrompt(
    "rsvpg",
    question=lambda context: context.t("Their gender?"),
    options=lambda context: _reference_options(context, reference().genders.entries),
    on_choice=_gender_chosen,
    columns=2,
)


def _year_question(t: Translator) -> str:
    return t("Their year of birth? (four digits, for example 1985)")


async def year_given(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    parsed = intake.parse_birth_year(update.message.text or "", context.t.local(context.now()).date())
    if isinstance(parsed, Problem):
        await _say(update, context, _problem_text(context.t, parsed))
        return SUB_YEAR
    await _remember(context, birth_year=parsed)
    await OCCUPATION_PROMPT.ask(update, context)
    return SUB_OCCUPATION


async def _occupation_chosen(update: Update, context: BotContext, option: Option) -> str:
    await _remember(context, occupation=option.key)
    await _say(update, context, _position_question(context.t))
    return SUB_POSITION


OCCUPATION_PROMPT = ChoicePrompt(
    "rsvpo",
    question=lambda context: context.t("Their occupation?"),
    options=lambda context: _reference_options(context, reference().occupation_groups.entries),
    on_choice=_occupation_chosen,
)


def _position_question(t: Translator) -> str:
    return t("Their position and unit? (for example: Tổ trưởng tổ dân phố số 5, phường Bưởi)")


async def position_given(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    t = context.t
    parsed = intake.parse_text(Step.POSITION, update.message.text or "")
    if isinstance(parsed, Problem):
        await _say(update, context, _problem_text(t, parsed) + "\n\n" + _position_question(t))
        return SUB_POSITION
    account = _account(context)
    async with context.transaction() as db:
        form = await rsvp.open_form(db, account.id)
        answers = form.substitute
        if form.invitation_id is None or "name" not in answers:
            result = None
        else:
            person = Person(
                full_name=answers["name"],
                gender=answers.get("gender"),
                birth_year=answers.get("birth_year"),
                occupation_group=answers.get("occupation"),
                position=parsed,
            )
            result = await rsvp.propose_substitute(
                db,
                form.invitation_id,
                person,
                now=context.now(),
                secret=context.services.link_secret,
                actor_id=account.id,
            )
            if result.outcome is SubstituteOutcome.PROPOSED:
                await _tell_organisers_proposed(db, context, result)
        await rsvp.close_form(db, account.id)
    if result is None:
        return await rsvp_command(update, context)
    if result.outcome is not SubstituteOutcome.PROPOSED:
        await _say(update, context, _substitute_refusal(t, result.outcome, result))
        return END
    await _say(
        update,
        context,
        t(
            "Thank you. I have sent your proposal to the organisers: {name} to attend in your place. Until they "
            "decide, your invitation stays as it is; I will tell you their decision.",
            name=result.substitute_name or "",
        ),
    )
    return END


async def _tell_organisers_proposed(db: AsyncSession, context: BotContext, result: SubstituteResult) -> None:
    for organiser in result.organisers:
        t = context.services.translators.get(organiser.locale)
        await outbox.enqueue(
            db,
            account_id=organiser.account_id,
            text=t(
                "{delegate} proposes a substitute for {conference}: {name}. Type /substitutes to see the effect on "
                "the balance and approve or reject.",
                delegate=result.original_name or "",
                conference=result.conference_title or "",
                name=result.substitute_name or "",
            ),
            dedupe_key=f"rsvp.proposed:{result.proposed_id}:{organiser.account_id}",
            topic=f"invitation:{result.proposed_id}",
            now=context.now(),
        )


async def cancel(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await rsvp.close_form(db, _account(context).id)
    await _say(update, context, context.t("Cancelled. Nothing was changed."))
    return END


async def cancel_question(update: Update, context: BotContext) -> str | int:
    """``/cancel`` at the decline reason or a substitute's question: that question is dropped, the card
    comes back with its answers, so the delegate can still attend, decline or propose someone else."""
    account = _account(context)
    async with context.transaction() as db:
        invitation = await _form_invitation(db, context)
        if invitation is None:
            await rsvp.close_form(db, account.id)
        else:  # the substitute's details typed so far go; which invitation the card is about stays
            await rsvp.keep_form(db, account.id, RsvpForm(invitation_id=invitation.id))
    if invitation is None:
        await _say(update, context, context.t("Cancelled. Nothing was changed."))
        return END
    note = context.t("Cancelled. Nothing was changed; your invitation stays as it is.")
    return await _send_card(update, context, invitation, note)


def conversation(
    *, typed_codes: Sequence[BaseHandler[Update, BotContext, Any]] = ()
) -> ConversationHandler[BotContext]:
    """The delegate's conversation, which also hosts every typed code (``handlers.typed_codes``).

    ``typed_codes`` are entry points only: a code typed while one of these questions is open is that
    question's answer. An explicit ``/start CODE`` works at every step, like ``/start inv_…``. A typed
    endorsement code asks its question (``endorse.CONFIRMING``) here, so a typed answer reaches it.
    Re-entry is off: every entry point but the typed code is a fallback too, so nothing else changes.
    """
    text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    other = filters.UpdateType.MESSAGE & ~filters.COMMAND
    card_button: BaseHandler[Update, BotContext, Any] = presses.button(CARD_DATA, card_pressed)
    open_link: BaseHandler[Update, BotContext, Any] = CommandHandler(
        "start", open_invitation, filters=filters.Regex(r"^/start(@\w+)? inv_")
    )
    # At the card's follow-up questions /cancel drops the question and shows the card again (states come
    # before the fallbacks); at the card itself it ends the conversation.
    back: BaseHandler[Update, BotContext, Any] = CommandHandler("cancel", cancel_question)
    states: dict[object, list[BaseHandler[Update, BotContext, Any]]] = {
        CARD: [card_button, MessageHandler(text, card_typed), MessageHandler(other, card_other)],
        PICKING: [
            presses.button(PICK_DATA, picked_pressed),
            MessageHandler(text, picked_typed),
            MessageHandler(other, card_other),
        ],
        REASON: [back, MessageHandler(text, reason_given), MessageHandler(other, text_please(_reason_question))],
        SUB_NAME: [back, MessageHandler(text, name_given), MessageHandler(other, text_please(_name_question))],
        SUB_GENDER: [back, *GENDER_PROMPT.handlers()],
        SUB_YEAR: [back, MessageHandler(text, year_given), MessageHandler(other, text_please(_year_question))],
        SUB_OCCUPATION: [back, *OCCUPATION_PROMPT.handlers()],
        SUB_POSITION: [
            back,
            MessageHandler(text, position_given),
            MessageHandler(other, text_please(_position_question)),
        ],
        endorse.CONFIRMING: endorse.question_handlers(),
    }
    commands = [handler for handler in typed_codes if isinstance(handler, CommandHandler)]
    return Dialogue(
        entry_points=[open_link, CommandHandler("rsvp", rsvp_command), card_button, *typed_codes],
        states=states,
        fallbacks=[
            CommandHandler("cancel", cancel),
            open_link,
            *commands,
            CommandHandler("rsvp", rsvp_command),
            card_button,
        ],
        name="rsvp",
        persistent=True,
        allow_reentry=False,
    )


# --- check-in ---------------------------------------------------------------------------------------------


def checkin_text(t: Translator, result: CheckInResult, code: str | None = None) -> str:
    name = result.full_name or ""
    if result.outcome is CheckInOutcome.CHECKED_IN:
        assert result.checked_in_at is not None
        return t(
            "✅ Checked in: {name} ({pool}), {conference}, at {time}.",
            name=name,
            pool=result.pool_title or "",
            conference=result.conference_title or "",
            time=t.time(result.checked_in_at),
        )
    if result.outcome is CheckInOutcome.ALREADY:
        assert result.checked_in_at is not None
        return t(
            "{name} is already checked in at {time} (by {by}).",
            name=name,
            time=t.time(result.checked_in_at),
            by=result.checked_in_by or "?",
        )
    if result.outcome is CheckInOutcome.NOT_ACCEPTED:
        return t(
            "{name} has no confirmed seat (status: {status}), so they cannot be checked in. Please check with the "
            "organisers.",
            name=name,
            status=status_word(t, result.status),
        )
    if result.outcome is CheckInOutcome.NOT_ALLOWED:
        return t("Sorry, only organisers and reviewers can check delegates in.")
    if code:
        return t("No delegate has the code {code}. Please check it and type it again.", code=code)
    return t("This check-in QR code is not valid.")


async def open_checkin(update: Update, context: BotContext) -> None:
    """``/start chk_<token>``: an organiser's phone scanned a delegate's QR."""
    token = split_payload(context.args[0], links.CHECK_IN) if context.args else None
    await open_checkin_with(update, context, token=token)


async def open_checkin_with(
    update: Update, context: BotContext, *, token: str | None = None, code: TypedCode | None = None
) -> None:
    """A delegate's check-in QR scanned, or their check-in code typed without /checkin: the same rules."""
    t = context.t
    if not can_review(_account(context).role):
        await _say(
            update,
            context,
            t(
                "This is a delegate's check-in code. Please show it to the organisers at the entrance: they will "
                "scan it."
            ),
        )
        return
    if await guesses.cooling_down(update, context):
        return
    async with context.transaction() as db:
        result = await rsvp.check_in(db, token=token, code=code, actor_id=_account(context).id, now=context.now())
    guesses.record(
        update,
        context,
        GuessKind.TYPED_CODE if code else GuessKind.CHECK_IN_LINK,
        missed=result.outcome is CheckInOutcome.UNKNOWN,
    )
    await _say(update, context, checkin_text(t, result, code=code.shown if code else None))


# --- /substitutes --------------------------------------------------------------------------------------------


def _gender_label(t: Translator, code: str | None) -> str | None:
    entry = reference().genders.get(code) if code else None
    return None if entry is None else (entry.label_en if t.locale == "en" else entry.label)


def _occupation_label(t: Translator, code: str | None) -> str | None:
    entry = reference().occupation_groups.get(code) if code else None
    if entry is None:
        return code
    return entry.label_en if t.locale == "en" else entry.label


def _share(t: Translator, count: int, total: int) -> str:
    if total == 0:
        return t.number(count)
    return t(
        "{count}/{total} ({percent})", count=t.number(count), total=t.number(total), percent=t.percent(count / total)
    )


def balance_lines(t: Translator, proposal: ProposalView, effect: BalanceEffect) -> list[str]:
    lines = [
        t(
            "If {name} attends instead of {original}, among the delegates holding a seat:",
            name=proposal.full_name,
            original=proposal.original_name,
        )
    ]
    if not effect.original_holds_seat:
        lines.append(
            t(
                "({original} holds no seat now (status: {status}); the comparison assumes the substitute attends.)",
                original=proposal.original_name,
                status=status_word(t, proposal.original_status),
            )
        )
    for change in effect.changes:
        if change.dimension == "occupation":
            label = t("Occupation “{group}”", group=_occupation_label(t, change.value) or change.value)
        else:
            label = balance.dimension_name(t, change.dimension)
        line = t(
            "• {label}: {before} → {after}",
            label=label,
            before=_share(t, change.before, effect.total_before),
            after=_share(t, change.after, effect.total_after),
        )
        if change.unknown:
            line += " " + t("(not known for the substitute)")
        lines.append(line)
    return lines


def proposal_text(t: Translator, proposal: ProposalView, effect: BalanceEffect | None, waiting: int) -> str:
    details = [
        value
        for value in (
            _gender_label(t, proposal.gender),
            t("born {year}", year=proposal.birth_year) if proposal.birth_year else None,
            _occupation_label(t, proposal.occupation_group),
        )
        if value
    ]
    lines = [
        t("Proposed substitute: {name}", name=proposal.full_name) + (f" ({', '.join(details)})" if details else ""),
    ]
    if proposal.position:
        lines.append(t("Position and unit: {position}", position=proposal.position))
    lines.append(
        t(
            "In place of: {original} ({status}) — {pool}, {conference}",
            original=proposal.original_name,
            status=status_word(t, proposal.original_status),
            pool=proposal.pool_title,
            conference=proposal.conference_title,
        )
    )
    lines.append(t("Proposed on {date}.", date=t.datetime(proposal.proposed_at)))
    if effect is not None:
        lines += ["", *balance_lines(t, proposal, effect)]
    waiting_line = (
        t("Proposals waiting: {count}. Press a button or type its number.", count=t.number(waiting))
        if t.buttons
        else t("Proposals waiting: {count}. Type the number of your choice.", count=t.number(waiting))
    )
    lines += ["", waiting_line]
    return "\n".join(lines)


def _proposal_options(t: Translator, proposal_id: int) -> list[Option]:
    return [
        Option(f"a:{proposal_id}", t("Approve")),
        Option(f"r:{proposal_id}", t("Reject")),
        Option(f"n:{proposal_id}", t("Skip for now")),
    ]


async def _show_proposal(update: Update, context: BotContext, note: str | None = None) -> str | int:
    account = _account(context)
    async with context.transaction() as db:
        desk = await rsvp.open_desk(db, account.id)
        waiting = await rsvp.proposals(db, actor_id=account.id, exclude=tuple(desk.skipped))
        if isinstance(waiting, NotAllowed):
            await rsvp.close_desk(db, account.id)
    if isinstance(waiting, NotAllowed):
        return await refuse(update, context, waiting)
    async with context.transaction() as db:
        effect = await rsvp.balance_effect(db, waiting[0].id) if waiting else None
        if waiting:
            desk.card_id = waiting[0].id
            await rsvp.keep_desk(db, account.id, desk)
        else:
            await rsvp.close_desk(db, account.id)
    t = context.t
    if note:
        await _say(update, context, note)
    if not waiting:
        done = t("No proposed substitutes are waiting for a decision.")
        if desk.skipped:
            done += "\n" + t(
                "You skipped {count}; type /substitutes to see them again.", count=t.number(len(desk.skipped))
            )
        await _say(update, context, done)
        return END
    proposal = waiting[0]
    await _say(
        update,
        context,
        proposal_text(t, proposal, effect, len(waiting)),
        reply_markup=keyboard("rsub1", _proposal_options(t, proposal.id), columns=3),
    )
    return DECIDING


async def substitutes_command(update: Update, context: BotContext) -> str | int:
    if not is_organiser(context):
        await _say(update, context, context.t("Sorry, only organisers can use this command."))
        return END
    async with context.transaction() as db:
        await rsvp.close_desk(db, _account(context).id)
    return await _show_proposal(update, context)


async def proposal_pressed(update: Update, context: BotContext, proposal: ProposalPress) -> str | int:
    if not is_organiser(context):
        await _answer_query(context, context.t("Sorry, only organisers can use this command."))
        return END
    state = await _decide(update, context, proposal.action, proposal.proposal_id)
    assert context.press is not None
    await context.press.close()  # after the answer, which may be a toast saying why nothing was done
    return state


async def proposal_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    if not is_organiser(context):
        await _say(update, context, context.t("Sorry, only organisers can use this command."))
        return END
    async with context.transaction() as db:
        desk = await rsvp.open_desk(db, _account(context).id)
    if desk.card_id is None:
        return await _show_proposal(update, context)
    options = _proposal_options(context.t, desk.card_id)
    result = await clarify.answer(context, "rsub1", update.message.text or "", options, columns=3)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return DECIDING
    if isinstance(result, clarify.Again):
        return await _show_proposal(update, context, note=result.note)
    action, proposal_id = result.option.key.split(":")
    return await _decide(update, context, action, int(proposal_id))


async def proposal_other(update: Update, context: BotContext) -> None:
    t = context.t
    if t.buttons:
        await _say(update, context, t("Please press a button under the proposal, or type its number."))
    else:
        await _say(update, context, t("Please type the number of your choice from the proposal."))


async def _decide(update: Update, context: BotContext, action: str, proposal_id: int) -> str | int:
    account = _account(context)
    now = context.now()
    async with context.transaction() as db:
        if action == "n":
            desk = await rsvp.open_desk(db, account.id)
            desk.skipped.append(proposal_id)
            await rsvp.keep_desk(db, account.id, desk)
            result = None
        elif action == "a":
            result = await rsvp.approve_substitute(
                db, proposal_id, actor_id=account.id, now=now, secret=context.services.link_secret
            )
        else:
            result = await rsvp.reject_substitute(db, proposal_id, actor_id=account.id, now=now)
        told = result is not None and await _tell_proposer(db, context, result)
    if result is None:
        await _answer_query(context)
        return await _show_proposal(update, context)
    text = _decision_text(context.t, result, context.bot.username, told=bool(told))
    if result.outcome in (SubstituteOutcome.APPROVED, SubstituteOutcome.REJECTED):
        await _answer_query(context)
        return await _show_proposal(update, context, note=text)
    await _answer_query(context, text)
    if update.callback_query is None:
        await _say(update, context, text)
    return await _show_proposal(update, context)


def _decision_text(t: Translator, result: SubstituteResult, bot_username: str, *, told: bool) -> str:
    substitute, original = result.substitute_name or "", result.original_name or ""
    if result.outcome is SubstituteOutcome.APPROVED:
        assert result.link_token is not None
        url = links.deep_link(bot_username, links.INVITATION, result.link_token)
        text = t(
            "Approved: {substitute} replaces {original} at {conference}. The substitute's personal link:\n{url}",
            substitute=substitute,
            original=original,
            conference=result.conference_title or "",
            url=url,
        )
        if result.invitation_code:
            text += "\n" + or_type_invitation_code(t, result.invitation_code)
        if result.seat_passed:
            text += "\n" + t(
                "{original}'s seat is held for {substitute} until they answer.",
                original=original,
                substitute=substitute,
            )
        follow = (
            t("I have sent the link to {original} to pass on.", original=original)
            if told
            else t("Please send the link to {substitute} yourself.", substitute=substitute)
        )
        return f"{text}\n{follow}"
    if result.outcome is SubstituteOutcome.REJECTED:
        text = t("Rejected: {substitute} will not replace {original}.", substitute=substitute, original=original)
        return text + (" " + t("I have told {original}.", original=original) if told else "")
    if result.outcome is SubstituteOutcome.ALREADY_DECIDED:
        return t(
            "This proposal has already been dealt with (by {name}, {time}).",
            name=result.decided_by or "?",
            time=t.datetime(result.decided_at) if result.decided_at else "?",
        )
    if result.outcome is SubstituteOutcome.ORIGINAL_GONE:
        return t(
            "The delegate's invitation is no longer open, so the proposal of {substitute} was dropped.",
            substitute=substitute,
        )
    if result.outcome is SubstituteOutcome.ALREADY_INVITED:
        return t(
            "{substitute} is already invited to this conference (status: {status}), so the proposal cannot be "
            "approved.",
            substitute=substitute,
            status=status_word(t, result.status),
        )
    if result.outcome is SubstituteOutcome.NOT_ALLOWED:
        return t("Sorry, only organisers can use this command.")
    return t("Sorry, this proposal no longer exists.")


async def _tell_proposer(db: AsyncSession, context: BotContext, result: SubstituteResult) -> bool:
    """The delegate who proposed hears the decision in their own language (with the link to pass on)."""
    if result.original_account_id is None or result.outcome not in (
        SubstituteOutcome.APPROVED,
        SubstituteOutcome.REJECTED,
    ):
        return False
    t = context.services.translators.get(result.original_locale)
    values = {
        "substitute": result.substitute_name or "",
        "conference": result.conference_title or "",
        **_addressed(t, result.original_gender, result.original_name or ""),
    }
    if result.outcome is SubstituteOutcome.APPROVED:
        assert result.link_token is not None
        url = links.deep_link(context.bot.username, links.INVITATION, result.link_token)
        if result.invitation_code:
            url += "\n" + or_type_invitation_code(t, result.invitation_code)
        text = t(
            "Dear {honorific} {name},\nThe organisers have approved {substitute} to attend {conference} in your "
            "place. Please pass this "
            "personal link or its code on to them; it works for one account only:\n{url}\n\nYour own invitation "
            "is now closed. Thank you.",
            url=url,
            **values,
        )
    else:
        text = t(
            "Dear {honorific} {name},\nThe organisers did not approve {substitute} as your substitute for "
            "{conference}. Your invitation stays as it was; type /rsvp to see it.",
            **values,
        )
    await outbox.enqueue(
        db,
        account_id=result.original_account_id,
        text=text,
        dedupe_key=f"rsvp.substitute:{result.proposed_id}:{result.outcome}",
        topic=f"invitation:{result.original_id}",
        now=context.now(),
    )
    return True


async def substitutes_cancel(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await rsvp.close_desk(db, _account(context).id)
    await _say(update, context, context.t("Stopped. Decisions already made are kept. Type /substitutes to go on."))
    return END


def substitutes_conversation() -> ConversationHandler[BotContext]:
    button: BaseHandler[Update, BotContext, Any] = presses.button(PROPOSAL_DATA, proposal_pressed)
    command: BaseHandler[Update, BotContext, Any] = CommandHandler("substitutes", substitutes_command)
    return Dialogue(
        entry_points=[command, button],
        states={
            DECIDING: [
                button,
                MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, proposal_typed),
                MessageHandler(filters.UpdateType.MESSAGE & ~filters.COMMAND, proposal_other),
            ]
        },
        fallbacks=[CommandHandler("cancel", substitutes_cancel), command, button],
        name="substitutes",
        persistent=True,
        allow_reentry=True,
    )


def handlers(*, typed_codes: Sequence[BaseHandler[Update, BotContext, Any]] = ()) -> list[Any]:
    """The /start inv_ and chk_ deep links must come before the generic /start (see bot.app).

    The delegate's conversation comes after every other conversation, since it takes typed codes when no
    question is open: a code typed at another conversation's question must reach that question first.
    """
    return [
        CommandHandler("start", open_checkin, filters=filters.Regex(r"^/start(@\w+)? chk_")),
        substitutes_conversation(),
        conversation(typed_codes=typed_codes),
    ]
