"""Reviewing nominations: the queue, the decisions, duplicates, endorsements, who may see what, publicity.

Every decision loads the nomination with :func:`rules.nominations.lock_nomination`, moves it with
:func:`rules.nominations.transition` (the event keeps actor, time and reason), writes an ``AuditEntry`` and
queues the nominator's notice in the outbox, all in the caller's transaction: the decision and the message
about it are committed together or not at all.

This layer has no translator. The caller passes a :data:`Notice`, a function that writes the notice for a
:class:`Decision` in the nominator's language (``Decision.nominator_locale``); the rule decides whether the
nominator is told, in which chat and under which dedupe key. Refusals (no right, decided already, a reason
missing) come back as a :class:`Decision` whose ``refusal`` says why, with what the caller needs to explain
it ("already approved by Hoà at 08:12").
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import accounts, outbox
from rules.nominations import (
    AWAITING_REVIEW,
    DECIDED,
    SYSTEM_REASONS,
    Status,
    TransitionError,
    by_code,
    can_transition,
    lock_nomination,
    normalise_code,
    transition,
)
from rules.roles import Role, can_organise, can_review
from rules.text import format_phone, is_meaningful
from storage import scratch
from storage.models import (
    Account,
    AuditEntry,
    Conference,
    Endorsement,
    Evidence,
    Nomination,
    NominationEvent,
    OrgUnit,
)

# A reason or a change request says something the nominator can act on: "ok" or "không" does not.
MIN_TEXT_CHARS = 10
MAX_TEXT_CHARS = 1000  # a reason or a change request: read on a phone, quoted in the nominator's notice
BULK_LIMIT = 50  # nominations one bulk approval may cover: the confirmation lists them all
ENDORSER_NAMES_SHOWN = 10
# Nominations that count when looking for duplicates: sent in, and not themselves thrown out as duplicates.
_DUPLICATE_CANDIDATES = frozenset({Status.SUBMITTED, Status.CHANGES_REQUESTED, Status.APPROVED, Status.REJECTED})
# A duplicate must point at a nomination that was sent in and still stands.
_USABLE_ORIGINALS = _DUPLICATE_CANDIDATES


class Viewer(Protocol):
    """Who is looking or acting: an ``AccountSnapshot`` fits."""

    @property
    def id(self) -> int: ...

    @property
    def role(self) -> str: ...

    @property
    def display_name(self) -> str: ...


# --- who may see what --------------------------------------------------------------------------------


def visible_to(account: Viewer, nomination: Nomination) -> bool:
    """Reviewers and organisers see every nomination; a nominator sees their own; others see none."""
    return can_review(account.role) or nomination.nominator_id == account.id


async def as_now(session: AsyncSession, viewer: Viewer) -> Viewer:
    """``viewer`` with the role the database gives them now: the snapshot a handler holds may be older than
    a /grant made meanwhile (in this process or another). Someone whose account is gone sees as the public."""
    fresh = await accounts.by_id(session, viewer.id)
    return fresh if fresh is not None else _Public()


def may_see_sensitive(account: Viewer) -> bool:
    """Ethnicity and religion are sensitive personal data (Law 91/2025/QH15): organisers only; so is the
    full phone number (others see it masked, ``0912 *** 678``)."""
    return can_organise(account.role)


# --- duplicates and endorsements ---------------------------------------------------------------------


async def possible_duplicates(session: AsyncSession, nomination: Nomination) -> list[Nomination]:
    """Other nominations of the same campaign that may name the same nominee, oldest first.

    Individuals match on the folded name and the birth year, collectives on the folded name and the unit.
    Drafts, withdrawn and expired nominations and those already marked as duplicates do not count.
    """
    if not nomination.nominee_fold:
        return []
    statement = select(Nomination).where(
        Nomination.campaign_id == nomination.campaign_id,
        Nomination.nominee_fold == nomination.nominee_fold,
        Nomination.status.in_(_DUPLICATE_CANDIDATES),
        Nomination.kind == nomination.kind,
    )
    if nomination.id is not None:
        statement = statement.where(Nomination.id != nomination.id)
    if nomination.kind == "collective":
        statement = statement.where(Nomination.unit_id.is_not_distinct_from(nomination.unit_id))
    else:
        statement = statement.where(Nomination.birth_year.is_not_distinct_from(nomination.birth_year))
    statement = statement.order_by(Nomination.submitted_at, Nomination.id)
    return list(await session.scalars(statement))


@dataclass(frozen=True)
class Endorsements:
    """How many people recognise the nominee, and the names of the first of them."""

    count: int
    names: tuple[str, ...]


async def endorsements_of(session: AsyncSession, nomination: Nomination) -> Endorsements:
    """The endorsements of ``nomination``: the count and up to ten endorsers' names, first endorser first."""
    count = await session.scalar(
        select(func.count()).select_from(Endorsement).where(Endorsement.nomination_id == nomination.id)
    )
    names = await session.scalars(
        select(Account.display_name)
        .join(Endorsement, Endorsement.account_id == Account.id)
        .where(Endorsement.nomination_id == nomination.id)
        .order_by(Endorsement.created_at, Endorsement.id)
        .limit(ENDORSER_NAMES_SHOWN)
    )
    return Endorsements(count=count or 0, names=tuple(names))


