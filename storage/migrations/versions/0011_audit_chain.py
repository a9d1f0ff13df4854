"""audit chain: every audit entry linked to the one before it by hashes (issue 12, item 6)

Adds to ``audit_log`` the entry's place in the chain (``seq``), the salted hash of its detail, the previous
entry's hash and its own (``storage.audit_chain`` says what is hashed), and the table ``audit_chain_head``
(one row: the last link). The entries already there are chained in the order they were written (by id).

``actor_id`` loses its foreign key: the trail names an account by its number and must outlive it (a
deleted account no longer turns its entries' actor into NULL, which would break their hashes).

Downgrading drops the chain and puts the foreign key back (entries naming an account that is gone lose
their actor, as before).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.audit_chain import GENESIS, HEAD_ROW, detail_digest, entry_digest, plain_detail

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AUDIT = sa.table(
    "audit_log",
    sa.column("id", sa.Integer()),
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("actor_id", sa.Integer()),
    sa.column("action", sa.String()),
    sa.column("entity", sa.String()),
    sa.column("entity_id", sa.String()),
    sa.column("detail", sa.JSON()),
    sa.column("seq", sa.Integer()),
    sa.column("detail_salt", sa.String()),
    sa.column("detail_hash", sa.String()),
    sa.column("prev_hash", sa.String()),
    sa.column("entry_hash", sa.String()),
)
_HEAD = sa.table(
    "audit_chain_head",
    sa.column("id", sa.Integer()),
    sa.column("seq", sa.Integer()),
    sa.column("entry_hash", sa.String()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _chain_existing_entries() -> None:
    import datetime as dt
    import secrets

    connection = op.get_bind()
    rows = connection.execute(sa.select(_AUDIT).order_by(_AUDIT.c.id)).all()
    prev_hash, seq = GENESIS, 0
    for row in rows:
        seq += 1
        salt = secrets.token_hex(16)
        digest = detail_digest(salt, plain_detail(row.detail))
        entry_hash = entry_digest(
            seq=seq,
            at=row.at,
            actor_id=row.actor_id,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            detail_hash=digest,
            prev_hash=prev_hash,
        )
        connection.execute(
            sa.update(_AUDIT)
            .where(_AUDIT.c.id == row.id)
            .values(seq=seq, detail_salt=salt, detail_hash=digest, prev_hash=prev_hash, entry_hash=entry_hash)
        )
        prev_hash = entry_hash
    if seq:
        connection.execute(
            sa.insert(_HEAD).values(id=HEAD_ROW, seq=seq, entry_hash=prev_hash, updated_at=dt.datetime.now(dt.UTC))
        )


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint("fk_audit_log_actor_id_account", type_="foreignkey")
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("detail_salt", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("detail_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("detail_erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_log_seq"), ["seq"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    _chain_existing_entries()


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    op.execute(
        "UPDATE audit_log SET actor_id = NULL WHERE actor_id IS NOT NULL AND actor_id NOT IN (SELECT id FROM account)"
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_log_seq"), type_="unique")
        batch_op.drop_column("detail_erased_at")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("detail_hash")
        batch_op.drop_column("detail_salt")
        batch_op.drop_column("seq")
        batch_op.create_foreign_key(
            batch_op.f("fk_audit_log_actor_id_account"), "account", ["actor_id"], ["id"], ondelete="SET NULL"
        )
