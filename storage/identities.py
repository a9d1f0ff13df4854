"""The SQL of channel identities: find, refresh and create them, and read an address back.

See ``rules.identities`` for what an identity and its address are. Callers own the transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rules.identities import TELEGRAM, address_for
from storage.db import insert_for
from storage.models import ChannelIdentity


@dataclass(frozen=True)
class Identity:
    id: int
    account_id: int
    channel: str
    external_id: str
    address: int


def _identity(row: Any) -> Identity:
    identity_id, account_id, channel, external_id, address = row
    # Only the statement after a non-Telegram identity's INSERT sees it without its address.
    return Identity(
        identity_id,
        account_id,
        channel,
        external_id,
        address_for(channel, identity_id, external_id) if address is None else address,
    )


_COLUMNS = (
    ChannelIdentity.id,
    ChannelIdentity.account_id,
    ChannelIdentity.channel,
    ChannelIdentity.external_id,
    ChannelIdentity.address,
)


# First contact and a returning person's first update after a restart are the hot path of a campaign's
# opening day: the statements are built once (Core, bound parameters) instead of on every call, which
# halves what SQLAlchemy spends on each (``bench/start_traffic.py``).
_TABLE = cast(Table, ChannelIdentity.__table__)
_TOUCH = (
    update(_TABLE)
    .where(_TABLE.c.channel == bindparam("p_channel"), _TABLE.c.external_id == bindparam("p_external_id"))
    .values(display_name=bindparam("p_display_name"), last_seen_at=bindparam("p_now"))
    .returning(_TABLE.c.id, _TABLE.c.account_id, _TABLE.c.channel, _TABLE.c.external_id, _TABLE.c.address)
)
_SET_ADDRESS = update(_TABLE).where(_TABLE.c.id == bindparam("p_identity_id")).values(address=bindparam("p_address"))


@cache
def _create_statement(dialect_name: str) -> Any:
    return (
        insert_for(dialect_name)(_TABLE)
        .values(
            account_id=bindparam("p_account_id"),
            channel=bindparam("p_channel"),
            external_id=bindparam("p_external_id"),
            address=bindparam("p_address"),
            display_name=bindparam("p_display_name"),
            created_at=bindparam("p_now"),
            last_seen_at=bindparam("p_now"),
        )
        .on_conflict_do_nothing(index_elements=[_TABLE.c.channel, _TABLE.c.external_id])
        .returning(_TABLE.c.id)
    )


async def touch(
    session: AsyncSession, *, channel: str, external_id: str, display_name: str, now: dt.datetime
) -> Identity | None:
    """The identity, with its name and last-seen time refreshed (one statement); None on first contact."""
    parameters = {"p_channel": channel, "p_external_id": external_id, "p_display_name": display_name, "p_now": now}
    row = (await session.execute(_TOUCH, parameters)).one_or_none()
    return _identity(row) if row is not None else None


async def create(
    session: AsyncSession,
    *,
    account_id: int,
    channel: str,
    external_id: str,
    display_name: str,
    now: dt.datetime,
) -> Identity | None:
    """A new identity of ``account_id``; None when another process created it first (the caller retries)."""
    address = address_for(channel, 0, external_id) if channel == TELEGRAM else None
    parameters = {
        "p_account_id": account_id,
        "p_channel": channel,
        "p_external_id": external_id,
        "p_address": address,
        "p_display_name": display_name,
        "p_now": now,
    }
    statement = _create_statement(session.get_bind().dialect.name)
    identity_id = (await session.execute(statement, parameters)).scalar_one_or_none()
    if identity_id is None:
        return None
    if address is None:
        # The address of a non-Telegram identity is made from its id, known only now.
        address = address_for(channel, identity_id, external_id)
        await session.execute(_SET_ADDRESS, {"p_identity_id": identity_id, "p_address": address})
    return Identity(identity_id, account_id, channel, external_id, address)


async def at_address(session: AsyncSession, address: int) -> Identity | None:
    row = (await session.execute(select(*_COLUMNS).where(ChannelIdentity.address == address))).one_or_none()
    return _identity(row) if row is not None else None


async def of_account(session: AsyncSession, account_id: int) -> list[Identity]:
    """The account's identities, the most recently used first (where the bot writes to it)."""
    rows = await session.execute(
        select(*_COLUMNS)
        .where(ChannelIdentity.account_id == account_id)
        .order_by(ChannelIdentity.last_seen_at.desc().nulls_last(), ChannelIdentity.id.desc())
    )
    return [_identity(row) for row in rows.all()]


def preferred(account_id: object) -> Select[str, int | None]:
    """A SELECT of the (channel, address) the bot writes to for ``account_id`` (a value or a column)."""
    return (
        select(ChannelIdentity.channel, ChannelIdentity.address)
        .where(ChannelIdentity.account_id == account_id, ChannelIdentity.address.is_not(None))
        .order_by(ChannelIdentity.last_seen_at.desc().nulls_last(), ChannelIdentity.id.desc())
        .limit(1)
    )


__all__ = ["Identity", "at_address", "create", "of_account", "preferred", "touch"]
