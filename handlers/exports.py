"""/invitations, /attendance and /delegates for organisers, and the "which conference?" question.

``/invitations`` asks in which form (buttons, or typed; or named after the command, ``/invitations
district excel``): the Excel file units hand out (personal links and QR codes: bots cannot write to people
first), or the printable invitations (giấy mời, ``rules.printing``) as a PDF per person or a PDF per unit,
several files in one ZIP, drawn off the event loop; ``/attendance`` the "danh sách trích ngang" of the delegates who accepted, ``/delegates``
the seats and delegates by pool and status. Each takes the conference's code as an argument
(``/attendance district``); without it, and with several conferences, it asks which one (buttons, or the
number, title or code typed). The files are written in the bot's default language (they are official
lists), the replies in the organiser's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, presses
from handlers.common import refuse
from handlers.dialogue import Dialogue
from handlers.keyboards import keyboard
from handlers.presses import ButtonData, Choice, Id, button
from rules import delegates, exports, printing, workbook
from rules.accounts import acting
from rules.balance import dimension_name
from rules.choices import Option, pick
from rules.delegates import (
    STATUS_LABELS,
    STATUS_ORDER,
    DelegatesSummary,
    PoolDelegates,
    Target,
    active,
)
from rules.invitations import Status
from rules.plans import DIMENSION_LISTS
from rules.printing import Per
from rules.refdata import reference
from rules.roles import NotAllowed, Role
from rules.seats import PoolCount, pool_counts
from rules.text import title_for
from storage.models import Conference

END = ConversationHandler.END
MESSAGE_LIMIT = 4000  # Telegram's is 4096 characters
NAMES_SHOWN = 20  # per pool and status in /delegates; the files have everyone
TEXT = filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND
OTHER = filters.UpdateType.MESSAGE & ~filters.COMMAND

OnPick = Callable[[Update, BotContext, int], Awaitable[str | int]]
# The conferences a question offers at a moment (the application's clock): every conference of the plan
# for lists and files, only those open for it (``rules.conferences``) for what changes a conference.
Offered = Callable[[AsyncSession, dt.datetime], Awaitable[list[Conference]]]


async def every_conference(session: AsyncSession, now: dt.datetime) -> list[Conference]:
    """Every conference, ended or not: an attendance list is wanted after the conference too."""
    return await delegates.conferences(session)


# --- small helpers shared with handlers.invite -------------------------------------------------------


def chat_id(update: Update) -> int:
    assert update.effective_chat is not None
    return update.effective_chat.id


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` in pieces under Telegram's limit, cut between lines."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        line = line[:limit]
        if current and len(current) + 1 + len(line) > limit:
            pieces.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    pieces.append(current)
    return pieces


async def send_long(
    update: Update, context: BotContext, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Send ``text`` in as many messages as it needs; the buttons go with the last one."""
    pieces = split_message(text)
    for index, piece in enumerate(pieces):
        markup = reply_markup if index == len(pieces) - 1 else None
        await context.bot.send_message(chat_id(update), piece, reply_markup=markup)


async def answer_query(context: BotContext, text: str | None = None) -> None:
    """Answer a button press (with an alert when there is something to say), and take its buttons away;
    nothing for typed input."""
    await presses.answer(context, text)
    if context.press is not None:
        await context.press.close()


def retry_note(t: Translator, count: int) -> str:
    return clarify.retry_note(t, count)


def account_id(context: BotContext) -> int | None:
    return context.account.id if context.account else None


def may_manage(context: BotContext) -> bool:
    """Whether the person asking may invite, import guest lists and export the lists (organisers)."""
    return context.account is not None and delegates.may_manage(context.account.role)


def organisers_only(t: Translator) -> str:
    return t("Sorry, only organisers can use this command.")