# --- the queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueGroup:
    """The nominations waiting for review in one conference from one unit."""

    conference_id: int | None
    conference_title: str | None
    unit_id: int | None
    unit_name: str | None
    count: int
    oldest: dt.datetime | None


async def queue_groups(session: AsyncSession) -> list[QueueGroup]:
    """The review queue by conference and unit, the group with the oldest nomination first."""
    oldest = func.min(Nomination.submitted_at)
    statement = (
        select(
            Nomination.conference_id,
            Conference.title,
            Nomination.unit_id,
            OrgUnit.name,
            func.count(Nomination.id),
            oldest,
        )
        .outerjoin(Conference, Conference.id == Nomination.conference_id)
        .outerjoin(OrgUnit, OrgUnit.id == Nomination.unit_id)
        .where(Nomination.status.in_(AWAITING_REVIEW))
        .group_by(Nomination.conference_id, Conference.title, Nomination.unit_id, OrgUnit.name)
        .order_by(oldest, Nomination.conference_id, Nomination.unit_id)
    )
    return [QueueGroup(*row) for row in await session.execute(statement)]


async def review_queue(
    session: AsyncSession,
    *,
    conference_id: int | None = None,
    unit_id: int | None = None,
    limit: int = BULK_LIMIT,
    exclude: Collection[int] = (),
) -> list[Nomination]:
    """Nominations waiting for review, oldest first; ``None`` filters mean every conference / unit.

    Reviewers and organisers see every unit's nominations. ``exclude``: nominations to leave out
    (those the reviewer skipped).
    """
    statement = select(Nomination).where(Nomination.status.in_(AWAITING_REVIEW))
    if conference_id is not None:
        statement = statement.where(Nomination.conference_id == conference_id)
    if unit_id is not None:
        statement = statement.where(Nomination.unit_id == unit_id)
    if exclude:
        statement = statement.where(Nomination.id.not_in(list(exclude)))
    statement = statement.order_by(Nomination.submitted_at, Nomination.id).limit(limit)
    return list(await session.scalars(statement))


# --- what a reader sees ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceItem:
    kind: str  # photo | document
    file_id: str
    file_name: str | None


@dataclass(frozen=True)
class HistoryEntry:
    """One transition; ``actor_name`` is left out for readers who are not reviewers."""

    to_status: str
    at: dt.datetime
    actor_name: str | None
    reason: str | None
    # A reason the system gave (a msgid, e.g. "resubmitted after changes"), shown translated, not quoted.
    system_reason: str | None = None


