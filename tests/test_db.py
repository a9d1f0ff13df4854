"""The embedded database is configured for a bot: WAL, foreign keys enforced, waiting instead of failing."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage.models import Account


@pytest.mark.sqlite_only
async def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(database):
    async with database.transaction() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000


async def test_a_broken_reference_is_refused_and_nothing_is_half_saved(database):
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(Account(telegram_user_id=1, display_name="Lan"))
            session.add(Account(telegram_user_id=2, display_name="Minh", unit_id=424242))
    async with database.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM account"))).scalar() == 0
