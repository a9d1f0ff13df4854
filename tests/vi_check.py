"""Every test that runs a playground checks that what its Vietnamese readers were shown holds no English word.

:func:`install` (an autouse fixture of ``tests/conftest.py`` calls it) makes every :class:`Playground` watch
itself from ``start()`` to ``stop()`` with a :class:`ViewerCheck`: what people sent (they may read their own
words back) and, in order, everything the bot showed — Telegram texts, captions, edits, buttons, toasts and
command menus (from the in-process Bot API's calls), and every Zalo message. ``stop()`` reads each chat's
language from the database and fails on the first English words a chat in `vi` was shown (see
``tests/english.py``), naming the word, the text, the chat and what was last sent before it.

A chat in English, or one where the person's language changed during the run (``/lang``, or an account in
English erased and met again in Vietnamese), is left out whole.
:data:`TALLY` counts the playgrounds and texts checked; the session fails when playgrounds ran and no text
was checked (``tests/conftest.py``), so the check cannot go quiet unnoticed.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update

from bot.channels.zalo import CHANNEL as ZALO
from bot.channels.zalo.fake_server import DeliveredMessage
from bot.playground.harness import Playground
from storage.models import Account, ChannelIdentity
from tests.english import Leak, leaks, typed_words

# Bot API calls that put text before a person, and the parameters holding it.
_SHOWN = {
    "sendMessage": ("text",),
    "editMessageText": ("text",),
    "sendPhoto": ("caption",),
    "sendDocument": ("caption",),
    "editMessageCaption": ("caption",),
    "answerCallbackQuery": ("text",),
}


@dataclass
class _Input:
    """What a person sent: after which Bot API call and Zalo message it came, from whom, and its text."""

    calls_before: int
    chat: int
    text: str


@dataclass
class ViewerCheck:
    playground: Playground
    inputs: list[_Input] = field(default_factory=list)
    words: set[str] = field(default_factory=set)
    zalo: list[tuple[str, DeliveredMessage, str]] = field(default_factory=list)
    # Each chat's language when the first update came (what the test set up by then), to find the chats
    # whose language changed.
    at_first_update: dict[tuple[str, str, int], str] | None = None

    @classmethod
    def watch(cls, playground: Playground) -> ViewerCheck:
        """Start watching a started playground (what it shows from now on)."""
        check = cls(playground)
        deliver = playground.deliver

        async def recorded(update: Update) -> None:
            if check.at_first_update is None:
                check.at_first_update = await check._stored_languages()
            check._record(update)
            await deliver(update)

        playground.deliver = recorded  # type: ignore[method-assign]
        if playground.zalo_server is not None:
            playground.zalo_server.listeners.append(
                lambda chat, message: check.zalo.append((chat, message, check._last_text()))
            )
        return check

    def _record(self, update: Update) -> None:
        message = update.effective_message
        user = update.effective_user
        text = (message.text or message.caption or "") if message else ""
        if update.callback_query and update.callback_query.data:
            text = text or f"[button {update.callback_query.data}]"
        document = message.document.file_name if message and message.document else None
        self.words |= typed_words(text, document, *((user.first_name, user.last_name, user.username) if user else ()))
        chat = update.effective_chat.id if update.effective_chat else 0
        self.inputs.append(_Input(len(self.playground.api.calls), chat, text))

    def _last_text(self) -> str:
        return self.inputs[-1].text if self.inputs else ""

    async def _stored_languages(self) -> dict[tuple[str, str, int], str]:
        """Each chat's language in the database now, by (channel, external id, address)."""
        async with self.playground.services.database.transaction() as db:
            rows = await db.execute(
                select(ChannelIdentity.channel, ChannelIdentity.external_id, ChannelIdentity.address, Account.locale)
                .join(Account)
                .where(ChannelIdentity.address.is_not(None))
            )
            return {(channel, external_id, address): locale or "vi" for channel, external_id, address, locale in rows}

    async def _languages(self) -> tuple[dict[int, str], dict[str, str]]:
        """Each chat's language at the end — Telegram chats by id, Zalo chats by Zalo id — or "switched" when
        it changed during the run: a ``/lang``, or a language at the first update that the chat no longer
        has (an account in English erased, and met again in Vietnamese)."""
        now = await self._stored_languages()
        switched = {i.chat for i in self.inputs if i.text.lower().startswith("/lang")}
        changed = {key for key, language in (self.at_first_update or {}).items() if now.get(key) != language}
        telegram: dict[int, str] = {}
        zalo: dict[str, str] = {}
        for key in {*now, *changed}:
            channel, external_id, address = key
            language = "switched" if address in switched or key in changed else now[key]
            telegram[address] = language
            if channel == ZALO:
                zalo[external_id] = language
        return telegram, zalo

    def _telegram_texts(self, languages: dict[int, str]) -> list[tuple[str, str]]:
        texts: list[tuple[str, str]] = []
        inputs = iter(self.inputs)
        last: _Input | None = None
        pending = next(inputs, None)
        for index, (method, params) in enumerate(self.playground.api.calls):
            while pending is not None and pending.calls_before <= index:
                last, pending = pending, next(inputs, None)
            after = f" after {last.text!r} from chat {last.chat}" if last else ""
            for text, chat in _shown(method, params):
                if languages.get(chat, "vi") == "vi":
                    texts.append((text, f"Telegram {method} to chat {chat}{after}"))
        return texts

    def _zalo_texts(self, languages: dict[str, str]) -> list[tuple[str, str]]:
        # The text or the caption: a photo's link is the file store's, not words.
        return [
            (message.text or message.caption or "", f"Zalo message to {chat} after {after!r}")
            for chat, message, after in self.zalo
            if languages.get(chat, "vi") == "vi"
        ]

    async def problems(self) -> list[Leak]:
        """The English words shown in Vietnamese chats so far (the playground must still be running)."""
        telegram, zalo = await self._languages()
        texts = self._telegram_texts(telegram) + self._zalo_texts(zalo)
        TALLY["playgrounds"] += 1
        TALLY["texts"] += len(texts)
        return leaks(texts, also_allowed=frozenset(self.words))


