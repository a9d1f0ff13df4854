"""Nomination intake: the questions, their order, what a valid answer is, and sending.

The form is a draft ``Nomination`` row from the first answer on; every answer is validated and committed
as it is given (:func:`answer`), so nothing a person typed is lost across a restart. Which question comes
next is decided here (:func:`next_step`), not in the chat handlers, so Telegram, Zalo and tests share it.

Validation problems are returned as :class:`Problem` (an English msgid and its values) for the caller to
translate; nothing here knows about Telegram or a language.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rules import choices, conferences, counts
from rules.choices import Option
from rules.conferences import Use
from rules.i18n import N_
from rules.nominations import RESUBMITTED, Status, next_code, transition
from rules.refdata import ReferenceData, reference
from rules.roles import Role
from rules.text import clean, fold, is_meaningful
from storage.models import (
    Account,
    AuditEntry,
    Campaign,
    Conference,
    Evidence,
    Nomination,
    NominationEvent,
    OrgUnit,
    UnitAllowance,
)


class Step(StrEnum):
    CONFERENCE = "conference"
    KIND = "kind"
    NAME = "name"
    GENDER = "gender"
    BIRTH_YEAR = "birth_year"
    SENSITIVE_CONSENT = "sensitive_consent"
    ETHNICITY = "ethnicity"
    RELIGION = "religion"
    OCCUPATION = "occupation"
    POSITION = "position"
    UNIT = "unit"
    PHONE = "phone"
    MEMBERS = "members"
    ECONOMIC_SECTOR = "economic_sector"
    TITLE = "title"
    MOVEMENT = "movement"
    MOVEMENT_OTHER = "movement_other"
    ACHIEVEMENTS = "achievements"
    EVIDENCE = "evidence"
    PUBLICITY = "publicity"
    SUMMARY = "summary"


ORDER: tuple[Step, ...] = tuple(Step)
INDIVIDUAL_ONLY = frozenset(
    {Step.GENDER, Step.BIRTH_YEAR, Step.SENSITIVE_CONSENT, Step.OCCUPATION, Step.POSITION, Step.PHONE}
)
COLLECTIVE_ONLY = frozenset({Step.MEMBERS, Step.ECONOMIC_SECTOR})
OPTIONAL = frozenset({Step.PHONE, Step.EVIDENCE, Step.ETHNICITY, Step.RELIGION})
# Free-text answers: (min, max) characters after cleaning.
LENGTHS = {
    Step.NAME: (2, 120),
    Step.POSITION: (2, 300),
    Step.MOVEMENT_OTHER: (3, 200),
    Step.ACHIEVEMENTS: (40, 2000),
}
MAX_EVIDENCE = 10
MAX_MEMBERS = 100_000
OLDEST_BIRTH_YEAR = 1900
YOUNGEST_AGE = 5
KINDS = ("individual", "collective")
OTHER = "khac"
SKIP = "skip"
DONE = "done"
YES, NO = "yes", "no"

_MOBILE = re.compile(r"^(?:\+?84|0)([35789]\d{8})$")
_LANDLINE = re.compile(r"^(?:\+?84|0)(2\d{9})$")
_PHONE_NOISE = re.compile(r"[\s.\-()]")
_YEAR = re.compile(r"^(?:năm\s*)?(\d{4})$", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """Why an answer was not accepted: a msgid and its named values, translated by the caller."""

    msgid: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Answered:
    """The answer was stored; ``next`` is the question to ask now."""

    next: Step


AnswerResult = Answered | Problem


# --- what applies -------------------------------------------------------------------------------------


def applies(step: Step, nomination: Nomination, *, asks_unit: bool = True, asks_conference: bool = True) -> bool:
    """Whether ``step`` is asked for this draft (individual or collective, consent given, "other" movement)."""
    if step in INDIVIDUAL_ONLY:
        return nomination.kind == "individual"
    if step in COLLECTIVE_ONLY:
        return nomination.kind == "collective"
    if step in (Step.ETHNICITY, Step.RELIGION):
        return nomination.kind == "individual" and bool(nomination.sensitive_consent)
    if step == Step.MOVEMENT_OTHER:
        return nomination.movement_code == OTHER
    if step == Step.UNIT:
        return asks_unit
    if step == Step.CONFERENCE:
        return asks_conference
    return True


FOLLOW_UPS = frozenset({Step.ETHNICITY, Step.RELIGION, Step.MOVEMENT_OTHER})


def edit_steps(nomination: Nomination, *, asks_unit: bool = True, asks_conference: bool = True) -> list[Step]:
    """The questions the "edit a field" list offers, numbered the same for a given form whatever was answered.

    The form's own questions (for its kind, unit and conference as asked) come first in the form's order;
    follow-ups that depend on an answer (ethnicity and religion after consent, the "other" movement) come
    after them, only when they apply, so they never move another question's number.
    """
    fixed = [
        step
        for step in ORDER
        if step != Step.SUMMARY
        and step not in FOLLOW_UPS
        and applies(step, nomination, asks_unit=asks_unit, asks_conference=asks_conference)
    ]
    follow_ups = [
        step
        for step in ORDER
        if step in FOLLOW_UPS and applies(step, nomination, asks_unit=asks_unit, asks_conference=asks_conference)
    ]
    return fixed + follow_ups


# Where each answer is stored on the Nomination row.
FIELD: dict[Step, str] = {
    Step.CONFERENCE: "conference_id",
    Step.KIND: "kind",
    Step.NAME: "nominee_name",
    Step.GENDER: "gender",
    Step.BIRTH_YEAR: "birth_year",
    Step.SENSITIVE_CONSENT: "sensitive_consent",
    Step.ETHNICITY: "ethnicity",
    Step.RELIGION: "religion",
    Step.OCCUPATION: "occupation_group",
    Step.POSITION: "position",
    Step.UNIT: "unit_id",
    Step.PHONE: "phone_e164",
    Step.MEMBERS: "member_count",
    Step.ECONOMIC_SECTOR: "economic_sector",
    Step.TITLE: "title_code",
    Step.MOVEMENT: "movement_code",
    Step.MOVEMENT_OTHER: "movement_other",
    Step.ACHIEVEMENTS: "achievements",
    Step.PUBLICITY: "publicity_consent",
}
_WHOLE_NUMBERS = frozenset({Step.BIRTH_YEAR, Step.UNIT, Step.MEMBERS})
_YES_NO = frozenset({Step.SENSITIVE_CONSENT, Step.PUBLICITY})
_SKIPPABLE = frozenset({Step.ETHNICITY, Step.RELIGION, Step.PHONE})


def is_answered(step: Step, nomination: Nomination) -> bool:
    return step not in FIELD or getattr(nomination, FIELD[step]) is not None


def missing_steps(nomination: Nomination, *, asks_unit: bool, asks_conference: bool) -> list[Step]:
    """Required questions not answered yet: a draft can be sent only when this is empty."""
    return [
        step
        for step in ORDER
        if step != Step.SUMMARY
        and step not in OPTIONAL
        and applies(step, nomination, asks_unit=asks_unit, asks_conference=asks_conference)
        and not is_answered(step, nomination)
    ]


def next_step(nomination: Nomination, after: Step, *, asks_unit: bool, asks_conference: bool) -> Step:
    """The question after ``after``: the next that applies, or, while editing from the summary, the first
    required one still missing (a changed kind brings new questions), else the summary."""
    if nomination.draft_editing:
        missing = missing_steps(nomination, asks_unit=asks_unit, asks_conference=asks_conference)
        return missing[0] if missing else Step.SUMMARY
    for step in ORDER[ORDER.index(after) + 1 :]:
        if applies(step, nomination, asks_unit=asks_unit, asks_conference=asks_conference):
            return step
    return Step.SUMMARY


def previous_step(nomination: Nomination, before: Step, *, asks_unit: bool, asks_conference: bool) -> Step | None:
    """The question before ``before`` that applies (for /back), or None at the first one."""
    for step in reversed(ORDER[: ORDER.index(before)]):
        if applies(step, nomination, asks_unit=asks_unit, asks_conference=asks_conference):
            return step
    return None


# --- options of the choice questions ------------------------------------------------------------------


def _label(entry: Any, locale: str) -> str:
    return str(entry.label_en if locale == "en" else entry.label)


def yes_no(yes: str, no: str) -> tuple[Option, ...]:
    return (Option(YES, yes, means=choices.YES), Option(NO, no, means=choices.NO))


def choice_options(
    step: Step,
    nomination: Nomination,
    *,
    locale: str,
    on: dt.date,
    campaign_movements: Sequence[str] = (),
    data: ReferenceData | None = None,
) -> tuple[Option, ...]:
    """The options of a reference-data question, labelled in ``locale``; empty for other questions."""
    data = data or reference()
    if step == Step.GENDER:
        entries: Sequence[Any] = data.genders.active(on) or data.genders.entries
    elif step == Step.OCCUPATION:
        entries = data.occupation_groups.entries
    elif step == Step.ECONOMIC_SECTOR:
        entries = data.economic_sectors.entries
    elif step == Step.RELIGION:
        # The common answers as buttons; any other religion can be typed and is searched.
        common: tuple[str, ...] = (
            "khong",
            "phat_giao",
            "cong_giao",
            "tin_lanh",
            "cao_dai",
            "phat_giao_hoa_hao",
            "khong_tra_loi",
        )
        entries = [data.religions[code] for code in common if code in data.religions]
    elif step == Step.ETHNICITY:
        common = ("kinh", "tay", "thai", "muong", "khmer", "hoa", "nung", "mong", "dao")
        entries = [data.ethnic_groups[code] for code in common if code in data.ethnic_groups]
    elif step == Step.TITLE:
        entries = [
            entry
            for entry in data.titles.active(on) or data.titles.entries
            if nomination.kind in entry.applies_to and entry.kind in ("local_category", "emulation_title")
        ]
        entries.sort(key=lambda entry: entry.kind != "local_category")
    elif step == Step.MOVEMENT:
        codes = [code for code in campaign_movements if code in data.movements and code != OTHER]
        entries = [data.movements[code] for code in codes] + [data.movements[OTHER]]
    else:
        return ()
    return tuple(Option(entry.code, _label(entry, locale), aliases=tuple(entry.aliases)) for entry in entries)


def named_options(step: Step, *, locale: str, data: ReferenceData | None = None) -> tuple[Option, ...]:
    """The whole of a long list whose common entries are the buttons (54 ethnic groups, every religion):
    each may be typed by name."""
    data = data or reference()
    lists: dict[Step, Any] = {Step.ETHNICITY: data.ethnic_groups, Step.RELIGION: data.religions}
    if step not in lists:
        return ()
    return tuple(Option(entry.code, _label(entry, locale), aliases=tuple(entry.aliases)) for entry in lists[step])


# --- parsing free text --------------------------------------------------------------------------------


def parse_text(step: Step, raw: str) -> str | Problem:
    """A cleaned free-text answer within its length limits, or the problem with it."""
    text = clean(raw)
    low, high = LENGTHS[step]
    if not is_meaningful(text):
        return Problem(N_("Please answer with words, not only symbols or emoji."))
    if len(text) < low:
        return Problem(N_("That is too short: please write at least {min} characters."), {"min": low})
    if len(text) > high:
        return Problem(
            N_("That is too long ({length} characters): please keep it within {max}."),
            {"length": len(text), "max": high},
        )
    if step == Step.NAME and sum(ch.isdigit() for ch in text) > len(text) // 3:
        return Problem(N_("A name should be letters, not a number. Please type the full name."))
    return text


def parse_birth_year(raw: str, today: dt.date) -> int | Problem:
    match = _YEAR.match(clean(raw))
    youngest = today.year - YOUNGEST_AGE
    if not match:
        return Problem(N_("Please type the year of birth as four digits, for example 1985."))
    year = int(match.group(1))
    if not OLDEST_BIRTH_YEAR <= year <= youngest:
        return Problem(
            N_("{year} is not a plausible year of birth: please type a year from {oldest} to {youngest}."),
            {"year": year, "oldest": OLDEST_BIRTH_YEAR, "youngest": youngest},
        )
    return year


def parse_members(raw: str) -> int | Problem:
    digits = clean(raw).replace(".", "").replace(",", "").replace(" ", "")
    if not digits.isdecimal():  # (isdigit would let "²" through, which int() refuses)
        return Problem(N_("Please type the number of members as a whole number, for example 25."))
    count = int(digits) if len(digits) <= 9 else MAX_MEMBERS + 1
    if not 2 <= count <= MAX_MEMBERS:
        return Problem(N_("A collective has from 2 to {max} members: please check the number."), {"max": MAX_MEMBERS})
    return count


def parse_phone(raw: str) -> str | Problem:
    """A Vietnamese mobile or landline number in E.164 (+84…)."""
    compact = _PHONE_NOISE.sub("", clean(raw))
    for pattern in (_MOBILE, _LANDLINE):
        match = pattern.match(compact)
        if match:
            return "+84" + match.group(1)
    return Problem(N_("That does not look like a Vietnamese phone number. Please type it like 0912 345 678, or skip."))


# --- drafts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Who is nominating, and when."""

    account_id: int
    role: str
    unit_id: int | None
    now: dt.datetime
    draft_ttl: dt.timedelta

    @property
    def is_focal_point(self) -> bool:
        return self.role == Role.FOCAL_POINT and self.unit_id is not None


