"""A fake Zalo Bot API on 127.0.0.1 and a real client pointed at it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import pytest
from telegram import Bot

from bot.channels.memory import InMemoryAddressBook, InMemoryFileStore
from bot.channels.router import ChannelRouter
from bot.channels.zalo.client import ZaloClient
from bot.channels.zalo.fake_server import FakeZaloServer
from bot.channels.zalo.outbound import ZaloOutbound
from bot.i18n import Translators
from bot.playground.transport import OFFLINE_TOKEN, InProcessBotAPI

PUBLIC_BASE_URL = "https://dienhinh.example.vn"
# When the renderer says a shared link was made (it works for 72 hours from then).
LINKS_MADE_AT = dt.datetime(2026, 3, 10, 1, 30, tzinfo=dt.UTC)


@pytest.fixture
async def zalo_server() -> AsyncIterator[FakeZaloServer]:
    async with FakeZaloServer() as server:
        yield server


@pytest.fixture
async def zalo(zalo_server: FakeZaloServer) -> AsyncIterator[ZaloClient]:
    async with ZaloClient(zalo_server.token, base_url=zalo_server.base_url) as client:
        yield client


@pytest.fixture
def translators() -> Translators:
    return Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.fixture
def address_book() -> InMemoryAddressBook:
    return InMemoryAddressBook()


@pytest.fixture
def file_store() -> InMemoryFileStore:
    return InMemoryFileStore(PUBLIC_BASE_URL)


@pytest.fixture
def telegram_api() -> InProcessBotAPI:
    return InProcessBotAPI()


@pytest.fixture
def router(
    telegram_api: InProcessBotAPI, address_book: InMemoryAddressBook, file_store: InMemoryFileStore
) -> ChannelRouter:
    return ChannelRouter(telegram_api, address_book, file_store)


@pytest.fixture
def outbound(
    zalo: ZaloClient,
    address_book: InMemoryAddressBook,
    file_store: InMemoryFileStore,
    translators: Translators,
    router: ChannelRouter,
) -> ZaloOutbound:
    renderer = ZaloOutbound(zalo, address_book, file_store, translators, clock=lambda: LINKS_MADE_AT)
    router.add_channel("zalo", renderer)
    return renderer


@pytest.fixture
async def bot(router: ChannelRouter, outbound: ZaloOutbound) -> AsyncIterator[Bot]:
    """A PTB Bot whose every call goes through the router: Zalo addresses to Zalo, the rest to Telegram."""
    telegram_bot = Bot(OFFLINE_TOKEN, request=router, get_updates_request=router)
    await telegram_bot.initialize()
    try:
        yield telegram_bot
    finally:
        await telegram_bot.shutdown()
