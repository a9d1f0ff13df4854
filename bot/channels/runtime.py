"""``dienhinh run``: every channel that has a token, in one process, on one Application.

- Telegram (BOT_TOKEN): long polling, or webhook mode (WEBHOOK_URL) at ``<WEBHOOK_URL>/telegram``;
- Zalo (ZALO_BOT_TOKEN): long polling, or webhook mode at ``<WEBHOOK_URL>/zalo`` (ZALO_WEBHOOK_SECRET);
- the web server (``bot.channels.web``) runs when a webhook or shared file links (PUBLIC_BASE_URL) need it,
  on WEBHOOK_LISTEN:WEBHOOK_PORT, serving ``/telegram``, ``/zalo``, ``/files/…`` and ``/healthz``.

This is python-telegram-bot's "custom webhook server" pattern: the Application is initialised and started
by hand, our server feeds its update queue, and SIGINT/SIGTERM stop everything in the reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from dataclasses import dataclass, field
from typing import Any

from bot.app import DienhinhApplication
from bot.channels.web import TelegramWebhook, WebServer, ZaloWebhook
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.client import ZaloClient
from bot.settings import Settings

logger = logging.getLogger(__name__)

TELEGRAM_PATH = "telegram"
ZALO_PATH = "zalo"


@dataclass
class Running:
    """What :func:`start` started, for :func:`stop`."""

    application: DienhinhApplication
    zalo_client: ZaloClient | None = None
    zalo: ZaloChannel | None = None
    web: WebServer | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)


async def start(application: DienhinhApplication, settings: Settings, *, allowed_updates: list[str]) -> Running:
    """Initialise and start the Application and every configured channel."""
    channels = settings.require_channels()
    running = Running(application)
    webhook = bool(settings.webhook_url)
    if "zalo" in channels:
        # Before initialize(): a bot without Telegram asks the Zalo channel who it is (getMe).
        running.zalo_client = ZaloClient(settings.zalo_bot_token, base_url=settings.zalo_api_base_url)
        services = application.services
        running.zalo = ZaloChannel(running.zalo_client, services.address_book, services.file_store, application)
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    if webhook or settings.public_base_url:
        running.web = WebServer(
            settings.webhook_listen,
            settings.webhook_port,
            translator=application.services.translators.default,
            telegram=TelegramWebhook(application.bot, application.update_queue, settings.webhook_secret)
            if webhook and "telegram" in channels
            else None,
            zalo=ZaloWebhook(settings.zalo_webhook_secret, _accepting(running.zalo))
            if webhook and running.zalo is not None
            else None,
            files=application.services.file_store,
        )
        await running.web.start()
        logger.info("web server on %s:%s", settings.webhook_listen, running.web.port)
    if "telegram" in channels:
        if webhook:
            await application.bot.set_webhook(
                f"{settings.webhook_url.rstrip('/')}/{TELEGRAM_PATH}",
                secret_token=settings.webhook_secret,
                allowed_updates=allowed_updates,
            )
            logger.info("Telegram: webhook mode")
        else:
            assert application.updater is not None
            await application.updater.start_polling(allowed_updates=allowed_updates)
            logger.info("Telegram: long polling")
    await application.start()
    if running.zalo is not None and running.zalo_client is not None:
        if webhook:
            await running.zalo_client.set_webhook(
                f"{settings.webhook_url.rstrip('/')}/{ZALO_PATH}", settings.zalo_webhook_secret
            )
            await running.zalo.start()
            logger.info("Zalo: webhook mode")
        else:
            # Polling and a webhook cannot be used together: a webhook left from an earlier run would
            # keep every update from the poll.
            with contextlib.suppress(Exception):
                await running.zalo_client.delete_webhook()
            await running.zalo.start_polling()
            logger.info("Zalo: long polling")
    return running


def _accepting(zalo: ZaloChannel | None) -> Any:
    assert zalo is not None

    async def accept(update: Any) -> None:
        await zalo.accept(update)

    return accept


async def stop(running: Running) -> None:
    """Stop what :func:`start` started, the channels before the Application they feed."""
    application = running.application
    if running.zalo is not None:
        await running.zalo.stop()
    if running.zalo_client is not None:
        await running.zalo_client.aclose()
    if running.web is not None:
        await running.web.stop()
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)


def settle_start_up_objects() -> None:
    """Collect once, then leave what start-up made (modules, catalogs, reference data, compiled statements:
    some 200,000 objects) out of the garbage collector's full passes (``gc.freeze``). Otherwise every full
    pass walks them all, on the event loop, and holds every update up for 150 ms or more (measured in
    ``bench.status_latency``: the loop's longest step fell from ≈ 170 ms to a few)."""
    gc.collect()
    gc.freeze()


async def serve(
    application: DienhinhApplication,
    settings: Settings,
    *,
    allowed_updates: list[str],
    until: asyncio.Event | None = None,
) -> bool:
    """Run until SIGINT or SIGTERM, or until ``until`` is set (the lease was lost: see ``bot.lease``);
    True in that last case."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    from handlers.status import CHARTS

    CHARTS.start()  # the /status chart's process starts with the bot, not at the first /status
    running = await start(application, settings, allowed_updates=allowed_updates)
    settle_start_up_objects()
    waits = [asyncio.create_task(stopping.wait())]
    if until is not None:
        waits.append(asyncio.create_task(until.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
        logger.info("stopping")
        await stop(running)
    return until is not None and until.is_set()


__all__ = ["Running", "serve", "settle_start_up_objects", "start", "stop"]
