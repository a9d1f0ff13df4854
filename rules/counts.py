"""The nomination counts every screen shows, defined once: /status, its chart, the /export workbook, the
organisers' digest, the deadline reminders and escalations, and /deadlines all read them from here.

Definitions (each count is of one conference):

- **sent**: a nomination counts as sent once it was sent in and is still in the running or decided —
  waiting for review, sent back for changes, approved or not accepted (:data:`SENT`, which is
  :data:`rules.nominations.COUNTS_AGAINST_ALLOWANCE`). Drafts, expired drafts, withdrawn nominations and
  duplicates are not sent nominations (they are shown by status only).
- **a unit's nominations** (``UnitProgress.sent``): the sent nominations that name the unit, **whoever sent
  them** — the unit's focal point on the unit's behalf, or a citizen or an organiser who named the unit.
  This is the figure compared with the number the plan expects of the unit ("dự kiến"), the one reminders
  and escalations are about, and a unit **has none** (is *at zero*) only when no sent nomination names it.
- **the allowance used** (``UnitProgress.by_focal_point``, "chỉ tiêu"): of the unit's nominations, those its
  focal point sent. Only these take one of the unit's places (``rules.intake.allowance_left`` counts the
  same way), so a citizen can never use up a unit's allowance. **left** = allowance − used (never below 0),
  **over** = used − allowance when the allowance was lowered after the unit sent.
- **approved**: of the unit's nominations, those approved.
- **missing**: how many the unit still lacks of the number expected (0 once it has as many or more).

Every figure comes from the conference's rows of the nomination tally (by unit, source and status, kept by
the database's triggers: ``storage.tally``) and its allowances: no nomination is read, let alone loaded
into Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.nominations import COUNTS_AGAINST_ALLOWANCE
from rules.nominations import Status as NominationStatus
from rules.text import fold
from storage import tally
from storage.models import Nomination, OrgUnit, UnitAllowance

SENT = COUNTS_AGAINST_ALLOWANCE
FOCAL_POINT = "focal_point"


@dataclass(frozen=True)
class UnitProgress:
    """One unit's nominations to one conference, against its allowance and the number expected.

    ``allowance`` is None for a unit the plan gives no allowance to (it was named by a citizen);
    ``expected`` is None when the plan expects no particular number.
    """

    unit_id: int
    code: str
    name: str
    allowance: int | None
    expected: int | None
    sent: int  # every sent nomination naming the unit, whoever sent it
    by_focal_point: int  # of those, sent by its focal point: the allowance used
    approved: int  # of those, approved

    @property
    def from_others(self) -> int:
        """Sent nominations naming the unit that citizens or organisers sent (they use no allowance)."""
        return self.sent - self.by_focal_point

    @property
    def left(self) -> int | None:
        """Places of the allowance still free; None without an allowance."""
        return None if self.allowance is None else max(self.allowance - self.by_focal_point, 0)

    @property
    def over_allowance(self) -> int:
        return 0 if self.allowance is None else max(self.by_focal_point - self.allowance, 0)

    @property
    def missing(self) -> int:
        """How many the unit still lacks of the number expected (0 when none is expected or it has enough)."""
        return 0 if not self.expected else max(self.expected - self.sent, 0)

    @property
    def expected_to_nominate(self) -> bool:
        """The plan counts on this unit: it has an allowance, and expects some nominations (or sets no number)."""
        return self.allowance is not None and self.allowance > 0 and (self.expected is None or self.expected > 0)

    @property
    def at_zero(self) -> bool:
        """Expected to nominate and no sent nomination names it."""
        return self.expected_to_nominate and self.sent == 0


@dataclass(frozen=True)
class NominationCounts:
    """A conference's nominations: by status (every status, zeros included), received, and by unit."""

    by_status: dict[str, int]
    received: int  # sent in at least once (``submitted_at`` set), whatever happened to them later
    units: tuple[UnitProgress, ...]  # units with an allowance in plan order, then the others by name
    without_unit: int  # sent nominations naming no unit

    @property
    def sent(self) -> int:
        return sum(self.by_status.get(status, 0) for status in SENT)

    @property
    def units_at_zero(self) -> tuple[UnitProgress, ...]:
        return tuple(unit for unit in self.units if unit.at_zero)

    @property
    def units_expected(self) -> tuple[UnitProgress, ...]:
        return tuple(unit for unit in self.units if unit.expected_to_nominate)


