"""In-memory address book and file store: for tests and the offline playground, gone when the process ends.

Production keeps both in the database (the ``channel_identity`` table, the ``stored_file`` table).
"""

from __future__ import annotations

import datetime as dt
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from bot.channels.base import STORED_FILE_PREFIX, StoredFile
from rules.identities import ADDRESS_BASE

DEFAULT_LINK_LIFETIME = dt.timedelta(hours=72)


class InMemoryAddressBook:
    """Addresses handed out in order of first contact: ``ADDRESS_BASE + 1``, ``+ 2``, …

    ``locales`` may be set by a test; :meth:`locale_of` reads it.
    """

    def __init__(self) -> None:
        self._addresses: dict[tuple[str, str], int] = {}
        self._identities: dict[int, tuple[str, str]] = {}
        self.display_names: dict[int, str] = {}
        self.locales: dict[int, str] = {}

    async def address_of(self, channel: str, external_id: str, display_name: str) -> int:
        key = (channel, external_id)
        address = self._addresses.get(key)
        if address is None:
            address = ADDRESS_BASE + len(self._addresses) + 1
            self._addresses[key] = address
            self._identities[address] = key
        self.display_names[address] = display_name
        return address

    async def identity_of(self, address: int) -> tuple[str, str] | None:
        return self._identities.get(address)

    async def locale_of(self, address: int) -> str | None:
        return self.locales.get(address)


@dataclass(frozen=True)
class SharedFile:
    """A file shared by link: what it is, for whom, until when."""

    file: StoredFile
    owner: int
    expires_at: dt.datetime


class InMemoryFileStore:
    """Kept files under ``zf_`` ids; shared files under ``<public_base_url>/files/<token>/<name>`` when a base
    URL is given (``share`` answers None without one, as the database store does without PUBLIC_BASE_URL)."""

    def __init__(
        self,
        public_base_url: str | None = None,
        *,
        lifetime: dt.timedelta = DEFAULT_LINK_LIFETIME,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.lifetime = lifetime
        self.clock = clock
        self.kept: dict[str, tuple[StoredFile, int | None]] = {}
        self.shared: dict[str, SharedFile] = {}

    async def keep(self, data: bytes, *, filename: str, content_type: str, owner: int | None) -> str:
        file_id = STORED_FILE_PREFIX + secrets.token_urlsafe(16)
        self.kept[file_id] = (StoredFile(data=data, filename=filename, content_type=content_type), owner)
        return file_id

    async def load(self, file_id: str) -> StoredFile | None:
        entry = self.kept.get(file_id)
        return entry[0] if entry else None

    async def share(self, data: bytes, *, filename: str, content_type: str, owner: int) -> str | None:
        if self.public_base_url is None:
            return None
        token = secrets.token_urlsafe(24)
        file = StoredFile(data=data, filename=filename, content_type=content_type)
        self.shared[token] = SharedFile(file=file, owner=owner, expires_at=self.clock() + self.lifetime)
        return f"{self.public_base_url}/files/{token}/{urllib.parse.quote(filename)}"

    def opened(self, url: str) -> SharedFile | None:
        """The shared file a URL of :meth:`share` leads to, while it has not expired."""
        prefix = f"{self.public_base_url}/files/"
        if self.public_base_url is None or not url.startswith(prefix):
            return None
        token = url.removeprefix(prefix).split("/", 1)[0]
        shared = self.shared.get(token)
        if shared is None or shared.expires_at <= self.clock():
            return None
        return shared