def pool_line(t: Translator, pool: PoolCount, adding: int) -> str:
    """``Đại biểu điển hình tiên tiến: 210 ghế; đã mời 180 (đã nhận lời 150) → sẽ mời thêm 12.``"""
    values = {
        "pool": pool.title,
        "invited": t.number(pool.invited),
        "accepted": t.number(pool.accepted),
        "count": t.number(adding),
    }
    if pool.seats is None:
        return t("{pool}: invited {invited} (accepted {accepted}) → {count} more to invite.", **values)
    return t(
        "{pool}: {seats} seats; invited {invited} (accepted {accepted}) → {count} more to invite.",
        seats=t.number(pool.seats),
        **values,
    )


def over_seats_line(t: Translator, pool: PoolCount, adding: int) -> str | None:
    """A warning when the pool would have more people invited (and not declined) than seats; never a refusal."""
    if pool.seats is None or active(pool) + adding <= pool.seats:
        return None
    return t(
        "⚠️ That is {count} more than the seats of “{pool}”: once the seats are taken, those who accept later go on the waiting list.",
        count=t.number(active(pool) + adding - pool.seats),
        pool=pool.title,
    )


# --- which conference? -------------------------------------------------------------------------------


class ConferenceQuestion:
    """Asks which conference a command is about (buttons, or the number, title or code typed)."""

    def __init__(
        self,
        prefix: str,
        state: str,
        question: str,
        on_pick: OnPick,
        *,
        offered: Offered = every_conference,
        none_offered: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.data = ButtonData(prefix, int, Id())
        self.state = state
        self.question = question  # a msgid
        self.on_pick = on_pick
        self.offered = offered
        # What to say when the plan has conferences but none is offered now (a msgid).
        self.none_offered = none_offered

    async def _items(self, context: BotContext) -> list[Conference]:
        async with context.transaction() as db:
            return await self.offered(db, context.now())

    async def start(self, update: Update, context: BotContext, text: str) -> str | int:
        """With ``text`` (the command's argument), that conference; with one conference, it; else ask."""
        t = context.t
        items = await self._items(context)
        if not items:
            async with context.transaction() as db:
                planned = bool(await delegates.conferences(db))
            if planned and self.none_offered:
                await context.bot.send_message(chat_id(update), t(self.none_offered))
                return END
            await context.bot.send_message(
                chat_id(update), t("No conference is set up yet. Load a plan first: dienhinh plan load FILE")
            )
            return END
        if text.strip():
            # The command's words are an answer to the question: a part of a title is asked back.
            state = await self._answered(update, context, items, text, given=True)
            return self.state if state is None else state
        if len(items) == 1:
            return await self.on_pick(update, context, items[0].id)
        return await self.ask(update, context, items)

    async def ask(
        self, update: Update, context: BotContext, items: Sequence[Conference], note: str | None = None
    ) -> str:
        text = context.t(self.question)
        if note:
            text = f"{note}\n\n{text}"
        await context.bot.send_message(
            chat_id(update), text, reply_markup=keyboard(self.prefix, delegates.conference_options(items))
        )
        return self.state

    async def _pressed(self, update: Update, context: BotContext, conference_id: int) -> str | int | None:
        if not may_manage(context):
            await presses.answer(context, organisers_only(context.t))
            return END
        items = await self._items(context)
        if not any(item.id == conference_id for item in items):
            await answer_query(context, context.t("That choice is no longer available."))
            return await self.ask(update, context, items) if items else END
        await answer_query(context)
        return await self.on_pick(update, context, conference_id)

    async def _typed(self, update: Update, context: BotContext) -> str | int | None:
        assert update.message is not None
        items = await self._items(context)
        return await self._answered(update, context, items, update.message.text or "")

    async def _answered(
        self, update: Update, context: BotContext, items: Sequence[Conference], text: str, *, given: bool = False
    ) -> str | int | None:
        """``text`` typed at the question, or ``given`` after the command (``/invite district``)."""
        result = await clarify.answer(context, self.prefix, text, delegates.conference_options(items))
        if isinstance(result, clarify.Ask):
            await clarify.send(update, context, result)
            return self.state
        if isinstance(result, clarify.Again):
            note = result.note
            if given and result.reason == "unmatched":
                note = context.t("I found no conference called “{name}”.", name=text.strip())
            return await self.ask(update, context, items, note)
        return await self.on_pick(update, context, int(result.option.key))

    async def _other(self, update: Update, context: BotContext) -> str | int | None:
        items = await self._items(context)
        return await self.ask(update, context, items, retry_note(context.t, len(items)))

    def handlers(self) -> list[BaseHandler[Update, BotContext, Any]]:
        return [
            button(self.data, self._pressed),
            MessageHandler(TEXT, self._typed),
            MessageHandler(OTHER, self._other),
        ]


# --- /invitations ------------------------------------------------------------------------------------

# Kept in ptb_data per organiser while the question of the form is open: the conference, or the form
# named after the command (``/invitations district excel``) until the conference is known.
INVITATIONS_DESK = "invitations"
INVITATIONS_FORM = "exports.invitations.form"
FORMS = ("xlsx", Per.PERSON.value, Per.UNIT.value)
# The letters are drawn in a thread of their own, one job at a time, so the event loop goes on answering.
PRINT_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="print-letters")


