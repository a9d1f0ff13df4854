"""Engine and session factory.

SQLite is the embedded default (WAL, foreign keys on, busy timeout); PostgreSQL through asyncpg is the
production database. Callers own their transaction: ``async with database.transaction() as session``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql, registry, sqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

import storage.audit_chain  # noqa: F401  (links every audit entry into the chain when it is flushed)
from storage.sqlite_driver import OneTripConnection

SQLITE_BUSY_TIMEOUT_MS = 10_000

# sqlite+aiosqlite URLs are served by storage.sqlite_driver: one crossing to SQLite's thread per statement.
registry.register("sqlite.dienhinh_aiosqlite", "storage.sqlite_driver", "OneTripDialect")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def insert_for(dialect_name: str) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL have it)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # isolation_level=None hands transaction control to SQLAlchemy's BEGIN (see the "begin" listener),
    # so a write transaction takes the lock up front instead of failing to upgrade it later.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A deleted row's bytes are overwritten with zeros, not left in a free page: what retention or an
    # erasure deletes is gone from the file (see Database.empty_log for the write-ahead log).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # BEGIN IMMEDIATE: writers queue on the busy timeout rather than deadlocking on lock upgrade.
    # It goes straight to aiosqlite, one trip to its thread; exec_driver_sql would open a cursor, execute
    # and close it, three trips (~0.15 ms here), and this runs before every SQLite transaction.
    adapted = conn.connection.dbapi_connection
    if isinstance(adapted, OneTripConnection) and adapted.defer_begin():
        return  # sent with the transaction's first statement, in the same trip (storage.sqlite_driver)
    run_async = getattr(adapted, "run_async", None)
    if run_async is None:  # a synchronous pysqlite engine
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    try:
        run_async(lambda driver: driver.execute("BEGIN IMMEDIATE"))
    except sqlite3.Error as error:
        # The same error class a statement would raise (a busy database after the timeout, say).
        raise exc.OperationalError("BEGIN IMMEDIATE", None, error) from error


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url`` with the project's connection settings."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.drivername == "sqlite+aiosqlite":
            parsed = parsed.set(drivername="sqlite+dienhinh_aiosqlite")
        engine = create_async_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.driver == "asyncpg":
        engine.dialect.do_ping = _asyncpg_ping  # type: ignore[method-assign]
        event.listen(engine.sync_engine, "checkin", _returned)
        event.listen(engine.sync_engine, "close", _gone)
        event.listen(engine.sync_engine, "invalidate", _gone)
    return engine


# A connection given back to the pool this recently is lent again without a ping (HikariCP's
# aliveBypassWindowMs, 500 ms by default, for the same reason): under traffic every checkout would otherwise
# cost a round trip, and one that died in this half second fails its statement, which invalidates the pool.
PING_BYPASS_SECONDS = 0.5
# When each pooled connection was given back, by id (the driver's connection takes no attributes); a
# connection closed or invalidated is forgotten, so no new one is taken for it.
_returned_at: dict[int, float] = {}


def _returned(dbapi_connection: Any, _record: Any) -> None:
    if dbapi_connection is not None:
        _returned_at[id(dbapi_connection)] = time.monotonic()


def _gone(dbapi_connection: Any, *_record_and_exception: Any) -> None:
    _returned_at.pop(id(dbapi_connection), None)


def _asyncpg_ping(dbapi_connection: Any) -> bool:
    """The pool's check of a connection before lending it: none for one given back a moment ago, else one
    round trip.

    SQLAlchemy's asyncpg ping wraps its ``;`` in a transaction it opens and rolls back, for PgBouncer's
    transaction mode (sqlalchemy#10226): three round trips before every checkout, a third of an RSVP press's
    trips. The bot talks to PostgreSQL itself (PgBouncer's transaction mode would break asyncpg's prepared
    statements anyway), so outside a transaction the ``;`` goes alone; inside one, SQLAlchemy's own ping."""
    from sqlalchemy.util.concurrency import await_

    returned = _returned_at.get(id(dbapi_connection))
    if returned is not None and time.monotonic() - returned < PING_BYPASS_SECONDS:
        return True
    if getattr(dbapi_connection, "_transaction", None) is not None:
        dbapi_connection.ping()
        return True
    try:
        await_(dbapi_connection._connection.fetchrow(";"))
    except Exception as error:
        dbapi_connection._handle_exception(error)
    return True


class Database:
    """One engine and its session factory; the single way code gets a session."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed when the block ends, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def empty_log(self) -> None:
        """On SQLite, copy the write-ahead log into the database file and empty it, so the rows a purge or
        an erasure just deleted leave no earlier copy of their pages in the ``-wal`` file; best effort (a
        reader still in the log keeps it). On PostgreSQL nothing: its space goes back through autovacuum."""
        if self.dialect != "sqlite":
            return
        async with self.engine.connect() as connection:
            # Straight to the driver: a checkpoint cannot run inside the transaction SQLAlchemy would begin.
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            # The pragma answers with a row: read it and close the cursor, or the statement stays "in
            # progress" on this pooled connection and the next COMMIT made on it fails (make fuzz found it:
            # an /erase, then the conversation's one-trip write on the same connection).
            async with driver.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cursor:
                await cursor.fetchall()

    async def dispose(self) -> None:
        await self.engine.dispose()
