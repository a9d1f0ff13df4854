"""The PostgreSQL pool's check before lending a connection (``storage.db._asyncpg_ping``): one round trip, and
none for a connection given back less than half a second ago."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import exc, text

from storage import db as storage_db
from storage.db import Database
from tests.conftest import PG_URL

pytestmark = [
    pytest.mark.skipif(not PG_URL, reason="needs DIENHINH_TEST_PG_URL"),
    pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True),
]


@pytest.fixture
def queries(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query asyncpg's fetchrow sends (the ping is ``;``)."""
    sent: list[str] = []
    original = asyncpg.connection.Connection.fetchrow

    async def fetchrow(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(query)
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(asyncpg.connection.Connection, "fetchrow", fetchrow)
    return sent


def _age_every_connection() -> None:
    """As if every pooled connection had been given back a minute ago."""
    for key in list(storage_db._returned_at):
        storage_db._returned_at[key] -= 60


async def _backend_pid(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(pid: int) -> None:
    admin = Database(PG_URL)
    try:
        async with admin.engine.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await connection.commit()
    finally:
        await admin.dispose()


async def test_a_connection_given_back_a_moment_ago_is_lent_again_without_a_ping(database, queries):
    await _backend_pid(database)
    queries.clear()
    await _backend_pid(database)
    assert ";" not in queries

    _age_every_connection()
    queries.clear()
    await _backend_pid(database)
    assert queries.count(";") == 1  # one round trip, not SQLAlchemy's BEGIN; ; ROLLBACK


async def test_a_connection_that_died_while_it_waited_in_the_pool_is_replaced_before_it_is_lent(database):
    first = await _backend_pid(database)
    await _terminate(first)
    _age_every_connection()
    assert await _backend_pid(database) != first  # the ping found it dead: a new connection, no error


async def test_a_connection_that_died_within_the_half_second_fails_once_and_the_pool_recovers(database):
    first = await _backend_pid(database)
    await _terminate(first)
    with pytest.raises(exc.DBAPIError) as raised:
        await _backend_pid(database)
    assert raised.value.connection_invalidated
    assert await _backend_pid(database) != first
