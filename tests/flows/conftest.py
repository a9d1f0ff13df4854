"""Flow-test fixtures: the real Application, migrated-schema database, several people chatting."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import audit
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
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


@asynccontextmanager
async def running(
    settings: Settings,
    clock: Callable[[], dt.datetime] | None = None,
    *,
    zalo: bool = False,
    seed_plan: bool = False,
    fill: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> AsyncIterator[Playground]:
    """A started playground (on ``clock``, with the seed plan and ``fill``'s rows when asked), stopped after
    the test; whatever the test did, the audit trail it left must be one intact chain."""
    overrides = {} if clock is None else {"clock": clock}
    pg = Playground(lambda: Services.create(settings, **overrides), zalo=zalo)
    await pg.start()
    try:
        if seed_plan or fill is not None:
            async with pg.services.database.transaction() as db:
                if seed_plan:
                    await apply_plan(db, load_plan_file(SEED_PLAN))
                if fill is not None:
                    await fill(db)
        yield pg
        async with pg.services.database.transaction() as db:
            problem = (await audit.verify(db)).problem
        assert problem is None, f"the audit chain is broken: {problem}"
    finally:
        await pg.stop()


@pytest.fixture
async def playground(settings: Settings) -> AsyncIterator[Playground]:
    async with running(settings) as pg:
        yield pg


@pytest.fixture
def citizen(playground: Playground) -> ChatUser:
    return playground.person(Persona(1001, "Lan", "Nguyễn Thị"))


@pytest.fixture
def organiser(playground: Playground) -> ChatUser:
    return playground.person(Persona(ORGANISER_ID, "Hoà", "Phạm Thu"))
