"""The one web server: Telegram's and Zalo's webhooks, over real HTTP on 127.0.0.1.

Secrets are checked before the body is read, bodies are bounded, both Zalo envelopes are taken, a
redelivered Zalo event is handed over once, and nothing secret reaches the logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from telegram import Bot, Update

from bot.channels.web import (
    TELEGRAM_SECRET_HEADER,
    ZALO_SECRET_HEADER,
    TelegramWebhook,
    WebServer,
    ZaloWebhook,
    redact_path,
)
from bot.channels.zalo.fake_server import FakeZaloServer
from bot.channels.zalo.updates import ZaloUpdate
from bot.i18n import Translators

TELEGRAM_SECRET = "telegram-secret_0123"
ZALO_SECRET = "zalo-secret-0123456789"
LIMIT = 4096


def _translator():
    return Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default


def _telegram_start(update_id: int, user_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "date": 1_600_000_000,
            "chat": {"id": user_id, "type": "private", "first_name": "Lan"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Lan"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


class Received:
    """What the Zalo adapter would have been handed."""

    def __init__(self) -> None:
        self.updates: list[ZaloUpdate] = []

    async def accept(self, update: ZaloUpdate) -> None:
        self.updates.append(update)


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def telegram_queue() -> asyncio.Queue[object]:
    return asyncio.Queue()


@pytest.fixture
async def server(received: Received, telegram_queue: asyncio.Queue[object]) -> AsyncIterator[WebServer]:
    web = WebServer(
        "127.0.0.1",
        0,
        translator=_translator(),
        telegram=TelegramWebhook(bot=Bot("123456:TEST"), update_queue=telegram_queue, secret=TELEGRAM_SECRET),
        zalo=ZaloWebhook(secret=ZALO_SECRET, on_update=received.accept),
        max_body_bytes=LIMIT,
    )
    await web.start()
    try:
        yield web
    finally:
        await web.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
async def zalo_fake() -> AsyncIterator[FakeZaloServer]:
    # Only to build events shaped as Zalo's and to post them as Zalo does; its own HTTP side is not used.
    async with FakeZaloServer() as fake:
        yield fake


async def _raw_post(server: WebServer, path: str, headers: dict[str, str]) -> bytes:
    """Send only a request's head (no body) and read the whole answer: what the server says before reading."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    writer.write("\r\n".join(head).encode("latin-1"))
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    return answer


# --- Telegram --------------------------------------------------------------------------------------


async def test_a_telegram_update_with_the_secret_reaches_the_queue_as_an_update(server, http, telegram_queue):
    response = await http.post(
        f"{server.base_url}/telegram",
        json=_telegram_start(7, 888),
        headers={TELEGRAM_SECRET_HEADER: TELEGRAM_SECRET},
    )

    assert response.status_code == 200
    update = telegram_queue.get_nowait()
    assert isinstance(update, Update)
    assert update.update_id == 7
    assert update.effective_user is not None and update.effective_user.id == 888
    assert update.message is not None and update.message.text == "/start"


@pytest.mark.parametrize("secret", [None, "", "guess", TELEGRAM_SECRET + "x", TELEGRAM_SECRET[:-1]])
async def test_telegram_without_the_right_secret_is_refused(server, http, telegram_queue, secret):
    headers = {} if secret is None else {TELEGRAM_SECRET_HEADER: secret}

    response = await http.post(f"{server.base_url}/telegram", json=_telegram_start(1, 777), headers=headers)

    assert response.status_code == 403
    assert telegram_queue.empty()


async def test_telegram_bodies_that_are_not_updates_are_refused(server, http, telegram_queue):
    headers = {TELEGRAM_SECRET_HEADER: TELEGRAM_SECRET, "Content-Type": "application/json"}
    url = f"{server.base_url}/telegram"

    not_json = await http.post(url, content=b"{not json", headers=headers)
    a_list = await http.post(url, content=b"[1, 2]", headers=headers)
    no_update_id = await http.post(url, content=b'{"message": {}}', headers=headers)
    not_json_type = await http.post(
        url, content=json.dumps(_telegram_start(1, 1)).encode(), headers={TELEGRAM_SECRET_HEADER: TELEGRAM_SECRET}
    )

    assert [not_json.status_code, a_list.status_code, no_update_id.status_code] == [400, 400, 400]
    assert not_json_type.status_code == 415
    assert telegram_queue.empty()


async def test_telegram_oversize_body_is_refused_before_it_is_read(server, telegram_queue):
    answer = await _raw_post(
        server,
        "/telegram",
        {TELEGRAM_SECRET_HEADER: TELEGRAM_SECRET, "Content-Type": "application/json", "Content-Length": "2000000"},
    )

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert telegram_queue.empty()


