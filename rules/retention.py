"""Retention as data: how long each kind of record is kept (``data/reference/retention.yaml``), and the
purge that de-identifies or deletes what is past its period.

Each period is counted from a stated event: ``created``, ``last_change`` (a draft's last answer),
``campaign_end`` (the plan's ``valid_to``, at the end of that day, local time) or ``conference_day`` (the
conference's start, else the end of its window). :func:`due` finds what is past its period at a moment
without changing anything (``dienhinh privacy purge --dry-run``); :func:`purge` acts on it and records one
audit entry with the counts, which the organisers' digest reports (:func:`purged_between`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, PlainValidator, ValidationError
from sqlalchemy import ColumnElement, String, cast, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from rules import audit, files, outbox
from rules.nominations import ORIGINAL_GONE, Status
from rules.refdata import (
    REFERENCE_DIR,
    DataFileError,
    Label,
    StrictModel,
    Text,
    Version,
    error_from_validation,
    read_yaml,
    whole_number,
)
from storage import outbox as outbox_store
from storage.models import (
    Account,
    AuditEntry,
    Campaign,
    Conference,
    Endorsement,
    Evidence,
    Invitation,
    InvitationImport,
    Nomination,
    NominationEvent,
    OutboxMessage,
    StoredFileRecord,
)

RETENTION_FILE = REFERENCE_DIR / "retention.yaml"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PURGE_ACTION = audit.PURGE_ACTION
ERASED_NAME = "—"
NOT_APPROVED = (Status.REJECTED, Status.WITHDRAWN, Status.DUPLICATE)
DRAFTS = (Status.DRAFT, Status.EXPIRED)
OUTBOX_WAITING = (outbox_store.PENDING, outbox_store.SENDING)  # still to be sent: their text is needed


class Kind(StrEnum):
    """The kinds of record with a retention period, in the order reports list them."""

    DRAFT = "draft"
    NOMINATION_NOT_APPROVED = "nomination_not_approved"
    INVITATION = "invitation"
    GUEST_LIST = "guest_list"
    EVIDENCE = "evidence"
    EXPORT = "export"
    OUTBOX = "outbox"
    AUDIT = "audit"


Event = Literal["created", "last_change", "campaign_end", "conference_day"]
Action = Literal["delete", "deidentify", "keep"]


# The event each kind's period is counted from, and what the purge may do with it: the file states them,
# and a file that says otherwise is refused rather than silently counted another way.
COUNTED_FROM: dict[Kind, Event] = {
    Kind.DRAFT: "last_change",
    Kind.NOMINATION_NOT_APPROVED: "campaign_end",
    Kind.INVITATION: "conference_day",
    Kind.GUEST_LIST: "created",
    Kind.EVIDENCE: "campaign_end",
    Kind.EXPORT: "created",
    Kind.OUTBOX: "created",
    Kind.AUDIT: "created",
}
ACTIONS: dict[Kind, tuple[Action, ...]] = {
    Kind.DRAFT: ("delete",),
    Kind.NOMINATION_NOT_APPROVED: ("delete",),
    Kind.INVITATION: ("deidentify",),
    Kind.GUEST_LIST: ("delete",),
    Kind.EVIDENCE: ("delete",),
    Kind.EXPORT: ("delete",),
    # A message's row stays (its dedupe key keeps the planner from sending it again); its text goes.
    Kind.OUTBOX: ("deidentify",),
    # The audit trail is the evidence that the rest was handled lawfully; it is reported, never cut here.
    Kind.AUDIT: ("keep",),
}


class Period(StrictModel):
    what: Label
    days: Annotated[int, PlainValidator(whole_number(0, 36_500))]
    # The file says "from" (a Python keyword).
    counted_from: Event = Field(alias="from")
    action: Action


class RetentionFile(StrictModel):
    source: Text
    version: Version
    periods: dict[Kind, Period]

    def period(self, kind: Kind) -> Period:
        return self.periods[kind]


def _read(path: Path) -> RetentionFile:
    data, _ = read_yaml(path)
    try:
        rules = RetentionFile.model_validate(data)
    except ValidationError as exc:
        raise error_from_validation(path, exc) from None
    missing = [kind for kind in Kind if kind not in rules.periods]
    if missing:
        raise DataFileError(path, "periods", f"a period for every kind ({', '.join(missing)} missing)")
    for kind, period in rules.periods.items():
        if period.counted_from != COUNTED_FROM[kind] or period.action not in ACTIONS[kind]:
            raise DataFileError(
                path,
                f"periods.{kind}",
                f"from: {COUNTED_FROM[kind]} and action: {' or '.join(ACTIONS[kind])} (what the purge does)",
            )
    return rules


@lru_cache(maxsize=4)
def load(path: Path = RETENTION_FILE) -> RetentionFile:
    """The retention periods (read once per path)."""
    return _read(path)


@dataclass(frozen=True)
class Due:
    """What is past its period at a moment, by kind: the ids of the records (the counts are what is shown)."""

    ids: Mapping[Kind, tuple[int, ...]]

    def counts(self) -> dict[str, int]:
        return {kind.value: len(self.ids.get(kind, ())) for kind in Kind if self.ids.get(kind)}

    @property
    def empty(self) -> bool:
        return not any(self.ids.values())


def _cutoff(period: Period, now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=period.days)


def _campaign_end_before(cutoff: dt.datetime) -> ColumnElement[bool]:
    # A campaign ends at the end of its valid_to day, local time: it is "cutoff-old" when that day is
    # before the cutoff's local date.
    last_day = cutoff.astimezone(LOCAL_TZ).date() - dt.timedelta(days=1)
    return Nomination.campaign_id.in_(
        select(Campaign.id).where(Campaign.valid_to.is_not(None), Campaign.valid_to <= last_day)
    )


async def _ids(session: AsyncSession, statement: object) -> tuple[int, ...]:
    return tuple((await session.scalars(statement)).all())  # type: ignore[call-overload]


async def due(session: AsyncSession, *, now: dt.datetime, rules: RetentionFile | None = None) -> Due:
    """Every record past its retention period at ``now``; changes nothing."""
    rules = rules or load()
    found: dict[Kind, tuple[int, ...]] = {}
    period = rules.period(Kind.DRAFT)
    found[Kind.DRAFT] = await _ids(
        session,
        select(Nomination.id).where(Nomination.status.in_(DRAFTS), Nomination.updated_at <= _cutoff(period, now)),
    )
    period = rules.period(Kind.NOMINATION_NOT_APPROVED)
    found[Kind.NOMINATION_NOT_APPROVED] = await _ids(
        session,
        select(Nomination.id).where(Nomination.status.in_(NOT_APPROVED), _campaign_end_before(_cutoff(period, now))),
    )
    period = rules.period(Kind.INVITATION)
    day = func.coalesce(Conference.starts_at, Conference.window_end)
    found[Kind.INVITATION] = await _ids(
        session,
        select(Invitation.id)
        .join(Conference, Conference.id == Invitation.conference_id)
        .where(day.is_not(None), day <= _cutoff(period, now), Invitation.full_name != ERASED_NAME),
    )
    period = rules.period(Kind.GUEST_LIST)
    found[Kind.GUEST_LIST] = await _ids(
        session, select(InvitationImport.id).where(InvitationImport.created_at <= _cutoff(period, now))
    )
    period = rules.period(Kind.EVIDENCE)
    found[Kind.EVIDENCE] = await _ids(
        session,
        select(Evidence.id)
        .join(Nomination, Nomination.id == Evidence.nomination_id)
        .where(_campaign_end_before(_cutoff(period, now))),
    )
    period = rules.period(Kind.EXPORT)
    found[Kind.EXPORT] = await _ids(
        session,
        select(StoredFileRecord.id).where(
            StoredFileRecord.purpose == files.SHARE,
            or_(StoredFileRecord.created_at <= _cutoff(period, now), StoredFileRecord.expires_at <= now),
        ),
    )
    period = rules.period(Kind.OUTBOX)
    found[Kind.OUTBOX] = await _ids(
        session,
        select(OutboxMessage.id).where(
            OutboxMessage.status.not_in(OUTBOX_WAITING),
            OutboxMessage.created_at <= _cutoff(period, now),
            cast(OutboxMessage.payload, String) != "{}",
        ),
    )
    period = rules.period(Kind.AUDIT)
    found[Kind.AUDIT] = await _ids(
        session, select(AuditEntry.id).where(AuditEntry.at <= _cutoff(period, now), AuditEntry.action != PURGE_ACTION)
    )
    return Due(found)


@dataclass(frozen=True)
class DueFile:
    """A file past its period, as a dry run names it: what it was called and when it came or was made."""

    name: str
    at: dt.datetime


async def due_files(session: AsyncSession, found: Due, *, limit: int = 50) -> dict[Kind, list[DueFile]]:
    """The uploaded guest lists and the files made for someone that ``found`` holds, by name (at most
    ``limit`` of each kind, the oldest first): what an operator checks before a purge."""
    named: dict[Kind, list[DueFile]] = {}
    for kind, model, name in (
        (Kind.GUEST_LIST, InvitationImport, InvitationImport.file_name),
        (Kind.EXPORT, StoredFileRecord, StoredFileRecord.filename),
    ):
        ids = found.ids.get(kind, ())
        if not ids:
            continue
        rows = await session.execute(
            select(name, model.created_at).where(model.id.in_(ids)).order_by(model.created_at, model.id).limit(limit)
        )
        named[kind] = [DueFile(file_name, at) for file_name, at in rows]
    return named


async def deidentify_invitations(session: AsyncSession, ids: tuple[int, ...]) -> None:
    """Keep what the conference's figures need (pool, status, unit, gender, check-in); drop who it was."""
    if not ids:
        return
    await session.execute(
        update(Invitation)
        .where(Invitation.id.in_(ids))
        .values(
            full_name=ERASED_NAME,
            name_fold="",
            import_key=literal("erased:", String) + cast(Invitation.id, String),
            birth_year=None,
            ethnicity=None,
            religion=None,
            position=None,
            phone_e164=None,
            decline_reason=None,
            account_id=None,
        )
        .execution_options(synchronize_session=False)
    )


