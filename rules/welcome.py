"""What ``/start`` says to a returning person: their unit (for a focal point) and the form they left open.

Read from the database at the moment of ``/start``, so a role or a unit given meanwhile, or a draft saved
from another device, shows at once.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from rules.nominations import Status
from rules.roles import Role
from storage.models import Account, Nomination, OrgUnit


@dataclass(frozen=True)
class Welcome:
    role: str
    unit_name: str | None = None
    # The unfinished form (a draft, or a nomination sent back for changes); None when there is none.
    draft_status: str | None = None
    draft_code: str | None = None
    draft_nominee: str | None = None


# Every /start of a returning person asks this, and it changes rarely: kept per account in this process
# (a standby that takes over starts empty). Any write this process makes to an account or a nomination
# forgets what it touched — on flush and again on commit, so a read between the two cannot keep the old
# facts — and a bulk UPDATE or DELETE of either forgets everything. Writes from outside this process (the
# CLI) show within CACHE_SECONDS.
# One cache per engine: two databases in one process (tests, a playground restart) never share one.
CACHE_SECONDS = 60.0
_caches: weakref.WeakKeyDictionary[Any, dict[int, tuple[float, Welcome]]] = weakref.WeakKeyDictionary()


def _cache_of(session: Session) -> dict[int, tuple[float, Welcome]]:
    return _caches.setdefault(session.get_bind(), {})


async def welcome(session: AsyncSession, account_id: int) -> Welcome:
    """The account's role and unit, and its unfinished nomination form, if any (see ``_cache``)."""
    cache = _cache_of(session.sync_session)
    hit = cache.get(account_id)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    facts = await _read(session, account_id)
    cache[account_id] = (now, facts)
    return facts


def cached(bind: Any, account_id: int) -> Welcome | None:
    """The facts kept for ``account_id`` in the cache of the engine ``bind`` (sync), if still fresh: lets
    /start answer without opening a transaction at all."""
    hit = _caches.get(bind, {}).get(account_id)
    if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    return None


def keep(bind: Any, account_id: int, facts: Welcome) -> None:
    """Keep ``facts`` for ``account_id`` in the cache of the engine ``bind`` (sync) now: for a write that
    committed outside any session (``rules.accounts.meet``)."""
    _caches.setdefault(bind, {})[account_id] = (time.monotonic(), facts)


def prime(session: AsyncSession, account_id: int, facts: Welcome) -> None:
    """Keep ``facts`` for ``account_id`` once ``session``'s transaction commits (a new account's, say)."""
    session.sync_session.info.setdefault("welcome_primed", {})[account_id] = facts


def forget(session: Session, account_id: int | None = None) -> None:
    """Drop one account's facts, or (None) everyone's, in the cache of ``session``'s database."""
    cache = _cache_of(session)
    if account_id is None:
        cache.clear()
    else:
        cache.pop(account_id, None)


def _touched(session: Session) -> set[int]:
    """The accounts this flush writes (their own row, or a nomination they sent)."""
    touched: set[int] = set()
    for item in (*session.new, *session.dirty, *session.deleted):
        if isinstance(item, Nomination) and item.nominator_id is not None:
            touched.add(item.nominator_id)
        elif isinstance(item, Account) and item.id is not None:
            touched.add(item.id)
    return touched


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    touched = _touched(session)
    session.info.setdefault("welcome_touched", set()).update(touched)
    primed: dict[int, Welcome] = session.info.get("welcome_primed", {})
    for account_id in touched:
        forget(session, account_id)
        primed.pop(account_id, None)  # written after it was primed: read it afresh next time


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for account_id in session.info.pop("welcome_touched", set()):
        forget(session, account_id)
    primed: dict[int, Welcome] = session.info.pop("welcome_primed", {})
    if primed:
        cache = _cache_of(session)
        now = time.monotonic()
        for account_id, facts in primed.items():
            cache[account_id] = (now, facts)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop("welcome_primed", None)  # the account it was for was never made


@event.listens_for(Session, "do_orm_execute")
def _bulk(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and any(
        mapper.class_ in (Account, Nomination) for mapper in state.all_mappers
    ):
        forget(state.session)


async def _read(session: AsyncSession, account_id: int) -> Welcome:
    """The account's role and unit as stored now, and its unfinished nomination form, if any.

    One statement (every /start of a returning person runs it): the role, the unit's name and the newest
    unfinished form come back in one row.
    """
    unfinished = (
        select(Nomination.id)
        .where(
            Nomination.nominator_id == account_id,
            Nomination.status.in_((Status.DRAFT, Status.CHANGES_REQUESTED)),
        )
        .order_by(Nomination.updated_at.desc(), Nomination.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(Account.role, OrgUnit.name, Nomination.status, Nomination.code, Nomination.nominee_name)
            .select_from(Account)
            .outerjoin(OrgUnit, OrgUnit.id == Account.unit_id)
            .outerjoin(Nomination, Nomination.id == unfinished)
            .where(Account.id == account_id)
        )
    ).first()
    if row is None:
        return Welcome(role=Role.CITIZEN)
    role, unit_name, status, code, nominee = row
    if status is None:
        return Welcome(role=role, unit_name=unit_name)
    return Welcome(role=role, unit_name=unit_name, draft_status=Status(status), draft_code=code, draft_nominee=nominee)