async def open_conferences(session: AsyncSession, now: dt.datetime) -> list[Conference]:
    """Conferences accepting nominations now, soonest deadline first (``rules.conferences``)."""
    return await conferences.open_for(session, Use.NOMINATIONS, now)


async def current_draft(session: AsyncSession, account_id: int) -> Nomination | None:
    """The person's unfinished form: a draft, or a nomination sent back for changes."""
    statement = (
        select(Nomination)
        .where(
            Nomination.nominator_id == account_id,
            Nomination.status.in_((Status.DRAFT, Status.CHANGES_REQUESTED)),
        )
        .options(selectinload(Nomination.evidence), selectinload(Nomination.events))
        .order_by(Nomination.updated_at.desc(), Nomination.id.desc())
    )
    return await session.scalar(statement)


def _source(who: Context) -> str:
    """Who a nomination comes from: a unit's focal point (counted in its unit's allowance), the organisers
    (a reviewer or an organiser nominating), or a citizen."""
    if who.is_focal_point:
        return "focal_point"
    if who.role in (Role.REVIEWER, Role.ORGANISER):
        return "organiser"
    return "citizen"


async def start_draft(
    session: AsyncSession, who: Context, conferences: Sequence[Conference], *, choose: bool = True
) -> Nomination:
    """A new draft; with one open conference it is chosen already (unless ``choose`` is False: the person
    must be asked, e.g. because another conference was left out), a focal point's unit is filled in."""
    draft = Nomination(
        campaign_id=conferences[0].campaign_id,
        nominator_id=who.account_id,
        source=_source(who),
        unit_id=who.unit_id if who.is_focal_point else None,
        status=Status.DRAFT,
        conference_id=conferences[0].id if len(conferences) == 1 and choose else None,
        draft_expires_at=who.now + who.draft_ttl,
        created_at=who.now,
        updated_at=who.now,
    )
    session.add(draft)
    await session.flush()
    return draft


