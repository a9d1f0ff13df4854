"""One web server for every channel, inside the bot's asyncio loop (tornado, which PTB's webhooks bring).

Routes (each mounted only when configured):

- ``POST /telegram``: Telegram's webhook. ``X-Telegram-Bot-Api-Secret-Token`` is compared in constant time
  before a byte of the body is read; the body is at most 1 MB (413 above); the JSON becomes a
  ``telegram.Update`` on the Application's ``update_queue``, and Telegram gets 200 at once. This replaces
  PTB's ``run_webhook`` (``telegram/ext/_utils/webhookhandler.py``), so Telegram and Zalo share one port.
- ``POST /zalo``: Zalo's webhook (``zalo-bot-api.md`` §4). ``X-Bot-Api-Secret-Token`` compared in constant
  time before the body is read (401 otherwise); the same size limit; both envelope shapes; duplicates on
  ``(event_name, message_id)`` dropped; the update handed to ``on_update`` in a task of its own, so Zalo
  gets 200 without waiting for the bot; a malformed body 400 and one short log line.
- ``GET``/``HEAD /files/<token>/<name>``: a file shared by link (:mod:`rules.files`), with headers that
  keep it out of caches and stop browsers from guessing its type; an unknown, expired or malformed token
  gets the same 404 after the same one query; too many misses from one address get a cool-down (429).
- ``GET /healthz``: ``ok``.

Tokens and secrets never reach a log line: the access log names paths with every long segment cut to six
characters, and errors are logged without the request (whose repr carries the headers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import logging
import math
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol

import tornado.web
from telegram import Bot, Update
from telegram.ext import ExtBot
from tornado.http1connection import HTTP1Connection
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot.channels.zalo.updates import Deduplicator, ZaloUpdate, ZaloUpdateError, parse_update_json
from bot.i18n import N_, Translator
from rules.files import SharedFile, ascii_name
from rules.guesses import GuessThrottle

__all__ = [
    "MAX_WEBHOOK_BODY_BYTES",
    "TELEGRAM_SECRET_HEADER",
    "ZALO_SECRET_HEADER",
    "SharedFiles",
    "TelegramWebhook",
    "WebServer",
    "ZaloWebhook",
    "content_disposition",
    "redact_path",
]

logger = logging.getLogger(__name__)

TELEGRAM_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ZALO_SECRET_HEADER = "X-Bot-Api-Secret-Token"
# An update is a few kilobytes; Telegram's largest (a long message with entities) stays far below this.
MAX_WEBHOOK_BODY_BYTES = 1 << 20
# A slow sender may not hold a connection open for ever.
BODY_TIMEOUT_SECONDS = 30.0
IDLE_CONNECTION_SECONDS = 75.0
STOP_TIMEOUT_SECONDS = 10.0
# Misses at /files per address: a 144-bit token cannot be guessed, so this only keeps scanners off the
# database. Generous, because many phones on one mobile network share an address.
FILE_MISS_LIMIT = 30
FILE_MISS_KIND = "file_link"
# Shown inline by a browser (a QR code, a chart); everything else downloads. SVG is not here: it can carry
# script.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_LOGGED_SEGMENT_CHARS = 6
_LONG_SEGMENT_CHARS = 12

MISSING_FILE_TEXT = N_("This link is not valid or has expired. Please ask the assistant for the file again.")
TOO_MANY_MISSES_TEXT = N_("Too many wrong links were opened from this address. Please try again in a few minutes.")


class SharedFiles(Protocol):
    """Where ``/files`` reads from (:class:`rules.files.DatabaseFileStore`)."""

    async def open_share(self, token: str, *, with_data: bool = True) -> SharedFile | None: ...


@dataclass(frozen=True)
class TelegramWebhook:
    """``/telegram``: the Application's bot (to build updates) and queue, and the secret given to setWebhook."""

    bot: Bot
    update_queue: asyncio.Queue[Any]
    secret: str


@dataclass(frozen=True)
class ZaloWebhook:
    """``/zalo``: the secret given to setWebhook, and what takes each new update (``ZaloChannel.accept``)."""

    secret: str
    on_update: Callable[[ZaloUpdate], Awaitable[None]]
    deduplicator: Deduplicator = field(default_factory=Deduplicator)


def redact_path(path: str) -> str:
    """``path`` fit for a log: the query dropped and every long segment (a token) cut to six characters."""
    segments = path.split("?", 1)[0].split("/")
    return "/".join(
        segment if len(segment) < _LONG_SEGMENT_CHARS else segment[:_LOGGED_SEGMENT_CHARS] + "…" for segment in segments
    )


