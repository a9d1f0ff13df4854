"""Campaign plans: one YAML file sets up a campaign, its conferences, seats, balance targets and units.

A plan is what a district's "Kế hoạch" says, written as data (``data/plans/*.yaml``, see
``data/README.md``). :func:`load_plan_file` validates a file completely (types, then cross-references:
unit parents, allowance conference codes, movement codes in the reference data, pool shares adding up
to 1, deadlines before the conference) and raises :class:`~rules.refdata.DataFileError` naming the file,
the field and what was expected. :func:`apply_plan` writes a valid plan to the database by codes, so
loading the same file twice changes nothing and loading an edited file updates the rows in place.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo

from pydantic import Field, PlainValidator, PrivateAttr, ValidationError, model_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.arrangements import arrangement_of, layer
from rules.i18n import N_, Wording
from rules.refdata import (
    DATA_DIR,
    AwareDateTime,
    Count,
    DataFileError,
    Date,
    Label,
    ReferenceData,
    Share,
    SnakeCode,
    StrictModel,
    Text,
    Version,
    WholeNumber,
    error_from_validation,
    expected,
    read_yaml,
    reference,
)
from rules.text import fold
from storage.models import BalanceTarget, Campaign, Conference, Invitation, OrgUnit, SeatPool, UnitAllowance

if TYPE_CHECKING:
    from storage.db import Database

PLANS_DIR = DATA_DIR / "plans"
SEED_PLAN = PLANS_DIR / "tay-ho-2020.yaml"
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Yes/no dimensions count delegates who are women, young, of a minority group, or in an occupation group
# flagged direct_producer; the others count one category (``value``) or, with no value, report the spread.
YES_NO_DIMENSIONS = frozenset({"women", "youth", "ethnic_minority", "direct_producer"})
# Dimensions whose values are codes of a reference list (attribute of ReferenceData, file name).
DIMENSION_LISTS = {
    "religion": ("religions", "religions.yaml"),
    "economic_sector": ("economic_sectors", "economic_sectors.yaml"),
    "occupation_group": ("occupation_groups", "occupation_groups.yaml"),
}

Dimension = Literal[
    "women",
    "youth",
    "ethnic_minority",
    "direct_producer",
    "religion",
    "sector",
    "economic_sector",
    "occupation_group",
]
ShareRule = Literal["min", "max"]
Level = Literal["grassroots", "district", "city", "national"]
UnitKind = Literal[
    "district",
    "ward",
    "residential_group",
    "office",
    "public_service",
    "school",
    "mass_org",
    "armed_forces",
    "vertical_agency",
    "enterprise_block",
    "enterprise",
]

_PLAN_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_CODE_PREFIX = re.compile(r"[A-Z]{1,16}")


def _plan_code(value: object) -> str:
    if isinstance(value, str) and _PLAN_CODE.fullmatch(value):
        return value
    raise expected(N_("a lowercase code of letters, digits and hyphens such as tay-ho-2020"))


def _code_prefix(value: object) -> str:
    if isinstance(value, str) and _CODE_PREFIX.fullmatch(value):
        return value
    raise expected(N_("1 to 16 capital ascii letters such as DH"))


def _pool_code(value: object) -> str:
    # The database keeps a pool's code in VARCHAR(32).
    if isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,31}", value):
        return value
    raise expected(N_("an ascii snake_case code of up to 32 characters such as exemplar"))


def _code_or_empty(value: object) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", value):
        return value
    raise expected(N_("an ascii snake_case code such as nong_dan, or nothing"))


PlanCode = Annotated[str, PlainValidator(_plan_code)]
CodePrefix = Annotated[str, PlainValidator(_code_prefix)]
PoolCode = Annotated[str, PlainValidator(_pool_code)]
CodeOrEmpty = Annotated[str, PlainValidator(_code_or_empty)]


# --- schema --------------------------------------------------------------------------------------------


class LegalBasis(StrictModel):
    """The law a nomination under the plan is made under: a short code and the texts in full."""

    code: SnakeCode
    texts: tuple[Text, ...] = Field(min_length=1)


class YouthDefinition(StrictModel):
    """Who counts as young: aged from a full ``min_age`` to ``max_age`` on the conference date."""

    min_age: Count = 16
    max_age: WholeNumber = 30
    source: Text | None = None

    @model_validator(mode="after")
    def _band(self) -> YouthDefinition:
        if self.max_age < self.min_age:
            raise expected(N_("max_age at least min_age"))
        return self


def _check_english_title(title: str, title_en: str | None) -> None:
    """A ``title_en`` is an English title: not the Vietnamese one copied, and not written with Vietnamese
    letters (a name inside it may keep its marks: "Tây Hồ District Exemplars' Conference")."""
    if title_en is None:
        return
    if fold(title_en) == fold(title):
        raise expected(N_("title_en in English, not the Vietnamese title again"))
    words = title_en.split()
    if sum(1 for word in words if not word.isascii()) * 2 > len(words):
        raise expected(N_("title_en in English: most of its words are Vietnamese"))


class SeatPoolSpec(StrictModel):
    """A category of seats: ``min`` shares are floors (exemplars ≥ 70%), ``max`` shares ceilings."""

    code: PoolCode
    title: Label
    title_en: Label | None = None
    share: Share
    share_rule: ShareRule

    @model_validator(mode="after")
    def _english_title(self) -> SeatPoolSpec:
        _check_english_title(self.title, self.title_en)
        return self


class BalanceTargetSpec(StrictModel):
    """A soft target on one dimension of the delegates, or ``report_only`` to show the spread."""

    dimension: Dimension
    value: CodeOrEmpty = ""
    target_share: Share | None = None
    comparison: ShareRule = "min"
    report_only: bool = False

    @model_validator(mode="after")
    def _target_or_report(self) -> BalanceTargetSpec:
        if self.report_only and self.target_share is not None:
            raise expected(N_("either target_share or report_only: true, not both"))
        if not self.report_only and self.target_share is None:
            raise expected(N_("a target_share such as 0.30, or report_only: true"))
        return self


class ConferenceSpec(StrictModel):
    """One conference level of the plan; times carry their UTC offset."""

    code: SnakeCode
    level: Level
    title: Label
    title_en: Label | None = None  # shown in English mode; the Vietnamese title stays the one of record
    composition: Text | None = None
    venue: Text | None = None
    what_to_bring: Text | None = None
    duration_minutes: WholeNumber | None = None
    window_start: AwareDateTime | None = None
    window_end: AwareDateTime | None = None
    starts_at: AwareDateTime | None = None
    nomination_deadline: AwareDateTime | None = None
    rsvp_deadline: AwareDateTime | None = None
    capacity: WholeNumber | None = None
    pools: tuple[SeatPoolSpec, ...] = Field(min_length=1)
    balance_targets: tuple[BalanceTargetSpec, ...] = ()

    @model_validator(mode="after")
    def _english_title(self) -> ConferenceSpec:
        _check_english_title(self.title, self.title_en)
        return self


class AllowanceSpec(StrictModel):
    """How many nominations a unit may submit to one conference, how many are expected, and its seats."""

    nominations: Count
    expected: Count | None = None
    seats: Count | None = None


class UnitSpec(StrictModel):
    """A submitting unit; ``parent`` is another unit's code in the same file."""

    code: SnakeCode
    name: Label
    kind: UnitKind
    parent: SnakeCode | None = None
    valid_from: Date | None = None
    valid_to: Date | None = None
    # conference code -> allowance
    allowances: dict[SnakeCode, AllowanceSpec] = Field(default_factory=dict)


