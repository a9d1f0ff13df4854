"""The schedule: which reminders, escalations and digests should be in the outbox now, from the plan's dates.

There is no job list kept by hand. :func:`plan` looks at the database as it is — conferences and their
deadlines, allowances and what each unit has sent, invitations and answers, organisers — and says which
messages should exist: those due from ``grace`` ago up to ``horizon`` ahead. :func:`apply` adds the new ones,
each under a deterministic dedupe key, so running the planner every minute and again after a restart adds
nothing twice; and it cancels the waiting ones no longer wanted (the unit reached its expected number, the
delegate answered, a deadline moved or passed, an organiser lost the role). A changed plan or conference is
therefore picked up by the next run.

Times are local (``ScheduleConfig.tz``, Asia/Ho_Chi_Minh): a reminder goes out at ``reminder_time`` N days
before the local date of its deadline, the digest at ``digest_time``; due times are stored in UTC. A moment
missed by more than ``grace`` (the bot was down) is dropped, not sent late; one missed by minutes (a restart
at 07:29, the planner running at 07:31) is still sent. Reminders stop ``STOP_MARGIN`` before the deadline
they remind of: none is added after that, and waiting ones are cancelled.

Rows are added only ``horizon`` ahead (minutes, not days), so what a reminder says (how many a unit has
sent, the venue) is at most that old when it is sent.

Nothing here makes text: each intent carries the facts, and the caller's ``render`` writes them in the
recipient's language.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import audit, counts, outbox, retention
from rules.invitations import Status as InvitationStatus
from rules.invitations import issue_checkin
from rules.nominations import Status as NominationStatus
from rules.roles import Role
from rules.text import sort_key, title_for
from storage.models import (
    Account,
    Conference,
    Invitation,
    InvitationEvent,
    Nomination,
    NominationEvent,
)

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
OPEN = "open"
# Dedupe keys the planner owns: every waiting row under these is checked against the plan on each run.
NAMESPACES = ("remind:", "escalate:", "digest:")
# A reminder in the last minutes before its deadline helps nobody and could arrive after it.
STOP_MARGIN = dt.timedelta(minutes=5)
# The digest speaks of units with no nomination when the nomination deadline is this close.
ZERO_UNITS_WITHIN = dt.timedelta(days=7)
# "Something to say": a change since the last digest, or a deadline or the conference this close.
DIGEST_DUE_WITHIN = dt.timedelta(days=3)
# Nomination statuses the digest counts (drafts and expired drafts are nobody's news).
REPORTED_NOMINATION_STATUSES = (
    NominationStatus.SUBMITTED,
    NominationStatus.CHANGES_REQUESTED,
    NominationStatus.APPROVED,
    NominationStatus.REJECTED,
    NominationStatus.DUPLICATE,
    NominationStatus.WITHDRAWN,
)


class ScheduleSettings(Protocol):
    """What the planner reads from ``bot.settings.Settings``."""

    @property
    def tz(self) -> ZoneInfo: ...
    @property
    def nomination_reminder_days(self) -> tuple[int, ...]: ...
    @property
    def rsvp_reminder_days(self) -> tuple[int, ...]: ...
    @property
    def reminder_time(self) -> dt.time: ...
    @property
    def digest_time(self) -> dt.time: ...


@dataclass(frozen=True)
class ScheduleConfig:
    """When reminders and digests go out (see the module docstring)."""

    tz: ZoneInfo = LOCAL_TZ
    nomination_days: tuple[int, ...] = (7, 3, 1)
    rsvp_days: tuple[int, ...] = (3, 1)
    reminder_time: dt.time = dt.time(8, 0)
    digest_time: dt.time = dt.time(7, 30)
    grace: dt.timedelta = dt.timedelta(hours=12)
    horizon: dt.timedelta = dt.timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: ScheduleSettings) -> ScheduleConfig:
        return cls(
            tz=settings.tz,
            nomination_days=tuple(settings.nomination_reminder_days),
            rsvp_days=tuple(settings.rsvp_reminder_days),
            reminder_time=settings.reminder_time,
            digest_time=settings.digest_time,
        )

    def at_local(self, day: dt.date, time_of_day: dt.time) -> dt.datetime:
        """``time_of_day`` on ``day`` in the local time zone, as an aware UTC datetime."""
        return dt.datetime.combine(day, time_of_day, tzinfo=self.tz).astimezone(dt.UTC)

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.tz).date()

    def in_window(self, due_at: dt.datetime, now: dt.datetime) -> bool:
        """Whether a message due at ``due_at`` should be in the outbox at ``now``."""
        return now - self.grace <= due_at <= now + self.horizon


def days_left(moment: dt.datetime, now: dt.datetime, tz: ZoneInfo = LOCAL_TZ) -> int:
    """Calendar days from today to the day of ``moment``, both local: 0 on the day itself, negative after."""
    return (moment.astimezone(tz).date() - now.astimezone(tz).date()).days


# --- what the planner produces ------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    account_id: int
    locale: str | None


@dataclass(frozen=True)
class ConferenceFacts:
    """What messages say about a conference."""

    id: int
    title: str
    nomination_deadline: dt.datetime | None
    rsvp_deadline: dt.datetime | None
    starts_at: dt.datetime | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    venue: str | None
    what_to_bring: str | None
    title_en: str | None = None  # the plan's English title, for a reader in English (rules.text.title_for)

    def title_in(self, locale: str) -> str:
        return title_for(locale, self.title, self.title_en)

    @classmethod
    def of(cls, conference: Conference) -> ConferenceFacts:
        return cls(
            id=conference.id,
            title=conference.title,
            title_en=conference.title_en,
            nomination_deadline=conference.nomination_deadline,
            rsvp_deadline=conference.rsvp_deadline,
            starts_at=conference.starts_at,
            window_start=conference.window_start,
            window_end=conference.window_end,
            venue=conference.venue,
            what_to_bring=conference.what_to_bring,
        )


@dataclass(frozen=True)
class Intent:
    """One message that should be in the outbox: to whom, when, under which key and topic."""

    KIND: ClassVar[str] = ""

    key: str
    topic: str
    due_at: dt.datetime
    recipient: Recipient


# A unit's nominations against the number expected, as every screen counts them (rules.counts).
UnitProgress = counts.UnitProgress


@dataclass(frozen=True)
class NominationReminder(Intent):
    """To a unit's focal point: the unit has sent fewer nominations than expected, the deadline nears."""

    KIND: ClassVar[str] = "nomination_reminder"

    conference: ConferenceFacts
    unit: UnitProgress
    days_before: int