async def delete_evidence(session: AsyncSession, ids: tuple[int, ...]) -> None:
    """Evidence rows and the bytes the bot kept for them (photos sent on Zalo)."""
    if not ids:
        return
    file_ids = (await session.scalars(select(Evidence.file_id).where(Evidence.id.in_(ids)))).all()
    hashes = [h for h in (files.kept_hash(file_id) for file_id in file_ids) if h is not None]
    if hashes:
        await session.execute(
            delete(StoredFileRecord)
            .where(StoredFileRecord.purpose == files.EVIDENCE, StoredFileRecord.token_hash.in_(hashes))
            .execution_options(synchronize_session=False)
        )
    await session.execute(delete(Evidence).where(Evidence.id.in_(ids)).execution_options(synchronize_session=False))


@dataclass(frozen=True)
class BackToReview:
    """A nomination marked as a duplicate of one that was deleted: it is waiting for review again, and its
    nominator is told (in their ``locale``)."""

    nomination_id: int
    code: str
    nominee_name: str
    original_code: str
    nominator_id: int | None
    locale: str | None


BackToReviewNotice = Callable[[BackToReview], str]


async def delete_nominations(
    session: AsyncSession,
    ids: tuple[int, ...],
    *,
    now: dt.datetime,
    notice: BackToReviewNotice | None = None,
) -> tuple[BackToReview, ...]:
    """Nominations with their evidence (and its kept bytes), endorsements and history.

    A duplicate of a nomination that goes is the only record left of that person: it goes back to the
    review queue (a "duplicate" with no original would name nothing), with an event in its history and an
    audit entry, both the bot's own (no actor: nobody decided it); with ``notice``, its nominator is told
    through the outbox."""
    if not ids:
        return ()
    reopened = await _back_to_review(session, ids, now=now)
    evidence = await _ids(session, select(Evidence.id).where(Evidence.nomination_id.in_(ids)))
    await delete_evidence(session, evidence)
    # Statement by statement rather than the ORM's cascades, which would load each collection first.
    for model in (Endorsement, NominationEvent):
        await session.execute(
            delete(model).where(model.nomination_id.in_(ids)).execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Invitation)
        .where(Invitation.nomination_id.in_(ids))
        .values(nomination_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(Nomination).where(Nomination.id.in_(ids)).execution_options(synchronize_session=False))
    if notice is not None:
        for item in reopened:
            if item.nominator_id is None:
                continue
            await outbox.enqueue(
                session,
                account_id=item.nominator_id,
                text=notice(item),
                dedupe_key=f"nomination:{item.nomination_id}:back_to_review:{item.original_code}",
                topic=f"nomination:{item.nomination_id}",
                now=now,
            )
    return reopened