class LetterSpec(StrictModel):
    """How the printed invitations (giấy mời) are headed and signed, as the office writes its letters.

    Everything is optional, so a plan without a ``letter`` section still prints: ``issuer`` heads the
    letter alone, the place line starts at "ngày …", and the signature is "TM. BAN TỔ CHỨC" with room to
    sign. ``parent_body`` is the body above the issuer (cơ quan chủ quản), printed over it; ``place`` the
    place name of the date line ("Tây Hồ, ngày … tháng … năm …"); ``number`` the document's number sign
    after "Số:", typically ``/GM-UBND`` with the number written in by the clerk; ``signer_title`` the lines
    above the signature ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"); ``signer_name`` who signs.
    """

    parent_body: Label | None = None
    place: Label | None = None
    number: Label | None = None
    signer_title: tuple[Label, ...] = ()
    signer_name: Label | None = None


class DataControllerSpec(StrictModel):
    """Who is responsible for the personal data the bot holds under this plan (bên kiểm soát dữ liệu cá
    nhân, Law 91/2025/QH15) and how a person reaches them: shown by /privacy. ``name`` defaults to the
    plan's ``issuer``; ``contact`` is who answers requests (an office, its phone or e-mail)."""

    name: Label | None = None
    address: Label | None = None
    contact: Label | None = None
    phone: Label | None = None
    email: Label | None = None


