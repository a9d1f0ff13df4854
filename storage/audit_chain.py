"""The audit trail as a hash chain: every ``AuditEntry`` is linked to the one before it when it is flushed.

Code writes audit entries the normal way (``session.add(AuditEntry(...))``); a ``before_flush`` hook gives
each new one its place and hashes, under a lock, so two processes appending at once make one chain:

- PostgreSQL: ``pg_advisory_xact_lock(CHAIN_LOCK_KEY)``, held until the transaction ends, then the head is
  read (READ COMMITTED: the other process's committed entries are seen);
- SQLite: every transaction starts with ``BEGIN IMMEDIATE`` (``storage.db``), which already serialises
  writers.

What is hashed (format ``dienhinh-audit-1``, fixed: the migration that chained the existing rows used it)::

    detail_hash = sha256(detail_salt + canonical_json(detail))          # salt: 32 random hex characters
    entry_hash  = sha256(canonical_json(["dienhinh-audit-1", seq, at, actor_id, action, entity, entity_id,
                                         detail_hash, prev_hash]))

``at`` is the UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; canonical JSON is sorted keys, no spaces,
UTF-8; the first entry's ``prev_hash`` is 64 zeros. The chain covers who (account id), what (action), when
and which record (entity and id) directly, and the free-text detail only through its salted hash: erasure
(:func:`rules.audit.erase_details`) blanks the detail and its salt, the hash stays, the chain verifies, and
nobody can guess the erased text back from the hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, event, insert, select, text, update
from sqlalchemy.orm import Session, UOWTransaction

from storage.models import AuditChainHead, AuditEntry, utcnow

FORMAT = "dienhinh-audit-1"
GENESIS = "0" * 64
HEAD_ROW = 1
# An advisory lock key of its own (the lease's and the migrations' are others).
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"dienhinh audit chain").digest()[:7], "big")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:  # SQLite gives UTC back without its zone
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def plain_detail(detail: Any) -> Any:
    """``detail`` as it comes back from a JSON column (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(detail if detail is not None else {}, ensure_ascii=False, default=str))


def detail_digest(salt: str, detail: Any) -> str:
    return hashlib.sha256((salt + canonical_json(plain_detail(detail))).encode()).hexdigest()


def entry_digest(
    *,
    seq: int,
    at: dt.datetime,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: str | None,
    detail_hash: str,
    prev_hash: str,
) -> str:
    content = [FORMAT, seq, canonical_time(at), actor_id, action, entity, entity_id, detail_hash, prev_hash]
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def digest_of(entry: Any) -> str:
    """The hash ``entry`` (an ``AuditEntry`` or a row with the same fields) should carry."""
    return entry_digest(
        seq=entry.seq,
        at=entry.at,
        actor_id=entry.actor_id,
        action=entry.action,
        entity=entry.entity,
        entity_id=entry.entity_id,
        detail_hash=entry.detail_hash,
        prev_hash=entry.prev_hash,
    )


def link(entry: AuditEntry, seq: int, prev_hash: str) -> str:
    """Make ``entry`` the ``seq``-th link after ``prev_hash``; returns its hash."""
    if entry.at is None:
        entry.at = utcnow()
    entry.detail = plain_detail(entry.detail)
    entry.detail_salt = secrets.token_hex(16)
    entry.detail_hash = detail_digest(entry.detail_salt, entry.detail)
    entry.seq = seq
    entry.prev_hash = prev_hash
    entry.entry_hash = digest_of(entry)
    return entry.entry_hash


def lock_chain(connection: Connection) -> None:
    """Hold the chain until the transaction ends (PostgreSQL; SQLite's write lock is already held)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})


def read_head(connection: Connection) -> tuple[int, str] | None:
    """The chain's last link as (seq, hash): the head row, else the last chained entry; None when empty."""
    row = connection.execute(
        select(AuditChainHead.seq, AuditChainHead.entry_hash).where(AuditChainHead.id == HEAD_ROW)
    ).first()
    if row is not None:
        return int(row.seq), str(row.entry_hash)
    last = connection.execute(
        select(AuditEntry.seq, AuditEntry.entry_hash)
        .where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    return (int(last.seq), str(last.entry_hash)) if last is not None else None


def write_head(connection: Connection, seq: int, entry_hash: str, *, existed: bool) -> None:
    values = {"seq": seq, "entry_hash": entry_hash, "updated_at": utcnow()}
    if existed:
        connection.execute(update(AuditChainHead).where(AuditChainHead.id == HEAD_ROW).values(**values))
    else:
        connection.execute(insert(AuditChainHead).values(id=HEAD_ROW, **values))


def _has_head_row(connection: Connection) -> bool:
    return connection.execute(select(AuditChainHead.id).where(AuditChainHead.id == HEAD_ROW)).first() is not None


def chain(connection: Connection, entries: Sequence[AuditEntry], *, after: tuple[int, str] | None = None) -> None:
    """Link ``entries``, in order, after ``after`` (seq, hash; by default the chain's head), and move the
    head to the last of them."""
    if not entries:
        return
    lock_chain(connection)
    start = after if after is not None else read_head(connection)
    seq, prev_hash = start if start is not None else (0, GENESIS)
    for entry in entries:
        seq += 1
        prev_hash = link(entry, seq, prev_hash)
    write_head(connection, seq, prev_hash, existed=_has_head_row(connection))


# The entries this session linked in its current transaction, in chain order (see _chain_pending).
_LINKED = "audit_chain.linked"


@event.listens_for(Session, "before_flush")
def _chain_pending(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    """Link the entries added since the last flush. An entry of this transaction changed after it was
    linked (code that writes the entry, flushes for its id, then adds a count to its detail) is linked
    again, with the ones after it: the transaction still holds the chain, so nobody has appended since.
    An entry of an earlier transaction is never relinked: changing it is what verify reports."""
    linked: list[AuditEntry] = session.info.setdefault(_LINKED, [])
    changed = next((index for index, entry in enumerate(linked) if session.is_modified(entry)), None)
    new = [obj for obj in session.new if isinstance(obj, AuditEntry) and obj.entry_hash is None]
    after = None
    if changed is not None:
        again = linked[changed:]
        del linked[changed:]
        after = (int(again[0].seq or 1) - 1, again[0].prev_hash or GENESIS)
        new = again + new
    if new:
        # session.new keeps the order entries were added in: that is their order in the chain.
        chain(session.connection(), new, after=after)
        linked.extend(new)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_linked(session: Session) -> None:
    session.info.pop(_LINKED, None)


__all__ = [
    "CHAIN_LOCK_KEY",
    "FORMAT",
    "GENESIS",
    "canonical_json",
    "canonical_time",
    "chain",
    "detail_digest",
    "digest_of",
    "entry_digest",
    "read_head",
]
