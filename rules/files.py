"""Files the bot keeps itself: evidence photos from Zalo, and files it makes shared by expiring links.

Zalo can neither hold a file for the bot (there is no ``file_id``) nor receive one except as a URL
(``zalo-bot-api.md`` §2–3). So:

- **evidence**: a photo a person sends is downloaded at once (Zalo's CDN links expire) and kept here;
  :meth:`DatabaseFileStore.keep` returns a file id ``zf_<token>`` that stands where a Telegram ``file_id``
  would, and :meth:`~DatabaseFileStore.load` gives the bytes back. The id carries a random token, not the
  row number, so no id can be made up that reaches someone else's photo.
- **share**: a QR code, a chart, an .ics or a workbook made for one account is kept until it expires
  (``FILE_LINK_TTL_HOURS``, 72 by default) and served by the web server at
  ``PUBLIC_BASE_URL/files/<token>/<name>``. The link is the only key: it is sent only to the account it was
  made for, carries 144 random bits, and only its SHA-256 is stored, so a leaked database leaks no links.
  Expired shares are deleted by :func:`purge_expired`, which the scheduler runs.

Personal data law: nothing shared outlives its expiry, and every file belongs to an account and is deleted
with it. Evidence has no expiry yet; a retention period (issue 12) is an ``expires_at`` set on it, and the
same :func:`purge_expired` then removes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from rules import audit
from rules.i18n import N_
from rules.text import nfc
from rules.tokens import TOKEN_BYTES, new_token, token_hash
from storage import files as stored_files
from storage.db import Database

logger = logging.getLogger(__name__)

EVIDENCE = "evidence"
SHARE = "share"
MAX_FILE_BYTES = 20 * 1024 * 1024
DEFAULT_LINK_TTL = dt.timedelta(hours=72)
FILE_ID_PREFIX = "zf_"
SHARE_PATH = "/files/"
MAX_FILENAME_CHARS = 200
# The name in a link is only for the eye (the real name travels in Content-Disposition): short and ASCII,
# because the link goes into a Zalo text of at most 2,000 characters and a Vietnamese name percent-encoded
# takes up to nine characters a letter.
MAX_LINK_NAME_CHARS = 60
FALLBACK_FILENAME = "file"
OCTET_STREAM = "application/octet-stream"

# URL-safe base64 of TOKEN_BYTES bytes, without padding.
_TOKEN_CHARS = -(-TOKEN_BYTES * 4 // 3)
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{_TOKEN_CHARS}}}")
# Looked up in place of a malformed token, so every miss costs the same query (stored tokens are never empty).
_NEVER_STORED_HASH = token_hash("")
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")
_NOT_IN_LINK_NAME = re.compile(r"[^A-Za-z0-9.]+")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,47}/[a-z0-9][a-z0-9!#$&^_.+-]{0,47}")
_CHARSET = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class StoredFile:
    """A kept file given back: its bytes, its name and its content type."""

    data: bytes
    filename: str
    content_type: str


@dataclass(frozen=True)
class SharedFile:
    """A shared file as the web server serves it; ``data`` is None when only the headers were asked for."""

    filename: str
    content_type: str
    size: int
    expires_at: dt.datetime
    data: bytes | None


class FileStore(Protocol):
    """What a channel that cannot hold files (Zalo) needs from the bot's own file store."""

    async def keep(self, data: bytes, *, filename: str, content_type: str, owner: int | None) -> str: ...

    async def load(self, file_id: str) -> StoredFile | None: ...

    async def share(self, data: bytes, *, filename: str, content_type: str, owner: int) -> str | None: ...


REJECTION_MESSAGES = {
    "empty": N_("The file is empty."),
    "too_large": N_("The file is larger than {limit_mb} MB."),
}


class FileRejected(ValueError):
    """A file the store will not keep; ``msgid`` and ``values`` say why, for the caller to translate."""

    def __init__(self, code: str, **values: Any) -> None:
        super().__init__(code)
        self.code = code
        self.values = values

    @property
    def msgid(self) -> str:
        return REJECTION_MESSAGES[self.code]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def safe_filename(name: str) -> str:
    """``name`` fit to store and to send back: NFC, no path separators or control characters, trimmed,
    at most :data:`MAX_FILENAME_CHARS` characters with the extension kept."""
    cleaned = _UNSAFE_IN_NAME.sub("_", nfc(name)).strip().strip(".").strip()
    if not cleaned:
        return FALLBACK_FILENAME
    return _shorten(cleaned, MAX_FILENAME_CHARS)


