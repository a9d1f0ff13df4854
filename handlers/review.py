"""/review: reviewers and organisers go through the nominations sent in, oldest first.

The reviewer picks a queue (conference and unit), then sees one card at a time: the evidence files, then
the nomination with the buttons Approve, Reject, Ask for changes, Mark as duplicate, Skip and, when more
than one is waiting, Approve all (which asks for confirmation and shows the count). Reject, Ask for
changes and Mark as duplicate ask a follow-up question (the reason, the message, the code). Every button
can be typed instead (its number or its label). Card buttons carry the nomination's id and are re-checked
by the rules, so a card pressed after someone decided it only says who decided it and when.

The card text is shared with /nomination (handlers.mine) and the public story with /publish.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from telegram import Update
from telegram.error import BadRequest
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, presses
from handlers.dialogue import Dialogue
from handlers.keyboards import keyboard
from handlers.presses import ButtonData, Choice, Count, Id, Key, button
from rules import review
from rules.choices import NO, YES, Option, pick
from rules.nominations import Status
from rules.refdata import RefEntry, RefList, reference
from rules.review import Action, Decision, NominationView, QueueGroup, Refusal
from rules.roles import can_review
from rules.text import clean, format_phone

logger = logging.getLogger(__name__)

PICKING = "review.picking"
REVIEWING = "review.reviewing"
REASON = "review.reason"
CHANGES = "review.changes"
ORIGINAL = "review.original"
CONFIRMING = "review.confirming"
REASON_SHOWN = "review.reason_shown"  # the rejection's reason shown back: send it, or change it
END = ConversationHandler.END


class CardPress(NamedTuple):
    action: str
    nomination_id: int


class OriginalPress(NamedTuple):
    nomination_id: int
    code: str


class ReasonPress(NamedTuple):
    nomination_id: int
    answer: str


class BulkPress(NamedTuple):
    answer: str
    shown: int  # how many the question showed


# Callback data, versioned: rv1:<action>:<nomination id>; rvq:<conference id>.<unit id> (0 = none) or rvq:all;
# rvd:<nomination id>:<code of the original>; rvb:<yes|no>:<count>; rvr:<nomination id>:<send|edit>.
CARD = ButtonData("rv1", CardPress, Choice(*"arcdnb"), Id())
QUEUE = ButtonData("rvq", str, Key(r"all|[0-9]{1,10}\.[0-9]{1,10}"))
ORIGINAL_CODE = ButtonData("rvd", OriginalPress, Id(), Key(r"[A-Za-z0-9-]{1,32}"))
BULK = ButtonData("rvb", BulkPress, Choice("yes", "no"), Count())
REASON_CHECK = ButtonData("rvr", ReasonPress, Id(), Choice("send", "edit"))
EVIDENCE_SHOWN = 5
ACHIEVEMENTS_SHOWN = 2000

STATUS_LABELS: dict[str, str] = {
    Status.DRAFT: N_("Draft (not sent yet)"),
    Status.SUBMITTED: N_("Waiting for review"),
    Status.CHANGES_REQUESTED: N_("Changes requested"),
    Status.APPROVED: N_("Approved"),
    Status.REJECTED: N_("Not accepted"),
    Status.DUPLICATE: N_("Duplicate"),
    Status.WITHDRAWN: N_("Withdrawn"),
    Status.EXPIRED: N_("Expired draft"),
}
KIND_LABELS = {"individual": N_("Individual"), "collective": N_("Collective")}
# Who sent a nomination, as the card names them: "Người đề cử: Nguyễn Thị Lan — người dân".
SOURCE_LINES = {
    "citizen": N_("Nominated by {name}, a citizen"),
    "focal_point": N_("Nominated by {name}, focal point of {unit}"),
    "organiser": N_("Nominated by {name}, of the organisers"),
}


# --- what a card says --------------------------------------------------------------------------------


def status_label(t: Translator, status: str) -> str:
    return t(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def nomination_line(t: Translator, code: str | None, name: str | None, status: str) -> str:
    """One line of a list of nominations: "• DH-2020-0001 — Nguyễn Văn An: Đã duyệt"; a draft has no code
    yet, and its status already says it is a draft, so it is said once: "• Nguyễn Văn An: Bản nháp (chưa gửi)"."""
    values = {"name": name or t("(no name yet)"), "status": status_label(t, status)}
    if code:
        return t("• {code} — {name}: {status}", code=code, **values)
    return t("• {name}: {status}", **values)


def ref_label(t: Translator, entries: RefList[Any], code: str | None) -> str | None:
    """The label of a reference code in the reader's language (the code itself if it is not in the list)."""
    if not code:
        return None
    entry: RefEntry | None = entries.get(code)
    if entry is None:
        return code
    return entry.label_en if t.locale == "en" else entry.label


def _movement(t: Translator, view: NominationView) -> str | None:
    label = ref_label(t, reference().movements, view.movement_code)
    if view.movement_other:
        return f"{label}: {view.movement_other}" if label else view.movement_other
    return label


