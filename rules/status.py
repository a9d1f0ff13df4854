"""Where a conference stands, for the organisers' /status: deadlines, nominations, seats, balance, warnings.

:func:`conference_status` computes one :class:`ConferenceStatus` with a handful of aggregate queries
(GROUP BY and conditional counts), whatever the number of nominations and invitations: no row of either
is loaded into Python. The presentation (text, chart, workbook) lives elsewhere and reads only the
dataclasses.

Definitions, so every figure can be counted by hand:

- **days left**: between local dates (Asia/Ho_Chi_Minh): 0 on the deadline's day, negative once past.
- **received**: nominations sent in at least once (``submitted_at`` set), whatever happened to them later;
  drafts never sent are counted by status only.
- **a unit's nominations**, **the allowance used**, **approved**, **units at zero**: as
  :mod:`rules.counts` defines them, the one definition the digest, the reminders, the chart and the
  workbook use too (a unit's nominations are the sent ones naming it, whoever sent them; only its focal
  point's use its allowance).
- **seats per pool** come from :func:`rules.seats.pool_counts`: **invited** counts the invitations handed out
  and not closed (pending, accepted, declined, waitlisted); proposed substitutes, replaced and cancelled
  invitations are not counted.
- **fill rate** of a pool: accepted / seats; its **gap**: seats − accepted (0 when full or over).
- **shares** are taken among the delegates who accepted. A balance target's **gap** is in people at the
  current number of accepted delegates: for a floor, how many more of them it would take to reach it
  (⌈target × accepted⌉ − count), for a ceiling, how many too many there are (count − ⌊target × accepted⌋).
- a pool's **share shortfall** (exemplars below 70% of the accepted): when the pool has seats, the plan's
  share is built into them (210 of 300 seats), so what it lacks is its **seats still empty** — the same
  number as its gap, never a figure of people "short" that disagrees with the seats; a pool without a seat
  count lacks ⌈share × accepted⌉ − accepted in it.
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
from typing import Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import counts, invitations, seats
from rules.balance import YouthBand, dimension_name
from rules.conferences import ends_at as conference_ends_at
from rules.i18n import N_
from rules.refdata import reference
from rules.seats import PoolCount
from rules.text import fold, title_for
from storage.models import BalanceTarget, Campaign, Conference, Invitation, SeatPool

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T = TypeVar("T")
# A nomination deadline this close (in days) with units that have sent nothing is a warning.
DEADLINE_WARNING_DAYS = 3
WOMEN = "nu"
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


# A unit's nominations and a conference's, as every screen counts them (see rules.counts).
UnitProgress = counts.UnitProgress
NominationFigures = counts.NominationCounts


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
    title_en: str | None = None

    def title_in(self, locale: str) -> str:
        """The pool's title in the reader's language: the plan's English title in English mode, if any."""
        return title_for(locale, self.title, self.title_en)

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
    title_en: str | None = None

    def title_in(self, locale: str) -> str:
        """The conference's title in the reader's language: the plan's English title in English mode, if any."""
        return title_for(locale, self.title, self.title_en)

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


def _last_day(conference: Conference) -> dt.datetime | None:
    """The moment after whose local day the conference is over: its day, else the last day it may be held
    (the window's end), else the nomination deadline; None when the plan dates nothing. The same end as
    ``rules.conferences.ends_at`` (which decides what is still offered), taken here by local day so /status
    keeps showing a conference through the day it is held."""
    return conference_ends_at(conference) or conference.nomination_deadline


def is_over(conference: Conference, now: dt.datetime) -> bool:
    """The conference's day (see :func:`current_conference`) is behind ``now``'s local date."""
    last = _last_day(conference)
    return last is not None and local_date(last) < local_date(now)


