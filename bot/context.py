"""The context every handler receives: the user's account and translator, a transaction, the clock."""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import CallbackContext, ExtBot

from bot.i18n import Translator
from rules import identities
from rules.accounts import AccountSnapshot

if TYPE_CHECKING:
    from bot.app import DienhinhApplication
    from bot.services import Services
    from handlers.presses import Press


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """``context.t`` translates for the person who sent the update; ``context.transaction()`` is the one
    unit of work a handler runs; ``context.account`` says who is asking (set before any feature runs)."""

    def __init__(self, application: Any, chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.account: AccountSnapshot | None = None
        # The button press this update carries, while a handler deals with it (handlers.presses).
        self.press: Press | None = None
        self._translator: Translator | None = None

    @property
    def services(self) -> Services:
        app: DienhinhApplication = self.application  # type: ignore[assignment]
        return app.services

    @property
    def t(self) -> Translator:
        if self._translator is None:
            locale = self.account.locale if self.account else None
            self._translator = self.services.translators.get(locale, buttons=self.channel == identities.TELEGRAM)
        return self._translator

    def use_account(self, account: AccountSnapshot, *, address: int | None = None) -> None:
        """Adopt ``account`` (after it changed, e.g. a new language) for the rest of this update; the cache
        keeps it under the address it came in through (default: this update's user)."""
        address = address if address is not None else self._user_id
        self.account = self.services.accounts.remember(address, account) if address is not None else account
        self._translator = None

    @property
    def channel(self) -> str:
        """The channel this update came in on ("telegram", "zalo"): what the person can be sent (files, links,
        buttons) depends on it. An address from ADDRESS_BASE up is another channel's (``rules.identities``)."""
        if self._user_id is not None and identities.is_channel_address(self._user_id):
            return identities.ZALO
        return identities.TELEGRAM

    def transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self.services.database.transaction()

    def now(self) -> dt.datetime:
        return self.services.clock()