TALLY: Counter[str] = Counter()


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every Playground check, when it stops, that its Vietnamese readers were shown no English."""
    original_start, original_stop = Playground.start, Playground.stop
    checks: dict[int, ViewerCheck] = {}

    async def start(self: Playground, *, run_jobs: bool = False) -> None:
        await original_start(self, run_jobs=run_jobs)
        if id(self) not in checks:  # a restart goes on with the same check
            checks[id(self)] = ViewerCheck.watch(self)

    async def stop(self: Playground) -> None:
        check = checks.pop(id(self), None)
        found = await check.problems() if check is not None and self.app is not None else []
        await original_stop(self)
        assert not found, "English shown in Vietnamese chats:\n" + "\n".join(map(str, found))

    monkeypatch.setattr(Playground, "start", start)
    monkeypatch.setattr(Playground, "stop", stop)


def _shown(method: str, params: dict[str, Any]) -> list[tuple[str, int]]:
    """(text, chat) for each text a Bot API call shows: its text or caption and its buttons' labels."""
    if method == "setMyCommands":
        if params.get("language_code") not in (None, "", "vi"):
            return []
        commands, scope = (_json(params.get(name)) for name in ("commands", "scope"))
        chat = int(scope.get("chat_id", 0)) if isinstance(scope, dict) else 0  # a menu of one chat, or all
        return [(str(command.get("description", "")), chat) for command in commands or []]
    if method not in _SHOWN:
        return []
    if method == "answerCallbackQuery":
        chat = int(str(params.get("callback_query_id", "0")).split(":")[0] or 0)
    else:
        chat = int(params.get("chat_id") or 0)
    found = [(str(params[name]), chat) for name in _SHOWN[method] if params.get(name)]
    markup = _json(params.get("reply_markup"))
    if isinstance(markup, dict):
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        labels = [button.get("text", "") if isinstance(button, dict) else str(button) for row in rows for button in row]
        if labels:
            found.append((" | ".join(map(str, labels)), chat))
    return found


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value
