"""Nominations: statuses and their transitions, codes, lookups. Shared by intake, review and publicity.

A nomination moves draft → submitted → approved | rejected | changes_requested | duplicate;
changes_requested → submitted again when the nominator resubmits; draft → expired when left too long;
draft, submitted or changes_requested → withdrawn by the nominator. Every transition is a
``NominationEvent`` row with the actor, the time and the reason: :func:`transition` is the only place that
changes a status.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rules.i18n import N_
from storage.models import Campaign, Nomination, NominationEvent

# Reasons the system records (not typed by a person) are stored as codes and shown through the catalog, so a
# history reads in its reader's language. The English sentence is what rows written before the code hold.
RESUBMITTED = "resubmitted"
ORIGINAL_GONE = "original_gone"  # a duplicate whose original was erased or purged (rules.retention)
SYSTEM_REASONS = {
    RESUBMITTED: N_("resubmitted after changes"),
    ORIGINAL_GONE: N_("back to review: the nomination it duplicated is no longer kept"),
    "resubmitted after changes": N_("resubmitted after changes"),
}


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"


ALLOWED: dict[Status, frozenset[Status]] = {
    Status.DRAFT: frozenset({Status.SUBMITTED, Status.EXPIRED, Status.WITHDRAWN}),
    Status.SUBMITTED: frozenset(
        {Status.APPROVED, Status.REJECTED, Status.CHANGES_REQUESTED, Status.DUPLICATE, Status.WITHDRAWN}
    ),
    Status.CHANGES_REQUESTED: frozenset({Status.SUBMITTED, Status.WITHDRAWN, Status.REJECTED}),
    Status.APPROVED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.DUPLICATE: frozenset(),
    Status.WITHDRAWN: frozenset(),
    Status.EXPIRED: frozenset(),
}
# Decided: a reviewer's decision is final and an old button must not change it.
DECIDED = frozenset({Status.APPROVED, Status.REJECTED, Status.DUPLICATE})
# In a reviewer's queue.
AWAITING_REVIEW = frozenset({Status.SUBMITTED})
# Counted against a unit's allowance: everything sent in and not withdrawn or thrown out as a duplicate.
COUNTS_AGAINST_ALLOWANCE = frozenset({Status.SUBMITTED, Status.CHANGES_REQUESTED, Status.APPROVED, Status.REJECTED})


class TransitionError(Exception):
    """The nomination is not in a state that allows this change (e.g. decided already)."""

    def __init__(self, nomination: Nomination, to_status: Status) -> None:
        super().__init__(f"{nomination.code or nomination.id}: {nomination.status} -> {to_status} not allowed")
        self.nomination = nomination
        self.current = Status(nomination.status)
        self.to_status = to_status


def can_transition(current: str, to_status: Status) -> bool:
    return to_status in ALLOWED.get(Status(current), frozenset())


def transition(
    session: AsyncSession,
    nomination: Nomination,
    to_status: Status,
    *,
    actor_id: int | None,
    now: dt.datetime,
    reason: str | None = None,
) -> NominationEvent:
    """Move ``nomination`` to ``to_status`` and record who, when and why; raises TransitionError.

    Callers load the nomination in the same transaction (``FOR UPDATE`` on PostgreSQL via
    :func:`lock_nomination`) so two reviewers pressing at once cannot both decide.
    """
    if not can_transition(nomination.status, to_status):
        raise TransitionError(nomination, to_status)
    event = NominationEvent(
        nomination_id=nomination.id,
        from_status=nomination.status,
        to_status=to_status,
        actor_id=actor_id,
        reason=reason,
        at=now,
    )
    nomination.status = to_status
    if to_status == Status.SUBMITTED and nomination.submitted_at is None:
        nomination.submitted_at = now
    if to_status in DECIDED:
        nomination.decided_at = now
    session.add(event)
    return event


async def lock_nomination(session: AsyncSession, nomination_id: int) -> Nomination | None:
    """Load a nomination for changing it: row-locked on PostgreSQL (SQLite's BEGIN IMMEDIATE already
    serialises writers), with its evidence, endorsements and events."""
    statement = (
        select(Nomination)
        .where(Nomination.id == nomination_id)
        .options(
            selectinload(Nomination.evidence),
            selectinload(Nomination.endorsements),
            selectinload(Nomination.events),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return await session.scalar(statement)


def normalise_code(text: str) -> str:
    """``dh-2020-42`` → ``DH-2020-0042``: people retype codes from paper."""
    parts = text.strip().upper().replace(" ", "").replace("_", "-").split("-")
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdecimal() and len(parts[2]) <= 9:
        return f"{parts[0]}-{parts[1]}-{int(parts[2]):04d}"
    return text.strip().upper()


async def by_code(session: AsyncSession, code: str) -> Nomination | None:
    """The nomination with this code (any spelling :func:`normalise_code` understands), with relations."""
    statement = (
        select(Nomination)
        .where(Nomination.code == normalise_code(code))
        .options(
            selectinload(Nomination.evidence),
            selectinload(Nomination.endorsements),
            selectinload(Nomination.events),
        )
    )
    return await session.scalar(statement)


async def next_code(session: AsyncSession, campaign_id: int, year: int) -> str:
    """The next nomination code of a campaign, e.g. ``DH-2020-0042``; atomic under concurrency."""
    statement = (
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(nomination_seq=Campaign.nomination_seq + 1)
        .returning(Campaign.code_prefix, Campaign.nomination_seq)
    )
    prefix, seq = (await session.execute(statement)).one()
    return f"{prefix}-{year}-{seq:04d}"
