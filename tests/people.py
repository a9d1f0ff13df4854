"""Accounts for tests that need someone to address: a person is an account with a Telegram identity."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import accounts
from storage.db import Database
from storage.models import Account, ChannelIdentity


async def telegram_account(
    session: AsyncSession, telegram_id: int, name: str | None = None, *, now: dt.datetime | None = None
) -> int:
    """The id of the account whose Telegram id is ``telegram_id`` (made the first time it is asked for)."""
    contact = await accounts.ensure_account(
        session,
        channel="telegram",
        external_id=str(telegram_id),
        display_name=name or f"Người {telegram_id}",
        now=now or dt.datetime.now(dt.UTC),
    )
    return contact.account.id


async def account_at(session: AsyncSession, address: int) -> Account | None:
    """The account whose identity has this address (a Telegram id, or a Zalo person's address)."""
    return await session.scalar(select(Account).join(ChannelIdentity).where(ChannelIdentity.address == address))


def telegram_identities(telegram_id: int | None) -> list[ChannelIdentity]:
    """``identities=`` for an ``Account(...)`` built by hand: its Telegram identity (none for None)."""
    if telegram_id is None:
        return []
    return [ChannelIdentity(channel="telegram", external_id=str(telegram_id), address=telegram_id)]


def reached_at(address: int) -> ColumnElement[bool]:
    """A WHERE clause for the account whose identity has this address: ``select(Account).where(reached_at(5005))``."""
    return Account.id.in_(select(ChannelIdentity.account_id).where(ChannelIdentity.address == address))


async def account_id_at(database: Database, address: int) -> int | None:
    """The id of the account reached at this address (Telegram id or channel address), if any."""
    async with database.transaction() as session:
        return await session.scalar(select(ChannelIdentity.account_id).where(ChannelIdentity.address == address))
