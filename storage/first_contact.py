"""Meeting a person: their account refreshed, or made with its channel identity, in one trip to the database.

Every message from someone the process has not seen for a while starts here (``rules.accounts.meet``), and
on a campaign's opening day most of them are first contacts. Through the ORM that is a session, a refresh
that finds nobody, two INSERTs and a commit: five crossings to SQLite's thread (or round trips to
PostgreSQL), each with SQLAlchemy's work around it, about 1 ms on the reference machine. Here it is one:

- **SQLite**: a short procedure runs in SQLite's own thread (``storage.one_trip``): BEGIN IMMEDIATE, the
  refresh, on a miss the two INSERTs (and the address of a non-Telegram identity), COMMIT. The write lock is held from the start, so two processes meeting the same person queue and the
  second one finds the first one's rows.
- **PostgreSQL**: one statement outside any explicit transaction (a statement is its own transaction). Its
  CTEs refresh the account of a known identity or, when there is none, draw the two ids from their
  sequences and insert the identity first and the account from the identity's RETURNING: when another
  process inserted the same identity meanwhile, ON CONFLICT inserts neither row and the statement returns
  nothing, and the caller asks again (it then finds that process's rows). The ON CONFLICT names no
  constraint: a Telegram identity's address is its user id, and the racing insert may trip over the
  address's unique index before the (channel, external_id) one (20 messages at once from 5 people did). The foreign key is checked at
  the end of the statement, when both rows are there.

Either way the rows are committed when this returns, as every step a person takes is. The SQL is written
out here (it is the hot path and has two dialects); ``tests/test_first_contact.py`` checks that it
stores what ``rules.accounts.ensure_account`` stores.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table

from rules.identities import ADDRESS_BASE, TELEGRAM, address_for
from storage import one_trip
from storage.db import Database
from storage.models import Account


@dataclass(frozen=True)
class Met:
    """Who the person is now: the account's columns the bot keeps per person, the identity, and whether the
    account was made just now."""

    account: tuple[int, str, str, str | None, int | None]  # id, display_name, role, locale, unit_id
    identity_id: int
    address: int
    created: bool


# --- SQLite ----------------------------------------------------------------------------------------------

_SQLITE_REFRESH = """
UPDATE account SET display_name = :name, username = COALESCE(:username, username), bot_blocked_at = NULL,
    last_seen_at = :now, updated_at = :now
WHERE id = (SELECT account_id FROM channel_identity WHERE channel = :channel AND external_id = :external_id)
RETURNING id, display_name, role, locale, unit_id,
    (SELECT id FROM channel_identity WHERE channel = :channel AND external_id = :external_id),
    (SELECT address FROM channel_identity WHERE channel = :channel AND external_id = :external_id),
    (SELECT count(*) FROM channel_identity WHERE account_id = account.id)
"""
_SQLITE_TOUCH = """
UPDATE channel_identity SET display_name = :name, last_seen_at = :now
WHERE channel = :channel AND external_id = :external_id
"""
_SQLITE_CREATE_ACCOUNT = """
INSERT INTO account (display_name, username, role, last_seen_at, created_at, updated_at)
VALUES (:name, :username, 'citizen', :now, :now, :now)
RETURNING id, display_name, role, locale, unit_id
"""
_SQLITE_CREATE_IDENTITY = """
INSERT INTO channel_identity (account_id, channel, external_id, address, display_name, created_at, last_seen_at)
VALUES (:account_id, :channel, :external_id, :address, :name, :now, :now)
RETURNING id
"""
_SQLITE_SET_ADDRESS = "UPDATE channel_identity SET address = :address WHERE id = :identity_id"


def _sqlite_meet(connection: sqlite3.Connection, parameters: dict[str, Any]) -> Met:
    """In SQLite's thread, in a transaction that holds the write lock from its first statement."""
    row = connection.execute(_SQLITE_REFRESH, parameters).fetchone()
    channel, external_id = parameters["channel"], parameters["external_id"]
    if row is not None:
        *account, identity_id, address, identities = row
        if identities > 1:  # which identity was used last is where the bot writes to the account
            connection.execute(_SQLITE_TOUCH, parameters)
        if address is None:
            address = address_for(channel, identity_id, external_id)
        return Met(tuple(account), identity_id, address, created=False)
    account = connection.execute(_SQLITE_CREATE_ACCOUNT, parameters).fetchone()
    address = address_for(channel, 0, external_id) if channel == TELEGRAM else None
    (identity_id,) = connection.execute(
        _SQLITE_CREATE_IDENTITY, {**parameters, "account_id": account[0], "address": address}
    ).fetchone()
    if address is None:  # another channel's address is made from the identity's id
        address = address_for(channel, identity_id, external_id)
        connection.execute(_SQLITE_SET_ADDRESS, {"address": address, "identity_id": identity_id})
    return Met(tuple(account), identity_id, address, created=True)


