"""/status and /export for organisers: where a conference stands, a chart, and the Excel workbook.

Short answers first, details on request. ``/status`` gives the conference current now
(``rules.status.current_conference``: the first whose day has not passed) in short — deadlines, nominations
with the units summed up in two lines, seats, the balance targets, warnings — with its chart, and names the
other open conferences; ``/status CODE`` one conference with every balance figure, and its chart;
``/status units`` the units one by one, ten a page (``/status units 2``, or type "tiếp" / a page number
after it; page buttons on Telegram, which work however old); ``/status balance`` every balance figure.
Words may be combined: ``/status district units``. ``/export`` (or ``/export CODE``) sends the workbook.
Every count comes from ``rules.status`` and ``rules.counts``; this module only words them, in the reader's
language, within Telegram's 4096 characters per message.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit
from telegram.ext import BaseHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.drawing import Drawer
from bot.i18n import N_, Translator
from handlers.common import is_organiser, refuse, stray_message
from handlers.presses import ButtonData, Count, Id, button
from rules import accounts, charts, identities, workbook
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
    UnitProgress,
    WarningKind,
    dimension_label,
    value_label,
)
from rules.text import fold, title_for
from storage import scratch
from storage.models import Conference

# Every chart is drawn in one worker process, off the event loop and its GIL (bot.drawing).
CHARTS = Drawer("status-chart", warm_up=charts.warm_up)
UNITS_AT_ZERO_NAMED = 3


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


def unit_line(t: Translator, unit: UnitProgress) -> str:
    """One unit on one line, counted as ``rules.counts`` defines: its nominations (whoever sent them)
    against the number expected, how many were approved, and the allowance its focal point used."""
    mark = "⚠️" if unit.at_zero else "•"
    values = {
        "mark": mark,
        "name": unit.name,
        "sent": t.number(unit.sent),
        "expected": t.number(unit.expected or 0),
        "approved": t.number(unit.approved),
    }
    if not unit.expected:
        head = t("{mark} {name}: {sent} nominations, {approved} approved", **values)
    elif unit.missing:
        head = t("{mark} {name}: {sent} of the {expected} nominations expected, {approved} approved", **values)
    else:
        head = t("{mark} {name}: {sent} nominations, enough for the {expected} expected, {approved} approved", **values)
    if unit.allowance is None:
        tail = t("no allowance set")
        return f"{head}; {tail}"
    used, allowance = t.number(unit.by_focal_point), t.number(unit.allowance)
    if unit.over_allowance:
        tail = t("the unit itself sent {used}, over its allowance of {allowance}", used=used, allowance=allowance)
    elif unit.from_others:
        tail = t(
            "the unit itself sent {used} of its allowance of {allowance}, others {others}",
            used=used,
            allowance=allowance,
            others=t.number(unit.from_others),
        )
    else:
        tail = t("allowance {allowance}", allowance=allowance)
    return f"{head}; {tail}"


def _nominations_block(t: Translator, status: ConferenceStatus) -> list[str]:
    """Received and by status; then the units in short: how many have nominations, which have none."""
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
    return lines + units_summary(t, status)


def units_summary(t: Translator, status: ConferenceStatus) -> list[str]:
    """Two lines at most: the units with nominations and with enough of them, then those with none (the
    first few named, the count, and where to see them all)."""
    expected = status.nominations.units_expected
    if not expected:
        return []
    at_zero = status.nominations.units_at_zero
    lines = [
        t(
            "🏢 Units: {some} of {total} have nominations, {enough} as many as expected",
            some=t.number(sum(1 for unit in expected if unit.sent)),
            total=t.number(len(expected)),
            enough=t.number(sum(1 for unit in expected if unit.expected and not unit.missing)),
        )
    ]
    if not at_zero:
        return [*lines, t("Every unit has sent nominations.")]
    names = ", ".join(unit.name for unit in at_zero[:UNITS_AT_ZERO_NAMED])
    if len(at_zero) > UNITS_AT_ZERO_NAMED:
        names += "…"
    lines.append(
        t(
            "⚠️ {count} units have no nomination yet ({names}) — /status {code} units to see them",
            count=t.number(len(at_zero)),
            names=names,
            code=status.code,
        )
    )
    return lines


def units_page_text(t: Translator, status: ConferenceStatus, page: status_rules.Page[UnitProgress]) -> str:
    """One page of the units, those with no nomination first (marked ⚠️), and how to see the others."""
    figures = status.nominations
    lines = [t("🏢 Nominations by unit — {title} (code: {code}):", title=status.title_in(t.locale), code=status.code)]
    if not figures.units:
        lines.append(t("No unit has an allowance for this conference."))
        return "\n".join(lines)
    if figures.units_at_zero:
        lines.append(
            t(
                "⚠️ {count} of {total} units have no nomination yet.",
                count=t.number(len(figures.units_at_zero)),
                total=t.number(len(figures.units_expected)),
            )
        )
    lines += [unit_line(t, unit) for unit in page.items]
    if page.number == page.pages and figures.without_unit:
        lines.append(t("Nominations naming no unit: {count}", count=t.number(figures.without_unit)))
    if page.pages > 1 and page.number < page.pages:
        lines.append(
            t(
                "Page {page} of {pages}. Type “next” for the next page, or a page number (1–{pages}).",
                page=t.number(page.number),
                pages=t.number(page.pages),
            )
        )
    elif page.pages > 1:
        lines.append(
            t(
                "Page {page} of {pages}, the last. Type a page number (1–{pages}) to see another.",
                page=t.number(page.number),
                pages=t.number(page.pages),
            )
        )
    return "\n".join(lines)


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
        head = t("• {pool}: {accepted} accepted", pool=pool.title_in(t.locale), accepted=t.number(pool.accepted))
    else:
        head = t(
            "• {pool}: {accepted}/{seats} accepted ({rate}) — {gap}",
            pool=pool.title_in(t.locale),
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
    title = pool.title_in(t.locale) if pool else (warning.pool or "")
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
        if pool is not None and pool.seats is not None:
            # The shortfall is the pool's empty seats: the same number as its line under the seats.
            return t(
                "• {pool}: {share} of those who accepted, under the {target} the plan asks for; "
                "{empty} of their seats are still empty.",
                pool=title,
                share=t.percent(values["share"]),
                target=t.percent(values["target"]),
                empty=t.number(values["short"]),
            )
        return t(
            "• {pool}: {share} of those who accepted, under the {target} the plan asks for ({short} short).",
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
    """One conference in short: deadlines, nominations with the units summed up, seats, balance (every
    figure with ``detail``) and warnings. The units one by one are /status units, page by page."""
    blocks = [
        [
            t("📊 {title} (code: {code})", title=status.title_in(t.locale), code=status.code),
            *_deadlines_block(t, status),
        ],
        _nominations_block(t, status),
        _seats_block(t, status),
        _balance_block(t, status, detail=detail),
        _warnings_block(t, status),
    ]
    return "\n\n".join("\n".join(block) for block in blocks if block)


def _others_text(t: Translator, shown: ConferenceStatus, others: Sequence[Conference], now: dt.datetime) -> str | None:
    """The other open conferences not over yet, by title and code (an ended one is still at /status CODE)."""
    rest = [
        conference
        for conference in others
        if conference.id != shown.conference_id and not status_rules.is_over(conference, now)
    ]
    if not rest:
        return None
    names = []
    for conference in rest:
        names.append(
            t(
                "{title} (code: {code})",
                title=title_for(t.locale, conference.title, conference.title_en),
                code=conference.code,
            )
        )
    return t("Other open conferences: {conferences}. Type /status CODE to see one.", conferences="; ".join(names))


def view_texts(
    t: Translator,
    statuses: Sequence[ConferenceStatus],
    view: View,
    others: Sequence[Conference] = (),
    now: dt.datetime | None = None,
) -> list[str]:
    """The texts of a view, one per conference (before splitting to Telegram's limit); the units view is
    :func:`units_page_text`."""
    if view == View.BALANCE:
        return [
            "\n".join(
                [
                    t("📊 {title} (code: {code})", title=status.title_in(t.locale), code=status.code),
                    *_balance_block(t, status, detail=True),
                ]
            )
            for status in statuses
        ]
    texts = [conference_text(t, status, detail=view == View.DETAIL) for status in statuses]
    if view == View.OVERVIEW:
        footer = t(
            "Details: /status CODE · by unit: /status units · balance: /status balance · Excel workbook: /export"
        )
        if statuses and now is not None and (others_line := _others_text(t, statuses[0], others, now)):
            footer = f"{others_line}\n{footer}"
        texts.append(footer)
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


@dataclass(frozen=True)
class Request:
    """What /status was asked: a view, a conference (a code typed, or an id from a button) and a page."""

    view: View
    code: str | None = None
    conference_id: int | None = None
    page: int = 1


def parse_arguments(args: Sequence[str]) -> Request:
    """The view (``units`` | ``balance`` | overview or detail), a conference code and a page number from
    the words after /status: ``/status units 2``, ``/status district units``."""
    view, code, page = View.OVERVIEW, None, 1
    for word in args:
        folded = fold(word).replace(" ", "").replace("_", "").replace("-", "")
        if folded in VIEW_WORDS:
            view = VIEW_WORDS[folded]
        elif folded.isdigit() and len(folded) <= 4:
            page = int(folded)
        else:
            code = word
    if code is not None and view == View.OVERVIEW:
        view = View.DETAIL
    return Request(view, code, page=page)


async def _conferences(context: BotContext, code: str | None) -> tuple[list[Conference], list[Conference]]:
    """(the conferences asked for, every open conference)."""
    async with context.transaction() as db:
        return await _find(db, code)


async def _find(db: AsyncSession, code: str | None) -> tuple[list[Conference], list[Conference]]:
    everything = await status_rules.open_conferences(db)
    return (await status_rules.find_conferences(db, code) if code else everything), everything


async def _send(context: BotContext, update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_message(chat.id, text, reply_markup=markup)


async def _no_conference_reply(context: BotContext, update: Update, code: str | None, known: list[Conference]) -> None:
    t = context.t
    if not known:
        await _send(
            context,
            update,
            t("There is no open conference yet. An administrator loads a plan with: dienhinh plan load FILE"),
        )
        return
    await _send(
        context,
        update,
        t(
            "I found no open conference with the code {code}. The codes are: {codes}. You can also type /status units or /status balance.",
            code=code or "",
            codes=", ".join(conference.code for conference in known),
        ),
    )


def _wanted(request: Request, found: list[Conference], known: list[Conference], now: dt.datetime) -> list[Conference]:
    """The conferences to show: the one asked for, else the one current now (``rules.status``); the units
    view pages through one conference."""
    if request.conference_id is not None:
        return [conference for conference in known if conference.id == request.conference_id]
    if request.code is None or request.view in (View.UNITS, View.BALANCE):
        current = status_rules.current_conference(found, now)
        return [current] if current is not None else []
    return found


async def status_command(update: Update, context: BotContext) -> None:
    if not is_organiser(context):
        await _send(context, update, context.t("Sorry, only organisers can see the overall status."))
        return
    await show(update, context, parse_arguments(context.args or []))


async def show(update: Update, context: BotContext, request: Request, *, note: str | None = None) -> None:
    """Answer ``request`` for an organiser (checked now, in the database), in the reader's language."""
    t = context.t
    now = context.now()
    today = now.astimezone(context.services.settings.tz).date()
    account_id = context.account.id if context.account else None
    drawing: asyncio.Future[bytes] | None = None
    charted: Conference | None = None
    async with context.transaction() as db:
        # The role as it is now: it may have been taken away in another process since the cache was filled.
        allowed = await accounts.acting(db, account_id, Role.ORGANISER)
        found, known = await _find(db, request.code) if allowed else ([], [])
        wanted = _wanted(request, found, known, now)
        charted = wanted[0] if wanted and request.view in (View.OVERVIEW, View.DETAIL) else None
        statuses: list[ConferenceStatus] = []
        # The charted conference first: its chart is drawn in the chart thread while the others are counted
        # and the texts go out.
        for conference in wanted:
            status = await status_rules.conference_status(db, conference.id, today=today)
            if status is not None:
                statuses.append(status)
                if conference is charted:
                    drawing = _draw_chart(context, status)
        page = None
        if allowed is not None and account_id is not None:
            if request.view == View.UNITS and statuses:
                units = status_rules.units_in_order(statuses[0].nominations)
                page = status_rules.page_of(units, request.page)
                await scratch.remember(
                    db, PAGE_KIND, account_id, {"conference_id": statuses[0].conference_id, "page": page.number}
                )
            else:
                await scratch.forget(db, PAGE_KIND, account_id)
    if allowed is None:
        await refuse(update, context, NotAllowed(Role.ORGANISER))
        return
    if not statuses:
        if request.conference_id is not None:
            await _send(
                context, update, t("That conference is no longer open. Type /status to see where things stand.")
            )
            return
        await _no_conference_reply(context, update, request.code, known)
        return
    if page is not None:
        if note is None and request.page != page.number:
            note = t(
                "There are {pages} pages; here is page {page}.",
                pages=t.number(page.pages),
                page=t.number(page.number),
            )
        text = units_page_text(t, statuses[0], page)
        await _send(context, update, f"{note}\n\n{text}" if note else text, _page_buttons(context, statuses[0], page))
        return
    for text in view_texts(t, statuses, request.view, known, now):
        for piece in split_message(text):
            await _send(context, update, piece)
    if drawing is not None and charted is not None:
        chat = update.effective_chat
        assert chat is not None
        await context.bot.send_photo(
            chat.id,
            await drawing,
            caption=t("Chart: {title}", title=title_for(t.locale, charted.title, charted.title_en)),
            filename=f"status-{charted.code}.png",
        )


# --- pages of /status units: typed ("tiếp", "2") everywhere, buttons on Telegram --------------------------

PAGE_KIND = "status_page"  # at most 16 characters (storage.scratch)
PAGE_BUTTONS = ButtonData("stu", lambda conference_id, page: (conference_id, page), Id(), Count())
# A row of page numbers as buttons up to this many pages (button N is page N, as typing N is); beyond it,
# typing only.
MAX_PAGE_BUTTONS = 8
NEXT_WORDS = frozenset({"tiep", "xemtiep", "tieptheo", "trangsau", "sau", "next", "more"})
BACK_WORDS = frozenset({"truoc", "trangtruoc", "quaylai", "lui", "back", "previous", "prev"})
PAGE_PREFIXES = ("trang", "page", "tr")


def page_word(text: str) -> int | str | None:
    """What a typed answer under a page of units asks for: ``"next"``, ``"back"``, a page number, or None."""
    folded = fold(text).replace(" ", "").rstrip(".!")
    if folded in NEXT_WORDS:
        return "next"
    if folded in BACK_WORDS:
        return "back"
    for prefix in PAGE_PREFIXES:
        if folded.startswith(prefix) and folded[len(prefix) :].isdigit():
            folded = folded[len(prefix) :]
            break
    if folded.isdigit() and len(folded) <= 4:
        return int(folded)
    return None


class _PageWord(filters.MessageFilter):
    def filter(self, message: Message) -> bool:
        return bool(message.text) and page_word(message.text or "") is not None


def _page_buttons(
    context: BotContext, status: ConferenceStatus, page: status_rules.Page[UnitProgress]
) -> InlineKeyboardMarkup | None:
    if context.channel != identities.TELEGRAM or not 1 < page.pages <= MAX_PAGE_BUTTONS:
        return None
    buttons = [
        InlineKeyboardButton(
            f"· {number} ·" if number == page.number else str(number),
            callback_data=f"{PAGE_BUTTONS.prefix}:{status.conference_id}:{number}",
        )
        for number in range(1, page.pages + 1)
    ]
    return InlineKeyboardMarkup([buttons])


async def typed_page(update: Update, context: BotContext) -> None:
    """ "tiếp", "trước", "3" or "trang 3" after /status units: that page. Without a list open, it is a stray
    message like any other."""
    message = update.message
    assert message is not None and message.text is not None
    stored: dict[str, object] = {}
    if is_organiser(context) and context.account is not None:
        async with context.transaction() as db:
            stored = await scratch.recall(db, PAGE_KIND, context.account.id)
    conference_id, shown = stored.get("conference_id"), stored.get("page")
    if not isinstance(conference_id, int) or not isinstance(shown, int):
        await stray_message(update, context)
        return
    wanted = page_word(message.text)
    number = shown + 1 if wanted == "next" else shown - 1 if wanted == "back" else int(wanted or 1)
    note = None
    if number < 1:
        note, number = context.t("This is the first page."), 1
    await show(update, context, Request(View.UNITS, conference_id=conference_id, page=number), note=note)


async def pressed_page(update: Update, context: BotContext, value: tuple[int, int]) -> None:
    """A page button, however old: the page as the figures stand now (the nearest one if the list got
    shorter); a conference no longer open is said so."""
    conference_id, number = value
    if not is_organiser(context):
        await refuse(update, context, NotAllowed(Role.ORGANISER))
        return
    await show(update, context, Request(View.UNITS, conference_id=conference_id, page=number))


def page_handlers() -> list[BaseHandler[Update, BotContext, Any]]:
    """After the conversations (a question's typed "2" is its own), before the catch-alls."""
    return [
        button(PAGE_BUTTONS, pressed_page),
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND & _PageWord(name="status_page"), typed_page
        ),
    ]


