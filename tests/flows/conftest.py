"""Flow-test fixtures: the real Application, migrated-schema database, several people chatting."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import audit
from storage.db import Database

ORGANISER_ID = 9001


@pytest.fixture
def settings(database: Database) -> Settings:
    return Settings(
        database_url=database.url,
        organiser_ids=(ORGANISER_ID,),
        bot_token="",
        webhook_url="",
        link_secret="test-link-secret",
    )


@pytest.fixture
async def playground(settings: Settings) -> AsyncIterator[Playground]:
    pg = Playground(lambda: Services.create(settings))
    await pg.start()
    try:
        yield pg
        # Whatever the conversation did, the audit trail it left is one intact chain.
        async with pg.services.database.transaction() as db:
            problem = (await audit.verify(db)).problem
        assert problem is None, f"the audit chain is broken: {problem}"
    finally:
        await pg.stop()


@pytest.fixture
def citizen(playground: Playground) -> ChatUser:
    return playground.person(Persona(1001, "Lan", "Nguyễn Thị"))


@pytest.fixture
def organiser(playground: Playground) -> ChatUser:
    return playground.person(Persona(ORGANISER_ID, "Hoà", "Phạm Thu"))