class FormPress(NamedTuple):
    form: str
    conference_id: int


# Callback data: xpf:<xlsx|person|unit>:<conference id>.
FORM_DATA = ButtonData("xpf", FormPress, Choice(*FORMS), Id())


def form_options(t: Translator, conference_id: int) -> list[Option]:
    """The forms /invitations offers: the Excel list, a printable letter per person, the letters by unit."""
    return [
        Option(f"xlsx:{conference_id}", t("Download the list (Excel)"), aliases=("excel", "xlsx", t("list"))),
        Option(
            f"person:{conference_id}",
            t("Printable invitations (PDF) — one per person"),
            aliases=(t("one per person"), t("each person")),
        ),
        Option(f"unit:{conference_id}", t("Invitations by unit (PDF)"), aliases=(t("by unit"), t("unit"))),
    ]


def _form_named(t: Translator, args: Sequence[str]) -> tuple[str | None, str]:
    """The form named by the last words after the command, and the words before it (the conference)."""
    for size in (3, 2, 1):
        if len(args) >= size:
            option = pick(form_options(t, 0), " ".join(args[-size:]))
            if option is not None:
                return option.key.split(":")[0], " ".join(args[:-size])
    return None, " ".join(args)


async def _invitations_command(update: Update, context: BotContext) -> str | int:
    if not may_manage(context):
        await context.bot.send_message(chat_id(update), organisers_only(context.t))
        return END
    form, rest = _form_named(context.t, context.args or [])
    async with context.transaction() as db:
        account = account_id(context)
        assert account is not None
        if form is None:
            await delegates.forget(db, INVITATIONS_DESK, account)
        else:
            await delegates.remember(db, INVITATIONS_DESK, account, {"form": form})
    return await QUESTIONS["invitations"].start(update, context, rest)


async def _ask_form(update: Update, context: BotContext, conference_id: int) -> str | int:
    """The conference is known: send the form named after the command, or ask which one."""
    account = account_id(context)
    async with context.transaction() as db:
        allowed = account is not None and await acting(db, account, Role.ORGANISER) is not None
        if account is not None and allowed:
            desk = await delegates.recall(db, INVITATIONS_DESK, account)
            form = desk.get("form")
            await delegates.remember(db, INVITATIONS_DESK, account, {"conference_id": conference_id})
            conference = await db.get_one(Conference, conference_id)
        elif account is not None:
            await delegates.forget(db, INVITATIONS_DESK, account)
    if not allowed:
        return await refuse(update, context, NotAllowed(Role.ORGANISER))
    if form in FORMS:
        return await _send_form(update, context, conference_id, str(form))
    return await _ask_form_again(update, context, conference)


