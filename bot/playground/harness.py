"""The real Application against the in-process Bot API, with people who type, press and send files.

Used by the terminal playground (``make demo``) and by the flow tests: both drive exactly what runs on
Telegram, through ``Application.process_update``.

With ``zalo=True`` the playground also runs the Zalo channel: the Application's Bot talks through a
``ChannelRouter`` (Telegram chats to the in-process Bot API, Zalo addresses to a ``ZaloOutbound``), which
reaches a ``FakeZaloServer`` on 127.0.0.1 through the real ``ZaloClient``. A :class:`ZaloChatUser`'s event is
built with the fake server's helpers, turned into an update by the real ``ZaloInbound`` and delivered under
the same lock as a Telegram update, so a test reads what the server received right after, without polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from telegram import Update

from bot.app import DienhinhApplication, build_application
from bot.channels.zalo import CHANNEL as ZALO
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.client import ZaloClient
from bot.channels.zalo.fake_server import DeliveredMessage, Event, FakeUser, FakeZaloServer
from bot.channels.zalo.updates import parse_update
from bot.playground.transport import InProcessBotAPI, Persona, SentMessage, UpdateFactory
from bot.services import Services
from rules.choices import DidYouMean, Option, Picked, Several, match_option
from rules.files import DatabaseFileStore, SharedFile
from rules.refdata import search_key

ServicesFactory = Callable[[], Services]


class NoSuchButton(AssertionError):
    """A press the chat has no button for: ``labels`` are the buttons there are (none: no message has any)."""

    def __init__(self, chat_id: int, choice: str, labels: list[str]) -> None:
        where = f"no button {choice!r} among {labels}" if labels else "no buttons to press"
        super().__init__(f"{where} in chat {chat_id}")
        self.choice = choice
        self.labels = labels


class Playground:
    """One bot process (restartable) and the Telegram "servers" it talks to, which outlive it."""

    def __init__(
        self,
        make_services: ServicesFactory,
        api: InProcessBotAPI | None = None,
        *,
        zalo: bool = False,
        public_base_url: str | None = None,
    ) -> None:
        """``zalo``: run the Zalo channel too (see the module's docstring); ``public_base_url``: the file
        store shares files at links under it (PUBLIC_BASE_URL), without it Zalo people get notes instead."""
        self.make_services = make_services
        self.api = api or InProcessBotAPI()
        self.app: DienhinhApplication | None = None
        self.factory: UpdateFactory | None = None
        self.run_jobs = False
        self._lock = asyncio.Lock()
        self.zalo_enabled = zalo
        # The bot's own stores (the database's) keep the files people sent; Zalo's side outlives a restart,
        # like the Telegram "servers".
        self.public_base_url = public_base_url or ""
        self.zalo_server: FakeZaloServer | None = None
        self._zalo_client: ZaloClient | None = None
        self.zalo_channel: ZaloChannel | None = None

    @property
    def application(self) -> DienhinhApplication:
        assert self.app is not None, "call start() first"
        return self.app

    @property
    def services(self) -> Services:
        return self.application.services

    @property
    def file_store(self) -> DatabaseFileStore:
        """The bot's file store (evidence people sent, files shared by link), as in production."""
        store: DatabaseFileStore = self.services.file_store
        return store

    async def shared_file(self, url: str) -> SharedFile | None:
        """What opening ``url`` (a link the bot sent) gives, as the web server's /files would serve it."""
        prefix = f"{self.file_store.public_base_url}/files/"
        if not self.file_store.public_base_url or not url.startswith(prefix):
            return None
        return await self.file_store.open_share(url.removeprefix(prefix).split("/", 1)[0])

    async def start(self, *, run_jobs: bool = False) -> None:
        """Initialise the bot; with ``run_jobs`` also start its JobQueue (outbox sender, reminders)."""
        self.run_jobs = run_jobs
        services = self.make_services()
        if not self.zalo_enabled:
            self.app = build_application(services, request=self.api)
        else:
            await self._start_zalo_server()
            assert self._zalo_client is not None
            self.app = build_application(services, request=self.api)
            services.file_store.public_base_url = self.public_base_url
            # Registers its outbound with the router; its polling and worker are never started here: the
            # playground hands each event to the inbound itself (polling has tests of its own).
            self.zalo_channel = ZaloChannel(self._zalo_client, services.address_book, services.file_store, self.app)
        await self.app.initialize()
        # run_polling/run_webhook call these hooks on Telegram; here the playground stands in for them.
        if self.app.post_init:
            await self.app.post_init(self.app)
        if run_jobs:
            await self.app.start()
        self.factory = UpdateFactory(self.api, self.app.bot)

    async def _start_zalo_server(self) -> None:
        if self.zalo_server is not None:
            return
        self.zalo_server = FakeZaloServer()
        await self.zalo_server.start()
        self._zalo_client = ZaloClient(self.zalo_server.token, base_url=self.zalo_server.base_url)

    async def stop(self) -> None:
        """Stop the bot process and Zalo's side too (the playground is done)."""
        await self._stop_process()
        if self._zalo_client is not None:
            await self._zalo_client.aclose()
            self._zalo_client = None
        if self.zalo_server is not None:
            await self.zalo_server.close()
            self.zalo_server = None

    async def _stop_process(self) -> None:
        if self.app is None:
            return
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)
        if self.zalo_channel is not None:
            await self.zalo_channel.stop()
            self.zalo_channel = None
        self.app = None

    async def restart(self) -> None:
        """Stop the bot process and start a new one on the same database, as a deploy or crash would;
        the Telegram and Zalo "servers" stay."""
        await self._stop_process()
        await self.start(run_jobs=self.run_jobs)

    def person(self, persona: Persona) -> ChatUser:
        return ChatUser(self, persona)

    def zalo_person(self, display_name: str, *, zalo_id: str | None = None) -> ZaloChatUser:
        """Someone on Zalo (a fresh Zalo id unless ``zalo_id`` is given); needs ``Playground(zalo=True)``."""
        server = self.zalo_server
        assert server is not None, "make the playground with zalo=True and start it first"
        user = FakeUser(id=zalo_id, display_name=display_name) if zalo_id else server.user(display_name)
        return ZaloChatUser(self, user)

    async def deliver_zalo(self, event: Event) -> bool:
        """Turn a Zalo event into its update, as the channel's worker does, and deliver it; False when the
        channel ignores the event (an unknown event, a group, another bot)."""
        assert self.zalo_channel is not None, "make the playground with zalo=True and start it first"
        update = await self.zalo_channel.inbound.to_update(parse_update(event))
        if update is None:
            return False
        await self.deliver(update)
        return True

    async def deliver(self, update: Update) -> None:
        async with self._lock:
            await self.application.process_update(update)


