"""Seats: who holds one, the waitlist, and the answers that change them.

A delegate's answer moves their invitation between ``pending``, ``accepted``, ``waitlisted`` and
``declined`` (see :data:`ALLOWED`); :func:`transition` is the only place a status changes, and every change
is an ``InvitationEvent`` with the actor, the time and the reason.

Who holds a seat: every ``accepted`` invitation, and a ``pending`` substitute who replaced an accepted
delegate (the seat passes to them and stays theirs until they answer, so it is not handed to the waitlist
meanwhile; see ``rules.rsvp.approve_substitute``). A pool's seats are ``SeatPool.seats`` (None: unlimited,
e.g. grassroots conferences with no capacity); the conference's ``capacity`` caps all pools together.

Locking. Two delegates answering in the same second must not both get the last seat, so every change that
takes or frees a seat first locks the conference row (``SELECT … FOR UPDATE`` on PostgreSQL) and only then
counts the seats held, in the same transaction. The conference row rather than the pool row because the
capacity spans the pools; seat changes of one conference are therefore serialised, which costs little (each
holds the lock for a few statements) and needs no counter column that could drift from the invitations.
Under PostgreSQL's READ COMMITTED each statement takes a fresh snapshot, so the counts made after the lock
see every answer committed by the previous holder. On SQLite, ``BEGIN IMMEDIATE`` (storage.db) already
serialises writers and ``FOR UPDATE`` is left out. The 400-answers-at-once test in tests/rules/test_seats.py
fails without the lock (more accepted than seats).

The waitlist is kept in commit order: under the lock, a newly waitlisted delegate's ``waitlisted_at`` is
the answer time, or just after the latest one in the pool if that is later, so positions (1 + how many wait
before them by ``(waitlisted_at, id)``) follow the order in which the answers were committed, without gaps
or ties. A decline or a withdrawn acceptance promotes the first waitlisted delegate of the same pool.

After the RSVP deadline an answer is locked; an organiser may still record one with a reason
(``override_reason``), which is kept on the event and in an ``AuditEntry``. An override does not make
room: seats stay a hard limit, so an overriding acceptance of a full pool is waitlisted too.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, Subquery, and_, bindparam, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from rules import outbox
from rules.invitations import Status
from rules.roles import can_organise
from rules.schedule import day_before_topic, rsvp_topic
from rules.text import clean, is_meaningful
from storage.models import Account, AuditEntry, Conference, Invitation, InvitationEvent, SeatPool

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.PROPOSED: frozenset({Status.PENDING, Status.CANCELLED}),
    Status.PENDING: frozenset(
        {Status.ACCEPTED, Status.WAITLISTED, Status.DECLINED, Status.SUBSTITUTED, Status.CANCELLED}
    ),
    Status.ACCEPTED: frozenset({Status.DECLINED, Status.SUBSTITUTED, Status.CANCELLED}),
    Status.WAITLISTED: frozenset({Status.ACCEPTED, Status.DECLINED, Status.SUBSTITUTED, Status.CANCELLED}),
    Status.DECLINED: frozenset({Status.ACCEPTED, Status.WAITLISTED, Status.SUBSTITUTED, Status.CANCELLED}),
    Status.SUBSTITUTED: frozenset(),
    Status.CANCELLED: frozenset(),
}
# Invitations a delegate may still answer (and propose a substitute for).
ANSWERABLE = frozenset({Status.PENDING, Status.ACCEPTED, Status.WAITLISTED, Status.DECLINED})
# The reason on the event of a substitute who takes over the seat of the accepted delegate they replace;
# it marks the pending substitute as holding that seat (see the module docstring).
SEAT_PASSED_ON = "seat passed on by the replaced delegate"
PROMOTED = "promoted from the waitlist"
MAX_REASON_CHARS = 500
_TICK = dt.timedelta(microseconds=1)


class TransitionError(Exception):
    """The invitation is not in a state that allows this change."""

    def __init__(self, invitation: Invitation, to_status: Status) -> None:
        super().__init__(f"invitation {invitation.id}: {invitation.status} -> {to_status} not allowed")


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    WAITLISTED = "waitlisted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    UNCHANGED = "unchanged"  # the answer already was this one (``status`` says which)
    LOCKED = "locked"  # after the RSVP deadline, or the delegate has checked in
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"  # not the invitee's own invitation, or an override by a non-organiser
    CLOSED = "closed"  # proposed, substituted or cancelled: nothing to answer
    NOT_ACCEPTED = "not_accepted"  # withdraw: there is no acceptance to withdraw
    REASON_REQUIRED = "reason_required"
    REASON_TOO_LONG = "reason_too_long"


@dataclass(frozen=True)
class Promotion:
    """A waitlisted delegate who has just been given a seat (to be told, in their language)."""

    invitation_id: int
    full_name: str
    conference_id: int
    conference_title: str
    account_id: int | None
    locale: str | None
    event_id: int
    gender: str | None = None


@dataclass(frozen=True)
class RsvpResult:
    """What an answer did. ``status`` is the invitation's status afterwards (or as it stands, if refused)."""

    outcome: Outcome
    invitation_id: int | None = None
    status: str | None = None
    previous: str | None = None
    position: int | None = None  # on the waitlist
    deadline: dt.datetime | None = None
    checked_in_at: dt.datetime | None = None
    event_id: int | None = None
    promoted: tuple[Promotion, ...] = ()
    # Whom the answer is from, to address them (``rules.address``).
    full_name: str | None = None
    gender: str | None = None

    @property
    def changed(self) -> bool:
        return self.outcome in (Outcome.ACCEPTED, Outcome.WAITLISTED, Outcome.DECLINED, Outcome.CANCELLED)