async def discard(session: AsyncSession, draft: Nomination, who: Context) -> None:
    """Throw a draft away (start over, cancel from the summary); a sent-back nomination is withdrawn."""
    if draft.status == Status.DRAFT and draft.code is None:
        await session.delete(draft)
    else:
        transition(session, draft, Status.WITHDRAWN, actor_id=who.account_id, now=who.now, reason="withdrawn")


def asks_unit(draft: Nomination) -> bool:
    """A focal point's nominations belong to their unit; a citizen names the ward or unit."""
    return draft.source != "focal_point"


async def load_draft(session: AsyncSession, draft_id: int, account_id: int) -> Nomination | None:
    draft = await session.scalar(
        select(Nomination)
        .where(Nomination.id == draft_id, Nomination.nominator_id == account_id)
        .options(selectinload(Nomination.evidence))
        .execution_options(populate_existing=True)
    )
    if draft is None or draft.status not in (Status.DRAFT, Status.CHANGES_REQUESTED):
        return None
    return draft


async def expire_drafts(session: AsyncSession, now: dt.datetime) -> list[Nomination]:
    """Drafts left past their expiry become ``expired``; returns them so the nominators can be told."""
    drafts = list(
        (
            await session.scalars(
                select(Nomination).where(Nomination.status == Status.DRAFT, Nomination.draft_expires_at <= now)
            )
        ).all()
    )
    for draft in drafts:
        transition(session, draft, Status.EXPIRED, actor_id=None, now=now, reason="draft expired")
    return drafts


