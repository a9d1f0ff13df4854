"""The Zalo client against the fake Zalo Bot API, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import traceback

import httpx
import pytest

from bot.channels.zalo.client import (
    DEFAULT_RATE_LIMIT_BACKOFF_SECONDS,
    REDACTED,
    TextLengthError,
    ZaloClient,
    ZaloError,
    ZaloNetworkError,
    ZaloRateLimited,
    ZaloUnauthorized,
)
from bot.channels.zalo.fake_server import TINY_PNG, FakeZaloServer
from bot.channels.zalo.updates import EventName

IDLE_POLL = 0.2


async def test_get_me_describes_the_bot(zalo: ZaloClient) -> None:
    me = await zalo.get_me()

    assert me.id == "1234567890"
    assert me.account_name == "bot.1234567890"
    assert me.account_type == "BASIC"
    assert me.can_join_groups is False
    assert me.display_name == "Bot Dienhinh"


async def test_an_idle_poll_is_answered_408_and_means_no_update(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    started = asyncio.get_running_loop().time()

    assert await zalo.get_updates(timeout=IDLE_POLL) is None

    # The server held the poll for its timeout before saying "Request timeout".
    assert asyncio.get_running_loop().time() - started >= IDLE_POLL * 0.9
    assert zalo_server.requests[-1].params == {"timeout": "0.2"}


async def test_each_poll_returns_one_update(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    lan = zalo_server.user("Lan")
    zalo_server.queue(zalo_server.text_event(lan, "Xin chào"), zalo_server.sticker_event(lan))

    first = await zalo.get_updates(timeout=IDLE_POLL)
    second = await zalo.get_updates(timeout=IDLE_POLL)
    third = await zalo.get_updates(timeout=IDLE_POLL)

    assert first is not None and first.kind is EventName.TEXT
    assert first.message is not None and first.message.text == "Xin chào"
    assert first.message.chat.id == lan.id and first.message.sender.display_name == "Lan"
    assert second is not None and second.kind is EventName.STICKER
    assert third is None


async def test_a_waiting_poll_gets_an_event_as_soon_as_it_is_sent(
    zalo: ZaloClient, zalo_server: FakeZaloServer
) -> None:
    poll = asyncio.create_task(zalo.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()

    zalo_server.queue(zalo_server.text_event(zalo_server.user("Minh"), "/start"))
    update = await asyncio.wait_for(poll, timeout=5)

    assert update is not None and update.message is not None and update.message.text == "/start"
    assert asyncio.get_running_loop().time() - started < 2


async def test_an_event_is_not_lost_to_a_poll_that_was_abandoned(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    poll = asyncio.create_task(zalo.get_updates(timeout=10))
    await asyncio.sleep(0.05)
    poll.cancel()
    await asyncio.gather(poll, return_exceptions=True)
    await asyncio.sleep(0.05)

    zalo_server.queue(zalo_server.text_event(zalo_server.user("Hoa"), "còn đây không?"))
    update = await zalo.get_updates(timeout=IDLE_POLL)

    assert update is not None and update.message is not None and update.message.text == "còn đây không?"


async def test_every_method_is_a_post_with_a_json_body(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    await zalo.get_me()
    await zalo.get_updates(timeout=IDLE_POLL)
    await zalo.get_webhook_info()
    await zalo.set_webhook("https://bot.example.org/zalo", "s3cret-s3cret")
    await zalo.delete_webhook()
    await zalo.send_message("chat-1", "một")
    await zalo.send_photo("chat-1", "https://example.org/a.png")
    await zalo.send_chat_action("chat-1")

    assert [r.api_method for r in zalo_server.requests] == [
        "getMe",
        "getUpdates",
        "getWebhookInfo",
        "setWebhook",
        "deleteWebhook",
        "sendMessage",
        "sendPhoto",
        "sendChatAction",
    ]
    assert {(r.http_method, r.content_type) for r in zalo_server.requests} == {("POST", "application/json")}


async def test_sent_messages_reach_the_chat(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    sent = await zalo.send_message("chat-1", "Cảm ơn bạn đã đề cử 🌸")
    await zalo.send_photo("chat-1", "https://example.org/qr.png", caption="Mã điểm danh")
    await zalo.send_chat_action("chat-1")

    assert sent.date is not None and sent.date >= before
    received = zalo_server.received("chat-1")
    assert [(m.method, m.text, m.photo, m.caption) for m in received] == [
        ("sendMessage", "Cảm ơn bạn đã đề cử 🌸", None, None),
        ("sendPhoto", None, "https://example.org/qr.png", "Mã điểm danh"),
    ]
    assert received[0].message_id == sent.message_id
    assert zalo_server.chat_actions("chat-1") == ["typing"]
    assert zalo_server.received("chat-2") == []


async def test_a_quota_answered_429_raises_rate_limited_with_a_backoff_hint(
    zalo_server: FakeZaloServer,
) -> None:
    zalo_server.monthly_quota = 2
    async with ZaloClient(zalo_server.token, base_url=zalo_server.base_url) as zalo:
        await zalo.send_message("chat-1", "một")
        await zalo.send_message("chat-1", "hai")
        with pytest.raises(ZaloRateLimited) as raised:
            await zalo.send_message("chat-1", "ba")

    assert raised.value.error_code == 429
    assert raised.value.retry_after == DEFAULT_RATE_LIMIT_BACKOFF_SECONDS
    assert [m.text for m in zalo_server.received("chat-1")] == ["một", "hai"]


async def test_a_retry_after_header_is_the_backoff_hint(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    zalo_server.inject_fault("sendMessage", 429, retry_after=7)

    with pytest.raises(ZaloRateLimited) as raised:
        await zalo.send_message("chat-1", "một")
    await zalo.send_message("chat-1", "lần nữa")

    assert raised.value.retry_after == 7.0
    assert [m.text for m in zalo_server.received("chat-1")] == ["lần nữa"]


async def test_ok_false_in_an_http_200_reply_is_an_error(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    zalo_server.inject_fault("sendMessage", 400, http_status=200, description="Bad Request: chat not found")

    with pytest.raises(ZaloError) as raised:
        await zalo.send_message("chat-1", "một")

    assert type(raised.value) is ZaloError
    assert (raised.value.method, raised.value.error_code) == ("sendMessage", 400)
    assert raised.value.description == "Bad Request: chat not found"


async def test_a_server_error_is_an_error_and_the_next_call_works(
    zalo: ZaloClient, zalo_server: FakeZaloServer
) -> None:
    zalo_server.inject_fault(None, 500)

    with pytest.raises(ZaloError) as raised:
        await zalo.get_me()

    assert raised.value.error_code == 500
    assert (await zalo.get_me()).id == "1234567890"


async def test_a_wrong_token_is_unauthorized(zalo_server: FakeZaloServer) -> None:
    async with ZaloClient("1234567890:wrong", base_url=zalo_server.base_url) as zalo:
        with pytest.raises(ZaloUnauthorized) as raised:
            await zalo.get_me()

    assert raised.value.error_code == 401
    assert zalo_server.requests[-1].authorized is False


async def test_the_client_refuses_texts_outside_1_to_2000_characters(
    zalo: ZaloClient, zalo_server: FakeZaloServer
) -> None:
    with pytest.raises(TextLengthError, match=r"2001 characters.*split_text"):
        await zalo.send_message("chat-1", "a" * 2001)
    with pytest.raises(TextLengthError):
        await zalo.send_message("chat-1", "")
    # An emoji counts two UTF-16 units, as Zalo's own text-style offsets do.
    with pytest.raises(TextLengthError):
        await zalo.send_message("chat-1", "🌸" * 1001)
    with pytest.raises(TextLengthError):
        await zalo.send_photo("chat-1", "https://example.org/a.png", caption="ạ" * 2001)

    assert zalo_server.requests == []
    await zalo.send_message("chat-1", "ạ" * 2000)
    await zalo.send_message("chat-1", "🌸" * 1000)
    assert len(zalo_server.received("chat-1")) == 2


async def test_the_server_refuses_texts_over_2000_characters(zalo_server: FakeZaloServer) -> None:
    async with httpx.AsyncClient() as http:
        url = f"{zalo_server.base_url}/bot{zalo_server.token}/sendMessage"
        too_long = await http.post(url, json={"chat_id": "chat-1", "text": "a" * 2001})
        empty = await http.post(url, json={"chat_id": "chat-1", "text": ""})
        fits = await http.post(url, json={"chat_id": "chat-1", "text": "a" * 2000})

    assert too_long.status_code == 400 and too_long.json()["ok"] is False
    assert too_long.json()["error_code"] == 400
    assert empty.status_code == 400
    assert fits.json()["ok"] is True
    assert [len(m.text or "") for m in zalo_server.received("chat-1")] == [2000]


async def test_photos_go_by_url_only(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    with pytest.raises(ValueError, match="URL"):
        await zalo.send_photo("chat-1", "/tmp/qr.png")
    async with httpx.AsyncClient() as http:
        upload = await http.post(
            f"{zalo_server.base_url}/bot{zalo_server.token}/sendPhoto",
            data={"chat_id": "chat-1"},
            files={"photo": ("qr.png", TINY_PNG, "image/png")},
        )

    assert upload.status_code == 400
    assert zalo_server.received("chat-1") == []


async def test_webhook_lifecycle(zalo: ZaloClient, zalo_server: FakeZaloServer) -> None:
    never = await zalo.get_webhook_info()
    registered = await zalo.set_webhook("https://bot.example.org/zalo", "a-secret-of-32-characters-000000")
    info = await zalo.get_webhook_info()
    held = zalo_server.webhook
    with pytest.raises(ZaloError) as polling:
        await zalo.get_updates(timeout=IDLE_POLL)
    deleted = await zalo.delete_webhook()
    after = await zalo.get_webhook_info()

    assert (never.url, never.updated_at, never.is_set) == ("", None, False)
    assert registered.url == info.url == "https://bot.example.org/zalo" and info.is_set
    assert info.updated_at is not None and info.updated_at.tzinfo is dt.UTC
    assert held == ("https://bot.example.org/zalo", "a-secret-of-32-characters-000000")
    assert polling.value.error_code == 400
    assert deleted.url == after.url == "" and not after.is_set
    assert zalo_server.webhook is None
    assert await zalo.get_updates(timeout=IDLE_POLL) is None


async def test_webhook_registration_needs_https_and_an_8_to_256_character_secret(
    zalo: ZaloClient, zalo_server: FakeZaloServer
) -> None:
    with pytest.raises(ValueError, match="https"):
        await zalo.set_webhook("http://bot.example.org/zalo", "long-enough")
    with pytest.raises(ValueError, match="8–256"):
        await zalo.set_webhook("https://bot.example.org/zalo", "short")
    async with httpx.AsyncClient() as http:
        url = f"{zalo_server.base_url}/bot{zalo_server.token}/setWebhook"
        plain = await http.post(url, json={"url": "http://bot.example.org/zalo", "secret_token": "long-enough"})
        short = await http.post(url, json={"url": "https://bot.example.org/zalo", "secret_token": "short"})

    assert plain.status_code == short.status_code == 400
    assert zalo_server.webhook is None


async def test_an_image_event_points_at_a_file_that_can_be_downloaded(
    zalo: ZaloClient, zalo_server: FakeZaloServer
) -> None:
    zalo_server.queue(zalo_server.image_event(zalo_server.user("Lan"), "Ảnh minh chứng", content=b"JPEG bytes"))

    update = await zalo.get_updates(timeout=IDLE_POLL)
    assert update is not None and update.message is not None and update.message.photo_url is not None
    async with httpx.AsyncClient() as http:
        photo = await http.get(update.message.photo_url)
        zalo_server.forget_file(update.message.photo_url)
        expired = await http.get(update.message.photo_url)

    assert update.message.caption == "Ảnh minh chứng"
    assert photo.status_code == 200 and photo.content == b"JPEG bytes"
    assert expired.status_code == 404


async def test_the_token_never_reaches_a_log_record(
    zalo: ZaloClient, zalo_server: FakeZaloServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "bot.channels.zalo.client"):
        caplog.set_level(logging.DEBUG, logger=name)
    zalo_server.queue(zalo_server.text_event(zalo_server.user("Lan"), "chào"))
    zalo_server.inject_fault("sendMessage", 429)

    await zalo.get_me()
    await zalo.get_updates(timeout=IDLE_POLL)
    await zalo.get_updates(timeout=IDLE_POLL)
    await zalo.get_webhook_info()
    with pytest.raises(ZaloRateLimited):
        await zalo.send_message("chat-1", "một")

    messages = [record.getMessage() for record in caplog.records]
    # httpx did log each request (so the test looks at the lines that would leak), with the token redacted.
    request_lines = [m for m in messages if m.startswith("HTTP Request: POST")]
    assert len(request_lines) == 5
    assert all(f"/bot{REDACTED}/" in line for line in request_lines)
    assert any(record.name.startswith("httpcore") for record in caplog.records)
    secret = zalo_server.token.split(":", 1)[1]
    assert not [m for m in messages if zalo_server.token in m or secret in m]
    assert secret not in caplog.text


async def test_the_token_is_not_in_errors_or_reprs(zalo_server: FakeZaloServer) -> None:
    token = zalo_server.token
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    errors: list[BaseException] = []

    async with ZaloClient(token, base_url=f"http://127.0.0.1:{closed_port}") as unreachable:
        with pytest.raises(ZaloNetworkError) as network:
            await unreachable.get_me()
        errors.append(network.value)
        assert token not in repr(unreachable)
    async with ZaloClient(f"{token}x", base_url=zalo_server.base_url) as wrong:
        with pytest.raises(ZaloUnauthorized) as unauthorized:
            await wrong.send_message("chat-1", "một")
        errors.append(unauthorized.value)
    with pytest.raises(ValueError) as malformed:
        ZaloClient(f"{token} with a space")
    errors.append(malformed.value)

    assert network.value.error_code is None
    for error in errors:
        text = "".join(traceback.format_exception(error))
        assert token not in text and token.split(":", 1)[1] not in text
