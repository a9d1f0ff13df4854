"""What ``/start`` says to a returning person: their unit (for a focal point) and the form they left open.

Read from the database at the moment of ``/start``, so a role or a unit given meanwhile, or a draft saved
from another device, shows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.nominations import Status
from rules.roles import Role
from storage.models import Account, Nomination, OrgUnit


@dataclass(frozen=True)
class Welcome:
    role: str
    unit_name: str | None = None
    # The unfinished form (a draft, or a nomination sent back for changes); None when there is none.
    draft_status: str | None = None
    draft_code: str | None = None
    draft_nominee: str | None = None


async def welcome(session: AsyncSession, account_id: int) -> Welcome:
    """The account's role and unit as stored now, and its unfinished nomination form, if any.

    One statement (every /start of a returning person runs it): the role, the unit's name and the newest
    unfinished form come back in one row.
    """
    unfinished = (
        select(Nomination.id)
        .where(
            Nomination.nominator_id == account_id,
            Nomination.status.in_((Status.DRAFT, Status.CHANGES_REQUESTED)),
        )
        .order_by(Nomination.updated_at.desc(), Nomination.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = (
        await session.execute(
            select(Account.role, OrgUnit.name, Nomination.status, Nomination.code, Nomination.nominee_name)
            .select_from(Account)
            .outerjoin(OrgUnit, OrgUnit.id == Account.unit_id)
            .outerjoin(Nomination, Nomination.id == unfinished)
            .where(Account.id == account_id)
        )
    ).first()
    if row is None:
        return Welcome(role=Role.CITIZEN)
    role, unit_name, status, code, nominee = row
    if status is None:
        return Welcome(role=role, unit_name=unit_name)
    return Welcome(role=role, unit_name=unit_name, draft_status=Status(status), draft_code=code, draft_nominee=nominee)