# --- answers ------------------------------------------------------------------------------------------


async def units_for(session: AsyncSession, conference: Conference | None, *, every: bool = False) -> list[OrgUnit]:
    """Units a citizen may name, active on the conference's dates: the wards (the buttons), or with
    ``every`` all of them, wards first (any may be typed by name)."""
    statement = select(OrgUnit).order_by((OrgUnit.kind != "ward"), OrgUnit.name)
    units = list((await session.scalars(statement)).all())
    on = _conference_day(conference)
    units = [u for u in units if u.kind != "district" and _active(u, on)]
    if every:
        return units
    return [u for u in units if u.kind == "ward"] or units[:10]


def _active(unit: OrgUnit, on: dt.date) -> bool:
    return (unit.valid_from is None or unit.valid_from <= on) and (unit.valid_to is None or on <= unit.valid_to)


def _conference_day(conference: Conference | None) -> dt.date:
    if conference is None:
        return dt.date.today()
    moment = conference.starts_at or conference.window_start or conference.window_end or conference.nomination_deadline
    return moment.date() if moment else dt.date.today()


def conference_day(conference: Conference | None) -> dt.date:
    """The day reference data and units are taken as valid on (the conference's date or window)."""
    return _conference_day(conference)


async def answer(
    session: AsyncSession,
    draft: Nomination,
    step: Step,
    value: Any,
    who: Context,
    *,
    asks_conference: bool,
) -> AnswerResult:
    """Store one answer (already parsed to its code or text) and say which question comes next."""
    problem = await _store(session, draft, step, value, who)
    if problem is not None:
        return problem
    draft.updated_at = who.now
    if draft.status == Status.DRAFT:
        draft.draft_expires_at = who.now + who.draft_ttl
    following = next_step(draft, step, asks_unit=asks_unit(draft), asks_conference=asks_conference)
    # draft_step is the question being asked now: a resumed draft (or /back) starts from it.
    draft.draft_step = following
    if following == Step.SUMMARY:
        draft.draft_editing = False
    await session.flush()
    return Answered(following)