class ChatUser:
    """A person chatting with the bot; each action returns the messages the bot answered with."""

    def __init__(self, playground: Playground, persona: Persona) -> None:
        self.playground = playground
        self.persona = persona

    @property
    def chat_id(self) -> int:
        return self.persona.user_id

    @property
    def _factory(self) -> UpdateFactory:
        assert self.playground.factory is not None, "start the playground first"
        return self.playground.factory

    @property
    def messages(self) -> list[SentMessage]:
        return self.playground.api.messages(self.chat_id)

    @property
    def last(self) -> SentMessage:
        return self.messages[-1]

    @property
    def toasts(self) -> list[str]:
        return self.playground.api.toasts[self.chat_id]

    async def _deliver(self, update: Update) -> list[SentMessage]:
        before = len(self.playground.api.chats[self.chat_id])
        await self.playground.deliver(update)
        return [m for m in self.playground.api.chats[self.chat_id][before:] if not m.deleted]

    async def send(self, text: str) -> list[SentMessage]:
        return await self._deliver(self._factory.text(self.persona, text))

    async def press(
        self, choice: str | int, message: SentMessage | None = None, *, inaccessible: bool = False
    ) -> list[SentMessage]:
        """Press a button of ``message`` (default: the latest message with buttons) by number or label;
        ``inaccessible``: the message is too old for Telegram to give it (PTB's ``InaccessibleMessage``)."""
        target = message or next((m for m in reversed(self.messages) if m.buttons), None)
        if target is None or not target.buttons:
            raise NoSuchButton(self.chat_id, str(choice), [])
        buttons = target.buttons
        options = [Option(str(index), str(button["text"])) for index, button in enumerate(buttons)]
        picked = _button(options, str(choice))
        if picked is None:
            raise NoSuchButton(self.chat_id, str(choice), [str(b["text"]) for b in buttons])
        data = str(buttons[int(picked.key)]["callback_data"])
        if inaccessible:
            target.editable = False
        return await self._deliver(self._factory.press(self.persona, target, data, inaccessible=inaccessible))

    async def press_data(
        self, data: str | None, message: SentMessage | None = None, *, inaccessible: bool = False
    ) -> list[SentMessage]:
        """Press a button carrying ``data`` (forged, or None: no data) on ``message`` (default: the latest)."""
        target = message or (self.messages[-1] if self.messages else SentMessage(self.chat_id, 1, "sendMessage"))
        if inaccessible:
            target.editable = False
        return await self._deliver(self._factory.press(self.persona, target, data, inaccessible=inaccessible))

    async def edit(self, text: str, message_id: int | None = None) -> list[SentMessage]:
        """Edit a message this person sent earlier so that it now reads ``text``."""
        return await self._deliver(self._factory.edited_text(self.persona, text, message_id))

    async def send_in_group(self, group_id: int, text: str) -> list[SentMessage]:
        """Write ``text`` in a group chat with the bot; returns what the bot wrote in that group."""
        before = len(self.playground.api.chats[group_id])
        await self.playground.deliver(self._factory.group_text(self.persona, group_id, text))
        return [m for m in self.playground.api.chats[group_id][before:] if not m.deleted]

    async def send_photo(self, data: bytes | Path, caption: str | None = None) -> list[SentMessage]:
        payload = data.read_bytes() if isinstance(data, Path) else data
        return await self._deliver(self._factory.photo(self.persona, payload, caption))

    async def send_document(self, data: bytes | Path, file_name: str | None = None) -> list[SentMessage]:
        if isinstance(data, Path):
            file_name = file_name or data.name
            data = data.read_bytes()
        return await self._deliver(self._factory.document(self.persona, data, file_name or "file.bin"))

    async def send_sticker(self) -> list[SentMessage]:
        return await self._deliver(self._factory.sticker(self.persona))


