"""The planner job: every minute (and once at start-up) the schedule of reminders and digests is brought
up to date in the outbox, with each message written in its recipient's language.

Who gets what and when is decided in ``rules.schedule``; this module only writes the texts and runs the
planner in one transaction. The outbox sender does the sending.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping, Sequence

from bot.context import BotContext
from bot.i18n import N_, Translator
from bot.services import Services
from handlers.link_codes import or_type_invitation_code
from rules import address, audit, links, retention, schedule
from rules.invitations import Status as InvitationStatus
from rules.invitations import code_of
from rules.nominations import Status as NominationStatus
from rules.outbox import MAX_TEXT_CHARS
from rules.schedule import (
    ConferenceDigest,
    ConferenceFacts,
    DayBeforeReminder,
    Digest,
    Intent,
    NominationEscalation,
    NominationReminder,
    PlanReport,
    RsvpReminder,
    UnitProgress,
)

logger = logging.getLogger(__name__)

PLANNER_INTERVAL_SECONDS = 60
# Units named in one message; the rest are counted ("and 12 more").
UNITS_SHOWN = 30


NOMINATIONS_UNTIL = N_("• Nominations: until {deadline} ({left})")
RSVP_UNTIL = N_("• Answers to invitations: until {deadline} ({left})")
CONFERENCE_ON = N_("• Conference: {when} ({left})")


def days_left_text(t: Translator, days: int) -> str:
    """``còn 3 ngày``, ``hôm nay`` or ``đã hết hạn``."""
    if days == 1:
        return t("1 day left")
    if days > 1:
        return t("{n} days left", n=t.number(days))
    if days == 0:
        return t("today")
    return t("closed")


def _left(t: Translator, moment: dt.datetime, now: dt.datetime) -> str:
    return days_left_text(t, schedule.days_left(moment, now, t.tz))


def names_list(t: Translator, names: Sequence[str], shown: int = UNITS_SHOWN) -> str:
    """Names separated by commas, at most ``shown`` of them and a count of the rest."""
    listed = ", ".join(names[:shown])
    if len(names) <= shown:
        return listed
    return t("{names} and {count} more", names=listed, count=t.number(len(names) - shown))


def conference_when(t: Translator, conference: ConferenceFacts) -> str | None:
    """The conference's date and time, or its window (``Quý II/2020``), or None when neither is known."""
    if conference.starts_at is not None:
        return t.datetime(conference.starts_at)
    start, end = conference.window_start, conference.window_end
    if start is not None and end is not None:
        if _is_whole_quarter(t.local(start).date(), t.local(end).date()):
            return t.quarter(start)
        return t("from {start} to {end}", start=t.date(start), end=t.date(end))
    if end is not None:
        return t("by {date}", date=t.date(end))
    return None