async def _store(session: AsyncSession, draft: Nomination, step: Step, value: Any, who: Context) -> Problem | None:
    if step == Step.CONFERENCE:
        return await _store_conference(session, draft, int(value), who)
    if step == Step.KIND and draft.kind and draft.kind != value:
        draft.title_code = None  # titles differ between individuals and collectives
    if step == Step.NAME:
        draft.nominee_fold = fold(str(value))
    if step == Step.SENSITIVE_CONSENT and value != YES:
        # Consent withheld or withdrawn: nothing recorded under it stays, and a withdrawal is on record.
        if draft.sensitive_consent:
            erased = [name for name in ("ethnicity", "religion") if getattr(draft, name) is not None]
            session.add(
                AuditEntry(
                    at=who.now,
                    actor_id=who.account_id,
                    action="consent.withdraw",
                    entity="nomination",
                    entity_id=str(draft.id),
                    detail={"consents": ["sensitive"], "erased": erased},
                )
            )
        draft.ethnicity = None
        draft.religion = None
    if step == Step.MOVEMENT and value != OTHER:
        draft.movement_other = None
    if step in FIELD:
        setattr(draft, FIELD[step], _stored_value(step, value))
    return None


def _stored_value(step: Step, value: Any) -> Any:
    if step in _YES_NO:
        return value == YES
    if step in _SKIPPABLE and value == SKIP:
        return None
    if step in _WHOLE_NUMBERS:
        return int(value)
    return str(value)


async def choose_conference(
    session: AsyncSession, draft: Nomination, conference_id: int, who: Context
) -> Problem | None:
    """Put the draft to another conference the person chose (its allowance used up where it was)."""
    problem = await _store_conference(session, draft, conference_id, who)
    if problem is None:
        draft.updated_at = who.now
        await session.flush()
    return problem