async def _ask_form_again(
    update: Update, context: BotContext, conference: Conference | None, note: str | None = None
) -> str | int:
    """The question of the form (after ``note``), with its buttons; the conference gone, the question ends."""
    t = context.t
    if conference is None:
        await context.bot.send_message(chat_id(update), t("That choice is no longer available."))
        return END
    text = t("In which form do you want the invitations to {title}?", title=conference.title)
    await context.bot.send_message(
        chat_id(update),
        f"{note}\n\n{text}" if note else text,
        reply_markup=keyboard("xpf", form_options(t, conference.id)),
    )
    return INVITATIONS_FORM


async def _desk_conference(context: BotContext) -> Conference | None:
    """The conference whose form is being asked, as this organiser's desk keeps it."""
    account = account_id(context)
    if account is None:
        return None
    async with context.transaction() as db:
        desk = await delegates.recall(db, INVITATIONS_DESK, account)
        conference_id = desk.get("conference_id")
        return await db.get(Conference, conference_id) if isinstance(conference_id, int) else None


async def _form_pressed(update: Update, context: BotContext, chosen: FormPress) -> str | int:
    if not may_manage(context):
        await presses.answer(context, organisers_only(context.t))
        return END
    label = next(o.label for o in form_options(context.t, chosen.conference_id) if o.key.startswith(chosen.form))
    await presses.answer(context)
    if context.press is not None:
        await context.press.close(label)
    return await _send_form(update, context, chosen.conference_id, chosen.form)


async def _form_typed(update: Update, context: BotContext) -> str | int:
    assert update.message is not None
    conference = await _desk_conference(context)
    if conference is None:
        return await _ask_form_again(update, context, None)
    options = form_options(context.t, conference.id)
    result = await clarify.answer(context, "xpf", update.message.text or "", options)
    if isinstance(result, clarify.Ask):
        await clarify.send(update, context, result)
        return INVITATIONS_FORM
    if isinstance(result, clarify.Again):
        return await _ask_form_again(update, context, conference, result.note)
    form, _, picked = result.option.key.partition(":")
    return await _send_form(update, context, int(picked), form)


async def _form_other(update: Update, context: BotContext) -> str | int:
    conference = await _desk_conference(context)
    return await _ask_form_again(update, context, conference, retry_note(context.t, len(FORMS)))


async def _send_form(update: Update, context: BotContext, conference_id: int, form: str) -> int:
    account = account_id(context)
    if account is not None:
        async with context.transaction() as db:
            await delegates.forget(db, INVITATIONS_DESK, account)
    if form == "xlsx":
        return await _send_invitations(update, context, conference_id)
    return await _send_letters(update, context, conference_id, Per(form))


def _link_list_args(context: BotContext) -> dict[str, Any]:
    """What the lists of personal links are made with: the bot's language (they are official lists), the
    link secret, the bot's name for the links, who asks and when."""
    return {
        "labels": context.services.translators.default,
        "secret": context.services.link_secret,
        "bot_username": context.bot.username,
        "actor_id": account_id(context),
        "now": context.now(),
    }


def _nobody_invited(t: Translator, conference: Conference) -> str:
    return t(
        "No one is invited to {title} yet. Type /invite to invite approved exemplars, or send me the guest list as an Excel or CSV file.",
        title=conference.title,
    )


async def _send_invitations(update: Update, context: BotContext, conference_id: int) -> int:
    t = context.t
    async with context.transaction() as db:
        data = await exports.invitations_workbook(db, conference_id, **_link_list_args(context))
        if not isinstance(data, NotAllowed):
            conference = await db.get_one(Conference, conference_id)
            count = sum(pool.invited for pool in await pool_counts(db, conference_id))
    if isinstance(data, NotAllowed):
        return await refuse(update, context, data)
    if data is None:
        await context.bot.send_message(chat_id(update), _nobody_invited(t, conference))
        return END
    file_name = context.services.translators.default(N_("invitations-{code}.xlsx"), code=conference.code)
    await context.bot.send_document(
        chat_id(update),
        document=InputFile(data, filename=file_name),
        caption=t(
            "The invitations to {title}: {count} people, each with their personal link and its QR code. Units hand each delegate their own link or printed code: the bot cannot write to people first. Keep this file safe: a link is personal.",
            title=conference.title,
            count=t.number(count),
        ),
    )
    return END