# --- PostgreSQL ------------------------------------------------------------------------------------------

_POSTGRES_MEET = """
WITH found AS (
    SELECT id, account_id, address FROM channel_identity WHERE channel = $1 AND external_id = $2
), refreshed AS (
    UPDATE account SET display_name = $3, username = COALESCE($4, account.username), bot_blocked_at = NULL,
        last_seen_at = $5, updated_at = $5
    FROM found WHERE account.id = found.account_id
    RETURNING account.id, account.display_name, account.role, account.locale, account.unit_id,
        found.id AS identity_id, found.address
), touched AS (
    UPDATE channel_identity SET display_name = $3, last_seen_at = $5
    FROM refreshed
    WHERE channel_identity.id = refreshed.identity_id
        AND EXISTS (SELECT 1 FROM channel_identity other
                    WHERE other.account_id = refreshed.id AND other.id <> refreshed.identity_id)
    RETURNING channel_identity.id
), fresh AS (
    SELECT nextval(pg_get_serial_sequence('account', 'id'))::integer AS account_id,
        nextval(pg_get_serial_sequence('channel_identity', 'id'))::integer AS identity_id
    WHERE NOT EXISTS (SELECT 1 FROM found)
), new_identity AS (
    INSERT INTO channel_identity (id, account_id, channel, external_id, address, display_name, created_at,
        last_seen_at)
    SELECT identity_id, account_id, $1, $2, COALESCE($6::bigint, $7::bigint + identity_id), $3, $5, $5 FROM fresh
    ON CONFLICT DO NOTHING
    RETURNING id, account_id, address
), new_account AS (
    INSERT INTO account (id, display_name, username, role, last_seen_at, created_at, updated_at)
    SELECT account_id, $3, $4, 'citizen', $5, $5, $5 FROM new_identity
    RETURNING id, display_name, role, locale, unit_id
)
SELECT id, display_name, role, locale, unit_id, identity_id, address, false AS created FROM refreshed
UNION ALL
SELECT a.id, a.display_name, a.role, a.locale, a.unit_id, i.id, i.address, true
FROM new_account a JOIN new_identity i ON i.account_id = a.id
"""


async def _postgres_meet(driver: Any, parameters: dict[str, Any]) -> Met | None:
    channel, external_id = parameters["channel"], parameters["external_id"]
    telegram_address = address_for(channel, 0, external_id) if channel == TELEGRAM else None
    row = await driver.fetchrow(
        _POSTGRES_MEET,
        channel,
        external_id,
        parameters["name"],
        parameters["username"],
        parameters["now"],
        telegram_address,
        ADDRESS_BASE,
    )
    if row is None:
        return None  # another process made this identity at the same moment: the caller asks again
    *account, identity_id, address, created = tuple(row)
    if address is None:
        address = address_for(channel, identity_id, external_id)
    return Met(tuple(account), identity_id, address, created)


# --- both ------------------------------------------------------------------------------------------------

_ACCOUNT = cast(Table, Account.__table__)
ATTEMPTS = 3


async def meet(
    database: Database,
    *,
    channel: str,
    external_id: str,
    display_name: str,
    username: str | None,
    now: dt.datetime,
) -> Met | None:
    """The person behind ``(channel, external_id)``, their name and last-seen refreshed, their account made on
    first contact, committed in one trip; None when this engine cannot do it in one (the caller goes the
    ORM way). ``display_name`` is already cleaned and cut to the column's length."""
    parameters: dict[str, Any] = {
        "channel": channel,
        "external_id": external_id,
        "name": display_name,
        "username": username,
        "now": one_trip.time_bound(database, _ACCOUNT.c.last_seen_at)(now),
    }
    for _ in range(ATTEMPTS):
        met = await one_trip.run(
            database,
            sqlite=lambda connection: _sqlite_meet(connection, parameters),
            postgresql=lambda connection: _postgres_meet(connection, parameters),
        )
        if met is one_trip.UNAVAILABLE:
            return None
        if met is not None:
            return cast(Met, met)
    raise RuntimeError("could not create the account of a channel identity")  # pragma: no cover


__all__ = ["Met", "meet"]
