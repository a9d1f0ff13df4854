"""Inbound Zalo events as typed values, and the deduplicator that stands in for Telegram's ``update_id``.

The same object arrives from ``getUpdates`` and by webhook, but in two envelopes: the docs wrap it as
``{"ok": true, "result": {"event_name", "message"}}``, real webhook deliveries are bare
``{"event_name", "message"}`` (``zalo-bot-api.md`` §3). :func:`parse_update` accepts both. Unknown event
names are kept (marked unknown) so the caller can log and ignore them; a body that is not an update raises
:class:`ZaloUpdateError`, never a ``KeyError`` or ``TypeError``.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class ZaloUpdateError(ValueError):
    """A body that is not a Zalo update (not JSON, not an object, a required field missing or mistyped)."""


class EventName(StrEnum):
    """The event names Zalo is known to send (docs, plus ``voice`` seen on live bots)."""

    TEXT = "message.text.received"
    IMAGE = "message.image.received"
    STICKER = "message.sticker.received"
    # Sent instead of the content for protected users and for links, files and video: no text, no URL.
    UNSUPPORTED = "message.unsupported.received"
    VOICE = "message.voice.received"


_KNOWN_EVENTS = frozenset(name.value for name in EventName)


@dataclass(frozen=True, slots=True)
class ZaloSender:
    """``message.from``: a stable per-user id (about 20 hex characters) and the name the person shows."""

    id: str
    display_name: str
    is_bot: bool


@dataclass(frozen=True, slots=True)
class ZaloChat:
    """``message.chat``: where to reply (always ``chat.id``; in a private chat it equals the sender's id)."""

    id: str
    chat_type: str | None

    @property
    def is_private(self) -> bool:
        """Whether this is a one-to-one chat (groups are a beta Zalo does not let every bot join)."""
        return self.chat_type == "PRIVATE"


@dataclass(frozen=True, slots=True)
class ZaloMessage:
    """``message``: what a person sent. Content fields are None when the event does not carry them."""

    message_id: str
    date: dt.datetime
    sender: ZaloSender
    chat: ZaloChat
    text: str | None = None
    # The docs name it ``photo``, real payloads ``photo_url``; either lands here.
    photo_url: str | None = None
    caption: str | None = None
    sticker: str | None = None
    sticker_url: str | None = None
    voice_url: str | None = None
    message_type: str | None = None


@dataclass(frozen=True, slots=True)
class ZaloUpdate:
    """One inbound event. ``message`` is always set for a known event; an unknown one keeps it when it parses."""

    event_name: str
    message: ZaloMessage | None

    @property
    def kind(self) -> EventName | None:
        """The known event this is, or None for an event name Zalo has not documented."""
        try:
            return EventName(self.event_name)
        except ValueError:
            return None

    @property
    def is_known(self) -> bool:
        """Whether the event name is one the channel handles (others are logged and ignored)."""
        return self.kind is not None

    @property
    def dedupe_key(self) -> tuple[str, str] | None:
        """``(event_name, message_id)``, the only identity a Zalo event has; None without a message."""
        if self.message is None:
            return None
        return (self.event_name, self.message.message_id)


def parse_update_json(raw: bytes | str) -> ZaloUpdate:
    """Parse a JSON body (a webhook POST, a ``getUpdates`` reply) into an update."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ZaloUpdateError(f"the body is not JSON: {error}") from None
    except RecursionError:
        raise ZaloUpdateError("the body is nested too deeply to be an update") from None
    return parse_update(body)


def parse_update(body: object) -> ZaloUpdate:
    """Parse a decoded body in either envelope: ``{ok, result: {event_name, message}}`` or the bare event."""
    if isinstance(body, Mapping) and "event_name" not in body and "result" in body:
        if body.get("ok") is not True:
            raise ZaloUpdateError("the envelope does not say ok: true")
        body = body["result"]
    if not isinstance(body, Mapping):
        raise ZaloUpdateError(f"an update is a JSON object, not {type(body).__name__}")
    event_name = body.get("event_name")
    if not isinstance(event_name, str) or not event_name:
        raise ZaloUpdateError("event_name is missing or not a string")
    raw_message = body.get("message")
    try:
        message = _message(raw_message)
    except ZaloUpdateError:
        # An event Zalo has not documented may well carry something else; it is kept to be logged.
        if event_name in _KNOWN_EVENTS:
            raise
        message = None
    return ZaloUpdate(event_name=event_name, message=message)


def _message(raw: object) -> ZaloMessage:
    if not isinstance(raw, Mapping):
        raise ZaloUpdateError("message is missing or not an object")
    sender = _object(raw, "from")
    chat = _object(raw, "chat")
    display_name = _optional_text(sender, "display_name", "from.")
    if display_name is None:
        # The oldest sample in the docs had first_name; it is read only when display_name is absent.
        display_name = _optional_text(sender, "first_name", "from.")
    is_bot = sender.get("is_bot", False)
    if not isinstance(is_bot, bool):
        raise ZaloUpdateError("from.is_bot is not a boolean")
    photo_url = _optional_text(raw, "photo_url")
    return ZaloMessage(
        message_id=_identifier(raw, "message_id"),
        date=_date(raw.get("date")),
        sender=ZaloSender(id=_identifier(sender, "id", "from."), display_name=display_name or "", is_bot=is_bot),
        chat=ZaloChat(id=_identifier(chat, "id", "chat."), chat_type=_optional_text(chat, "chat_type", "chat.")),
        text=_optional_text(raw, "text"),
        photo_url=photo_url if photo_url is not None else _optional_text(raw, "photo"),
        caption=_optional_text(raw, "caption"),
        sticker=_optional_text(raw, "sticker"),
        sticker_url=_optional_text(raw, "url"),
        voice_url=_optional_text(raw, "voice_url"),
        message_type=_optional_text(raw, "message_type"),
    )


def _object(raw: Mapping[str, object], field: str) -> Mapping[str, object]:
    value = raw.get(field)
    if not isinstance(value, Mapping):
        raise ZaloUpdateError(f"message.{field} is missing or not an object")
    return value


def _identifier(raw: Mapping[str, object], field: str, prefix: str = "") -> str:
    value = raw.get(field)
    # Ids are strings in every sample; a number is accepted as its decimal text, a boolean is not an id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ZaloUpdateError(f"message.{prefix}{field} is missing or not a string")
    return value


def _optional_text(raw: Mapping[str, object], field: str, prefix: str = "") -> str | None:
    value = raw.get(field)
    if value is None or isinstance(value, str):
        return value
    raise ZaloUpdateError(f"message.{prefix}{field} is not a string")


def _date(value: object) -> dt.datetime:
    """``date`` is epoch milliseconds; integer arithmetic keeps the milliseconds exact."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ZaloUpdateError("message.date is missing or not a number of milliseconds")
    try:
        return _EPOCH + dt.timedelta(milliseconds=value)
    except (OverflowError, ValueError):
        raise ZaloUpdateError(f"message.date {value!r} is out of range") from None


class Deduplicator:
    """Remembers ``(event_name, message_id)`` for a time window, so a redelivered event is handled once.

    Zalo has no ``update_id`` and may resend a webhook it thinks failed; a window of a few minutes is what
    other adapters use (openclaw: 5 minutes). Memory is bounded: entries older than the window are dropped,
    and beyond ``max_entries`` the oldest go first.
    """

    def __init__(
        self,
        window_seconds: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_seconds <= 0 or max_entries < 1:
            raise ValueError("the window and the size must be positive")
        self._window = window_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def is_duplicate(self, update: ZaloUpdate) -> bool:
        """Whether ``update`` was seen within the window; a first sighting is recorded.

        An update without a message has no identity and is never a duplicate.
        """
        key = update.dedupe_key
        if key is None:
            return False
        now = self._clock()
        self._forget_before(now - self._window)
        if key in self._seen:
            return True
        self._seen[key] = now
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._seen)

    def _forget_before(self, horizon: float) -> None:
        # Entries are in the order they were first seen, so the expired ones are at the front.
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if seen_at > horizon:
                return
            del self._seen[key]
