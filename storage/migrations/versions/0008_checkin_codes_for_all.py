"""check-in codes for every invitation, however its delegate was accepted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00.000000

Until now an invitation got its check-in code when its delegate's pass was first made: on their own
acceptance, or when they were told of a promotion or of an organiser's override. A delegate accepted by
an organiser over the phone who had never opened their link had no code, so they could not be checked
in by code, and the attendance list had nothing to show for them. Invitations now get their code when
they are made (``rules.invitations.create_invitation``); this migration gives one to every invitation
that has none, derived like the others (``rules.invitations.issue_checkin``), with the link secret as
0007 reads it: ``config.attributes["link_secret"]`` when the caller passes it, else the bot's own.

No schema changes. Downgrading keeps the codes: the previous version reads a code on any invitation
(it keeps the code it finds), and taking them away would again leave accepted delegates without one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from rules import link_codes, links

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_link_code = sa.table(
    "link_code",
    sa.column("kind", sa.String),
    sa.column("record_id", sa.Integer),
    sa.column("code_hash", sa.String),
)
_invitation = sa.table(
    "invitation",
    sa.column("id", sa.Integer),
    sa.column("checkin_nonce", sa.String),
    sa.column("checkin_token_hash", sa.String),
    sa.column("checkin_code", sa.String),
)


def _secret() -> bytes:
    given = context.config.attributes.get("link_secret")
    if not given:
        from bot.settings import load_settings

        given = load_settings().link_secret_bytes()
    return bytes(given)


def _taken(connection: sa.Connection, hashed: str, shown: str) -> bool:
    """Another link has this code already (or another invitation shows it)."""
    if connection.scalar(sa.select(sa.func.count()).select_from(_link_code).where(_link_code.c.code_hash == hashed)):
        return True
    return bool(
        connection.scalar(
            sa.select(sa.func.count()).select_from(_invitation).where(_invitation.c.checkin_code == shown)
        )
    )


def upgrade() -> None:
    connection = op.get_bind()
    missing = connection.execute(sa.select(_invitation.c.id).where(_invitation.c.checkin_nonce.is_(None))).all()
    if not missing:
        return
    secret = _secret()
    for (invitation_id,) in missing:
        while True:
            nonce = links.new_nonce()
            code = link_codes.derive_code(secret, links.CHECK_IN, invitation_id, nonce)
            hashed = link_codes.lookup_hash(secret, code)
            if not _taken(connection, hashed, link_codes.format_code(code)):
                break
        connection.execute(
            sa.delete(_link_code).where(_link_code.c.kind == links.CHECK_IN, _link_code.c.record_id == invitation_id)
        )
        connection.execute(sa.insert(_link_code).values(kind=links.CHECK_IN, record_id=invitation_id, code_hash=hashed))
        _, token_hash = links.derive(secret, links.CHECK_IN, invitation_id, nonce)
        connection.execute(
            sa.update(_invitation)
            .where(_invitation.c.id == invitation_id)
            .values(checkin_nonce=nonce, checkin_token_hash=token_hash, checkin_code=link_codes.format_code(code))
        )


def downgrade() -> None:
    # The codes stay (see the docstring): there is no schema to take back.
    pass
