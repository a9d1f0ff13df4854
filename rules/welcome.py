"""What ``/start`` says to a returning person: their unit (for a focal point) and the form they left open.

Read from the database at the moment of ``/start``, so a role or a unit given meanwhile, or a draft saved
from another device, shows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.intake import current_draft
from rules.nominations import Status
from rules.roles import Role
from storage.models import Account, OrgUnit


@dataclass(frozen=True)
class Welcome:
    role: str
    unit_name: str | None = None
    # The unfinished form (a draft, or a nomination sent back for changes); None when there is none.
    draft_status: str | None = None
    draft_code: str | None = None
    draft_nominee: str | None = None


async def welcome(session: AsyncSession, account_id: int) -> Welcome:
    """The account's role and unit as stored now, and its unfinished nomination form, if any."""
    row = (
        await session.execute(
            select(Account.role, OrgUnit.name)
            .outerjoin(OrgUnit, OrgUnit.id == Account.unit_id)
            .where(Account.id == account_id)
        )
    ).first()
    if row is None:
        return Welcome(role=Role.CITIZEN)
    role, unit_name = row
    draft = await current_draft(session, account_id)
    if draft is None:
        return Welcome(role=role, unit_name=unit_name)
    return Welcome(
        role=role,
        unit_name=unit_name,
        draft_status=Status(draft.status),
        draft_code=draft.code,
        draft_nominee=draft.nominee_name,
    )
