"""/deadlines for everyone: what is open and until when, in Vietnamese dates."""

from __future__ import annotations

import datetime as dt

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import BotContext
from bot.i18n import N_, Translator
from handlers.schedule import CONFERENCE_ON, NOMINATIONS_UNTIL, RSVP_UNTIL, conference_when, days_left_text
from rules import deadlines
from rules.deadlines import ConferenceDeadlines, Deadline, Milestone
from rules.roles import Role
from rules.schedule import ScheduleConfig, UnitProgress, days_left

OPEN_TEXT = {Milestone.NOMINATIONS: NOMINATIONS_UNTIL, Milestone.RSVP: RSVP_UNTIL}
CLOSED_TEXT = {
    Milestone.NOMINATIONS: N_("• Nominations: closed at {deadline}"),
    Milestone.RSVP: N_("• Answers to invitations: closed at {deadline}"),
}


async def deadlines_command(update: Update, context: BotContext) -> None:
    assert update.message is not None
    t = context.t
    account = context.account
    # Anyone may see the deadlines; a focal point also sees what the unit has sent.
    unit_id = account.unit_id if account is not None and account.role == Role.FOCAL_POINT else None
    now = context.now()
    async with context.transaction() as db:
        items = await deadlines.overview(
            db, now=now, unit_id=unit_id, config=ScheduleConfig.from_settings(context.services.settings)
        )
    if not items:
        await update.message.reply_text(t("There are no open deadlines right now."))
        return
    parts = [t("Deadlines (Vietnam time):")]
    show_campaign = len({item.campaign_title for item in items}) > 1
    parts.extend(_conference(t, item, now, show_campaign) for item in items)
    if any(item.nominations_open for item in items):
        parts.append(t("To nominate an exemplar, type /nominate."))
    await update.message.reply_text("\n\n".join(parts))


def _conference(t: Translator, item: ConferenceDeadlines, now: dt.datetime, show_campaign: bool) -> str:
    lines = [f"📅 {item.conference.title}"]
    if show_campaign:
        lines.append(t("({campaign})", campaign=item.campaign_title))
    for deadline in item.deadlines:
        lines.append(_deadline_line(t, item, deadline, now))
    if item.unit is not None:
        lines.append(_unit_line(t, item.unit))
    return "\n".join(lines)


def _unit_line(t: Translator, unit: UnitProgress) -> str:
    """The unit's nominations against the number expected, counted as /status counts them (``rules.counts``);
    never "2/1": a unit with as many as expected or more is told so."""
    if unit.missing:
        return t(
            "• {unit} has sent {received} of the {expected} nominations expected",
            unit=unit.name,
            received=t.number(unit.sent),
            expected=t.number(unit.expected or 0),
        )
    return t(
        "• {unit} has {sent} nominations, enough for the {expected} expected",
        unit=unit.name,
        sent=t.number(unit.sent),
        expected=t.number(unit.expected or 0),
    )


def _deadline_line(t: Translator, item: ConferenceDeadlines, deadline: Deadline, now: dt.datetime) -> str:
    if deadline.milestone == Milestone.CONFERENCE:
        when = conference_when(t, item.conference) or t.date(deadline.at)
        if deadline.closed:
            return t("• Conference: {when} (over)", when=when)
        if item.conference.starts_at is None:
            return t("• Conference: {when}", when=when)
        return t(CONFERENCE_ON, when=when, left=days_left_text(t, days_left(deadline.at, now, t.tz)))
    if deadline.closed:
        return t(CLOSED_TEXT[deadline.milestone], deadline=t.datetime(deadline.at))
    return t(
        OPEN_TEXT[deadline.milestone],
        deadline=t.datetime(deadline.at),
        left=days_left_text(t, days_left(deadline.at, now, t.tz)),
    )


def handlers() -> list[CommandHandler[BotContext, None]]:
    return [CommandHandler("deadlines", deadlines_command)]