async def test_telegram_only_takes_posts(server, http):
    response = await http.get(f"{server.base_url}/telegram", headers={TELEGRAM_SECRET_HEADER: TELEGRAM_SECRET})

    assert response.status_code == 405


# --- Zalo ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ["bare", "wrapped"])
async def test_zalo_updates_in_either_envelope_are_handed_over(server, received, zalo_fake, envelope):
    lan = zalo_fake.user("Nguyễn Thị Lan")
    event = zalo_fake.text_event(lan, "Đề cử")

    response = await zalo_fake.post_to_webhook(f"{server.base_url}/zalo", event, secret=ZALO_SECRET, envelope=envelope)
    await server.settle()

    assert response.status_code == 200
    assert len(received.updates) == 1
    update = received.updates[0]
    assert update.event_name == "message.text.received"
    assert update.message is not None
    assert (update.message.sender.id, update.message.text) == (lan.id, "Đề cử")


@pytest.mark.parametrize("secret", [None, "", "guess-guess", ZALO_SECRET + "x", ZALO_SECRET.upper(), "đúng-mật-khẩu"])
async def test_zalo_without_the_right_secret_is_refused(server, http, received, zalo_fake, secret):
    event = zalo_fake.text_event(zalo_fake.user("Lan"), "xin chào")
    headers: dict[str, bytes] = {"Content-Type": b"application/json"}
    if secret is not None:
        headers[ZALO_SECRET_HEADER] = secret.encode()

    response = await http.post(f"{server.base_url}/zalo", content=json.dumps(event).encode(), headers=headers)
    await server.settle()

    assert response.status_code == 401
    assert received.updates == []


async def test_zalo_secret_is_checked_before_the_body_is_read(server, received):
    # A declared body that never comes: the answer cannot have waited for it.
    answer = await _raw_post(server, "/zalo", {"Content-Type": "application/json", "Content-Length": "500"})

    assert answer.startswith(b"HTTP/1.1 401 ")
    assert received.updates == []


async def test_zalo_oversize_body_is_refused(server, received):
    answer = await _raw_post(
        server,
        "/zalo",
        {ZALO_SECRET_HEADER: ZALO_SECRET, "Content-Type": "application/json", "Content-Length": str(LIMIT + 1)},
    )

    assert answer.startswith(b"HTTP/1.1 413 ")
    assert received.updates == []


async def test_a_zalo_body_at_the_limit_is_taken(server, http, received, zalo_fake):
    event = zalo_fake.text_event(zalo_fake.user("Lan"), "x")
    body = json.dumps(event).encode()
    body = body[:-1] + b" " * (LIMIT - len(body)) + b"}"  # padded with whitespace to exactly the limit

    response = await http.post(f"{server.base_url}/zalo", content=body, headers={ZALO_SECRET_HEADER: ZALO_SECRET})
    await server.settle()

    assert len(body) == LIMIT
    assert response.status_code == 200
    assert len(received.updates) == 1


async def test_a_chunked_zalo_body_past_the_limit_is_not_handed_over(server, http, received, zalo_fake):
    event = zalo_fake.text_event(zalo_fake.user("Lan"), "x" * (2 * LIMIT))

    async def chunks() -> AsyncIterator[bytes]:
        data = json.dumps(event).encode()
        for start in range(0, len(data), 1000):
            yield data[start : start + 1000]

    try:
        response = await http.post(
            f"{server.base_url}/zalo", content=chunks(), headers={ZALO_SECRET_HEADER: ZALO_SECRET}
        )
        status = response.status_code
    except httpx.HTTPError:
        status = None  # the server may end the connection instead of answering
    await server.settle()

    assert status in (None, 400, 413)
    assert received.updates == []


async def test_a_redelivered_zalo_event_is_handed_over_once(server, received, zalo_fake):
    event = zalo_fake.text_event(zalo_fake.user("Lan"), "1")
    url = f"{server.base_url}/zalo"

    first = await zalo_fake.post_to_webhook(url, event, secret=ZALO_SECRET, envelope="bare")
    again = await zalo_fake.post_to_webhook(url, event, secret=ZALO_SECRET, envelope="wrapped")
    await server.settle()

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(received.updates) == 1


async def test_an_empty_zalo_post_is_answered_200_and_hands_nothing_over(server, http, received):
    # Zalo was seen to send this, without a content type (zalo-bot-api.md §4); whether with the secret is unknown.
    bare = await http.post(f"{server.base_url}/zalo", content=b"")
    with_secret = await http.post(f"{server.base_url}/zalo", content=b"", headers={ZALO_SECRET_HEADER: ZALO_SECRET})
    await server.settle()

    assert (bare.status_code, with_secret.status_code) == (200, 200)
    assert received.updates == []


