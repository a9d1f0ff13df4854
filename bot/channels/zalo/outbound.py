"""Bot API calls addressed to a Zalo user, carried out with the Zalo Bot API and answered as Telegram would.

Zalo has no buttons, no edits, no uploads and 2,000-character texts (``zalo-bot-api.md`` §0, §6). So:

- a keyboard becomes a numbered menu under the text ("1. Tiếng Việt / 2. English / Trả lời 1 hoặc 2."):
  callback and reply buttons are numbered in reading order, which is the order of the options a typed
  number picks; URL buttons become "label: url" lines, not numbered;
- an edit is a new message with the new text (and the menu when the new markup has buttons); taking the
  buttons off a message sends nothing; deleting, pinning, reactions and command menus do nothing;
- a text is split at paragraphs, lines, then spaces (``rules.channel_text.split_text``), the menu last;
- a file reaches Zalo as a link (``FileStore.share``): a photo is sent as a photo by URL, anything else as a
  line with the link and until when it works; with no link to give (no PUBLIC_BASE_URL, or a Telegram file
  id that cannot leave Telegram) the caption goes as text with a note saying where the file can be had;
- ``parse_mode`` markup is taken out (``bot.channels.markup``).

Every answer is an HTTP status and a Bot API body (``bot.channels.base.bot_api_ok``/``bot_api_error``), so
PTB raises what it would on Telegram: Zalo's 429 (a quota) is ``RetryAfter`` and the outbox backs off, a
network failure is ``NetworkError``, a refusal is ``BadRequest``, a wrong token is ``InvalidToken``. The
client keeps the token out of every description.

This module knows Bot API calls and nothing of the handlers that make them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.channels.base import (
    AddressBook,
    BotApiCall,
    FileStore,
    MonotonicIds,
    bot_api_error,
    bot_api_ok,
    is_stored_file_id,
)
from bot.channels.markup import plain_text
from bot.channels.zalo.client import (
    SentMessage,
    ZaloClient,
    ZaloError,
    ZaloNetworkError,
    ZaloRateLimited,
    ZaloUnauthorized,
)
from bot.i18n import Translator, Translators
from rules.channel_text import ZALO_TEXT_LIMIT, choice_numbers, numbered_menu, split_text

__all__ = ["DEFAULT_LINK_LIFETIME", "ZaloOutbound", "render_markup"]

# How long a shared file's link works; the FileStore's FILE_LINK_TTL_HOURS (default 72) is the one to pass.
DEFAULT_LINK_LIFETIME = dt.timedelta(hours=72)
# Bot API methods that send a file, and the parameter that holds it.
_FILE_METHODS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAudio": "audio",
    "sendVoice": "voice",
    "sendAnimation": "animation",
}
# Nothing to do on Zalo, and nothing the person misses: answered ``true`` without a word in the log.
_NOTHING_TO_DO = frozenset(
    {
        "deleteMessage",
        "deleteMessages",
        "answerCallbackQuery",
        "pinChatMessage",
        "unpinChatMessage",
        "unpinAllChatMessages",
        "setMessageReaction",
        "setMyCommands",
        "deleteMyCommands",
        "setChatMenuButton",
    }
)

logger = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class RenderedMarkup:
    """A keyboard as text: the labels to number (reading order) and the "label: url" lines."""

    labels: tuple[str, ...]
    links: tuple[str, ...]

    @property
    def has_buttons(self) -> bool:
        return bool(self.labels or self.links)


def render_markup(markup: object) -> RenderedMarkup:
    """The buttons of a ``reply_markup`` (a dict or its JSON) that can be shown as text.

    Inline callback buttons and reply-keyboard buttons are numbered; buttons that open an address (``url``,
    ``login_url``, ``web_app``) become links; buttons that need Telegram itself (inline queries, games,
    payments) are left out. ``ReplyKeyboardRemove`` and ``ForceReply`` give nothing.
    """
    if isinstance(markup, str):
        try:
            markup = json.loads(markup) if markup else None
        except json.JSONDecodeError:
            return RenderedMarkup((), ())
    if not isinstance(markup, Mapping):
        return RenderedMarkup((), ())
    labels: list[str] = []
    links: list[str] = []
    for row in _rows(markup.get("inline_keyboard")):
        for button in row:
            if not isinstance(button, Mapping):
                continue
            label = str(button.get("text", ""))
            address = _button_address(button)
            if "callback_data" in button:
                labels.append(label)
            elif address:
                links.append(f"{label}: {address}")
            elif "copy_text" in button and isinstance(button["copy_text"], Mapping):
                links.append(f"{label}: {button['copy_text'].get('text', '')}")
    for row in _rows(markup.get("keyboard")):
        for button in row:
            typed = button.get("text") if isinstance(button, Mapping) else button
            if isinstance(typed, str) and typed:
                labels.append(typed)
    return RenderedMarkup(tuple(labels), tuple(links))


def _rows(rows: object) -> list[Sequence[object]]:
    if not isinstance(rows, Sequence) or isinstance(rows, str):
        return []
    return [row for row in rows if isinstance(row, Sequence) and not isinstance(row, str)]


def _button_address(button: Mapping[str, Any]) -> str | None:
    if isinstance(button.get("url"), str):
        return str(button["url"])
    for kind in ("login_url", "web_app"):
        value = button.get(kind)
        if isinstance(value, Mapping) and isinstance(value.get("url"), str):
            return str(value["url"])
    return None


@dataclass(frozen=True)
class FileLink:
    """A file as Zalo can have it: its URL (None: no way to send it), its name, and whether the link is one
    our FileStore made (and so expires after ``link_lifetime``)."""

    url: str | None
    filename: str | None
    shared: bool


class ZaloOutbound:
    """Carries out Bot API calls for Zalo addresses (``ChannelOutbound`` of the ``zalo`` channel).

    ``file_store`` may be None (files then always get the "where to get it" note); ``link_lifetime`` is how
    long the store's links work (FILE_LINK_TTL_HOURS), said next to a document's link.
    """

    def __init__(
        self,
        client: ZaloClient,
        address_book: AddressBook,
        file_store: FileStore | None,
        translators: Translators,
        *,
        message_ids: MonotonicIds | None = None,
        link_lifetime: dt.timedelta = DEFAULT_LINK_LIFETIME,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.client = client
        self.address_book = address_book
        self.file_store = file_store
        self.translators = translators
        self.message_ids = message_ids or MonotonicIds()
        self.link_lifetime = link_lifetime
        self.clock = clock
        self._methods: dict[str, Callable[[BotApiCall, str], Awaitable[tuple[int, bytes]]]] = {
            "sendMessage": self._send_message,
            "editMessageText": self._edit_text,
            "editMessageCaption": self._edit_caption,
            "editMessageReplyMarkup": self._edit_markup,
            "sendChatAction": self._chat_action,
            **{method: self._send_file for method in _FILE_METHODS},
        }

    async def get_me(self) -> tuple[int, bytes]:
        """The Zalo bot as a Telegram ``User`` (its numeric id, its name, ``bot.XXXX`` as username)."""
        try:
            me = await self.client.get_me()
        except ZaloError as error:
            return _refusal(error)
        return bot_api_ok(
            {
                "id": int(me.id) if me.id.isdigit() else 0,
                "is_bot": True,
                "first_name": me.display_name or me.account_name or "Zalo",
                "username": me.account_name,
                "can_join_groups": me.can_join_groups,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def deliver(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        """Carry out ``call`` in the Zalo chat ``external_id`` (a private chat's id is the person's id)."""
        handler = self._methods.get(call.method)
        if handler is None:
            return self._without_equivalent(call)
        try:
            return await handler(call, external_id)
        except ZaloError as error:
            return _refusal(error)

    # --- texts ---------------------------------------------------------------------------------------

    async def _send_message(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        text = plain_text(str(call.params.get("text") or ""), _parse_mode(call))
        markup = render_markup(call.params.get("reply_markup"))
        pieces = await self._pieces(call, [text], markup)
        if not pieces:
            return bot_api_error(400, "Bad Request: message text is empty")
        sent = await self._send_texts(external_id, pieces)
        return bot_api_ok(self._message(call, self.message_ids.next(), sent, text=text))

    async def _edit_text(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        text = plain_text(str(call.params.get("text") or ""), _parse_mode(call))
        return await self._edit(call, external_id, text, "text")

    async def _edit_caption(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        caption = plain_text(str(call.params.get("caption") or ""), _parse_mode(call))
        return await self._edit(call, external_id, caption, "caption")

    async def _edit_markup(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        # Buttons taken off after a choice: on Zalo there were none to take. New buttons: their menu alone,
        # since the text they belong to was sent before.
        return await self._edit(call, external_id, "", None)

    async def _edit(self, call: BotApiCall, external_id: str, text: str, field: str | None) -> tuple[int, bytes]:
        """Zalo cannot edit: the new text (and menu) comes as a new message; PTB hears of the old one, edited."""
        markup = render_markup(call.params.get("reply_markup"))
        pieces = await self._pieces(call, [text], markup)
        sent = await self._send_texts(external_id, pieces) if pieces else None
        message_id = _as_int(call.params.get("message_id")) or self.message_ids.next()
        content = {field: text} if field and text else {}
        return bot_api_ok(self._message(call, message_id, sent, **content))

    async def _chat_action(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        # "typing" is the only action Zalo has; "upload_photo" and the others show as typing too.
        await self.client.send_chat_action(external_id)
        return bot_api_ok(True)

    # --- files ---------------------------------------------------------------------------------------

    async def _send_file(self, call: BotApiCall, external_id: str) -> tuple[int, bytes]:
        field = _FILE_METHODS[call.method]
        caption = plain_text(str(call.params.get("caption") or ""), _parse_mode(call))
        markup = render_markup(call.params.get("reply_markup"))
        link = await self._file_link(call, field)
        if link.url is not None and field == "photo":
            pieces = await self._pieces(call, [caption], markup)
            sent = await self.client.send_photo(external_id, link.url, pieces[0] if pieces else None)
            if len(pieces) > 1:
                sent = await self._send_texts(external_id, pieces[1:])
            return bot_api_ok(self._message(call, self.message_ids.next(), sent, caption=caption))
        t = await self._translator(call.address)
        if link.url is not None:
            line = self._link_line(t, link)
        elif link.filename:
            line = t(
                "The file “{filename}” cannot be shown on Zalo. You can get it on Telegram or from the organisers.",
                filename=link.filename,
            )
        else:
            line = t("This file cannot be shown on Zalo. You can get it on Telegram or from the organisers.")
        pieces = await self._pieces(call, [caption, line], markup, translator=t)
        sent = await self._send_texts(external_id, pieces)
        return bot_api_ok(self._message(call, self.message_ids.next(), sent, caption=caption))

    async def _file_link(self, call: BotApiCall, field: str) -> FileLink:
        """Where Zalo can fetch the file of ``field``: a link we share for an upload or a stored file, the
        URL itself when the call gave one; no link for a Telegram file id (it cannot leave Telegram)."""
        upload = call.uploads.get(field)
        if upload is not None:
            url = await self._share(call, upload.data, upload.filename, upload.content_type)
            return FileLink(url, upload.filename, shared=True)
        value = call.params.get(field)
        if is_stored_file_id(value) and self.file_store is not None:
            stored = await self.file_store.load(str(value))
            if stored is None:
                return FileLink(None, None, shared=False)
            url = await self._share(call, stored.data, stored.filename, stored.content_type)
            return FileLink(url, stored.filename, shared=True)
        if isinstance(value, str) and value.startswith(("https://", "http://")):
            name = urllib.parse.unquote(urllib.parse.urlsplit(value).path.rsplit("/", 1)[-1])
            return FileLink(value, name or None, shared=False)
        return FileLink(None, None, shared=False)

    async def _share(self, call: BotApiCall, data: bytes, filename: str, content_type: str) -> str | None:
        if self.file_store is None:
            return None
        return await self.file_store.share(
            data, filename=filename, content_type=content_type or "application/octet-stream", owner=call.address
        )

    def _link_line(self, t: Translator, link: FileLink) -> str:
        filename = link.filename or t("File")
        if not link.shared:
            # An address the call gave: how long it works is not ours to say.
            return f"{filename}: {link.url}"
        return t(
            "{filename}: {url}\n(the link works until {expiry})",
            filename=filename,
            url=link.url,
            expiry=t.datetime(self.clock() + self.link_lifetime),
        )

    # --- helpers -------------------------------------------------------------------------------------

    async def _translator(self, address: int) -> Translator:
        return self.translators.get(await self.address_book.locale_of(address))

    async def _pieces(
        self,
        call: BotApiCall,
        paragraphs: Sequence[str],
        markup: RenderedMarkup,
        *,
        translator: Translator | None = None,
    ) -> list[str]:
        """The messages that carry ``paragraphs`` and the markup's links and menu, in that order."""
        body = "\n\n".join(part.strip() for part in (*paragraphs, "\n".join(markup.links)) if part.strip())
        if markup.labels:
            t = translator or await self._translator(call.address)
            hint = t("Reply {choices}.", choices=choice_numbers(len(markup.labels), t.locale))
            body = numbered_menu(body, markup.labels, hint)
        return split_text(body, ZALO_TEXT_LIMIT)

    async def _send_texts(self, external_id: str, pieces: Sequence[str]) -> SentMessage:
        sent: SentMessage | None = None
        for piece in pieces:
            sent = await self.client.send_message(external_id, piece)
        assert sent is not None, "there is always a piece to send"
        return sent

    def _message(self, call: BotApiCall, message_id: int, sent: SentMessage | None, **content: str) -> dict[str, Any]:
        """What Telegram answers a send with: a Message in the person's private chat."""
        when = sent.date if sent is not None and sent.date is not None else self.clock()
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(when.timestamp()),
            "chat": {"id": call.address, "type": "private"},
        }
        message.update({key: value for key, value in content.items() if value})
        markup = call.params.get("reply_markup")
        if isinstance(markup, Mapping) and "inline_keyboard" in markup:
            # Telegram gives the inline keyboard back with the message; PTB's callers may read it.
            message["reply_markup"] = dict(markup)
        return message

    def _without_equivalent(self, call: BotApiCall) -> tuple[int, bytes]:
        if call.method == "getMyCommands":
            return bot_api_ok([])
        if call.method in _NOTHING_TO_DO:
            return bot_api_ok(True)
        logger.warning("Bot API %s has no Zalo equivalent: nothing was sent", call.method)
        if call.method.startswith("send"):
            # PTB reads a Message from every send; one that was not sent is still one it can read.
            return bot_api_ok(self._message(call, self.message_ids.next(), None))
        if call.method in ("copyMessage", "forwardMessage"):
            return bot_api_ok({"message_id": self.message_ids.next()})
        return bot_api_ok(True)


def _parse_mode(call: BotApiCall) -> str | None:
    mode = call.params.get("parse_mode")
    return mode if isinstance(mode, str) else None


def _as_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _refusal(error: ZaloError) -> tuple[int, bytes]:
    """Zalo's error as the Bot API answer that makes PTB raise the matching exception."""
    if isinstance(error, ZaloRateLimited):
        return bot_api_error(
            429, f"Too Many Requests: {error.description}", retry_after=max(1, math.ceil(error.retry_after))
        )
    if isinstance(error, ZaloUnauthorized):
        return bot_api_error(401, f"Unauthorized: Zalo refused the bot token ({error.description})")
    if isinstance(error, ZaloNetworkError):
        return bot_api_error(502, f"Bad Gateway: Zalo did not answer {error.method} ({error.description})")
    if error.error_code in (400, 404):
        return bot_api_error(400, f"Bad Request: {error.description}")
    # Zalo's docs call their 403 an internal server error; like a 5xx it may pass, so it is retried.
    return bot_api_error(502, f"Bad Gateway: Zalo {error.method} failed ({error.error_code}: {error.description})")
