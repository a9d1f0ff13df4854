"""Meeting a person in one trip (storage.first_contact through rules.accounts.meet): it stores what the ORM way
stores, refreshes a returning person, gives other channels their addresses, survives people met at once, and
goes to the database once."""

from __future__ import annotations

import asyncio
import datetime as dt

import aiosqlite
import pytest
from sqlalchemy import event, func, select, update

from bot.playground.harness import Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import accounts, welcome
from rules.identities import ADDRESS_BASE, TELEGRAM, ZALO
from storage import identities as identity_store
from storage.models import Account, ChannelIdentity

NOW = dt.datetime(2020, 3, 1, 8, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)


async def _meet(database, external_id: str, name: str, *, channel: str = TELEGRAM, username=None, now=NOW):
    return await accounts.meet(
        database, channel=channel, external_id=external_id, display_name=name, username=username, now=now
    )


def _stored(account: Account, identity: ChannelIdentity) -> tuple[object, ...]:
    return (
        account.display_name,
        account.username,
        account.role,
        account.locale,
        account.unit_id,
        account.last_seen_at,
        account.created_at,
        account.updated_at,
        account.bot_blocked_at,
        identity.channel,
        identity.display_name,
        identity.created_at,
        identity.last_seen_at,
    )


async def _rows(database, external_id: str) -> tuple[Account, ChannelIdentity]:
    async with database.transaction() as db:
        identity = await db.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == external_id))
        assert identity is not None
        account = await db.get_one(Account, identity.account_id)
    return account, identity


async def test_a_first_contact_stores_what_the_orm_way_stores(database):
    met = await _meet(database, "7001", "  Lan  Nguyễn ", username="lan_n")
    async with database.transaction() as db:
        made = await accounts.ensure_account(
            db, channel=TELEGRAM, external_id="7002", display_name="  Lan  Nguyễn ", username="lan_n", now=NOW
        )

    one, one_identity = await _rows(database, "7001")
    other, other_identity = await _rows(database, "7002")
    assert met.account.display_name == "Lan Nguyễn" and met.account.role == "citizen"
    assert met.address == 7001 and one_identity.address == 7001
    assert (met.account.id, made.account.id) == (one.id, other.id)
    assert _stored(one, one_identity) == _stored(other, other_identity)
    assert one.last_seen_at == NOW


async def test_a_returning_person_is_refreshed_and_keeps_their_account(database):
    first = await _meet(database, "7100", "Lan", username="lan")
    async with database.transaction() as db:
        await db.execute(update(Account).values(bot_blocked_at=NOW, locale="en"))
    again = await _meet(database, "7100", "Nguyễn Thị Lan", now=LATER)

    account, _identity = await _rows(database, "7100")
    assert again.account.id == first.account.id and again.account.locale == "en"
    assert account.display_name == "Nguyễn Thị Lan"
    assert account.username == "lan"  # a person without a username now keeps the one they had
    assert account.bot_blocked_at is None and account.last_seen_at == LATER
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Account)) == 1


async def test_a_zalo_person_gets_an_address_made_from_their_identity(database):
    met = await _meet(database, "a1b2c3d4e5f60718", "Hùng", channel=ZALO)
    again = await _meet(database, "a1b2c3d4e5f60718", "Hùng", channel=ZALO, now=LATER)

    _account, identity = await _rows(database, "a1b2c3d4e5f60718")
    assert met.address == identity.address == ADDRESS_BASE + identity.id
    assert again.address == met.address and again.account.id == met.account.id