def _field_lines(t: Translator, view: NominationView) -> list[str]:
    data = reference()
    fields: list[tuple[str, object]] = [
        (N_("Kind: {value}"), t(KIND_LABELS[view.kind]) if view.kind in KIND_LABELS else view.kind),
        (N_("Status: {value}"), status_label(t, view.status)),
        (N_("Conference: {value}"), view.conference_title),
        (N_("Gender: {value}"), ref_label(t, data.genders, view.gender)),
        (N_("Birth year: {value}"), view.birth_year),
        (N_("Members: {value}"), view.member_count),
        (N_("Ethnicity: {value}"), ref_label(t, data.ethnic_groups, view.ethnicity)),
        (N_("Religion: {value}"), ref_label(t, data.religions, view.religion)),
        (N_("Unit: {value}"), view.unit_name),
        (N_("Occupation: {value}"), ref_label(t, data.occupation_groups, view.occupation_group)),
        (N_("Position: {value}"), view.position),
        (N_("Workplace: {value}"), view.workplace),
        (N_("Phone: {value}"), format_phone(view.phone)),
        (N_("Title sought: {value}"), ref_label(t, data.titles, view.title_code)),
        (N_("Movement: {value}"), _movement(t, view)),
        (N_("Achievements: {value}"), review.shorten(view.achievements or "", ACHIEVEMENTS_SHOWN)),
    ]
    return [t(msgid, value=value) for msgid, value in fields if value not in (None, "")]


def _endorsement_line(t: Translator, view: NominationView) -> str:
    endorsements = view.endorsements
    if not endorsements.count:
        return t("Endorsements: none yet")
    names = ", ".join(endorsements.names)
    if endorsements.count > len(endorsements.names):
        names += ", …"
    return t("Endorsements: {count} ({names})", count=t.number(endorsements.count), names=names)


def _history_lines(t: Translator, view: NominationView) -> list[str]:
    lines = [t("History:")]
    for entry in view.history:
        when = t.datetime(entry.at)
        status = status_label(t, entry.to_status)
        if entry.actor_name:
            lines.append(t("• {when}: {status} — {name}", when=when, status=status, name=entry.actor_name))
        else:
            lines.append(t("• {when}: {status}", when=when, status=status))
        if entry.system_reason:
            lines.append("   " + t(entry.system_reason))
        elif entry.reason:
            lines.append(f"   “{entry.reason}”")
    return lines


def _source_line(t: Translator, view: NominationView) -> str:
    name = view.nominator_name or "—"
    if view.source == "focal_point" and not view.unit_name:
        return t("Nominated by {name}, a unit focal point", name=name)
    return t(SOURCE_LINES.get(view.source, SOURCE_LINES["citizen"]), name=name, unit=view.unit_name or "")


def card_text(t: Translator, view: NominationView, *, history: bool = False) -> str:
    """A nomination as its reader may see it (sensitive fields are already left out of ``view``)."""
    name = view.nominee_name or "—"
    # A draft has no code yet; its status line says it is a draft.
    heading = (
        t("Nomination {code}: {name}", code=view.code, name=name) if view.code else t("Nomination: {name}", name=name)
    )
    lines = [heading]
    lines += _field_lines(t, view)
    lines.append(t("Evidence files: {count}", count=t.number(len(view.evidence))))
    lines.append(_endorsement_line(t, view))
    lines.append(_source_line(t, view))
    if view.submitted_at:
        lines.append(t("Submitted on: {date}", date=t.date(view.submitted_at)))
    if view.duplicate_of:
        lines.append(t("Marked as a duplicate of {code}.", code=view.duplicate_of))
    if view.duplicates:
        codes = ", ".join(view.duplicates)
        if view.kind == "collective":
            lines.append(t("⚠️ Possible duplicate of {codes} (same name and unit in the same campaign).", codes=codes))
        else:
            lines.append(
                t("⚠️ Possible duplicate of {codes} (same name and birth year in the same campaign).", codes=codes)
            )
    if view.published_at:
        lines.append(t("Published in the channel on {date}.", date=t.date(view.published_at)))
    if history and view.history:
        lines += ["", *_history_lines(t, view)]
    return "\n".join(lines)


async def send_evidence(context: BotContext, chat_id: int, view: NominationView) -> None:
    """The first evidence files of a nomination, by their Telegram file ids, each captioned with the code."""
    t = context.t
    total = len(view.evidence)
    for number, item in enumerate(view.evidence[:EVIDENCE_SHOWN], start=1):
        caption = t("Evidence {number}/{total} of {code}", number=number, total=total, code=view.code or "")
        try:
            if item.kind == "photo":
                await context.bot.send_photo(chat_id, item.file_id, caption=caption)
            else:
                await context.bot.send_document(chat_id, item.file_id, caption=caption)
        except BadRequest as error:
            # A file Telegram no longer has: the card still counts it.
            logger.warning("evidence %s of nomination %s not sent: %s", number, view.id, error)