def _draw_chart(context: BotContext, status: ConferenceStatus) -> asyncio.Future[bytes]:
    """The chart of ``status``: the picture kept for these very figures, else drawn in the chart process
    while the texts go out."""
    data = charts.chart_data(status, context.t)
    return asyncio.ensure_future(_picture(data))


async def _picture(data: charts.ChartData) -> bytes:
    picture = charts.kept(data)
    if picture is None:
        picture = await CHARTS.run(charts.draw, data)
        charts.keep(data, picture)
    return picture


async def export_command(update: Update, context: BotContext) -> None:
    assert update.message is not None
    t = context.t
    if not is_organiser(context) or context.account is None:
        await update.message.reply_text(t("Sorry, only organisers can export the lists."))
        return
    asked = workbook.export_request(context.args or [])
    if asked.reason_missing:
        await update.message.reply_text(
            t(
                "Ethnicity and religion are sensitive personal data: say why you need them after the word "
                "“sensitive”, for example: /export district sensitive balance report for the district "
                "committee. The reason is kept in the audit trail."
            )
        )
        return
    wanted, known = await _conferences(context, asked.code)
    if not wanted:
        await _no_conference_reply(context, update, asked.code, known)
        return
    async with context.transaction() as db:
        export = await workbook.build_export(
            db,
            wanted,
            t=t,
            actor_id=context.account.id,
            now=context.now(),
            sensitive_reason=asked.reason if asked.sensitive else None,
        )
    if isinstance(export, NotAllowed):
        await refuse(update, context, export)
        return
    await update.message.reply_document(
        export.content, filename=export.file_name, caption=_export_caption(t, export, asked.code)
    )


def _export_caption(t: Translator, export: workbook.Export, code: str | None) -> str:
    counts = t(
        "Workbook: {nominations} nominations, {delegates} invitations, {attendance} delegates who accepted. It holds personal data: keep it safe.",
        nominations=t.number(export.rows["nominations"]),
        delegates=t.number(export.rows["delegates"]),
        attendance=t.number(export.rows["attendance"]),
    )
    if export.sensitive:
        note = t("Ethnicity and religion are included, as you asked; your reason is in the audit trail.")
    elif code:
        note = t(
            "Ethnicity and religion are left out. To include them, say why: /export {code} sensitive REASON", code=code
        )
    else:
        note = t("Ethnicity and religion are left out. To include them, say why: /export sensitive REASON")
    return f"{counts}\n{note}"


def handlers() -> list[CommandHandler[BotContext, None]]:
    return [CommandHandler("status", status_command), CommandHandler("export", export_command)]
