"""Accounts: created on first contact, refreshed afterwards, organisers bootstrapped once."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, func, select

from rules import accounts
from rules.identities import ADDRESS_BASE, TELEGRAM, ZALO
from storage import identities as identity_store
from storage.models import Account, AuditEntry, ChannelIdentity

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
        again = await _ensure(db, 7, "Nguyễn Thị Lan")
        stored = await db.scalar(select(Account))

    assert first.role == "citizen" and first.display_name == "Lan Nguyễn"
    assert again.id == first.id and again.locale == "en"
    assert stored.display_name == "Nguyễn Thị Lan"
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


async def test_an_account_on_two_channels_is_written_to_on_the_one_it_used_last(database):
    # Accounts reached on Telegram and on Zalo come from the migration of accounts that had both ids.
    later = NOW + dt.timedelta(hours=1)
    async with database.transaction() as db:
        telegram = await accounts.ensure_account(db, channel=TELEGRAM, external_id="7", display_name="Lan", now=NOW)
        db.add(
            ChannelIdentity(
                account_id=telegram.account.id,
                channel=ZALO,
                external_id="a1b2c3d4e5f60718",
                address=ADDRESS_BASE + 99,
                display_name="Lan",
                created_at=NOW,
                last_seen_at=NOW,
            )
        )
    async with database.transaction() as db:
        zalo = await accounts.ensure_account(
            db, channel=ZALO, external_id="a1b2c3d4e5f60718", display_name="Lan Zalo", now=later
        )
        written_to = (await db.execute(identity_store.preferred(telegram.account.id))).one()

    assert zalo.account.id == telegram.account.id and zalo.address == ADDRESS_BASE + 99
    assert tuple(written_to) == (ZALO, ADDRESS_BASE + 99)

    async with database.transaction() as db:
        await accounts.ensure_account(
            db, channel=TELEGRAM, external_id="7", display_name="Lan", now=later + dt.timedelta(minutes=1)
        )
        written_to = (await db.execute(identity_store.preferred(telegram.account.id))).one()
    assert tuple(written_to) == (TELEGRAM, 7)


async def test_a_returning_person_costs_one_statement_and_a_first_contact_three(database):
    statements: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    async with database.transaction() as db:
        await _ensure(db, 8, "Hùng")
    first_contact, statements[:] = len(statements), []
    async with database.transaction() as db:
        await _ensure(db, 8, "Hùng")

    assert (first_contact, len(statements)) == (3, 1)
