"""Zalo twins of the flow tests: the real Application, the real ZaloClient and the fake Zalo server.

``playground`` here runs both channels; ``organiser`` (and any ``playground.person``) is on Telegram,
``lan`` and the people of ``playground.zalo_person`` are on Zalo.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from bot.playground.harness import Playground, ZaloChatUser
from bot.services import Services
from bot.settings import Settings
from rules import accounts
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from rules.roles import Role

PUBLIC_BASE_URL = "https://dienhinh.example.vn"


@pytest.fixture
async def playground(settings: Settings) -> AsyncIterator[Playground]:
    pg = Playground(lambda: Services.create(settings), zalo=True)
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()


@pytest.fixture
async def plan(playground: Playground) -> None:
    """The seed plan with its dates moved ahead of today, as in the playground."""
    today = dt.datetime.now(dt.UTC).date()
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), today))


@pytest.fixture
def lan(playground: Playground) -> ZaloChatUser:
    return playground.zalo_person("Nguyễn Thị Lan")


async def zalo_organiser(playground: Playground, name: str = "Phạm Thu Hoà") -> ZaloChatUser:
    """An organiser who uses Zalo (the role given before she first writes, as an organiser would grant it)."""
    hoa = playground.zalo_person(name)
    async with playground.services.database.transaction() as db:
        contact = await accounts.ensure_account(
            db, channel="zalo", external_id=hoa.zalo_id, display_name=name, now=playground.services.clock()
        )
        await accounts.assign_role(db, contact.account.id, Role.ORGANISER, reason="test")
    return hoa