async def _back_to_review(session: AsyncSession, ids: tuple[int, ...], *, now: dt.datetime) -> tuple[BackToReview, ...]:
    original = aliased(Nomination)
    rows = (
        await session.execute(
            select(Nomination, original.code, Account.locale)
            .join(original, original.id == Nomination.duplicate_of_id)
            .outerjoin(Account, Account.id == Nomination.nominator_id)
            .where(Nomination.duplicate_of_id.in_(ids), Nomination.id.not_in(ids))
            .order_by(Nomination.id)
        )
    ).all()
    reopened = []
    for nomination, original_code, locale in rows:
        session.add(
            NominationEvent(
                nomination_id=nomination.id,
                from_status=nomination.status,
                to_status=Status.SUBMITTED,
                actor_id=None,
                reason=ORIGINAL_GONE,
                at=now,
            )
        )
        session.add(
            AuditEntry(
                at=now,
                actor_id=None,
                action="nomination.back_to_review",
                entity="nomination",
                entity_id=str(nomination.id),
                detail={"code": nomination.code, "duplicate_of": original_code},
            )
        )
        nomination.status = Status.SUBMITTED
        nomination.duplicate_of_id = None
        nomination.decided_at = None
        nomination.updated_at = now
        reopened.append(
            BackToReview(
                nomination.id,
                nomination.code or "",
                nomination.nominee_name or "",
                original_code or "",
                nomination.nominator_id,
                locale,
            )
        )
    await session.flush()
    return tuple(reopened)


