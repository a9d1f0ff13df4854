"""A fake Zalo Bot API on 127.0.0.1 and a real client pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.channels.zalo.client import ZaloClient
from bot.channels.zalo.fake_server import FakeZaloServer


@pytest.fixture
async def zalo_server() -> AsyncIterator[FakeZaloServer]:
    async with FakeZaloServer() as server:
        yield server


@pytest.fixture
async def zalo(zalo_server: FakeZaloServer) -> AsyncIterator[ZaloClient]:
    async with ZaloClient(zalo_server.token, base_url=zalo_server.base_url) as client:
        yield client
