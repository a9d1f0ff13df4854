"""Which ``dienhinh run`` is the active one: a hot standby waits for the lease and takes over when it is free.

Two processes of the same bot run against one database; only the one holding the lease serves (polling
or webhook, every job, the outbox). The other waits, holding nothing, with no caches, and starts from
scratch the moment the lease is free — when the active process dies, however it dies.

- **PostgreSQL**: a session-level advisory lock on a connection of its own (``pg_try_advisory_lock``, asked
  every ``poll`` seconds). The database releases it when that session ends: at once when the process is
  killed (its socket closes), within the TCP keepalive (about 10 s, set on the connection) when the whole
  machine is gone. Two machines can run the pair.
- **SQLite**: an exclusive ``flock`` on ``<database file>.active`` (one machine; the operating system
  releases it however the process ends). With ``:memory:`` there is nothing to share and no lease.

While active, the lease is checked every ``poll`` seconds; if it cannot be confirmed (the database went
away, the lock connection died) ``lost`` is set and the process must stop serving at once: the standby
may already have taken over. No home-made coordinator: the database (or the kernel) is the arbiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

# One bot per database: the key only has to differ from other applications' advisory locks.
LEASE_NAME = "dienhinh.active"
# Positive and below 2**56, so pg_locks (which splits it into two unsigned halves) reads it back as it is.
LEASE_KEY = int.from_bytes(hashlib.sha256(LEASE_NAME.encode()).digest()[:7], "big")
POLL_SECONDS = 1.0
# How long the database waits before it finds the lock holder's machine gone (idle + interval × count).
_KEEPALIVE = {"tcp_keepalives_idle": "4", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"}


class Lease(Protocol):
    """The right to be the active process; see the module's docstring."""

    lost: asyncio.Event

    async def acquire(self) -> None:
        """Return once this process holds the lease (at once when nobody else does)."""

    async def release(self) -> None:
        """Give the lease up (on a clean stop, so the standby takes over without waiting)."""


class _Watched:
    """What both leases share: waiting with a log line now and then, and the watch while active."""

    lost: asyncio.Event
    poll: float

    def __init__(self, poll: float) -> None:
        self.poll = poll
        self.lost = asyncio.Event()
        self._watch: asyncio.Task[None] | None = None

    async def _try(self) -> bool:
        raise NotImplementedError

    async def _still_held(self) -> bool:
        raise NotImplementedError

    async def acquire(self) -> None:
        waited = 0.0
        while not await self._try():
            if waited == 0.0:
                logger.info("standby: another process is active; waiting for the lease (%s)", self.where)
            waited += self.poll
            if waited % 60 < self.poll:
                logger.info("standby: still waiting for the lease (%.0f s)", waited)
            await asyncio.sleep(self.poll)
        if waited:
            logger.warning("standby: the lease is free after %.0f s; taking over", waited)
        logger.info("active: holding the lease (%s)", self.where)
        self._watch = asyncio.create_task(self._watching(), name="lease-watch")

    async def _watching(self) -> None:
        while True:
            await asyncio.sleep(self.poll)
            try:
                held = await asyncio.wait_for(self._still_held(), timeout=max(self.poll * 5, 5.0))
            except Exception as error:
                logger.error("active: the lease could not be confirmed (%s); stopping", type(error).__name__)
                held = False
            if not held:
                self.lost.set()
                return

    async def _stop_watching(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None

    @property
    def where(self) -> str:
        raise NotImplementedError


class PostgresLease(_Watched):
    """The advisory lock ``LEASE_KEY`` on a connection of its own (never from the bot's pool)."""

    def __init__(self, database_url: str, *, poll: float = POLL_SECONDS, key: int = LEASE_KEY) -> None:
        super().__init__(poll)
        self.key = key
        self._engine: AsyncEngine = create_async_engine(
            database_url, poolclass=NullPool, connect_args={"server_settings": dict(_KEEPALIVE)}
        )
        self._connection: AsyncConnection | None = None

    @property
    def where(self) -> str:
        return f"PostgreSQL advisory lock {self.key}"

    async def _try(self) -> bool:
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
            got = await self._connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            await self._connection.commit()  # the lock is the session's; no transaction stays open
            return bool(got)
        except Exception as error:
            logger.warning("standby: cannot ask the database for the lease (%s)", type(error).__name__)
            await self._drop_connection()
            return False

    async def _still_held(self) -> bool:
        assert self._connection is not None
        held = await self._connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND ((classid::bigint << 32) | objid::bigint) = :key"
            ),
            {"key": self.key},
        )
        await self._connection.commit()
        return bool(held)

    async def _drop_connection(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None

    async def release(self) -> None:
        await self._stop_watching()
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
                await self._connection.commit()
        await self._drop_connection()
        await self._engine.dispose()


class FileLease(_Watched):
    """An exclusive ``flock`` on a file beside the SQLite database."""

    def __init__(self, path: Path, *, poll: float = POLL_SECONDS) -> None:
        super().__init__(poll)
        self.path = path
        self._handle: IO[bytes] | None = None

    @property
    def where(self) -> str:
        return f"lock file {self.path}"

    async def _try(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._handle = handle
        return True

    async def _still_held(self) -> bool:
        # The kernel keeps the lock for as long as this process has the file open.
        return self._handle is not None and not self._handle.closed

    async def release(self) -> None:
        await self._stop_watching()
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


class NoLease(_Watched):
    """An in-memory SQLite database: nothing another process could share."""

    def __init__(self) -> None:
        super().__init__(POLL_SECONDS)

    @property
    def where(self) -> str:
        return "in-memory database, no standby possible"

    async def acquire(self) -> None:
        logger.info("active: %s", self.where)

    async def release(self) -> None:
        return None


def lease_for(database_url: str, **options: Any) -> Lease:
    """The lease that fits the database: an advisory lock on PostgreSQL, a lock file beside SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        return PostgresLease(database_url, **options)
    if not url.database or url.database == ":memory:":
        return NoLease()
    return FileLease(Path(url.database + ".active"), **options)


__all__ = ["LEASE_KEY", "FileLease", "Lease", "NoLease", "PostgresLease", "lease_for"]