class PlanFile(StrictModel):
    """A whole plan file. ``path`` and ``sha256`` say which file it was read from, when it was."""

    code: PlanCode
    version: Version
    title: Label
    issuer: Label | None = None
    letter: LetterSpec = Field(default_factory=LetterSpec)
    data_controller: DataControllerSpec = Field(default_factory=DataControllerSpec)
    source: Text
    legal_basis: LegalBasis
    valid_from: Date
    valid_to: Date | None = None
    code_prefix: CodePrefix = "DH"
    movements: tuple[SnakeCode, ...] = ()
    youth: YouthDefinition = Field(default_factory=YouthDefinition)
    conferences: tuple[ConferenceSpec, ...] = Field(min_length=1)
    units: tuple[UnitSpec, ...] = ()

    _path: Path | None = PrivateAttr(default=None)
    _sha256: str | None = PrivateAttr(default=None)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def sha256(self) -> str | None:
        return self._sha256

    def conference(self, code: str) -> ConferenceSpec:
        for conference in self.conferences:
            if conference.code == code:
                return conference
        raise KeyError(code)


# --- seats ---------------------------------------------------------------------------------------------


class PoolShare(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def share(self) -> float: ...
    @property
    def share_rule(self) -> str: ...


def _exact(share: float) -> Fraction:
    # Shares have at most 4 decimals (the database stores Numeric(5, 4)); 0.3 must be exactly 3/10.
    return Fraction(round(share * 10_000), 10_000)


def pool_seats(capacity: int | None, pools: Sequence[PoolShare]) -> dict[str, int | None]:
    """The seats of each pool of a conference with ``capacity`` seats.

    A ``max`` pool (guests and leaders ≤ 30%) gets its share rounded down, so it never exceeds its
    ceiling; the ``min`` pools (exemplars ≥ 70%) share what is left, in proportion to their shares
    (largest remainders get the odd seats), so they never fall below their floors. With capacity 300,
    exemplars 0.70 min and guests 0.30 max this gives 210 and 90. Without a capacity a pool is a share
    only, and every pool's seats are ``None``. If there is no ``min`` pool, leftover seats stay unassigned.
    """
    if capacity is None:
        return {pool.code: None for pool in pools}
    seats: dict[str, int | None] = {}
    for pool in pools:
        if pool.share_rule == "max":
            seats[pool.code] = math.floor(_exact(pool.share) * capacity)
    remainder = capacity - sum(seat or 0 for seat in seats.values())
    floors = [pool for pool in pools if pool.share_rule != "max"]
    total = sum((_exact(pool.share) for pool in floors), Fraction(0))
    if not floors or total == 0:
        return {pool.code: seats.get(pool.code) for pool in pools}
    quotas = {pool.code: remainder * _exact(pool.share) / total for pool in floors}
    for code, quota in quotas.items():
        seats[code] = math.floor(quota)
    leftover = remainder - sum(math.floor(quota) for quota in quotas.values())
    by_fraction = sorted(quotas, key=lambda code: quotas[code] - math.floor(quotas[code]), reverse=True)
    for code in by_fraction[:leftover]:
        seats[code] = (seats[code] or 0) + 1
    return {pool.code: seats[pool.code] for pool in pools}


# --- validation ----------------------------------------------------------------------------------------


def _fmt(moment: dt.datetime) -> str:
    return moment.isoformat(sep=" ")


def _first_repeat(values: Iterable[Hashable]) -> tuple[int, int] | None:
    """(index of the repeat, index of the first occurrence) of the first repeated value, if any."""
    seen: dict[Hashable, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            return index, seen[value]
        seen[value] = index
    return None


class _Checker:
    """The cross-field and cross-reference checks of a plan; each failure is one DataFileError."""

    def __init__(self, plan: PlanFile, file: Path | str) -> None:
        self.plan = plan
        self.file = file

    def fail(self, path: str, what: str, /, **values: object) -> DataFileError:
        """The problem at ``path``: ``what`` is a msgid, with its ``values``."""
        return DataFileError(self.file, path, Wording.of(what, **values))

    def check_internal(self) -> None:
        """Checks that need nothing but the plan itself."""
        plan = self.plan
        if plan.valid_to is not None and plan.valid_to < plan.valid_from:
            raise self.fail("valid_to", N_("a date on or after valid_from"))
        repeat = _first_repeat(conference.code for conference in plan.conferences)
        if repeat:
            raise self.fail(f"conferences[{repeat[0]}].code", N_("a code no other conference of the plan uses"))
        for index, conference in enumerate(plan.conferences):
            self._check_times(f"conferences[{index}]", conference)
            self._check_pools(f"conferences[{index}]", conference)
        self._check_units()

    def check_references(self, data: ReferenceData) -> None:
        """Checks against the reference lists (movements, balance-target values)."""
        plan = self.plan
        repeat = _first_repeat(plan.movements)
        if repeat:
            raise self.fail(f"movements[{repeat[0]}]", N_("a movement not already listed"))
        for index, code in enumerate(plan.movements):
            movement = data.movements.get(code)
            if movement is None:
                raise self.fail(
                    f"movements[{index}]",
                    N_("a movement code from data/reference/movements.yaml (there is no '{code}')"),
                    code=code,
                )
            ended = movement.valid_to is not None and movement.valid_to < plan.valid_from
            not_begun = (
                movement.valid_from is not None and plan.valid_to is not None and movement.valid_from > plan.valid_to
            )
            if ended or not_begun:
                raise self.fail(
                    f"movements[{index}]", N_("a movement that runs during the plan ('{code}' does not)"), code=code
                )
        for index, conference in enumerate(plan.conferences):
            self._check_targets(f"conferences[{index}]", conference, data)

    def _check_times(self, at: str, conference: ConferenceSpec) -> None:
        start, end, starts_at = conference.window_start, conference.window_end, conference.starts_at
        if start is not None and end is not None and end <= start:
            raise self.fail(f"{at}.window_end", N_("a time after window_start ({time})"), time=_fmt(start))
        if starts_at is not None and (
            (start is not None and starts_at < start) or (end is not None and starts_at > end)
        ):
            raise self.fail(f"{at}.starts_at", N_("a time inside the window (window_start to window_end)"))
        limit, limit_name = (starts_at, "starts_at") if starts_at is not None else (end, "window_end")
        for name in ("nomination_deadline", "rsvp_deadline"):
            deadline = getattr(conference, name)
            if deadline is not None and limit is not None and deadline >= limit:
                raise self.fail(
                    f"{at}.{name}", N_("a time before {field} ({time})"), field=limit_name, time=_fmt(limit)
                )
        nominations, answers = conference.nomination_deadline, conference.rsvp_deadline
        if nominations is not None and answers is not None and answers <= nominations:
            raise self.fail(
                f"{at}.rsvp_deadline", N_("a time after nomination_deadline ({time})"), time=_fmt(nominations)
            )

    def _check_pools(self, at: str, conference: ConferenceSpec) -> None:
        repeat = _first_repeat(pool.code for pool in conference.pools)
        if repeat:
            raise self.fail(f"{at}.pools[{repeat[0]}].code", N_("a code no other pool of the conference uses"))
        total = sum((_exact(pool.share) for pool in conference.pools), Fraction(0))
        if total != 1:
            raise self.fail(
                f"{at}.pools", N_("shares that add up to 1 (these add up to {total})"), total=f"{float(total):g}"
            )

    def _check_targets(self, at: str, conference: ConferenceSpec, data: ReferenceData) -> None:
        repeat = _first_repeat((target.dimension, target.value) for target in conference.balance_targets)
        if repeat:
            raise self.fail(
                f"{at}.balance_targets[{repeat[0]}]", N_("one target per dimension and value (this one repeats)")
            )
        for index, target in enumerate(conference.balance_targets):
            where = f"{at}.balance_targets[{index}].value"
            if target.dimension in YES_NO_DIMENSIONS and target.value:
                raise self.fail(where, N_("no value: {dimension} is a yes/no dimension"), dimension=target.dimension)
            if target.dimension in DIMENSION_LISTS and target.value:
                attribute, file_name = DIMENSION_LISTS[target.dimension]
                if target.value not in getattr(data, attribute):
                    raise self.fail(
                        where,
                        N_("a code from data/reference/{file} (there is no '{code}')"),
                        file=file_name,
                        code=target.value,
                    )

    def _check_units(self) -> None:
        plan = self.plan
        repeat = _first_repeat(unit.code for unit in plan.units)
        if repeat:
            raise self.fail(f"units[{repeat[0]}].code", N_("a code no other unit uses"))
        parents = {unit.code: unit.parent for unit in plan.units}
        conferences = {conference.code: conference for conference in plan.conferences}
        seats: dict[str, int] = {}
        for index, unit in enumerate(plan.units):
            at = f"units[{index}]"
            if unit.parent is not None and unit.parent not in parents:
                raise self.fail(
                    f"{at}.parent", N_("the code of a unit in this file (there is no '{code}')"), code=unit.parent
                )
            if _in_cycle(unit.code, parents):
                raise self.fail(f"{at}.parent", N_("a parent that is not the unit itself or one of its descendants"))
            if unit.valid_from is not None and unit.valid_to is not None and unit.valid_to < unit.valid_from:
                raise self.fail(f"{at}.valid_to", N_("a date on or after valid_from"))
            for code, allowance in unit.allowances.items():
                if code not in conferences:
                    raise self.fail(
                        f"{at}.allowances.{code}",
                        N_("a conference code of this plan ({codes})"),
                        codes=", ".join(conferences),
                    )
                if allowance.expected is not None and allowance.expected > allowance.nominations:
                    raise self.fail(
                        f"{at}.allowances.{code}.expected",
                        N_("at most nominations ({count})"),
                        count=allowance.nominations,
                    )
                seats[code] = seats.get(code, 0) + (allowance.seats or 0)
                capacity = conferences[code].capacity
                if capacity is not None and seats[code] > capacity:
                    raise self.fail(
                        f"{at}.allowances.{code}.seats",
                        N_("unit seats adding up to at most the capacity of {code} ({capacity})"),
                        code=code,
                        capacity=capacity,
                    )


def _in_cycle(code: str, parents: Mapping[str, str | None]) -> bool:
    seen = {code}
    parent = parents.get(code)
    while parent is not None:
        if parent in seen:
            return True
        seen.add(parent)
        parent = parents.get(parent)
    return False


def validate_plan(plan: PlanFile, data: ReferenceData | None = None) -> None:
    """Check a parsed plan's cross-references; raise DataFileError for the first problem."""
    checker = _Checker(plan, plan.path or "<plan>")
    checker.check_internal()
    checker.check_references(data if data is not None else reference())


def load_plan_file(path: Path | str, data: ReferenceData | None = None) -> PlanFile:
    """Read and fully validate the plan in ``path``; raise DataFileError for the first problem found."""
    path = Path(path)
    raw_data, raw = read_yaml(path)
    try:
        plan = PlanFile.model_validate(raw_data)
    except ValidationError as exc:
        raise error_from_validation(path, exc) from None
    plan._path = path
    plan._sha256 = hashlib.sha256(raw).hexdigest()
    validate_plan(plan, data)
    return plan


# --- moving a plan in time (offline demo) --------------------------------------------------------------

_DateT = TypeVar("_DateT", dt.date, dt.datetime)


def _add_years(moment: _DateT, years: int) -> _DateT:
    year = moment.year + years
    day = min(moment.day, calendar.monthrange(year, moment.month)[1])  # 29 February → 28 February
    return moment.replace(year=year, day=day)


def _deadlines(plan: PlanFile) -> list[dt.datetime]:
    deadlines = [
        moment
        for conference in plan.conferences
        for moment in (conference.nomination_deadline, conference.rsvp_deadline)
        if moment is not None
    ]
    if deadlines:
        return deadlines
    return [
        moment
        for conference in plan.conferences
        for moment in (conference.starts_at, conference.window_end)
        if moment is not None
    ]


def shift_plan_dates(
    plan: PlanFile, today: dt.date, *, by: Literal["years", "days"] = "years", lead_days: int = 14
) -> PlanFile:
    """A copy of ``plan`` with every date moved so that its earliest deadline lies after ``today``.

    ``by="years"`` moves every date by the smallest whole number of years that puts the earliest
    deadline (local date) after ``today``, so "before 15/3" and "Quý II" keep their meaning; 29 February
    becomes 28 February in a common year. ``by="days"`` moves every date by the same number of days so the
    earliest deadline falls ``lead_days`` after ``today``. A plan whose deadlines already lie ahead comes
    back unchanged. Only the copy moves: the file keeps its dates, and the copy keeps the file's sha256.
    """
    deadlines = _deadlines(plan)
    if not deadlines:
        return plan.model_copy(deep=True)
    earliest = min(deadlines).astimezone(LOCAL_TZ).date()
    if earliest > today:
        return plan.model_copy(deep=True)
    years = max(1, today.year - earliest.year)
    while _add_years(earliest, years) <= today:
        years += 1
    days = dt.timedelta(days=(today - earliest).days + lead_days)

    def move(moment: Any) -> Any:
        if moment is None:
            return None
        return _add_years(moment, years) if by == "years" else moment + days

    def moved(model: StrictModel, names: Iterable[str]) -> dict[str, Any]:
        return {name: move(getattr(model, name)) for name in names}

    conference_times = (
        "window_start",
        "window_end",
        "starts_at",
        "nomination_deadline",
        "rsvp_deadline",
    )
    shifted = plan.model_copy(
        deep=True,
        update={
            **moved(plan, ("valid_from", "valid_to")),
            "conferences": tuple(
                conference.model_copy(update=moved(conference, conference_times)) for conference in plan.conferences
            ),
            "units": tuple(unit.model_copy(update=moved(unit, ("valid_from", "valid_to"))) for unit in plan.units),
        },
    )
    _Checker(shifted, plan.path or "<plan>").check_internal()
    return shifted


# --- writing a plan to the database --------------------------------------------------------------------


@dataclass(frozen=True)
class ConferenceSummary:
    code: str
    title: str
    capacity: int | None
    # (pool code, seats) in plan order; seats is None when the conference has no capacity.
    pool_seats: tuple[tuple[str, int | None], ...]
    created: bool
    updated: bool
    # The pools' titles by code, as the plan names them for people ("Đại biểu điển hình tiên tiến").
    pool_titles: tuple[tuple[str, str], ...] = ()


def _english(msgid: str, **values: object) -> str:
    return msgid.format(**values) if values else msgid


@dataclass(frozen=True)
class PlanSummary:
    """What :func:`apply_plan` did, for a CLI or a log line."""

    campaign_code: str
    plan_version: str
    plan_sha256: str | None
    created: bool
    updated: bool
    conferences: tuple[ConferenceSummary, ...]
    units: int
    units_created: int
    units_updated: int
    # Rows the file no longer lists: pools, targets and allowances are deleted; conferences are kept
    # (they hold nominations) and only reported.
    removed: tuple[str, ...] = ()
    not_in_file: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return (
            self.created
            or self.updated
            or self.units_created > 0
            or self.units_updated > 0
            or bool(self.removed)
            or any(conference.created or conference.updated for conference in self.conferences)
        )

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self, t: Callable[..., str] = _english) -> list[str]:
        """A short report, one line per item, worded by ``t`` (a translator; English without one)."""
        state = t(N_("created")) if self.created else t(N_("updated")) if self.changed else t(N_("unchanged"))
        lines = [
            t(
                N_("campaign {code} (version {version}, sha256 {sha}): {state}"),
                code=self.campaign_code,
                version=self.plan_version,
                sha=self.plan_sha256[:12],
                state=state,
            )
            if self.plan_sha256
            else t(
                N_("campaign {code} (version {version}): {state}"),
                code=self.campaign_code,
                version=self.plan_version,
                state=state,
            )
        ]
        for conference in self.conferences:
            capacity = (
                t(N_("no capacity"))
                if conference.capacity is None
                else t(N_("capacity {count}"), count=conference.capacity)
            )
            titles = dict(conference.pool_titles)
            pools = ", ".join(
                t(N_("{pool} share only"), pool=titles.get(code, code))
                if seats is None
                else t(N_("{pool} {count} seats"), pool=titles.get(code, code), count=seats)
                for code, seats in conference.pool_seats
            )
            lines.append(
                "  "
                + t(N_("conference {code}: {capacity}; {pools}"), code=conference.code, capacity=capacity, pools=pools)
            )
        lines.append(
            "  "
            + t(
                N_("units: {count} ({created} created, {updated} updated)"),
                count=self.units,
                created=self.units_created,
                updated=self.units_updated,
            )
        )
        lines.extend("  " + t(N_("removed: {item}"), item=_removed_item(t, item)) for item in self.removed)
        lines.extend(
            "  " + t(N_("in the database but not in the file: {item}"), item=_removed_item(t, item))
            for item in self.not_in_file
        )
        return lines


# What a load removed, as the summary keeps it ("conference district: pool guest"), in words of the reader.
_REMOVED = (
    (re.compile(r"conference (?P<code>\S+): pool (?P<item>.+)"), N_("conference {code}: pool {item}")),
    (
        re.compile(r"conference (?P<code>\S+): balance target (?P<item>.+)"),
        N_("conference {code}: balance target {item}"),
    ),
    (
        re.compile(r"conference (?P<code>\S+): allowance of unit id (?P<item>.+)"),
        N_("conference {code}: allowance of unit id {item}"),
    ),
    (re.compile(r"conference (?P<code>\S+)"), N_("conference {code}")),
)


def _removed_item(t: Callable[..., str], item: str) -> str:
    for pattern, msgid in _REMOVED:
        match = pattern.fullmatch(item)
        if match:
            return t(msgid, **match.groupdict(""))
    return item


def _assign(row: Any, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; True if any did. Equal values are left alone, so no UPDATE."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else moment.astimezone(dt.UTC)


RowT = TypeVar("RowT")
KeyT = TypeVar("KeyT", bound=Hashable)


@dataclass
class _SyncResult:
    created: int = 0
    updated: int = 0
    removed: list[Any] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.removed)


async def _sync_children(
    session: AsyncSession,
    existing: Iterable[RowT],
    key: Callable[[RowT], KeyT],
    wanted: Mapping[KeyT, Mapping[str, Any]],
    make: Callable[[KeyT], RowT],
) -> _SyncResult:
    """Make the rows match ``wanted`` (key -> column values): update, create, delete the rest."""
    result = _SyncResult()
    rows = {key(row): row for row in existing}
    for row_key, values in wanted.items():
        row = rows.pop(row_key, None)
        if row is None:
            row = make(row_key)
            _assign(row, values)
            session.add(row)
            result.created += 1
        elif _assign(row, values):
            result.updated += 1
    for row_key, row in rows.items():
        await session.delete(row)
        result.removed.append(row_key)
    return result


async def _apply_campaign(session: AsyncSession, plan: PlanFile) -> tuple[Campaign, bool, bool]:
    values = {
        "title": plan.title,
        "issuer": plan.issuer,
        "letter": plan.letter.model_dump(mode="json", exclude_defaults=True) or None,
        "data_controller": plan.data_controller.model_dump(mode="json", exclude_defaults=True) or None,
        "legal_basis": "\n".join(plan.legal_basis.texts),
        "source": plan.source,
        "valid_from": plan.valid_from,
        "valid_to": plan.valid_to,
        "code_prefix": plan.code_prefix,
        "plan_version": plan.version,
        "plan_sha256": plan.sha256,
        "movements": list(plan.movements),
    }
    campaign = await session.scalar(select(Campaign).where(Campaign.code == plan.code))
    if campaign is None:
        campaign = Campaign(code=plan.code, **values)
        session.add(campaign)
        await session.flush()
        return campaign, True, False
    return campaign, False, _assign(campaign, values)


def _parents_first(units: Sequence[UnitSpec]) -> list[UnitSpec]:
    by_code = {unit.code: unit for unit in units}

    def depth(unit: UnitSpec) -> int:
        level = 0
        while unit.parent is not None:
            unit = by_code[unit.parent]
            level += 1
        return level

    return sorted(units, key=depth)


async def _apply_units(session: AsyncSession, plan: PlanFile) -> tuple[dict[str, int], int, int]:
    codes = [unit.code for unit in plan.units]
    rows = {row.code: row for row in await session.scalars(select(OrgUnit).where(OrgUnit.code.in_(codes)))}
    ids: dict[str, int] = {}
    created = updated = 0
    for unit in _parents_first(plan.units):
        values = {
            "name": unit.name,
            "name_fold": fold(unit.name),
            "kind": unit.kind,
            "parent_id": None if unit.parent is None else ids[unit.parent],
            "valid_from": unit.valid_from,
            "valid_to": unit.valid_to,
        }
        row = rows.get(unit.code)
        if row is None:
            row = OrgUnit(code=unit.code, **values)
            session.add(row)
            await session.flush()
            created += 1
        elif _assign(row, values):
            updated += 1
        ids[unit.code] = row.id
    return ids, created, updated


async def _apply_conference(
    session: AsyncSession,
    plan: PlanFile,
    index: int,
    campaign: Campaign,
    spec: ConferenceSpec,
    unit_ids: Mapping[str, int],
) -> tuple[ConferenceSummary, list[str]]:
    values = {
        "level": spec.level,
        "title": spec.title,
        "title_en": spec.title_en,
        "composition": spec.composition,
        "venue": spec.venue,
        "what_to_bring": spec.what_to_bring,
        "duration_minutes": spec.duration_minutes,
        "window_start": _utc(spec.window_start),
        "window_end": _utc(spec.window_end),
        "starts_at": _utc(spec.starts_at),
        "nomination_deadline": _utc(spec.nomination_deadline),
        "rsvp_deadline": _utc(spec.rsvp_deadline),
        "capacity": spec.capacity,
    }
    conference = await session.scalar(
        select(Conference).where(Conference.campaign_id == campaign.id, Conference.code == spec.code)
    )
    created = conference is None
    if conference is not None:
        # A day, time or venue organisers set in chat stays over the plan's (rules.arrangements).
        values = layer(values, await arrangement_of(session, conference.id))
    if conference is None:
        conference = Conference(campaign_id=campaign.id, code=spec.code, **values)
        session.add(conference)
        await session.flush()
        updated = False
    else:
        updated = _assign(conference, values)
    conference_id = conference.id

    seats = pool_seats(spec.capacity, spec.pools)
    existing_pools = list(await session.scalars(select(SeatPool).where(SeatPool.conference_id == conference_id)))
    await _refuse_removing_used_pools(session, plan, index, conference_id, existing_pools, spec)
    pools = await _sync_children(
        session,
        existing_pools,
        lambda row: row.code,
        {
            pool.code: {
                "title": pool.title,
                "title_en": pool.title_en,
                "share": pool.share,
                "share_rule": pool.share_rule,
                "seats": seats[pool.code],
            }
            for pool in spec.pools
        },
        lambda code: SeatPool(conference_id=conference_id, code=code),
    )
    wanted_targets: dict[tuple[str, str], dict[str, Any]] = {
        (target.dimension, target.value): {"target_share": target.target_share, "comparison": target.comparison}
        for target in spec.balance_targets
    }
    targets = await _sync_children(
        session,
        await session.scalars(select(BalanceTarget).where(BalanceTarget.conference_id == conference_id)),
        lambda row: (row.dimension, row.value),
        wanted_targets,
        lambda key: BalanceTarget(conference_id=conference_id, dimension=key[0], value=key[1]),
    )
    allowances = await _sync_children(
        session,
        await session.scalars(select(UnitAllowance).where(UnitAllowance.conference_id == conference_id)),
        lambda row: row.unit_id,
        {
            unit_ids[unit.code]: {
                "nominations": allowance.nominations,
                "expected_nominations": allowance.expected,
                "seats": allowance.seats,
            }
            for unit in plan.units
            for code, allowance in unit.allowances.items()
            if code == spec.code
        },
        lambda unit_id: UnitAllowance(conference_id=conference_id, unit_id=unit_id),
    )
    # Kept as plain text for logs; PlanSummary.lines words them for the reader (_REMOVED).
    removed = [f"conference {spec.code}: pool {code}" for code in pools.removed]
    removed += [f"conference {spec.code}: balance target {dim} {value}".rstrip() for dim, value in targets.removed]
    removed += [f"conference {spec.code}: allowance of unit id {unit_id}" for unit_id in allowances.removed]
    summary = ConferenceSummary(
        code=spec.code,
        title=spec.title,
        capacity=spec.capacity,
        pool_seats=tuple((pool.code, seats[pool.code]) for pool in spec.pools),
        pool_titles=tuple((pool.code, pool.title) for pool in spec.pools),
        created=created,
        updated=not created and (updated or pools.changed or targets.changed or allowances.changed),
    )
    return summary, removed


async def _refuse_removing_used_pools(
    session: AsyncSession,
    plan: PlanFile,
    index: int,
    conference_id: int,
    existing: Iterable[SeatPool],
    spec: ConferenceSpec,
) -> None:
    kept = {pool.code for pool in spec.pools}
    for pool in existing:
        if pool.code in kept:
            continue
        invited = await session.scalar(
            select(func.count())
            .select_from(Invitation)
            .where(Invitation.conference_id == conference_id, Invitation.pool_code == pool.code)
        )
        if invited:
            raise DataFileError(
                plan.path or "<plan>",
                f"conferences[{index}].pools",
                Wording.of(
                    N_("the pool '{code}' to stay: {count} invitation(s) are in it"), code=pool.code, count=invited
                ),
            )


async def apply_plan(session: AsyncSession, plan: PlanFile) -> PlanSummary:
    """Create or update the campaign, units, conferences, pools, targets and allowances of ``plan``.

    Rows are matched by code (campaign; conference within the campaign; unit; pool within the
    conference; target by dimension and value; allowance by unit), and only differing columns are
    written, so applying the same plan twice changes nothing. Pools, targets and allowances the plan no
    longer lists are deleted (a pool that still holds invitations stops the load); conferences and units
    are never deleted. Does not commit: the caller owns the transaction.
    """
    campaign, created, updated = await _apply_campaign(session, plan)
    unit_ids, units_created, units_updated = await _apply_units(session, plan)
    conferences: list[ConferenceSummary] = []
    removed: list[str] = []
    for index, spec in enumerate(plan.conferences):
        summary, gone = await _apply_conference(session, plan, index, campaign, spec, unit_ids)
        conferences.append(summary)
        removed.extend(gone)
    listed = {spec.code for spec in plan.conferences}
    stored = await session.scalars(select(Conference.code).where(Conference.campaign_id == campaign.id))
    await session.flush()
    return PlanSummary(
        campaign_code=plan.code,
        plan_version=plan.version,
        plan_sha256=plan.sha256,
        created=created,
        updated=updated,
        conferences=tuple(conferences),
        units=len(plan.units),
        units_created=units_created,
        units_updated=units_updated,
        removed=tuple(removed),
        not_in_file=tuple(f"conference {code}" for code in stored if code not in listed),
    )


async def load_plan(database: Database, path: Path | str, *, today: dt.date | None = None) -> PlanSummary:
    """Validate the plan in ``path`` completely, then apply it in one transaction.

    A file with any problem raises DataFileError before the database is touched; a problem found while
    applying rolls the whole transaction back. With ``today``, the plan's dates are first moved with
    :func:`shift_plan_dates` (the offline demo).
    """
    plan = load_plan_file(path)
    if today is not None:
        plan = shift_plan_dates(plan, today)
    async with database.transaction() as session:
        return await apply_plan(session, plan)


__all__ = [
    "PLANS_DIR",
    "SEED_PLAN",
    "AllowanceSpec",
    "BalanceTargetSpec",
    "ConferenceSpec",
    "ConferenceSummary",
    "LegalBasis",
    "LetterSpec",
    "PlanFile",
    "PlanSummary",
    "SeatPoolSpec",
    "UnitSpec",
    "YouthDefinition",
    "apply_plan",
    "load_plan",
    "load_plan_file",
    "pool_seats",
    "shift_plan_dates",
    "validate_plan",
]
