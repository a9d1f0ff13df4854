"""The audit trail for inspectors: verify the chain, export it, its head for the digest, and erasure.

Every ``AuditEntry`` is a link of a hash chain (``storage.audit_chain`` says what is hashed and how entries
are linked as they are written). :func:`verify` walks the chain from the first entry and names the first
one changed, removed or inserted out of order; the chain's head row and a head hash an organiser saw in a
digest (``expect_head``) catch what a walk alone cannot: entries cut off the end, or a trail rewritten
with every hash recomputed. :func:`erase_details` is how erasure touches the trail: it blanks an entry's
free-text detail (which may hold personal data) and keeps who, what, when and which record, and the chain
still verifies.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.roles import Actor, audit_actor
from storage.audit_chain import GENESIS, canonical_time, detail_digest, digest_of
from storage.models import AuditChainHead, AuditEntry

ERASED = "audit.details_erased"
PURGE_ACTION = "privacy.purge"  # what a retention purge deleted, by kind: the organisers' digest reports it
SHORT_HASH = 16  # hex characters of the head hash a digest shows
MIN_EXPECTED = 8  # the fewest hex characters --expect-head takes
_BATCH = 2000


class Finding(enum.StrEnum):
    CHANGED = "changed"  # the entry's content no longer gives its hash
    DETAIL_CHANGED = "detail_changed"  # its detail no longer gives its detail hash
    BROKEN_LINK = "broken_link"  # it does not follow the entry before it
    REMOVED = "removed"  # entries missing between two others
    INSERTED = "inserted"  # an entry put in among older ones
    OUTSIDE = "outside"  # a row with no place in the chain
    ERASED_UNRECORDED = "erased_unrecorded"  # detail blanked with no erasure entry naming it
    CUT_OFF = "cut_off"  # entries missing at the end (the head row says more)
    BEYOND_HEAD = "beyond_head"  # entries after the head row's last one
    HEAD_CHANGED = "head_changed"  # the last entry's hash differs from the head row's
    NOT_FOUND = "not_found"  # the expected head hash is nowhere in the chain


@dataclass(frozen=True)
class EntryRef:
    """An entry as a report names it."""

    seq: int | None
    id: int
    at: dt.datetime
    action: str
    entity: str
    entity_id: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> EntryRef:
        return cls(entry.seq, entry.id, entry.at, entry.action, entry.entity, entry.entity_id)


@dataclass(frozen=True)
class Problem:
    finding: Finding
    entry: EntryRef | None = None  # the entry named
    previous: EntryRef | None = None  # the last good one before it
    first_missing: int | None = None  # REMOVED, CUT_OFF: the places missing
    last_missing: int | None = None


@dataclass(frozen=True)
class Head:
    """The chain's last link: how many entries, and its hash."""

    count: int
    entry_hash: str

    @property
    def short(self) -> str:
        return self.entry_hash[:SHORT_HASH]


@dataclass
class Verdict:
    entries: int = 0
    head: Head | None = None
    problem: Problem | None = None
    expected_at: int | None = None  # where the expected head hash was found
    erased: int = 0  # entries whose details were erased (each recorded by an erasure entry)


def normal_hash(text: str) -> str | None:
    """A typed hash (any case, spaces or dashes) as lowercase hex; None when it is not one."""
    cleaned = "".join(ch for ch in text.lower() if ch not in " -:")
    if len(cleaned) < MIN_EXPECTED or any(ch not in "0123456789abcdef" for ch in cleaned):
        return None
    return cleaned


async def chained_entries(session: AsyncSession) -> AsyncIterator[AuditEntry]:
    """Every chained entry in chain order, streamed."""
    statement = (
        select(AuditEntry)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=_BATCH)
    )
    async for entry in await session.stream_scalars(statement):
        yield entry


