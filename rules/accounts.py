"""Accounts: who is talking to the bot, in which language, with which role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rules import identities
from rules.identities import TELEGRAM
from rules.roles import Actor, Operator, Role, at_least
from rules.text import clean
from storage import identities as identity_store
from storage.models import Account, AuditEntry, ChannelIdentity

SUPPORTED_LOCALES = ("vi", "en")


@dataclass(frozen=True)
class AccountSnapshot:
    """What a handler needs to know about the person on every update; cheap to cache."""

    id: int
    display_name: str
    role: str
    locale: str | None
    unit_id: int | None


def snapshot(account: Account) -> AccountSnapshot:
    return AccountSnapshot(
        id=account.id,
        display_name=account.display_name,
        role=account.role,
        locale=account.locale,
        unit_id=account.unit_id,
    )


@dataclass(frozen=True)
class Contact:
    """An account as a channel sees it: the account and the address of the identity it came in through."""

    account: AccountSnapshot
    address: int


async def ensure_account(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    display_name: str,
    username: str | None = None,
    bootstrap_organiser: bool = False,
    now: dt.datetime,
) -> Contact:
    """The account behind a channel identity, created on first contact, refreshed (name, last seen) after.

    A returning person costs two short statements (the identity, then the account); first contacts come in
    bursts (a unit hands out its links) and cost three. A person who blocked the bot and came back is
    reachable again. ``bootstrap_organiser`` (an id listed in ORGANISER_IDS) gives the organiser role the
    first time it is seen, audited.
    """
    external_id = identities.check_external_id(channel, external_id)
    name = clean(display_name)[:255]
    for _ in range(3):
        identity = await identity_store.touch(
            session, channel=channel, external_id=external_id, display_name=name, now=now
        )
        if identity is not None:
            account = await _refresh(session, identity.account_id, name, username, now)
            break
        account = await _create(session, name, username, now)
        identity = await identity_store.create(
            session, account_id=account.id, channel=channel, external_id=external_id, display_name=name, now=now
        )
        if identity is not None:
            break
        # Another process saw this person first: drop the account just made and take theirs.
        await session.execute(delete(Account).where(Account.id == account.id))
    else:  # pragma: no cover - three lost races in a row
        raise RuntimeError("could not create the account of a channel identity")
    if bootstrap_organiser and account.role != Role.ORGANISER:
        account = await assign_role(
            session, account.id, Role.ORGANISER, reason="ORGANISER_IDS", action="role.bootstrap"
        )
    return Contact(account, identity.address)


async def ensure_telegram_account(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    display_name: str,
    username: str | None,
    organiser_ids: tuple[int, ...],
    now: dt.datetime,
) -> AccountSnapshot:
    """:func:`ensure_account` for a Telegram user (the Telegram channel and the command line use it)."""
    contact = await ensure_account(
        session,
        channel=TELEGRAM,
        external_id=str(telegram_user_id),
        display_name=display_name,
        username=username,
        bootstrap_organiser=telegram_user_id in organiser_ids,
        now=now,
    )
    return contact.account


async def _refresh(
    session: AsyncSession, account_id: int, name: str, username: str | None, now: dt.datetime
) -> AccountSnapshot:
    values: dict[str, object] = {"display_name": name, "last_seen_at": now, "bot_blocked_at": None, "updated_at": now}
    if username is not None:
        values["username"] = username
    statement = (
        update(Account)
        .where(Account.id == account_id)
        .values(**values)
        .returning(*_SNAPSHOT_COLUMNS)
        .execution_options(synchronize_session=False)
    )
    return AccountSnapshot(*(await session.execute(statement)).one())


async def _create(session: AsyncSession, name: str, username: str | None, now: dt.datetime) -> AccountSnapshot:
    statement = (
        insert(Account)
        .values(
            display_name=name,
            username=username,
            role=Role.CITIZEN,
            last_seen_at=now,
            created_at=now,
            updated_at=now,
        )
        .returning(*_SNAPSHOT_COLUMNS)
    )
    return AccountSnapshot(*(await session.execute(statement)).one())


async def at_address(session: AsyncSession, address: int) -> AccountSnapshot | None:
    """The account whose identity has this address (a person a channel adapter has already seen)."""
    row = (
        await session.execute(
            select(*_SNAPSHOT_COLUMNS).join(ChannelIdentity).where(ChannelIdentity.address == address)
        )
    ).one_or_none()
    return AccountSnapshot(*row) if row is not None else None


async def telegram_addresses(session: AsyncSession, account_id: int) -> list[int]:
    """The Telegram chats of this account (a private chat's id is the user's id)."""
    return [
        identity.address
        for identity in await identity_store.of_account(session, account_id)
        if identity.channel == TELEGRAM
    ]


_SNAPSHOT_COLUMNS = (
    Account.id,
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
