"""Accounts: who is talking to the bot, in which language, with which role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.roles import Actor, Operator, Role, at_least
from rules.text import clean
from storage.db import insert_for
from storage.models import Account, AuditEntry

SUPPORTED_LOCALES = ("vi", "en")


@dataclass(frozen=True)
class AccountSnapshot:
    """What a handler needs to know about the person on every update; cheap to cache."""

    id: int
    telegram_user_id: int | None
    display_name: str
    role: str
    locale: str | None
    unit_id: int | None


def snapshot(account: Account) -> AccountSnapshot:
    return AccountSnapshot(
        id=account.id,
        telegram_user_id=account.telegram_user_id,
        display_name=account.display_name,
        role=account.role,
        locale=account.locale,
        unit_id=account.unit_id,
    )


async def ensure_telegram_account(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    display_name: str,
    username: str | None,
    organiser_ids: tuple[int, ...],
    now: dt.datetime,
) -> AccountSnapshot:
    """The account of a Telegram user, created on first contact, refreshed (name, last seen) after that.

    One INSERT … ON CONFLICT DO UPDATE statement: first contacts come in bursts (a unit hands out its
    links), so this path must be cheap. A user who blocked the bot and came back is reachable again.
    Bootstrap organisers (ORGANISER_IDS) get the organiser role the first time they are seen, audited.
    """
    values = {
        "display_name": clean(display_name)[:255],
        "username": username,
        "last_seen_at": now,
        "bot_blocked_at": None,
        "updated_at": now,
    }
    statement = (
        insert_for(session.get_bind().dialect.name)(Account)
        .values(telegram_user_id=telegram_user_id, role=Role.CITIZEN, created_at=now, **values)
        .on_conflict_do_update(index_elements=[Account.telegram_user_id], set_=values)
        .returning(*_SNAPSHOT_COLUMNS)
    )
    row = (await session.execute(statement)).one()
    account = AccountSnapshot(*row)
    if telegram_user_id in organiser_ids and account.role != Role.ORGANISER:
        return await assign_role(session, account.id, Role.ORGANISER, reason="ORGANISER_IDS", action="role.bootstrap")
    return account


_SNAPSHOT_COLUMNS = (
    Account.id,
    Account.telegram_user_id,
    Account.display_name,
    Account.role,
    Account.locale,
    Account.unit_id,
)


async def set_locale(session: AsyncSession, account_id: int, locale: str) -> AccountSnapshot:
    """Store the language a person chose with /lang."""
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    account = await session.get_one(Account, account_id)
    account.locale = locale
    await session.flush()
    return snapshot(account)


async def assign_role(
    session: AsyncSession,
    account_id: int,
    role: Role,
    *,
    unit_id: int | None = None,
    actor_id: int | None = None,
    reason: str | None = None,
    action: str = "role.assign",
) -> AccountSnapshot:
    """Give an account a role (and for a focal point, the unit it speaks for); audited."""
    account = await session.get_one(Account, account_id)
    before = account.role
    account.role = role
    account.unit_id = unit_id if role == Role.FOCAL_POINT else account.unit_id
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            entity="account",
            entity_id=str(account_id),
            detail={"from": before, "to": role, "unit_id": unit_id, "reason": reason},
        )
    )
    await session.flush()
    return snapshot(account)


async def acting(session: AsyncSession, actor: Actor | None, required: Role) -> AccountSnapshot | Operator | None:
    """The account as the database holds it now, when its role includes ``required``; else None. The
    operator at the command line holds every role.

    Every use case that needs a role calls this at the moment it acts, never trusting the role a handler
    saw when it opened the question (another organiser may have changed it since, in this process or in
    another one). On PostgreSQL the row is share-locked, so a demotion waits until this unit of work ends
    instead of slipping in between the check and the act; SQLite's write lock already serialises them.
    """
    if isinstance(actor, Operator):
        return actor
    if actor is None:
        return None
    row = (
        await session.execute(select(*_SNAPSHOT_COLUMNS).where(Account.id == actor).with_for_update(read=True))
    ).one_or_none()
    if row is None:
        return None
    account = AccountSnapshot(*row)
    return account if at_least(account.role, required) else None


async def by_id(session: AsyncSession, account_id: int) -> AccountSnapshot | None:
    account = await session.get(Account, account_id)
    return snapshot(account) if account else None


async def staff(session: AsyncSession) -> list[AccountSnapshot]:
    """Organisers and reviewers who can be reached (they have opened the bot and not blocked it)."""
    rows = await session.scalars(
        select(Account)
        .where(Account.role.in_((Role.ORGANISER, Role.REVIEWER)), Account.bot_blocked_at.is_(None))
        .order_by(Account.id)
    )
    return [snapshot(account) for account in rows]
