"""What a person's open question is about, kept beside PTB's conversation state in ``ptb_data``.

A reviewer's desk, a delegate's RSVP form, a pending guest-list confirmation: small JSON per (kind,
account), written in the same transaction as the answer, so a restart resumes at the same question.
PTB never loads these kinds (they are not user/chat/bot data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import PersistedData, utcnow
from storage.sqlite_driver import at_commit

KIND_LENGTH = 16  # ptb_data.kind is VARCHAR(16): PostgreSQL refuses a longer one, SQLite would not say


async def remember(session: AsyncSession, kind: str, account_id: int, data: Mapping[str, Any]) -> None:
    if len(kind) > KIND_LENGTH:
        raise ValueError(f"scratch kind {kind!r} is longer than {KIND_LENGTH} characters")
    values = {"kind": kind, "key": str(account_id), "data": dict(data), "updated_at": utcnow()}
    statement = insert_for(session.get_bind().dialect.name)(PersistedData).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["kind", "key"], set_={"data": values["data"], "updated_at": values["updated_at"]}
        )
    )


async def recall(session: AsyncSession, kind: str, account_id: int) -> dict[str, Any]:
    row = await session.get(PersistedData, (kind, str(account_id)), populate_existing=True)
    return dict(row.data) if row is not None and isinstance(row.data, dict) else {}


def _forget_statement() -> Any:
    table = cast(Table, PersistedData.__table__)
    return delete(table).where(table.c.kind == bindparam("kind"), table.c.key == bindparam("key"))


_FORGET = _forget_statement()  # built once: every answered form ends with it


async def forget(session: AsyncSession, kind: str, account_id: int) -> None:
    """Drop the question's data: one DELETE, sent with the transaction's next statement or its commit on
    SQLite (``storage.sqlite_driver.at_commit``). ``recall`` reads with populate_existing, so a row this
    session loaded earlier is not taken for the stored one."""
    await at_commit(session, _FORGET, {"kind": kind, "key": str(account_id)})