def letters_caption(t: Translator, letters: printing.Letters, made: printing.PrintedFile, per: Per) -> str:
    """What comes with the printed invitations: how many, in which files, and that they are personal."""
    values = {
        "title": letters.conference_title,
        "count": t.number(len(letters.letters)),
        "files": t.number(made.files),
    }
    if made.files == 1:
        text = t("Printable invitations to {title}: {count} people, one A4 page each.", **values)
    elif per is Per.PERSON:
        text = t("Printable invitations to {title}: {count} people, one PDF file each, in this ZIP file.", **values)
    else:
        text = t(
            "Printable invitations to {title}: {count} people in {files} PDF files, one per unit (a page per person), in this ZIP file.",
            **values,
        )
    return "\n".join(
        [
            text,
            t(
                "Each letter has the delegate's QR code and invitation code. Units print them and hand each delegate their own: a letter is personal, keep the file safe."
            ),
        ]
    )


async def _send_letters(update: Update, context: BotContext, conference_id: int, per: Per) -> int:
    t = context.t
    async with context.transaction() as db:
        letters = await printing.invitation_letters(db, conference_id, **_link_list_args(context))
        conference = await db.get_one(Conference, conference_id)
    if isinstance(letters, NotAllowed):
        return await refuse(update, context, letters)
    if letters is None:
        await context.bot.send_message(chat_id(update), _nobody_invited(t, conference))
        return END
    await context.bot.send_message(
        chat_id(update), t("Preparing {count} invitations for printing…", count=t.number(len(letters.letters)))
    )
    made = await asyncio.get_running_loop().run_in_executor(PRINT_EXECUTOR, printing.bundle, letters, per)
    await context.bot.send_document(
        chat_id(update),
        document=InputFile(made.data, filename=made.filename),
        caption=letters_caption(t, letters, made, per),
    )
    return END


# --- /attendance -------------------------------------------------------------------------------------


# Kept in ptb_data per organiser from /attendance … sensitive REASON until the list is sent: the reason.
ATTENDANCE_DESK = "attendance"


async def _attendance_command(update: Update, context: BotContext) -> str | int:
    """``/attendance [CODE] [sensitive|nhạy cảm REASON]``: ethnicity is in the list only when asked for, with
    a reason (kept in the audit trail)."""
    t = context.t
    if not may_manage(context):
        await context.bot.send_message(chat_id(update), organisers_only(t))
        return END
    asked = workbook.export_request(context.args or [])
    if asked.reason_missing:
        await context.bot.send_message(
            chat_id(update),
            t(
                "Ethnicity is sensitive personal data: say why you need it after the word “sensitive”, for "
                "example: /attendance district sensitive delegate structure report. The reason is kept in the "
                "audit trail."
            ),
        )
        return END
    account = account_id(context)
    assert account is not None
    async with context.transaction() as db:
        if asked.sensitive:
            await delegates.remember(db, ATTENDANCE_DESK, account, {"reason": asked.reason})
        else:
            await delegates.forget(db, ATTENDANCE_DESK, account)
    return await QUESTIONS["attendance"].start(update, context, asked.code or "")


async def _attendance_reason(db: AsyncSession, account: int | None) -> str | None:
    """The reason given with /attendance … sensitive, taken off the desk (it serves one list)."""
    if account is None:
        return None
    reason = (await delegates.recall(db, ATTENDANCE_DESK, account)).get("reason")
    await delegates.forget(db, ATTENDANCE_DESK, account)
    return reason if isinstance(reason, str) and reason else None


