"""An async client for the Zalo Bot Platform API, on httpx (``../shared/docs/zalo-bot-api.md``).

Every method is a POST with a JSON body to ``<base>/bot<TOKEN>/<method>`` (the API takes GET, forms and
query strings too; JSON is the one form every method documents). ``ok`` is read whatever the HTTP status,
because a reply may say ``ok: false`` with HTTP 200. Errors are typed: :class:`ZaloUnauthorized` (401),
:class:`ZaloRateLimited` (429, the plan's quota), :class:`ZaloNetworkError`, otherwise :class:`ZaloError`.

The token sits in the URL, and httpx logs every request URL at INFO (the "HTTP Request: POST …" line of
the ``httpx`` logger). So a filter on that logger replaces the token of every client built here with
``<token>``; our own log lines and error messages name the method, never the URL; httpx's exceptions are
not chained into ours (their ``request`` carries the URL); and the repr shows only the base URL.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from bot.channels.zalo.updates import ZaloUpdate, parse_update
from rules.channel_text import ZALO_TEXT_LIMIT, text_length

__all__ = [
    "DEFAULT_BASE_URL",
    "BotInfo",
    "SentMessage",
    "TextLengthError",
    "WebhookInfo",
    "ZaloClient",
    "ZaloError",
    "ZaloNetworkError",
    "ZaloRateLimited",
    "ZaloUnauthorized",
]

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_POLL_TIMEOUT_SECONDS = 30.0
# A long poll is answered after up to ``timeout`` seconds; the read must wait longer than that, or every
# idle poll would end as a client-side timeout instead of Zalo's 408.
POLL_READ_MARGIN_SECONDS = 10.0
# Zalo publishes no per-second limit and gives no retry_after: its 429 means a plan quota is used up.
# This is where a sender's backoff starts when the reply gives no hint of its own.
DEFAULT_RATE_LIMIT_BACKOFF_SECONDS = 60.0
WEBHOOK_SECRET_LENGTHS = range(8, 257)
REDACTED = "<token>"

logger = logging.getLogger(__name__)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ZaloError(Exception):
    """A call Zalo refused or could not answer: the method, Zalo's ``error_code`` and ``description``."""

    def __init__(self, method: str, error_code: int | None, description: str) -> None:
        self.method = method
        self.error_code = error_code
        self.description = description
        code = "" if error_code is None else f" {error_code}"
        super().__init__(f"Zalo {method} failed{code}: {description}")


class ZaloUnauthorized(ZaloError):
    """401: the token is wrong or was reset in Zalo Bot Creator (a new one arrives as a Zalo message)."""


class ZaloRateLimited(ZaloError):
    """429: a quota is exceeded (the free plan allows 3,000 messages a month). Wait ``retry_after`` or more."""

    def __init__(self, method: str, error_code: int | None, description: str, retry_after: float) -> None:
        super().__init__(method, error_code, description)
        self.retry_after = retry_after


class ZaloNetworkError(ZaloError):
    """No usable reply: the connection failed or timed out. ``error_code`` is None."""


class TextLengthError(ValueError):
    """A text or caption outside Zalo's 1–2000 characters; split it first (``rules.channel_text.split_text``)."""


@dataclass(frozen=True, slots=True)
class BotInfo:
    """``getMe``: the bot's id, its account name (``bot.XXXX``) and plan type (``BASIC``)."""

    id: str
    account_name: str
    account_type: str
    can_join_groups: bool
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookInfo:
    """``getWebhookInfo``: the URL Zalo posts to (empty when none) and when it was set. The secret is never returned."""

    url: str
    updated_at: dt.datetime | None

    @property
    def is_set(self) -> bool:
        """Whether Zalo delivers by webhook (then ``getUpdates`` does not work)."""
        return bool(self.url)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What a send method returns: the new message's id and time."""

    message_id: str
    date: dt.datetime | None