def active_on(valid_from: dt.date | None, valid_to: dt.date | None, day: dt.date | None) -> bool:
    """A unit exists on ``day`` (always, when the day is not known)."""
    if day is None:
        return True
    return (valid_from is None or valid_from <= day) and (valid_to is None or day <= valid_to)


async def nomination_counts(
    session: AsyncSession, conference_id: int, *, on_day: dt.date | None = None
) -> NominationCounts:
    """Every count of the module docstring for one conference, in two queries (three when a citizen named a
    unit that has no allowance). ``on_day``: leave out allowance units that do not exist that day
    (a unit merged away before the conference is asked for nothing)."""
    by_status: dict[str, int] = dict.fromkeys(NominationStatus, 0)
    received = 0
    sent: dict[int | None, int] = defaultdict(int)
    by_focal_point: dict[int, int] = defaultdict(int)
    approved: dict[int, int] = defaultdict(int)
    for row in await tally.conference_tally(session, conference_id):
        unit_id, status, count = row.unit_id, row.status, row.nominations
        by_status[status] = by_status.get(status, 0) + count
        received += row.submitted
        if status not in SENT:
            continue
        sent[unit_id] += count
        if unit_id is None:
            continue
        if row.source == FOCAL_POINT:
            by_focal_point[unit_id] += count
        if status == NominationStatus.APPROVED:
            approved[unit_id] += count
    allowances = (
        await session.execute(
            select(
                UnitAllowance.unit_id,
                UnitAllowance.nominations,
                UnitAllowance.expected_nominations,
                OrgUnit.code,
                OrgUnit.name,
                OrgUnit.valid_from,
                OrgUnit.valid_to,
            )
            .join(OrgUnit, OrgUnit.id == UnitAllowance.unit_id)
            .where(UnitAllowance.conference_id == conference_id)
            .order_by(UnitAllowance.id)
        )
    ).all()

    def progress(unit_id: int, code: str, name: str, allowance: int | None, expected: int | None) -> UnitProgress:
        return UnitProgress(
            unit_id, code, name, allowance, expected, sent[unit_id], by_focal_point[unit_id], approved[unit_id]
        )

    units = [
        progress(unit_id, code, name, allowance, expected)
        for unit_id, allowance, expected, code, name, valid_from, valid_to in allowances
        if active_on(valid_from, valid_to, on_day) or sent[unit_id]
    ]
    listed = {row[0] for row in allowances}
    others = [unit_id for unit_id in sent if unit_id is not None and unit_id not in listed]
    if others:
        rows = await session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(OrgUnit.id.in_(others)))
        extra = [progress(unit_id, code, name, None, None) for unit_id, code, name in rows.all()]
        units += sorted(extra, key=lambda unit: fold(unit.name))
    return NominationCounts(by_status=by_status, received=int(received), units=tuple(units), without_unit=sent[None])


async def allowance_used(
    session: AsyncSession, conference_id: int, unit_id: int, *, excluding: Collection[int] = ()
) -> int:
    """The unit's allowance used at the conference (see the module docstring), leaving out ``excluding``."""
    statement = (
        select(func.count())
        .select_from(Nomination)
        .where(
            Nomination.conference_id == conference_id,
            Nomination.unit_id == unit_id,
            Nomination.source == FOCAL_POINT,
            Nomination.status.in_(SENT),
        )
    )
    if excluding:
        statement = statement.where(Nomination.id.not_in(list(excluding)))
    return int(await session.scalar(statement) or 0)