def _history_entry(event: NominationEvent, actor_name: str | None) -> HistoryEntry:
    # Only a submission carries a system reason; a reviewer's typed reason is never taken for one.
    system = SYSTEM_REASONS.get(event.reason or "") if event.to_status == Status.SUBMITTED else None
    return HistoryEntry(
        to_status=event.to_status,
        at=event.at,
        actor_name=actor_name,
        reason=None if system else event.reason,
        system_reason=system,
    )


@dataclass(frozen=True)
class NominationView:
    """A nomination as one reader may see it: sensitive fields are ``None`` unless the reader is an organiser."""

    id: int
    code: str | None
    status: str
    kind: str | None
    nominee_name: str | None
    gender: str | None
    birth_year: int | None
    member_count: int | None
    unit_id: int | None
    unit_name: str | None
    conference_title: str | None
    occupation_group: str | None
    position: str | None
    workplace: str | None
    title_code: str | None
    movement_code: str | None
    movement_other: str | None
    achievements: str | None
    source: str
    submitted_at: dt.datetime | None
    decided_at: dt.datetime | None
    published_at: dt.datetime | None
    publicity_consent: bool | None
    nominator_name: str
    evidence: tuple[EvidenceItem, ...]
    endorsements: Endorsements
    duplicates: tuple[str, ...]
    duplicate_of: str | None
    history: tuple[HistoryEntry, ...]
    # Organisers only:
    ethnicity: str | None = None
    religion: str | None = None
    phone: str | None = None


async def _names(session: AsyncSession, account_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {account_id for account_id in account_ids if account_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Account.id, Account.display_name).where(Account.id.in_(wanted)))
    return {account_id: name for account_id, name in rows.all()}


async def view(session: AsyncSession, nomination: Nomination, viewer: Viewer) -> NominationView:
    """What ``viewer`` sees of ``nomination``; check :func:`visible_to` first."""
    reviewer = can_review(viewer.role)
    sensitive = may_see_sensitive(viewer)
    # Queried rather than taken from the relationships, which may be stale within the deciding transaction.
    events = list(
        await session.scalars(
            select(NominationEvent)
            .where(NominationEvent.nomination_id == nomination.id)
            .order_by(NominationEvent.at, NominationEvent.id)
        )
    )
    evidence = await session.scalars(
        select(Evidence).where(Evidence.nomination_id == nomination.id).order_by(Evidence.id)
    )
    names = await _names(session, [nomination.nominator_id, *(event.actor_id for event in events)])
    unit = await session.get(OrgUnit, nomination.unit_id) if nomination.unit_id else None
    conference = await session.get(Conference, nomination.conference_id) if nomination.conference_id else None
    original = await session.get(Nomination, nomination.duplicate_of_id) if nomination.duplicate_of_id else None
    duplicates = await possible_duplicates(session, nomination) if reviewer else []
    return NominationView(
        id=nomination.id,
        code=nomination.code,
        status=nomination.status,
        kind=nomination.kind,
        nominee_name=nomination.nominee_name,
        gender=nomination.gender,
        birth_year=nomination.birth_year,
        member_count=nomination.member_count,
        unit_id=nomination.unit_id,
        unit_name=unit.name if unit else None,
        conference_title=conference.title if conference else None,
        occupation_group=nomination.occupation_group,
        position=nomination.position,
        workplace=nomination.workplace,
        title_code=nomination.title_code,
        movement_code=nomination.movement_code,
        movement_other=nomination.movement_other,
        achievements=nomination.achievements,
        source=nomination.source,
        submitted_at=nomination.submitted_at,
        decided_at=nomination.decided_at,
        published_at=nomination.published_at,
        publicity_consent=nomination.publicity_consent,
        nominator_name=names.get(nomination.nominator_id, ""),
        evidence=tuple(EvidenceItem(item.kind, item.file_id, item.file_name) for item in evidence),
        endorsements=await endorsements_of(session, nomination),
        duplicates=tuple(other.code for other in duplicates if other.code),
        duplicate_of=original.code if original else None,
        history=tuple(
            _history_entry(event, names.get(event.actor_id) if reviewer and event.actor_id else None)
            for event in events
        ),
        ethnicity=nomination.ethnicity if sensitive else None,
        religion=nomination.religion if sensitive else None,
        phone=_phone_for(viewer, nomination.phone_e164, sensitive=sensitive),
    )