class _RedactTokens(logging.Filter):
    """Replaces known tokens in the records of the ``httpx`` logger, which logs each request's full URL."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(self._redact_arg(arg) for arg in record.args)
        return True

    def redact(self, text: str) -> str:
        for token in self.tokens:
            text = text.replace(token, REDACTED)
        return text

    def _redact_arg(self, arg: object) -> object:
        # The URL arrives as an httpx.URL; formatting it here is what the record would do anyway.
        if isinstance(arg, str | httpx.URL):
            text = str(arg)
            redacted = self.redact(text)
            return redacted if redacted != text else arg
        return arg


_REDACTOR = _RedactTokens()
# httpx logs requests only through the logger named "httpx"; httpcore's debug lines name no URL. A filter
# on a logger does not apply to its children, so it goes on exactly this one.
logging.getLogger("httpx").addFilter(_REDACTOR)


class ZaloClient:
    """The Zalo Bot API for one bot token. Use ``async with ZaloClient(token) as zalo:`` or call :meth:`aclose`.

    ``http`` is an httpx client to share (it is then not closed here); without it the client makes its own.
    """

    def __init__(self, token: str, base_url: str = DEFAULT_BASE_URL, http: httpx.AsyncClient | None = None) -> None:
        if not token or any(char.isspace() or char in "/?#" for char in token):
            # The message does not repeat the value: it is a secret even when it is malformed.
            raise ValueError("the Zalo bot token is empty or contains characters a token cannot have")
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"the Zalo API base URL must be http(s): {base_url!r}")
        self._token = token
        self._base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=DEFAULT_TIMEOUT_SECONDS)
        _REDACTOR.tokens.add(token)

    def __repr__(self) -> str:
        return f"ZaloClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        """The API host this client talks to (configurable: ``bot-api.zapps.me`` was the launch host)."""
        return self._base_url

    async def __aenter__(self) -> ZaloClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    async def get_me(self) -> BotInfo:
        """The bot's own account; a cheap way to check the token (401 raises :class:`ZaloUnauthorized`)."""
        result = _mapping("getMe", await self._call("getMe"))
        display_name = result.get("display_name")
        return BotInfo(
            id=str(result.get("id", "")),
            account_name=str(result.get("account_name", "")),
            account_type=str(result.get("account_type", "")),
            can_join_groups=result.get("can_join_groups") is True,
            display_name=display_name if isinstance(display_name, str) else None,
        )

    # ``timeout`` is the API's long-poll parameter (how long Zalo may hold the request), not a deadline for
    # this coroutine, which ASYNC109 is about.
    async def get_updates(self, timeout: float = DEFAULT_POLL_TIMEOUT_SECONDS) -> ZaloUpdate | None:  # noqa: ASYNC109
        """Wait up to ``timeout`` seconds for the next event: one update, or None when none came.

        Zalo returns a single update per call, with no offset to acknowledge it, and answers an idle poll
        with HTTP 408 "Request timeout", which is the normal "nothing" here. A malformed update raises
        :class:`~bot.channels.zalo.updates.ZaloUpdateError` (it is consumed either way). Polling does not
        work while a webhook is set.
        """
        if timeout <= 0:
            raise ValueError(f"the poll timeout must be positive, not {timeout}")
        read_timeout = httpx.Timeout(DEFAULT_TIMEOUT_SECONDS, read=timeout + POLL_READ_MARGIN_SECONDS)
        try:
            # The docs type ``timeout`` as a string (their sample shows a number); "30", "0.5".
            result = await self._call("getUpdates", {"timeout": f"{timeout:g}"}, http_timeout=read_timeout)
        except ZaloError as error:
            if error.error_code == 408 or error.description.strip().casefold() == "request timeout":
                return None
            raise
        if not result:
            return None
        return parse_update(result)

    async def set_webhook(self, url: str, secret_token: str) -> WebhookInfo:
        """Have Zalo POST events to ``url`` (HTTPS), with ``secret_token`` in ``X-Bot-Api-Secret-Token``."""
        if not url.startswith("https://"):
            raise ValueError(f"a Zalo webhook URL must be https: {url!r}")
        if len(secret_token) not in WEBHOOK_SECRET_LENGTHS:
            raise ValueError(f"a Zalo webhook secret has 8–256 characters, not {len(secret_token)}")
        return _webhook_info("setWebhook", await self._call("setWebhook", {"url": url, "secret_token": secret_token}))

    async def delete_webhook(self) -> WebhookInfo:
        """Stop webhook delivery (needed before polling again)."""
        return _webhook_info("deleteWebhook", await self._call("deleteWebhook"))

    async def get_webhook_info(self) -> WebhookInfo:
        """The webhook in place; an empty one when there is none.

        A bot that never had a webhook is answered 404 "Not Found"; that is "no webhook", not an error.
        """
        try:
            return _webhook_info("getWebhookInfo", await self._call("getWebhookInfo"))
        except ZaloError as error:
            if error.error_code == 404:
                return WebhookInfo(url="", updated_at=None)
            raise

    async def send_message(self, chat_id: str, text: str) -> SentMessage:
        """Send ``text`` (1–2000 characters: split longer texts first) to ``chat_id`` (reply to ``chat.id``)."""
        _check_chat(chat_id)
        _check_text("sendMessage", "text", text)
        return _sent("sendMessage", await self._call("sendMessage", {"chat_id": chat_id, "text": text}))

    async def send_photo(self, chat_id: str, photo_url: str, caption: str | None = None) -> SentMessage:
        """Send the image at ``photo_url`` (Zalo fetches it: only a public URL works, there is no upload)."""
        _check_chat(chat_id)
        if not photo_url.startswith(("https://", "http://")):
            raise ValueError("Zalo sends photos by URL only: photo_url must be an http(s) URL")
        params: dict[str, str] = {"chat_id": chat_id, "photo": photo_url}
        if caption is not None:
            _check_text("sendPhoto", "caption", caption)
            params["caption"] = caption
        return _sent("sendPhoto", await self._call("sendPhoto", params))

    async def send_chat_action(self, chat_id: str, action: Literal["typing"] = "typing") -> None:
        """Show "typing…" in the chat until the next message or a few seconds pass (the only action Zalo has)."""
        _check_chat(chat_id)
        await self._call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def _call(
        self, method: str, params: Mapping[str, str] | None = None, *, http_timeout: httpx.Timeout | None = None
    ) -> object:
        """POST ``params`` as JSON to ``method`` and return ``result``; raise the typed error otherwise."""
        url = f"{self._base_url}/bot{self._token}/{method}"
        try:
            response = await self._http.post(
                url, json=dict(params or {}), timeout=httpx.USE_CLIENT_DEFAULT if http_timeout is None else http_timeout
            )
        except httpx.HTTPError as error:
            # Not chained: the httpx exception's request holds the URL, token and all.
            description = _REDACTOR.redact(f"{type(error).__name__}: {error}".rstrip(": "))
            raise ZaloNetworkError(method, None, description) from None
        logger.debug("Zalo %s answered HTTP %d", method, response.status_code)
        return self._result(method, response)

    def _result(self, method: str, response: httpx.Response) -> object:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, Mapping) or not isinstance(body.get("ok"), bool):
            raise ZaloError(method, response.status_code, f"HTTP {response.status_code} without a Zalo reply")
        if body["ok"]:
            return body.get("result")
        code = body.get("error_code")
        error_code = code if isinstance(code, int) and not isinstance(code, bool) else response.status_code
        description = _REDACTOR.redact(str(body.get("description") or response.reason_phrase or "no description"))
        if error_code == 401 or response.status_code == 401:
            raise ZaloUnauthorized(method, error_code, description)
        if error_code == 429 or response.status_code == 429:
            raise ZaloRateLimited(method, error_code, description, _retry_after(response, body))
        raise ZaloError(method, error_code, description)


