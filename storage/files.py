"""The ``stored_file`` table's SQL: insert a file, find one by its token's hash, delete what has expired.

Callers own the transaction; nothing here commits. A lookup can leave the bytes behind (``with_data=False``)
so a HEAD request or a size check does not read up to 20 MB from the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import StoredFileRecord


@dataclass(frozen=True)
class FileRow:
    """One stored file as read back; ``data`` is None when the lookup did not ask for the bytes."""

    id: int
    purpose: str
    owner_account_id: int | None
    filename: str
    content_type: str
    size: int
    expires_at: dt.datetime | None
    data: bytes | None


async def insert_file(
    session: AsyncSession,
    *,
    purpose: str,
    owner_account_id: int | None,
    filename: str,
    content_type: str,
    data: bytes,
    sha256: str,
    token_hash: str,
    created_at: dt.datetime,
    expires_at: dt.datetime | None,
) -> int:
    """Store a file; returns its id."""
    statement = (
        insert(StoredFileRecord)
        .values(
            purpose=purpose,
            owner_account_id=owner_account_id,
            filename=filename,
            content_type=content_type,
            size=len(data),
            sha256=sha256,
            data=data,
            token_hash=token_hash,
            created_at=created_at,
            expires_at=expires_at,
        )
        .returning(StoredFileRecord.id)
    )
    return int((await session.execute(statement)).scalar_one())


async def file_by_token_hash(
    session: AsyncSession, token_hash: str, *, purpose: str, with_data: bool = True
) -> FileRow | None:
    """The file of ``purpose`` whose token hashes to ``token_hash``, expired or not (the caller decides)."""
    columns = [
        StoredFileRecord.id,
        StoredFileRecord.purpose,
        StoredFileRecord.owner_account_id,
        StoredFileRecord.filename,
        StoredFileRecord.content_type,
        StoredFileRecord.size,
        StoredFileRecord.expires_at,
    ]
    if with_data:
        columns.append(StoredFileRecord.data)
    statement = select(*columns).where(StoredFileRecord.token_hash == token_hash, StoredFileRecord.purpose == purpose)
    row = (await session.execute(statement)).one_or_none()
    if row is None:
        return None
    return FileRow(
        id=row.id,
        purpose=row.purpose,
        owner_account_id=row.owner_account_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        expires_at=row.expires_at,
        data=row.data if with_data else None,
    )


async def delete_expired(session: AsyncSession, now: dt.datetime) -> int:
    """Delete every file whose ``expires_at`` has passed; returns how many went."""
    result = await session.execute(
        delete(StoredFileRecord)
        .where(StoredFileRecord.expires_at.is_not(None), StoredFileRecord.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