def _is_whole_quarter(first: dt.date, last: dt.date) -> bool:
    """From the first to the last day of one quarter (the plan's "trong Quý II/2020")."""
    quarter_start = dt.date(first.year, 3 * ((first.month - 1) // 3) + 1, 1)
    if quarter_start.month == 10:
        next_quarter = dt.date(first.year + 1, 1, 1)
    else:
        next_quarter = dt.date(first.year, quarter_start.month + 3, 1)
    return first == quarter_start and last == next_quarter - dt.timedelta(days=1)


class Renderer:
    """Writes each intent of the planner in its recipient's language."""

    def __init__(self, services: Services, bot_username: str) -> None:
        self.services = services
        self.bot_username = bot_username

    def __call__(self, intent: Intent) -> str:
        t = self.services.translators.get(intent.recipient.locale)
        if isinstance(intent, NominationReminder):
            text = self.nomination_reminder(t, intent)
        elif isinstance(intent, NominationEscalation):
            text = self.escalation(t, intent)
        elif isinstance(intent, RsvpReminder):
            text = self.rsvp_reminder(t, intent)
        elif isinstance(intent, DayBeforeReminder):
            text = self.day_before(t, intent)
        elif isinstance(intent, Digest):
            text = self.digest(t, intent)
        else:
            raise TypeError(f"no text for {type(intent).__name__}")
        return _clip(text)

    @staticmethod
    def nomination_reminder(t: Translator, intent: NominationReminder) -> str:
        conference, unit = intent.conference, intent.unit
        assert conference.nomination_deadline is not None
        return t(
            "Reminder: nominations for {conference} close at {deadline} ({left}).\n"
            "{unit} has sent {received} of the {expected} nominations expected. Type /nominate to send one.",
            conference=conference.title_in(t.locale),
            deadline=t.datetime(conference.nomination_deadline),
            left=days_left_text(t, intent.days_before),
            unit=unit.name,
            received=t.number(unit.sent),
            expected=t.number(unit.expected or 0),
        )

    @staticmethod
    def escalation(t: Translator, intent: NominationEscalation) -> str:
        conference = intent.conference
        assert conference.nomination_deadline is not None
        lines = [_unit_line(t, unit) for unit in intent.missed[:UNITS_SHOWN]]
        if len(intent.missed) > UNITS_SHOWN:
            lines.append(t("… and {count} more units", count=t.number(len(intent.missed) - UNITS_SHOWN)))
        return t(
            "Nominations for {conference} closed at {deadline}. These units sent fewer nominations than "
            "expected:\n{units}",
            conference=conference.title_in(t.locale),
            deadline=t.datetime(conference.nomination_deadline),
            units="\n".join(lines),
        )

    def rsvp_reminder(self, t: Translator, intent: RsvpReminder) -> str:
        conference = intent.conference
        assert conference.rsvp_deadline is not None
        values = {
            "honorific": address.honorific(t, intent.gender),
            "name": intent.full_name,
            "conference": conference.title_in(t.locale),
            "deadline": t.datetime(conference.rsvp_deadline),
            "left": days_left_text(t, intent.days_before),
        }
        if intent.link_nonce is None:
            return t(
                "Dear {honorific} {name},\nThis is a reminder to answer your invitation to {conference} by "
                "{deadline} ({left}).",
                **values,
            )
        secret = self.services.link_secret
        token = links.derive_token(secret, links.INVITATION, intent.invitation_id, intent.link_nonce)
        text = t(
            "Dear {honorific} {name},\nThis is a reminder to answer your invitation to {conference} by "
            "{deadline} ({left}).\nOpen your personal link to answer: {link}",
            link=links.deep_link(self.bot_username, links.INVITATION, token),
            **values,
        )
        code = code_of(secret, intent.invitation_id, intent.link_nonce)
        return f"{text}\n{or_type_invitation_code(t, code)}"

    @staticmethod
    def day_before(t: Translator, intent: DayBeforeReminder) -> str:
        conference = intent.conference
        assert conference.starts_at is not None
        lines = [
            t(
                "Dear {honorific} {name},\nA reminder: {conference} takes place tomorrow, {when}.",
                honorific=address.honorific(t, intent.gender),
                name=intent.full_name,
                conference=conference.title_in(t.locale),
                when=t.datetime(conference.starts_at),
            ),
            t("Place: {venue}", venue=conference.venue) if conference.venue else t("Place: to be announced"),
        ]
        if conference.what_to_bring:
            lines.append(t("Please bring: {items}", items=conference.what_to_bring))
        if intent.checkin_code:
            lines.append(t("Your check-in code: {code}", code=intent.checkin_code))
        return "\n".join(lines)

    @staticmethod
    def digest(t: Translator, intent: Digest) -> str:
        parts = [
            t(
                "Daily summary, {date}. Changes are counted since {since}.",
                date=t.date(intent.digest_at),
                since=t.datetime(intent.since),
            )
        ]
        parts.extend(_conference_digest(t, item, intent.digest_at) for item in intent.conferences)
        if intent.purged:
            parts.append(purged_text(t, intent.purged))
        body = "\n\n".join(parts)
        if intent.audit_head is None:
            return body
        # The head line goes last and is never the part cut off a digest too long for one message.
        head = audit_head_line(t, intent.audit_head)
        return f"{_clip(body, MAX_TEXT_CHARS - len(head) - 2)}\n\n{head}"


def audit_head_line(t: Translator, head: audit.Head) -> str:
    """The audit chain's head, so that a rewrite of the trail after this message is detectable from it."""
    return t(
        "🔒 Audit trail: {count} entries, last hash {hash}. To check that nothing before it was changed: "
        "dienhinh audit verify --expect-head {hash}",
        count=t.number(head.count),
        hash=head.short,
    )


PURGED: dict[str, str] = {
    retention.Kind.DRAFT: N_("{count} old drafts deleted"),
    retention.Kind.NOMINATION_NOT_APPROVED: N_("{count} nominations not approved deleted"),
    retention.Kind.INVITATION: N_("{count} invitations de-identified"),
    retention.Kind.GUEST_LIST: N_("{count} uploaded guest lists deleted"),
    retention.Kind.EVIDENCE: N_("{count} evidence files deleted"),
    retention.Kind.EXPORT: N_("{count} shared files deleted"),
    retention.Kind.OUTBOX: N_("the texts of {count} sent messages erased"),
}


def purged_text(t: Translator, purged: Mapping[str, int]) -> str:
    """The retention purge's line of the digest: what went since the last summary, by kind."""
    items = [t(PURGED[kind], count=t.number(count)) for kind, count in purged.items() if kind in PURGED]
    return t("🗑 Personal data past its retention period: {items}.", items="; ".join(items))


def _unit_line(t: Translator, unit: UnitProgress) -> str:
    return t(
        "• {unit}: {received} of {expected}",
        unit=unit.name,
        received=t.number(unit.sent),
        expected=t.number(unit.expected or 0),
    )


def _conference_digest(t: Translator, item: ConferenceDigest, now: dt.datetime) -> str:
    conference = item.conference
    lines = [f"📋 {conference.title_in(t.locale)}"]
    for msgid, moment in ((NOMINATIONS_UNTIL, conference.nomination_deadline), (RSVP_UNTIL, conference.rsvp_deadline)):
        if moment is not None and moment > now:
            lines.append(t(msgid, deadline=t.datetime(moment), left=_left(t, moment, now)))
    if conference.starts_at is not None and conference.starts_at > now:
        lines.append(t(CONFERENCE_ON, when=t.datetime(conference.starts_at), left=_left(t, conference.starts_at, now)))
    counts = item.nominations
    lines.append(
        t(
            "• Nominations: {total} sent in; waiting for review {submitted}, approved {approved}, "
            "sent back for changes {changes}, not accepted {rejected}",
            total=t.number(sum(counts.values())),
            submitted=t.number(counts.get(NominationStatus.SUBMITTED, 0)),
            approved=t.number(counts.get(NominationStatus.APPROVED, 0)),
            changes=t.number(counts.get(NominationStatus.CHANGES_REQUESTED, 0)),
            rejected=t.number(counts.get(NominationStatus.REJECTED, 0)),
        )
    )
    changes = item.nomination_changes
    if changes:
        lines.append(
            t(
                "• Since the last summary: {new} nominations sent in, {approved} approved, "
                "{changes} sent back for changes, {rejected} not accepted",
                new=t.number(changes.get(NominationStatus.SUBMITTED, 0)),
                approved=t.number(changes.get(NominationStatus.APPROVED, 0)),
                changes=t.number(changes.get(NominationStatus.CHANGES_REQUESTED, 0)),
                rejected=t.number(changes.get(NominationStatus.REJECTED, 0)),
            )
        )
    answers = item.invitation_changes
    if answers:
        lines.append(
            t(
                "• Delegates since the last summary: {accepted} accepted, {declined} declined, "
                "{waitlisted} put on the waiting list",
                accepted=t.number(answers.get(InvitationStatus.ACCEPTED, 0)),
                declined=t.number(answers.get(InvitationStatus.DECLINED, 0)),
                waitlisted=t.number(answers.get(InvitationStatus.WAITLISTED, 0)),
            )
        )
    for pool in item.pools:
        if pool.seats:
            lines.append(
                t(
                    "• {pool}: {accepted} of {seats} seats accepted ({share}), {missing} still to fill",
                    pool=pool.title_in(t.locale),
                    accepted=t.number(pool.accepted),
                    seats=t.number(pool.seats),
                    share=t.percent(pool.accepted / pool.seats),
                    missing=t.number(max(pool.seats - pool.accepted, 0)),
                )
            )
        else:
            lines.append(
                t("• {pool}: {accepted} accepted", pool=pool.title_in(t.locale), accepted=t.number(pool.accepted))
            )
    if item.units_at_zero:
        lines.append(
            t(
                "• Units with no nomination yet ({count}): {units}",
                count=t.number(len(item.units_at_zero)),
                units=names_list(t, item.units_at_zero),
            )
        )
    return "\n".join(lines)


def _clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    # A digest of many conferences could outgrow one Telegram message; the end is the least important.
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- running the planner --------------------------------------------------------------------------------


async def plan_and_queue(services: Services, bot_username: str) -> PlanReport:
    """Bring the outbox up to date with the schedule, as of ``services.clock()``."""
    config = schedule.ScheduleConfig.from_settings(services.settings)
    now = services.clock()
    async with services.database.transaction() as db:
        report = await schedule.run(
            db, now=now, config=config, render=Renderer(services, bot_username), link_secret=services.link_secret
        )
    if report.total_added or report.cancelled:
        logger.info("planner: added %s, cancelled %s", dict(report.added), report.cancelled)
    return report


async def run_planner(context: BotContext) -> None:
    """Repeating job (every minute): see :func:`plan_and_queue`."""
    services: Services = context.application.services  # type: ignore[attr-defined]
    await plan_and_queue(services, context.bot.username)


def seconds_to_next_minute(now: float | None = None) -> float:
    """When the first run should be: just after the next full minute, so a 07:30 digest leaves at 07:30."""
    moment = time.time() if now is None else now
    return 60 - moment % 60 + 1
