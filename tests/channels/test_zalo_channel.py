"""The Zalo channel's polling and webhook intake against the fake Zalo server: one event per poll, idle
polls, backoff on 429 and failures (measured by what it asked to sleep, not by the clock), 401, duplicates."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, Update
from telegram.ext import Application, ApplicationBuilder

from bot.channels.memory import InMemoryAddressBook, InMemoryFileStore
from bot.channels.zalo.channel import Backoff, ZaloChannel
from bot.channels.zalo.client import DEFAULT_RATE_LIMIT_BACKOFF_SECONDS, ZaloClient
from bot.channels.zalo.fake_server import FakeZaloServer
from bot.channels.zalo.updates import parse_update
from bot.i18n import Translators
from tests.channels.waiting import eventually

IDLE_POLL = 0.05


class Pauses:
    """Stands in for asyncio.sleep: records how long the channel wanted to wait and does not wait."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def application(bot: Bot) -> Application[Any, Any, Any, Any, Any, Any]:
    return ApplicationBuilder().bot(bot).updater(None).build()


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


@pytest.fixture
async def channel(
    zalo: ZaloClient,
    address_book: InMemoryAddressBook,
    file_store: InMemoryFileStore,
    application: Application[Any, Any, Any, Any, Any, Any],
    translators: Translators,
    pauses: Pauses,
) -> AsyncIterator[ZaloChannel]:
    zalo_channel = ZaloChannel(
        zalo,
        address_book,
        file_store,
        application,
        translators=translators,
        poll_timeout=IDLE_POLL,
        sleep=pauses,
        backoff=Backoff(rng=random.Random(9)),
    )
    yield zalo_channel
    await zalo_channel.stop()


async def next_update(application: Application[Any, Any, Any, Any, Any, Any]) -> Update:
    update = await asyncio.wait_for(application.update_queue.get(), timeout=10)
    assert isinstance(update, Update)
    return update


async def polls_made(zalo_server: FakeZaloServer, at_least: int) -> None:
    await eventually(lambda: sum(r.api_method == "getUpdates" for r in zalo_server.requests) >= at_least)


