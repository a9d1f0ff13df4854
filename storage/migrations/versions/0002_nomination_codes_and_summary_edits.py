"""nomination codes and summary edits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:42:17.248059

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nomination_seq", sa.Integer(), server_default="0", nullable=False))

    with op.batch_alter_table("nomination", schema=None) as batch_op:
        batch_op.add_column(sa.Column("draft_editing", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("nomination", schema=None) as batch_op:
        batch_op.drop_column("draft_editing")

    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("nomination_seq")