def _phone_for(viewer: Viewer, e164: str | None, *, sensitive: bool) -> str | None:
    """Organisers see the number in full (they may call); reviewers and the nominator see it masked
    (``0912 *** 678``); a public story never shows it."""
    if sensitive:
        return e164
    if isinstance(viewer, _Public):
        return None
    return format_phone(e164, masked=True) or None


class LookupRefusal(StrEnum):
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"


@dataclass(frozen=True)
class Lookup:
    """The answer to ``/nomination CODE``: the view, or why there is none."""

    code: str
    view: NominationView | None = None
    refusal: LookupRefusal | None = None


async def lookup(session: AsyncSession, code: str, viewer: Viewer) -> Lookup:
    """The nomination with ``code`` as ``viewer`` may see it; drafts of others are not found."""
    viewer = await as_now(session, viewer)
    wanted = normalise_code(code)
    nomination = await by_code(session, wanted)
    if nomination is None:
        return Lookup(wanted, refusal=LookupRefusal.NOT_FOUND)
    if not visible_to(viewer, nomination):
        return Lookup(wanted, refusal=LookupRefusal.NOT_ALLOWED)
    return Lookup(wanted, view=await view(session, nomination, viewer))


@dataclass(frozen=True)
class MyNomination:
    code: str | None
    nominee_name: str | None
    status: str
    submitted_at: dt.datetime | None
    created_at: dt.datetime


async def nominations_of(session: AsyncSession, account_id: int, *, limit: int = 30) -> list[MyNomination]:
    """The nominations ``account_id`` started, newest first (drafts included: they are the person's own)."""
    rows = await session.scalars(
        select(Nomination)
        .where(Nomination.nominator_id == account_id)
        .order_by(Nomination.created_at.desc(), Nomination.id.desc())
        .limit(limit)
    )
    return [MyNomination(row.code, row.nominee_name, row.status, row.submitted_at, row.created_at) for row in rows]


# --- decisions ---------------------------------------------------------------------------------------


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REQUEST_CHANGES = "request_changes"
    MARK_DUPLICATE = "mark_duplicate"


_TARGET = {
    Action.APPROVE: Status.APPROVED,
    Action.REJECT: Status.REJECTED,
    Action.REQUEST_CHANGES: Status.CHANGES_REQUESTED,
    Action.MARK_DUPLICATE: Status.DUPLICATE,
}


class Refusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # the actor is not a reviewer
    NOT_FOUND = "not_found"
    ALREADY_DECIDED = "already_decided"  # approved, rejected or duplicate: final
    NOT_AWAITING_REVIEW = "not_awaiting_review"  # waiting for changes, withdrawn, a draft, …
    TEXT_REQUIRED = "text_required"  # a rejection needs a reason, a change request a message
    TEXT_TOO_LONG = "text_too_long"
    TEXT_TOO_SHORT = "text_too_short"  # fewer than MIN_TEXT_CHARS letters and digits
    UNKNOWN_ORIGINAL = "unknown_original"  # mark_duplicate: no nomination has that code
    SAME_NOMINATION = "same_nomination"
    ORIGINAL_UNUSABLE = "original_unusable"  # not sent in, withdrawn, expired or a duplicate itself
    OTHER_CAMPAIGN = "other_campaign"  # the original belongs to another campaign


@dataclass(frozen=True)
class Decision:
    """What a decision did, or why it was refused.

    ``status`` is the nomination's status afterwards (or as found, when refused). For ALREADY_DECIDED and
    NOT_AWAITING_REVIEW, ``decided_by`` and ``decided_at`` say who put it in that status and when.
    ``original`` is the code of the nomination a duplicate points to (or the code that was not usable).
    """

    action: Action
    nomination_id: int
    code: str | None = None
    nominee_name: str | None = None
    status: str | None = None
    refusal: Refusal | None = None
    reason: str | None = None
    original: str | None = None
    original_status: str | None = None
    event_id: int | None = None
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    nominator_locale: str | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