def _check(entry: AuditEntry, previous: AuditEntry | None, expected_seq: int) -> Problem | None:
    """What is wrong with ``entry`` as the link after ``previous``, if anything."""
    here = EntryRef.of(entry)
    before = EntryRef.of(previous) if previous is not None else None
    if previous is not None and entry.id < previous.id:
        # Ids grow as entries are written; an entry older than the one before it means that one was put in.
        return Problem(Finding.INSERTED, entry=before, previous=here)
    assert entry.seq is not None
    if entry.seq != expected_seq:
        return Problem(
            Finding.REMOVED, entry=here, previous=before, first_missing=expected_seq, last_missing=entry.seq - 1
        )
    if entry.prev_hash != (previous.entry_hash if previous is not None else GENESIS):
        return Problem(Finding.BROKEN_LINK, entry=here, previous=before)
    if entry.detail_salt is None:
        if entry.detail:  # erased details are blank: anything there was written afterwards
            return Problem(Finding.DETAIL_CHANGED, entry=here, previous=before)
    elif detail_digest(entry.detail_salt, entry.detail) != entry.detail_hash:
        return Problem(Finding.DETAIL_CHANGED, entry=here, previous=before)
    if entry.detail_hash is None or digest_of(entry) != entry.entry_hash:
        return Problem(Finding.CHANGED, entry=here, previous=before)
    return None


async def _head_row(session: AsyncSession) -> AuditChainHead | None:
    return await session.get(AuditChainHead, 1)


def _check_head(row: AuditChainHead | None, last: AuditEntry | None) -> Problem | None:
    count = (last.seq or 0) if last is not None else 0
    ref = EntryRef.of(last) if last is not None else None
    if row is None:
        # Every append writes the head row: entries without one means it was deleted.
        return None if last is None else Problem(Finding.HEAD_CHANGED, entry=ref)
    if row.seq > count:
        return Problem(Finding.CUT_OFF, previous=ref, first_missing=count + 1, last_missing=row.seq)
    if row.seq < count:
        return Problem(Finding.BEYOND_HEAD, entry=ref, first_missing=row.seq + 1, last_missing=count)
    if last is not None and row.entry_hash != last.entry_hash:
        return Problem(Finding.HEAD_CHANGED, entry=ref)
    return None


async def _outside(session: AsyncSession) -> AuditEntry | None:
    statement = select(AuditEntry).where(AuditEntry.seq.is_(None)).order_by(AuditEntry.id).limit(1)
    return (await session.scalars(statement)).first()


async def verify(session: AsyncSession, *, expect_head: str | None = None) -> Verdict:
    """Walk the chain; the verdict names the first problem found (None: intact), and where ``expect_head``
    (a hash or its first characters, as a digest shows it) is in the chain."""
    verdict = Verdict()
    erased: set[int] = set()  # places of the entries whose details are blank
    recorded: set[int] = set()  # places the erasure entries name
    previous: AuditEntry | None = None
    async for entry in chained_entries(session):
        verdict.problem = _check(entry, previous, verdict.entries + 1)
        if verdict.problem is not None:
            return verdict
        verdict.entries += 1
        if entry.detail_salt is None:
            erased.add(verdict.entries)
        if entry.action == ERASED:
            recorded.update(seq for seq in entry.detail.get("entries", []) if isinstance(seq, int))
        if expect_head and verdict.expected_at is None and (entry.entry_hash or "").startswith(expect_head):
            verdict.expected_at = entry.seq
        previous = entry
    verdict.erased = len(erased)
    if previous is not None:
        verdict.head = Head(verdict.entries, previous.entry_hash or "")
    unrecorded = sorted(erased - recorded)
    if unrecorded:
        entry = (await session.scalars(select(AuditEntry).where(AuditEntry.seq == unrecorded[0]))).one()
        verdict.problem = Problem(Finding.ERASED_UNRECORDED, entry=EntryRef.of(entry))
        return verdict
    verdict.problem = _check_head(await _head_row(session), previous)
    if verdict.problem is not None:
        return verdict
    outside = await _outside(session)
    if outside is not None:
        verdict.problem = Problem(Finding.OUTSIDE, entry=EntryRef.of(outside))
        return verdict
    if expect_head and verdict.expected_at is None:
        verdict.problem = Problem(Finding.NOT_FOUND)
    return verdict