async def test_an_account_on_two_channels_is_written_to_on_the_one_it_used_last(database):
    telegram = await _meet(database, "7200", "Lan")
    async with database.transaction() as db:
        db.add(
            ChannelIdentity(
                account_id=telegram.account.id,
                channel=ZALO,
                external_id="f0e1d2c3b4a59687",
                address=ADDRESS_BASE + 99,
                display_name="Lan",
                created_at=NOW,
                last_seen_at=NOW,
            )
        )
    zalo = await _meet(database, "f0e1d2c3b4a59687", "Lan Zalo", channel=ZALO, now=LATER)
    async with database.transaction() as db:
        written_to = (await db.execute(identity_store.preferred(telegram.account.id))).one()
    assert zalo.account.id == telegram.account.id and zalo.address == ADDRESS_BASE + 99
    assert tuple(written_to) == (ZALO, ADDRESS_BASE + 99)

    await _meet(database, "7200", "Lan", now=LATER + dt.timedelta(minutes=1))
    async with database.transaction() as db:
        written_to = (await db.execute(identity_store.preferred(telegram.account.id))).one()
    assert tuple(written_to) == (TELEGRAM, 7200)


async def test_people_met_at_the_same_moment_get_one_account_each(database):
    # Twenty messages from the same five people at once, over the engine's pool of connections.
    ids = [str(7300 + n % 5) for n in range(20)]
    met = await asyncio.gather(*(_meet(database, external_id, "Mai") for external_id in ids))

    by_person = {
        external_id: {m.account.id for m, e in zip(met, ids, strict=True) if e == external_id} for external_id in ids
    }
    assert all(len(found) == 1 for found in by_person.values())
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Account)) == 5
        assert await db.scalar(select(func.count()).select_from(ChannelIdentity)) == 5


async def test_a_first_contact_is_one_trip_and_keeps_the_welcome_facts(database, monkeypatch):
    statements: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    await _meet(database, "7400", "Warm-up")  # the pool opens its connection (and sets its pragmas) here
    statements.clear()
    crossings = [0]
    if database.dialect == "sqlite":
        original = aiosqlite.Connection._execute

        async def counted(self, fn, *args, **kwargs):
            crossings[0] += 1
            return await original(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)

    met = await _meet(database, "7401", "Thảo")
    returning = await _meet(database, "7401", "Thảo", now=LATER)

    assert statements == []  # nothing went through SQLAlchemy's cursor: one driver call each
    if database.dialect == "sqlite":
        assert crossings[0] == 2  # one crossing to SQLite's thread per person met
    kept = welcome.cached(database.engine.sync_engine, met.account.id)
    assert kept == welcome.Welcome(role="citizen")
    assert returning.account.id == met.account.id


@pytest.mark.parametrize("organiser", [7500])
async def test_an_id_in_organiser_ids_is_given_the_role_the_orm_way(database, organiser):
    contact = await accounts.meet(
        database, channel=TELEGRAM, external_id=str(organiser), display_name="Hoà", bootstrap_organiser=True, now=NOW
    )
    again = await _meet(database, str(organiser), "Hoà", now=LATER)
    assert contact.account.role == "organiser" and again.account.role == "organiser"


async def test_a_first_start_is_committed_and_answered_with_the_account_number(database):
    settings = Settings(database_url=database.url, organiser_ids=(), bot_token="", webhook_url="")
    playground = Playground(lambda: Services.create(settings))
    await playground.start()
    try:
        person = playground.person(Persona(7600, "Lan", "Nguyễn Thị"))
        replies = await person.send("/start")
        account, identity = await _rows(database, "7600")
        again = await person.send("/start")
    finally:
        await playground.stop()

    assert replies[0].text.startswith("Xin chào Lan!")
    assert f"#{account.id}" in replies[0].text and f"#{account.id}" in again[0].text
    assert account.display_name == "Nguyễn Thị Lan" and identity.address == 7600


async def test_a_first_contact_after_the_log_was_emptied_on_the_same_connection_commits(database):
    # The checkpoint after an erasure once left its statement open on the pooled connection, and the next
    # one-trip COMMIT on it failed with "SQL statements in progress" (make fuzz, seed 20200315).
    for number in range(3):
        await database.empty_log()
        met = await _meet(database, f"71{number}", "Lan Nguyễn")
        assert met.account.display_name == "Lan Nguyễn"
