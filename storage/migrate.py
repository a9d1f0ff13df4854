"""Schema migrations from running code: upgrade, and tell whether a database is up to date.

Alembic has no async API, so each command runs inside ``AsyncConnection.run_sync`` with the connection
handed to ``storage/migrations/env.py`` through ``config.attributes["connection"]`` (the Alembic cookbook's
"Programmatic API use (connection sharing) with asyncio"). That works from inside a running event loop, for
``sqlite+aiosqlite://`` and ``postgresql+asyncpg://`` URLs alike.

``alembic.ini`` is found next to the package (the project folder), never through the working
directory; without it (an installed wheel) the migrations folder inside the package is used directly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = PROJECT_ROOT / "alembic.ini"
UPGRADE_COMMAND = "dienhinh db upgrade"
# Serialises concurrent upgrades of one PostgreSQL database (two bot processes starting at once).
_PG_LOCK_KEY = 0x6469656E68696E68  # "dienhinh" in ASCII


class OutOfDateDatabase(Exception):
    """The database schema is not at the revision this code needs; ``str(error)`` is one line to show."""

    def __init__(self, current: str | None, head: str, *, known: bool = True) -> None:
        self.current = current
        self.head = head
        self.known = known
        if current is None:
            message = (
                f"the database has no schema yet (revision: none) but this version needs revision {head}; "
                f"run: {UPGRADE_COMMAND}"
            )
        elif not known:
            message = (
                f"the database is at revision {current}, which this version does not know "
                f"(its newest is {head}); the database was upgraded by a newer dienhinh: run that version"
            )
        else:
            message = (
                f"the database is at revision {current} but this version needs revision {head}; run: {UPGRADE_COMMAND}"
            )
        super().__init__(message)


def alembic_config() -> Config:
    """The Alembic configuration, independent of the working directory."""
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    # The calling program keeps its logging; env.py skips fileConfig.
    config.attributes["configure_logger"] = False
    return config


def _script_directory() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision of the migration scripts (a single head is enforced)."""
    head = _script_directory().get_current_head()  # raises when there are several heads
    if head is None:
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR / 'versions'}")
    return head


def _is_known(revision: str) -> bool:
    try:
        return _script_directory().get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def _is_missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database
    return bool(database) and database != ":memory:" and not Path(str(database)).exists()


def _engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # NullPool: migrations are one-off, and no connection may outlive the event loop that made it.
    return create_async_engine(url, poolclass=pool.NullPool)


async def _run_in_transaction(url: str, fn: Callable[[Connection], Any]) -> Any:
    engine = _engine(url)
    try:
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _alembic_command(name: str, revision: str, link_secret: bytes | None = None) -> Callable[[Connection], None]:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        if link_secret:
            # Migrations that give existing links their codes derive them from it (0007).
            config.attributes["link_secret"] = link_secret
        getattr(command, name)(config, revision)

    return run


async def upgrade_to_head(url: str, *, link_secret: bytes | None = None) -> None:
    """Bring the database at ``url`` to the newest schema, creating the tables when it is empty.

    On PostgreSQL this is one transaction (DDL is transactional) under an advisory lock, so two processes
    upgrading at once take turns; on SQLite each DDL statement commits as it runs. ``link_secret`` is the
    one personal links are derived from (without it, a migration that needs it reads the bot's settings).
    """
    await upgrade(url, "head", link_secret=link_secret)


async def upgrade(url: str, revision: str, *, link_secret: bytes | None = None) -> None:
    """Bring the database at ``url`` to ``revision`` (for tests of a migration with data, and repairs)."""
    await _run_in_transaction(url, _alembic_command("upgrade", revision, link_secret))


async def downgrade(url: str, revision: str) -> None:
    """Take the database back to ``revision`` (``"base"``: no tables). For tests and operators' repairs."""
    await _run_in_transaction(url, _alembic_command("downgrade", revision))


async def stamp(url: str, revision: str) -> None:
    """Record ``revision`` as the database's revision without running any migration."""
    await _run_in_transaction(url, _alembic_command("stamp", revision))


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(url: str) -> str | None:
    """The revision the database is at, or None for a database Alembic has never touched."""
    if _is_missing_sqlite_file(url):
        return None  # don't create an empty file just to look
    engine = _engine(url)
    try:
        async with engine.connect() as connection:
            revision: str | None = await connection.run_sync(_current)
            return revision
    finally:
        await engine.dispose()


async def is_up_to_date(url: str) -> bool:
    """True when the database is at the newest revision."""
    return await current_revision(url) == head_revision()


async def ensure_up_to_date(url: str) -> None:
    """Raise :class:`OutOfDateDatabase` unless the database is at the newest revision."""
    current = await current_revision(url)
    head = head_revision()
    if current != head:
        raise OutOfDateDatabase(current, head, known=current is None or _is_known(current))


__all__ = [
    "MIGRATIONS_DIR",
    "UPGRADE_COMMAND",
    "OutOfDateDatabase",
    "alembic_config",
    "current_revision",
    "downgrade",
    "ensure_up_to_date",
    "head_revision",
    "is_up_to_date",
    "stamp",
    "upgrade",
    "upgrade_to_head",
]
