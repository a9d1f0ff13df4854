"""status balance index: /status counts its accepted delegates from one index (issue 11, item 5)

``ix_invitation_balance`` holds, for each conference and status, every attribute /status's balance figures
read (economic sector, religion, sector, gender, year of birth, ethnicity, occupation), the grouped ones
first: the scan of a conference's accepted delegates reads the index only, never the table (16 → 5 ms at
50,000 invitations on SQLite).

Downgrading drops the index; no data changes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 12:30:00

"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    "conference_id",
    "status",
    "economic_sector",
    "religion",
    "sector",
    "gender",
    "birth_year",
    "ethnicity",
    "occupation_group",
]


def upgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.create_index("ix_invitation_balance", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_index("ix_invitation_balance")
