"""Accounts: who is talking to the bot, in which language, with which role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rules import identities, welcome
from rules.identities import TELEGRAM
from rules.roles import Actor, Operator, Role, at_least
from rules.text import clean
from storage import first_contact
from storage import identities as identity_store
from storage.db import Database
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

    A returning person costs one statement (two when the account is reached on several channels: which
    one was used last is where the bot writes); a first contact costs three (four on a channel whose
    addresses are made from the identity's id). A person who blocked the bot and came back is
    reachable again. ``bootstrap_organiser`` (an id listed in ORGANISER_IDS) gives the organiser role the
    first time it is seen, audited.
    """
    external_id = identities.check_external_id(channel, external_id)
    name = clean(display_name)[:255]
    created = False
    for _ in range(3):
        returning = await _refresh(session, channel, external_id, name, username, now)
        if returning is not None:
            account, address, shared = returning
            if shared:
                # Only an account reached on several channels needs to know which one was used last.
                await identity_store.touch(
                    session, channel=channel, external_id=external_id, display_name=name, now=now
                )
            break
        account = await _create(session, name, username, now)
        identity = await identity_store.create(
            session, account_id=account.id, channel=channel, external_id=external_id, display_name=name, now=now
        )
        if identity is not None:
            address = identity.address
            created = True
            break
        # Another process saw this person first: drop the account just made and take theirs.
        await session.execute(delete(Account).where(Account.id == account.id))
    else:  # pragma: no cover - three lost races in a row
        raise RuntimeError("could not create the account of a channel identity")
    if bootstrap_organiser and account.role != Role.ORGANISER:
        account = await assign_role(
            session, account.id, Role.ORGANISER, reason="ORGANISER_IDS", action="role.bootstrap"
        )
    if created:
        # Someone new has no unit and no form yet: their /start need not ask (kept once this commits).
        welcome.prime(session, account.id, welcome.Welcome(role=account.role))
    return Contact(account, address)


async def meet(
    database: Database,
    *,
    channel: str,
    external_id: str,
    display_name: str,
    username: str | None = None,
    bootstrap_organiser: bool = False,
    now: dt.datetime,
) -> Contact:
    """:func:`ensure_account` as a unit of work of its own, committed when it returns: what a channel does
    when someone it has not seen lately writes. One trip to the database (``storage.first_contact``) for a
    returning person and a first contact alike; the ORM way for an id in ORGANISER_IDS (the role is given
    and audited) and on an engine that cannot make it one trip."""
    external_id = identities.check_external_id(channel, external_id)
    if not bootstrap_organiser:
        name = clean(display_name)[:255]
        met = await first_contact.meet(
            database, channel=channel, external_id=external_id, display_name=name, username=username, now=now
        )
        if met is not None:
            account = AccountSnapshot(*met.account)
            if met.created:
                # Someone new has no unit and no form yet: their /start need not ask.
                welcome.keep(database.engine.sync_engine, account.id, welcome.Welcome(role=account.role))
            return Contact(account, met.address)
    async with database.transaction() as session:
        return await ensure_account(
            session,
            channel=channel,
            external_id=external_id,
            display_name=display_name,
            username=username,
            bootstrap_organiser=bootstrap_organiser,
            now=now,
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


_ACCOUNT = cast(Table, Account.__table__)
_RETURNING = (_ACCOUNT.c.id, _ACCOUNT.c.display_name, _ACCOUNT.c.role, _ACCOUNT.c.locale, _ACCOUNT.c.unit_id)
# Built once: see storage.identities for why the statements of first contact are not built per call.
_REFRESH_VALUES: dict[str, Any] = {
    "display_name": bindparam("p_display_name"),
    "last_seen_at": bindparam("p_now"),
    "bot_blocked_at": None,
    "updated_at": bindparam("p_now"),
}
_IDENTITY = cast(Table, ChannelIdentity.__table__)
_THE_IDENTITY = (_IDENTITY.c.channel == bindparam("p_channel"), _IDENTITY.c.external_id == bindparam("p_external_id"))
_REFRESH = (
    update(_ACCOUNT)
    .where(_ACCOUNT.c.id == select(_IDENTITY.c.account_id).where(*_THE_IDENTITY).scalar_subquery())
    .returning(
        *_RETURNING,
        select(_IDENTITY.c.id).where(*_THE_IDENTITY).scalar_subquery(),
        select(_IDENTITY.c.address).where(*_THE_IDENTITY).scalar_subquery(),
        # RETURNING renders columns without their table, and a bare "id" inside the subquery would be the
        # identity's: the account's id is named in full.
        select(func.count()).where(_IDENTITY.c.account_id == literal_column("account.id")).scalar_subquery(),
    )
)
_REFRESH_KEEPING_USERNAME = _REFRESH.values(**_REFRESH_VALUES)
_REFRESH_WITH_USERNAME = _REFRESH.values(**_REFRESH_VALUES, username=bindparam("p_username"))
_CREATE = (
    insert(_ACCOUNT)
    .values(
        display_name=bindparam("p_display_name"),
        username=bindparam("p_username"),
        role=Role.CITIZEN.value,
        last_seen_at=bindparam("p_now"),
        created_at=bindparam("p_now"),
        updated_at=bindparam("p_now"),
    )
    .returning(*_RETURNING)
)


async def _refresh(
    session: AsyncSession, channel: str, external_id: str, name: str, username: str | None, now: dt.datetime
) -> tuple[AccountSnapshot, int, bool] | None:
    """The account of a known identity with its name and last-seen refreshed, the identity's address, and
    whether the account has other identities; None on first contact."""
    statement = _REFRESH_KEEPING_USERNAME if username is None else _REFRESH_WITH_USERNAME
    parameters = {
        "p_channel": channel,
        "p_external_id": external_id,
        "p_display_name": name,
        "p_username": username,
        "p_now": now,
    }
    row = (await session.execute(statement, parameters)).one_or_none()
    if row is None:
        return None
    *columns, identity_id, address, identities_count = row
    if address is None:
        address = identities.address_for(channel, identity_id, external_id)
    return AccountSnapshot(*columns), address, identities_count > 1


async def _create(session: AsyncSession, name: str, username: str | None, now: dt.datetime) -> AccountSnapshot:
    parameters = {"p_display_name": name, "p_username": username, "p_now": now}
    return AccountSnapshot(*(await session.execute(_CREATE, parameters)).one())


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