def content_disposition(filename: str, content_type: str) -> str:
    """``inline`` for images a browser shows safely, ``attachment`` otherwise; the Vietnamese name in
    ``filename*`` (RFC 6266/5987) and an ASCII one in ``filename`` for clients that know no better."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind = "inline" if media in INLINE_TYPES else "attachment"
    fallback = ascii_name(filename).replace('"', "")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _same_secret(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    # tornado decodes headers as latin-1, so encoding back gives the bytes that were sent.
    return hmac.compare_digest(given.encode("latin-1", "replace"), expected.encode("utf-8"))


class WebServer:
    """The HTTP server: ``await start()`` inside the running loop, ``await stop()`` before it ends.

    ``port`` 0 picks a free port (read :attr:`port` after :meth:`start`). ``trust_forwarded_for``: behind
    a reverse proxy that sets ``X-Forwarded-For``/``X-Real-Ip`` (the TLS proxy the README puts in front),
    so the miss throttle counts each phone's address rather than the proxy's; never without such a proxy,
    or anyone could pick their address.
    """

    def __init__(
        self,
        listen: str,
        port: int,
        *,
        translator: Translator,
        telegram: TelegramWebhook | None = None,
        zalo: ZaloWebhook | None = None,
        files: SharedFiles | None = None,
        max_body_bytes: int = MAX_WEBHOOK_BODY_BYTES,
        file_misses: GuessThrottle | None = None,
        trust_forwarded_for: bool = False,
        clock: Callable[[], dt.datetime] = _utc_now,
        stop_timeout: float = STOP_TIMEOUT_SECONDS,
    ) -> None:
        if telegram is not None and not telegram.secret:
            raise ValueError("the Telegram webhook needs a secret")
        if zalo is not None and not zalo.secret:
            raise ValueError("the Zalo webhook needs a secret")
        self.listen = listen
        self.translator = translator
        self.telegram = telegram
        self.zalo = zalo
        self.files = files
        self.max_body_bytes = max_body_bytes
        # Not `or`: an empty throttle has len() 0, so it is falsy.
        self.file_misses = file_misses if file_misses is not None else GuessThrottle(limit=FILE_MISS_LIMIT)
        self.clock = clock
        self._requested_port = port
        self._port: int | None = None
        self._trust_forwarded_for = trust_forwarded_for
        self._stop_timeout = stop_timeout
        self._http: HTTPServer | None = None
        self._zalo_tasks: set[asyncio.Task[None]] = set()
        self.missing_file_text = translator(MISSING_FILE_TEXT)
        self.too_many_misses_text = translator(TOO_MANY_MISSES_TEXT)
        self._app = _Application(self._routes(), default_handler_class=_NotFound, default_handler_args={"server": self})

    @property
    def port(self) -> int:
        """The port listened on (the one the system picked when 0 was asked for)."""
        if self._port is None:
            raise RuntimeError("the web server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://<listen>:<port>``, for tests and the playground."""
        return f"http://{self.listen}:{self.port}"

    async def start(self) -> None:
        """Listen; from here on requests are served by the running loop."""
        if self._http is not None:
            return
        sockets = bind_sockets(self._requested_port, address=self.listen)
        self._http = HTTPServer(
            self._app,
            xheaders=self._trust_forwarded_for,
            max_body_size=self.max_body_bytes,
            body_timeout=BODY_TIMEOUT_SECONDS,
            idle_connection_timeout=IDLE_CONNECTION_SECONDS,
        )
        self._http.add_sockets(sockets)
        self._port = int(sockets[0].getsockname()[1])
        logger.info("web server listening on %s:%d (%s)", self.listen, self._port, ", ".join(self._mounted()))

    async def stop(self) -> None:
        """Stop listening, close connections, and let the Zalo updates already accepted be handed over."""
        if self._http is None:
            return
        http, self._http = self._http, None
        http.stop()
        await http.close_all_connections()
        if self._zalo_tasks:
            await asyncio.wait(set(self._zalo_tasks), timeout=self._stop_timeout)
        for task in list(self._zalo_tasks):
            task.cancel()
        await asyncio.gather(*self._zalo_tasks, return_exceptions=True)
        logger.info("web server stopped")

    async def settle(self) -> None:
        """Wait until every Zalo update accepted so far has been handed to ``on_update``."""
        if self._zalo_tasks:
            await asyncio.wait(set(self._zalo_tasks))

    def hand_over(self, update: ZaloUpdate) -> None:
        """Run ``on_update(update)`` without making the webhook's caller wait for it."""
        task = asyncio.get_running_loop().create_task(self._run_on_update(update))
        self._zalo_tasks.add(task)
        task.add_done_callback(self._zalo_tasks.discard)

    async def _run_on_update(self, update: ZaloUpdate) -> None:
        assert self.zalo is not None
        try:
            await self.zalo.on_update(update)
        except Exception:
            logger.exception("zalo: a %s update could not be handed over", update.event_name)

    def _routes(self) -> list[Any]:
        shared = {"server": self}
        routes: list[Any] = [(r"/healthz", _Health, shared)]
        if self.telegram is not None:
            routes.append((r"/telegram/?", _TelegramHandler, shared))
        if self.zalo is not None:
            routes.append((r"/zalo/?", _ZaloHandler, shared))
        if self.files is not None:
            routes.append((r"/files/(.*)", _SharedFileHandler, shared))
        return routes

    def _mounted(self) -> list[str]:
        mounted = ["/healthz"]
        mounted += ["/telegram"] if self.telegram else []
        mounted += ["/zalo"] if self.zalo else []
        mounted += ["/files"] if self.files else []
        return mounted