async def head(session: AsyncSession) -> Head | None:
    """The chain's head as the digest shows it (from the head row; None while the trail is empty)."""
    row = await _head_row(session)
    if row is not None:
        return Head(row.seq, row.entry_hash)
    count = await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.seq.is_not(None)))
    if not count:
        return None
    last = (await session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))).one()
    return Head(int(count), last.entry_hash or "")


EXPORT_FIELDS = (
    "seq",
    "id",
    "at",
    "actor_id",
    "action",
    "entity",
    "entity_id",
    "detail",
    "detail_salt",
    "detail_hash",
    "prev_hash",
    "entry_hash",
    "detail_erased_at",
)


def export_row(entry: AuditEntry) -> dict[str, Any]:
    """``entry`` as an inspector gets it: every field the hashes are made of, times as they are hashed."""
    return {
        "seq": entry.seq,
        "id": entry.id,
        "at": canonical_time(entry.at),
        "actor_id": entry.actor_id,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "detail": entry.detail,
        "detail_salt": entry.detail_salt,
        "detail_hash": entry.detail_hash,
        "prev_hash": entry.prev_hash,
        "entry_hash": entry.entry_hash,
        "detail_erased_at": canonical_time(entry.detail_erased_at) if entry.detail_erased_at else None,
    }


def record_export(session: AsyncSession, *, actor_id: Actor | None, now: dt.datetime, rows: int, form: str) -> None:
    """An export of the trail is itself in the trail (after what it exported)."""
    session.add(
        AuditEntry(
            at=now,
            actor_id=audit_actor(actor_id),
            action="audit.export",
            entity="audit_log",
            entity_id=None,
            detail={"rows": rows, "format": form},
        )
    )


def record_purge(
    session: AsyncSession, *, counts: dict[str, int], now: dt.datetime, actor_id: int | None = None
) -> None:
    """What a purge deleted or de-identified, by kind of record (``rules.retention.Kind``)."""
    session.add(
        AuditEntry(at=now, actor_id=actor_id, action=PURGE_ACTION, entity="retention", detail={"counts": counts})
    )


async def entries_about(
    session: AsyncSession,
    *,
    actor_id: int | None = None,
    records: Sequence[tuple[str, str]] = (),
) -> list[AuditEntry]:
    """The entries written by ``actor_id`` or about any of ``records`` (kind, id), in chain order: what an
    erasure request may blank with :func:`erase_details`."""
    conditions = [AuditEntry.actor_id == actor_id] if actor_id is not None else []
    conditions += [(AuditEntry.entity == kind) & (AuditEntry.entity_id == str(key)) for kind, key in records]
    if not conditions:
        return []
    statement = select(AuditEntry).where(or_(*conditions), AuditEntry.seq.is_not(None)).order_by(AuditEntry.seq)
    return list((await session.scalars(statement)).all())


async def erase_details(
    session: AsyncSession,
    entries: Sequence[AuditEntry],
    *,
    actor_id: Actor | None,
    now: dt.datetime,
    reason: str,
) -> AuditEntry | None:
    """Blank the free-text detail of ``entries`` (which may name or describe a person) without breaking the
    chain: who, what, when and which record stay, and the detail's salted hash stays in the chain; the salt
    goes, so the erased text cannot be guessed back. One entry ``audit.details_erased`` records which were
    blanked and why (``reason``: a short code such as ``"erasure_request"``, never personal data); verify
    reports an entry blanked without one. Returns it; None when there was nothing to blank."""
    await session.flush()  # entries added in this transaction get their place first
    blanked = [entry for entry in entries if entry.seq is not None and entry.detail_salt is not None]
    if not blanked:
        return None
    for entry in blanked:
        entry.detail = {}
        entry.detail_salt = None
        entry.detail_erased_at = now
    record = AuditEntry(
        at=now,
        actor_id=audit_actor(actor_id),
        action=ERASED,
        entity="audit_log",
        entity_id=str(blanked[0].seq),
        detail={"entries": [entry.seq for entry in blanked], "reason": reason},
    )
    session.add(record)
    await session.flush()
    return record
