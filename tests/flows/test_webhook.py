"""Webhook mode: Telegram's POSTs reach the bot only with the secret token, on the web server shared with Zalo."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from bot.app import build_application
from bot.channels import runtime
from bot.channels.web import TELEGRAM_SECRET_HEADER
from bot.cli import ALLOWED_UPDATES
from bot.playground.transport import InProcessBotAPI
from bot.services import Services
from bot.settings import Settings
from tests.channels.waiting import eventually


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_update(update_id: int, user_id: int) -> dict[str, object]:
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


@pytest.mark.sqlite_only
async def test_dienhinh_run_in_webhook_mode_tells_telegram_the_url_and_secret_and_refuses_other_callers(database):
    port = _free_port()
    settings = Settings(
        database_url=database.url,
        bot_token="123456:TEST",
        webhook_url="https://bot.example.org/",
        webhook_secret="s3cret-token",
        webhook_listen="127.0.0.1",
        webhook_port=port,
    )
    api = InProcessBotAPI()
    running = await runtime.start(
        build_application(Services.create(settings), request=api), settings, allowed_updates=ALLOWED_UPDATES
    )
    try:
        set_webhook = [params for method, params in api.calls if method == "setWebhook"][-1]
        url = f"http://127.0.0.1:{port}/telegram"
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, json=_start_update(1, 777))
            wrong = await client.post(url, json=_start_update(2, 777), headers={TELEGRAM_SECRET_HEADER: "guess"})
            genuine = await client.post(
                url,
                content=json.dumps(_start_update(3, 888)),
                headers={TELEGRAM_SECRET_HEADER: "s3cret-token", "Content-Type": "application/json"},
            )
        await eventually(lambda: bool(api.messages(888)))
    finally:
        await runtime.stop(running)

    assert (set_webhook["url"], set_webhook["secret_token"]) == ("https://bot.example.org/telegram", "s3cret-token")
    assert (forged.status_code, wrong.status_code, genuine.status_code) == (403, 403, 200)
    assert api.messages(888)[0].text.startswith("Xin chào Lan!")
    assert api.messages(777) == []


@pytest.mark.sqlite_only
async def test_the_web_server_carries_telegram_updates_to_the_real_bot(playground):
    """bot.channels.web stands in for PTB's run_webhook: a genuine update gets a reply, a forged one nothing."""
    from zoneinfo import ZoneInfo

    from bot.channels.web import TelegramWebhook, WebServer
    from bot.i18n import Translators

    app = playground.application
    web = WebServer(
        "127.0.0.1",
        0,
        translator=Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default,
        telegram=TelegramWebhook(bot=app.bot, update_queue=app.update_queue, secret="s3cret-token"),
    )
    await web.start()
    try:
        url = f"{web.base_url}/telegram"
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, json=_start_update(1, 777))
            genuine = await client.post(
                url, json=_start_update(2, 888), headers={TELEGRAM_SECRET_HEADER: "s3cret-token"}
            )
    finally:
        await web.stop()

    assert (forged.status_code, genuine.status_code) == (403, 200)
    update = app.update_queue.get_nowait()
    assert app.update_queue.empty()
    await playground.deliver(update)
    assert playground.api.messages(888)[0].text.startswith("Xin chào Lan!")
    assert playground.api.messages(777) == []
