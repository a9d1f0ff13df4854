"""Accounts: created on first contact, refreshed afterwards, organisers bootstrapped once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from rules import accounts
from storage.models import Account, AuditEntry

NOW = dt.datetime(2020, 3, 1, 8, 0, tzinfo=dt.UTC)


async def _ensure(session, user_id: int, name: str, organisers=()) -> accounts.AccountSnapshot:
    return await accounts.ensure_telegram_account(
        session, telegram_user_id=user_id, display_name=name, username=None, organiser_ids=organisers, now=NOW
    )


async def test_first_contact_creates_a_citizen_and_later_contacts_refresh_it(database):
    async with database.transaction() as db:
        first = await _ensure(db, 7, "  Lan  Nguyễn ")
    async with database.transaction() as db:
        await db.execute(Account.__table__.update().values(bot_blocked_at=NOW, locale="en"))
    async with database.transaction() as db:
        again = await _ensure(db, 7, "Lan Nguyễn Thị")
        stored = await db.scalar(select(Account))

    assert first.role == "citizen" and first.display_name == "Lan Nguyễn"
    assert again.id == first.id and again.locale == "en"
    assert stored.display_name == "Lan Nguyễn Thị"
    assert stored.bot_blocked_at is None


async def test_bootstrap_organisers_are_promoted_once_and_audited(database):
    for _ in range(2):
        async with database.transaction() as db:
            organiser = await _ensure(db, 42, "Hoà", organisers=(42,))
    async with database.transaction() as db:
        audits = await db.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "role.bootstrap")
        )

    assert organiser.role == "organiser"
    assert audits == 1
