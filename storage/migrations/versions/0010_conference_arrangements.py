"""conference arrangements: the day, time and venue organisers set in chat (issue 10, item 6)

``/conference`` lets an organiser set a conference's start (day and time) and venue without editing the
plan file. What they set is kept in ``conference_arrangement``, one row per conference, layered over the
plan: loading the plan again keeps it. The conference row itself carries the effective values, so nothing
that reads them changes here.

Downgrading drops the table; the values organisers set stay on the conference rows until the plan is
loaded again, which brings back the plan's own.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:00:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conference_arrangement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("venue", sa.Text(), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["conference.id"],
            name=op.f("fk_conference_arrangement_conference_id_conference"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"],
            ["account.id"],
            name=op.f("fk_conference_arrangement_set_by_id_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_arrangement")),
        sa.UniqueConstraint("conference_id", name=op.f("uq_conference_arrangement_conference_id")),
    )


def downgrade() -> None:
    op.drop_table("conference_arrangement")
