"""What every benchmark shares: its error, where results go, the database it runs on, the JSON, ``main``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
import telegram
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from telegram.warnings import PTBUserWarning

RESULTS_DIR = Path(__file__).resolve().parent / "results"

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class Aim:
    """One aim of issue 11 as measured: ``python -m bench`` gathers each module's ``aims(result)`` into the
    closing table, so every figure is printed with "ok" or its gap beside the database it ran on."""

    figure: str
    aim: str
    measured: str
    met: bool
    gap: str = ""
    database: str = ""

    def verdict(self) -> str:
        return "ok" if self.met else f"gap {self.gap}".strip()


class DriverTrips:
    """What an engine's driver does below SQLAlchemy, so a figure counts what reaches the database and not
    only what passes through SQLAlchemy's events (``storage.first_contact`` talks to the driver directly).

    ``statements``: the SQL SQLite ran (its trace callback; BEGIN, COMMIT and ROLLBACK are left out and
    counted as ``transactions``); on PostgreSQL, what went through SQLAlchemy's cursor plus nothing else (the
    server is not traced). ``trips``: crossings to SQLite's thread, or messages written to PostgreSQL's
    socket (asyncpg writes a statement's parse, bind, execute and sync as one), each a wait for an answer.
    """

    def __init__(self, engine: Any) -> None:
        self.statements: list[str] = []
        self.transactions = 0
        self.trips = 0
        self.sqlite = engine.dialect.name == "sqlite"
        sync_engine = engine.sync_engine
        if self.sqlite:
            sqlalchemy.event.listen(sync_engine, "connect", self._trace)
        else:
            sqlalchemy.event.listen(sync_engine, "before_cursor_execute", self._cursor)
        self._patched: list[tuple[Any, str, Any]] = []

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        from sqlalchemy.util.concurrency import await_

        await_(dbapi_connection._connection.set_trace_callback(self._statement))

    def _statement(self, statement: str) -> None:
        if statement.split(None, 1)[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK"):
            self.transactions += 1
        elif not statement.startswith("PRAGMA"):
            self.statements.append(statement)

    def _cursor(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self._statement(statement)

    def clear(self) -> None:
        self.statements.clear()
        self.transactions = 0
        self.trips = 0

    def __enter__(self) -> DriverTrips:
        if self.sqlite:
            import aiosqlite

            self._wrap(aiosqlite.Connection, "_execute")
        else:
            import asyncio.selector_events

            self._wrap(asyncio.selector_events._SelectorSocketTransport, "write")  # type: ignore[attr-defined]
        return self

    def _wrap(self, owner: Any, name: str) -> None:
        original = getattr(owner, name)
        counter = self

        if asyncio.iscoroutinefunction(original):

            async def counted(*args: Any, **kwargs: Any) -> Any:
                counter.trips += 1
                return await original(*args, **kwargs)
        else:

            def counted(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
                counter.trips += 1
                return original(*args, **kwargs)

        setattr(owner, name, counted)
        self._patched.append((owner, name, original))

    def __exit__(self, *_: object) -> None:
        for owner, name, original in reversed(self._patched):
            setattr(owner, name, original)
        self._patched.clear()


def aim_table(rows: Sequence[Aim]) -> str:
    """The closing table of ``python -m bench``: figure, aim, measured, ok or the gap, and the database."""
    header = ("figure", "aim", "measured", "ok / gap", "database")
    cells = [header, *((row.figure, row.aim, row.measured, row.verdict(), row.database) for row in rows)]
    widths = [max(len(cell[column]) for cell in cells) for column in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(cells[0], widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)).rstrip() for cell in cells[1:]]
    met = sum(row.met for row in rows)
    lines.append(f"{met} of {len(rows)} aims met")
    return "\n".join(lines)


class LoopLag:
    """How long the event loop was kept from running other tasks, two ways.

    - ``take()``: a ticker task sleeps ``interval`` seconds again and again and records how late it woke —
      the worst delay since the last ``take()``: the time one piece of work held the loop, plus whatever
      the machine did meanwhile (another process on the core, the GIL held by a worker thread).
    - ``take_step()``: the longest single step the loop ran (one callback: a task running up to its next
      ``await``) since the last ``take_step()``, in the loop thread's CPU time, which the machine's other
      work does not inflate.

        async with LoopLag() as lag:
            await call()
            worst, step = lag.take(), lag.take_step()
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.worst = 0.0
        self.longest_step = 0.0
        self._task: asyncio.Task[None] | None = None
        self._run = asyncio.events.Handle._run

    async def __aenter__(self) -> LoopLag:
        run, lag = self._run, self

        def timed_run(handle: asyncio.events.Handle) -> None:
            started = time.thread_time()
            try:
                run(handle)
            finally:
                lag.longest_step = max(lag.longest_step, time.thread_time() - started)

        asyncio.events.Handle._run = timed_run  # type: ignore[method-assign,assignment]
        self._task = asyncio.create_task(self._tick())
        await asyncio.sleep(self.interval * 2)
        self.take()
        self.take_step()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, loop.time() - due)

    def take(self) -> float:
        """The ticker's worst delay in seconds since the last call (and start again from 0)."""
        worst, self.worst = self.worst, 0.0
        return worst

    def take_step(self) -> float:
        """The longest step's CPU seconds since the last call (and start again from 0)."""
        longest, self.longest_step = self.longest_step, 0.0
        return longest