async def purge(
    session: AsyncSession,
    *,
    now: dt.datetime,
    rules: RetentionFile | None = None,
    actor_id: int | None = None,
    notice: BackToReviewNotice | None = None,
) -> Due:
    """De-identify or delete everything :func:`due` finds (audit entries are kept: the trail is evidence);
    one audit entry records the counts. A duplicate whose original goes is back under review, its nominator
    told with ``notice`` (:func:`delete_nominations`). The caller owns the transaction."""
    found = await due(session, now=now, rules=rules)
    if found.empty:
        return found
    await delete_nominations(
        session,
        found.ids[Kind.DRAFT] + found.ids[Kind.NOMINATION_NOT_APPROVED],
        now=now,
        notice=notice,
    )
    await deidentify_invitations(session, found.ids[Kind.INVITATION])
    evidence_left = await _ids(session, select(Evidence.id).where(Evidence.id.in_(found.ids[Kind.EVIDENCE])))
    await delete_evidence(session, evidence_left)
    if found.ids[Kind.OUTBOX]:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(found.ids[Kind.OUTBOX]))
            .values(payload={}, last_error=None)
            .execution_options(synchronize_session=False)
        )
    for model, kind in ((InvitationImport, Kind.GUEST_LIST), (StoredFileRecord, Kind.EXPORT)):
        ids = found.ids[kind]
        if ids:
            await session.execute(delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False))
    acted: dict[Kind, tuple[int, ...]] = {kind: ids for kind, ids in found.ids.items() if kind != Kind.AUDIT}
    if any(acted.values()):
        audit.record_purge(session, counts=Due(acted).counts(), now=now, actor_id=actor_id)
    await session.flush()
    return found


async def purged_between(session: AsyncSession, since: dt.datetime, until: dt.datetime) -> dict[str, int]:
    """What the purges in (``since``, ``until``] removed, by kind: for the organisers' digest."""
    totals: dict[str, int] = {}
    rows = await session.scalars(
        select(AuditEntry.detail).where(
            AuditEntry.action == PURGE_ACTION, AuditEntry.at > since, AuditEntry.at <= until
        )
    )
    for detail in rows:
        for kind, count in (detail or {}).get("counts", {}).items():
            totals[kind] = totals.get(kind, 0) + int(count)
    return totals


__all__ = [
    "BackToReview",
    "Due",
    "DueFile",
    "Kind",
    "Period",
    "RetentionFile",
    "due",
    "due_files",
    "load",
    "purge",
    "purged_between",
]
