"""Where a conference stands, for the organisers' /status: deadlines, nominations, seats, balance, warnings.

:func:`conference_status` computes one :class:`ConferenceStatus` with a handful of aggregate queries
(GROUP BY and conditional counts), whatever the number of nominations and invitations: no row of either
is loaded into Python. The presentation (text, chart, workbook) lives elsewhere and reads only the
dataclasses.

Definitions, so every figure can be counted by hand:

- **days left**: between local dates (Asia/Ho_Chi_Minh): 0 on the deadline's day, negative once past.
- **received**: nominations sent in at least once (``submitted_at`` set), whatever happened to them later;
  drafts never sent are counted by status only.
- **a unit's sent**: its focal point's nominations that count against its allowance (as the intake counts
  them, :data:`rules.nominations.COUNTS_AGAINST_ALLOWANCE`); **units at zero** are units with an allowance
  for the conference that have sent none.
- **seats per pool** come from :func:`rules.seats.pool_counts`: **invited** counts the invitations handed out
  and not closed (pending, accepted, declined, waitlisted); proposed substitutes, replaced and cancelled
  invitations are not counted.
- **fill rate** of a pool: accepted / seats; its **gap**: seats − accepted (0 when full or over).
- **shares** are taken among the delegates who accepted. A target's **gap** is in people at the current
  number of accepted delegates: for a floor, how many more of them it would take to reach it
  (⌈target × accepted⌉ − count), for a ceiling, how many too many there are (count − ⌊target × accepted⌋).
- **youth**: age from ``youth.min_age`` to ``max_age`` on the conference date (``starts_at``, else the
  window's start, else its end), from the year of birth only (conference year − birth year);
  **ethnic minority**: a group with ``minority: true``; **direct producer**: an occupation group with
  ``direct_producer: true`` (reference data); **women**: gender ``nu``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import invitations, seats
from rules.i18n import N_
from rules.nominations import COUNTS_AGAINST_ALLOWANCE
from rules.nominations import Status as NominationStatus
from rules.refdata import reference
from rules.seats import PoolCount
from rules.text import fold
from storage.models import BalanceTarget, Campaign, Conference, Invitation, Nomination, OrgUnit, SeatPool, UnitAllowance

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# A nomination deadline this close (in days) with units that have sent nothing is a warning.
DEADLINE_WARNING_DAYS = 3
WOMEN = "nu"
FOCAL_POINT = "focal_point"
# Dimensions that count one kind of delegate (yes/no); the others count one value, or show the spread.
YES_NO_DIMENSIONS = ("women", "youth", "ethnic_minority", "direct_producer")
DIMENSION_COLUMNS = {
    "religion": Invitation.religion,
    "sector": Invitation.sector,
    "economic_sector": Invitation.economic_sector,
    "occupation_group": Invitation.occupation_group,
}


class Translate(Protocol):
    """What the presentation modules need of a translator (``bot.i18n.Translator`` is one)."""

    @property
    def locale(self) -> str: ...

    def __call__(self, msgid: str, /, **values: object) -> str: ...


@dataclass(frozen=True)
class YouthBand:
    """Who counts as young: aged ``min_age`` to ``max_age`` on the conference date (the plan's ``youth``)."""

    min_age: int = 16
    max_age: int = 30


# --- the figures ---------------------------------------------------------------------------------------


class DeadlineKind(StrEnum):
    NOMINATIONS = "nominations"
    RSVP = "rsvp"
    CONFERENCE = "conference"  # the day it is held
    HELD_BY = "held_by"  # while only a window is known: the last day it may be held


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    at: dt.datetime
    local_date: dt.date
    days_left: int

    @property
    def passed(self) -> bool:
        return self.days_left < 0


@dataclass(frozen=True)
class UnitProgress:
    """One unit's nominations to the conference, against its allowance (None: no allowance row)."""

    unit_id: int
    code: str
    name: str
    allowance: int | None
    expected: int | None
    sent: int  # by its focal point, counted against the allowance
    received: int  # every nomination sent in naming the unit (focal point and citizens)
    approved: int

    @property
    def left(self) -> int | None:
        return None if self.allowance is None else max(self.allowance - self.sent, 0)

    @property
    def at_zero(self) -> bool:
        return self.allowance is not None and self.sent == 0


@dataclass(frozen=True)
class NominationFigures:
    received: int
    by_status: dict[str, int]  # every status, zeros included
    units: tuple[UnitProgress, ...]  # units with an allowance in plan order, then others by name
    without_unit: int  # received nominations naming no unit

    @property
    def units_at_zero(self) -> tuple[UnitProgress, ...]:
        return tuple(unit for unit in self.units if unit.at_zero)


@dataclass(frozen=True)
class PoolStatus:
    code: str
    title: str
    share: float | None  # the plan's share of this pool (0.70), None for a pool not in the plan
    share_rule: str  # min | max
    seats: int | None
    invited: int
    accepted: int
    declined: int
    pending: int
    waitlisted: int
    checked_in: int
    share_of_accepted: float | None  # this pool's accepted / all accepted; None while nobody accepted
    share_gap: int  # people: short of a min share / over a max share among the accepted

    @property
    def fill_rate(self) -> float | None:
        return None if not self.seats else self.accepted / self.seats

    @property
    def gap(self) -> int | None:
        """Seats still to fill (0 when full or over); None when the pool has no seat count."""
        return None if self.seats is None else max(self.seats - self.accepted, 0)

    @property
    def over(self) -> int:
        return 0 if self.seats is None else max(self.accepted - self.seats, 0)


@dataclass(frozen=True)
class BalanceLine:
    """One balance target: the share among accepted delegates against the target (None: report only)."""

    dimension: str
    value: str  # "" for yes/no dimensions and for a spread
    target_share: float | None
    comparison: str  # min | max
    accepted: int  # the denominator
    count: int  # delegates who are of this kind (for a spread: who gave a value)
    unknown: int  # accepted delegates whose attribute is not recorded
    gap: int  # people, see the module docstring; 0 when met or report only
    spread: tuple[tuple[str, int], ...] = ()  # value → delegates, most first (spread lines only)

    @property
    def is_spread(self) -> bool:
        return self.dimension not in YES_NO_DIMENSIONS and not self.value

    @property
    def share(self) -> float | None:
        return None if self.accepted == 0 else self.count / self.accepted

    @property
    def met(self) -> bool | None:
        """Whether the target is met; None for report-only lines and while nobody accepted."""
        if self.target_share is None or self.accepted == 0 or self.is_spread:
            return None
        return self.gap == 0


class WarningKind(StrEnum):
    POOL_OVERFILLED = "pool_overfilled"
    POOL_SHARE_LOW = "pool_share_low"  # a min pool (exemplars ≥ 70%) below its share of the accepted
    DEADLINE_UNITS_AT_ZERO = "deadline_units_at_zero"


@dataclass(frozen=True)
class StatusWarning:
    kind: WarningKind
    pool: str | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConferenceStatus:
    conference_id: int
    campaign_code: str
    code: str
    level: str
    title: str
    capacity: int | None
    conference_date: dt.date | None  # the day youth is counted on
    today: dt.date
    youth: YouthBand
    deadlines: tuple[Deadline, ...]
    nominations: NominationFigures
    pools: tuple[PoolStatus, ...]
    accepted: int
    checked_in: int
    balance: tuple[BalanceLine, ...]
    warnings: tuple[StatusWarning, ...]

    @property
    def exemplar_share(self) -> float | None:
        """The exemplars' share of the accepted delegates (the plan wants at least 70%)."""
        pool = self.pool(invitations.EXEMPLAR_POOL)
        return pool.share_of_accepted if pool else None

    def pool(self, code: str) -> PoolStatus | None:
        return next((pool for pool in self.pools if pool.code == code), None)

    def deadline(self, kind: DeadlineKind) -> Deadline | None:
        return next((deadline for deadline in self.deadlines if deadline.kind == kind), None)


# --- exact share arithmetic ----------------------------------------------------------------------------


def _basis_points(share: float) -> int:
    # Shares are stored as Numeric(5, 4): 0.3 is exactly 3000 basis points, never 0.30000000000000004.
    return round(share * 10_000)


def short_of(share: float, total: int, count: int) -> int:
    """People missing for ``count`` to be at least ``share`` of ``total``."""
    needed = -(-_basis_points(share) * total // 10_000)
    return max(needed - count, 0)


def over(share: float, total: int, count: int) -> int:
    """People too many for ``count`` to be at most ``share`` of ``total``."""
    allowed = _basis_points(share) * total // 10_000
    return max(count - allowed, 0)


def target_gap(share: float | None, comparison: str, total: int, count: int) -> int:
    if share is None:
        return 0
    return over(share, total, count) if comparison == "max" else short_of(share, total, count)


# --- finding conferences -------------------------------------------------------------------------------


def _date_key(conference: Conference) -> dt.datetime:
    moment = conference.starts_at or conference.window_end or conference.window_start
    return moment or dt.datetime.max.replace(tzinfo=dt.UTC)


async def open_conferences(session: AsyncSession) -> list[Conference]:
    """Conferences still open, in the order they are held (undated ones last)."""
    rows = list(await session.scalars(select(Conference).where(Conference.status == "open")))
    return sorted(rows, key=lambda conference: (_date_key(conference), conference.id))


async def find_conferences(session: AsyncSession, code: str) -> list[Conference]:
    """Open conferences whose code is ``code`` (any case, tone marks ignored), or ``campaign/code``."""
    wanted = fold(code).replace(" ", "")
    campaign_code, _, conference_code = wanted.rpartition("/")
    statement = (
        select(Conference, Campaign.code)
        .join(Campaign, Campaign.id == Conference.campaign_id)
        .where(Conference.status == "open")
    )
    found = [
        conference
        for conference, campaign in (await session.execute(statement)).all()
        if fold(conference.code) == conference_code and (not campaign_code or fold(campaign) == campaign_code)
    ]
    return sorted(found, key=lambda conference: (_date_key(conference), conference.id))


def focus(conferences: Sequence[Conference], today: dt.date) -> Conference | None:
    """The conference to chart among ``conferences`` (in date order): the next one to be held, else the last."""
    # Held on starts_at, or at the latest at the window's end: until then it is still to come.
    upcoming = [c for c in conferences if (last := c.starts_at or c.window_end) is None or local_date(last) >= today]
    if upcoming:
        return upcoming[0]
    return conferences[-1] if conferences else None


# --- computing -----------------------------------------------------------------------------------------


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LOCAL_TZ).date()


def _deadlines(conference: Conference, today: dt.date) -> tuple[Deadline, ...]:
    moments = [
        (DeadlineKind.NOMINATIONS, conference.nomination_deadline),
        (DeadlineKind.RSVP, conference.rsvp_deadline),
        (DeadlineKind.CONFERENCE, conference.starts_at),
        (DeadlineKind.HELD_BY, None if conference.starts_at else conference.window_end),
    ]
    return tuple(
        Deadline(kind, moment, local_date(moment), (local_date(moment) - today).days)
        for kind, moment in moments
        if moment is not None
    )


def _conference_date(conference: Conference) -> dt.date | None:
    moment = conference.starts_at or conference.window_start or conference.window_end
    return local_date(moment) if moment else None


async def _nomination_figures(session: AsyncSession, conference_id: int) -> NominationFigures:
    # Grouped by plain columns only, so the covering index ix_nomination_status_by_unit answers it in index
    # order; count(submitted_at) counts the ones sent in.
    statement = (
        select(
            Nomination.unit_id, Nomination.source, Nomination.status, func.count(Nomination.submitted_at), func.count()
        )
        .where(Nomination.conference_id == conference_id)
        .group_by(Nomination.unit_id, Nomination.source, Nomination.status)
    )
    by_status: dict[str, int] = dict.fromkeys(NominationStatus, 0)
    sent: dict[int, int] = defaultdict(int)
    received: dict[int | None, int] = defaultdict(int)
    approved: dict[int, int] = defaultdict(int)
    for unit_id, source, status, sent_in, count in (await session.execute(statement)).all():
        by_status[status] = by_status.get(status, 0) + count
        received[unit_id] += sent_in
        if unit_id is None:
            continue
        if source == FOCAL_POINT and status in COUNTS_AGAINST_ALLOWANCE:
            sent[unit_id] += count
        if status == NominationStatus.APPROVED:
            approved[unit_id] += count
    allowances = (
        await session.execute(
            select(UnitAllowance, OrgUnit.code, OrgUnit.name)
            .join(OrgUnit, OrgUnit.id == UnitAllowance.unit_id)
            .where(UnitAllowance.conference_id == conference_id)
            .order_by(UnitAllowance.id)
        )
    ).all()
    units = [
        UnitProgress(
            unit_id=allowance.unit_id,
            code=code,
            name=name,
            allowance=allowance.nominations,
            expected=allowance.expected_nominations,
            sent=sent[allowance.unit_id],
            received=received[allowance.unit_id],
            approved=approved[allowance.unit_id],
        )
        for allowance, code, name in allowances
    ]
    listed = {unit.unit_id for unit in units}
    others = {unit_id for unit_id in received if unit_id is not None and unit_id not in listed}
    if others:
        rows = await session.execute(select(OrgUnit.id, OrgUnit.code, OrgUnit.name).where(OrgUnit.id.in_(others)))
        extra = [
            UnitProgress(unit_id, code, name, None, None, sent[unit_id], received[unit_id], approved[unit_id])
            for unit_id, code, name in rows.all()
        ]
        units += sorted(extra, key=lambda unit: fold(unit.name))
    return NominationFigures(
        received=sum(received.values()),
        by_status=by_status,
        units=tuple(units),
        without_unit=received[None],
    )


@dataclass
class _BalanceQuery:
    """The conditional counts of one query over the accepted delegates: label → condition."""

    conditions: dict[str, ColumnElement[bool]] = field(default_factory=dict)

    def add(self, condition: ColumnElement[bool]) -> str:
        label = f"c{len(self.conditions)}"
        self.conditions[label] = condition
        return label


def _yes_no_condition(dimension: str, youth_years: tuple[int, int]) -> tuple[ColumnElement[bool], Any]:
    """(who is of this kind, the column whose NULL means not recorded) for a yes/no dimension."""
    data = reference()
    if dimension == "women":
        return Invitation.gender == WOMEN, Invitation.gender
    if dimension == "youth":
        return Invitation.birth_year.between(*youth_years), Invitation.birth_year
    if dimension == "ethnic_minority":
        codes = [entry.code for entry in data.ethnic_groups if entry.minority]
        return Invitation.ethnicity.in_(codes), Invitation.ethnicity
    codes = [entry.code for entry in data.occupation_groups if entry.direct_producer]
    return Invitation.occupation_group.in_(codes), Invitation.occupation_group


def _line(
    target: BalanceTarget, accepted: int, count: int, *, unknown: int, spread: tuple[tuple[str, int], ...] = ()
) -> BalanceLine:
    is_spread = target.dimension not in YES_NO_DIMENSIONS and not target.value
    return BalanceLine(
        dimension=target.dimension,
        value=target.value,
        target_share=target.target_share,
        comparison=target.comparison,
        accepted=accepted,
        count=count,
        unknown=unknown,
        gap=0 if is_spread else target_gap(target.target_share, target.comparison, accepted, count),
        spread=spread,
    )


async def _balance(
    session: AsyncSession,
    conference_id: int,
    targets: Sequence[BalanceTarget],
    youth_years: tuple[int, int],
) -> tuple[BalanceLine, ...]:
    """The balance lines, from one scan of the accepted delegates: conditional counts for the yes/no and
    one-value targets, grouped by the columns whose spread is shown (a few hundred groups at most)."""
    query = _BalanceQuery()
    plans: list[tuple[BalanceTarget, str | None, str | None]] = []
    for target in targets:
        if target.dimension in YES_NO_DIMENSIONS:
            condition, column = _yes_no_condition(target.dimension, youth_years)
            plans.append((target, query.add(condition), query.add(column.is_(None))))
        elif target.value:
            column = DIMENSION_COLUMNS[target.dimension]
            plans.append((target, query.add(column == target.value), query.add(column.is_(None))))
        else:
            plans.append((target, None, None))
    if not plans:
        return ()
    spread_dimensions = sorted({target.dimension for target, kind_label, _ in plans if kind_label is None})
    grouped = [DIMENSION_COLUMNS[dimension].label(f"by_{dimension}") for dimension in spread_dimensions]
    statement = (
        select(
            *grouped,
            func.count().label("accepted"),
            *(func.count(case((condition, 1))).label(label) for label, condition in query.conditions.items()),
        )
        .where(Invitation.conference_id == conference_id, Invitation.status == invitations.Status.ACCEPTED)
        .group_by(*grouped)
    )
    totals: dict[str, int] = defaultdict(int)
    spreads: dict[str, dict[str, int]] = {dimension: defaultdict(int) for dimension in spread_dimensions}
    for row in (await session.execute(statement)).mappings():
        for label in ("accepted", *query.conditions):
            totals[label] += int(row[label])
        for dimension in spread_dimensions:
            if row[f"by_{dimension}"] is not None:
                spreads[dimension][str(row[f"by_{dimension}"])] += int(row["accepted"])
    everyone = totals["accepted"]
    lines = []
    for target, kind_label, unknown_label in plans:
        if kind_label is None or unknown_label is None:
            known = tuple(sorted(spreads[target.dimension].items(), key=lambda item: (-item[1], item[0])))
            count = sum(n for _, n in known)
            lines.append(_line(target, everyone, count, unknown=everyone - count, spread=known))
        else:
            lines.append(_line(target, everyone, totals[kind_label], unknown=totals[unknown_label]))
    return tuple(lines)


def _pool_statuses(seat_pools: Sequence[SeatPool], counts: Sequence[PoolCount]) -> tuple[PoolStatus, ...]:
    """The seat counts of ``rules.seats.pool_counts`` with each pool's planned share of the accepted."""
    plan = {pool.code: pool for pool in seat_pools}
    everyone = sum(count.accepted for count in counts)
    pools = []
    for count in counts:
        planned = plan.get(count.code)
        share = planned.share if planned else None
        rule = planned.share_rule if planned else "min"
        pools.append(
            PoolStatus(
                code=count.code,
                title=count.title,
                share=share,
                share_rule=rule,
                seats=count.seats,
                invited=count.invited,
                accepted=count.accepted,
                declined=count.declined,
                pending=count.pending,
                waitlisted=count.waitlisted,
                checked_in=count.checked_in,
                share_of_accepted=count.accepted / everyone if everyone else None,
                share_gap=target_gap(share, rule, everyone, count.accepted) if everyone else 0,
            )
        )
    return tuple(pools)


def _warnings(
    deadlines: Iterable[Deadline], nominations: NominationFigures, pools: Sequence[PoolStatus], accepted: int
) -> tuple[StatusWarning, ...]:
    found: list[StatusWarning] = []
    for pool in pools:
        if pool.over:
            found.append(
                StatusWarning(
                    WarningKind.POOL_OVERFILLED,
                    pool.code,
                    {"accepted": pool.accepted, "seats": pool.seats, "over": pool.over},
                )
            )
    for pool in pools:
        if accepted and pool.share is not None and pool.share_rule == "min" and pool.share_gap:
            found.append(
                StatusWarning(
                    WarningKind.POOL_SHARE_LOW,
                    pool.code,
                    {"share": pool.share_of_accepted, "target": pool.share, "short": pool.share_gap},
                )
            )
    at_zero = nominations.units_at_zero
    for deadline in deadlines:
        if deadline.kind == DeadlineKind.NOMINATIONS and 0 <= deadline.days_left <= DEADLINE_WARNING_DAYS and at_zero:
            found.append(
                StatusWarning(
                    WarningKind.DEADLINE_UNITS_AT_ZERO,
                    None,
                    {"days_left": deadline.days_left, "units": len(at_zero), "names": [u.name for u in at_zero]},
                )
            )
    return tuple(found)


async def conference_status(
    session: AsyncSession, conference_id: int, *, today: dt.date, youth: YouthBand | None = None
) -> ConferenceStatus | None:
    """Everything /status shows about one conference on ``today`` (a local date); None if there is none."""
    conference = await session.get(Conference, conference_id)
    if conference is None:
        return None
    band = youth or YouthBand()
    campaign_code = await session.scalar(select(Campaign.code).where(Campaign.id == conference.campaign_id))
    seat_pools = list(
        await session.scalars(select(SeatPool).where(SeatPool.conference_id == conference_id).order_by(SeatPool.id))
    )
    targets = list(
        await session.scalars(
            select(BalanceTarget).where(BalanceTarget.conference_id == conference_id).order_by(BalanceTarget.id)
        )
    )
    deadlines = _deadlines(conference, today)
    held_on = _conference_date(conference)
    # Without a date yet, youth is counted as of today.
    year = (held_on or today).year
    youth_years = (year - band.max_age, year - band.min_age)
    nominations = await _nomination_figures(session, conference_id)
    balance = await _balance(session, conference_id, targets, youth_years)
    pools = _pool_statuses(seat_pools, await seats.pool_counts(session, conference_id))
    everyone = sum(pool.accepted for pool in pools)
    return ConferenceStatus(
        conference_id=conference.id,
        campaign_code=campaign_code or "",
        code=conference.code,
        level=conference.level,
        title=conference.title,
        capacity=conference.capacity,
        conference_date=held_on,
        today=today,
        youth=band,
        deadlines=deadlines,
        nominations=nominations,
        pools=pools,
        accepted=everyone,
        checked_in=sum(pool.checked_in for pool in pools),
        balance=balance,
        warnings=_warnings(deadlines, nominations, pools, everyone),
    )


async def statuses(
    session: AsyncSession, conferences: Iterable[Conference], *, today: dt.date, youth: YouthBand | None = None
) -> list[ConferenceStatus]:
    """:func:`conference_status` of each conference, in the given order."""
    found = []
    for conference in conferences:
        status = await conference_status(session, conference.id, today=today, youth=youth)
        if status is not None:
            found.append(status)
    return found


# --- labels (msgids; the caller translates) -----------------------------------------------------------

DIMENSION_LABELS = {
    "women": N_("Women"),
    "youth": N_("Young people ({min_age}–{max_age})"),
    "ethnic_minority": N_("Ethnic minorities"),
    "direct_producer": N_("Working directly in production or service"),
    "religion": N_("Religion"),
    "sector": N_("Sector or field"),
    "economic_sector": N_("Economic sector"),
    "occupation_group": N_("Occupation"),
}
# Dimensions whose values are codes of a reference list (attribute of ReferenceData).
VALUE_LISTS = {"religion": "religions", "economic_sector": "economic_sectors", "occupation_group": "occupation_groups"}


def value_label(t: Translate, dimension: str, value: str) -> str:
    """The label of a dimension's value (a reference code) in the reader's language; the code if unknown."""
    list_name = VALUE_LISTS.get(dimension)
    entry = getattr(reference(), list_name).get(value) if list_name else None
    if entry is None:
        return value
    return str(entry.label_en if t.locale == "en" else entry.label)


def dimension_label(t: Translate, line: BalanceLine, youth: YouthBand) -> str:
    """ "Women", "Young people (16–30)", "Occupation: Workers" … in the reader's language."""
    name = t(DIMENSION_LABELS[line.dimension], min_age=youth.min_age, max_age=youth.max_age)
    if not line.value:
        return name
    if line.dimension == "occupation_group":
        return value_label(t, line.dimension, line.value)
    return t(N_("{dimension}: {value}"), dimension=name, value=value_label(t, line.dimension, line.value))