def _check_chat(chat_id: str) -> None:
    if not isinstance(chat_id, str) or not chat_id:
        raise ValueError("a Zalo chat_id is a non-empty string (the chat.id of the message being answered)")


def _check_text(method: str, field: str, text: str) -> None:
    length = text_length(text)
    if not 1 <= length <= ZALO_TEXT_LIMIT:
        raise TextLengthError(
            f"{method} {field} is {length} characters (UTF-16 units); Zalo accepts 1–{ZALO_TEXT_LIMIT}: "
            "split longer texts with rules.channel_text.split_text"
        )


def _retry_after(response: httpx.Response, body: Mapping[str, object]) -> float:
    """The wait a 429 suggests: a Retry-After header or Telegram-style ``parameters.retry_after``, else the default."""
    header = response.headers.get("retry-after", "")
    if header.strip().isdigit():
        return float(header)
    parameters = body.get("parameters")
    if isinstance(parameters, Mapping):
        hint = parameters.get("retry_after")
        if isinstance(hint, int | float) and not isinstance(hint, bool) and hint > 0:
            return float(hint)
    return DEFAULT_RATE_LIMIT_BACKOFF_SECONDS


def _mapping(method: str, result: object) -> Mapping[str, object]:
    if not isinstance(result, Mapping):
        raise ZaloError(method, None, f"the result is {type(result).__name__}, not an object")
    return result


def _milliseconds(value: object) -> dt.datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return _EPOCH + dt.timedelta(milliseconds=value)
    except OverflowError:
        return None


def _webhook_info(method: str, result: object) -> WebhookInfo:
    info = _mapping(method, result) if result is not None else {}
    url = info.get("url")
    return WebhookInfo(url=url if isinstance(url, str) else "", updated_at=_milliseconds(info.get("updated_at")))


def _sent(method: str, result: object) -> SentMessage:
    sent = _mapping(method, result)
    message_id = sent.get("message_id")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool):
        raise ZaloError(method, None, "the result has no message_id")
    return SentMessage(message_id=str(message_id), date=_milliseconds(sent.get("date")))