# --- what the nominator is told ----------------------------------------------------------------------


def notice_text(t: Translator, decision: Decision) -> str:
    """The nominator's notice of a decision, in their language."""
    values = {"code": decision.code or "", "name": decision.nominee_name or ""}
    if decision.action == Action.APPROVE:
        return t(
            "Good news: your nomination {code} ({name}) has been approved. Thank you for putting forward an exemplar.\nDetails: /nomination {code}",
            **values,
        )
    if decision.action == Action.REJECT:
        return t(
            "Your nomination {code} ({name}) was not accepted.\nReason: {reason}\nDetails: /nomination {code}",
            reason=decision.reason or "",
            **values,
        )
    if decision.action == Action.REQUEST_CHANGES:
        return t(
            "The reviewers ask you to change your nomination {code} ({name}):\n{message}\n\nPlease type /nominate to make the changes and send it again.",
            message=decision.reason or "",
            **values,
        )
    return t(
        "Your nomination {code} ({name}) names the same nominee as nomination {original}, which was sent in earlier, so the two are handled as one. Thank you.\nDetails: /nomination {code}",
        original=decision.original or "",
        **values,
    )


def notice_writer(context: BotContext) -> review.Notice:
    """Writes each notice with the translator of the nominator's language, not the reviewer's."""
    translators = context.services.translators

    def write(decision: Decision) -> str:
        return notice_text(translators.get(decision.nominator_locale), decision)

    return write


# --- what the reviewer is told -----------------------------------------------------------------------


def _done_text(t: Translator, decision: Decision) -> str:
    values = {"code": decision.code or "", "name": decision.nominee_name or ""}
    if decision.action == Action.APPROVE:
        return t("Approved {code} ({name}). The nominator will be told.", **values)
    if decision.action == Action.REJECT:
        return t("Rejected {code} ({name}). The nominator will be told the reason.", **values)
    if decision.action == Action.REQUEST_CHANGES:
        return t("Sent {code} ({name}) back to the nominator with your message.", **values)
    return t(
        "Marked {code} ({name}) as a duplicate of {original}. The nominator will be told.",
        original=decision.original or "",
        **values,
    )


def refusal_text(t: Translator, decision: Decision) -> str:
    """Why a decision was not made, in words a reviewer can act on."""
    code = decision.code or ""
    name = decision.decided_by or t("another reviewer")
    when = t.datetime(decision.decided_at) if decision.decided_at else ""
    refusal = decision.refusal
    if refusal == Refusal.NOT_ALLOWED:
        return t("Sorry, only reviewers and organisers can review nominations.")
    if refusal == Refusal.NOT_FOUND:
        return t("Sorry, this nomination no longer exists.")
    if refusal == Refusal.ALREADY_DECIDED:
        if decision.status == Status.APPROVED:
            return t("{code} was already approved by {name} at {time}.", code=code, name=name, time=when)
        if decision.status == Status.REJECTED:
            return t("{code} was already rejected by {name} at {time}.", code=code, name=name, time=when)
        return t("{code} was already marked as a duplicate by {name} at {time}.", code=code, name=name, time=when)
    if refusal == Refusal.NOT_AWAITING_REVIEW:
        if decision.status == Status.CHANGES_REQUESTED:
            return t(
                "{code} is waiting for the nominator's changes (asked by {name} at {time}).",
                code=code,
                name=name,
                time=when,
            )
        return t(
            "{code} is not waiting for review (status: {status}).",
            code=code,
            status=status_label(t, decision.status or ""),
        )
    if refusal == Refusal.TEXT_TOO_LONG:
        return t("That is too long: please keep it under {limit} characters.", limit=t.number(review.MAX_TEXT_CHARS))
    if refusal == Refusal.TEXT_TOO_SHORT:
        if decision.action == Action.REJECT:
            return t(
                "That reason is too short for the nominator to understand: please write at least {count} "
                "letters, e.g. “The achievements have no figures or evidence.”",
                count=t.number(review.MIN_TEXT_CHARS),
            )
        return t(
            "That message is too short for the nominator to act on: please write at least {count} letters.",
            count=t.number(review.MIN_TEXT_CHARS),
        )
    if refusal == Refusal.TEXT_REQUIRED:
        if decision.action == Action.REJECT:
            return t("A reason is required to reject a nomination.")
        return t("Please say what the nominator should change.")
    original = decision.original or ""
    if refusal == Refusal.UNKNOWN_ORIGINAL:
        return t("I found no nomination with the code {code}. Please check it.", code=original)
    if refusal == Refusal.SAME_NOMINATION:
        return t("A nomination cannot be a duplicate of itself.")
    if refusal == Refusal.OTHER_CAMPAIGN:
        return t("{code} belongs to another campaign.", code=original)
    return t(
        "{code} cannot be the original: its status is {status}.",
        code=original,
        status=status_label(t, decision.original_status or ""),
    )