async def test_a_malformed_zalo_body_is_400_with_one_short_log_line(server, http, received, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.channels.web")
    private = "Số CCCD 001234567890 của Nguyễn Văn A"
    bodies = [
        b"{not json " + private.encode(),
        json.dumps({"event_name": "message.text.received", "message": {"text": private}}).encode(),
        json.dumps({"ok": False, "result": {"note": private}}).encode(),
        b"[]",
    ]

    answers = [
        await http.post(f"{server.base_url}/zalo", content=body, headers={ZALO_SECRET_HEADER: ZALO_SECRET})
        for body in bodies
    ]
    await server.settle()

    assert [answer.status_code for answer in answers] == [400, 400, 400, 400]
    assert received.updates == []
    lines = [record.getMessage() for record in caplog.records if "malformed" in record.getMessage()]
    assert len(lines) == len(bodies)
    assert all(len(line) < 200 and "\n" not in line for line in lines)
    assert not any("001234567890" in record.getMessage() for record in caplog.records)


async def test_a_slow_adapter_does_not_make_zalo_wait(received, zalo_fake, http):
    release = asyncio.Event()
    handed: list[ZaloUpdate] = []

    async def slow_accept(update: ZaloUpdate) -> None:
        await release.wait()
        handed.append(update)

    web = WebServer(
        "127.0.0.1", 0, translator=_translator(), zalo=ZaloWebhook(secret=ZALO_SECRET, on_update=slow_accept)
    )
    await web.start()
    try:
        event = zalo_fake.text_event(zalo_fake.user("Lan"), "1")
        response = await zalo_fake.post_to_webhook(f"{web.base_url}/zalo", event, secret=ZALO_SECRET)
        assert response.status_code == 200
        assert handed == []  # answered while the adapter was still busy
        release.set()
        await web.settle()
        assert len(handed) == 1
    finally:
        await web.stop()


async def test_an_adapter_that_fails_is_logged_and_the_server_keeps_serving(zalo_fake, caplog):
    async def failing_accept(update: ZaloUpdate) -> None:
        raise RuntimeError("the adapter broke")

    web = WebServer(
        "127.0.0.1", 0, translator=_translator(), zalo=ZaloWebhook(secret=ZALO_SECRET, on_update=failing_accept)
    )
    await web.start()
    try:
        user = zalo_fake.user("Lan")
        url = f"{web.base_url}/zalo"
        first = await zalo_fake.post_to_webhook(url, zalo_fake.text_event(user, "1"), secret=ZALO_SECRET)
        second = await zalo_fake.post_to_webhook(url, zalo_fake.text_event(user, "2"), secret=ZALO_SECRET)
        await web.settle()
    finally:
        await web.stop()

    assert (first.status_code, second.status_code) == (200, 200)
    failures = [record for record in caplog.records if "could not be handed over" in record.getMessage()]
    assert len(failures) == 2


# --- the rest --------------------------------------------------------------------------------------


async def test_healthz_and_unknown_paths(server, http):
    health = await http.get(f"{server.base_url}/healthz")
    unknown = await http.get(f"{server.base_url}/wp-admin")
    files_not_mounted = await http.get(f"{server.base_url}/files/abc/def.png")

    assert (health.status_code, health.text) == (200, "ok")
    assert unknown.status_code == 404
    assert files_not_mounted.status_code == 404
    assert "Server" not in health.headers


async def test_routes_are_mounted_only_when_configured(http):
    web = WebServer("127.0.0.1", 0, translator=_translator())
    await web.start()
    try:
        telegram = await http.post(f"{web.base_url}/telegram", json={}, headers={TELEGRAM_SECRET_HEADER: ""})
        zalo = await http.post(f"{web.base_url}/zalo", json={})
    finally:
        await web.stop()

    assert (telegram.status_code, zalo.status_code) == (404, 404)


def test_a_webhook_without_a_secret_is_not_mounted():
    with pytest.raises(ValueError, match="secret"):
        WebServer(
            "127.0.0.1",
            0,
            translator=_translator(),
            zalo=ZaloWebhook(secret="", on_update=Received().accept),
        )


async def test_stop_then_the_port_is_closed():
    web = WebServer("127.0.0.1", 0, translator=_translator())
    await web.start()
    port = web.port
    await web.stop()

    with pytest.raises(OSError):
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()


def test_paths_in_logs_keep_six_characters_of_a_token():
    assert redact_path("/files/AbCdEfGhIjKlMnOpQrStUvWx/giay-moi.ics") == "/files/AbCdEf…/giay-m…"
    assert redact_path("/files/AbCdEfGhIjKlMnOpQrStUvWx/qr.png") == "/files/AbCdEf…/qr.png"
    assert redact_path("/zalo?token=1234567890abcdef") == "/zalo"
    assert redact_path("/healthz") == "/healthz"