async def test_events_arrive_one_per_poll_in_the_order_people_sent_them(
    channel: ZaloChannel, zalo_server: FakeZaloServer, application: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    lan, minh = zalo_server.user("Lan"), zalo_server.user("Minh")
    zalo_server.queue(
        zalo_server.text_event(lan, "/start"), zalo_server.text_event(minh, "/help"), zalo_server.text_event(lan, "2")
    )

    await channel.start_polling()
    texts = [(await next_update(application)).message.text for _ in range(3)]  # type: ignore[union-attr]

    assert texts == ["/start", "/help", "2"]
    assert zalo_server.pending == 0
    assert sum(r.api_method == "getUpdates" for r in zalo_server.requests) >= 3


async def test_idle_polls_answered_408_mean_nothing_and_log_nothing(
    channel: ZaloChannel,
    zalo_server: FakeZaloServer,
    application: Application[Any, Any, Any, Any, Any, Any],
    pauses: Pauses,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="bot.channels.zalo"):
        await channel.start_polling()
        await polls_made(zalo_server, 3)
        zalo_server.queue(zalo_server.text_event(zalo_server.user("Lan"), "chào"))
        update = await next_update(application)

    assert update.message is not None and update.message.text == "chào"
    assert pauses.seconds == [] and caplog.records == []
    assert channel.polling


async def test_a_used_up_quota_backs_off_at_least_as_long_as_zalo_asks_and_longer_each_time(
    channel: ZaloChannel,
    zalo_server: FakeZaloServer,
    application: Application[Any, Any, Any, Any, Any, Any],
    pauses: Pauses,
) -> None:
    zalo_server.inject_fault("getUpdates", 429, times=3)
    zalo_server.queue(zalo_server.text_event(zalo_server.user("Lan"), "sau hạn mức"))

    await channel.start_polling()
    update = await next_update(application)

    assert update.message is not None and update.message.text == "sau hạn mức"
    first, second, third = pauses.seconds
    assert DEFAULT_RATE_LIMIT_BACKOFF_SECONDS <= first < 2 * DEFAULT_RATE_LIMIT_BACKOFF_SECONDS
    assert 2 * DEFAULT_RATE_LIMIT_BACKOFF_SECONDS <= second < 4 * DEFAULT_RATE_LIMIT_BACKOFF_SECONDS
    assert third >= 4 * DEFAULT_RATE_LIMIT_BACKOFF_SECONDS


async def test_failures_back_off_growing_with_jitter_and_warn_once(
    channel: ZaloChannel,
    zalo_server: FakeZaloServer,
    application: Application[Any, Any, Any, Any, Any, Any],
    pauses: Pauses,
    caplog: pytest.LogCaptureFixture,
) -> None:
    zalo_server.inject_fault("getUpdates", 500, times=4)
    zalo_server.queue(zalo_server.text_event(zalo_server.user("Lan"), "đã thông"))

    with caplog.at_level(logging.INFO, logger="bot.channels.zalo.channel"):
        await channel.start_polling()
        await next_update(application)
        await polls_made(zalo_server, 6)

    bounds = [(0.5, 1), (1, 2), (2, 4), (4, 8)]
    assert len(pauses.seconds) == 4
    assert all(low <= seconds <= high for seconds, (low, high) in zip(pauses.seconds, bounds, strict=True))
    assert len(set(pauses.seconds)) == 4
    # The trouble is said once when it starts and once when it is over; the retries between are DEBUG.
    warning, recovered = caplog.records
    assert warning.levelno == logging.WARNING and warning.getMessage().startswith("Zalo polling paused")
    assert (recovered.levelno, recovered.getMessage()) == (logging.INFO, "Zalo polling works again")


async def test_a_refused_token_stops_polling_with_one_error_line_that_does_not_hold_it(
    zalo_server: FakeZaloServer,
    address_book: InMemoryAddressBook,
    application: Application[Any, Any, Any, Any, Any, Any],
    translators: Translators,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with ZaloClient(zalo_server.token + "x", base_url=zalo_server.base_url) as wrong:
        channel = ZaloChannel(wrong, address_book, None, application, translators=translators, poll_timeout=IDLE_POLL)
        await channel.start_polling()
        await eventually(lambda: not channel.polling)
        await channel.stop()

    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1 and "401" in errors[0].getMessage() and "ZALO_BOT_TOKEN" in errors[0].getMessage()
    assert sum(r.api_method == "getUpdates" for r in zalo_server.requests) == 1
    assert zalo_server.token.split(":", 1)[1] not in caplog.text


async def test_a_redelivered_event_is_handled_once_by_polling_and_by_webhook(
    channel: ZaloChannel, zalo_server: FakeZaloServer, application: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    lan = zalo_server.user("Lan")
    polled, posted = zalo_server.text_event(lan, "một"), zalo_server.text_event(lan, "hai")
    zalo_server.queue(polled, polled)

    await channel.start_polling()
    first = await next_update(application)
    await polls_made(zalo_server, 3)
    # The webhook gets the same event in both envelopes.
    accepted = [
        await channel.accept(parse_update(posted)),
        await channel.accept(parse_update({"ok": True, "result": posted})),
        await channel.accept(parse_update(polled)),
    ]
    second = await next_update(application)

    assert first.message is not None and first.message.text == "một"
    assert second.message is not None and second.message.text == "hai"
    assert accepted == [True, False, False]
    assert application.update_queue.empty()


async def test_stopping_hands_over_the_events_already_taken_from_zalo(
    channel: ZaloChannel, zalo_server: FakeZaloServer, application: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    lan = zalo_server.user("Lan")
    for number in range(5):
        await channel.accept(parse_update(zalo_server.image_event(lan, f"ảnh {number}")))

    await channel.stop()

    captions = []
    while not application.update_queue.empty():
        update = application.update_queue.get_nowait()
        assert isinstance(update, Update) and update.message is not None and update.message.photo
        captions.append(update.message.caption)
    assert captions == [f"ảnh {number}" for number in range(5)]


async def test_a_bot_that_does_not_talk_through_a_router_is_refused(
    zalo: ZaloClient, address_book: InMemoryAddressBook, translators: Translators
) -> None:
    plain = ApplicationBuilder().token("1:plain").updater(None).build()

    with pytest.raises(TypeError, match="ChannelRouter"):
        ZaloChannel(zalo, address_book, None, plain, translators=translators)
