"""Alembic environment: async engine, SQLite batch mode, type comparison.

The database URL comes from, in order: ``alembic -x url=...``; ``sqlalchemy.url`` set programmatically
(``storage.migrate`` does); the ``DATABASE_URL`` setting (environment or ``.env``); and
``bot.settings.DEFAULT_DATABASE_URL``.

Two ways in:

* the ``alembic`` command line (or ``alembic.command`` from a thread with no running event loop): an async
  engine is made here and driven with ``asyncio.run``;
* connection sharing (Alembic cookbook, "Programmatic API use (connection sharing) with asyncio"): the caller
  runs ``alembic.command`` inside ``AsyncConnection.run_sync`` and puts the sync ``Connection`` in
  ``config.attributes["connection"]``; it is used as it is, in the caller's transaction.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from pathlib import Path
from typing import Any

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.types import TypeDecorator

from bot.settings import DEFAULT_DATABASE_URL
from storage.models import Base

config = context.config

# Logging from alembic.ini only for the command line: a program that calls Alembic keeps its own logging.
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    if "url" in x_args:
        if not x_args["url"]:
            # `-x url=$EMPTY` is a mistake; falling back to the default database would migrate the wrong one.
            raise SystemExit("alembic: -x url= was given empty; pass a database URL")
        return x_args["url"]
    main_url = config.get_main_option("sqlalchemy.url")
    if main_url:
        return main_url
    env_url = os.environ.get("DATABASE_URL")
    if env_url:
        return env_url
    try:
        from bot.settings import load_settings

        return load_settings().database_url  # reads .env as the bot does
    except Exception:
        return DEFAULT_DATABASE_URL


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render project TypeDecorators (``UtcDateTime``) as their plain SQLAlchemy type.

    Migrations stay independent of the model module: they only ever see ``sa.DateTime(timezone=True)``.
    """
    if type_ == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        return f"sa.{impl!r}"
    return False


def configure_kwargs() -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "compare_server_default": True,
        "render_item": render_item,
    }


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade head --sql``)."""
    url = database_url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=make_url(url).get_backend_name() == "sqlite",
        **configure_kwargs(),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        render_as_batch=connection.dialect.name == "sqlite",
        **configure_kwargs(),
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = make_url(database_url())
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    shared = config.attributes.get("connection")
    if shared is not None:
        do_run_migrations(shared)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
