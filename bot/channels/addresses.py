"""The address book of every channel, kept in the database (``channel_identity``; see ``rules.identities``).

A channel adapter asks it for the address of the person who just wrote (creating their account on first
contact) and, for each call the handlers address to a channel address, whom that address is. An address
never changes its person, so that answer is kept in memory for good; the first answer (who wrote) is kept
for a while, so a person writing ten messages in a row costs one database round-trip, not ten.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from bot.services import AccountCache
from rules import accounts
from storage import identities as identity_store
from storage.db import Database

SEEN_FOR_SECONDS = 600.0  # like AccountCache: "last seen" is kept to about ten minutes


class DatabaseAddressBook:
    """``bot.channels.base.AddressBook`` over the database."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], dt.datetime],
        account_cache: AccountCache | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.database = database
        self.clock = clock
        self.account_cache = account_cache
        self._monotonic = monotonic
        self._seen: dict[tuple[str, str], tuple[int, float]] = {}
        self._identities: dict[int, tuple[str, str]] = {}

    async def address_of(self, channel: str, external_id: str, display_name: str) -> int:
        key = (channel, external_id)
        seen = self._seen.get(key)
        now = self._monotonic()
        if seen is not None and now - seen[1] < SEEN_FOR_SECONDS:
            return seen[0]
        async with self.database.transaction() as session:
            contact = await accounts.ensure_account(
                session, channel=channel, external_id=external_id, display_name=display_name, now=self.clock()
            )
        self._seen[key] = (contact.address, now)
        self._identities[contact.address] = key
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if now - v[1] < SEEN_FOR_SECONDS}
        return contact.address

    def forget(self, address: int) -> None:
        """The identity at ``address`` was erased (``/erase``): its person, writing again, is someone new."""
        self._identities.pop(address, None)
        self._seen = {key: seen for key, seen in self._seen.items() if seen[0] != address}

    async def identity_of(self, address: int) -> tuple[str, str] | None:
        known = self._identities.get(address)
        if known is not None:
            return known
        async with self.database.transaction() as session:
            identity = await identity_store.at_address(session, address)
        if identity is None:
            return None
        self._identities[address] = (identity.channel, identity.external_id)
        return self._identities[address]

    async def account_id_of(self, address: int) -> int | None:
        """The account behind an address (whose file a shared link is, say)."""
        cached = self.account_cache.get(address) if self.account_cache else None
        if cached is not None:
            return cached.id
        async with self.database.transaction() as session:
            account = await accounts.at_address(session, address)
        return account.id if account else None

    async def locale_of(self, address: int) -> str | None:
        cached = self.account_cache.get(address) if self.account_cache else None
        if cached is not None:
            return cached.locale
        async with self.database.transaction() as session:
            account = await accounts.at_address(session, address)
        return account.locale if account else None


__all__ = ["DatabaseAddressBook"]