# Refusals after which the card is out of date: its buttons are taken away.
_CARD_OUT_OF_DATE = frozenset({Refusal.NOT_FOUND, Refusal.ALREADY_DECIDED, Refusal.NOT_AWAITING_REVIEW})


# --- the card ----------------------------------------------------------------------------------------


def _actions(t: Translator, nomination_id: int, waiting: int) -> list[Option]:
    options = [
        Option(f"a:{nomination_id}", t("Approve")),
        Option(f"r:{nomination_id}", t("Reject")),
        Option(f"c:{nomination_id}", t("Ask for changes")),
        Option(f"d:{nomination_id}", t("Mark as duplicate")),
        Option(f"n:{nomination_id}", t("Skip for now")),
    ]
    if waiting > 1:
        options.append(Option(f"b:{nomination_id}", t("Approve all {count} in this queue", count=t.number(waiting))))
    return options


def _chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def _account(context: BotContext) -> Any:
    assert context.account is not None
    return context.account


async def _send_card(update: Update, context: BotContext, view: NominationView, waiting: int) -> None:
    t = context.t
    text = "\n\n".join(
        [
            card_text(t, view, history=any(entry.reason or entry.system_reason for entry in view.history)),
            t("Waiting in this queue: {count}. Press a button or type its number.", count=t.number(waiting))
            if t.buttons
            else t("Waiting in this queue: {count}. Type the number of your choice.", count=t.number(waiting)),
        ]
    )
    sent = await context.bot.send_message(
        _chat_id(update), text, reply_markup=keyboard("rv1", _actions(t, view.id, waiting), columns=2)
    )
    async with context.transaction() as db:
        desk = await review.open_desk(db, _account(context).id)
        desk.card_message_id = sent.message_id
        await review.keep_desk(db, _account(context).id, desk)


async def _show_next(update: Update, context: BotContext, note: str | None = None) -> str | int:
    """The oldest nomination of the reviewer's queue as a card, or the end of the review."""
    t = context.t
    account = _account(context)
    async with context.transaction() as db:
        desk = await review.open_desk(db, account.id)
        queue = await review.desk_queue(db, desk)
        view = await review.card(db, queue[0].id, account) if queue else None
        if view is None:
            await review.close_desk(db, account.id)
        else:
            desk.card_id, desk.bulk = view.id, []
            await review.keep_desk(db, account.id, desk)
    chat_id = _chat_id(update)
    if note:
        await context.bot.send_message(chat_id, note)
    if view is None:
        done = t("No more nominations are waiting in this queue. Thank you!")
        if desk.skipped:
            done += "\n" + t("You skipped {count}; type /review to see them again.", count=t.number(len(desk.skipped)))
        await context.bot.send_message(chat_id, done)
        return END
    await send_evidence(context, chat_id, view)
    await _send_card(update, context, view, len(queue))
    return REVIEWING


async def _close_card(context: BotContext, chat_id: int, message_id: int | None) -> None:
    """Take the buttons off a card that has been dealt with, so they cannot be pressed again."""
    if message_id is None:
        return
    await presses.remove_buttons(context.bot, chat_id, message_id)


# --- entry: /review ----------------------------------------------------------------------------------


def _group_key(group: QueueGroup) -> str:
    return f"{group.conference_id or 0}.{group.unit_id or 0}"


def _group_options(t: Translator, groups: Sequence[QueueGroup]) -> list[Option]:
    total = sum(group.count for group in groups)
    options = [Option("all", t("All queues ({count})", count=t.number(total)))]
    for group in groups:
        label = t(
            "{conference} · {unit} ({count})",
            conference=group.conference_title or t("No conference"),
            unit=group.unit_name or t("No unit"),
            count=t.number(group.count),
        )
        options.append(Option(_group_key(group), label))
    return options


async def _ask_queue(update: Update, context: BotContext, groups: Sequence[QueueGroup], note: str | None = None) -> str:
    t = context.t
    total = sum(group.count for group in groups)
    text = t(
        "Nominations waiting for review: {count}. Which queue do you want to review? The oldest come first.",
        count=t.number(total),
    )
    if note:
        text = f"{note}\n\n{text}"
    await context.bot.send_message(_chat_id(update), text, reply_markup=keyboard("rvq", _group_options(t, groups)))
    return PICKING


async def start(update: Update, context: BotContext) -> str | int:
    t = context.t
    account = _account(context)
    if not can_review(account.role):
        await context.bot.send_message(
            _chat_id(update), t("Sorry, only reviewers and organisers can review nominations.")
        )
        return END
    if context.args:
        return await _open_code(update, context, " ".join(context.args))
    async with context.transaction() as db:
        groups = await review.queue_groups(db)
        desk = review.ReviewDesk()
        if len(groups) == 1:
            desk.conference_id, desk.unit_id = groups[0].conference_id, groups[0].unit_id
        await review.keep_desk(db, account.id, desk)
    if not groups:
        await context.bot.send_message(
            _chat_id(update), t("No nominations are waiting for review right now. Thank you!")
        )
        return END
    if len(groups) == 1:
        return await _show_next(update, context)
    return await _ask_queue(update, context, groups)


