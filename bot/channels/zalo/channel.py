"""The Zalo channel: Zalo events into the Application, the Application's Bot API calls out to Zalo.

``ZaloChannel(client, address_book, file_store, application)`` registers its outbound renderer with the
:class:`~bot.channels.router.ChannelRouter` the Application's Bot talks through, and takes events two ways:

- :meth:`ZaloChannel.start_polling`: a background task asks ``getUpdates`` for one event at a time (Zalo has
  no batches and no offset; an idle poll is its 408, which the client reads as "nothing"), backs off with
  jitter on network errors and 429, and stops with one ERROR line when the token is refused (401);
- :meth:`ZaloChannel.accept`: what the web server calls for each webhook delivery.

Both drop duplicates on ``(event_name, message_id)`` (Zalo may deliver an event twice, and has no
``update_id``) and hand events to one worker, which converts them in order (a photo is downloaded then) and
puts the PTB update on ``application.update_queue``. Polling never waits for a download.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram.ext import Application

from bot.channels.base import AddressBook, FileStore, MonotonicIds
from bot.channels.router import ChannelRouter
from bot.channels.zalo import CHANNEL
from bot.channels.zalo.client import (
    DEFAULT_POLL_TIMEOUT_SECONDS,
    ZaloClient,
    ZaloError,
    ZaloRateLimited,
    ZaloUnauthorized,
)
from bot.channels.zalo.inbound import ZaloInbound
from bot.channels.zalo.outbound import DEFAULT_LINK_LIFETIME, ZaloOutbound
from bot.channels.zalo.updates import Deduplicator, ZaloUpdate, ZaloUpdateError
from bot.i18n import Translators

__all__ = ["Backoff", "ZaloChannel"]

# Events waiting for the worker; beyond this, accept() waits (a webhook then answers more slowly).
MAX_PENDING_EVENTS = 1000

logger = logging.getLogger(__name__)


class Backoff:
    """How long to wait after the n-th failure in a row: doubling from ``first`` up to ``cap``, jittered so
    several processes that failed together do not come back together.

    A network failure waits between half and all of the doubled step. A 429 means a Zalo quota is used up
    and says when to come back (``retry_after``, a minute when Zalo gives no hint); consecutive 429s double
    that, up to ``rate_limit_cap``, plus up to a quarter more.
    """

    def __init__(
        self,
        first: float = 1.0,
        cap: float = 60.0,
        rate_limit_cap: float = 900.0,
        rng: random.Random | None = None,
    ) -> None:
        self.first = first
        self.cap = cap
        self.rate_limit_cap = rate_limit_cap
        self.rng = rng or random.Random()
        self.failures = 0
        self.rate_limits = 0

    def after_failure(self) -> float:
        step = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return self.rng.uniform(step / 2, step)

    def after_rate_limit(self, retry_after: float) -> float:
        step = min(self.rate_limit_cap, max(retry_after, self.first) * 2**self.rate_limits)
        self.rate_limits += 1
        return step * self.rng.uniform(1.0, 1.25)

    def reset(self) -> None:
        self.failures = 0
        self.rate_limits = 0


class ZaloChannel:
    """Zalo for the Application whose Bot talks through a :class:`ChannelRouter`.

    ``translators`` default to the Application's (``application.services.translators``); ``link_lifetime``
    is the FileStore's link lifetime (FILE_LINK_TTL_HOURS); ``http`` downloads inbound photos; ``sleep``
    and ``backoff`` are for tests.
    """

    def __init__(
        self,
        client: ZaloClient,
        address_book: AddressBook,
        file_store: FileStore | None,
        application: Application[Any, Any, Any, Any, Any, Any],
        *,
        translators: Translators | None = None,
        link_lifetime: dt.timedelta = DEFAULT_LINK_LIFETIME,
        poll_timeout: float = DEFAULT_POLL_TIMEOUT_SECONDS,
        http: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        deduplicator: Deduplicator | None = None,
    ) -> None:
        router = application.bot.request
        if not isinstance(router, ChannelRouter):
            raise TypeError("the Application's Bot must talk through a ChannelRouter for Zalo calls to reach Zalo")
        if translators is None:
            translators = application.services.translators  # type: ignore[attr-defined]
        self.client = client
        self.application = application
        self.poll_timeout = poll_timeout
        self.backoff = backoff or Backoff()
        self.deduplicator = deduplicator or Deduplicator()
        self._sleep = sleep
        # One counter for the messages both ways: an id PTB has seen once is never handed out again.
        message_ids = MonotonicIds()
        self.outbound = ZaloOutbound(
            client, address_book, file_store, translators, message_ids=message_ids, link_lifetime=link_lifetime
        )
        self.inbound = ZaloInbound(address_book, file_store, application.bot, http=http, message_ids=message_ids)
        router.add_channel(CHANNEL, self.outbound)
        self._inbox: asyncio.Queue[ZaloUpdate | None] = asyncio.Queue(MAX_PENDING_EVENTS)
        self._worker: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def polling(self) -> bool:
        """Whether the polling task runs (it ends by itself when Zalo refuses the token)."""
        return self._poller is not None and not self._poller.done()

    async def start(self) -> None:
        """Start the worker that hands events to the Application (webhook mode needs no more)."""
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="zalo-inbound")

    async def start_polling(self) -> None:
        """Start the worker and the background task that polls ``getUpdates``."""
        await self.start()
        if not self.polling:
            self._poller = asyncio.create_task(self._poll(), name="zalo-polling")

    async def stop(self) -> None:
        """Stop polling, let the worker hand over the events already taken from Zalo, close the downloads.

        Final: a stopped channel is not started again (make a new one).
        """
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        if self._worker is not None:
            if not self._worker.done():
                await self._inbox.put(None)
                await self._worker
            self._worker = None
        await self.inbound.aclose()

    async def accept(self, update: ZaloUpdate) -> bool:
        """Take one event (a webhook delivery, or what a poll returned); False for a duplicate.

        Returns as soon as the event is queued: converting it (downloading a photo) happens in the worker.
        """
        if self.deduplicator.is_duplicate(update):
            logger.debug("duplicate Zalo event %s dropped", update.event_name)
            return False
        await self.start()
        await self._inbox.put(update)
        return True

    # --- the worker ------------------------------------------------------------------------------------

    async def _work(self) -> None:
        while (event := await self._inbox.get()) is not None:
            try:
                update = await self.inbound.to_update(event)
            except Exception:
                # One event must not stop the channel (the address book's database may be down a moment).
                logger.exception("a Zalo %s event could not be handed to the bot; dropped", event.event_name[:64])
                continue
            if update is not None:
                await self.application.update_queue.put(update)

    # --- polling ---------------------------------------------------------------------------------------

    async def _poll(self) -> None:
        while True:
            try:
                event = await self.client.get_updates(timeout=self.poll_timeout)
            except ZaloUnauthorized:
                logger.error(
                    "Zalo refused the bot token (401): polling stopped. Put the token from Zalo Bot Creator in "
                    "ZALO_BOT_TOKEN and restart."
                )
                return
            except ZaloRateLimited as error:
                await self._pause(self.backoff.after_rate_limit(error.retry_after), error)
                continue
            except ZaloUpdateError as error:
                # The event is gone either way (there is no offset to leave it at).
                logger.warning("a malformed Zalo update was skipped: %s", error)
                continue
            except ZaloError as error:
                await self._pause(self.backoff.after_failure(), error)
                continue
            self.backoff.reset()
            if self._failing:
                logger.info("Zalo polling works again")
                self._failing = False
            if event is not None:
                await self.accept(event)

    async def _pause(self, seconds: float, error: ZaloError) -> None:
        # One WARNING when the trouble starts; while it lasts, the rest at DEBUG (quiet logs).
        level = logging.DEBUG if self._failing else logging.WARNING
        logger.log(level, "Zalo polling paused %.1f s: %s", seconds, error)
        self._failing = True
        await self._sleep(seconds)
