"""What every channel shares: who a person is on a channel, where their files live, and the Bot API call shape.

The handlers speak the Telegram Bot API and nothing else. A person who writes on another channel (Zalo) gets a
PTB user and chat id of their own, an *address* (``bot.channels.router.ADDRESS_BASE`` and up), from an
:class:`AddressBook`; every Bot API call addressed to it is turned by :class:`bot.channels.router.ChannelRouter`
into a :class:`BotApiCall` and given to that channel's :class:`ChannelOutbound`, which answers the way
Telegram would (:func:`bot_api_ok`, :func:`bot_api_error`), so PTB raises its own exceptions.

A channel with buttons of its own (the Zalo Official Account API) renders ``reply_markup`` as buttons in
its outbound; a channel that can write first to a phone number gets its addresses the same way. Neither
needs anything here to change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol

from rules.files import StoredFile as _StoredFile


class AddressBook(Protocol):
    """People of every channel as PTB ids (the lead's ``channel_identity`` table in production)."""

    async def address_of(self, channel: str, external_id: str, display_name: str) -> int:
        """The PTB user/chat id of this person on this channel; creates the identity (and account) on first contact."""
        ...

    async def identity_of(self, address: int) -> tuple[str, str] | None:
        """``(channel, external_id)`` of an address, or None for an address nobody has."""
        ...

    async def locale_of(self, address: int) -> str | None:
        """The account's language (for the hints a channel adds itself), None when not chosen."""
        ...


# One StoredFile for every file store: the database's (rules.files) is the model.
StoredFile = _StoredFile


class FileStore(Protocol):
    """Bytes the bot keeps (a photo sent on Zalo as evidence) and shares (a QR code sent to Zalo as a link)."""

    async def keep(self, data: bytes, *, filename: str, content_type: str, owner: int | None) -> str:
        """Store ``data``; returns a file id ``zf_<something>`` that handlers use as a Telegram file_id."""
        ...

    async def load(self, file_id: str) -> StoredFile | None:
        """The file kept under ``file_id``, or None."""
        ...

    async def share(self, data: bytes, *, filename: str, content_type: str, owner: int) -> str | None:
        """An unguessable, expiring https URL of ``data`` for ``owner`` only; None when PUBLIC_BASE_URL is not set."""
        ...


# The prefix of the file ids a FileStore hands out. Telegram's own file ids are base64 of a binary record
# that starts with a small type number (they read "AgAC…", "BQAC…", "CAAC…"), so they do not begin with this.
STORED_FILE_PREFIX = "zf_"


def is_stored_file_id(value: object) -> bool:
    """Whether ``value`` is the id of a file in our FileStore rather than a Telegram file id or a URL."""
    return isinstance(value, str) and value.startswith(STORED_FILE_PREFIX) and len(value) > len(STORED_FILE_PREFIX)


@dataclass(frozen=True)
class Upload:
    """A file a Bot API call uploads (multipart), read into memory."""

    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class BotApiCall:
    """One Bot API call addressed to a channel address: the method, the address, the parameters as PTB
    encoded them (``reply_markup`` is a dict), and the uploaded files by parameter name."""

    method: str
    address: int
    params: Mapping[str, Any]
    uploads: Mapping[str, Upload] = field(default_factory=dict)


class ChannelOutbound(Protocol):
    """A channel's renderer of Bot API calls (``bot.channels.zalo.outbound.ZaloOutbound``)."""

    async def deliver(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        """Carry out ``call`` for the person ``external_id``; the HTTP status and body Telegram would answer."""
        ...

    async def get_me(self) -> tuple[int, bytes]:
        """The answer to ``getMe`` (the bot as a Telegram ``User``) when there is no Telegram bot at all."""
        ...


def bot_api_ok(result: object) -> tuple[int, bytes]:
    """A successful Bot API answer carrying ``result``."""
    return HTTPStatus.OK, json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()


def bot_api_error(status: int, description: str, *, retry_after: int | None = None) -> tuple[int, bytes]:
    """A refusal as Telegram words it; PTB turns it into BadRequest (400), InvalidToken (401), Forbidden (403),
    RetryAfter (``retry_after`` given) or NetworkError (5xx)."""
    payload: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return status, json.dumps(payload, ensure_ascii=False).encode()


class MonotonicIds:
    """Increasing ids that keep increasing across restarts: microseconds since the epoch, or one more than the
    last id when two are asked for within a microsecond. Under 2**53 until the year 2255, so they stay exact
    in JSON readers that use doubles."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns() // 1000)
        return self._last
