"""Shared fixtures: a clean database per test, on SQLite always and on PostgreSQL when one is given.

Set ``DIENHINH_TEST_PG_URL`` (``make test`` does, through ``scripts/pg-test-server.sh``) to run every
``database``-using test on PostgreSQL too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.models import Base
from tests import vi_check

PG_URL = os.environ.get("DIENHINH_TEST_PG_URL", "")

BACKENDS = [pytest.param("sqlite", id="sqlite")]
if PG_URL:
    BACKENDS.append(pytest.param("postgres", id="postgres", marks=pytest.mark.postgres))


async def _fresh_postgres() -> tuple[str, str]:
    """Create an empty database on the test server; returns (its URL, its name)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = Database(PG_URL)
    async with admin.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return str(make_url(PG_URL).set(database=name).render_as_string(hide_password=False)), name


async def _drop_postgres(name: str) -> None:
    admin = Database(PG_URL)
    async with admin.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """The URL of an empty database (no tables) for the backend the test is parametrised with."""
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/test.sqlite3"
        return
    url, name = await _fresh_postgres()
    try:
        yield url
    finally:
        await _drop_postgres(name)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A Database with the current schema created (tables from the models)."""
    db = Database(database_url)
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    try:
        yield db
    finally:
        await db.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that uses a database runs once per available backend.
    if "database_url" not in metafunc.fixturenames:
        return
    markers = list(metafunc.definition.iter_markers())
    if any(m.name == "parametrize" and "database_url" in str(m.args[0]) for m in markers):
        return
    backends = BACKENDS[:1] if any(m.name == "sqlite_only" for m in markers) else BACKENDS
    metafunc.parametrize("database_url", backends, indirect=True)


@pytest.fixture(autouse=True)
def _no_english_shown_in_vietnamese(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every playground a test runs fails the test when it showed English to a reader in Vietnamese."""
    vi_check.install(monkeypatch)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Playgrounds ran but no text was checked: the English check has gone quiet, which must not pass.
    if vi_check.TALLY["playgrounds"] >= 5 and not vi_check.TALLY["texts"]:
        print(f"\nthe English check saw no text in {vi_check.TALLY['playgrounds']} playgrounds")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if vi_check.TALLY["playgrounds"]:
        terminalreporter.write_line(
            f"English check: {vi_check.TALLY['texts']} texts shown in Vietnamese chats by "
            f"{vi_check.TALLY['playgrounds']} playgrounds checked for English words"
        )
