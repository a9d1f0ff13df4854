"""The real Application against the in-process Bot API, with people who type, press and send files.

Used by the terminal playground (``make demo``) and by the flow tests: both drive exactly what runs on
Telegram, through ``Application.process_update``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from telegram import Update

from bot.app import DienhinhApplication, build_application
from bot.playground.transport import InProcessBotAPI, Persona, SentMessage, UpdateFactory
from bot.services import Services
from rules.choices import DidYouMean, Option, Picked, Several, match_option
from rules.refdata import search_key

ServicesFactory = Callable[[], Services]


class Playground:
    """One bot process (restartable) and the Telegram "servers" it talks to, which outlive it."""

    def __init__(self, make_services: ServicesFactory, api: InProcessBotAPI | None = None) -> None:
        self.make_services = make_services
        self.api = api or InProcessBotAPI()
        self.app: DienhinhApplication | None = None
        self.factory: UpdateFactory | None = None
        self.run_jobs = False
        self._lock = asyncio.Lock()

    @property
    def application(self) -> DienhinhApplication:
        assert self.app is not None, "call start() first"
        return self.app

    @property
    def services(self) -> Services:
        return self.application.services

    async def start(self, *, run_jobs: bool = False) -> None:
        """Initialise the bot; with ``run_jobs`` also start its JobQueue (outbox sender, reminders)."""
        self.run_jobs = run_jobs
        self.app = build_application(self.make_services(), request=self.api)
        await self.app.initialize()
        # run_polling/run_webhook call these hooks on Telegram; here the playground stands in for them.
        if self.app.post_init:
            await self.app.post_init(self.app)
        if run_jobs:
            await self.app.start()
        self.factory = UpdateFactory(self.api, self.app.bot)

    async def stop(self) -> None:
        if self.app is None:
            return
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()
        if self.app.post_shutdown:
            await self.app.post_shutdown(self.app)
        self.app = None

    async def restart(self) -> None:
        """Stop the bot process and start a new one on the same database, as a deploy or crash would."""
        await self.stop()
        await self.start(run_jobs=self.run_jobs)

    def person(self, persona: Persona) -> ChatUser:
        return ChatUser(self, persona)

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
            raise AssertionError(f"no buttons to press in chat {self.chat_id}")
        buttons = target.buttons
        options = [Option(str(index), str(button["text"])) for index, button in enumerate(buttons)]
        picked = _button(options, str(choice))
        if picked is None:
            raise AssertionError(f"no button {choice!r} among {[b['text'] for b in buttons]}")
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
