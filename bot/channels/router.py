"""One Bot for every channel: Bot API calls go to Telegram or to the channel of the chat they address.

The handlers know one API, Telegram's. The Application's Bot talks through a :class:`ChannelRouter`
(a ``telegram.request.BaseRequest``), which looks at each call's method (the URL's last path segment) and
its ``chat_id``:

- a chat id that is a **channel address** (an int from :data:`ADDRESS_BASE` up, handed out by the
  :class:`~bot.channels.base.AddressBook`) goes to that channel's outbound renderer, which answers as
  Telegram would, so PTB raises its own exceptions (``RetryAfter``, ``BadRequest``, …);
- every other call goes to the wrapped Telegram request (an ``HTTPXRequest`` in production, the
  playground's ``InProcessBotAPI`` in tests), unchanged, except that a stored file id (``zf_…``, a photo a
  Zalo user sent) in ``photo``/``document`` is replaced by the stored bytes as an upload, and ``getFile``
  of a stored id is answered here, its download (``File.download_…``) served from the FileStore.

Without a Telegram request (a Zalo-only deployment) the calls that address no chat are answered here:
``getMe`` from the first channel's bot, ``getUpdates`` with nothing, the rest ``true``.

Nothing here logs a URL: Telegram's token is in it.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from telegram import InputFile
from telegram.request import BaseRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.base import (
    AddressBook,
    BotApiCall,
    ChannelOutbound,
    FileStore,
    Upload,
    bot_api_error,
    bot_api_ok,
    is_stored_file_id,
)
from rules import identities
from rules.identities import ADDRESS_BASE

__all__ = ["ADDRESS_BASE", "ChannelRouter", "is_channel_address"]

# Every id from 2**53 up belongs to a person of another channel (rules.identities).

# Parameters that name a file to send; a stored file id in one of them must reach Telegram as an upload.
FILE_PARAMETERS = ("photo", "document", "video", "audio", "voice", "animation", "sticker")

logger = logging.getLogger(__name__)


def is_channel_address(value: object) -> bool:
    """Whether a chat or user id belongs to a person of another channel than Telegram."""
    number = _as_int(value)
    return number is not None and identities.is_channel_address(number)


class _Answered(Exception):
    """The router answers the call itself (a refusal Telegram would give) instead of forwarding it."""

    def __init__(self, answer: tuple[int, bytes]) -> None:
        super().__init__(answer[0])
        self.answer = answer


class ChannelRouter(BaseRequest):
    """Sends each Bot API call to Telegram (``telegram``) or to the channel of the address it names.

    Channels are added with :meth:`add_channel` once they exist (the Application, which the channel needs,
    is built on this router); ``file_store`` serves stored file ids to Telegram.
    """

    def __init__(
        self, telegram: BaseRequest | None, address_book: AddressBook, file_store: FileStore | None = None
    ) -> None:
        self.telegram = telegram
        self.address_book = address_book
        self.file_store = file_store
        self._channels: dict[str, ChannelOutbound] = {}

    def add_channel(self, name: str, outbound: ChannelOutbound) -> None:
        """Route the calls to addresses of channel ``name`` to ``outbound``."""
        self._channels[name] = outbound

    @property
    def channels(self) -> Mapping[str, ChannelOutbound]:
        return dict(self._channels)

    # --- BaseRequest -------------------------------------------------------------------------------

    async def initialize(self) -> None:
        if self.telegram is not None:
            await self.telegram.initialize()

    async def shutdown(self) -> None:
        if self.telegram is not None:
            await self.telegram.shutdown()

    @property
    def read_timeout(self) -> float | None:
        return self.telegram.read_timeout if self.telegram is not None else None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        timeouts = {
            "read_timeout": read_timeout,
            "write_timeout": write_timeout,
            "connect_timeout": connect_timeout,
            "pool_timeout": pool_timeout,
        }
        try:
            if method == "GET":
                # Bot API calls are POSTs; a GET is a file download (``retrieve``), its file id the last segment.
                file_id = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
                if is_stored_file_id(file_id):
                    return await self._download(file_id)
                return await self._to_telegram(url, method, request_data, timeouts)
            api_method = url.rsplit("/", 1)[-1]
            params = dict(request_data.parameters) if request_data is not None else {}
            address = _addressed_chat(params)
            if address is not None and identities.is_channel_address(address):
                return await self._to_channel(api_method, address, params, request_data)
            if api_method == "getFile" and is_stored_file_id(params.get("file_id")):
                return await self._file_info(str(params["file_id"]))
            if self.telegram is None:
                return await self._without_telegram(api_method, address)
            request_data = await self._with_stored_uploads(request_data, params)
            return await self.telegram.do_request(url, method, request_data, **timeouts)
        except _Answered as answered:
            return answered.answer

    # --- channels ----------------------------------------------------------------------------------

    async def _to_channel(
        self, api_method: str, address: int, params: dict[str, Any], request_data: RequestData | None
    ) -> tuple[int, bytes]:
        identity = await self.address_book.identity_of(address)
        if identity is None:
            return bot_api_error(400, "Bad Request: chat not found")
        channel, external_id = identity
        outbound = self._channels.get(channel)
        if outbound is None:
            # Not the person's fault and maybe not for long (the channel starts after the bot): retried later.
            logger.warning("%s for a %s chat, but the %s channel is not running", api_method, channel, channel)
            return bot_api_error(503, f"Service Unavailable: the {channel} channel is not running")
        call = BotApiCall(method=api_method, address=address, params=params, uploads=_uploads(request_data))
        return await outbound.deliver(call, external_id)

    # --- stored files ------------------------------------------------------------------------------

    async def _load(self, file_id: str) -> Any:
        stored = await self.file_store.load(file_id) if self.file_store is not None else None
        if stored is None:
            raise _Answered(bot_api_error(400, "Bad Request: invalid file_id"))
        return stored

    async def _file_info(self, file_id: str) -> tuple[int, bytes]:
        stored = await self._load(file_id)
        # PTB puts its file base URL in front of file_path; the download comes back here as a GET.
        return bot_api_ok(
            {"file_id": file_id, "file_unique_id": file_id, "file_size": len(stored.data), "file_path": file_id}
        )

    async def _download(self, file_id: str) -> tuple[int, bytes]:
        stored = await self.file_store.load(file_id) if self.file_store is not None else None
        if stored is None:
            return 404, b"Not Found"
        return 200, stored.data

    async def _with_stored_uploads(
        self, request_data: RequestData | None, params: dict[str, Any]
    ) -> RequestData | None:
        """``request_data`` with every stored file id in a file parameter replaced by the file as an upload."""
        if request_data is None or not any(is_stored_file_id(params.get(name)) for name in FILE_PARAMETERS):
            return request_data
        parameters: list[RequestParameter] = []
        # PTB has no public list of a call's parameters with their files; this is the one it builds the
        # multipart body from.
        for parameter in request_data._parameters:
            if parameter.name in FILE_PARAMETERS and is_stored_file_id(parameter.value):
                stored = await self._load(str(parameter.value))
                parameter = RequestParameter.from_input(
                    parameter.name, InputFile(stored.data, filename=stored.filename)
                )
            parameters.append(parameter)
        return RequestData(parameters)

    # --- Telegram, or its stand-in -----------------------------------------------------------------

    async def _to_telegram(
        self, url: str, method: str, request_data: RequestData | None, timeouts: dict[str, Any]
    ) -> tuple[int, bytes]:
        if self.telegram is None:
            return 404, b"Not Found"
        return await self.telegram.do_request(url, method, request_data, **timeouts)

    async def _without_telegram(self, api_method: str, address: int | None) -> tuple[int, bytes]:
        """A call meant for Telegram when this deployment has no Telegram bot."""
        if address is not None:
            # A Telegram chat (an organiser id from the settings, an old outbox row): nobody to reach there.
            return bot_api_error(400, "Bad Request: chat not found")
        if api_method == "getMe":
            for outbound in self._channels.values():
                return await outbound.get_me()
            return bot_api_error(503, "Service Unavailable: no channel is running")
        if api_method in ("getUpdates", "getMyCommands"):
            return bot_api_ok([])
        if api_method == "getWebhookInfo":
            return bot_api_ok({"url": "", "has_custom_certificate": False, "pending_update_count": 0})
        return bot_api_ok(True)


def _as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _addressed_chat(params: Mapping[str, Any]) -> int | None:
    """The chat a call is about: ``chat_id``, or the chat of a command-menu ``scope``; None for neither
    (or a ``@channelusername``, which only Telegram knows)."""
    if "chat_id" in params:
        return _as_int(params["chat_id"])
    scope = params.get("scope")
    if isinstance(scope, Mapping) and "chat_id" in scope:
        return _as_int(scope["chat_id"])
    return None


def _uploads(request_data: RequestData | None) -> dict[str, Upload]:
    if request_data is None or not request_data.contains_files:
        return {}
    uploads: dict[str, Upload] = {}
    for name, field_tuple in request_data.multipart_data.items():
        filename, content, content_type = field_tuple[0], field_tuple[1], field_tuple[2]
        data = content if isinstance(content, bytes) else content.read()
        uploads[name] = Upload(filename=filename or name, data=data, content_type=content_type or "")
    return uploads
