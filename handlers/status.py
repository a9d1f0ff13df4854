"""/status and /export for organisers: where each open conference stands, a chart, and the Excel workbook.

``/status`` gives every open conference in short (deadlines, nominations, seats, the balance targets,
warnings) and a chart of the next conference to be held; ``/status CODE`` one conference in full, with its
chart; ``/status units`` the nominations of every unit against its allowance; ``/status balance`` every
balance figure, spreads and unrecorded attributes included. Words may be combined: ``/status district
units``. ``/export`` (or ``/export CODE``) sends the workbook. The figures come from ``rules.status``;
this module only words them, in the reader's language, within Telegram's 4096 characters per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import MessageLimit
from telegram.ext import CommandHandler

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers.common import is_organiser, refuse
from rules import accounts, charts, workbook
from rules import status as status_rules
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL
from rules.nominations import Status as NominationStatus
from rules.roles import NotAllowed, Role
from rules.status import (
    BalanceLine,
    ConferenceStatus,
    Deadline,
    DeadlineKind,
    PoolStatus,
    StatusWarning,
    WarningKind,
    dimension_label,
    value_label,
)
from rules.text import fold
from storage.models import Conference

# matplotlib is not thread-safe: every chart is drawn in this one thread, off the event loop.
CHART_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="status-chart")
UNITS_AT_ZERO_SHOWN = 8


class View(StrEnum):
    OVERVIEW = "overview"
    DETAIL = "detail"
    UNITS = "units"
    BALANCE = "balance"


VIEW_WORDS = {
    "units": View.UNITS,
    "unit": View.UNITS,
    "donvi": View.UNITS,
    "balance": View.BALANCE,
    "cocau": View.BALANCE,
}
DEADLINE_LABELS = {
    DeadlineKind.NOMINATIONS: N_("Nominations close"),
    DeadlineKind.RSVP: N_("Delegates answer by"),
    DeadlineKind.CONFERENCE: N_("Conference day"),
    DeadlineKind.HELD_BY: N_("Conference to be held by"),
}
NOMINATION_STATUS_LABELS = {
    NominationStatus.SUBMITTED: N_("Waiting for review"),
    NominationStatus.CHANGES_REQUESTED: N_("Changes requested"),
    NominationStatus.APPROVED: N_("Approved"),
    NominationStatus.REJECTED: N_("Not accepted"),
    NominationStatus.DUPLICATE: N_("Duplicate"),
    NominationStatus.WITHDRAWN: N_("Withdrawn"),
    NominationStatus.DRAFT: N_("Draft (not sent yet)"),
    NominationStatus.EXPIRED: N_("Expired draft"),
}


# --- words ----------------------------------------------------------------------------------------------


def _days_left(t: Translator, deadline: Deadline) -> str:
    days = deadline.days_left
    if days == 0:
        return t("today")
    if days == 1:
        return t("tomorrow")
    if days == -1:
        return t("yesterday")
    if days < 0:
        return t("{days} days ago", days=t.number(-days))
    return t("{days} days left", days=t.number(days))


def _deadlines_block(t: Translator, status: ConferenceStatus) -> list[str]:
    if not status.deadlines:
        return [t("No deadlines are set.")]
    lines = [t("⏰ Deadlines:")]
    for deadline in status.deadlines:
        lines.append(
            t(
                "• {what}: {date} ({left})",
                what=t(DEADLINE_LABELS[deadline.kind]),
                date=t.date(deadline.local_date),
                left=_days_left(t, deadline),
            )
        )
    return lines


def _unit_line(t: Translator, unit: status_rules.UnitProgress) -> str:
    mark = "⚠️" if unit.at_zero else "•"
    approved = t.number(unit.approved)
    if unit.allowance is None:
        return t(
            "{mark} {name}: {received} received (no allowance set), {approved} approved",
            mark=mark,
            name=unit.name,
            received=t.number(unit.received),
            approved=approved,
        )
    if unit.expected is None:
        return t(
            "{mark} {name}: sent {sent} of {allowance}, {approved} approved",
            mark=mark,
            name=unit.name,
            sent=t.number(unit.sent),
            allowance=t.number(unit.allowance),
            approved=approved,
        )
    return t(
        "{mark} {name}: sent {sent} of {allowance} (expected {expected}), {approved} approved",
        mark=mark,
        name=unit.name,
        sent=t.number(unit.sent),
        allowance=t.number(unit.allowance),
        expected=t.number(unit.expected),
        approved=approved,
    )


def _nominations_block(t: Translator, status: ConferenceStatus, *, detail: bool) -> list[str]:
    """Received and by status; then the units that sent none (in short) or every unit (in detail)."""
    figures = status.nominations
    lines = [t("📝 Nominations: {received} received", received=t.number(figures.received))]
    counts = [
        t("{label}: {count}", label=t(label), count=t.number(figures.by_status.get(code, 0)))
        for code, label in NOMINATION_STATUS_LABELS.items()
        if figures.by_status.get(code, 0)
    ]
    if counts:
        lines.append("; ".join(counts))
    if figures.without_unit:
        lines.append(t("Nominations naming no unit: {count}", count=t.number(figures.without_unit)))
    return lines + (_units_table(t, status) if detail else _units_summary(t, status))


def _units_summary(t: Translator, status: ConferenceStatus) -> list[str]:
    with_allowance = [unit for unit in status.nominations.units if unit.allowance is not None]
    at_zero = status.nominations.units_at_zero
    if not with_allowance:
        return []
    if not at_zero:
        return [t("Every unit has sent nominations.")]
    lines = [
        t(
            "Units that have sent none yet: {count} of {total}",
            count=t.number(len(at_zero)),
            total=t.number(len(with_allowance)),
        )
    ]
    lines += [f"⚠️ {unit.name}" for unit in at_zero[:UNITS_AT_ZERO_SHOWN]]
    if len(at_zero) > UNITS_AT_ZERO_SHOWN:
        lines.append(t("… and {more} more: /status units", more=t.number(len(at_zero) - UNITS_AT_ZERO_SHOWN)))
    return lines


def _units_table(t: Translator, status: ConferenceStatus) -> list[str]:
    """Every unit, those that sent none first (marked ⚠️)."""
    units = status.nominations.units
    if not units:
        return [t("No unit has an allowance for this conference.")]
    at_zero = [unit for unit in units if unit.at_zero]
    lines = []
    if at_zero:
        lines.append(t("Units that have sent none yet: {count}", count=t.number(len(at_zero))))
        lines += [_unit_line(t, unit) for unit in at_zero]
        lines.append(t("The others:"))
    return lines + [_unit_line(t, unit) for unit in units if not unit.at_zero]


def _units_block(t: Translator, status: ConferenceStatus) -> list[str]:
    lines = [t("🏢 Nominations by unit — {title}:", title=status.title), *_units_table(t, status)]
    if status.nominations.without_unit:
        lines.append(t("Nominations naming no unit: {count}", count=t.number(status.nominations.without_unit)))
    return lines


def _pool_gap(t: Translator, pool: PoolStatus) -> str:
    if pool.over:
        return t("{count} over the seats", count=t.number(pool.over))
    if not pool.gap:
        return t("full")
    count = t.number(pool.gap)
    if pool.code == EXEMPLAR_POOL:
        return t("exemplar delegates still needed: {count}", count=count)
    if pool.code == GUEST_POOL:
        return t("guests and leaders still needed: {count}", count=count)
    return t("delegates still needed: {count}", count=count)


def _pool_lines(t: Translator, pool: PoolStatus) -> list[str]:
    if pool.seats is None or pool.fill_rate is None:
        head = t("• {pool}: {accepted} accepted", pool=pool.title, accepted=t.number(pool.accepted))
    else:
        head = t(
            "• {pool}: {accepted}/{seats} accepted ({rate}) — {gap}",
            pool=pool.title,
            accepted=t.number(pool.accepted),
            seats=t.number(pool.seats),
            rate=t.percent(pool.fill_rate),
            gap=_pool_gap(t, pool),
        )
    counts = t(
        "   invited {invited} · no answer yet {pending} · declined {declined} · waiting list {waitlisted}",
        invited=t.number(pool.invited),
        pending=t.number(pool.pending),
        declined=t.number(pool.declined),
        waitlisted=t.number(pool.waitlisted),
    )
    return [head, counts]


def _seats_block(t: Translator, status: ConferenceStatus) -> list[str]:
    if status.capacity:
        lines = [t("🪑 Seats (at most {capacity} delegates):", capacity=t.number(status.capacity))]
    else:
        lines = [t("🪑 Seats:")]
    for pool in status.pools:
        lines += _pool_lines(t, pool)
    exemplars = status.pool(EXEMPLAR_POOL)
    if status.accepted and exemplars is not None and exemplars.share is not None:
        lines.append(
            t(
                "Exemplars among the {accepted} who accepted: {share} (the plan: at least {target})",
                accepted=t.number(status.accepted),
                share=t.percent(exemplars.share_of_accepted or 0),
                target=t.percent(exemplars.share),
            )
        )
    if status.checked_in:
        lines.append(
            t(
                "Checked in: {checked_in} of {accepted}",
                checked_in=t.number(status.checked_in),
                accepted=t.number(status.accepted),
            )
        )
    return lines


def _target(t: Translator, line: BalanceLine) -> str:
    share = t.percent(line.target_share or 0)
    return t("at most {share}", share=share) if line.comparison == "max" else t("at least {share}", share=share)


def _result(t: Translator, line: BalanceLine) -> str:
    if line.met:
        return t("met")
    count = t.number(line.gap)
    return t("{count} over", count=count) if line.comparison == "max" else t("{count} short", count=count)


def _balance_line(t: Translator, status: ConferenceStatus, line: BalanceLine, *, detail: bool) -> list[str]:
    label = dimension_label(t, line, status.youth)
    if line.is_spread:
        values = [
            t(
                "{value}: {count} ({share})",
                value=value_label(t, line.dimension, value),
                count=t.number(count),
                share=t.percent(count / line.accepted),
            )
            for value, count in line.spread
        ]
        lines = [t("• {label}: {values}", label=label, values=", ".join(values) or "—")]
    elif line.target_share is None:
        lines = [
            t(
                "• {label}: {count} ({share})",
                label=label,
                count=t.number(line.count),
                share=t.percent(line.share or 0),
            )
        ]
    else:
        lines = [
            t(
                "• {label}: {count} ({share}) — target {target}: {result}",
                label=label,
                count=t.number(line.count),
                share=t.percent(line.share or 0),
                target=_target(t, line),
                result=_result(t, line),
            )
        ]
    if detail and line.unknown:
        lines.append(t("   (not recorded: {count})", count=t.number(line.unknown)))
    return lines


def _balance_block(t: Translator, status: ConferenceStatus, *, detail: bool) -> list[str]:
    if not status.balance:
        return [t("No balance targets are set for this conference.")] if detail else []
    if not status.accepted:
        return [t("⚖️ Balance: nobody has accepted yet.")]
    lines = [t("⚖️ Balance among the {accepted} delegates who accepted:", accepted=t.number(status.accepted))]
    shown = [line for line in status.balance if detail or line.target_share is not None]
    for line in shown:
        lines += _balance_line(t, status, line, detail=detail)
    if len(shown) < len(status.balance):
        lines.append(t("All balance figures: /status balance"))
    return lines


def _warning_line(t: Translator, status: ConferenceStatus, warning: StatusWarning) -> str:
    pool = status.pool(warning.pool or "")
    title = pool.title if pool else (warning.pool or "")
    values = warning.values
    if warning.kind == WarningKind.POOL_OVERFILLED:
        return t(
            "• {pool}: {accepted} accepted for {seats} seats, {over} over.",
            pool=title,
            accepted=t.number(values["accepted"]),
            seats=t.number(values["seats"]),
            over=t.number(values["over"]),
        )
    if warning.kind == WarningKind.POOL_SHARE_LOW:
        return t(
            "• {pool} make up {share} of those who accepted, under the {target} the plan asks for ({short} short).",
            pool=title,
            share=t.percent(values["share"]),
            target=t.percent(values["target"]),
            short=t.number(values["short"]),
        )
    units = t.number(values["units"])
    if values["days_left"] == 0:
        return t("• Nominations close today and {units} units have sent none yet.", units=units)
    if values["days_left"] == 1:
        return t("• Nominations close tomorrow and {units} units have sent none yet.", units=units)
    return t(
        "• Nominations close in {days} days and {units} units have sent none yet.",
        days=t.number(values["days_left"]),
        units=units,
    )


def _warnings_block(t: Translator, status: ConferenceStatus) -> list[str]:
    if not status.warnings:
        return [t("✅ No warnings.")]
    return [t("⚠️ Warnings:"), *(_warning_line(t, status, warning) for warning in status.warnings)]


def conference_text(t: Translator, status: ConferenceStatus, *, detail: bool) -> str:
    """One conference: deadlines, nominations, seats, balance and warnings (all of it with ``detail``)."""
    blocks = [
        [t("📊 {title} (code: {code})", title=status.title, code=status.code), *_deadlines_block(t, status)],
        _nominations_block(t, status, detail=detail),
        _seats_block(t, status),
        _balance_block(t, status, detail=detail),
        _warnings_block(t, status),
    ]
    return "\n\n".join("\n".join(block) for block in blocks if block)


def view_texts(t: Translator, statuses: Sequence[ConferenceStatus], view: View) -> list[str]:
    """The texts of a view, one per conference (before splitting to Telegram's limit)."""
    if view == View.UNITS:
        return ["\n".join(_units_block(t, status)) for status in statuses]
    if view == View.BALANCE:
        return [
            "\n".join(
                [
                    t("📊 {title} (code: {code})", title=status.title, code=status.code),
                    *_balance_block(t, status, detail=True),
                ]
            )
            for status in statuses
        ]
    texts = [conference_text(t, status, detail=view == View.DETAIL) for status in statuses]
    if view == View.OVERVIEW:
        texts.append(
            t("Details: /status CODE · by unit: /status units · balance: /status balance · Excel workbook: /export")
        )
    return texts


def split_message(text: str, limit: int = MessageLimit.MAX_TEXT_LENGTH) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut between paragraphs, else between lines."""
    pieces: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        for part in _fit(paragraph, limit):
            candidate = f"{current}\n\n{part}" if current else part
            if len(candidate) <= limit:
                current = candidate
                continue
            pieces.append(current)
            current = part
    if current:
        pieces.append(current)
    return pieces


def _fit(paragraph: str, limit: int) -> list[str]:
    if len(paragraph) <= limit:
        return [paragraph]
    parts, current = [], ""
    for line in paragraph.split("\n"):
        line = line[:limit]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = line
    if current:
        parts.append(current)
    return parts


# --- commands --------------------------------------------------------------------------------------------


def parse_arguments(args: Sequence[str]) -> tuple[View, str | None]:
    """(``units`` | ``balance`` | overview or detail, a conference code) from the words after /status."""
    view, code = View.OVERVIEW, None
    for word in args:
        folded = fold(word).replace(" ", "").replace("_", "").replace("-", "")
        if folded in VIEW_WORDS:
            view = VIEW_WORDS[folded]
        else:
            code = word
    if code is not None and view == View.OVERVIEW:
        view = View.DETAIL
    return view, code


async def _conferences(context: BotContext, code: str | None) -> tuple[list[Conference], list[Conference]]:
    """(the conferences asked for, every open conference)."""
    async with context.transaction() as db:
        return await _find(db, code)


async def _find(db: AsyncSession, code: str | None) -> tuple[list[Conference], list[Conference]]:
    everything = await status_rules.open_conferences(db)
    return (await status_rules.find_conferences(db, code) if code else everything), everything


async def _no_conference_reply(context: BotContext, update: Update, code: str | None, known: list[Conference]) -> None:
    assert update.message is not None
    t = context.t
    if not known:
        await update.message.reply_text(
            t("There is no open conference yet. An administrator loads a plan with: dienhinh plan load FILE")
        )
        return
    await update.message.reply_text(
        t(
            "I found no open conference with the code {code}. The codes are: {codes}. You can also type /status units or /status balance.",
            code=code or "",
            codes=", ".join(conference.code for conference in known),
        )
    )


async def status_command(update: Update, context: BotContext) -> None:
    assert update.message is not None
    t = context.t
    if not is_organiser(context):
        await update.message.reply_text(t("Sorry, only organisers can see the overall status."))
        return
    view, code = parse_arguments(context.args or [])
    today = context.now().astimezone(context.services.settings.tz).date()
    drawing: asyncio.Future[bytes] | None = None
    async with context.transaction() as db:
        # The role as it is now: it may have been taken away in another process since the cache was filled.
        allowed = await accounts.acting(db, context.account.id if context.account else None, Role.ORGANISER)
        wanted, known = await _find(db, code) if allowed else ([], [])
        charted = status_rules.focus(wanted, today) if view in (View.OVERVIEW, View.DETAIL) else None
        found: dict[int, ConferenceStatus] = {}
        # The charted conference first: its chart is drawn in the chart thread while the others are counted
        # and the texts go out.
        for conference in sorted(wanted, key=lambda item: item is not charted):
            status = await status_rules.conference_status(db, conference.id, today=today)
            if status is not None:
                found[conference.id] = status
                if conference is charted:
                    drawing = _draw_chart(context, status)
    if allowed is None:
        await refuse(update, context, NotAllowed(Role.ORGANISER))
        return
    statuses = [found[conference.id] for conference in wanted if conference.id in found]
    if not statuses:
        await _no_conference_reply(context, update, code, known)
        return
    for text in view_texts(t, statuses, view):
        for piece in split_message(text):
            await update.message.reply_text(piece)
    if drawing is not None and charted is not None:
        await update.message.reply_photo(
            await drawing, caption=t("Chart: {title}", title=charted.title), filename=f"status-{charted.code}.png"
        )


def _draw_chart(context: BotContext, status: ConferenceStatus) -> asyncio.Future[bytes]:
    """The chart of ``status``, drawn off the event loop in the chart thread."""
    data = charts.chart_data(status, context.t)
    return asyncio.get_running_loop().run_in_executor(CHART_EXECUTOR, charts.render, data)


async def export_command(update: Update, context: BotContext) -> None:
    assert update.message is not None
    t = context.t
    if not is_organiser(context) or context.account is None:
        await update.message.reply_text(t("Sorry, only organisers can export the lists."))
        return
    code = " ".join(context.args) if context.args else None
    wanted, known = await _conferences(context, code)
    if not wanted:
        await _no_conference_reply(context, update, code, known)
        return
    async with context.transaction() as db:
        export = await workbook.build_export(db, wanted, t=t, actor_id=context.account.id, now=context.now())
    if isinstance(export, NotAllowed):
        await refuse(update, context, export)
        return
    await update.message.reply_document(
        export.content,
        filename=export.file_name,
        caption=t(
            "Workbook: {nominations} nominations, {delegates} invitations, {attendance} delegates who accepted. It holds personal data: keep it safe.",
            nominations=t.number(export.rows["nominations"]),
            delegates=t.number(export.rows["delegates"]),
            attendance=t.number(export.rows["attendance"]),
        ),
    )


def handlers() -> list[CommandHandler[BotContext, None]]:
    return [CommandHandler("status", status_command), CommandHandler("export", export_command)]
