"""A fake Zalo Bot API server on 127.0.0.1, for tests and the playground.

Real HTTP/1.1 on an ephemeral port (``asyncio.start_server`` and a minimal parser, standard library only),
so the real :class:`~bot.channels.zalo.client.ZaloClient` is exercised down to the socket. It behaves as
``../shared/docs/zalo-bot-api.md`` says the real one does:

- ``/bot<TOKEN>/<method>``; a wrong token is answered 401; method names are case-sensitive;
- parameters from JSON, a form or the query string, as the real API accepts all three;
- ``getUpdates`` hands out one event per call, waits up to ``timeout`` seconds, then answers HTTP 408
  ``{"ok": false, "error_code": 408, "description": "Request timeout"}``;
- ``sendMessage`` takes 1–2000 characters (400 beyond), ``sendPhoto`` a photo URL only, and every message
  counts against a monthly quota (3,000 on the free plan), after which the answer is 429;
- ``getWebhookInfo`` is 404 for a bot that never had a webhook; ``setWebhook`` wants an https URL and a
  secret of 8–256 characters.

A test (a) queues what a person sends (:meth:`FakeZaloServer.text_event` and friends, then
:meth:`~FakeZaloServer.queue`), (b) reads what each chat received (:meth:`~FakeZaloServer.received`),
(c) posts an event to a webhook in either envelope (:meth:`~FakeZaloServer.post_to_webhook`), and
(d) injects faults (:meth:`~FakeZaloServer.inject_fault`). Image events point at a file this server serves
under ``/files/``, so downloading one can be tested too.

Where the doc is silent the fake picks one answer and says so in a comment marked "[inf]".
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from typing import Any, Literal

import httpx

from rules.channel_text import ZALO_TEXT_LIMIT, text_length

__all__ = ["DeliveredMessage", "FakeUser", "FakeZaloServer", "RecordedRequest"]

DEFAULT_TOKEN = "1234567890:fake-zalo-secret-0123456789abcdef"
FREE_PLAN_MONTHLY_MESSAGES = 3000
SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1 << 20
MAX_HEADER_LINES = 100
# A 1×1 transparent PNG: what an image event's URL serves unless the test gives its own bytes.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

Envelope = Literal["bare", "wrapped"]
Event = dict[str, object]
_Reply = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True, slots=True)
class FakeUser:
    """A Zalo user as the bot sees them: an opaque id of 20 hex digits and a display name."""

    id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class DeliveredMessage:
    """Something the bot sent to a chat: ``method`` says which kind, the other fields what it carried."""

    method: str
    message_id: str
    date_ms: int
    text: str | None = None
    photo: str | None = None
    caption: str | None = None
    sticker: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One API request as it arrived: enough to check "POST + JSON for every method"."""

    http_method: str
    api_method: str
    content_type: str
    params: Mapping[str, object]
    authorized: bool


@dataclass(slots=True)
class _Fault:
    method: str | None
    error_code: int
    http_status: int
    description: str
    retry_after: int | None
    times: int


