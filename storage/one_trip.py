"""A small unit of work in one trip to the database, for the few writes every update makes.

Through the ORM a write is a session, a BEGIN, the statement, a COMMIT: on SQLite three or four crossings to
aiosqlite's thread, on PostgreSQL three round trips, each with SQLAlchemy's work around it (about 1 ms on the
reference machine, ``bench/start_traffic.py``). The writes that run on nearly every update — meeting the
person who wrote (``storage.first_contact``) and storing a conversation's new state
(``storage.persistence``) — go here instead, as the same work in one trip:

- **SQLite**: a procedure runs in SQLite's own thread (``storage.sqlite_driver.run_procedure``) inside
  BEGIN IMMEDIATE … COMMIT (rolled back if it raises), so it holds the write lock from its first statement,
  like every transaction of ``storage.db``.
- **PostgreSQL**: one statement on asyncpg outside any explicit transaction: a statement is a transaction
  of its own, committed when it returns.

The connection comes from the engine's pool and goes back to it; :func:`run` returns :data:`UNAVAILABLE`
on an engine that cannot do this (the caller goes the ORM way).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from storage.db import Database
from storage.sqlite_driver import ONE_TRIP, OneTripConnection, run_procedure

T = TypeVar("T")


class _Unavailable:
    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Final = _Unavailable()


def _in_transaction(procedure: Callable[[sqlite3.Connection], T]) -> Callable[[sqlite3.Connection], T]:
    def transaction(connection: sqlite3.Connection) -> T:
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = procedure(connection)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        return result

    return transaction


async def run(
    database: Database,
    *,
    sqlite: Callable[[sqlite3.Connection], T],
    postgresql: Callable[[Any], Awaitable[T]],
) -> T | _Unavailable:
    """``sqlite(connection)`` in one transaction in SQLite's thread, or ``postgresql(asyncpg_connection)``
    (which must run one statement, or several that need no transaction together); committed on return."""
    dialect = database.engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return UNAVAILABLE
    async with database.engine.connect() as connection:
        pooled = await connection.get_raw_connection()
        if dialect == "postgresql":
            return await postgresql(pooled.driver_connection)
        adapted = pooled.dbapi_connection
        if not ONE_TRIP or not isinstance(adapted, OneTripConnection):
            return UNAVAILABLE
        return await run_procedure(adapted, _in_transaction(sqlite))


def time_bound(database: Database, column: Any) -> Callable[[Any], Any]:
    """How ``column``'s type sends a value to this database's driver (SQLite: the text SQLAlchemy writes
    for a time; PostgreSQL: asyncpg takes the value itself)."""
    processor = column.type.bind_processor(database.engine.dialect)
    return processor if processor is not None else (lambda value: value)


__all__ = ["UNAVAILABLE", "run", "time_bound"]