class _Application(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        # tornado's access log prints the whole URI, tokens included.
        request = handler.request
        logger.debug(
            "%s %s %d %.1f ms",
            request.method,
            redact_path(request.path),
            handler.get_status(),
            1000.0 * request.request_time(),
        )


class _Handler(tornado.web.RequestHandler):
    """Plain-text answers, no server banner, and logs that name neither the URI nor the headers."""

    server: WebServer

    def initialize(self, server: WebServer) -> None:
        self.server = server

    def compute_etag(self) -> str | None:
        return None  # nothing here is to be cached or revalidated

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "private, no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        try:
            self.finish(HTTPStatus(status_code).phrase)
        except ValueError:
            self.finish()

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, tornado.web.HTTPError):
            return  # an answer we chose (405 and the like), not a failure
        logger.error("web: %s %s failed", self.request.method, redact_path(self.request.path), exc_info=value)

    def answer(self, status: HTTPStatus, text: str = "") -> None:
        self.set_status(status)
        self.finish(text)


class _NotFound(_Handler):
    def prepare(self) -> None:
        self.answer(HTTPStatus.NOT_FOUND, "Not Found")


class _Health(_Handler):
    SUPPORTED_METHODS = ("GET", "HEAD")

    def get(self) -> None:
        self.finish("ok")

    def head(self) -> None:
        self.set_header("Content-Length", "2")
        self.finish()


@tornado.web.stream_request_body
class _Webhook(_Handler):
    """A POST whose secret header is checked, and whose declared size is checked, before the body is read.

    The body arrives through :meth:`data_received` only after :meth:`prepare` accepted the request; a
    rejected one is answered and its connection closed unread.
    """

    SUPPORTED_METHODS = ("POST",)
    secret_header = ""
    refusal = HTTPStatus.UNAUTHORIZED
    # Zalo was once seen to POST an empty body with no headers (§4): answered 200, whoever sends it.
    empty_probe_allowed = False

    def expected_secret(self) -> str:
        raise NotImplementedError

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._received = 0
        self._too_large = False
        if self.empty_probe_allowed and self._declares_no_body():
            return
        if not _same_secret(self.request.headers.get(self.secret_header), self.expected_secret()):
            logger.info("%s: a request without the right secret refused", self.request.path.strip("/"))
            self._refuse(self.refusal)
            return
        limit = self.server.max_body_bytes
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        unfit = self.unfit_request()
        if unfit is not None:
            self._refuse(unfit)
            return
        connection = self.request.connection
        if isinstance(connection, HTTP1Connection):
            connection.set_max_body_size(limit)  # a chunked body beyond it ends the connection

    def unfit_request(self) -> HTTPStatus | None:
        """A route's own check of the headers, once the secret was right; the refusal, or None."""
        return None

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        if self._received > self.server.max_body_bytes:
            self._too_large = True
            self._chunks.clear()
        elif not self._too_large:
            self._chunks.append(chunk)

    def body(self) -> bytes | None:
        """The body, or None (and 413 sent) when it went past the limit."""
        if self._too_large:
            self.answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return None
        return b"".join(self._chunks)

    def _declares_no_body(self) -> bool:
        headers = self.request.headers
        return headers.get("Content-Length", "0").strip() == "0" and "Transfer-Encoding" not in headers

    def _refuse(self, status: HTTPStatus) -> None:
        # The body stays unread: tornado closes the connection once the answer is out.
        self.set_header("Connection", "close")
        self.answer(status)