# Writes the nominator's notice for a decision, in ``decision.nominator_locale``.
Notice = Callable[[Decision], str]


def _about(nomination: Nomination, action: Action, **values: Any) -> Decision:
    return Decision(
        action=action,
        nomination_id=nomination.id,
        code=nomination.code,
        nominee_name=nomination.nominee_name,
        status=nomination.status,
        **values,
    )


async def _standing(session: AsyncSession, nomination: Nomination, action: Action) -> Decision | None:
    """A refusal when ``nomination`` cannot take ``action`` now, naming who last changed it and when."""
    if can_transition(nomination.status, _TARGET[action]):
        return None
    last = next((event for event in reversed(nomination.events) if event.to_status == nomination.status), None)
    names = await _names(session, [last.actor_id if last else None])
    refusal = Refusal.ALREADY_DECIDED if nomination.status in DECIDED else Refusal.NOT_AWAITING_REVIEW
    return _about(
        nomination,
        action,
        refusal=refusal,
        reason=last.reason if last else None,
        decided_by=names.get(last.actor_id) if last and last.actor_id else None,
        decided_at=last.at if last else nomination.decided_at,
    )


def _text(value: str | None) -> str:
    return unicodedata.normalize("NFC", value or "").strip()


def check_text(raw_text: str) -> Refusal | None:
    """Why a reviewer's reason or message cannot be sent as typed (None: it can), before it is shown back."""
    text = _text(raw_text)
    if not is_meaningful(text):
        return Refusal.TEXT_REQUIRED
    if len(text) > MAX_TEXT_CHARS:
        return Refusal.TEXT_TOO_LONG
    if sum(1 for ch in text if ch.isalnum()) < MIN_TEXT_CHARS:
        return Refusal.TEXT_TOO_SHORT
    return None


async def _open(
    session: AsyncSession, nomination_id: int, action: Action, actor: Viewer
) -> tuple[Nomination | None, Decision | None]:
    """The nomination locked for ``action``, or the refusal (the actor's role is read now, from the database)."""
    if await accounts.acting(session, actor.id, Role.REVIEWER) is None:
        return None, Decision(action, nomination_id, refusal=Refusal.NOT_ALLOWED)
    nomination = await lock_nomination(session, nomination_id)
    if nomination is None:
        return None, Decision(action, nomination_id, refusal=Refusal.NOT_FOUND)
    standing = await _standing(session, nomination, action)
    return (None, standing) if standing else (nomination, None)


async def check_open(session: AsyncSession, nomination_id: int, action: Action, *, actor: Viewer) -> Decision:
    """Whether ``actor`` may take ``action`` on the nomination now (before asking for a reason or a code).

    Nothing is changed; the answer is refused like the decision itself would be, or ``ok``.
    """
    nomination, refusal = await _open(session, nomination_id, action, actor)
    if refusal:
        return refusal
    assert nomination is not None
    return _about(nomination, action)


async def _decide(
    session: AsyncSession,
    nomination: Nomination,
    action: Action,
    *,
    actor: Viewer,
    now: dt.datetime,
    notice: Notice,
    reason: str | None = None,
    original: Nomination | None = None,
) -> Decision:
    """Move a locked, decidable ``nomination``; audit it and queue the nominator's notice."""
    before = nomination.status
    try:
        event = transition(session, nomination, _TARGET[action], actor_id=actor.id, now=now, reason=reason)
    except TransitionError:  # _standing checked this; kept so a changed state machine fails politely
        return _about(nomination, action, refusal=Refusal.NOT_AWAITING_REVIEW)
    if original is not None:
        nomination.duplicate_of_id = original.id
    await session.flush()
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor.id,
            action=f"nomination.{action}",
            entity="nomination",
            entity_id=str(nomination.id),
            detail={
                "code": nomination.code,
                "from": before,
                "to": nomination.status,
                "reason": reason,
                "event_id": event.id,
                "duplicate_of": original.code if original else None,
            },
        )
    )
    nominator = await session.get(Account, nomination.nominator_id)
    decision = _about(
        nomination,
        action,
        reason=reason,
        original=original.code if original else None,
        original_status=original.status if original else None,
        event_id=event.id,
        decided_by=actor.display_name,
        decided_at=now,
        nominator_locale=nominator.locale if nominator else None,
    )
    if nominator is not None:
        await outbox.enqueue(
            session,
            account_id=nominator.id,
            text=notice(decision),
            dedupe_key=f"nomination:{nomination.id}:event:{event.id}",
            topic=f"nomination:{nomination.id}",
            now=now,
        )
    await session.flush()
    return decision