async def _open_code(update: Update, context: BotContext, code: str) -> str | int:
    """/review CODE: straight to that nomination's card."""
    t = context.t
    account = _account(context)
    async with context.transaction() as db:
        found = await review.lookup(db, code, account)
        if found.view is not None and found.view.status == Status.SUBMITTED:
            await review.keep_desk(db, account.id, review.ReviewDesk(card_id=found.view.id))
    if found.view is None:
        await context.bot.send_message(
            _chat_id(update), t("I found no nomination with the code {code}.", code=found.code)
        )
        return END
    if found.view.status != Status.SUBMITTED:
        await context.bot.send_message(
            _chat_id(update),
            t(
                "{code} is not waiting for review (status: {status}).",
                code=found.code,
                status=status_label(t, found.view.status),
            ),
        )
        return END
    await send_evidence(context, _chat_id(update), found.view)
    await _send_card(update, context, found.view, 1)
    return REVIEWING


async def _pick(update: Update, context: BotContext, key: str) -> str | int:
    account = _account(context)
    async with context.transaction() as db:
        groups = await review.queue_groups(db)
        group = next((g for g in groups if _group_key(g) == key), None)
        if key == "all" or group is not None:
            desk = review.ReviewDesk()
            if group is not None:
                desk.conference_id, desk.unit_id = group.conference_id, group.unit_id
            await review.keep_desk(db, account.id, desk)
    if key != "all" and group is None:
        if not groups:
            return await _show_next(update, context)
        return await _ask_queue(update, context, groups, note=context.t("That queue is empty now."))
    return await _show_next(update, context)


async def _picked(update: Update, context: BotContext, key: str) -> str | int:
    assert context.press is not None
    await context.press.close()
    return await _pick(update, context, key)