async def _send_attendance(update: Update, context: BotContext, conference_id: int) -> int:
    t = context.t
    async with context.transaction() as db:
        reason = await _attendance_reason(db, account_id(context))
        data = await exports.attendance_workbook(
            db,
            conference_id,
            labels=context.services.translators.default,
            actor_id=account_id(context),
            now=context.now(),
            sensitive_reason=reason,
        )
        if not isinstance(data, NotAllowed):
            conference = await db.get_one(Conference, conference_id)
            counts = await pool_counts(db, conference_id)
            accepted = sum(pool.accepted for pool in counts)
            checked_in = sum(pool.checked_in for pool in counts)
    if isinstance(data, NotAllowed):
        return await refuse(update, context, data)
    if data is None:
        await context.bot.send_message(
            chat_id(update), t("No delegate has accepted the invitation to {title} yet.", title=conference.title)
        )
        return END
    file_name = context.services.translators.default(N_("attendance-{code}.xlsx"), code=conference.code)
    values = {"title": conference.title, "count": t.number(accepted), "checked_in": t.number(checked_in)}
    if reason:
        caption = t(
            "The attendance list of {title}: {count} delegates who accepted, {checked_in} checked in. It holds sensitive personal data (ethnicity): please keep it safe.",
            **values,
        )
    else:
        caption = t(
            "The attendance list of {title}: {count} delegates who accepted, {checked_in} checked in. Ethnicity is left out; to include it, say why: /attendance {code} sensitive REASON",
            code=conference.code,
            **values,
        )
    await context.bot.send_document(chat_id(update), document=InputFile(data, filename=file_name), caption=caption)
    return END


# --- /delegates --------------------------------------------------------------------------------------


def _pool_heading(t: Translator, item: PoolDelegates) -> str:
    pool = item.pool
    title = title_for(t.locale, pool.title, pool.title_en)
    if item.share is None:
        return t("{pool} (not in the plan any more)", pool=title)
    share = t.percent(item.share)
    if pool.seats is None:
        if item.share_rule == "max":
            return t("{pool}: at most {share} of the delegates", pool=title, share=share)
        return t("{pool}: at least {share} of the delegates", pool=title, share=share)
    seats = t.number(pool.seats)
    if item.share_rule == "max":
        return t("{pool}: {seats} seats (at most {share} of the delegates)", pool=title, seats=seats, share=share)
    return t("{pool}: {seats} seats (at least {share} of the delegates)", pool=title, seats=seats, share=share)


def _target_line(t: Translator, target: Target) -> str:
    name = dimension_name(t, target.dimension)
    if target.value and target.dimension in DIMENSION_LISTS:
        entries = getattr(reference(), DIMENSION_LISTS[target.dimension][0])
        entry = entries.get(target.value)
        value = (entry.label_en if t.locale == "en" else entry.label) if entry else target.value
        name = t("{dimension} “{value}”", dimension=name, value=value)
    if target.target_share is None:
        return t("• {dimension}: report only", dimension=name)
    share = t.percent(target.target_share)
    if target.comparison == "max":
        return t("• {dimension}: at most {share}", dimension=name, share=share)
    return t("• {dimension}: at least {share}", dimension=name, share=share)


