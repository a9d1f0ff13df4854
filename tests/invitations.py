"""Invitations for tests, made as /invite makes them (``rules.invitations.create_invitation``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.services import Services
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation, invitation_code, link_token
from storage.models import Conference

DEFAULT_PERSON: dict[str, Any] = {"gender": "nam", "birth_year": 1978, "occupation_group": "can_bo_cong_chuc"}


@dataclass(frozen=True)
class Invited:
    """An invitation just made: its id, the token of its personal link and the code printed beside it."""

    id: int
    token: str
    code: str


async def invite(
    services: Services,
    name: str,
    *,
    conference: str = "district",
    pool: str = EXEMPLAR_POOL,
    status: str | None = None,
    **person: Any,
) -> Invited:
    """An invitation of ``name`` to the plan's ``conference`` in ``pool``; ``person`` overrides the defaults
    (a man born in 1978, a civil servant); ``status`` sets it as an organiser's answer would (e.g. accepted)."""
    secret = services.link_secret
    async with services.database.transaction() as db:
        held = await db.scalar(select(Conference).where(Conference.code == conference))
        assert held is not None, f"no conference {conference!r}: is the plan loaded?"
        invitation = await create_invitation(
            db,
            conference=held,
            pool_code=pool,
            person=Person(full_name=name, **{**DEFAULT_PERSON, **person}),
            secret=secret,
            now=services.clock(),
        )
        assert invitation is not None, f"{name} is already invited"
        if status is not None:
            invitation.status = status
        return Invited(invitation.id, link_token(invitation, secret), invitation_code(invitation, secret))