async def approve(
    session: AsyncSession, nomination_id: int, *, actor: Viewer, now: dt.datetime, notice: Notice
) -> Decision:
    """Approve a nomination waiting for review."""
    nomination, refusal = await _open(session, nomination_id, Action.APPROVE, actor)
    if refusal:
        return refusal
    assert nomination is not None
    return await _decide(session, nomination, Action.APPROVE, actor=actor, now=now, notice=notice)


async def reject(
    session: AsyncSession, nomination_id: int, reason: str, *, actor: Viewer, now: dt.datetime, notice: Notice
) -> Decision:
    """Reject a nomination; the reason is required and is quoted to the nominator."""
    return await _decide_with_text(session, nomination_id, Action.REJECT, reason, actor=actor, now=now, notice=notice)


async def request_changes(
    session: AsyncSession, nomination_id: int, message: str, *, actor: Viewer, now: dt.datetime, notice: Notice
) -> Decision:
    """Send a nomination back to its nominator with a message saying what to change; they resubmit it."""
    return await _decide_with_text(
        session, nomination_id, Action.REQUEST_CHANGES, message, actor=actor, now=now, notice=notice
    )


async def _decide_with_text(
    session: AsyncSession,
    nomination_id: int,
    action: Action,
    raw_text: str,
    *,
    actor: Viewer,
    now: dt.datetime,
    notice: Notice,
) -> Decision:
    """A decision that needs the reviewer's words (a reason, a message), quoted to the nominator."""
    nomination, refusal = await _open(session, nomination_id, action, actor)
    if refusal:
        return refusal
    assert nomination is not None
    text = _text(raw_text)
    if problem := check_text(text):
        return _about(nomination, action, refusal=problem)
    return await _decide(session, nomination, action, actor=actor, now=now, notice=notice, reason=text)


async def mark_duplicate(
    session: AsyncSession, nomination_id: int, of_code: str, *, actor: Viewer, now: dt.datetime, notice: Notice
) -> Decision:
    """Mark a nomination as a duplicate of the one with ``of_code`` (same campaign, sent in, standing)."""
    nomination, refusal = await _open(session, nomination_id, Action.MARK_DUPLICATE, actor)
    if refusal:
        return refusal
    assert nomination is not None
    wanted = normalise_code(of_code)
    original = await session.scalar(select(Nomination).where(Nomination.code == wanted))
    if original is None:
        return _about(nomination, Action.MARK_DUPLICATE, refusal=Refusal.UNKNOWN_ORIGINAL, original=wanted)
    if original.id == nomination.id:
        return _about(nomination, Action.MARK_DUPLICATE, refusal=Refusal.SAME_NOMINATION, original=wanted)
    if original.status not in _USABLE_ORIGINALS or original.campaign_id != nomination.campaign_id:
        problem = (
            Refusal.OTHER_CAMPAIGN if original.campaign_id != nomination.campaign_id else Refusal.ORIGINAL_UNUSABLE
        )
        return _about(
            nomination, Action.MARK_DUPLICATE, refusal=problem, original=wanted, original_status=original.status
        )
    return await _decide(
        session, nomination, Action.MARK_DUPLICATE, actor=actor, now=now, notice=notice, original=original
    )


