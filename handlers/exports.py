"""/invitations, /attendance and /delegates for organisers, and the "which conference?" question.

``/invitations`` sends the Excel file units hand out (personal links and QR codes: bots cannot write to
people first), ``/attendance`` the "danh sách trích ngang" of the delegates who accepted, ``/delegates``
the seats and delegates by pool and status. Each takes the conference's code as an argument
(``/attendance district``); without it, and with several conferences, it asks which one (buttons, or the
number, title or code typed). The files are written in the bot's default language (they are official
lists), the replies in the organiser's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CommandHandler, ConversationHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers import clarify, presses
from handlers.common import refuse
from handlers.keyboards import keyboard
from handlers.presses import ButtonData, Id, button
from rules import delegates, exports
from rules.delegates import (
    DIMENSION_LABELS,
    STATUS_LABELS,
    STATUS_ORDER,
    DelegatesSummary,
    PoolDelegates,
    Target,
    active,
)
from rules.invitations import Status
from rules.plans import DIMENSION_LISTS
from rules.refdata import reference
from rules.roles import NotAllowed
from rules.seats import PoolCount, pool_counts
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
    return t(
        "Sorry, I did not understand that answer. Please press a button or type its number (1–{count}).", count=count
    )


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


async def _send_invitations(update: Update, context: BotContext, conference_id: int) -> int:
    t = context.t
    async with context.transaction() as db:
        data = await exports.invitations_workbook(
            db,
            conference_id,
            labels=context.services.translators.default,
            secret=context.services.link_secret,
            bot_username=context.bot.username,
            actor_id=account_id(context),
            now=context.now(),
        )
        if not isinstance(data, NotAllowed):
            conference = await db.get_one(Conference, conference_id)
            count = sum(pool.invited for pool in await pool_counts(db, conference_id))
    if isinstance(data, NotAllowed):
        return await refuse(update, context, data)
    if data is None:
        await context.bot.send_message(
            chat_id(update),
            t(
                "No one is invited to {title} yet. Type /invite to invite approved exemplars, or send me the guest list as an Excel or CSV file.",
                title=conference.title,
            ),
        )
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


# --- /attendance -------------------------------------------------------------------------------------


async def _send_attendance(update: Update, context: BotContext, conference_id: int) -> int:
    t = context.t
    async with context.transaction() as db:
        data = await exports.attendance_workbook(
            db,
            conference_id,
            labels=context.services.translators.default,
            actor_id=account_id(context),
            now=context.now(),
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
    await context.bot.send_document(
        chat_id(update),
        document=InputFile(data, filename=file_name),
        caption=t(
            "The attendance list of {title}: {count} delegates who accepted, {checked_in} checked in. It holds sensitive personal data (ethnicity): please keep it safe.",
            title=conference.title,
            count=t.number(accepted),
            checked_in=t.number(checked_in),
        ),
    )
    return END


# --- /delegates --------------------------------------------------------------------------------------


def _pool_heading(t: Translator, item: PoolDelegates) -> str:
    pool = item.pool
    if item.share is None:
        return t("{pool} (not in the plan any more)", pool=pool.title)
    share = t.percent(item.share)
    if pool.seats is None:
        if item.share_rule == "max":
            return t("{pool}: at most {share} of the delegates", pool=pool.title, share=share)
        return t("{pool}: at least {share} of the delegates", pool=pool.title, share=share)
    seats = t.number(pool.seats)
    if item.share_rule == "max":
        return t("{pool}: {seats} seats (at most {share} of the delegates)", pool=pool.title, seats=seats, share=share)
    return t("{pool}: {seats} seats (at least {share} of the delegates)", pool=pool.title, seats=seats, share=share)


def _target_line(t: Translator, target: Target) -> str:
    name = t(DIMENSION_LABELS[target.dimension]) if target.dimension in DIMENSION_LABELS else target.dimension
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
    lines = [t("Delegates of {title}", title=summary.title)]
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
                lines.append(f"   • {person.name}{unit}{' ✅' if person.checked_in else ''}")
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
    lines += ["", t("✅ = checked in. Files: /invitations (links and QR codes), /attendance (attendance list).")]
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
        "xpi", "exports.invitations", N_("Which conference's invitations do you want?"), _send_invitations
    ),
    "attendance": ConferenceQuestion(
        "xpa", "exports.attendance", N_("Which conference's attendance list do you want?"), _send_attendance
    ),
    "delegates": ConferenceQuestion(
        "xpd", "exports.delegates", N_("Which conference's delegates do you want to see?"), _send_delegates
    ),
}


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
    commands: list[BaseHandler[Update, BotContext, Any]] = [CommandHandler(name, _command(name)) for name in QUESTIONS]
    return ConversationHandler(
        entry_points=list(commands),
        states={question.state: question.handlers() for question in QUESTIONS.values()},
        fallbacks=[CommandHandler("cancel", cancel), *commands],
        name="exports",
        persistent=True,
        allow_reentry=True,
    )
