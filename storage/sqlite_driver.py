"""SQLite through aiosqlite in one trip per statement.

aiosqlite runs SQLite in a thread of its own; every call crosses to that thread and back (a queue, a
future, a wake-up of the event loop: ~50 µs on the reference machine). SQLAlchemy's aiosqlite adapter
makes four crossings for each statement — open a cursor, execute, fetch the rows, close the cursor — so a
person's first message (three statements, a commit) cost fifteen and most of its time was spent crossing
(``bench/start_traffic.py``). This dialect is SQLAlchemy's own aiosqlite dialect with one change: a
statement's cursor, execution, rows, description, row count and last row id are done and read in **one**
crossing. Everything else (connections, transactions, the pool, server-side cursors for streaming) is
the stock dialect's.

``sqlite+aiosqlite://`` URLs are served by it (``storage.db.create_engine``). It relies on
``aiosqlite.Connection._execute`` (how aiosqlite itself queues every call since 0.17); when a future
aiosqlite lacks it, :data:`ONE_TRIP` is False and the stock cursor is used, and
``tests/test_sqlite_driver.py`` says so.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

ONE_TRIP = callable(getattr(aiosqlite.Connection, "_execute", None))
NAME = "sqlite.dienhinh_aiosqlite"  # registered in storage.db; the URL keeps saying sqlite+aiosqlite

T = TypeVar("T")
_Outcome = tuple[Any, int, int | None, list[Any] | None]


BEGIN = "BEGIN IMMEDIATE"


_Deferred = list[tuple[str, Any]]


def _run_deferred(connection: sqlite3.Connection, begin: bool, deferred: _Deferred, commit: bool = False) -> None:
    if begin:
        connection.execute(BEGIN)
    for operation, parameters in deferred:
        connection.execute(operation, parameters).close()
    if commit:
        connection.execute("COMMIT")


def _run_statement(
    connection: sqlite3.Connection, operation: str, parameters: Any, many: bool, begin: bool, deferred: _Deferred
) -> _Outcome:
    """In SQLite's thread: the transaction's BEGIN when it is the first statement, the writes deferred
    until now (``at_commit``), the whole statement, and everything SQLAlchemy reads from its cursor after."""
    _run_deferred(connection, begin, deferred)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A DBAPI cursor whose statement is one crossing to SQLite's thread; nothing is left open after it."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No aiosqlite cursor (its creation alone is a crossing): the statement makes and closes its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        return None  # nothing open in SQLite's thread: the rows are here already

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Sequence[Any] | Mapping[str, Any] | None = None) -> Any:
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if adapted.defer_next:
            # A write whose result nobody reads: it goes with the next crossing (see ``at_commit``).
            adapted.defer_next = False
            adapted.deferred.append((operation, () if parameters is None else parameters))
            self._description, self._rowcount, self._lastrowid, self._rows = None, -1, None, deque()
            return None
        try:
            return await_(self._one_trip(operation, () if parameters is None else parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._one_trip(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _one_trip(self, operation: str, parameters: Any, *, many: bool) -> None:
        driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            begin, adapted.begin_pending = adapted.begin_pending, False
            deferred, adapted.deferred = adapted.deferred, []
            outcome: _Outcome = await driver._execute(
                _run_statement, driver._conn, operation, parameters, many, begin, deferred
            )
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = deque(rows) if rows else deque()

    def nextset(self) -> None:
        return None  # one statement per execute in SQLite: there is never a next set


class OneTripStreamingCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """The stock server-side cursor (rows fetched as they are read), which begins a deferred transaction
    first: a streamed read may be a transaction's first statement."""

    __slots__ = ()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        adapted: OneTripConnection = self._adapt_connection  # type: ignore[assignment]
        if adapted.deferred or adapted.begin_pending:
            begin, adapted.begin_pending = adapted.begin_pending, False
            deferred, adapted.deferred = adapted.deferred, []
            driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            await driver._execute(_run_deferred, driver._conn, begin, deferred)
        return await super()._execute_async(operation, parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """The stock connection, whose transactions begin with their first statement, in the same crossing
    (``storage.db`` defers SQLAlchemy's BEGIN here); a transaction that ran no statement has nothing to
    commit or roll back and costs no crossing at all."""

    __slots__ = ("begin_pending", "defer_next", "deferred")
    _cursor_cls = OneTripCursor if ONE_TRIP else AsyncAdapt_aiosqlite_cursor  # type: ignore[assignment]
    _ss_cursor_cls = OneTripStreamingCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin_pending = False
        # at_commit: the next statement is held back, and the ones held back go with the next crossing.
        self.defer_next = False
        self.deferred: _Deferred = []

    def defer_begin(self) -> bool:
        """Begin with the next statement; False when this aiosqlite cannot (the caller begins now)."""
        if not ONE_TRIP:
            return False
        self.begin_pending = True
        return True

    def commit(self) -> None:
        if self.deferred:  # the writes held back, then COMMIT, in one crossing
            begin, self.begin_pending = self.begin_pending, False
            deferred, self.deferred = self.deferred, []
            driver: aiosqlite.Connection = self._connection  # type: ignore[assignment]
            try:
                await_(driver._execute(_run_deferred, driver._conn, begin, deferred, True))
            except Exception as error:
                self._handle_exception(error)
            return
        if self.begin_pending:  # no statement ran: no transaction was begun
            self.begin_pending = False
            return
        super().commit()

    def rollback(self) -> None:
        self.deferred = []
        if self.begin_pending:
            self.begin_pending = False
            return
        # The pool rolls back every connection it takes back, and nearly all of them committed already:
        # SQLite says whether a transaction is open (sqlite3_get_autocommit, safe from this thread while
        # nothing runs on the connection), so the crossing is made only when there is one to roll back.
        driver = self._connection._conn if self._connection._connection else None
        if driver is not None and not driver.in_transaction:
            return
        super().rollback()


async def run_procedure(connection: OneTripConnection, procedure: Callable[..., T], *args: Any) -> T:
    """``procedure(sqlite3_connection, *args)`` run in SQLite's thread, in one crossing, on a connection that
    is in no transaction (``connection`` comes straight from the pool): the procedure begins and ends its own
    transaction (``storage.first_contact``). Nothing else may use the connection meanwhile."""
    if connection.begin_pending:
        raise RuntimeError("a procedure cannot run inside a transaction SQLAlchemy began")
    driver: aiosqlite.Connection = connection._connection  # type: ignore[assignment]
    async with connection._execute_mutex:
        result: T = await driver._execute(procedure, driver._conn, *args)
    return result


async def at_commit(session: AsyncSession, statement: Any, parameters: dict[str, Any] | None = None) -> None:
    """Execute ``statement`` (a Core write on a Table whose result is not read: no RETURNING, no row count,
    nothing for the ORM to synchronise) as part of
    ``session``'s transaction, in the same crossing as the transaction's next statement or its COMMIT
    instead of a crossing of its own. Statements keep their order, and an error it causes surfaces at
    that next statement or the commit, which then fails as a whole. On any other engine it is executed
    at once."""
    connection = await session.connection()
    adapted = (await connection.get_raw_connection()).dbapi_connection
    if not ONE_TRIP or not isinstance(adapted, OneTripConnection):
        await session.execute(statement, parameters)
        return
    await session.flush()  # what the ORM has pending goes first, in its own statements
    adapted.defer_next = True
    try:
        await session.execute(statement, parameters)
    finally:
        adapted.defer_next = False


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


class OneTripDialect(SQLiteDialect_aiosqlite):
    """SQLAlchemy's aiosqlite dialect, one crossing to SQLite's thread per statement."""

    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDBAPI:
        return OneTripDBAPI(aiosqlite, sqlite3)


__all__ = ["NAME", "ONE_TRIP", "OneTripConnection", "OneTripCursor", "OneTripDialect", "at_commit", "run_procedure"]