@dataclass(frozen=True)
class BulkApproval:
    """What one "approve all" did: the approvals, and the nominations refused (decided meanwhile, …)."""

    approved: tuple[Decision, ...]
    refused: tuple[Decision, ...]

    @property
    def count(self) -> int:
        return len(self.approved)


async def approve_many(
    session: AsyncSession, ids: Iterable[int], *, actor: Viewer, now: dt.datetime, notice: Notice
) -> BulkApproval:
    """Approve each nomination of ``ids`` that still waits for review (at most :data:`BULK_LIMIT`)."""
    wanted = sorted(set(ids))[:BULK_LIMIT]
    approved: list[Decision] = []
    refused: list[Decision] = []
    for nomination_id in wanted:
        decision = await approve(session, nomination_id, actor=actor, now=now, notice=notice)
        (approved if decision.ok else refused).append(decision)
    if approved:
        session.add(
            AuditEntry(
                at=now,
                actor_id=actor.id,
                action="nomination.approve_many",
                entity="nomination",
                entity_id=None,
                detail={"count": len(approved), "codes": [d.code for d in approved]},
            )
        )
        await session.flush()
    return BulkApproval(tuple(approved), tuple(refused))


# --- a reviewer's place in the queue -----------------------------------------------------------------

_DESK_KIND = "review"


@dataclass
class ReviewDesk:
    """Where a reviewer is in the queue: the chosen queue, the card a question is about, the nominations
    skipped, and what a pending "approve all" covers. Kept beside the conversation state (in ``ptb_data``),
    so a restart resumes at the same card."""

    conference_id: int | None = None
    unit_id: int | None = None
    card_id: int | None = None
    card_message_id: int | None = None
    # A rejection's reason shown back to the reviewer, sent when they confirm it.
    reason: str | None = None
    skipped: list[int] = field(default_factory=list)
    bulk: list[int] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> ReviewDesk:
        if not isinstance(data, dict):
            return cls()
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


async def open_desk(session: AsyncSession, account_id: int) -> ReviewDesk:
    """The reviewer's desk as they left it (empty the first time)."""
    return ReviewDesk.from_json(await scratch.recall(session, _DESK_KIND, account_id) or None)


async def keep_desk(session: AsyncSession, account_id: int, desk: ReviewDesk) -> None:
    """Remember the desk until the review ends (:func:`close_desk`)."""
    await scratch.remember(session, _DESK_KIND, account_id, asdict(desk))


async def close_desk(session: AsyncSession, account_id: int) -> None:
    await scratch.forget(session, _DESK_KIND, account_id)


async def desk_queue(session: AsyncSession, desk: ReviewDesk, *, limit: int = BULK_LIMIT) -> list[Nomination]:
    """The desk's queue, oldest first, without the nominations the reviewer skipped."""
    return await review_queue(
        session, conference_id=desk.conference_id, unit_id=desk.unit_id, limit=limit, exclude=desk.skipped
    )


async def card(session: AsyncSession, nomination_id: int, viewer: Viewer) -> NominationView | None:
    """One nomination as ``viewer`` sees it on a review card (None when it does not exist)."""
    viewer = await as_now(session, viewer)
    nomination = await session.get(Nomination, nomination_id)
    if nomination is None or not visible_to(viewer, nomination):
        return None
    return await view(session, nomination, viewer)


# --- publicity ---------------------------------------------------------------------------------------


class PublishRefusal(StrEnum):
    NOT_ALLOWED = "not_allowed"  # organisers only
    NOT_FOUND = "not_found"
    NOT_APPROVED = "not_approved"
    NO_CONSENT = "no_consent"
    ALREADY_PUBLISHED = "already_published"


@dataclass(frozen=True)
class Publication:
    code: str
    refusal: PublishRefusal | None = None
    nominee_name: str | None = None
    status: str | None = None
    published_at: dt.datetime | None = None
    with_photo: bool = False

    @property
    def ok(self) -> bool:
        return self.refusal is None


