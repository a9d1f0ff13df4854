"""English titles of plan data: a conference's and a seat pool's ``title_en`` (issue 10, item 7)

A plan file may give a conference or a pool an English title; English mode shows it instead of the
Vietnamese one, which stays the title of record. Both columns are nullable: without an English title the
Vietnamese one is shown in English mode too, inside sentences built to carry it.

Downgrading drops the two columns; the Vietnamese titles are untouched.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:40:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conference") as batch:
        batch.add_column(sa.Column("title_en", sa.Text(), nullable=True))
    with op.batch_alter_table("seat_pool") as batch:
        batch.add_column(sa.Column("title_en", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seat_pool") as batch:
        batch.drop_column("title_en")
    with op.batch_alter_table("conference") as batch:
        batch.drop_column("title_en")
