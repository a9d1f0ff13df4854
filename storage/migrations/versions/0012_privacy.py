"""personal data: requests to organisers, erased accounts, the data controller (issue 12, items 1–3)

``privacy_request`` queues what a person asks of the organisers about their personal data (a correction,
an erasure they cannot do themselves, an objection) with the date it must be answered by.
``account.erased_at`` marks an account whose person erased their data (/erase): the row stays, nameless
and unreachable, as the author of what must be kept. ``campaign.data_controller`` holds who is responsible
for the data, from the plan file, for /privacy.

Downgrading drops the table and the two columns; an erased account stays as erased (no name, no identity).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "privacy_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("about", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_privacy_request_account_id_account"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_id"],
            ["account.id"],
            name=op.f("fk_privacy_request_handled_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request")),
    )
    op.create_index(op.f("ix_privacy_request_account_id"), "privacy_request", ["account_id"])
    op.create_index("ix_privacy_request_queue", "privacy_request", ["status", "due_at"])
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("data_controller", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("data_controller")
    with op.batch_alter_table("account") as batch:
        batch.drop_column("erased_at")
    op.drop_index("ix_privacy_request_queue", table_name="privacy_request")
    op.drop_index(op.f("ix_privacy_request_account_id"), table_name="privacy_request")
    op.drop_table("privacy_request")