@dataclass(frozen=True)
class NominationEscalation(Intent):
    """To an organiser, at the nomination deadline: the units that sent fewer than expected."""

    KIND: ClassVar[str] = "nomination_escalation"

    conference: ConferenceFacts
    missed: tuple[UnitProgress, ...]


@dataclass(frozen=True)
class RsvpReminder(Intent):
    """To an invited delegate who has not answered: the answer deadline nears."""

    KIND: ClassVar[str] = "rsvp_reminder"

    conference: ConferenceFacts
    invitation_id: int
    link_nonce: str | None
    full_name: str
    days_before: int
    gender: str | None = None


@dataclass(frozen=True)
class DayBeforeReminder(Intent):
    """To an accepted delegate, the day before: time, place, check-in code."""

    KIND: ClassVar[str] = "day_before"

    conference: ConferenceFacts
    invitation_id: int
    full_name: str
    checkin_code: str | None
    gender: str | None = None


@dataclass(frozen=True)
class PoolFill:
    code: str
    title: str
    seats: int | None
    accepted: int
    title_en: str | None = None

    def title_in(self, locale: str) -> str:
        return title_for(locale, self.title, self.title_en)


@dataclass(frozen=True)
class ConferenceDigest:
    conference: ConferenceFacts
    # Nominations now, by status; and the changes since the last digest, by the status moved to.
    nominations: Mapping[str, int]
    nomination_changes: Mapping[str, int]
    invitation_changes: Mapping[str, int]
    pools: tuple[PoolFill, ...]
    # Units expected to nominate that have sent nothing, when the nomination deadline is near.
    units_at_zero: tuple[str, ...]


