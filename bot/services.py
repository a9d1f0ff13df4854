"""What every handler may use, built once per process and handed out through the context."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.i18n import Translators
from bot.outbox import OutboxDispatcher
from bot.settings import Settings
from rules.accounts import AccountSnapshot
from rules.guesses import GuessThrottle
from rules.roles import Role
from storage.db import Database


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class AccountCache:
    """Accounts by address (the user id PTB sees: ``rules.identities``), so a returning person costs no
    database round-trip.

    One bot process serves one token (design §4.10), so the process that changes an account refreshes
    it here. Entries expire after ``max_age`` seconds anyway, which keeps "last seen" and the name
    current and picks up a change made by an operator from the command line.

    Only citizens are kept. Anyone with a role (focal point, reviewer, organiser) is read from the database
    on every update, so a role taken away by another organiser, another process or the command line takes
    effect at once for every check a handler makes; citizens are nearly all the traffic. (A citizen given a
    role elsewhere may wait up to ``max_age`` for the menu that goes with it: the use cases check the role
    themselves, so a stale entry can only refuse, never allow.)
    """

    max_age: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _by_address: dict[int, tuple[AccountSnapshot, float]] = field(default_factory=dict)

    def get(self, address: int) -> AccountSnapshot | None:
        entry = self._by_address.get(address)
        if entry is None or self.clock() - entry[1] > self.max_age:
            return None
        return entry[0]

    def remember(self, address: int, account: AccountSnapshot) -> AccountSnapshot:
        if account.role == Role.CITIZEN:
            self._by_address[address] = (account, self.clock())
        else:
            self._by_address.pop(address, None)
        return account

    def forget(self, address: int) -> None:
        self._by_address.pop(address, None)

    def forget_account(self, account_id: int) -> None:
        """Drop every entry of this account (it may be cached under each of its channels' addresses)."""
        for address in [a for a, (account, _) in self._by_address.items() if account.id == account_id]:
            del self._by_address[address]


@dataclass
class Services:
    settings: Settings
    database: Database
    translators: Translators
    clock: Callable[[], dt.datetime] = utc_now
    accounts: AccountCache = field(default_factory=AccountCache)
    # Misses at personal links and typed codes, per person (in memory: a restart resets them; rules.guesses).
    guesses: GuessThrottle = field(default_factory=GuessThrottle)
    # What personal invitation and check-in links are derived from (see rules.links).
    link_secret: bytes = b""
    # Set when the Application starts (it needs the Bot); tests drive it with run_once()/drain().
    outbox: OutboxDispatcher | None = None
    # Set by bot.app.build_application: who is who on each channel, and the files kept and shared by link.
    address_book: Any = None
    file_store: Any = None

    @classmethod
    def create(cls, settings: Settings, database: Database | None = None, **overrides: object) -> Services:
        return cls(
            settings=settings,
            database=database or Database(settings.database_url),
            translators=Translators(settings.default_locale, settings.tz),
            link_secret=settings.link_secret_bytes(),
            **overrides,  # type: ignore[arg-type]
        )