class BenchError(Exception):
    """A benchmark could not measure what it claims (wrong or missing replies, nothing sent, …): it fails
    rather than report a figure."""


def quiet() -> None:
    """Only warnings and errors from the libraries; no PTB advice about ConversationHandler settings."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=PTBUserWarning)


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` as the asyncpg driver's URL, so a plain server URL can be passed on the command line."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@contextmanager
def database_url(given: str | None, prefix: str, file_name: str) -> Iterator[str]:
    """``given``, or else a fresh SQLite file in a temporary directory that is removed afterwards."""
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield f"sqlite+aiosqlite:///{directory}/{file_name}"


@asynccontextmanager
async def fresh_database(server: str | None, name: str) -> AsyncIterator[str]:
    """The URL of an empty database for one benchmark, removed afterwards: a new database named after the
    bench on the PostgreSQL server ``server`` (any database URL on it; the new one is dropped at the end),
    or, without a server, a SQLite file in a temporary directory (a SQLite URL given is used as it is)."""
    if not server:
        with database_url(None, f"dienhinh-{name}-bench-", f"{name}.sqlite3") as url:
            yield url
        return
    if make_url(server).get_backend_name() == "sqlite":  # a file asked for by name: used as it is
        yield server
        return
    server = asyncpg_url(server)
    database = f"bench_{name}_{uuid.uuid4().hex[:12]}"
    await _admin(server, f'CREATE DATABASE "{database}"')
    try:
        yield make_url(server).set(database=database).render_as_string(hide_password=False)
    finally:
        await _admin(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def describe_database(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "sqlite (fresh file in a temporary directory)"
    return parsed.render_as_string(hide_password=True)


def machine() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_telegram_bot": telegram.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }


def write_json(result: dict[str, Any], json_path: Path | None, file_name: str) -> None:
    """Write ``result`` to ``json_path`` (default: ``file_name`` in bench/results/) and note where in it."""
    path = json_path or RESULTS_DIR / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    result["json_path"] = str(path)


def main(
    argv: Sequence[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    options_from: Callable[[argparse.Namespace], OptionsT],
    run: Callable[[OptionsT], Coroutine[Any, Any, dict[str, Any]]],
    report: Callable[[dict[str, Any]], str],
    *,
    name: str,
    description: str,
    ok: Callable[[dict[str, Any]], bool] = lambda result: True,
) -> int:
    """One benchmark from the command line: 0 when it measured and ``ok`` accepts the figures, else 1."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    add_arguments(parser)
    options = options_from(parser.parse_args(argv))
    quiet()
    try:
        result = asyncio.run(run(options))
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    print(report(result))
    return 0 if ok(result) else 1
