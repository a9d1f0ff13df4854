"""The embedded database is configured for a bot: WAL, foreign keys enforced, waiting instead of failing."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

import storage.db
from storage.db import Database
from storage.models import Account, Base
from tests.people import telegram_identities


@pytest.mark.sqlite_only
async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(database):
    async with database.transaction() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000


async def test_a_broken_reference_is_refused_and_nothing_is_half_saved(database):
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(Account(identities=telegram_identities(1), display_name="Lan"))
            session.add(Account(identities=telegram_identities(2), display_name="Minh", unit_id=424242))
    async with database.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM account"))).scalar() == 0


@pytest.mark.sqlite_only
async def test_a_transaction_takes_the_write_lock_up_front_and_a_held_lock_is_a_clear_error(database_url, monkeypatch):
    # BEGIN IMMEDIATE goes to the driver directly; it must still lock at once, and a busy database must
    # still surface as SQLAlchemy's OperationalError, with the pooled connection usable afterwards.
    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 100)
    database = Database(database_url)
    path = database_url.split("///", 1)[1]
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with database.transaction() as session:
            # Inside our transaction another connection can no longer write.
            await session.execute(text("SELECT 1"))
            other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            other.close()

        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="locked"):
            async with database.transaction() as session:
                await session.execute(text("SELECT 1"))
        holder.execute("ROLLBACK")
        holder.close()

        async with database.transaction() as session:
            session.add(Account(identities=telegram_identities(7), display_name="Lan"))
        async with database.transaction() as session:
            assert (await session.execute(text("SELECT count(*) FROM account"))).scalar() == 1
    finally:
        await database.dispose()