async def _store_conference(
    session: AsyncSession, draft: Nomination, conference_id: int, who: Context
) -> Problem | None:
    conference = await session.get(Conference, conference_id)
    if conference is None or conference not in await open_conferences(session, who.now):
        return Problem(N_("That conference is no longer accepting nominations."))
    if (
        draft.source == "focal_point"
        and draft.unit_id is not None
        and await allowance_left(session, conference.id, draft.unit_id, excluding=draft.id) == 0
    ):
        return Problem(N_("Your unit has used all the nominations it may send to this conference."))
    draft.conference_id = conference.id
    draft.campaign_id = conference.campaign_id
    return None


async def add_evidence(
    session: AsyncSession,
    draft: Nomination,
    *,
    kind: str,
    file_id: str,
    file_unique_id: str | None,
    file_name: str | None,
    mime_type: str | None,
    file_size: int | None,
    now: dt.datetime,
) -> int | Problem:
    """Attach a photo or document; returns how many files the draft has now."""
    if len(draft.evidence) >= MAX_EVIDENCE:
        return Problem(
            N_("You have attached {max} files already, the most one nomination can have."), {"max": MAX_EVIDENCE}
        )
    if file_unique_id and any(e.file_unique_id == file_unique_id for e in draft.evidence):
        return len(draft.evidence)
    draft.evidence.append(
        Evidence(
            kind=kind,
            file_id=file_id,
            file_unique_id=file_unique_id,
            file_name=file_name,
            mime_type=mime_type,
            file_size=file_size,
            created_at=now,
        )
    )
    draft.updated_at = now
    await session.flush()
    return len(draft.evidence)


async def edit_field(session: AsyncSession, draft: Nomination, step: Step) -> None:
    """From the summary: change one answer, then come back to the summary."""
    draft.draft_editing = True
    draft.draft_step = step
    await session.flush()


# --- sending ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    nomination: Nomination
    event: NominationEvent
    resubmitted: bool


@dataclass(frozen=True)
class AllowanceUsed:
    """A unit's allowance for a conference is used up; ``elsewhere``: the conferences open for nominations
    now that still take the unit's (allowance left, or no limit), for the person to choose from."""

    unit_name: str
    conference_id: int
    conference_title: str
    allowance: int
    elsewhere: tuple[Conference, ...] = ()

    @property
    def problem(self) -> Problem:
        return Problem(
            N_("{unit} has used all {allowance} nominations it may send to {conference}."),
            {"unit": self.unit_name, "allowance": self.allowance, "conference": self.conference_title},
        )


@dataclass(frozen=True)
class Refused:
    problem: Problem
    # Set when the refusal is the unit's allowance: where else the draft may go (nothing moves by itself).
    allowance: AllowanceUsed | None = None


async def allowance_left(session: AsyncSession, conference_id: int, unit_id: int, excluding: int | None) -> int | None:
    """How many more nominations the unit may send to the conference; None when the plan sets no limit."""
    allowance = await session.scalar(
        select(UnitAllowance.nominations).where(
            UnitAllowance.conference_id == conference_id, UnitAllowance.unit_id == unit_id
        )
    )
    if allowance is None:
        return None
    # The allowance used, as /status and the reminders count it (rules.counts): its focal point's sent ones.
    used = await counts.allowance_used(session, conference_id, unit_id, excluding=[excluding] if excluding else ())
    return max(int(allowance) - used, 0)


async def unit_allowance(session: AsyncSession, conference_id: int, unit_id: int) -> int | None:
    """How many nominations the plan lets the unit send to the conference; None: no limit."""
    return await session.scalar(
        select(UnitAllowance.nominations).where(
            UnitAllowance.conference_id == conference_id, UnitAllowance.unit_id == unit_id
        )
    )


