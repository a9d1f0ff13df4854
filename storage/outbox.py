"""The outbox table's SQL: insert idempotently, claim due rows with a lease, record each outcome.

A claim is one statement that moves rows from ``pending`` (or ``sending`` with a lease that ran out: the
sender died) to ``sending`` under the claimer's name. On PostgreSQL the rows are picked with
``FOR UPDATE SKIP LOCKED``, so concurrent senders skip each other's rows instead of waiting; on SQLite the
``UPDATE … RETURNING`` runs inside ``BEGIN IMMEDIATE`` (see ``storage.db``), so claims are serialised.

Every outcome is guarded by ``lease_owner = owner``: a sender whose lease was taken over by another
cannot overwrite what the new owner does with the row. Callers own the transaction; nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, literal, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from rules.identities import TELEGRAM
from storage import identities as identity_store
from storage.db import insert_for
from storage.models import Account, OutboxMessage
from storage.sqlite_driver import at_commit

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
UNDELIVERABLE = "undeliverable"
FAILED = "failed"
CANCELLED = "cancelled"

_ERROR_MAX_CHARS = 1000
# Keys per IN (…) list: well under SQLite's and asyncpg's limits on bound parameters.
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class ClaimedRow:
    """A row handed to one sender until ``lease_until``; ``attempts`` already counts this attempt."""

    id: int
    account_id: int | None
    channel: str
    chat_id: int
    is_group: bool
    method: str
    payload: dict[str, Any]
    attempts: int
    dedupe_key: str
    due_at: dt.datetime
    lease_until: dt.datetime


async def insert(
    session: AsyncSession,
    *,
    dedupe_key: str,
    account_id: int | None,
    chat_id: int | None,
    is_group: bool,
    method: str,
    payload: dict[str, Any],
    topic: str | None,
    due_at: dt.datetime,
    now: dt.datetime,
) -> bool:
    """Insert a pending row unless one with the same dedupe key exists; True when a row was inserted.

    A row for an account goes to the identity it used last (its channel and address, copied in the same
    statement); an account with no identity left gets no row. A row for a group or channel (``chat_id``)
    goes out on Telegram, the only channel with groups the bot writes to.
    """
    values: dict[str, Any] = {
        "dedupe_key": dedupe_key,
        "is_group": is_group,
        "method": method,
        "payload": payload,
        "topic": topic,
        "status": PENDING,
        "due_at": due_at,
        "attempts": 0,
        "created_at": now,
    }
    build = insert_for(session.get_bind().dialect.name)
    if account_id is None:
        if chat_id is None:
            raise ValueError("an outbox row needs an account or a chat")
        statement = build(OutboxMessage).values(channel=TELEGRAM, chat_id=chat_id, **values)
    else:
        target = identity_store.preferred(account_id).subquery()
        columns = list(values)
        chosen = select(
            *(literal(value, OutboxMessage.__table__.c[name].type).label(name) for name, value in values.items()),
            literal(account_id).label("account_id"),
            target.c.channel,
            target.c.address,
        ).where(true())  # SQLite needs a WHERE in INSERT … SELECT … ON CONFLICT (its parsing rule)
        statement = build(OutboxMessage).from_select([*columns, "account_id", "channel", "chat_id"], chosen)
    statement = statement.on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key]).returning(OutboxMessage.id)
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def cancel_topic(session: AsyncSession, *, topic: str) -> int:
    """Cancel the rows of ``topic`` not yet sent; returns how many were cancelled.

    Rows being sent right now are cancelled too, so a retry cannot bring them back; a request already
    on its way to Telegram may still arrive, and is then recorded as sent.
    """
    return await cancel_topics(session, [topic])


async def cancel_topics(session: AsyncSession, topics: Collection[str]) -> int:
    """:func:`cancel_topic` for several topics, in one statement."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.topic.in_(list(topics)), OutboxMessage.status.in_((PENDING, SENDING)))
        .values(status=CANCELLED, lease_until=None)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).scalars().all())


async def taken_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    """Which of ``keys`` a row has already (whatever its status)."""
    ordered = sorted(set(keys))
    taken: set[str] = set()
    for start in range(0, len(ordered), _KEYS_PER_QUERY):
        chunk = ordered[start : start + _KEYS_PER_QUERY]
        taken.update(await session.scalars(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))))
    return taken


def _cancel_topics_statement() -> Any:
    table = cast(Table, OutboxMessage.__table__)
    return (
        update(table)
        .where(table.c.topic.in_(bindparam("topics", expanding=True)), table.c.status.in_((PENDING, SENDING)))
        .values(status=CANCELLED, lease_until=None)
    )


# Built once: an RSVP press cancels its reminders with it, and building the statement anew (coercing each
# clause, then its cache key) cost more of the press's CPU than the database's work on it.
_CANCEL_TOPICS = _cancel_topics_statement()


async def cancel_topics_at_commit(session: AsyncSession, topics: Collection[str]) -> None:
    """:func:`cancel_topics` without counting them, sent with the transaction's next statement or its commit
    (``storage.sqlite_driver.at_commit``): for a use case that only needs them gone when it commits."""
    await at_commit(session, _CANCEL_TOPICS, {"topics": list(topics)})


