"""An in-process Telegram Bot API: the transport of the offline playground and of every flow test.

``InProcessBotAPI`` is a ``telegram.request.BaseRequest``: the real ``Application`` and ``Bot`` talk to it
exactly as they would to api.telegram.org, and it keeps what a Telegram client would show: per chat, the
messages the bot sent (with their keyboards, edits and files), the toasts of answered button presses,
the command menus per scope. ``UpdateFactory`` makes the updates a person would send (text, commands,
button presses, photos, documents, stickers).

Faults can be injected (a 429 with retry_after, a 500, a 403 for a blocked user) and a Telegram-like rate
limit can be enforced, so the outbox is tested against the behaviour it must survive.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    Document,
    InaccessibleMessage,
    Message,
    MessageEntity,
    PhotoSize,
    Sticker,
    Update,
    User,
)
from telegram.request import BaseRequest, RequestData

BOT_ID = 100000
BOT_USERNAME = "dienhinh_bot"
OFFLINE_TOKEN = f"{BOT_ID}:offline-playground-token"


@dataclass
class SentMessage:
    """A message as the chat shows it: the bot's (or a forwarded user's) text, keyboard and attachment."""

    chat_id: int
    message_id: int
    method: str
    text: str = ""
    reply_markup: dict[str, Any] | None = None
    file_name: str | None = None
    file_bytes: bytes | None = None
    edits: int = 0
    deleted: bool = False
    # False once the message is too old for Telegram to edit (48 hours); edits then answer 400.
    editable: bool = True
    sent_at: float = field(default_factory=time.monotonic)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline buttons in reading order (row by row), as Bot API dicts."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or self.reply_markup.get("keyboard") or []
        return [button if isinstance(button, dict) else {"text": button} for row in rows for button in row]

    @property
    def button_labels(self) -> list[str]:
        return [str(button["text"]) for button in self.buttons]


@dataclass
class Fault:
    """An error answer to inject: HTTP status, description and, for 429, the retry_after seconds."""

    status: int
    description: str
    retry_after: int | None = None

    def body(self) -> bytes:
        payload: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            payload["parameters"] = {"retry_after": self.retry_after}
        return json.dumps(payload).encode()

    @classmethod
    def too_many_requests(cls, retry_after: int = 1) -> Fault:
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    @classmethod
    def server_error(cls) -> Fault:
        return cls(500, "Internal Server Error")

    @classmethod
    def blocked(cls) -> Fault:
        return cls(403, "Forbidden: bot was blocked by the user")


class _Answer(Exception):
    """An error answer decided while handling a call (the method's own refusal, not an injected fault)."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.description)
        self.fault = fault


@dataclass
class RateRules:
    """Telegram's broadcast limits as the fake server enforces them (answers 429 beyond them)."""

    overall_per_second: int = 30
    per_chat_per_second: int = 1
    clock: Callable[[], float] = time.monotonic


_SEND_METHODS = {
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "sendMediaGroup",
    "sendSticker",
    "sendLocation",
    "copyMessage",
    "forwardMessage",
}


class InProcessBotAPI(BaseRequest):
    """Answers Bot API calls in memory and records what each chat would show."""

    def __init__(self, *, bot_id: int = BOT_ID, username: str = BOT_USERNAME) -> None:
        self.bot_user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Điển hình",
            "username": username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, list[SentMessage]] = defaultdict(list)
        self.toasts: dict[int, list[str]] = defaultdict(list)
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.files: dict[str, bytes] = {}
        self.faults: deque[tuple[Callable[[str, dict[str, Any]], bool], Fault]] = deque()
        self.fault_hook: Callable[[str, dict[str, Any]], Fault | None] | None = None
        self.rate_rules: RateRules | None = None
        self.rate_violations = 0
        # Seconds each call spends on the network (benches): half before the server sees it, half after.
        self.round_trip = 0.0
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._send_times: deque[float] = deque()
        self._chat_send_times: dict[int, float] = {}
        self._file_ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self.listeners: list[Callable[[SentMessage], None]] = []

    # --- BaseRequest -------------------------------------------------------------------------------

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            path = url.rsplit("/", 1)[-1]
            return (200, self.files[path]) if path in self.files else (404, b"Not Found")
        if self.round_trip:
            await asyncio.sleep(self.round_trip / 2)
        answer = self._handle(url, request_data)
        if self.round_trip:
            await asyncio.sleep(self.round_trip / 2)
        return answer

    def _handle(self, url: str, request_data: RequestData | None) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        uploads = request_data.multipart_data if request_data and request_data.contains_files else {}
        self.calls.append((api_method, params))
        fault = self._take_fault(api_method, params)
        if fault:
            return fault.status, fault.body()
        try:
            result = self._answer(api_method, params, uploads)
        except _Answer as answer:
            return answer.fault.status, answer.fault.body()
        return 200, json.dumps({"ok": True, "result": result}, default=str).encode()

    # --- faults and limits -------------------------------------------------------------------------

    def fail_next(self, fault: Fault, *, method: str = "sendMessage", chat_id: int | None = None, times: int = 1):
        """Answer the next ``times`` matching calls with ``fault``."""

        def matches(api_method: str, params: dict[str, Any]) -> bool:
            return api_method == method and (chat_id is None or int(params.get("chat_id", 0)) == chat_id)

        for _ in range(times):
            self.faults.append((matches, fault))

    def _take_fault(self, api_method: str, params: dict[str, Any]) -> Fault | None:
        if self.fault_hook and (fault := self.fault_hook(api_method, params)):
            return fault
        for index, (matches, queued) in enumerate(self.faults):
            if matches(api_method, params):
                del self.faults[index]
                return queued
        if self.rate_rules and api_method in _SEND_METHODS:
            return self._check_rate(int(params.get("chat_id", 0)))
        return None

    def _check_rate(self, chat_id: int) -> Fault | None:
        rules = self.rate_rules
        assert rules is not None
        now = rules.clock()
        while self._send_times and now - self._send_times[0] >= 1.0:
            self._send_times.popleft()
        last = self._chat_send_times.get(chat_id)
        if len(self._send_times) >= rules.overall_per_second or (
            last is not None and now - last < 1.0 / rules.per_chat_per_second
        ):
            self.rate_violations += 1
            return Fault.too_many_requests(1)
        self._send_times.append(now)
        self._chat_send_times[chat_id] = now
        return None

    # --- the methods -------------------------------------------------------------------------------

    def _answer(self, api_method: str, params: dict[str, Any], uploads: dict[str, Any]) -> Any:
        if api_method == "getMe":
            return self.bot_user
        if api_method in {"sendMessage", "sendPhoto", "sendDocument", "sendSticker"}:
            return self._send(api_method, params, uploads)
        if api_method in {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}:
            message = self.find(int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
            if message is not None and not message.editable:
                raise _Answer(Fault(400, "Bad Request: message can't be edited"))
            return self._edit(api_method, params)
        if api_method == "deleteMessage":
            message = self.find(int(params["chat_id"]), int(params["message_id"]))
            if message:
                message.deleted = True
            return True
        if api_method == "answerCallbackQuery":
            if params.get("text"):
                self.toasts[int(params["callback_query_id"].split(":")[0])].append(str(params["text"]))
            return True
        if api_method == "setMyCommands":
            self.commands[self._scope_key(params)] = list(params.get("commands", []))
            return True
        if api_method == "deleteMyCommands":
            self.commands.pop(self._scope_key(params), None)
            return True
        if api_method == "getMyCommands":
            return self.commands.get(self._scope_key(params), [])
        if api_method == "getFile":
            file_id = str(params["file_id"])
            return {"file_id": file_id, "file_unique_id": file_id, "file_path": file_id}
        if api_method == "getUpdates":
            return []
        if api_method in {"getWebhookInfo"}:
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        # deleteWebhook, setWebhook, setChatMenuButton, sendChatAction, close, logOut, …
        return True

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        if isinstance(scope, str):
            scope = json.loads(scope)
        key = scope.get("type", "default")
        if "chat_id" in scope:
            key += f":{scope['chat_id']}"
        return f"{key}|{params.get('language_code', '')}"

    def _send(self, api_method: str, params: dict[str, Any], uploads: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message = SentMessage(
            chat_id=chat_id,
            message_id=self.next_message_id(chat_id),
            method=api_method,
            text=str(params.get("text") or params.get("caption") or ""),
            reply_markup=_as_dict(params.get("reply_markup")),
        )
        result: dict[str, Any] = self._message_json(message)
        for part, upload in uploads.items():
            name, content = upload[0], upload[1]
            data = content if isinstance(content, bytes) else content.read()
            message.file_name, message.file_bytes = name, data
            file_id = self.store_file(data)
            if part == "photo" or api_method == "sendPhoto":
                result["photo"] = [{"file_id": file_id, "file_unique_id": file_id, "width": 1, "height": 1}]
            else:
                result["document"] = {"file_id": file_id, "file_unique_id": file_id, "file_name": name}
        if api_method == "sendPhoto" and "photo" not in result and params.get("photo"):
            message.file_name = str(params["photo"])
            result["photo"] = [{"file_id": str(params["photo"]), "file_unique_id": "x", "width": 1, "height": 1}]
        if api_method == "sendDocument" and "document" not in result and params.get("document"):
            message.file_name = str(params["document"])
            result["document"] = {"file_id": str(params["document"]), "file_unique_id": "x"}
        self.chats[chat_id].append(message)
        for listener in self.listeners:
            listener(message)
        return result

    def _edit(self, api_method: str, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        message = self.find(chat_id, int(params["message_id"]))
        if message is None:
            return True
        if api_method == "editMessageText":
            message.text = str(params.get("text", ""))
        elif api_method == "editMessageCaption":
            message.text = str(params.get("caption", ""))
        message.reply_markup = _as_dict(params.get("reply_markup"))
        message.edits += 1
        return self._message_json(message)

    def _message_json(self, message: SentMessage) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "message_id": message.message_id,
            "date": int(time.time()),
            "chat": {"id": message.chat_id, "type": "private" if message.chat_id > 0 else "group"},
            "from": self.bot_user,
        }
        if message.text:
            payload["text" if message.method == "sendMessage" else "caption"] = message.text
        if message.reply_markup:
            payload["reply_markup"] = message.reply_markup
        return payload

    # --- helpers for the playground and tests ------------------------------------------------------

    def next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids[chat_id])

    def store_file(self, data: bytes) -> str:
        file_id = f"file-{next(self._file_ids)}"
        self.files[file_id] = data
        return file_id

    def find(self, chat_id: int, message_id: int) -> SentMessage | None:
        for message in self.chats.get(chat_id, []):
            if message.message_id == message_id:
                return message
        return None

    def messages(self, chat_id: int) -> list[SentMessage]:
        return [m for m in self.chats.get(chat_id, []) if not m.deleted]

    def sent_count(self, methods: Iterable[str] = _SEND_METHODS) -> int:
        wanted = set(methods)
        return sum(1 for name, _ in self.calls if name in wanted)


def _as_dict(markup: Any) -> dict[str, Any] | None:
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        return dict(json.loads(markup))
    return dict(markup)


@dataclass
class Persona:
    """Someone who writes to the bot in the playground or in a test."""

    user_id: int
    first_name: str
    last_name: str = ""
    username: str | None = None
    language_code: str = "vi"

    def user(self) -> User:
        return User(
            id=self.user_id,
            is_bot=False,
            first_name=self.first_name,
            last_name=self.last_name or None,
            username=self.username,
            language_code=self.language_code,
        )

    def chat(self) -> Chat:
        return Chat(id=self.user_id, type=Chat.PRIVATE, first_name=self.first_name, username=self.username)


class UpdateFactory:
    """Builds the updates Telegram would deliver when a persona types, presses or sends a file."""

    def __init__(self, api: InProcessBotAPI, bot: Bot) -> None:
        self.api = api
        self.bot = bot
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)

    def _message(self, persona: Persona, **content: Any) -> Message:
        message = Message(
            message_id=self.api.next_message_id(persona.user_id),
            date=dt.datetime.now(dt.UTC),
            chat=persona.chat(),
            from_user=persona.user(),
            **content,
        )
        message.set_bot(self.bot)
        return message

    def _update(self, **content: Any) -> Update:
        update = Update(update_id=next(self._update_ids), **content)
        update.set_bot(self.bot)
        return update

    def text(self, persona: Persona, text: str) -> Update:
        entities = None
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = (MessageEntity(type=MessageEntity.BOT_COMMAND, offset=0, length=len(command)),)
        return self._update(message=self._message(persona, text=text, entities=entities))

    def edited_text(self, persona: Persona, text: str, message_id: int | None = None) -> Update:
        """The person edits a message they sent earlier (Telegram delivers it as ``edited_message``)."""
        entities = None
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = (MessageEntity(type=MessageEntity.BOT_COMMAND, offset=0, length=len(command)),)
        message = Message(
            message_id=message_id or self.api.next_message_id(persona.user_id),
            date=dt.datetime.now(dt.UTC),
            chat=persona.chat(),
            from_user=persona.user(),
            text=text,
            entities=entities,
            edit_date=dt.datetime.now(dt.UTC),
        )
        message.set_bot(self.bot)
        return self._update(edited_message=message)

    def group_text(self, persona: Persona, group_id: int, text: str, *, supergroup: bool = True) -> Update:
        """``text`` written by ``persona`` in a group chat (negative id) that the bot is a member of."""
        entities = None
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = (MessageEntity(type=MessageEntity.BOT_COMMAND, offset=0, length=len(command)),)
        chat = Chat(id=group_id, type=Chat.SUPERGROUP if supergroup else Chat.GROUP, title="Tổ dân phố 5")
        message = Message(
            message_id=self.api.next_message_id(group_id),
            date=dt.datetime.now(dt.UTC),
            chat=chat,
            from_user=persona.user(),
            text=text,
            entities=entities,
        )
        message.set_bot(self.bot)
        return self._update(message=message)

    def channel_post(self, channel_id: int, text: str) -> Update:
        """A post in a channel the bot administers (no sender)."""
        chat = Chat(id=channel_id, type=Chat.CHANNEL, title="Điển hình tiên tiến")
        message = Message(
            message_id=self.api.next_message_id(channel_id), date=dt.datetime.now(dt.UTC), chat=chat, text=text
        )
        message.set_bot(self.bot)
        return self._update(channel_post=message)

    def press(
        self,
        persona: Persona,
        message: SentMessage,
        callback_data: str | None,
        *,
        inaccessible: bool = False,
    ) -> Update:
        """A press of a button of ``message``; ``inaccessible``: Telegram no longer gives the message
        (older than 48 hours), as PTB's ``InaccessibleMessage``; ``callback_data`` None: a button with no data."""
        bot_message: Message | InaccessibleMessage
        if inaccessible:
            bot_message = InaccessibleMessage(chat=persona.chat(), message_id=message.message_id)
        else:
            bot_message = Message(
                message_id=message.message_id,
                date=dt.datetime.now(dt.UTC),
                chat=persona.chat(),
                from_user=User(id=self.bot.id, is_bot=True, first_name="bot"),
                text=message.text,
            )
        bot_message.set_bot(self.bot)
        query = CallbackQuery(
            id=f"{persona.user_id}:{next(self._callback_ids)}",
            from_user=persona.user(),
            chat_instance=str(persona.user_id),
            message=bot_message,
            data=callback_data,
        )
        query.set_bot(self.bot)
        return self._update(callback_query=query)

    def photo(self, persona: Persona, data: bytes, caption: str | None = None) -> Update:
        file_id = self.api.store_file(data)
        sizes = (PhotoSize(file_id=file_id, file_unique_id=file_id, width=800, height=600, file_size=len(data)),)
        return self._update(message=self._message(persona, photo=sizes, caption=caption))

    def document(
        self,
        persona: Persona,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        *,
        caption: str | None = None,
        file_size: int | None = None,
    ) -> Update:
        """``file_size``: the size Telegram reports, when it should differ from ``data`` (an oversized file)."""
        file_id = self.api.store_file(data)
        document = Document(
            file_id=file_id,
            file_unique_id=file_id,
            file_name=file_name,
            mime_type=mime_type,
            file_size=len(data) if file_size is None else file_size,
        )
        return self._update(message=self._message(persona, document=document, caption=caption))

    def sticker(self, persona: Persona) -> Update:
        sticker = Sticker(
            file_id="sticker-1",
            file_unique_id="sticker-1",
            width=512,
            height=512,
            is_animated=False,
            is_video=False,
            type=Sticker.REGULAR,
            emoji="👍",
        )
        return self._update(message=self._message(persona, sticker=sticker))
