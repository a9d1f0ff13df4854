"""link codes: a typed short code for every personal link (Zalo has no deep links)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 09:00:00.000000

The ``link_code`` table holds one keyed hash per link; ``unit_link.link_nonce`` and
``nomination.share_nonce`` are what those links' codes are derived from (invitations and check-in passes
have their nonces already). Every existing link gets its code here, so a link handed out before this
version can be typed as a code too; that needs the link secret: ``config.attributes["link_secret"]`` when
the caller passes it (``storage.migrate.upgrade``), else the bot's own (``LINK_SECRET`` or
``data/.link-secret``), read only when there is a link to give a code to.

Check-in codes change form: they are now the check-in link's typed code, in Crockford's alphabet, so the
code shown to an accepted delegate (``invitation.checkin_code``) is derived again here; the delegate sees
the new one on their pass and in the reminder the day before. The QR codes and every link stay as they
were. Downgrading drops the codes and the two nonces; the check-in codes keep their new form, which the
previous version reads as well.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from rules import link_codes, links

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
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
    sa.column("link_nonce", sa.String),
    sa.column("token_hash", sa.String),
    sa.column("checkin_nonce", sa.String),
    sa.column("checkin_token_hash", sa.String),
    sa.column("checkin_code", sa.String),
)
_unit_link = sa.table("unit_link", sa.column("id", sa.Integer), sa.column("link_nonce", sa.String))
_nomination = sa.table(
    "nomination",
    sa.column("id", sa.Integer),
    sa.column("share_token_hash", sa.String),
    sa.column("share_nonce", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "link_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_link_code_code_hash")),
        sa.UniqueConstraint("kind", "record_id", name=op.f("uq_link_code_kind_record_id")),
    )
    with op.batch_alter_table("nomination", schema=None) as batch_op:
        batch_op.add_column(sa.Column("share_nonce", sa.String(length=32), nullable=True))
    with op.batch_alter_table("unit_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_nonce", sa.String(length=32), nullable=True))
    _give_codes(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("unit_link", schema=None) as batch_op:
        batch_op.drop_column("link_nonce")
    with op.batch_alter_table("nomination", schema=None) as batch_op:
        batch_op.drop_column("share_nonce")
    op.drop_table("link_code")


class _Codes:
    """Codes given so far in this migration: the table is new, so a clash can only be among them."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.taken: set[str] = set()
        self._secret: bytes | None = None

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            given = context.config.attributes.get("link_secret")
            if not given:
                from bot.settings import load_settings

                given = load_settings().link_secret_bytes()
            self._secret = given
        return self._secret

    def give(self, kind: str, record_id: int, nonce: str | None) -> tuple[str, str]:
        """The link's code, from its nonce (or a new nonce when it has none or its code is taken):
        (nonce, canonical code), the row written."""
        while True:
            nonce = nonce or links.new_nonce()
            code = link_codes.derive_code(self.secret, kind, record_id, nonce)
            hashed = link_codes.lookup_hash(self.secret, code)
            if hashed not in self.taken:
                break
            nonce = None
        self.taken.add(hashed)
        self.connection.execute(sa.insert(_link_code).values(kind=kind, record_id=record_id, code_hash=hashed))
        return nonce, code


def _give_codes(connection: sa.Connection) -> None:
    codes = _Codes(connection)
    invitations = connection.execute(
        sa.select(_invitation.c.id, _invitation.c.link_nonce, _invitation.c.checkin_nonce).where(
            sa.or_(_invitation.c.link_nonce.is_not(None), _invitation.c.checkin_nonce.is_not(None))
        )
    ).all()
    for invitation_id, link_nonce, checkin_nonce in invitations:
        if link_nonce is not None:
            nonce, _ = codes.give(links.INVITATION, invitation_id, link_nonce)
            if nonce != link_nonce:  # its code was taken: a new link, as a new invitation would get
                _, hashed = links.derive(codes.secret, links.INVITATION, invitation_id, nonce)
                connection.execute(
                    sa.update(_invitation)
                    .where(_invitation.c.id == invitation_id)
                    .values(link_nonce=nonce, token_hash=hashed)
                )
        if checkin_nonce is not None:
            nonce, code = codes.give(links.CHECK_IN, invitation_id, checkin_nonce)
            _, hashed = links.derive(codes.secret, links.CHECK_IN, invitation_id, nonce)
            connection.execute(
                sa.update(_invitation)
                .where(_invitation.c.id == invitation_id)
                .values(checkin_nonce=nonce, checkin_token_hash=hashed, checkin_code=link_codes.format_code(code))
            )
    # Unit links and share links kept random tokens so far: the nonce gives them a code, the token stays.
    for (link_id,) in connection.execute(sa.select(_unit_link.c.id)).all():
        nonce, _ = codes.give(links.UNIT, link_id, None)
        connection.execute(sa.update(_unit_link).where(_unit_link.c.id == link_id).values(link_nonce=nonce))
    shared = sa.select(_nomination.c.id).where(_nomination.c.share_token_hash.is_not(None))
    for (nomination_id,) in connection.execute(shared).all():
        nonce, _ = codes.give(links.ENDORSEMENT, nomination_id, None)
        connection.execute(
            sa.update(_nomination).where(_nomination.c.id == nomination_id).values(share_nonce=nonce)
        )
