"""Zalo events as the ``telegram.Update`` the handlers consume.

A Zalo user is a Telegram user and private chat whose id is their address (``AddressBook.address_of``), so
every handler, conversation key and account lookup works unchanged. What each event becomes:

- ``message.text.received``: a text message; one that starts with ``/word`` carries a ``bot_command``
  entity, so CommandHandlers match and ``/start ABC`` has its args;
- ``message.image.received``: the photo is downloaded **at once** (Zalo's CDN links expire), kept in the
  FileStore as evidence, and delivered as a photo message whose file id is the stored ``zf_`` id; a photo
  that cannot be had (too big, not an image, the link dead) is delivered as an unsupported message;
- ``message.sticker.received``: a sticker message;
- ``message.unsupported.received`` and voice: a message with no text and no photo, which the handlers answer
  with a request to answer in text;
- any other event is logged and dropped; so is everything from a group (groups are unavailable on Zalo) and
  from another bot.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import re
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError
from telegram import Bot, Update

from bot.channels.base import AddressBook, FileStore, MonotonicIds
from bot.channels.zalo import CHANNEL
from bot.channels.zalo.updates import EventName, ZaloMessage, ZaloUpdate
from rules.identities import UPDATE_MARK

__all__ = ["MAX_PHOTO_BYTES", "ZaloInbound"]

MAX_PHOTO_BYTES = 10 * 1024 * 1024
PHOTO_DOWNLOAD_TIMEOUT = httpx.Timeout(10.0, read=20.0)
# A command as Telegram recognises one: a slash, then Latin letters, digits and underscores (``/start``,
# ``/lang``); ``/bắt`` is text.
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]+)?(?=\s|$)")

logger = logging.getLogger(__name__)


class PhotoUnavailable(Exception):
    """A Zalo photo that could not be had: the reason, for the log (never the URL, which is the person's)."""


class ZaloInbound:
    """Turns Zalo events into PTB updates for ``bot``. ``http`` downloads photos (made here when None)."""

    def __init__(
        self,
        address_book: AddressBook,
        file_store: FileStore | None,
        bot: Bot,
        *,
        http: httpx.AsyncClient | None = None,
        update_ids: MonotonicIds | None = None,
        message_ids: MonotonicIds | None = None,
        max_photo_bytes: int = MAX_PHOTO_BYTES,
    ) -> None:
        self.address_book = address_book
        self.file_store = file_store
        self.bot = bot
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=PHOTO_DOWNLOAD_TIMEOUT, follow_redirects=True)
        self.update_ids = update_ids or MonotonicIds()
        self.message_ids = message_ids or MonotonicIds()
        self.max_photo_bytes = max_photo_bytes

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def to_update(self, event: ZaloUpdate) -> Update | None:
        """The PTB update for ``event``, or None when the bot does not handle it (logged)."""
        kind = event.kind
        message = event.message
        if kind is None or message is None:
            logger.info("Zalo event %r is not one the bot handles; ignored", event.event_name[:64])
            return None
        if not _is_private(message):
            logger.info("a Zalo %s message from a group chat was dropped: groups are unavailable on Zalo", kind.name)
            return None
        if message.sender.is_bot:
            return None
        address = await self.address_book.address_of(CHANNEL, message.sender.id, message.sender.display_name)
        content = await self._content(kind, message, address)
        first_name = message.sender.display_name.strip() or "Zalo"
        payload: dict[str, Any] = {
            # PTB keeps this key in update.api_kwargs: the sign that the address was given by this adapter.
            UPDATE_MARK: CHANNEL,
            "update_id": self.update_ids.next(),
            "message": {
                "message_id": self.message_ids.next(),
                "date": int(message.date.timestamp()),
                "chat": {"id": address, "type": "private", "first_name": first_name},
                "from": {"id": address, "is_bot": False, "first_name": first_name},
                **content,
            },
        }
        return Update.de_json(payload, self.bot)

    async def _content(self, kind: EventName, message: ZaloMessage, address: int) -> dict[str, Any]:
        if kind is EventName.TEXT and message.text:
            return _text(message.text)
        if kind is EventName.IMAGE:
            return await self._photo(message, address)
        if kind is EventName.STICKER and message.sticker:
            return {"sticker": _sticker(message.sticker)}
        # Unsupported content (a file, a link, a video, a protected user), voice, an empty text: nothing the
        # handlers can read, so they ask for an answer in text.
        return {}

    async def _photo(self, message: ZaloMessage, address: int) -> dict[str, Any]:
        caption = {"caption": message.caption} if message.caption else {}
        if message.photo_url is None or self.file_store is None:
            return caption
        try:
            data, content_type = await self._download(message.photo_url)
        except PhotoUnavailable as problem:
            logger.warning("a Zalo photo could not be downloaded (%s); delivered as unsupported", problem)
            return caption
        width, height = _dimensions(data)
        extension = mimetypes.guess_extension(content_type, strict=False) or ".jpg"
        file_id = await self.file_store.keep(
            data, filename=f"zalo-photo-{message.message_id}{extension}", content_type=content_type, owner=address
        )
        photo = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "width": width,
            "height": height,
            "file_size": len(data),
        }
        return {"photo": [photo], **caption}

    async def _download(self, url: str) -> tuple[bytes, str]:
        """The image at ``url`` and its content type, read up to ``max_photo_bytes``."""
        if not url.startswith(("https://", "http://")):
            raise PhotoUnavailable("not an http(s) address")
        try:
            async with self.http.stream("GET", url) as response:
                if response.status_code != 200:
                    raise PhotoUnavailable(f"HTTP {response.status_code}")
                content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if not content_type.startswith("image/"):
                    raise PhotoUnavailable(f"content type {content_type[:40] or 'missing'}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > self.max_photo_bytes:
                    raise PhotoUnavailable(f"{declared} bytes")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_photo_bytes:
                        raise PhotoUnavailable(f"more than {self.max_photo_bytes} bytes")
        except httpx.HTTPError as error:
            raise PhotoUnavailable(type(error).__name__) from None
        if not body:
            raise PhotoUnavailable("empty")
        return bytes(body), content_type


def _is_private(message: ZaloMessage) -> bool:
    # A chat without a type is private when it is the sender's own (in a private chat chat.id is from.id).
    if message.chat.chat_type is None:
        return message.chat.id == message.sender.id
    return message.chat.is_private


def _text(text: str) -> dict[str, Any]:
    content: dict[str, Any] = {"text": text}
    command = _COMMAND.match(text)
    if command:
        # Telegram counts entity offsets in UTF-16 units; a command is ASCII, so characters are units.
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
    return content


def _sticker(sticker_id: str) -> dict[str, Any]:
    # Not a Telegram file id: nothing can fetch it from Telegram, and no handler keeps stickers.
    file_id = f"zalo-sticker-{sticker_id}"
    return {
        "file_id": file_id,
        "file_unique_id": file_id,
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }


def _dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from the image header (no pixels decoded); 0×0 for a format Pillow does not read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return 0, 0
