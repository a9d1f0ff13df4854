"""``dienhinh run`` serves every channel that has a token: a Zalo-only bot by polling and by webhook, through
the real Application, the real Zalo client and the fake Zalo server; the Zalo token in no log line."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import pytest

from bot.app import build_application
from bot.channels import runtime
from bot.channels.zalo.fake_server import FakeZaloServer
from bot.services import Services
from bot.settings import Settings
from storage.db import Database
from tests.channels.waiting import eventually

SECRET = "zalo-webhook-secret-42"
ALLOWED = ["message", "edited_message", "callback_query"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(database: Database, server: FakeZaloServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database.url,
        "bot_token": "",
        "zalo_bot_token": server.token,
        "zalo_api_base_url": server.base_url,
        "link_secret": "test-link-secret",
        "webhook_url": "",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def server() -> AsyncIterator[FakeZaloServer]:
    async with FakeZaloServer() as fake:
        yield fake


async def test_a_zalo_only_bot_polls_and_answers(database, server, caplog):
    caplog.set_level(logging.DEBUG)
    settings = _settings(database, server)
    application = build_application(Services.create(settings))
    running = await runtime.start(application, settings, allowed_updates=ALLOWED)
    try:
        lan = server.user("Nguyễn Thị Lan")
        server.queue(server.text_event(lan, "/start"))
        await eventually(lambda: len(server.received(lan.id)) >= 1)
    finally:
        await runtime.stop(running)

    assert server.received(lan.id)[0].text.startswith("Xin chào Nguyễn Thị Lan!")
    assert running.web is None  # no webhook, no file links: no web server
    assert server.token not in caplog.text
    assert server.token.split(":", 1)[-1] not in caplog.text


async def test_in_webhook_mode_zalo_posts_to_slash_zalo_with_its_secret(database, server, caplog):
    caplog.set_level(logging.DEBUG)
    port = _free_port()
    settings = _settings(
        database,
        server,
        webhook_url="https://bot.tayho.example.vn",
        zalo_webhook_secret=SECRET,
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    application = build_application(Services.create(settings))
    running = await runtime.start(application, settings, allowed_updates=ALLOWED)
    try:
        minh = server.user("Trần Văn Minh")
        url = f"http://127.0.0.1:{port}/zalo"
        refused = await server.post_to_webhook(url, server.text_event(minh, "/start"), secret="wrong-secret")
        accepted = await server.post_to_webhook(url, server.text_event(minh, "/help"), secret=SECRET)
        await eventually(lambda: len(server.received(minh.id)) >= 1)
    finally:
        await runtime.stop(running)

    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert [message.text.split("\n", 1)[0] for message in server.received(minh.id)] == ["Bạn có thể:"]
    assert server.token not in caplog.text
    assert SECRET not in caplog.text