# --- transitions ---------------------------------------------------------------------------------------


def can_transition(current: str, to_status: Status) -> bool:
    return to_status in ALLOWED.get(Status(current), frozenset())


def transition(
    session: AsyncSession,
    invitation: Invitation,
    to_status: Status,
    *,
    actor_id: int | None,
    now: dt.datetime,
    reason: str | None = None,
) -> InvitationEvent:
    """Move ``invitation`` to ``to_status`` and record who, when and why; raises TransitionError.

    Callers hold the conference's seat lock (:func:`lock_seats`) when the change takes or frees a seat.
    """
    if not can_transition(invitation.status, to_status):
        raise TransitionError(invitation, to_status)
    event = InvitationEvent(
        invitation_id=invitation.id,
        from_status=invitation.status,
        to_status=to_status,
        actor_id=actor_id,
        reason=reason,
        at=now,
    )
    invitation.status = to_status
    invitation.updated_at = now
    session.add(event)
    return event


# --- locking and counting ------------------------------------------------------------------------------


async def lock_seats(session: AsyncSession, conference_id: int) -> Conference | None:
    """Take the seat lock of a conference for the rest of the transaction (see the module docstring)."""
    statement = (
        select(Conference)
        .where(Conference.id == conference_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(statement)


async def _lock_invitation(session: AsyncSession, invitation_id: int) -> tuple[Invitation, Conference] | None:
    """The invitation and its conference, the seat lock taken first and the invitation read after it.

    On SQLite the transaction began with BEGIN IMMEDIATE (storage.db), so it holds the write lock already
    and one statement reads both; PostgreSQL locks the conference row, then reads the invitation.
    """
    if session.get_bind().dialect.name != "postgresql":
        row = (
            await session.execute(
                select(Invitation, Conference)
                .join(Conference, Conference.id == Invitation.conference_id)
                .where(Invitation.id == invitation_id)
                .execution_options(populate_existing=True)
            )
        ).first()
        return None if row is None else (row[0], row[1])
    conference_id = select(Invitation.conference_id).where(Invitation.id == invitation_id).scalar_subquery()
    conference = await session.scalar(
        select(Conference)
        .where(Conference.id == conference_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if conference is None:
        return None
    invitation = await session.scalar(
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invitation is None:
        return None
    return invitation, conference


async def lock_conference_of(session: AsyncSession, invitation_id: int) -> None:
    """Take the seat lock of the invitation's conference before reading the invitation (PostgreSQL; on
    SQLite the transaction's BEGIN IMMEDIATE holds the write lock already). Read the invitation after it
    ``FOR UPDATE`` and pass it to :func:`accept` as ``locked``."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_CONFERENCE_OF, {_LOCKING: invitation_id})


_LOCKING = "locking_invitation"
# Built once (every press takes this lock first): building it anew cost more CPU than the lock.
_LOCK_CONFERENCE_OF = (
    select(Conference.id)
    .where(
        Conference.id
        == select(Invitation.conference_id)
        .where(Invitation.id == bindparam(_LOCKING, type_=Integer()))
        .scalar_subquery()
    )
    .with_for_update()
)


def _reserved() -> ColumnElement[bool]:
    """A pending substitute holding the seat of the accepted delegate they replaced."""
    return and_(
        Invitation.status == Status.PENDING,
        Invitation.substitute_for_id.is_not(None),
        exists().where(
            InvitationEvent.invitation_id == Invitation.id,
            InvitationEvent.to_status == Status.PENDING,
            InvitationEvent.reason == SEAT_PASSED_ON,
        ),
    )


def holds_seat() -> ColumnElement[bool]:
    """The condition on ``Invitation`` of holding a seat: accepted, or a pending substitute with a seat."""
    return or_(Invitation.status == Status.ACCEPTED, _reserved())


async def is_holding_seat(session: AsyncSession, invitation_id: int) -> bool:
    found = await session.scalar(select(Invitation.id).where(Invitation.id == invitation_id, holds_seat()))
    return found is not None


async def _held(session: AsyncSession, conference_id: int, pool_code: str | None, excluding: int | None) -> int:
    statement = select(func.count()).select_from(Invitation).where(Invitation.conference_id == conference_id)
    if pool_code is not None:
        statement = statement.where(Invitation.pool_code == pool_code)
    if excluding is not None:
        statement = statement.where(Invitation.id != excluding)
    return int(await session.scalar(statement.where(holds_seat())) or 0)


async def pool_capacity(session: AsyncSession, conference_id: int, pool_code: str) -> int | None:
    """The seats of a pool; None when the pool is unlimited (no capacity in the plan, or no such pool)."""
    seats: int | None = await session.scalar(
        select(SeatPool.seats).where(SeatPool.conference_id == conference_id, SeatPool.code == pool_code)
    )
    return seats


async def free_seats(
    session: AsyncSession, conference: Conference, pool_code: str, *, excluding: int | None = None
) -> int | None:
    """Seats still free in a pool, within the conference's capacity; None when unlimited.

    ``excluding``: an invitation not to count (the one asking for a seat, if it holds one already).
    Exact only under the seat lock.
    """
    return (await _pool_facts(session, conference, pool_code, excluding=excluding)).free


@dataclass(frozen=True)
class _PoolFacts:
    free: int | None  # None: unlimited
    waiting: int  # waitlisted in the pool
    latest_waitlisted: dt.datetime | None


def _facts_statement(conference_id: object, pool_code: object, excluding: object | None) -> Select[Any]:
    """Seats of the pool, held in it, held overall, waitlisted in it and the waitlist's latest stamp, in one
    row (``conference_id``, ``pool_code`` and ``excluding`` are values or scalar subqueries)."""
    in_pool = Invitation.pool_code == pool_code
    holding = holds_seat() if excluding is None else and_(holds_seat(), Invitation.id != excluding)
    waiting = and_(in_pool, Invitation.status == Status.WAITLISTED)
    pool_seats = (
        select(SeatPool.seats).where(SeatPool.conference_id == conference_id, SeatPool.code == pool_code)
    ).scalar_subquery()
    return select(
        pool_seats.label("seats"),
        func.count().filter(and_(in_pool, holding)).label("held_in_pool"),
        func.count().filter(holding).label("held"),
        func.count().filter(waiting).label("waitlisted"),
        func.max(Invitation.waitlisted_at).filter(waiting).label("latest"),
    ).where(Invitation.conference_id == conference_id)


def _invitation_pool_facts() -> Subquery:
    own = aliased(Invitation)
    invitation_id = bindparam(POOL_OF, type_=Integer())
    conference_id = select(own.conference_id).where(own.id == invitation_id).scalar_subquery()
    pool_code = select(own.pool_code).where(own.id == invitation_id).scalar_subquery()
    return _facts_statement(conference_id, pool_code, invitation_id).subquery("pool_facts")


# The bound parameter naming the invitation whose pool POOL_FACTS describes. Built once, so SQLAlchemy
# compiles the statements that join it once (a new alias per call would miss its compiled cache).
POOL_OF = "pool_of_invitation"
POOL_FACTS = _invitation_pool_facts()


def pool_facts_of(invitation_id: int) -> tuple[Subquery, dict[str, int]]:
    """The facts of :func:`_pool_facts` for the pool of ``invitation_id`` (not counting it), as a one-row
    subquery that a use case joins to the statement reading the invitation (one statement instead of two),
    and the parameters to execute that statement with. Exact only when that statement runs under the seat
    lock (:func:`lock_conference_of`)."""
    return POOL_FACTS, {POOL_OF: invitation_id}


@dataclass(frozen=True)
class PoolFacts:
    """What :func:`accept` needs to know about a pool (see :func:`pool_facts_of`)."""

    seats: int | None
    held_in_pool: int | None
    held: int | None
    waitlisted: int | None
    latest: Any


def _facts(conference: Conference, row: PoolFacts) -> _PoolFacts:
    free: int | None = None
    if row.seats is not None:
        free = row.seats - int(row.held_in_pool or 0)
    if conference.capacity is not None:
        overall = conference.capacity - int(row.held or 0)
        free = overall if free is None else min(free, overall)
    latest = row.latest
    if isinstance(latest, str):  # SQLite hands a filtered aggregate back as text
        latest = dt.datetime.fromisoformat(latest)
    if latest is not None and latest.tzinfo is None:
        latest = latest.replace(tzinfo=dt.UTC)
    return _PoolFacts(None if free is None else max(free, 0), int(row.waitlisted or 0), latest)


async def _pool_facts(
    session: AsyncSession, conference: Conference, pool_code: str, *, excluding: int | None = None
) -> _PoolFacts:
    """Free seats, the waitlist's length and its latest stamp, in one statement (exact under the seat lock)."""
    row = (await session.execute(_facts_statement(conference.id, pool_code, excluding))).one()
    return _facts(conference, PoolFacts(*row))


def _waitlist_order() -> tuple[ColumnElement[dt.datetime], ColumnElement[int]]:
    return Invitation.waitlisted_at.asc(), Invitation.id.asc()  # type: ignore[return-value]


async def waitlist_position(session: AsyncSession, invitation_id: int) -> int | None:
    """1 for the first in line of the invitation's pool; None when the invitation is not waitlisted."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.status != Status.WAITLISTED or invitation.waitlisted_at is None:
        return None
    ahead = await session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(
            Invitation.conference_id == invitation.conference_id,
            Invitation.pool_code == invitation.pool_code,
            Invitation.status == Status.WAITLISTED,
            or_(
                Invitation.waitlisted_at < invitation.waitlisted_at,
                and_(Invitation.waitlisted_at == invitation.waitlisted_at, Invitation.id < invitation.id),
            ),
        )
    )
    return int(ahead or 0) + 1


# --- answering -----------------------------------------------------------------------------------------


def _result(
    outcome: Outcome,
    invitation: Invitation,
    conference: Conference,
    *,
    previous: str | None = None,
    position: int | None = None,
    event_id: int | None = None,
    promoted: tuple[Promotion, ...] = (),
) -> RsvpResult:
    return RsvpResult(
        outcome,
        invitation_id=invitation.id,
        status=invitation.status,
        previous=previous,
        position=position,
        deadline=conference.rsvp_deadline,
        checked_in_at=invitation.checked_in_at,
        event_id=event_id,
        promoted=promoted,
        full_name=invitation.full_name,
        gender=invitation.gender,
    )


def is_locked(conference: Conference, now: dt.datetime) -> bool:
    """Answers are locked from the RSVP deadline on."""
    return conference.rsvp_deadline is not None and now >= conference.rsvp_deadline


def clean_reason(reason: str | None) -> str | Outcome:
    """A reason as stored, or what is wrong with it."""
    text = clean(reason or "")
    if not text or not is_meaningful(text):
        return Outcome.REASON_REQUIRED
    if len(text) > MAX_REASON_CHARS:
        return Outcome.REASON_TOO_LONG
    return text


async def _may_answer(
    session: AsyncSession,
    invitation: Invitation,
    conference: Conference,
    *,
    now: dt.datetime,
    actor_id: int | None,
    override_reason: str | None,
) -> RsvpResult | str | None:
    """None (or the cleaned override reason) when the answer may be given; else the refusal."""
    if invitation.status not in ANSWERABLE:
        return _result(Outcome.CLOSED, invitation, conference)
    if override_reason is not None:
        actor = await session.get(Account, actor_id) if actor_id is not None else None
        if actor is None or not can_organise(actor.role):
            return _result(Outcome.NOT_ALLOWED, invitation, conference)
        reason = clean_reason(override_reason)
        if isinstance(reason, Outcome):
            return _result(reason, invitation, conference)
        if invitation.checked_in_at is not None:
            return _result(Outcome.LOCKED, invitation, conference)
        return reason
    if actor_id is not None and invitation.account_id != actor_id:
        return _result(Outcome.NOT_ALLOWED, invitation, conference)
    if invitation.checked_in_at is not None or is_locked(conference, now):
        return _result(Outcome.LOCKED, invitation, conference)
    return None


def _audit(
    session: AsyncSession,
    invitation: Invitation,
    event: InvitationEvent,
    actor_id: int | None,
    now: dt.datetime,
    action: str = "invitation.override",
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            action=action,
            entity="invitation",
            entity_id=str(invitation.id),
            detail={"from": event.from_status, "to": event.to_status, "reason": event.reason},
        )
    )


async def accept(
    session: AsyncSession,
    invitation_id: int,
    *,
    now: dt.datetime,
    actor_id: int | None = None,
    override_reason: str | None = None,
    locked: tuple[Invitation, Conference] | None = None,
    pool: PoolFacts | None = None,
) -> RsvpResult:
    """The delegate will attend: a seat if the pool (and the capacity) has one, else the pool's waitlist.

    ``actor_id``: who answers; when given without ``override_reason`` it must be the account the invitation
    is bound to. ``override_reason``: an organiser records the answer (also after the deadline); required
    non-empty, kept on the event and audited. Already accepted or waitlisted: ``UNCHANGED``.
    ``locked``: the invitation (``invitation_id``'s) and its conference, read in this transaction after
    :func:`lock_conference_of` — they are not read again. ``pool``: the facts of its pool read with them
    (:func:`pool_facts_of`), under the same lock.
    """
    loaded = locked if locked is not None else await _lock_invitation(session, invitation_id)
    if loaded is None:
        return RsvpResult(Outcome.NOT_FOUND)
    invitation, conference = loaded
    check = await _may_answer(
        session, invitation, conference, now=now, actor_id=actor_id, override_reason=override_reason
    )
    if isinstance(check, RsvpResult):
        return check
    if invitation.status in (Status.ACCEPTED, Status.WAITLISTED):
        waiting = await waitlist_position(session, invitation.id)
        return _result(Outcome.UNCHANGED, invitation, conference, previous=invitation.status, position=waiting)
    previous = invitation.status
    if pool is not None and locked is not None:
        facts = _facts(conference, pool)
    else:
        facts = await _pool_facts(session, conference, invitation.pool_code, excluding=invitation.id)
    position: int | None = None
    if facts.free is None or facts.free > 0:
        event = transition(session, invitation, Status.ACCEPTED, actor_id=actor_id, now=now, reason=check)
        outcome = Outcome.ACCEPTED
    else:
        # Commit order (see the module docstring): after everyone waiting, so they are all ahead.
        latest = facts.latest_waitlisted
        invitation.waitlisted_at = now if latest is None else max(now, latest + _TICK)
        event = transition(session, invitation, Status.WAITLISTED, actor_id=actor_id, now=now, reason=check)
        outcome = Outcome.WAITLISTED
        position = facts.waiting + 1
    invitation.responded_at = now
    invitation.decline_reason = None
    if check is not None:
        _audit(session, invitation, event, actor_id, now)
    await _stop_reminders(session, invitation)
    await session.flush()
    return _result(outcome, invitation, conference, previous=previous, position=position, event_id=event.id)


async def decline(
    session: AsyncSession,
    invitation_id: int,
    *,
    now: dt.datetime,
    reason: str | None,
    actor_id: int | None = None,
    override_reason: str | None = None,
) -> RsvpResult:
    """The delegate will not attend (a reason is required); a seat they held goes to the first waitlisted
    delegate of the same pool (``promoted``). Leaving the waitlist is a decline too."""
    return await _decline(
        session, invitation_id, now=now, reason=reason, actor_id=actor_id, override_reason=override_reason
    )


async def withdraw(
    session: AsyncSession,
    invitation_id: int,
    *,
    now: dt.datetime,
    reason: str | None = None,
    actor_id: int | None = None,
    override_reason: str | None = None,
) -> RsvpResult:
    """An accepted delegate takes the acceptance back (accepted → declined); the seat is passed on."""
    return await _decline(
        session,
        invitation_id,
        now=now,
        reason=reason,
        actor_id=actor_id,
        override_reason=override_reason,
        only_accepted=True,
    )


async def _decline(
    session: AsyncSession,
    invitation_id: int,
    *,
    now: dt.datetime,
    reason: str | None,
    actor_id: int | None,
    override_reason: str | None,
    only_accepted: bool = False,
) -> RsvpResult:
    cleaned: str | Outcome | None = None
    if reason is not None or not only_accepted:
        cleaned = clean_reason(reason)
        if isinstance(cleaned, Outcome):
            return RsvpResult(cleaned, invitation_id=invitation_id)
    loaded = await _lock_invitation(session, invitation_id)
    if loaded is None:
        return RsvpResult(Outcome.NOT_FOUND)
    invitation, conference = loaded
    check = await _may_answer(
        session, invitation, conference, now=now, actor_id=actor_id, override_reason=override_reason
    )
    if isinstance(check, RsvpResult):
        return check
    if only_accepted and invitation.status != Status.ACCEPTED:
        return _result(Outcome.NOT_ACCEPTED, invitation, conference)
    if invitation.status == Status.DECLINED:
        return _result(Outcome.UNCHANGED, invitation, conference, previous=invitation.status)
    previous = invitation.status
    freed = await is_holding_seat(session, invitation.id)
    event = transition(session, invitation, Status.DECLINED, actor_id=actor_id, now=now, reason=check or cleaned)
    invitation.responded_at = now
    invitation.decline_reason = cleaned
    if check is not None:
        _audit(session, invitation, event, actor_id, now)
    await _stop_reminders(session, invitation)
    await session.flush()
    promoted = await promote_waitlisted(session, conference, invitation.pool_code, now=now) if freed else []
    return _result(
        Outcome.DECLINED, invitation, conference, previous=previous, event_id=event.id, promoted=tuple(promoted)
    )


async def cancel(
    session: AsyncSession, invitation_id: int, *, actor_id: int, now: dt.datetime, reason: str
) -> RsvpResult:
    """Organisers withdraw an invitation (any open status → cancelled); a seat it held is passed on."""
    cleaned = clean_reason(reason)
    if isinstance(cleaned, Outcome):
        return RsvpResult(cleaned, invitation_id=invitation_id)
    actor = await session.get(Account, actor_id)
    if actor is None or not can_organise(actor.role):
        return RsvpResult(Outcome.NOT_ALLOWED, invitation_id=invitation_id)
    loaded = await _lock_invitation(session, invitation_id)
    if loaded is None:
        return RsvpResult(Outcome.NOT_FOUND)
    invitation, conference = loaded
    if not can_transition(invitation.status, Status.CANCELLED):
        return _result(Outcome.CLOSED, invitation, conference)
    previous = invitation.status
    freed = await is_holding_seat(session, invitation.id)
    event = transition(session, invitation, Status.CANCELLED, actor_id=actor_id, now=now, reason=cleaned)
    _audit(session, invitation, event, actor_id, now, action="invitation.cancel")
    await _stop_reminders(session, invitation)
    await session.flush()
    promoted = await promote_waitlisted(session, conference, invitation.pool_code, now=now) if freed else []
    return _result(
        Outcome.CANCELLED, invitation, conference, previous=previous, event_id=event.id, promoted=tuple(promoted)
    )


async def _stop_reminders(session: AsyncSession, invitation: Invitation) -> None:
    """Reminders to answer (or, after a decline, of the day before) waiting in the outbox are moot now;
    the planner would cancel them on its next run, this makes sure none goes out in between."""
    topics = [rsvp_topic(invitation.id)]
    if invitation.status != Status.ACCEPTED:
        topics.append(day_before_topic(invitation.id))
    await outbox.cancel_topics_at_commit(session, topics)


async def promote_waitlisted(
    session: AsyncSession, conference: Conference, pool_code: str, *, now: dt.datetime
) -> list[Promotion]:
    """Give the free seats of a pool to its waitlisted delegates, first in line first.

    Call under the seat lock (every function here does); also useful after seats were added to a pool.
    """
    promoted: list[Promotion] = []
    while True:
        free = await free_seats(session, conference, pool_code)
        if free is not None and free <= 0:
            return promoted
        first = await session.scalar(
            select(Invitation)
            .where(
                Invitation.conference_id == conference.id,
                Invitation.pool_code == pool_code,
                Invitation.status == Status.WAITLISTED,
            )
            .order_by(*_waitlist_order())
            .limit(1)
            .with_for_update()
        )
        if first is None:
            return promoted
        event = transition(session, first, Status.ACCEPTED, actor_id=None, now=now, reason=PROMOTED)
        await session.flush()
        locale = await session.scalar(select(Account.locale).where(Account.id == first.account_id))
        promoted.append(
            Promotion(
                invitation_id=first.id,
                full_name=first.full_name,
                conference_id=conference.id,
                conference_title=conference.title,
                account_id=first.account_id,
                locale=locale,
                event_id=event.id,
                gender=first.gender,
            )
        )


# --- counting for organisers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PoolCount:
    """One pool of a conference, as ``/invite``, ``/delegates`` and ``/status`` show it.

    ``invited`` counts the invitations handed out and not closed: pending + accepted + declined +
    waitlisted. ``pending`` includes ``reserved`` (pending substitutes holding a seat) and ``accepted``
    includes ``checked_in``. Proposed substitutes, replaced and cancelled invitations are counted apart.
    """

    code: str
    title: str
    seats: int | None  # None: unlimited
    invited: int = 0
    accepted: int = 0
    declined: int = 0
    pending: int = 0
    waitlisted: int = 0
    reserved: int = 0
    proposed: int = 0
    substituted: int = 0
    cancelled: int = 0
    checked_in: int = 0
    title_en: str | None = None  # the plan's English title (rules.text.title_for)

    @property
    def held(self) -> int:
        """Seats taken: accepted, plus pending substitutes holding a seat."""
        return self.accepted + self.reserved

    @property
    def free(self) -> int | None:
        return None if self.seats is None else max(self.seats - self.held, 0)


async def pool_counts(
    session: AsyncSession, conference_id: int, seat_pools: Sequence[SeatPool] | None = None
) -> list[PoolCount]:
    """Per pool of the conference (in plan order): seats, invited, accepted, declined, pending, waitlisted,
    and the finer counts of :class:`PoolCount`. A pool code used by invitations but missing from the plan
    is listed last, unlimited. ``seat_pools``: the conference's pools in plan order, when the caller has
    read them already. Read-only; exact at the moment of the query."""
    pools = (
        list(seat_pools)
        if seat_pools is not None
        else list(
            await session.scalars(select(SeatPool).where(SeatPool.conference_id == conference_id).order_by(SeatPool.id))
        )
    )
    # The check-ins come with the statuses, in the same scan: only an accepted delegate is checked in.
    by_status = await session.execute(
        select(Invitation.pool_code, Invitation.status, func.count(), func.count(Invitation.checked_in_at))
        .where(Invitation.conference_id == conference_id)
        .group_by(Invitation.pool_code, Invitation.status)
    )
    counts: dict[str, dict[str, int]] = {}
    checked_in: dict[str, int] = defaultdict(int)
    for pool_code, status, count, checked in by_status:
        counts.setdefault(pool_code, {})[status] = int(count)
        if status == Status.ACCEPTED:
            checked_in[pool_code] += int(checked)
    reserved = await _reserved_counts(session, conference_id)
    english = {pool.code: pool.title_en for pool in pools}
    listed = [(pool.code, pool.title, pool.seats) for pool in pools]
    listed += [(code, code, None) for code in sorted(set(counts) - {pool.code for pool in pools})]
    return [
        replace(
            _pool_count(code, title, seats, counts.get(code, {}), (reserved.get(code, 0), checked_in[code])),
            title_en=english.get(code),
        )
        for code, title, seats in listed
    ]


async def _reserved_counts(session: AsyncSession, conference_id: int) -> dict[str, int]:
    """Seats held for a pending substitute, per pool."""
    reserved = await session.execute(
        select(Invitation.pool_code, func.count())
        .where(Invitation.conference_id == conference_id, _reserved())
        .group_by(Invitation.pool_code)
    )
    return {code: int(n) for code, n in reserved}


def _pool_count(
    code: str, title: str, seats: int | None, by_status: dict[str, int], extra: tuple[int, int]
) -> PoolCount:
    def n(statuses: Iterable[Status]) -> int:
        return sum(by_status.get(status, 0) for status in statuses)

    return PoolCount(
        code=code,
        title=title,
        seats=seats,
        invited=n(ANSWERABLE),
        accepted=n([Status.ACCEPTED]),
        declined=n([Status.DECLINED]),
        pending=n([Status.PENDING]),
        waitlisted=n([Status.WAITLISTED]),
        reserved=extra[0],
        proposed=n([Status.PROPOSED]),
        substituted=n([Status.SUBSTITUTED]),
        cancelled=n([Status.CANCELLED]),
        checked_in=extra[1],
    )


__all__ = [
    "ALLOWED",
    "ANSWERABLE",
    "Outcome",
    "PoolCount",
    "PoolFacts",
    "Promotion",
    "RsvpResult",
    "TransitionError",
    "accept",
    "cancel",
    "decline",
    "free_seats",
    "holds_seat",
    "is_locked",
    "lock_conference_of",
    "lock_seats",
    "pool_capacity",
    "pool_counts",
    "pool_facts_of",
    "promote_waitlisted",
    "transition",
    "waitlist_position",
    "withdraw",
]
