"""campaign letter: how the printed invitations (giấy mời) of a campaign are headed and signed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:00:00.000000

``campaign.letter`` holds the plan's ``letter`` section (``rules.plans.LetterSpec`` as JSON: the body above
the issuer, the place of the date line, the number sign, the signature block). NULL, as every campaign
loaded before this version has it, prints with the defaults; loading the plan again fills it in.
Downgrading drops the column: the printed invitations then use the defaults.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(sa.Column("letter", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_column("letter")