async def allowance_used(
    session: AsyncSession, unit_id: int, conference: Conference, now: dt.datetime, *, excluding: int | None
) -> AllowanceUsed | None:
    """The unit's allowance for ``conference`` when it is used up (``excluding`` a draft of its own), with
    the other conferences open for nominations now that still take the unit's; None while some is left."""
    if await allowance_left(session, conference.id, unit_id, excluding=excluding) != 0:
        return None
    unit = await session.get(OrgUnit, unit_id)
    elsewhere: list[Conference] = []
    for other in await open_conferences(session, now):
        if other.id != conference.id and await allowance_left(session, other.id, unit_id, excluding=excluding) != 0:
            elsewhere.append(other)
    return AllowanceUsed(
        unit_name=unit.name if unit else "",
        conference_id=conference.id,
        conference_title=conference.title,
        allowance=await unit_allowance(session, conference.id, unit_id) or 0,
        elsewhere=tuple(elsewhere),
    )


@dataclass(frozen=True)
class UnitConferences:
    """For a focal point starting a nomination: the open conferences the unit may still send to, with how
    many are left (None: no limit), and those whose allowance is used up."""

    available: tuple[tuple[Conference, int | None], ...]
    used_up: tuple[AllowanceUsed, ...]


async def unit_conferences(
    session: AsyncSession, unit_id: int, conferences: Sequence[Conference], now: dt.datetime
) -> UnitConferences:
    available: list[tuple[Conference, int | None]] = []
    used_up: list[AllowanceUsed] = []
    for conference in conferences:
        left = await allowance_left(session, conference.id, unit_id, excluding=None)
        if left == 0:
            used = await allowance_used(session, unit_id, conference, now, excluding=None)
            assert used is not None
            used_up.append(used)
        else:
            available.append((conference, left))
    return UnitConferences(tuple(available), tuple(used_up))


async def check_can_send(session: AsyncSession, draft: Nomination, who: Context) -> Problem | AllowanceUsed | None:
    """Deadline and (for a unit's focal point) allowance; a resubmission after changes is not a new one.

    A used-up allowance comes back as :class:`AllowanceUsed`, with the conferences the draft could go to
    instead: the draft is never moved to another conference without the person choosing it."""
    conference = await session.get(Conference, draft.conference_id) if draft.conference_id else None
    if conference is None:
        return Problem(N_("Please choose the conference first."))
    if conference.nomination_deadline is not None and who.now >= conference.nomination_deadline:
        return Problem(
            N_("Nominations for {conference} closed on {deadline}. It can no longer be sent."),
            {"conference": conference.title, "deadline": conference.nomination_deadline},
        )
    if draft.source == "focal_point" and draft.unit_id is not None and draft.status == Status.DRAFT:
        # The role as it is now: the unit may have named another focal point while this form was open.
        nominator = await session.get(Account, who.account_id)
        if nominator is None or nominator.role != Role.FOCAL_POINT or nominator.unit_id != draft.unit_id:
            unit = await session.get(OrgUnit, draft.unit_id)
            return Problem(
                N_(
                    "You are no longer the focal point of {unit}, so this nomination cannot be sent on its behalf. Please ask the organisers."
                ),
                {"unit": unit.name if unit else ""},
            )
        used = await allowance_used(session, draft.unit_id, conference, who.now, excluding=draft.id)
        if used is not None:
            return used
    return None


async def send(session: AsyncSession, draft: Nomination, who: Context) -> Sent | Refused:
    """Send the form: checks, a code (kept on a resubmission), and the status ``submitted``."""
    missing = missing_steps(draft, asks_unit=asks_unit(draft), asks_conference=True)
    if missing:
        return Refused(Problem(N_("Some questions are not answered yet."), {"step": missing[0]}))
    problem = await check_can_send(session, draft, who)
    if isinstance(problem, AllowanceUsed):
        return Refused(problem.problem, problem)
    if problem is not None:
        return Refused(problem)
    resubmitted = draft.status == Status.CHANGES_REQUESTED
    if draft.code is None:
        campaign = await session.get_one(Campaign, draft.campaign_id)
        year = campaign.valid_from.year if campaign.valid_from else who.now.year
        draft.code = await next_code(session, draft.campaign_id, year)
    draft.draft_expires_at = None
    draft.draft_editing = False
    draft.draft_step = None
    event = transition(
        session,
        draft,
        Status.SUBMITTED,
        actor_id=who.account_id,
        now=who.now,
        reason=RESUBMITTED if resubmitted else None,
    )
    await session.flush()
    return Sent(draft, event, resubmitted)
