"""What every benchmark shares: its error, where results go, the database it runs on, the JSON, ``main``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
import telegram
from sqlalchemy.engine import make_url
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
