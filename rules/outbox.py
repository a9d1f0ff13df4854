"""What the bot sends on its own goes through here: reminders, decisions, digests, waitlist promotions.

A feature adds a row in its own transaction, next to the change that makes the message necessary, so the
message exists exactly when the change is committed. ``bot.outbox.OutboxDispatcher`` sends the rows later,
within each channel's limits. The dedupe key makes adding idempotent: a retried handler or a reminder job
that runs twice adds one row. The topic groups rows that stop being relevant together (``cancel``).

Payload (JSON, Bot API names): ``text`` (the caption for a file), and from ``extra``: ``parse_mode``,
``disable_web_page_preview``, ``disable_notification``, ``protect_content``; for ``sendDocument`` and
``sendPhoto`` either ``file_id`` (a file Telegram already has) or ``file_b64`` + ``filename`` (see
:func:`file_payload`).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox as store
from storage.models import utcnow

SEND_MESSAGE = "sendMessage"
SEND_DOCUMENT = "sendDocument"
SEND_PHOTO = "sendPhoto"
METHODS = (SEND_MESSAGE, SEND_DOCUMENT, SEND_PHOTO)

MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_DEDUPE_KEY_CHARS = 191
MAX_TOPIC_CHARS = 128
EXTRA_KEYS = frozenset(
    {
        "parse_mode",
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "file_id",
        "file_b64",
        "filename",
    }
)


def file_payload(data: bytes, filename: str) -> dict[str, str]:
    """``extra`` for sending these bytes as a new file (keep them small: they live in the row)."""
    return {"file_b64": base64.b64encode(data).decode("ascii"), "filename": filename}


async def enqueue(
    session: AsyncSession,
    *,
    account_id: int | None = None,
    text: str,
    dedupe_key: str,
    due_at: dt.datetime | None = None,
    topic: str | None = None,
    reply_markup: dict[str, Any] | None = None,
    method: str = SEND_MESSAGE,
    extra: dict[str, Any] | None = None,
    group_chat_id: int | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Add a message for ``account_id`` to send at ``due_at`` (default: now); False when ``dedupe_key`` was
    already used, or when the account has no channel to be reached on.

    The message goes out on the channel the person used last, to the identity they used there; each
    channel's sender renders it (Zalo: a numbered menu for buttons, a link for a file). ``group_chat_id``
    instead of an account: a Telegram group or channel (the published stories), kept to the group limit.

    ``reply_markup`` is a Bot API dict (``{"inline_keyboard": [[{"text": …, "callback_data": …}]]}``).
    The caller owns the transaction.
    Raises ``ValueError`` for a message Telegram would refuse (too long, no file, unknown method).
    """
    now = now or utcnow()
    due_at = due_at or now
    payload = _payload(method, text, reply_markup, extra or {})
    _check_key(dedupe_key, topic, due_at)
    if (account_id is None) == (group_chat_id is None):
        raise ValueError("an outbox message is for one account or one group chat")
    return await store.insert(
        session,
        dedupe_key=dedupe_key,
        account_id=account_id,
        chat_id=group_chat_id,
        is_group=group_chat_id is not None,
        method=method,
        payload=payload,
        topic=topic,
        due_at=due_at,
        now=now,
    )


async def cancel(session: AsyncSession, *, topic: str) -> int:
    """Cancel every message of ``topic`` not yet sent (the delegate answered, the nomination was withdrawn).

    Returns how many were cancelled. A message whose request is already on its way may still arrive.
    """
    return await store.cancel_topics(session, [topic])


async def cancel_topics(session: AsyncSession, topics: Collection[str]) -> int:
    """:func:`cancel` for several topics at once, in one statement."""
    return await store.cancel_topics(session, topics)


async def cancel_topics_at_commit(session: AsyncSession, topics: Collection[str]) -> None:
    """:func:`cancel_topics` when the caller needs no count: on SQLite the statement goes with the
    transaction's next statement or its commit instead of a trip of its own."""
    await store.cancel_topics_at_commit(session, topics)


async def cancel_keys(session: AsyncSession, keys: Collection[str]) -> int:
    """Cancel the messages with these dedupe keys not yet sent (a schedule that no longer wants them)."""
    return await store.cancel_keys(session, keys)


async def taken_keys(session: AsyncSession, keys: Collection[str]) -> set[str]:
    """Which of these dedupe keys were used already, so a caller can skip building those messages."""
    return await store.taken_keys(session, keys)


async def pending_keys(session: AsyncSession, *, prefixes: Collection[str]) -> set[str]:
    """Dedupe keys of the messages still waiting whose key starts with one of ``prefixes``."""
    return await store.pending_keys(session, prefixes=prefixes)


async def latest_due(session: AsyncSession, *, topic: str, before: dt.datetime) -> dt.datetime | None:
    """When the latest message of ``topic`` before ``before`` was due (cancelled ones not counted)."""
    return await store.latest_due(session, topic=topic, before=before)


async def pending_count(session: AsyncSession) -> int:
    """Messages still to be sent (waiting, or being sent right now)."""
    counts = await store.count_by_status(session)
    return counts.get(store.PENDING, 0) + counts.get(store.SENDING, 0)


async def status_counts(session: AsyncSession) -> dict[str, int]:
    """Messages per status: pending, sending, sent, undeliverable, failed, cancelled."""
    return await store.count_by_status(session)


def _payload(method: str, text: str, reply_markup: dict[str, Any] | None, extra: dict[str, Any]) -> dict[str, Any]:
    if method not in METHODS:
        raise ValueError(f"unsupported outbox method {method!r}")
    unknown = set(extra) - EXTRA_KEYS
    if unknown:
        raise ValueError(f"unknown outbox payload keys: {sorted(unknown)}")
    if method == SEND_MESSAGE:
        if not text.strip():
            raise ValueError("an outbox message needs text")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"outbox text longer than {MAX_TEXT_CHARS} characters")
    else:
        if len(text) > MAX_CAPTION_CHARS:
            raise ValueError(f"outbox caption longer than {MAX_CAPTION_CHARS} characters")
        if not extra.get("file_id") and not (extra.get("file_b64") and extra.get("filename")):
            raise ValueError(f"{method} needs file_id, or file_b64 and filename")
    payload: dict[str, Any] = {"text": text, **extra}
    if reply_markup is not None:
        payload["reply_markup"] = reply_markup
    return payload


def _check_key(dedupe_key: str, topic: str | None, due_at: dt.datetime) -> None:
    if not dedupe_key or len(dedupe_key) > MAX_DEDUPE_KEY_CHARS:
        raise ValueError(f"dedupe_key must have 1 to {MAX_DEDUPE_KEY_CHARS} characters")
    if topic is not None and len(topic) > MAX_TOPIC_CHARS:
        raise ValueError(f"topic longer than {MAX_TOPIC_CHARS} characters")
    if due_at.tzinfo is None:
        raise ValueError("due_at must be timezone-aware")


__all__ = [
    "METHODS",
    "SEND_DOCUMENT",
    "SEND_MESSAGE",
    "SEND_PHOTO",
    "cancel",
    "cancel_keys",
    "cancel_topics",
    "cancel_topics_at_commit",
    "enqueue",
    "file_payload",
    "latest_due",
    "pending_count",
    "pending_keys",
    "status_counts",
    "taken_keys",
]