async def pending_keys(session: AsyncSession, *, prefixes: Collection[str]) -> set[str]:
    """Keys of the rows waiting to be sent whose key starts with one of ``prefixes``."""
    if not prefixes:
        return set()
    statement = select(OutboxMessage.dedupe_key).where(
        OutboxMessage.status == PENDING,
        or_(*(OutboxMessage.dedupe_key.startswith(prefix, autoescape=True) for prefix in prefixes)),
    )
    return set(await session.scalars(statement))


async def cancel_keys(session: AsyncSession, keys: Collection[str]) -> int:
    """Cancel the rows with these keys not yet sent (as :func:`cancel_topic` does); returns how many."""
    ordered = sorted(set(keys))
    cancelled = 0
    for start in range(0, len(ordered), _KEYS_PER_QUERY):
        statement = (
            update(OutboxMessage)
            .where(
                OutboxMessage.dedupe_key.in_(ordered[start : start + _KEYS_PER_QUERY]),
                OutboxMessage.status.in_((PENDING, SENDING)),
            )
            .values(status=CANCELLED, lease_until=None)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        )
        cancelled += len((await session.execute(statement)).scalars().all())
    return cancelled


async def latest_due(session: AsyncSession, *, topic: str, before: dt.datetime) -> dt.datetime | None:
    """When the latest row of ``topic`` due before ``before`` and not cancelled was due."""
    return await session.scalar(
        select(func.max(OutboxMessage.due_at)).where(
            OutboxMessage.topic == topic,
            OutboxMessage.due_at < before,
            OutboxMessage.status != CANCELLED,
        )
    )


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """How many rows are in each status."""
    rows = await session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))
    return {status: count for status, count in rows.all()}


def _claimable(now: dt.datetime) -> Any:
    return or_(
        (OutboxMessage.status == PENDING) & (OutboxMessage.due_at <= now),
        (OutboxMessage.status == SENDING) & (OutboxMessage.lease_until < now),
    )


def _first_in_their_chat(now: dt.datetime) -> Any:
    """Ids of the rows that come first in their chat's queue of due and in-flight rows (due_at, then id)."""
    place = func.row_number().over(
        partition_by=OutboxMessage.chat_id, order_by=(OutboxMessage.due_at, OutboxMessage.id)
    )
    queued = (
        select(OutboxMessage.id, place.label("place"))
        .where(
            or_(
                (OutboxMessage.status == PENDING) & (OutboxMessage.due_at <= now),
                OutboxMessage.status == SENDING,
            )
        )
        .subquery()
    )
    return select(queued.c.id).where(queued.c.place == 1)


def _backlog(now: dt.datetime) -> Any:
    """How many rows are due in the row's chat: a correlated count (over the chat_id index)."""
    queued = aliased(OutboxMessage)
    return (
        select(func.count())
        .where(queued.chat_id == OutboxMessage.chat_id, queued.status == PENDING, queued.due_at <= now)
        .correlate(OutboxMessage)
        .scalar_subquery()
    )


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int,
    skip_chats: Collection[int] = (),
) -> list[ClaimedRow]:
    """Lease up to ``limit`` due rows to ``owner`` until ``now + lease``, at most one per chat: the chats with
    the most rows due first, then the oldest due.

    A chat receives one message a second, so a chat with many rows waiting is the wave's long pole: started
    first, its rows go out beside everyone else's instead of alone at the end (1,000 reminders and ten
    chats with five more each: 35 s instead of 40). Nobody waits long for it: a batch holds one row per chat.

    Only the first row of each chat's queue is taken, and none while another sender is still sending that
    chat's previous row: a chat's messages go out one after the other, in order, and a batch never holds
    what the per-chat limit would make it wait for. ``skip_chats``: chats the sender knows are busy.
    """
    due = (
        select(OutboxMessage.id)
        .where(_claimable(now), OutboxMessage.id.in_(_first_in_their_chat(now)))
        .order_by(_backlog(now).desc(), OutboxMessage.due_at, OutboxMessage.id)
        .limit(limit)
    )
    if skip_chats:
        due = due.where(OutboxMessage.chat_id.not_in(list(skip_chats)))
    statement = update(OutboxMessage).values(
        status=SENDING,
        lease_owner=owner,
        lease_until=now + lease,
        attempts=OutboxMessage.attempts + 1,
    )
    if session.get_bind().dialect.name == "postgresql":
        # Locked rows belong to a concurrent claimer: skip them rather than wait and claim them twice.
        locked = due.with_for_update(skip_locked=True).cte("due")
        statement = statement.where(OutboxMessage.id == locked.c.id)
    else:
        statement = statement.where(OutboxMessage.id.in_(due.scalar_subquery()))
    statement = statement.returning(
        OutboxMessage.id,
        OutboxMessage.account_id,
        OutboxMessage.channel,
        OutboxMessage.chat_id,
        OutboxMessage.is_group,
        OutboxMessage.method,
        OutboxMessage.payload,
        OutboxMessage.attempts,
        OutboxMessage.dedupe_key,
        OutboxMessage.due_at,
        OutboxMessage.lease_until,
    ).execution_options(synchronize_session=False)
    result = await session.execute(statement)
    rows = [ClaimedRow(*row) for row in result.all()]
    # RETURNING gives no order; keep the queue's.
    rows.sort(key=lambda row: (row.due_at, row.id))
    return rows


