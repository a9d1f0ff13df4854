"""Accounts: who is talking to the bot, in which language, with which role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.roles import Role
from rules.text import clean
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
    """The account of a Telegram user, created on first contact.

    Bootstrap organisers (ORGANISER_IDS) get the organiser role the first time they are seen; a user who
    blocked the bot and came back is reachable again.
    """
    account = await session.scalar(select(Account).where(Account.telegram_user_id == telegram_user_id))
    if account is None:
        account = Account(telegram_user_id=telegram_user_id, display_name=clean(display_name)[:255])
        session.add(account)
    account.username = username
    account.last_seen_at = now
    account.bot_blocked_at = None
    if telegram_user_id in organiser_ids and account.role != Role.ORGANISER:
        account.role = Role.ORGANISER
        session.add(AuditEntry(action="role.bootstrap", entity="account", detail={"role": Role.ORGANISER}))
    await session.flush()
    return snapshot(account)


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
) -> AccountSnapshot:
    """Give an account a role (and for a focal point, the unit it speaks for); audited."""
    account = await session.get_one(Account, account_id)
    before = account.role
    account.role = role
    account.unit_id = unit_id if role == Role.FOCAL_POINT else account.unit_id
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action="role.assign",
            entity="account",
            entity_id=str(account_id),
            detail={"from": before, "to": role, "unit_id": unit_id, "reason": reason},
        )
    )
    await session.flush()
    return snapshot(account)
