"""The table of typed codes (``link_code``): which link a code belongs to, found by the code's hash.

The rules derive codes and decide what a link may do (``rules.link_codes``, ``rules.links``); this module
only stores and finds them. Nothing here commits: the caller's transaction holds the link and its code.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ScalarSelect, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import insert_for
from storage.models import LinkCode


@dataclass(frozen=True)
class CodeOwner:
    """The link a code belongs to: its kind (``inv``, ``chk``, ``unit``, ``end``) and record."""

    kind: str
    record_id: int


async def claim(session: AsyncSession, *, kind: str, record_id: int, code_hash: str) -> bool:
    """Make ``code_hash`` the code of the link (kind, record_id), replacing the link's earlier code.

    False when another link has this code already (the caller derives again with a new nonce): one
    INSERT … ON CONFLICT DO NOTHING on the code, so two links made at the same moment with the same code
    cannot both have it.
    """
    await session.execute(delete(LinkCode).where(LinkCode.kind == kind, LinkCode.record_id == record_id))
    statement = (
        insert_for(session.get_bind().dialect.name)(LinkCode)
        .values(kind=kind, record_id=record_id, code_hash=code_hash)
        .on_conflict_do_nothing(index_elements=[LinkCode.code_hash])
        .returning(LinkCode.id)
    )
    return await session.scalar(statement) is not None


async def owner(session: AsyncSession, code_hash: str) -> CodeOwner | None:
    """The link whose code has this hash, or None."""
    row = (
        await session.execute(select(LinkCode.kind, LinkCode.record_id).where(LinkCode.code_hash == code_hash))
    ).first()
    return None if row is None else CodeOwner(row.kind, row.record_id)


def record_id(kind: str, code_hash: str) -> ScalarSelect[int]:
    """The id of the record of ``kind`` whose code has this hash, to put in a query's WHERE."""
    return select(LinkCode.record_id).where(LinkCode.kind == kind, LinkCode.code_hash == code_hash).scalar_subquery()


__all__ = ["CodeOwner", "claim", "owner", "record_id"]