def shown(message: DeliveredMessage) -> str:
    """What a Zalo chat shows for a message: its text; a photo as ``[photo URL]`` then its caption."""
    if message.photo is None:
        return message.text or ""
    return "\n".join(part for part in (f"[photo {message.photo}]", message.caption) if part)


class ZaloChatUser:
    """A person on Zalo; each action returns the texts the Zalo app shows them after it (see :func:`shown`).

    Zalo has no buttons and no documents: answers are typed (``send("2")``), a file is what Zalo calls
    unsupported content (:meth:`send_unsupported`).
    """

    def __init__(self, playground: Playground, user: FakeUser) -> None:
        self.playground = playground
        self.user = user

    @property
    def zalo_id(self) -> str:
        return self.user.id

    @property
    def display_name(self) -> str:
        return self.user.display_name

    @property
    def _server(self) -> FakeZaloServer:
        assert self.playground.zalo_server is not None, "start the playground first"
        return self.playground.zalo_server

    async def address(self) -> int:
        """The PTB user and chat id the handlers know this person by (made on first contact)."""
        channel = self.playground.zalo_channel
        assert channel is not None, "start the playground first"
        return await channel.inbound.address_book.address_of(ZALO, self.user.id, self.user.display_name)

    @property
    def messages(self) -> list[DeliveredMessage]:
        """Everything the bot sent this person on Zalo, oldest first."""
        return self._server.received(self.user.id)

    @property
    def texts(self) -> list[str]:
        return [shown(message) for message in self.messages]

    @property
    def last(self) -> str:
        return self.texts[-1]

    async def _deliver(self, event: Event) -> list[str]:
        before = len(self.messages)
        await self.playground.deliver_zalo(event)
        return self.texts[before:]

    async def send(self, text: str) -> list[str]:
        return await self._deliver(self._server.text_event(self.user, text))

    async def send_photo(self, data: bytes | Path, caption: str | None = None) -> list[str]:
        """A photo (served by the fake server, as Zalo's CDN serves it, and downloaded by the channel)."""
        payload = data.read_bytes() if isinstance(data, Path) else data
        content_type = "image/png" if payload.startswith(b"\x89PNG") else "image/jpeg"
        return await self._deliver(
            self._server.image_event(self.user, caption, content=payload, content_type=content_type)
        )

    async def send_sticker(self) -> list[str]:
        return await self._deliver(self._server.sticker_event(self.user))

    async def send_unsupported(self) -> list[str]:
        """What Zalo sends for a file, a link, a video or a voice message: an event with no content."""
        return await self._deliver(self._server.unsupported_event(self.user))

    async def send_event(self, event_name: str, **fields: object) -> list[str]:
        """Any event (e.g. one Zalo has not documented) from this person."""
        return await self._deliver(self._server.custom_event(event_name, self.user, **fields))


def _button(options: list[Option], choice: str) -> Option | None:
    """The button a test means by its number, its label or the beginning of its label (a person pressing
    sees the button, so a test may name it in short; typed answers are never taken this way)."""
    match = match_option(options, choice)
    if isinstance(match, (Picked, DidYouMean)):
        return match.option
    if isinstance(match, Several):
        beginning = [option for option in match.options if search_key(option.label).startswith(search_key(choice))]
        return beginning[0] if len(beginning) == 1 else None
    return None