def delegates_text(t: Translator, summary: DelegatesSummary) -> str:
    """The seats of the plan and the delegates by pool and status, with counts (names up to a limit)."""
    lines = [t("Delegates of {title}", title=title_for(t.locale, summary.title, summary.title_en))]
    if summary.capacity is None:
        lines.append(t("No seat limit: the pools are shares of the delegates."))
    else:
        lines.append(t("Capacity: {seats} seats.", seats=t.number(summary.capacity)))
    for item in summary.pools:
        pool = item.pool
        lines += ["", _pool_heading(t, item)]
        if not item.people:
            lines.append(t("Nobody invited yet."))
        for status in STATUS_ORDER:
            people = item.people.get(status, ())
            if not people:
                continue
            label = t(STATUS_LABELS[status])
            if status == Status.ACCEPTED:
                lines.append(
                    t(
                        "{status}: {count} (checked in: {checked_in})",
                        status=label,
                        count=t.number(len(people)),
                        checked_in=t.number(pool.checked_in),
                    )
                )
            else:
                lines.append(t("{status}: {count}", status=label, count=t.number(len(people))))
            for person in people[:NAMES_SHOWN]:
                unit = f" — {person.unit_name}" if person.unit_name else ""
                who = t("{name} (no. {number})", name=person.name, number=person.number)
                lines.append(f"   • {who}{unit}{' ✅' if person.checked_in else ''}")
            if len(people) > NAMES_SHOWN:
                lines.append("   " + t("… and {count} more", count=t.number(len(people) - NAMES_SHOWN)))
    lines += [
        "",
        t(
            "In all: {invited} invited, {accepted} accepted.",
            invited=t.number(summary.invited),
            accepted=t.number(summary.accepted),
        ),
    ]
    if summary.unit_seats:
        lines += ["", t("Seats allotted to units (accepted / seats):")]
        lines += [
            f"• {unit.unit_name}: {t.number(unit.accepted)}/{t.number(unit.seats)}" for unit in summary.unit_seats
        ]
    if summary.targets:
        lines += ["", t("Balance targets (shown as gaps, never enforced):")]
        lines += [_target_line(t, target) for target in summary.targets]
    lines += [
        "",
        t("✅ = checked in. Files: /invitations (links and QR codes), /attendance (attendance list)."),
        t("The number after a name is printed in every list: /checkin 42 or /override 42 … take it."),
    ]
    return "\n".join(lines)


async def _send_delegates(update: Update, context: BotContext, conference_id: int) -> int:
    async with context.transaction() as db:
        summary = await delegates.delegates_summary(db, conference_id, actor_id=account_id(context))
    if isinstance(summary, NotAllowed):
        return await refuse(update, context, summary)
    if summary is None:
        await context.bot.send_message(chat_id(update), context.t("That choice is no longer available."))
        return END
    await send_long(update, context, delegates_text(context.t, summary))
    return END


# --- the conversation --------------------------------------------------------------------------------

QUESTIONS = {
    "invitations": ConferenceQuestion(
        "xpi", "exports.invitations", N_("Which conference's invitations do you want?"), _ask_form
    ),
    "attendance": ConferenceQuestion(
        "xpa", "exports.attendance", N_("Which conference's attendance list do you want?"), _send_attendance
    ),
    "delegates": ConferenceQuestion(
        "xpd", "exports.delegates", N_("Which conference's delegates do you want to see?"), _send_delegates
    ),
}


COMMANDS = {"invitations": _invitations_command, "attendance": _attendance_command}


def _command(name: str) -> Callable[[Update, BotContext], Coroutine[Any, Any, str | int]]:
    question = QUESTIONS[name]

    async def command(update: Update, context: BotContext) -> str | int:
        if not may_manage(context):
            await context.bot.send_message(chat_id(update), organisers_only(context.t))
            return END
        return await question.start(update, context, " ".join(context.args or []))

    return command


async def cancel(update: Update, context: BotContext) -> int:
    await context.bot.send_message(chat_id(update), context.t("Cancelled. Nothing was changed."))
    return END


def conversation() -> ConversationHandler[BotContext]:
    commands: list[BaseHandler[Update, BotContext, Any]] = [
        CommandHandler(name, COMMANDS[name] if name in COMMANDS else _command(name)) for name in QUESTIONS
    ]
    states: dict[object, list[BaseHandler[Update, BotContext, Any]]] = {
        question.state: question.handlers() for question in QUESTIONS.values()
    }
    states[INVITATIONS_FORM] = [
        button(FORM_DATA, _form_pressed),
        MessageHandler(TEXT, _form_typed),
        MessageHandler(OTHER, _form_other),
    ]
    return Dialogue(
        entry_points=list(commands),
        states=states,
        fallbacks=[CommandHandler("cancel", cancel), *commands],
        name="exports",
        persistent=True,
        allow_reentry=True,
    )