async def release(session: AsyncSession, *, owner: str, error: str | None = None) -> int:
    """Put every row ``owner`` is sending back to pending at once; returns how many.

    Only for an owner known to be dead: a sender starting under the name its previous run had (that run
    was killed with rows claimed), or a standby that took over from it. The rows keep their place in the
    queue (``due_at``, id) and their attempt count (a message in flight when the sender died may have
    reached Telegram: it will be sent again). A live sender's rows must be left to their lease.
    """
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == SENDING, OutboxMessage.lease_owner == owner)
        .values(status=PENDING, lease_owner=None, lease_until=None, last_error=_error(error))
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).scalars().all())


async def release_every_claim(session: AsyncSession, *, error: str | None = None) -> int:
    """Put every row any sender is sending back to pending; returns how many.

    Only for the process that holds the active lease (``bot.lease``): every other sender is dead, so the
    rows they claimed would otherwise wait for their lease. As with :func:`release`, a message in flight
    when its sender died may be sent twice.
    """
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.status == SENDING)
        .values(status=PENDING, lease_owner=None, lease_until=None, last_error=_error(error))
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).scalars().all())


async def _finish(session: AsyncSession, row_id: int, owner: str, statuses: tuple[str, ...], **values: Any) -> bool:
    statement = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id == row_id,
            OutboxMessage.lease_owner == owner,
            OutboxMessage.status.in_(statuses),
        )
        .values(**values)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


def _error(error: str | None) -> str | None:
    return error[:_ERROR_MAX_CHARS] if error else error


async def mark_sent(session: AsyncSession, row_id: int, owner: str, message_id: int | None, now: dt.datetime) -> bool:
    """The message reached Telegram. Recorded even if the row was cancelled while the request was out."""
    return await _finish(
        session,
        row_id,
        owner,
        (SENDING, CANCELLED),
        status=SENT,
        sent_at=now,
        telegram_message_id=message_id,
        lease_until=None,
        last_error=None,
    )


async def reschedule(
    session: AsyncSession,
    row_id: int,
    owner: str,
    due_at: dt.datetime,
    error: str | None,
    *,
    refund_attempt: bool = False,
) -> bool:
    """Back to pending, due at ``due_at``. ``refund_attempt`` when nothing was tried (rate limits)."""
    values: dict[str, Any] = {
        "status": PENDING,
        "due_at": due_at,
        "lease_owner": None,
        "lease_until": None,
        "last_error": _error(error),
    }
    if refund_attempt:
        values["attempts"] = OutboxMessage.attempts - 1
    return await _finish(session, row_id, owner, (SENDING,), **values)


async def hold_chat(session: AsyncSession, *, chat_id: int, until: dt.datetime) -> int:
    """Make the rows of ``chat_id`` due before ``until`` wait until then (Telegram asked the bot to pause),
    so none of them goes ahead of the chat's first row, put back until then. Returns how many moved."""
    statement = (
        update(OutboxMessage)
        .where(OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING, OutboxMessage.due_at < until)
        .values(due_at=until)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).scalars().all())


async def mark_undeliverable(session: AsyncSession, row_id: int, owner: str, error: str) -> bool:
    """Telegram will never take this message (the user blocked the bot, the bot left the group)."""
    return await _finish(
        session, row_id, owner, (SENDING,), status=UNDELIVERABLE, lease_until=None, last_error=_error(error)
    )


async def mark_failed(session: AsyncSession, row_id: int, owner: str, error: str) -> bool:
    """Given up: a bad request, or retried ``max_attempts`` times."""
    return await _finish(session, row_id, owner, (SENDING,), status=FAILED, lease_until=None, last_error=_error(error))


async def mark_account_blocked(session: AsyncSession, account_id: int | None, now: dt.datetime) -> bool:
    """Note that this account blocked the bot where it was written to (kept from the first time seen)."""
    if account_id is None:
        return False
    statement = (
        update(Account)
        .where(Account.id == account_id, Account.bot_blocked_at.is_(None))
        .values(bot_blocked_at=now)
        .returning(Account.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


__all__ = [
    "CANCELLED",
    "FAILED",
    "PENDING",
    "SENDING",
    "SENT",
    "UNDELIVERABLE",
    "ClaimedRow",
    "cancel_keys",
    "cancel_topic",
    "cancel_topics",
    "claim",
    "count_by_status",
    "hold_chat",
    "insert",
    "latest_due",
    "mark_account_blocked",
    "mark_failed",
    "mark_sent",
    "mark_undeliverable",
    "pending_keys",
    "release",
    "reschedule",
    "taken_keys",
]