class _TelegramHandler(_Webhook):
    secret_header = TELEGRAM_SECRET_HEADER
    # What PTB's own webhook answers; Telegram shows it in getWebhookInfo's last_error_message.
    refusal = HTTPStatus.FORBIDDEN

    def expected_secret(self) -> str:
        assert self.server.telegram is not None
        return self.server.telegram.secret

    def unfit_request(self) -> HTTPStatus | None:
        content_type = self.request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        return None if content_type == "application/json" else HTTPStatus.UNSUPPORTED_MEDIA_TYPE

    async def post(self) -> None:
        telegram = self.server.telegram
        assert telegram is not None
        body = self.body()
        if body is None:
            return
        try:
            data = json.loads(body)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            update = Update.de_json(data, telegram.bot)
        except Exception as error:  # PTB raises whatever a missing field leads to
            logger.warning("telegram: a webhook body that is not an update refused (%s)", type(error).__name__)
            self.answer(HTTPStatus.BAD_REQUEST)
            return
        if isinstance(telegram.bot, ExtBot):
            # Arbitrary callback data, when the Application uses it (PTB's handler does the same).
            telegram.bot.insert_callback_data(update)
        await telegram.update_queue.put(update)
        self.answer(HTTPStatus.OK)


class _ZaloHandler(_Webhook):
    secret_header = ZALO_SECRET_HEADER
    empty_probe_allowed = True

    def expected_secret(self) -> str:
        assert self.server.zalo is not None
        return self.server.zalo.secret

    async def post(self) -> None:
        zalo = self.server.zalo
        assert zalo is not None
        body = self.body()
        if body is None:
            return
        if not body.strip():
            self.answer(HTTPStatus.OK)
            return
        try:
            update = parse_update_json(body)
        except ZaloUpdateError as error:
            # The parser's reason names a field, never the body's content.
            logger.info("zalo: a malformed webhook body (%d bytes) refused: %s", len(body), str(error)[:120])
            self.answer(HTTPStatus.BAD_REQUEST)
            return
        if zalo.deduplicator.is_duplicate(update):
            logger.debug("zalo: a %s update delivered again, dropped", update.event_name)
        else:
            self.server.hand_over(update)
        self.answer(HTTPStatus.OK)


class _SharedFileHandler(_Handler):
    SUPPORTED_METHODS = ("GET", "HEAD")

    async def get(self, rest: str) -> None:
        await self._serve(rest, with_body=True)

    async def head(self, rest: str) -> None:
        await self._serve(rest, with_body=False)

    async def _serve(self, rest: str, *, with_body: bool) -> None:
        server = self.server
        assert server.files is not None
        # The name after the token is only for the eye: a messenger that re-encodes it breaks nothing.
        token = rest.split("/", 1)[0]
        address = self.request.remote_ip or "?"
        now = server.clock()
        blocked_until = server.file_misses.blocked_until(address, now)
        if blocked_until is not None:
            self.set_header("Retry-After", str(max(1, math.ceil((blocked_until - now).total_seconds()))))
            self._plain(HTTPStatus.TOO_MANY_REQUESTS, server.too_many_misses_text, with_body)
            return
        shared = await server.files.open_share(token, with_data=with_body)
        if shared is None:
            tripped = server.file_misses.missed(address, FILE_MISS_KIND, now)
            if tripped is not None:
                logger.warning(
                    "files: %d wrong links from %s; refused until %s",
                    tripped.misses,
                    address,
                    tripped.until.isoformat(),
                )
            self._plain(HTTPStatus.NOT_FOUND, server.missing_file_text, with_body)
            return
        self.set_header("Content-Type", shared.content_type)
        self.set_header("Content-Disposition", content_disposition(shared.filename, shared.content_type))
        self.set_header("Content-Length", str(shared.size))
        # The file is all there is: nothing in it may run, and its link goes to no one it links to.
        self.set_header("Content-Security-Policy", "sandbox")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_status(HTTPStatus.OK)
        if with_body and shared.data is not None:
            self.write(shared.data)
        self.finish()

    def _plain(self, status: HTTPStatus, text: str, with_body: bool) -> None:
        encoded = text.encode("utf-8")
        self.set_status(status)
        self.set_header("Content-Length", str(len(encoded)))
        if with_body:
            self.write(encoded)
        self.finish()