def current_conference(conferences: Sequence[Conference], now: dt.datetime) -> Conference | None:
    """The conference that is current at ``now`` among ``conferences`` (given in the order they are held):
    the first whose day — the conference day, else the end of its window, else its nomination deadline — has
    not passed yet, in Hà Nội dates, so a conference stays current through its own day (check-in); an
    undated conference is always current. When every one is over, the last held, so /status still has one
    to show. ``now`` is the application's injected clock (``context.now()``), never the wall clock.

    Plain ``/status`` and its chart show this conference; the others are named with their codes.
    """
    for conference in conferences:
        if not is_over(conference, now):
            return conference
    return conferences[-1] if conferences else None


def focus(conferences: Sequence[Conference], today: dt.date) -> Conference | None:
    """:func:`current_conference` on a local date (its noon in Hà Nội)."""
    noon = dt.datetime.combine(today, dt.time(12), tzinfo=LOCAL_TZ)
    return current_conference(conferences, noon)


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
    # Rows are (the grouped values…, accepted, the conditional counts…), read by position: a few hundred
    # groups times twenty counts is the Python work of every /status, done on the event loop.
    labels = ("accepted", *query.conditions)
    width = len(spread_dimensions)
    sums = [0] * len(labels)
    spreads: dict[str, dict[str, int]] = {dimension: defaultdict(int) for dimension in spread_dimensions}
    rows: list[tuple[Any, ...]] = [tuple(row) for row in (await session.execute(statement)).all()]
    for row in rows:
        counted: tuple[int, ...] = row[width:]
        for index, value in enumerate(counted):
            sums[index] += value
        for position, dimension in enumerate(spread_dimensions):
            if row[position] is not None:
                spreads[dimension][str(row[position])] += counted[0]
    totals = {label: int(total) for label, total in zip(labels, sums, strict=True)}
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


def _share_gap(share: float | None, rule: str, everyone: int, count: PoolCount) -> int:
    """People the pool lacks for (min) or has over (max) its planned share of the accepted; see the module
    docstring: a min pool with seats lacks exactly its empty seats."""
    if not everyone or share is None:
        return 0
    gap = target_gap(share, rule, everyone, count.accepted)
    if rule == "min" and gap and count.seats is not None:
        return max(count.seats - count.accepted, 0)
    return gap


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
                title_en=count.title_en,
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
                share_gap=_share_gap(share, rule, everyone, count),
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
    nominations = await counts.nomination_counts(session, conference_id, on_day=held_on)
    balance = await _balance(session, conference_id, targets, youth_years)
    pools = _pool_statuses(seat_pools, await seats.pool_counts(session, conference_id, seat_pools))
    everyone = sum(pool.accepted for pool in pools)
    return ConferenceStatus(
        conference_id=conference.id,
        campaign_code=campaign_code or "",
        code=conference.code,
        level=conference.level,
        title=conference.title,
        title_en=conference.title_en,
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
    name = dimension_name(t, line.dimension, youth)
    if not line.value:
        return name
    if line.dimension == "occupation_group":
        return value_label(t, line.dimension, line.value)
    return t(N_("{dimension}: {value}"), dimension=name, value=value_label(t, line.dimension, line.value))


# --- paging long lists ---------------------------------------------------------------------------------

PAGE_SIZE = 10


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: ``number`` from 1 to ``pages`` (1 of 1 for an empty list)."""

    items: tuple[T, ...]
    number: int
    pages: int


def page_of(items: Sequence[T], number: int, size: int = PAGE_SIZE) -> Page[T]:
    """Page ``number`` of ``items``; a number out of range gives the nearest page (an old button, a list
    that got shorter since it was shown)."""
    pages = max(-(-len(items) // size), 1)
    number = min(max(number, 1), pages)
    return Page(tuple(items[(number - 1) * size : number * size]), number, pages)


def units_in_order(figures: NominationFigures) -> tuple[UnitProgress, ...]:
    """The units as /status units lists them: those with no nomination first, then the others, each in
    plan order."""
    return (*figures.units_at_zero, *(unit for unit in figures.units if not unit.at_zero))