async def _picked_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    async with context.transaction() as db:
        groups = await review.queue_groups(db)
    if not groups:
        return await _show_next(update, context)
    options = _group_options(context.t, groups)
    result = await clarify.answer(context, "rvq", update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return PICKING
    if isinstance(result, clarify.Again):
        return await _ask_queue(update, context, groups, note=result.note)
    return await _pick(update, context, result.option.key)


async def _picking_other(update: Update, context: BotContext) -> str | int:
    async with context.transaction() as db:
        groups = await review.queue_groups(db)
    if not groups:
        return await _show_next(update, context)
    return await _ask_queue(update, context, groups, note=_retry_note(context, len(groups) + 1))


def _retry_note(context: BotContext, count: int) -> str:
    return clarify.retry_note(context.t, count)


# --- the card's actions ------------------------------------------------------------------------------


async def _pressed(update: Update, context: BotContext, card: CardPress) -> str | int | None:
    if not can_review(_account(context).role):
        await _answer(context, context.t("Sorry, only reviewers and organisers can review nominations."))
        return END
    return await _act(update, context, card.action, card.nomination_id)


async def _typed_action(update: Update, context: BotContext) -> str | int | None:
    assert update.message is not None
    account = _account(context)
    async with context.transaction() as db:
        desk = await review.open_desk(db, account.id)
        waiting = len(await review.desk_queue(db, desk)) if desk.card_id else 0
        view = await review.card(db, desk.card_id, account) if desk.card_id else None
    if view is None:
        return await _show_next(update, context)
    options = _actions(context.t, view.id, waiting)
    result = await clarify.answer(context, "rv1", update.message.text or "", options, columns=2)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return REVIEWING
    if isinstance(result, clarify.Again):
        await context.bot.send_message(_chat_id(update), result.note)
        await _send_card(update, context, view, waiting)
        return REVIEWING
    action, nomination_id = result.option.key.split(":")
    return await _act(update, context, action, int(nomination_id))


async def _reviewing_other(update: Update, context: BotContext) -> str | int | None:
    await context.bot.send_message(
        _chat_id(update),
        context.t("Please press a button under the card, or type its number.")
        if context.t.buttons
        else context.t("Please type the number of your choice from the card."),
    )
    return None


_ASKS = {"r": Action.REJECT, "c": Action.REQUEST_CHANGES, "d": Action.MARK_DUPLICATE}


async def _act(update: Update, context: BotContext, action: str, nomination_id: int) -> str | int | None:
    """One card action, pressed or typed."""
    if action == "a":
        async with context.transaction() as db:
            decision = await review.approve(
                db, nomination_id, actor=_account(context), now=context.now(), notice=notice_writer(context)
            )
        return await _after_decision(update, context, decision)
    if action in _ASKS:
        return await _ask_follow_up(update, context, _ASKS[action], nomination_id)
    if action == "n":
        return await _skip(update, context, nomination_id)
    return await _ask_bulk(update, context)


async def _answer(context: BotContext, text: str | None = None) -> None:
    """Answer a button press (with a toast when there is something to say); nothing for typed input."""
    await presses.answer(context, text)


async def _refused(update: Update, context: BotContext, decision: Decision) -> str | int | None:
    """Say why nothing was done. A pressed button gets a toast (and an out-of-date card loses its
    buttons); a typed answer moves on to the next card, since the one it was about cannot be decided."""
    text = refusal_text(context.t, decision)
    press = context.press
    if press is not None:
        await press.answer(text, alert=True)
        if decision.refusal in _CARD_OUT_OF_DATE:
            await press.close()
        return END if decision.refusal == Refusal.NOT_ALLOWED else None
    if decision.refusal == Refusal.NOT_ALLOWED:
        await context.bot.send_message(_chat_id(update), text)
        return END
    return await _show_next(update, context, note=text)


async def _after_decision(update: Update, context: BotContext, decision: Decision) -> str | int | None:
    if not decision.ok:
        return await _refused(update, context, decision)
    await _answer(context)
    async with context.transaction() as db:
        desk = await review.open_desk(db, _account(context).id)
    card_message = desk.card_message_id if desk.card_id == decision.nomination_id else None
    if context.press is not None and context.press.message_id is not None:
        card_message = context.press.message_id
    await _close_card(context, _chat_id(update), card_message)
    return await _show_next(update, context, note=_done_text(context.t, decision))


async def _ask_follow_up(update: Update, context: BotContext, action: Action, nomination_id: int) -> str | int | None:
    account = _account(context)
    async with context.transaction() as db:
        check = await review.check_open(db, nomination_id, action, actor=account)
        view = await review.card(db, nomination_id, account) if check.ok else None
        if view is not None:
            desk = await review.open_desk(db, account.id)
            desk.card_id = nomination_id
            await review.keep_desk(db, account.id, desk)
    if not check.ok or view is None:
        return await _refused(update, context, check)
    await _answer(context)
    return await _ask(update, context, action, view)


async def _ask(
    update: Update, context: BotContext, action: Action, view: NominationView, note: str | None = None
) -> str:
    t = context.t
    code = view.code or ""
    markup = None
    if action == Action.REJECT:
        text = t("Why is {code} not accepted? Please type the reason; the nominator will read it.", code=code)
        state = REASON
    elif action == Action.REQUEST_CHANGES:
        text = t("What should the nominator change in {code}? Please type your message; they will read it.", code=code)
        state = CHANGES
    else:
        text = t("Which nomination is {code} a duplicate of? Type its code (e.g. DH-2020-0001).", code=code)
        state = ORIGINAL
        if view.duplicates:
            text += "\n" + t("Possible originals are on the buttons.")
            markup = keyboard(f"rvd:{view.id}", [Option(other, other) for other in view.duplicates])
    text += "\n" + t("Type /cancel to stop.")
    if note:
        text = f"{note}\n\n{text}"
    await context.bot.send_message(_chat_id(update), text, reply_markup=markup)
    return state


async def _skip(update: Update, context: BotContext, nomination_id: int) -> str | int:
    account = _account(context)
    async with context.transaction() as db:
        desk = await review.open_desk(db, account.id)
        if nomination_id not in desk.skipped:
            desk.skipped.append(nomination_id)
        await review.keep_desk(db, account.id, desk)
    await _answer(context)
    return await _show_next(update, context)


# --- follow-up questions -----------------------------------------------------------------------------

_TEXT_PROBLEMS = frozenset({Refusal.TEXT_REQUIRED, Refusal.TEXT_TOO_LONG, Refusal.TEXT_TOO_SHORT})
_ORIGINAL_PROBLEMS = frozenset(
    {Refusal.UNKNOWN_ORIGINAL, Refusal.SAME_NOMINATION, Refusal.ORIGINAL_UNUSABLE, Refusal.OTHER_CAMPAIGN}
)


async def _desk_card(context: BotContext) -> int | None:
    async with context.transaction() as db:
        desk = await review.open_desk(db, _account(context).id)
    return desk.card_id


async def _answered(
    update: Update, context: BotContext, action: Action, answer: str, nomination_id: int | None = None
) -> str | int | None:
    """The reason, the message or the original's code has been given: decide."""
    nomination_id = nomination_id or await _desk_card(context)
    if nomination_id is None:
        return await _show_next(update, context)
    account = _account(context)
    notice = notice_writer(context)
    async with context.transaction() as db:
        if action == Action.REJECT:
            decision = await review.reject(db, nomination_id, answer, actor=account, now=context.now(), notice=notice)
        elif action == Action.REQUEST_CHANGES:
            decision = await review.request_changes(
                db, nomination_id, answer, actor=account, now=context.now(), notice=notice
            )
        else:
            decision = await review.mark_duplicate(
                db, nomination_id, answer, actor=account, now=context.now(), notice=notice
            )
        view = await review.card(db, nomination_id, account)
    if decision.refusal in _TEXT_PROBLEMS | _ORIGINAL_PROBLEMS and view is not None:
        await _answer(context)
        return await _ask(update, context, action, view, note=refusal_text(context.t, decision))
    return await _after_decision(update, context, decision)


async def _reason(update: Update, context: BotContext) -> str | int | None:
    """The rejection's reason: checked, then shown back before anything is sent (the nominator reads it)."""
    assert update.message is not None
    return await _show_reason(update, context, update.message.text or "")


def _reason_options(t: Translator) -> list[Option]:
    return [
        Option("send", t("Send the rejection"), means=YES),
        Option("edit", t("Change the reason"), means=NO),
    ]


async def _show_reason(update: Update, context: BotContext, typed: str) -> str | int | None:
    nomination_id = await _desk_card(context)
    if nomination_id is None:
        return await _show_next(update, context)
    account = _account(context)
    problem = review.check_text(typed)
    async with context.transaction() as db:
        check = await review.check_open(db, nomination_id, Action.REJECT, actor=account)
        view = await review.card(db, nomination_id, account) if check.ok else None
        if view is not None and problem is None:
            desk = await review.open_desk(db, account.id)
            desk.reason = clean(typed)
            await review.keep_desk(db, account.id, desk)
    if not check.ok:  # decided by someone else meanwhile: say so, and move on
        return await _refused(update, context, check)
    if view is None:
        return await _show_next(update, context)
    if problem is not None:
        note = refusal_text(context.t, Decision(Action.REJECT, nomination_id, refusal=problem))
        return await _ask(update, context, Action.REJECT, view, note=note)
    t = context.t
    text = t(
        "Reject {code} ({name}) with this reason? The nominator will read it:\n“{reason}”",
        code=view.code or "",
        name=view.nominee_name or "—",
        reason=clean(typed),
    )
    markup = keyboard(f"rvr:{nomination_id}", _reason_options(t))
    await context.bot.send_message(_chat_id(update), text, reply_markup=markup)
    return REASON_SHOWN


async def _reason_checked(update: Update, context: BotContext, answer: str) -> str | int | None:
    """Send the rejection with the reason shown, or ask for the reason again."""
    account = _account(context)
    async with context.transaction() as db:
        desk = await review.open_desk(db, account.id)
        reason, desk.reason = desk.reason, None
        await review.keep_desk(db, account.id, desk)
        view = await review.card(db, desk.card_id, account) if desk.card_id else None
    if answer == "send" and reason:
        return await _answered(update, context, Action.REJECT, reason)
    await _answer(context)
    if view is None:
        return await _show_next(update, context)
    return await _ask(update, context, Action.REJECT, view)


async def _reason_pressed(update: Update, context: BotContext, press: ReasonPress) -> str | int | None:
    if press.nomination_id != await _desk_card(context):
        await _answer(context, context.t("This confirmation is out of date."))
        return None
    state = await _reason_checked(update, context, press.answer)
    assert context.press is not None
    await context.press.close()
    return state


async def _reason_typed(update: Update, context: BotContext) -> str | int | None:
    """1/2 or the labels; a whole new reason instead is shown back too (nothing is sent without a yes)."""
    assert update.message is not None
    typed = update.message.text or ""
    options = _reason_options(context.t)
    nomination_id = await _desk_card(context)
    result = await clarify.answer(context, f"rvr:{nomination_id}", typed, options)
    if isinstance(result, clarify.Again) and result.unmatched and review.check_text(typed) is None:
        return await _show_reason(update, context, typed)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return None
    if isinstance(result, clarify.Again):
        markup = keyboard(f"rvr:{nomination_id}", options)
        await context.bot.send_message(_chat_id(update), result.note, reply_markup=markup)
        return None
    return await _reason_checked(update, context, result.option.key)


async def _changes(update: Update, context: BotContext) -> str | int | None:
    assert update.message is not None
    return await _answered(update, context, Action.REQUEST_CHANGES, update.message.text or "")


async def _original(update: Update, context: BotContext) -> str | int | None:
    """A typed code, or the number or code of one of the suggested originals."""
    assert update.message is not None
    answer = update.message.text or ""
    nomination_id = await _desk_card(context)
    async with context.transaction() as db:
        view = await review.card(db, nomination_id, _account(context)) if nomination_id else None
    suggestions = [Option(code, code) for code in (view.duplicates if view else ())]
    picked = pick(suggestions, answer) if answer.strip().isdigit() else None
    return await _answered(update, context, Action.MARK_DUPLICATE, picked.key if picked else answer)


async def _original_pressed(update: Update, context: BotContext, original: OriginalPress) -> str | int | None:
    state = await _answered(update, context, Action.MARK_DUPLICATE, original.code, original.nomination_id)
    assert context.press is not None
    await context.press.close()  # after the answer, which may be a toast saying why nothing was done
    return state


async def _text_please(update: Update, context: BotContext) -> None:
    await context.bot.send_message(
        _chat_id(update), context.t("Please type your answer as a text message, or /cancel to stop.")
    )


# --- approve all -------------------------------------------------------------------------------------


def _bulk_options(t: Translator, count: int) -> list[Option]:
    return [
        Option(f"yes:{count}", t("Yes, approve all {count}", count=t.number(count)), means=YES),
        Option(f"no:{count}", t("No, go back"), means=NO),
    ]


async def _ask_bulk(update: Update, context: BotContext) -> str | int | None:
    t = context.t
    account = _account(context)
    async with context.transaction() as db:
        desk = await review.open_desk(db, account.id)
        queue = await review.desk_queue(db, desk)
        desk.bulk = [nomination.id for nomination in queue]
        await review.keep_desk(db, account.id, desk)
    await _answer(context)
    if not queue:
        return await _show_next(update, context)
    lines = [t("Approve these {count} nominations at once?", count=t.number(len(queue)))]
    lines += [f"• {nomination.code} — {nomination.nominee_name}" for nomination in queue]
    lines.append(t("Each nominator will be told."))
    await context.bot.send_message(
        _chat_id(update), "\n".join(lines), reply_markup=keyboard("rvb", _bulk_options(t, len(queue)))
    )
    return CONFIRMING


async def _confirmed(update: Update, context: BotContext, key: str) -> str | int | None:
    t = context.t
    account = _account(context)
    answer, count = key.split(":")
    async with context.transaction() as db:
        desk = await review.open_desk(db, account.id)
        if answer != "yes" or len(desk.bulk) != int(count):
            result = None
        else:
            result = await review.approve_many(
                db, desk.bulk, actor=account, now=context.now(), notice=notice_writer(context)
            )
        desk.bulk = []
        await review.keep_desk(db, account.id, desk)
    if answer != "yes":
        await _answer(context)
        return await _show_next(update, context, note=t("Nothing was approved."))
    if result is None:
        await _answer(context, t("This confirmation is out of date. Please press “Approve all” again."))
        return await _show_next(update, context)
    await _answer(context)
    note = t("Approved {count} nominations. Each nominator will be told.", count=t.number(result.count))
    if result.refused:
        note += "\n" + t(
            "Not approved, because they were decided or changed meanwhile: {codes}",
            codes=", ".join(decision.code or "" for decision in result.refused),
        )
    await _close_card(context, _chat_id(update), desk.card_message_id)
    return await _show_next(update, context, note=note)


async def _confirm_pressed(update: Update, context: BotContext, bulk: BulkPress) -> str | int | None:
    state = await _confirmed(update, context, f"{bulk.answer}:{bulk.shown}")
    assert context.press is not None
    await context.press.close()  # after the answer, which may be a toast saying it is out of date
    return state


async def _confirm_typed(update: Update, context: BotContext) -> str | int | None:
    assert update.message is not None
    async with context.transaction() as db:
        desk = await review.open_desk(db, _account(context).id)
    options = _bulk_options(context.t, len(desk.bulk))
    result = await clarify.answer(context, "rvb", update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return None
    if isinstance(result, clarify.Again):
        await context.bot.send_message(_chat_id(update), result.note, reply_markup=keyboard("rvb", options))
        return None
    return await _confirmed(update, context, result.option.key)


# --- leaving -----------------------------------------------------------------------------------------


async def cancel(update: Update, context: BotContext) -> int:
    async with context.transaction() as db:
        await review.close_desk(db, _account(context).id)
    await context.bot.send_message(
        _chat_id(update),
        context.t(
            "Stopped reviewing. Decisions already made are kept; nothing else was changed. Type /review to go on."
        ),
    )
    return END


def conversation() -> ConversationHandler[BotContext]:
    card_button: BaseHandler[Update, BotContext, Any] = button(CARD, _pressed)
    text = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
    other = filters.UpdateType.MESSAGE & ~filters.COMMAND
    question: dict[str, Any] = {REASON: _reason, CHANGES: _changes, ORIGINAL: _original}
    states: dict[object, list[BaseHandler[Update, BotContext, Any]]] = {
        PICKING: [
            button(QUEUE, _picked),
            MessageHandler(text, _picked_typed),
            MessageHandler(other, _picking_other),
        ],
        REVIEWING: [
            card_button,
            MessageHandler(text, _typed_action),
            MessageHandler(other, _reviewing_other),
        ],
        CONFIRMING: [
            button(BULK, _confirm_pressed),
            MessageHandler(text, _confirm_typed),
            MessageHandler(other, _text_please),
        ],
        REASON_SHOWN: [
            button(REASON_CHECK, _reason_pressed),
            MessageHandler(text, _reason_typed),
            MessageHandler(other, _text_please),
        ],
    }
    for state, callback in question.items():
        states[state] = [MessageHandler(text, callback), MessageHandler(other, _text_please)]
    states[ORIGINAL].insert(0, button(ORIGINAL_CODE, _original_pressed))
    return Dialogue(
        entry_points=[CommandHandler("review", start), card_button],
        states=states,
        fallbacks=[CommandHandler("cancel", cancel), CommandHandler("review", start), card_button],
        name="review",
        persistent=True,
        allow_reentry=True,
    )
