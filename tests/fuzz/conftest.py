"""Fuzz fixtures: the real Application on a fresh database, with the organisers of the fuzz world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from bot.playground.harness import Playground
from bot.services import Services
from bot.settings import Settings
from storage.db import Database

from .fuzzer import Clock, Fuzzer
from .world import BOOTSTRAP_ORGANISERS, CHANNELS


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database: Database) -> Settings:
    return Settings(
        database_url=database.url,
        organiser_ids=BOOTSTRAP_ORGANISERS,
        bot_token="",
        webhook_url="",
        link_secret="fuzz-link-secret",
        public_channel_id=str(CHANNELS[0]),
    )


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    pg = Playground(lambda: Services.create(settings, clock=clock))
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()


def backend_of(database: Database) -> str:
    return "postgresql" if database.dialect == "postgresql" else "sqlite"


@pytest.fixture
def make_fuzzer(playground: Playground, clock: Clock, database: Database) -> Callable[..., Fuzzer]:
    def make(seed: int, **options: object) -> Fuzzer:
        return Fuzzer(playground, clock, seed=seed, backend=backend_of(database), **options)  # type: ignore[arg-type]

    return make