@dataclass(frozen=True)
class Digest(Intent):
    """To an organiser, once a day: where each open conference stands and what changed since last time."""

    KIND: ClassVar[str] = "digest"

    digest_at: dt.datetime
    since: dt.datetime
    conferences: tuple[ConferenceDigest, ...]
    # The audit chain's head when the digest was made: a rewrite of the trail after it is detectable from
    # the message alone (``dienhinh audit verify --expect-head``).
    audit_head: audit.Head | None = None
    # What the retention purge removed in the period, by kind (``rules.retention.Kind``).
    purged: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """Every key that should be in the outbox now (``wanted``), and the intents not there yet (``new``)."""

    wanted: frozenset[str]
    new: tuple[Intent, ...]


@dataclass
class PlanReport:
    added: Counter[str] = field(default_factory=Counter)
    cancelled: int = 0

    @property
    def total_added(self) -> int:
        return sum(self.added.values())


Render = Callable[[Intent], str]


# --- keys ---------------------------------------------------------------------------------------------


def _day(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def nomination_topic(conference_id: int, unit_id: int) -> str:
    return f"remind:nominations:{conference_id}:{unit_id}"


def rsvp_topic(invitation_id: int) -> str:
    """Topic of an invitation's answer reminders: cancel it when the delegate answers."""
    return f"remind:rsvp:{invitation_id}"


def day_before_topic(invitation_id: int) -> str:
    return f"remind:day-before:{invitation_id}"


def escalation_topic(conference_id: int) -> str:
    return f"escalate:nominations:{conference_id}"


def digest_topic(account_id: int) -> str:
    return f"digest:{account_id}"


# --- the planner --------------------------------------------------------------------------------------


async def plan(session: AsyncSession, *, now: dt.datetime, config: ScheduleConfig) -> Plan:
    """The messages that should be in the outbox at ``now``; digests are built only when not queued yet."""
    wanted: list[Intent] = [
        *await nomination_reminders(session, now, config),
        *await nomination_escalations(session, now, config),
        *await rsvp_reminders(session, now, config),
        *await day_before_reminders(session, now, config),
    ]
    slots = await _digest_slots(session, now, config)
    taken = await outbox.taken_keys(session, [intent.key for intent in wanted] + [slot.key for slot in slots])
    new: list[Intent] = [intent for intent in wanted if intent.key not in taken]
    digest_keys: set[str] = set()
    cache: dict[tuple[dt.datetime, dt.datetime], tuple[ConferenceDigest, ...] | None] = {}
    for slot in slots:
        if slot.key in taken:
            digest_keys.add(slot.key)
            continue
        digest = await _build_digest(session, slot, config, cache)
        if digest is not None:
            digest_keys.add(slot.key)
            new.append(digest)
    return Plan(wanted=frozenset({intent.key for intent in wanted} | digest_keys), new=tuple(new))


async def apply(session: AsyncSession, planned: Plan, *, render: Render, now: dt.datetime) -> PlanReport:
    """Add the new intents to the outbox (texts from ``render``) and cancel waiting rows no longer wanted."""
    report = PlanReport()
    for intent in planned.new:
        added = await outbox.enqueue(
            session,
            account_id=intent.recipient.account_id,
            text=render(intent),
            dedupe_key=intent.key,
            due_at=intent.due_at,
            topic=intent.topic,
            now=now,
        )
        if added:
            report.added[intent.KIND] += 1
    stale = await outbox.pending_keys(session, prefixes=NAMESPACES) - planned.wanted
    if stale:
        report.cancelled = await outbox.cancel_keys(session, stale)
    return report


async def run(
    session: AsyncSession,
    *,
    now: dt.datetime,
    config: ScheduleConfig,
    render: Render,
    link_secret: bytes | None = None,
) -> PlanReport:
    """:func:`plan`, then check-in codes for the day before (with ``link_secret``), then :func:`apply`, in
    the caller's transaction."""
    planned = await plan(session, now=now, config=config)
    if link_secret is not None:
        planned = await with_checkin_codes(session, planned, secret=link_secret)
    return await apply(session, planned, render=render, now=now)


async def with_checkin_codes(session: AsyncSession, planned: Plan, *, secret: bytes) -> Plan:
    """Give day-before reminders of delegates who have no check-in code yet (they never opened their pass)
    one: issued as ``rules.invitations.issue_checkin`` issues it, so the pass shows the same code later."""
    intents: list[Intent] = []
    for intent in planned.new:
        if isinstance(intent, DayBeforeReminder) and not intent.checkin_code:
            invitation = await session.get_one(Invitation, intent.invitation_id)
            _, code = await issue_checkin(session, invitation, secret)
            intent = replace(intent, checkin_code=code)
        intents.append(intent)
    await session.flush()
    return Plan(wanted=planned.wanted, new=tuple(intents))


# --- nominations: reminders to units, escalation to organisers ----------------------------------------


def _reminder_moments(
    deadline: dt.datetime, offsets: Iterable[int], now: dt.datetime, config: ScheduleConfig
) -> list[tuple[int, dt.datetime]]:
    """(days before, due at) of the reminders for ``deadline`` that belong in the outbox at ``now``."""
    if now >= deadline - STOP_MARGIN:
        return []
    day = config.local_date(deadline)
    moments = [(days, config.at_local(day - dt.timedelta(days=days), config.reminder_time)) for days in offsets]
    return [(days, due) for days, due in moments if due < deadline - STOP_MARGIN and config.in_window(due, now)]


def _lookahead(offsets: Collection[int], config: ScheduleConfig) -> dt.timedelta:
    # The furthest deadline a reminder due within the horizon can be for (a day more for the local clock).
    return dt.timedelta(days=max(offsets, default=0) + 1) + config.horizon


async def _open_conferences(
    session: AsyncSession, column: Any, start: dt.datetime, end: dt.datetime
) -> list[Conference]:
    statement = (
        select(Conference).where(Conference.status == OPEN, column > start, column <= end).order_by(Conference.id)
    )
    return list((await session.scalars(statement)).all())


def _conference_day(conference: Conference, config: ScheduleConfig) -> dt.date | None:
    moment = conference.starts_at or conference.window_start or conference.window_end or conference.nomination_deadline
    return config.local_date(moment) if moment else None


async def unit_progress(
    session: AsyncSession, conference: Conference, config: ScheduleConfig | None = None
) -> list[UnitProgress]:
    """Every unit expected to nominate to ``conference`` (and in existence on its day), with its
    nominations as :mod:`rules.counts` counts them for /status too: the sent ones naming the unit, whoever
    sent them. Sorted in Vietnamese dictionary order.
    """
    day = _conference_day(conference, config or ScheduleConfig())
    figures = await counts.nomination_counts(session, conference.id, on_day=day)
    progress = [unit for unit in figures.units if unit.expected_to_nominate and unit.expected]
    return sorted(progress, key=lambda item: sort_key(item.name))


async def _focal_points(session: AsyncSession, unit_ids: Collection[int]) -> dict[int, list[Recipient]]:
    accounts = await session.scalars(
        select(Account)
        .where(
            Account.role == Role.FOCAL_POINT,
            Account.unit_id.in_(list(unit_ids)),
            Account.bot_blocked_at.is_(None),
        )
        .order_by(Account.id)
    )
    by_unit: dict[int, list[Recipient]] = {}
    for account in accounts:
        assert account.unit_id is not None
        by_unit.setdefault(account.unit_id, []).append(Recipient(account.id, account.locale))
    return by_unit


async def _organisers(session: AsyncSession) -> list[Recipient]:
    accounts = await session.scalars(
        select(Account)
        .where(
            Account.role == Role.ORGANISER,
            Account.bot_blocked_at.is_(None),
        )
        .order_by(Account.id)
    )
    return [Recipient(a.id, a.locale) for a in accounts]


async def nomination_reminders(session: AsyncSession, now: dt.datetime, config: ScheduleConfig) -> list[Intent]:
    """Reminders to the focal points of units below their expected number, N days before the deadline."""
    intents: list[Intent] = []
    end = now + _lookahead(config.nomination_days, config)
    for conference in await _open_conferences(session, Conference.nomination_deadline, now, end):
        assert conference.nomination_deadline is not None
        moments = _reminder_moments(conference.nomination_deadline, config.nomination_days, now, config)
        if not moments:
            continue
        behind = [unit for unit in await unit_progress(session, conference, config) if unit.missing]
        recipients = await _focal_points(session, [unit.unit_id for unit in behind])
        facts = ConferenceFacts.of(conference)
        for days, due_at in moments:
            for unit in behind:
                for recipient in recipients.get(unit.unit_id, []):
                    key = (
                        f"{nomination_topic(conference.id, unit.unit_id)}:{recipient.account_id}"
                        f":{days}d:{_day(config.local_date(due_at))}"
                    )
                    intents.append(
                        NominationReminder(
                            key, nomination_topic(conference.id, unit.unit_id), due_at, recipient, facts, unit, days
                        )
                    )
    return intents


async def nomination_escalations(session: AsyncSession, now: dt.datetime, config: ScheduleConfig) -> list[Intent]:
    """At the nomination deadline, organisers are told which units sent fewer than expected."""
    intents: list[Intent] = []
    conferences = await _open_conferences(session, Conference.nomination_deadline, now - config.grace, now)
    organisers = await _organisers(session) if conferences else []
    for conference in conferences:
        assert conference.nomination_deadline is not None
        missed = tuple(u for u in await unit_progress(session, conference, config) if u.missing)
        if not missed:
            continue
        deadline = conference.nomination_deadline
        facts = ConferenceFacts.of(conference)
        topic = escalation_topic(conference.id)
        for recipient in organisers:
            key = f"{topic}:{recipient.account_id}:{_day(config.local_date(deadline))}"
            intents.append(NominationEscalation(key, topic, deadline, recipient, facts, missed))
    return intents


# --- delegates: answer reminders, the day before --------------------------------------------------------


async def _invitations(
    session: AsyncSession, conference_id: int, status: InvitationStatus
) -> list[tuple[Invitation, Recipient]]:
    """Invitations in ``status`` bound to an account that has not blocked the bot."""
    rows = await session.execute(
        select(Invitation, Account.locale)
        .join(Account, Account.id == Invitation.account_id)
        .where(
            Invitation.conference_id == conference_id,
            Invitation.status == status,
            Account.bot_blocked_at.is_(None),
        )
        .order_by(Invitation.id)
    )
    # The join leaves only bound invitations, so account_id is set.
    return [(invitation, Recipient(invitation.account_id or 0, locale)) for invitation, locale in rows.all()]


async def rsvp_reminders(session: AsyncSession, now: dt.datetime, config: ScheduleConfig) -> list[Intent]:
    """Reminders to delegates who have not answered, N days before the answer deadline."""
    intents: list[Intent] = []
    end = now + _lookahead(config.rsvp_days, config)
    for conference in await _open_conferences(session, Conference.rsvp_deadline, now, end):
        assert conference.rsvp_deadline is not None
        moments = _reminder_moments(conference.rsvp_deadline, config.rsvp_days, now, config)
        if not moments:
            continue
        facts = ConferenceFacts.of(conference)
        for invitation, recipient in await _invitations(session, conference.id, InvitationStatus.PENDING):
            topic = rsvp_topic(invitation.id)
            for days, due_at in moments:
                key = f"{topic}:{days}d:{_day(config.local_date(due_at))}"
                intents.append(
                    RsvpReminder(
                        key,
                        topic,
                        due_at,
                        recipient,
                        facts,
                        invitation.id,
                        invitation.link_nonce,
                        invitation.full_name,
                        days,
                        invitation.gender,
                    )
                )
    return intents


async def day_before_reminders(session: AsyncSession, now: dt.datetime, config: ScheduleConfig) -> list[Intent]:
    """The day before the conference, accepted delegates get its time, place and their check-in code."""
    intents: list[Intent] = []
    end = now + dt.timedelta(days=2) + config.horizon
    for conference in await _open_conferences(session, Conference.starts_at, now, end):
        assert conference.starts_at is not None
        day = config.local_date(conference.starts_at) - dt.timedelta(days=1)
        due_at = config.at_local(day, config.reminder_time)
        if due_at >= conference.starts_at or not config.in_window(due_at, now):
            continue
        facts = ConferenceFacts.of(conference)
        for invitation, recipient in await _invitations(session, conference.id, InvitationStatus.ACCEPTED):
            topic = day_before_topic(invitation.id)
            intents.append(
                DayBeforeReminder(
                    f"{topic}:{_day(day)}",
                    topic,
                    due_at,
                    recipient,
                    facts,
                    invitation.id,
                    invitation.full_name,
                    invitation.checkin_code,
                    invitation.gender,
                )
            )
    return intents


# --- the organisers' digest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _DigestSlot:
    key: str
    topic: str
    recipient: Recipient
    digest_at: dt.datetime


async def _digest_slots(session: AsyncSession, now: dt.datetime, config: ScheduleConfig) -> list[_DigestSlot]:
    """Today's (or, just after midnight, yesterday's) digest of each organiser, if its moment is in reach."""
    today = config.local_date(now)
    moments = [(day, config.at_local(day, config.digest_time)) for day in (today - dt.timedelta(days=1), today)]
    due = [(day, at) for day, at in moments if at <= now <= at + config.grace]
    if not due:
        return []
    organisers = await _organisers(session)
    return [
        _DigestSlot(f"{digest_topic(r.account_id or 0)}:{_day(day)}", digest_topic(r.account_id or 0), r, at)
        for day, at in due
        for r in organisers
    ]


async def _build_digest(
    session: AsyncSession,
    slot: _DigestSlot,
    config: ScheduleConfig,
    cache: dict[tuple[dt.datetime, dt.datetime], tuple[ConferenceDigest, ...] | None],
) -> Digest | None:
    """The digest of ``slot``, or None on a day with nothing to say."""
    previous = await outbox.latest_due(session, topic=slot.topic, before=slot.digest_at)
    since = previous or slot.digest_at - dt.timedelta(days=1)
    period = (since, slot.digest_at)
    if period not in cache:
        cache[period] = await digest_content(session, since=since, until=slot.digest_at, config=config)
    conferences = cache[period]
    purged = await retention.purged_between(session, since, slot.digest_at)
    if conferences is None and not purged:
        return None
    head = await audit.head(session)
    return Digest(
        slot.key, slot.topic, slot.digest_at, slot.recipient, slot.digest_at, since, conferences or (), head, purged
    )


def _has_news(conference: Conference, until: dt.datetime) -> bool:
    moments = (conference.nomination_deadline, conference.rsvp_deadline, conference.starts_at)
    return any(m is not None and until < m <= until + DIGEST_DUE_WITHIN for m in moments)


def _still_relevant(conference: Conference, since: dt.datetime) -> bool:
    moments = [
        m
        for m in (conference.nomination_deadline, conference.rsvp_deadline, conference.starts_at, conference.window_end)
        if m is not None
    ]
    return not moments or max(moments) > since


async def digest_content(
    session: AsyncSession, *, since: dt.datetime, until: dt.datetime, config: ScheduleConfig
) -> tuple[ConferenceDigest, ...] | None:
    """Each open conference as of ``until``, with the changes in (``since``, ``until``]; None when there is
    nothing to say: no change, and no deadline or conference within ``DIGEST_DUE_WITHIN``.

    Only what happened up to ``until`` counts, so the answer is the same whenever it is asked after the
    digest's moment (a planner that runs late decides as one that ran on time).
    """
    conferences = list(
        (await session.scalars(select(Conference).where(Conference.status == OPEN).order_by(Conference.id))).all()
    )
    nomination_changes = await _changes(session, NominationEvent, since, until)
    invitation_changes = await _changes(session, InvitationEvent, since, until)
    shown = [
        conference
        for conference in conferences
        if _still_relevant(conference, since)
        or conference.id in nomination_changes
        or conference.id in invitation_changes
    ]
    news = any(c.id in nomination_changes or c.id in invitation_changes or _has_news(c, until) for c in shown)
    if not news:
        # Decided before counting anything: on a quiet day the planner asks again every minute.
        return None
    return tuple(
        [
            ConferenceDigest(
                conference=ConferenceFacts.of(conference),
                nominations=await _nomination_counts(session, conference.id),
                nomination_changes=nomination_changes.get(conference.id, {}),
                invitation_changes=invitation_changes.get(conference.id, {}),
                pools=await pool_fill(session, conference.id),
                units_at_zero=await _units_at_zero(session, conference, until, config),
            )
            for conference in shown
        ]
    )


async def _changes(
    session: AsyncSession, event: type[NominationEvent] | type[InvitationEvent], since: dt.datetime, until: dt.datetime
) -> dict[int, dict[str, int]]:
    """Per conference, how many records moved to each status in (since, until]."""
    if event is NominationEvent:
        statement = (
            select(Nomination.conference_id, NominationEvent.to_status, func.count())
            .join(Nomination, Nomination.id == NominationEvent.nomination_id)
            .where(
                NominationEvent.at > since,
                NominationEvent.at <= until,
                NominationEvent.to_status.in_(REPORTED_NOMINATION_STATUSES),
            )
            .group_by(Nomination.conference_id, NominationEvent.to_status)
        )
    else:
        statement = (
            select(Invitation.conference_id, InvitationEvent.to_status, func.count())
            .join(Invitation, Invitation.id == InvitationEvent.invitation_id)
            .where(InvitationEvent.at > since, InvitationEvent.at <= until)
            .group_by(Invitation.conference_id, InvitationEvent.to_status)
        )
    changes: dict[int, dict[str, int]] = {}
    for conference_id, status, count in (await session.execute(statement)).all():
        if conference_id is not None:
            changes.setdefault(conference_id, {})[status] = int(count)
    return changes


async def _nomination_counts(session: AsyncSession, conference_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Nomination.status, func.count())
        .where(Nomination.conference_id == conference_id, Nomination.status.in_(REPORTED_NOMINATION_STATUSES))
        .group_by(Nomination.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def pool_fill(session: AsyncSession, conference_id: int) -> tuple[PoolFill, ...]:
    """Each seat pool of the conference with its seats and how many delegates have accepted in it, counted
    as ``/status`` and ``/delegates`` count them (``rules.seats.pool_counts``)."""
    # rules.seats uses this module's topics (to cancel reminders when a delegate answers): imported here,
    # when first needed, so neither module needs the other to be loaded first.
    from rules.seats import pool_counts

    return tuple(
        PoolFill(p.code, p.title, p.seats, p.accepted, title_en=p.title_en)
        for p in await pool_counts(session, conference_id)
    )


async def _units_at_zero(
    session: AsyncSession, conference: Conference, until: dt.datetime, config: ScheduleConfig
) -> tuple[str, ...]:
    deadline = conference.nomination_deadline
    if deadline is None or not until < deadline <= until + ZERO_UNITS_WITHIN:
        return ()
    return tuple(unit.name for unit in await unit_progress(session, conference, config) if unit.at_zero)


__all__ = [
    "NAMESPACES",
    "STOP_MARGIN",
    "ConferenceDigest",
    "ConferenceFacts",
    "DayBeforeReminder",
    "Digest",
    "Intent",
    "NominationEscalation",
    "NominationReminder",
    "Plan",
    "PlanReport",
    "PoolFill",
    "Recipient",
    "Render",
    "RsvpReminder",
    "ScheduleConfig",
    "UnitProgress",
    "apply",
    "day_before_topic",
    "days_left",
    "digest_content",
    "digest_topic",
    "escalation_topic",
    "nomination_topic",
    "plan",
    "pool_fill",
    "rsvp_topic",
    "run",
    "unit_progress",
    "with_checkin_codes",
]