@dataclass(slots=True)
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class _BadHttp(Exception):
    """The bytes on the socket are not a request this server reads; the connection is answered and closed."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


@dataclass
class _State:
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_updated_ms: int = 0
    messages_sent: int = 0
    delivered: dict[str, list[DeliveredMessage]] = field(default_factory=dict)
    actions: dict[str, list[str]] = field(default_factory=dict)


class FakeZaloServer:
    """The fake Bot API. ``async with FakeZaloServer() as zalo:`` then point a client at ``zalo.base_url``."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        monthly_quota: int = FREE_PLAN_MONTHLY_MESSAGES,
        bot_display_name: str = "Bot Dienhinh",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.monthly_quota = monthly_quota
        self.bot_display_name = bot_display_name
        self.requests: list[RecordedRequest] = []
        # Called with (chat id, message) for each message the bot sends, as it arrives: the terminal
        # playground shows messages to other people (a decision, a reminder) the moment they are sent.
        self.listeners: list[Callable[[str, DeliveredMessage], None]] = []
        self._clock = clock
        self._state = _State()
        self._events: deque[Event] = deque()
        self._waiters: deque[asyncio.Future[Event]] = deque()
        self._faults: list[_Fault] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._port = 0

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a port the system picks."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and drop open connections (a pending long poll among them)."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> FakeZaloServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """What to give the client as its base URL: ``http://127.0.0.1:<port>``."""
        if not self._port:
            raise RuntimeError("the fake Zalo server is not started")
        return f"http://127.0.0.1:{self._port}"

    # --- what people send -----------------------------------------------------------------------------

    def user(self, display_name: str) -> FakeUser:
        """A new person with a fresh id (ids look like Zalo's: 20 hex digits)."""
        return FakeUser(id=f"{next(self._ids):020x}", display_name=display_name)

    def text_event(self, sender: FakeUser, text: str, **where: object) -> Event:
        """``message.text.received``. ``where`` may set ``chat_id``, ``chat_type`` and ``date_ms``."""
        return self._event("message.text.received", sender, {"text": text}, **where)

    def image_event(
        self,
        sender: FakeUser,
        caption: str | None = None,
        *,
        url_field: Literal["photo_url", "photo"] = "photo_url",
        content: bytes = TINY_PNG,
        content_type: str = "image/png",
        **where: object,
    ) -> Event:
        """``message.image.received`` whose URL (in ``photo_url`` as seen live, or ``photo`` as documented)
        serves ``content`` from this server."""
        fields: dict[str, object] = {url_field: self.add_file(content, content_type), "message_type": "CHAT_PHOTO"}
        if caption is not None:
            fields["caption"] = caption
        return self._event("message.image.received", sender, fields, **where)

    def sticker_event(self, sender: FakeUser, sticker: str = "bfe3ad6b8df8644a3de9", **where: object) -> Event:
        """``message.sticker.received``: a sticker id and the URL of its image."""
        fields = {"sticker": sticker, "url": self.add_file(TINY_PNG, "image/png")}
        return self._event("message.sticker.received", sender, fields, **where)

    def unsupported_event(self, sender: FakeUser, **where: object) -> Event:
        """``message.unsupported.received``: what Zalo sends for a file, a link, a video or a protected user."""
        return self._event("message.unsupported.received", sender, {}, **where)

    def custom_event(self, event_name: str, sender: FakeUser | None = None, **fields: object) -> Event:
        """Any event name; with ``sender`` it gets a well-formed message plus ``fields``, without it only ``fields``."""
        if sender is None:
            return {"event_name": event_name, **fields}
        return self._event(event_name, sender, fields)

    def queue(self, *events: Event) -> None:
        """Make ``events`` the next answers of ``getUpdates``, in order (a waiting poll gets the first at once)."""
        for event in events:
            while self._waiters:
                waiter = self._waiters.popleft()
                if not waiter.done():
                    waiter.set_result(event)
                    break
            else:
                self._events.append(event)

    @property
    def pending(self) -> int:
        """How many queued events no poll has taken yet."""
        return len(self._events)

    def add_file(self, content: bytes, content_type: str = "application/octet-stream") -> str:
        """Serve ``content`` at a new URL of this server, like Zalo's CDN serves inbound media."""
        name = f"{next(self._ids):012x}"
        self._files[name] = (content, content_type)
        return f"{self.base_url}/files/{name}"

    def forget_file(self, url: str) -> None:
        """Make ``url`` answer 404, as an expired CDN link does."""
        self._files.pop(url.rsplit("/", 1)[-1], None)

    # --- what the bot sent ----------------------------------------------------------------------------

    def received(self, chat_id: str) -> list[DeliveredMessage]:
        """Every message the bot sent to ``chat_id``, oldest first."""
        return list(self._state.delivered.get(chat_id, []))

    def chat_actions(self, chat_id: str) -> list[str]:
        """Every chat action (``typing``) the bot sent to ``chat_id``."""
        return list(self._state.actions.get(chat_id, []))

    @property
    def messages_sent(self) -> int:
        """Messages counted against the monthly quota so far."""
        return self._state.messages_sent

    def reset_quota(self) -> None:
        """A new month."""
        self._state.messages_sent = 0

    @property
    def webhook(self) -> tuple[str, str] | None:
        """The registered webhook URL and secret, or None."""
        state = self._state
        return (state.webhook_url, state.webhook_secret or "") if state.webhook_url else None

    # --- faults and webhooks --------------------------------------------------------------------------

    def inject_fault(
        self,
        method: str | None = None,
        error_code: int = 500,
        *,
        http_status: int | None = None,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (any method when None) with an error.

        ``http_status`` defaults to ``error_code``; give 200 for an ``ok: false`` inside a 200 reply.
        ``retry_after`` adds a Retry-After header (the real API is not known to send one).
        """
        self._faults.append(
            _Fault(
                method=method,
                error_code=error_code,
                http_status=http_status if http_status is not None else error_code,
                description=description or _phrase(error_code),
                retry_after=retry_after,
                times=times,
            )
        )

    async def post_to_webhook(
        self, url: str, event: Event, *, secret: str | None, envelope: Envelope = "bare"
    ) -> httpx.Response:
        """POST ``event`` to ``url`` as Zalo does: JSON, the secret in ``X-Bot-Api-Secret-Token`` (omitted
        when None). ``envelope`` picks the shape: ``bare`` as real deliveries, ``wrapped`` as the docs."""
        body: object = event if envelope == "bare" else {"ok": True, "result": event}
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        async with httpx.AsyncClient(timeout=10.0) as http:
            return await http.post(url, content=json.dumps(body, ensure_ascii=False).encode(), headers=headers)

    # --- HTTP -----------------------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Only close() cancels a connection. Ending quietly matters on Python 3.11, whose StreamReader
            # callback asks a cancelled task for its exception and logs the CancelledError as an error.
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await _read_request(reader)
            except _BadHttp as error:
                writer.write(_response_bytes(error.status, {}, b"", keep_alive=False))
                await writer.drain()
                return
            if request is None:
                return
            reply = await self._route(request, reader)
            if reply is None:
                return
            status, headers, body = reply
            writer.write(_response_bytes(status, headers, body, keep_alive=request.keep_alive))
            await writer.drain()
            if not request.keep_alive:
                return

    async def _route(self, request: _Request, reader: asyncio.StreamReader) -> _Reply | None:
        path, _, query = request.target.partition("?")
        if path.startswith("/files/") and request.method == "GET":
            stored = self._files.get(path.removeprefix("/files/"))
            if stored is None:
                return 404, {"Content-Type": "text/plain"}, b"Not Found"
            return 200, {"Content-Type": stored[1]}, stored[0]
        token, _, api_method = path.removeprefix("/bot").partition("/")
        if not path.startswith("/bot") or not api_method:
            return _json_reply(404, _failure(404, "Not Found"))
        params = _params(request, query)
        authorized = token == self.token
        self.requests.append(
            RecordedRequest(
                http_method=request.method,
                api_method=api_method,
                content_type=request.headers.get("content-type", ""),
                params=params if isinstance(params, Mapping) else {},
                authorized=authorized,
            )
        )
        if not authorized:
            return _json_reply(401, _failure(401, "Unauthorized"))
        if not isinstance(params, Mapping):
            return _json_reply(400, _failure(400, "Bad Request: the body is not a JSON object"))
        fault = self._take_fault(api_method)
        if fault is not None:
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return _json_reply(fault.http_status, _failure(fault.error_code, fault.description), headers)
        if api_method == "getUpdates":
            return await self._get_updates(params, reader)
        handler = self._methods().get(api_method)
        if handler is None:
            # The doc lists 400 for "bad request or unknown method".
            return _json_reply(400, _failure(400, f"Bad Request: unknown method {api_method}"))
        status, payload = handler(params)
        return _json_reply(status, payload)

    def _take_fault(self, api_method: str) -> _Fault | None:
        for fault in self._faults:
            if fault.method in (None, api_method):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # --- API methods ----------------------------------------------------------------------------------

    def _methods(self) -> dict[str, Callable[[Mapping[str, object]], tuple[int, dict[str, object]]]]:
        return {
            "getMe": self._get_me,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendSticker": self._send_sticker,
            "sendChatAction": self._send_chat_action,
        }

    async def _get_updates(self, params: Mapping[str, object], reader: asyncio.StreamReader) -> _Reply | None:
        if self._state.webhook_url:
            # [inf] The doc says polling does not work while a webhook is set, not how it fails.
            return _json_reply(400, _failure(400, "Bad Request: a webhook is set; delete it to use getUpdates"))
        raw_timeout = params.get("timeout", "30")
        try:
            timeout = float(raw_timeout) if isinstance(raw_timeout, str | int | float) else -1.0
        except ValueError:
            timeout = -1.0
        if timeout < 0:
            return _json_reply(400, _failure(400, "Bad Request: timeout must be a number of seconds"))
        event = await self._next_event(timeout, reader)
        if event is _HungUp.HUNG_UP:
            return None
        if event is None:
            return _json_reply(408, _failure(408, "Request timeout"))
        return _json_reply(200, {"ok": True, "result": event})

    async def _next_event(self, wait_seconds: float, reader: asyncio.StreamReader) -> Event | _HungUp | None:
        """The next queued event, waiting up to ``wait_seconds`` (None then); :data:`HUNG_UP` if the poller left.

        A poller that hung up must not take an event: no later poll would ever see it.
        """
        if self._events:
            return self._events.popleft()
        waiter: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        # The client sends nothing while it waits for this answer, so anything read here means it left.
        hang_up = asyncio.ensure_future(reader.read(1))
        either: list[asyncio.Future[Any]] = [waiter, hang_up]
        try:
            await asyncio.wait(either, timeout=wait_seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone = hang_up.done()
            hang_up.cancel()
            # The cancelled read must be over before the connection reads the next request.
            await asyncio.wait({hang_up})
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
        if waiter.done():
            if not gone:
                return waiter.result()
            self._events.appendleft(waiter.result())
        waiter.cancel()
        return _HungUp.HUNG_UP if gone else None

    def _get_me(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        bot_id = self.token.split(":", 1)[0]
        return 200, _success(
            {
                "id": bot_id,
                "account_name": f"bot.{bot_id}",
                "account_type": "BASIC",
                "can_join_groups": False,
                "display_name": self.bot_display_name,
            }
        )

    def _set_webhook(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        url, secret = params.get("url"), params.get("secret_token")
        if not isinstance(url, str) or not url.startswith("https://"):
            return 400, _failure(400, "Bad Request: url must be an https URL")
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256:
            return 400, _failure(400, "Bad Request: secret_token must have 8 to 256 characters")
        state = self._state
        state.webhook_url, state.webhook_secret, state.webhook_updated_ms = url, secret, self._now_ms()
        return 200, _success({"url": url, "updated_at": state.webhook_updated_ms})

    def _delete_webhook(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        state = self._state
        state.webhook_url, state.webhook_secret, state.webhook_updated_ms = "", None, self._now_ms()
        return 200, _success({"url": "", "updated_at": state.webhook_updated_ms})

    def _get_webhook_info(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        state = self._state
        if state.webhook_url is None:
            return 404, _failure(404, "Not Found")
        return 200, _success({"url": state.webhook_url, "updated_at": state.webhook_updated_ms})

    def _send_message(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        chat_id, text = params.get("chat_id"), params.get("text")
        problem = _check_chat(chat_id) or _check_text("text", text, required=True)
        if problem:
            return 400, _failure(400, problem)
        assert isinstance(chat_id, str) and isinstance(text, str)
        return self._deliver(chat_id, "sendMessage", text=text)

    def _send_photo(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        chat_id, photo, caption = params.get("chat_id"), params.get("photo"), params.get("caption")
        problem = _check_chat(chat_id) or _check_text("caption", caption, required=False)
        if not problem and (not isinstance(photo, str) or not photo.startswith(("https://", "http://"))):
            problem = "Bad Request: photo must be the URL of an image"
        if problem:
            return 400, _failure(400, problem)
        assert isinstance(chat_id, str) and isinstance(photo, str)
        return self._deliver(chat_id, "sendPhoto", photo=photo, caption=caption if isinstance(caption, str) else None)

    def _send_sticker(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        chat_id, sticker = params.get("chat_id"), params.get("sticker")
        problem = _check_chat(chat_id)
        if not problem and (not isinstance(sticker, str) or not sticker):
            problem = "Bad Request: sticker is required"
        if problem:
            return 400, _failure(400, problem)
        assert isinstance(chat_id, str) and isinstance(sticker, str)
        return self._deliver(chat_id, "sendSticker", sticker=sticker)

    def _send_chat_action(self, params: Mapping[str, object]) -> tuple[int, dict[str, object]]:
        chat_id, action = params.get("chat_id"), params.get("action")
        problem = _check_chat(chat_id)
        if not problem and action != "typing":
            problem = "Bad Request: action must be typing"
        if problem:
            return 400, _failure(400, problem)
        assert isinstance(chat_id, str)
        self._state.actions.setdefault(chat_id, []).append("typing")
        # The doc shows {ok: true} with no result for this method.
        return 200, {"ok": True}

    def _deliver(self, chat_id: str, method: str, **content: str | None) -> tuple[int, dict[str, object]]:
        state = self._state
        if state.messages_sent >= self.monthly_quota:
            # [inf] The wording of the real quota error is not published.
            return 429, _failure(429, "Too Many Requests: the monthly message quota is used up")
        state.messages_sent += 1
        message = DeliveredMessage(
            method=method, message_id=f"{next(self._ids):020x}", date_ms=self._now_ms(), **content
        )
        state.delivered.setdefault(chat_id, []).append(message)
        for listener in self.listeners:
            listener(chat_id, message)
        return 200, _success({"message_id": message.message_id, "date": message.date_ms})

    # --- helpers --------------------------------------------------------------------------------------

    def _event(
        self,
        event_name: str,
        sender: FakeUser,
        fields: Mapping[str, object],
        *,
        chat_id: object = None,
        chat_type: object = "PRIVATE",
        date_ms: object = None,
    ) -> Event:
        message: dict[str, object] = {
            "from": {"id": sender.id, "display_name": sender.display_name, "is_bot": False},
            # In a private chat the chat id is the sender's id; the bot must answer chat.id.
            "chat": {"id": chat_id if chat_id is not None else sender.id, "chat_type": chat_type},
            "message_id": f"{next(self._ids):020x}",
            "date": date_ms if date_ms is not None else self._now_ms(),
            **fields,
        }
        return {"event_name": event_name, "message": message}

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)


class _HungUp(Enum):
    HUNG_UP = "hung up"


def _success(result: object) -> dict[str, object]:
    return {"ok": True, "result": result}


def _failure(error_code: int, description: str) -> dict[str, object]:
    return {"ok": False, "error_code": error_code, "description": description}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_reply(status: int, payload: Mapping[str, object], headers: Mapping[str, str] | None = None) -> _Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()


def _check_chat(chat_id: object) -> str | None:
    if isinstance(chat_id, str) and chat_id:
        return None
    return "Bad Request: chat_id is required"


def _check_text(name: str, value: object, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    # Counted in UTF-16 units, like the client: the stricter of the two readings of "2000 characters".
    if not isinstance(value, str) or not 1 <= text_length(value) <= ZALO_TEXT_LIMIT:
        return f"Bad Request: {name} must have 1 to {ZALO_TEXT_LIMIT} characters"
    return None


def _params(request: _Request, query: str) -> Mapping[str, object] | None:
    """The call's parameters: the query string, overlaid with a JSON or form body. None: a body not an object."""
    params: dict[str, object] = dict(urllib.parse.parse_qsl(query))
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not request.body:
        return params
    if content_type == "application/json":
        try:
            body = json.loads(request.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        if not isinstance(body, dict):
            return None
        params.update(body)
    elif content_type == "application/x-www-form-urlencoded":
        params.update(urllib.parse.parse_qsl(request.body.decode("utf-8", "replace")))
    # Anything else (multipart uploads among them) carries no parameters this API reads.
    return params


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """One HTTP/1.1 request with a Content-Length body; None at a clean end of the connection."""
    line = await reader.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _BadHttp(HTTPStatus.BAD_REQUEST)
    method, target, version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    else:
        raise _BadHttp(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise _BadHttp(HTTPStatus.LENGTH_REQUIRED)
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit():
        raise _BadHttp(HTTPStatus.BAD_REQUEST)
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise _BadHttp(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    body = await reader.readexactly(length) if length else b""
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return _Request(method=method, target=target, headers=headers, body=body, keep_alive=keep_alive)


def _response_bytes(status: int, headers: Mapping[str, str], body: bytes, *, keep_alive: bool) -> bytes:
    head = [f"HTTP/1.1 {status} {_phrase(status)}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head += [f"Content-Length: {len(body)}", f"Connection: {'keep-alive' if keep_alive else 'close'}", "", ""]
    return "\r\n".join(head).encode("latin-1") + body