def ascii_name(name: str) -> str:
    """An ASCII form of a file name, for a link and for the ``filename=`` fallback of old browsers:
    ``Giấy mời – Đặng Thị Hòa.ics`` → ``Giay-moi-Dang-Thi-Hoa.ics``."""
    decomposed = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    slug = _NOT_IN_LINK_NAME.sub("-", stripped.encode("ascii", "ignore").decode()).strip("-.")
    return slug or FALLBACK_FILENAME


def link_name(filename: str) -> str:
    """The name at the end of a share link: ASCII, short, the extension kept."""
    return _shorten(ascii_name(filename), MAX_LINK_NAME_CHARS)


def safe_content_type(value: str) -> str:
    """A content type fit to serve: ``type/subtype`` in lower case with at most a charset; anything else
    (a CDN's odd header, an empty one) is served as ``application/octet-stream``."""
    media, _, parameters = value.partition(";")
    media = media.strip().lower()
    if not _MEDIA_TYPE.fullmatch(media):
        return OCTET_STREAM
    for parameter in parameters.split(";"):
        key, _, charset = parameter.partition("=")
        charset = charset.strip().strip('"')
        if key.strip().lower() == "charset" and _CHARSET.fullmatch(charset):
            return f"{media}; charset={charset.lower()}"
    return media


def share_path(token: str, filename: str) -> str:
    """The path of a share link: ``/files/<token>/<ascii name>``."""
    return f"{SHARE_PATH}{token}/{link_name(filename)}"