# Writes the public story of an approved nomination (in the channel's language).
Story = Callable[[NominationView], str]


class _Public:
    """The reader of a public story: sees no sensitive field and no reviewer's name."""

    id = 0
    role = "public"
    display_name = ""


def channel_chat_id(setting: str) -> int | None:
    """PUBLIC_CHANNEL_ID as the numeric chat id the outbox needs (``-100…``); None when unset or not a number."""
    text = setting.strip()
    if not text.lstrip("-").isdigit():
        return None
    return int(text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + "…"


async def publish(
    session: AsyncSession,
    code: str,
    *,
    actor: Viewer,
    now: dt.datetime,
    channel_id: int,
    story: Story,
) -> Publication:
    """Queue the story of an approved nomination whose nominee consented, for the public channel, once.

    With a photo among the evidence the first one is posted with the story as its caption; otherwise
    the story is posted as a message. ``published_at`` is set, so publishing again is refused.
    """
    wanted = normalise_code(code)
    if await accounts.acting(session, actor.id, Role.ORGANISER) is None:
        return Publication(wanted, refusal=PublishRefusal.NOT_ALLOWED)
    found = await by_code(session, wanted)
    nomination = await lock_nomination(session, found.id) if found else None
    if nomination is None:
        return Publication(wanted, refusal=PublishRefusal.NOT_FOUND)
    refusal = _publish_refusal(nomination)
    if refusal:
        return Publication(
            wanted,
            refusal=refusal,
            nominee_name=nomination.nominee_name,
            status=nomination.status,
            published_at=nomination.published_at,
        )
    public_view = await view(session, nomination, _Public())
    photo = next((item for item in public_view.evidence if item.kind == "photo"), None)
    if photo is not None:
        method, text, extra = outbox.SEND_PHOTO, story(public_view), {"file_id": photo.file_id}
        text = shorten(text, outbox.MAX_CAPTION_CHARS)
    else:
        method, text, extra = outbox.SEND_MESSAGE, shorten(story(public_view), outbox.MAX_TEXT_CHARS), None
    await outbox.enqueue(
        session,
        group_chat_id=channel_id,
        text=text,
        dedupe_key=f"nomination:{nomination.id}:publish",
        topic=f"nomination:{nomination.id}",
        method=method,
        extra=extra,
        now=now,
    )
    nomination.published_at = now
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor.id,
            action="nomination.publish",
            entity="nomination",
            entity_id=str(nomination.id),
            detail={"code": nomination.code, "channel_id": channel_id, "method": method},
        )
    )
    await session.flush()
    return Publication(
        wanted,
        nominee_name=nomination.nominee_name,
        status=nomination.status,
        published_at=now,
        with_photo=photo is not None,
    )


def _publish_refusal(nomination: Nomination) -> PublishRefusal | None:
    if nomination.published_at is not None:
        return PublishRefusal.ALREADY_PUBLISHED
    if nomination.status != Status.APPROVED:
        return PublishRefusal.NOT_APPROVED
    if not nomination.publicity_consent:
        return PublishRefusal.NO_CONSENT
    return None


__all__ = [
    "BULK_LIMIT",
    "MAX_TEXT_CHARS",
    "Action",
    "BulkApproval",
    "Decision",
    "Endorsements",
    "EvidenceItem",
    "HistoryEntry",
    "Lookup",
    "LookupRefusal",
    "MyNomination",
    "NominationView",
    "Notice",
    "Publication",
    "PublishRefusal",
    "QueueGroup",
    "Refusal",
    "ReviewDesk",
    "Story",
    "approve",
    "approve_many",
    "card",
    "channel_chat_id",
    "check_open",
    "close_desk",
    "desk_queue",
    "endorsements_of",
    "keep_desk",
    "lookup",
    "mark_duplicate",
    "may_see_sensitive",
    "nominations_of",
    "open_desk",
    "possible_duplicates",
    "publish",
    "queue_groups",
    "reject",
    "request_changes",
    "review_queue",
    "shorten",
    "view",
]
