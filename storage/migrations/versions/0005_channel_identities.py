"""channel identities: accounts are no longer Telegram ids; the outbox is addressed to accounts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:30:00

Every ``account.telegram_user_id`` becomes a ``telegram`` identity whose address is that id (so existing
conversation states keep their keys), every ``account.zalo_user_id`` a ``zalo`` identity at
2**53 + its id. Outbox rows get the account they are for (found by their chat id) and their channel;
invitations lose the chat id they were bound to (the account they are bound to was already kept).
The downgrade puts the first Telegram and Zalo identity of each account back in the old columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDRESS_BASE = 1 << 53  # rules.identities.ADDRESS_BASE, copied: a migration must not change with the code


def upgrade() -> None:
    op.create_table(
        "channel_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("address", sa.BigInteger(), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_channel_identity_account_id_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_identity")),
        sa.UniqueConstraint("address", name=op.f("uq_channel_identity_address")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_channel_identity_channel_external_id")),
    )
    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_identity_account_id"), ["account_id"], unique=False)

    op.execute(
        "INSERT INTO channel_identity (account_id, channel, external_id, address, display_name, created_at, "
        "last_seen_at) SELECT id, 'telegram', CAST(telegram_user_id AS VARCHAR(64)), telegram_user_id, "
        "display_name, created_at, last_seen_at FROM account WHERE telegram_user_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO channel_identity (account_id, channel, external_id, address, display_name, created_at, "
        "last_seen_at) SELECT id, 'zalo', zalo_user_id, NULL, display_name, created_at, last_seen_at "
        "FROM account WHERE zalo_user_id IS NOT NULL"
    )
    op.execute(f"UPDATE channel_identity SET address = {ADDRESS_BASE} + id WHERE address IS NULL")

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=16), server_default="telegram", nullable=False))
        batch_op.create_index(batch_op.f("ix_outbox_account_id"), ["account_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_account_id_account"), "account", ["account_id"], ["id"], ondelete="CASCADE"
        )
    op.execute(
        "UPDATE outbox SET account_id = (SELECT ci.account_id FROM channel_identity ci "
        "WHERE ci.address = outbox.chat_id) WHERE is_group = false"
    )

    # An invitation bound to a chat was bound to its account in the same statement; fill any gap first.
    op.execute(
        "UPDATE invitation SET account_id = (SELECT ci.account_id FROM channel_identity ci "
        "WHERE ci.address = invitation.chat_id) WHERE account_id IS NULL AND chat_id IS NOT NULL"
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_column("chat_id")

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_account_telegram_user_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_account_zalo_user_id"), type_="unique")
        batch_op.drop_column("zalo_user_id")
        batch_op.drop_column("telegram_user_id")


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("telegram_user_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("zalo_user_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_account_zalo_user_id"), ["zalo_user_id"])
        batch_op.create_unique_constraint(batch_op.f("uq_account_telegram_user_id"), ["telegram_user_id"])
    op.execute(
        "UPDATE account SET telegram_user_id = (SELECT ci.address FROM channel_identity ci "
        "WHERE ci.account_id = account.id AND ci.channel = 'telegram' ORDER BY ci.id LIMIT 1)"
    )
    op.execute(
        "UPDATE account SET zalo_user_id = (SELECT ci.external_id FROM channel_identity ci "
        "WHERE ci.account_id = account.id AND ci.channel = 'zalo' ORDER BY ci.id LIMIT 1)"
    )

    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE invitation SET chat_id = (SELECT a.telegram_user_id FROM account a "
        "WHERE a.id = invitation.account_id) WHERE account_id IS NOT NULL"
    )

    # Rows for a channel the old schema cannot address are dropped with the channel.
    op.execute("DELETE FROM outbox WHERE channel <> 'telegram'")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_account_id_account"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_account_id"))
        batch_op.drop_column("channel")
        batch_op.drop_column("account_id")

    with op.batch_alter_table("channel_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_identity_account_id"))
    op.drop_table("channel_identity")