def _shorten(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and 0 < len(extension) <= 10:
        return stem[: limit - len(extension) - 1].rstrip() + "." + extension
    return name[:limit].rstrip()


def _check_size(data: bytes, limit: int) -> None:
    if not data:
        raise FileRejected("empty")
    if len(data) > limit:
        raise FileRejected("too_large", limit_mb=limit // (1024 * 1024))


async def purge_expired(session: AsyncSession, now: dt.datetime) -> int:
    """Delete every kept file whose expiry has passed (every share past its link's end); returns how many.

    For the scheduler: it owns the transaction. Run it often enough (every few minutes) that nothing is
    kept much past its expiry; the web server refuses an expired link on its own either way.
    """
    deleted = await stored_files.delete_expired(session, now)
    if deleted:
        logger.info("files: %d expired file(s) deleted", deleted)
        # Reported with the retention purge's (rules.retention.Kind.EXPORT: files made for one person).
        audit.record_purge(session, counts={"export": deleted}, now=now)
    return deleted


class DatabaseFileStore:
    """The :class:`FileStore` on the bot's database; the web server reads shares through :meth:`open_share`.

    ``owner`` in :meth:`keep` and :meth:`share` is the person's id on the bot's side; ``owner_account`` maps
    it to their account id (None: no such account). ``public_base_url`` is ``PUBLIC_BASE_URL`` (empty: no
    links, :meth:`share` returns None and the caller sends the text alternative).
    """

    def __init__(
        self,
        database: Database,
        *,
        owner_account: Callable[[int], Awaitable[int | None]],
        public_base_url: str = "",
        link_ttl: dt.timedelta = DEFAULT_LINK_TTL,
        max_bytes: int = MAX_FILE_BYTES,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        if link_ttl <= dt.timedelta(0) or max_bytes < 1:
            raise ValueError("the link lifetime and the size limit must be positive")
        self.database = database
        self.public_base_url = public_base_url.rstrip("/")
        self.link_ttl = link_ttl
        self.max_bytes = max_bytes
        self.clock = clock
        self._owner_account = owner_account

    async def keep(self, data: bytes, *, filename: str, content_type: str, owner: int | None) -> str:
        """Keep evidence bytes; returns the file id (``zf_<token>``). Raises :class:`FileRejected`."""
        _check_size(data, self.max_bytes)
        account_id = await self._owner_account(owner) if owner is not None else None
        token = new_token()
        async with self.database.transaction() as session:
            file_id = await self._insert(session, EVIDENCE, data, filename, content_type, account_id, token, None)
        logger.debug("files: evidence %d kept (%d bytes)", file_id, len(data))
        return FILE_ID_PREFIX + token

    async def load(self, file_id: str) -> StoredFile | None:
        """The evidence kept under ``file_id``; None for an id that is unknown, deleted or malformed."""
        token = file_id.removeprefix(FILE_ID_PREFIX) if file_id.startswith(FILE_ID_PREFIX) else ""
        async with self.database.transaction() as session:
            row = await stored_files.file_by_token_hash(session, _lookup_hash(token), purpose=EVIDENCE)
        if row is None or row.data is None or _has_expired(row.expires_at, self.clock()):
            return None
        return StoredFile(data=row.data, filename=row.filename, content_type=row.content_type)

    async def share(self, data: bytes, *, filename: str, content_type: str, owner: int) -> str | None:
        """A link to ``data`` for ``owner`` alone, valid for ``link_ttl``; None without ``PUBLIC_BASE_URL``
        (or when ``owner`` has no account). Raises :class:`FileRejected`."""
        if not self.public_base_url:
            return None
        _check_size(data, self.max_bytes)
        account_id = await self._owner_account(owner)
        if account_id is None:
            logger.warning("files: no account for the person a file was made for; no link made")
            return None
        token = new_token()
        expires_at = self.clock() + self.link_ttl
        async with self.database.transaction() as session:
            file_id = await self._insert(session, SHARE, data, filename, content_type, account_id, token, expires_at)
        logger.debug("files: share %d made for account %d until %s", file_id, account_id, expires_at.isoformat())
        return self.public_base_url + share_path(token, safe_filename(filename))

    async def open_share(self, token: str, *, with_data: bool = True) -> SharedFile | None:
        """The shared file behind a link's token while the link is valid; None for a token that is unknown,
        expired or malformed (one query in every case, so the three cannot be told apart by timing)."""
        async with self.database.transaction() as session:
            row = await stored_files.file_by_token_hash(
                session, _lookup_hash(token), purpose=SHARE, with_data=with_data
            )
        # A share without an expiry cannot be made; should one exist, it is refused rather than kept open.
        if row is None or row.expires_at is None or _has_expired(row.expires_at, self.clock()):
            return None
        return SharedFile(
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            expires_at=row.expires_at,
            data=row.data,
        )

    async def purge(self) -> int:
        """:func:`purge_expired` in a transaction of its own, at the store's clock; then the bytes are gone
        from the database's files too (:meth:`Database.empty_log`)."""
        async with self.database.transaction() as session:
            deleted = await purge_expired(session, self.clock())
        if deleted:
            await self.database.empty_log()
        return deleted

    async def _insert(
        self,
        session: AsyncSession,
        purpose: str,
        data: bytes,
        filename: str,
        content_type: str,
        account_id: int | None,
        token: str,
        expires_at: dt.datetime | None,
    ) -> int:
        return await stored_files.insert_file(
            session,
            purpose=purpose,
            owner_account_id=account_id,
            filename=safe_filename(filename),
            content_type=safe_content_type(content_type),
            data=data,
            sha256=hashlib.sha256(data).hexdigest(),
            token_hash=token_hash(token),
            created_at=self.clock(),
            expires_at=expires_at,
        )


def kept_hash(file_id: str) -> str | None:
    """The stored hash of the bytes kept under an evidence ``file_id`` (``zf_<token>``); None for a
    Telegram file id, whose bytes stay on Telegram."""
    if not file_id.startswith(FILE_ID_PREFIX):
        return None
    return _lookup_hash(file_id.removeprefix(FILE_ID_PREFIX))


def _lookup_hash(token: str) -> str:
    return token_hash(token) if _TOKEN.fullmatch(token) else _NEVER_STORED_HASH


def _has_expired(expires_at: dt.datetime | None, now: dt.datetime) -> bool:
    return expires_at is not None and expires_at <= now
