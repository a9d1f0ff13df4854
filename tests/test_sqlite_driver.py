"""SQLite in one crossing per statement (storage.sqlite_driver): fewer trips, the same results.

The crossings are counted on aiosqlite's own queue (``Connection._execute``), which every call to SQLite's
thread goes through.
"""

from __future__ import annotations

import datetime as dt

import aiosqlite
import pytest
from sqlalchemy import func, insert, select, text

from rules import accounts
from rules.identities import TELEGRAM
from storage import sqlite_driver
from storage.db import Database
from storage.models import Account, Base, ChannelIdentity

NOW = dt.datetime(2020, 3, 1, 8, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def crossings(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to SQLite's thread, in order."""
    sent: list[str] = []
    original = aiosqlite.Connection._execute

    async def counting(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counting)
    return sent


def test_the_pinned_aiosqlite_takes_a_statement_in_one_crossing(database_url):
    assert sqlite_driver.ONE_TRIP, "aiosqlite lost Connection._execute: statements take four crossings again"
    database = Database(database_url)
    assert isinstance(database.engine.dialect, sqlite_driver.OneTripDialect)
    assert database.engine.url.drivername == "sqlite+dienhinh_aiosqlite"


async def test_a_first_contact_is_four_crossings_and_a_returning_person_two(database, crossings):
    async with database.transaction() as db:  # a connection in the pool, its pragmas set
        await db.execute(text("SELECT 1"))
    crossings.clear()

    async with database.transaction() as db:
        await accounts.ensure_account(db, channel=TELEGRAM, external_id="7", display_name="Lan", now=NOW)
    # The identity missed (with BEGIN IMMEDIATE), the account, the identity, COMMIT; no rollback after it.
    assert len(crossings) == 4, crossings

    crossings.clear()
    async with database.transaction() as db:
        again = await accounts.ensure_account(db, channel=TELEGRAM, external_id="7", display_name="Lan", now=NOW)
    assert len(crossings) == 2, crossings  # BEGIN with the one UPDATE … RETURNING, then COMMIT
    assert again.account.display_name == "Lan"


async def test_a_failed_transaction_is_still_rolled_back(database, crossings):
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            await db.execute(
                insert(Account).values(display_name="Hùng", role="citizen", created_at=NOW, updated_at=NOW)
            )
            raise RuntimeError("the handler failed after the insert")
    assert "rollback" in crossings
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Account)) == 0


async def test_rows_counts_many_rows_and_streaming_read_as_before(database):
    rows = [{"display_name": f"Người {n}", "role": "citizen", "created_at": NOW, "updated_at": NOW} for n in range(120)]
    async with database.transaction() as db:
        await db.execute(insert(Account), rows)  # executemany
        changed = await db.execute(Account.__table__.update().where(Account.id > 100).values(locale="en"))
        assert changed.rowcount == 20
    async with database.transaction() as db:
        names = (await db.scalars(select(Account.display_name).order_by(Account.id))).all()
        streamed = [row async for row in await db.stream_scalars(select(Account.id).order_by(Account.id))]
        empty = (await db.execute(select(ChannelIdentity))).all()
    assert names[0] == "Người 0" and names[-1] == "Người 119" and len(names) == 120
    assert streamed == list(range(1, 121))
    assert empty == []


async def test_an_sql_error_is_the_usual_sqlalchemy_error(database_url):
    from sqlalchemy.exc import OperationalError

    database = Database(database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        with pytest.raises(OperationalError, match="no such table"):
            async with database.transaction() as db:
                await db.execute(text("SELECT * FROM nowhere"))
    finally:
        await database.dispose()


async def _in_transaction(db) -> bool:  # type: ignore[no-untyped-def]
    raw = await (await db.connection()).get_raw_connection()
    return bool(raw.driver_connection._conn.in_transaction)


async def test_a_transaction_begins_with_its_first_statement_read_or_streamed(database, crossings):
    async with database.transaction() as db:
        await db.execute(text("SELECT 1"))
    crossings.clear()
    async with database.transaction() as db:
        pass  # nothing ran: nothing to begin, commit or roll back
    assert crossings == []

    async with database.transaction() as db:
        await db.execute(select(func.count()).select_from(Account))
        assert await _in_transaction(db)  # BEGIN IMMEDIATE went with the read: the write lock is held
    async with database.transaction() as db:
        assert [n async for n in await db.stream_scalars(select(Account.id))] == []
        assert await _in_transaction(db)
        await db.execute(insert(Account).values(display_name="Lan", role="citizen", created_at=NOW, updated_at=NOW))
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Account)) == 1


async def _accounts(database: Database) -> list[tuple[str, str | None]]:
    async with database.transaction() as db:
        return [tuple(row) for row in (await db.execute(select(Account.display_name, Account.locale))).all()]


async def test_a_write_at_commit_goes_with_the_commit_in_one_crossing(database, crossings):
    async with database.transaction() as db:
        await db.execute(insert(Account).values(display_name="Lan", role="citizen", created_at=NOW, updated_at=NOW))
    crossings.clear()

    table = Account.__table__
    async with database.transaction() as db:
        await sqlite_driver.at_commit(db, table.update().values(locale="en"))
        await sqlite_driver.at_commit(db, table.update().values(display_name="Lan Nguyễn"))
        assert crossings == []  # nothing sent yet
    assert crossings == ["_run_deferred"]  # BEGIN, both writes and COMMIT in one
    assert await _accounts(database) == [("Lan Nguyễn", "en")]


async def test_a_write_at_commit_is_seen_by_the_next_statement_of_its_transaction(database, crossings):
    table = Account.__table__
    async with database.transaction() as db:
        await db.execute(insert(Account).values(display_name="Hùng", role="citizen", created_at=NOW, updated_at=NOW))
        crossings.clear()
        await sqlite_driver.at_commit(db, table.update().values(locale="vi"))
        seen = await db.scalar(select(Account.locale))
        assert len(crossings) == 1  # the held-back write went first, in the read's crossing
    assert seen == "vi"


async def test_a_write_at_commit_is_dropped_with_a_rollback_and_fails_its_commit(database):
    table = Account.__table__
    with pytest.raises(RuntimeError):
        async with database.transaction() as db:
            await db.execute(insert(Account).values(display_name="Mai", role="citizen", created_at=NOW, updated_at=NOW))
            await sqlite_driver.at_commit(db, table.update().values(locale="en"))
            raise RuntimeError("the handler failed")
    assert await _accounts(database) == []

    with pytest.raises(Exception, match="FOREIGN KEY"):
        async with database.transaction() as db:
            await db.execute(insert(Account).values(display_name="Mai", role="citizen", created_at=NOW, updated_at=NOW))
            await sqlite_driver.at_commit(db, table.update().values(unit_id=999))  # no such unit
    assert await _accounts(database) == []  # nothing half-saved
