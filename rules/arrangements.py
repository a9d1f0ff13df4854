"""A conference's day, time and venue as organisers set them in chat (``/conference``), over the plan.

The plan file gives what it knows ("Quý II/2020", no venue yet); the follow-up document fixes the day,
and an organiser types it in chat rather than editing YAML. What they set is a ``ConferenceArrangement``
row, layered over the plan: :func:`layer` is applied by ``rules.plans`` after the plan's own values, so
loading the plan again keeps it. The conference row holds the effective values, so invitation cards,
reminders, .ics files and /status read them where they always did.

:func:`parse_day` and :func:`parse_time` read what Vietnamese offices type ("15/4/2020", "15 tháng 4",
"8h30", "8:30", "14 giờ", "2 giờ chiều"); what is wrong comes back as a :class:`~rules.intake.Problem`
for the caller to translate. :func:`set_arrangements` checks who is asking (an organiser, read now),
that the conference has not ended, saves, audits, and tells every delegate who accepted through the
outbox, in their language (``notice``, the caller's renderer).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import outbox
from rules.accounts import acting
from rules.conferences import Closed, Use, closed, is_open_for
from rules.i18n import N_
from rules.intake import Problem
from rules.invitations import Status as InvitationStatus
from rules.roles import Actor, NotAllowed, Role, audit_actor
from rules.text import clean, fold, is_meaningful
from storage.models import Account, AuditEntry, Conference, ConferenceArrangement, Invitation

VENUE_LENGTH = (3, 300)

_SEPARATOR = r"\s*[/\-.]\s*"
_NUMERIC_DAY = re.compile(rf"(?<!\d)(\d{{1,2}}){_SEPARATOR}(\d{{1,2}})(?:{_SEPARATOR}(\d{{4}}|\d{{2}}))?(?!\d)")
_WORDED_DAY = re.compile(r"(?<!\d)(\d{1,2})\s*thang\s*(\d{1,2})(?:\s*(?:,|nam)?\s*(\d{4}))?(?!\d)")
# 8h30, 8h, 8:30, 8 giờ 30 (phút), 14g, 8.30 only after "lúc"; then sáng / trưa / chiều / tối.
_TIME = re.compile(
    r"^(?:luc\s*)?(\d{1,2})\s*(?:(?:h|g|gio|:)\s*(\d{1,2})?\s*(?:phut|p)?)\s*(sang|trua|chieu|toi)?$"
    r"|^luc\s*(\d{1,2})\.(\d{2})\s*(sang|trua|chieu|toi)?$"
)
_FILLER = re.compile(r"\b(?:ngay|vao|luc|thu\s*\w+|chu\s*nhat)\b|[,;]")


@dataclass(frozen=True)
class Day:
    """A typed day, and the time when it was typed with one ("15/4/2020 8h30")."""

    day: dt.date
    time: dt.time | None = None


def _year(raw: str | None, default_year: int) -> int:
    if raw is None:
        return default_year
    year = int(raw)
    return 2000 + year if year < 100 else year


def parse_time(raw: str) -> dt.time | Problem:
    """A time of day as typed: "8h30", "8:30", "8 giờ 30", "14 giờ", "2 giờ chiều" (14:00)."""
    text = re.sub(r"\s+", " ", fold(clean(raw))).strip()
    match = _TIME.match(text)
    if match is None:
        return Problem(N_("Please type the time like 8h30, 8:30 or 14 giờ."))
    hour_text, minute_text, part = (match.group(1), match.group(2), match.group(3))
    if hour_text is None:
        hour_text, minute_text, part = match.group(4), match.group(5), match.group(6)
    hour, minute = int(hour_text), int(minute_text or 0)
    if part in ("chieu", "toi") and hour < 12:
        hour += 12
    if part == "trua" and hour < 11:
        hour += 12
    if hour > 23 or minute > 59:
        return Problem(N_("{time} is not a time of day. Please type it like 8h30, 8:30 or 14 giờ."), {"time": raw})
    return dt.time(hour, minute)


def parse_day(raw: str, *, default_year: int) -> Day | Problem:
    """A day as typed — "15/4/2020", "15-4-2020", "15/4" (the year of the conference), "15 tháng 4 năm
    2020", "thứ Tư, 15/4/2020" — with a time after or before it if one is there ("15/4/2020 8h30")."""
    text = re.sub(r"\s+", " ", fold(clean(raw))).strip()
    match = _NUMERIC_DAY.search(text) or _WORDED_DAY.search(text)
    if match is None:
        return Problem(N_("Please type the day like 15/4/2020."))
    try:
        day = dt.date(_year(match.group(3), default_year), int(match.group(2)), int(match.group(1)))
    except ValueError:
        return Problem(N_("{day} is not a date in the calendar. Please type the day like 15/4/2020."), {"day": raw})
    rest = _FILLER.sub(" ", text[: match.start()] + " " + text[match.end() :]).strip()
    if not rest:
        return Day(day)
    time = parse_time(rest)
    if isinstance(time, Problem):
        return Problem(N_("Please type the day like 15/4/2020, or the day and the time like 15/4/2020 8h30."))
    return Day(day, time)


def parse_venue(raw: str) -> str | Problem:
    """A venue as typed, cleaned, within its length."""
    text = clean(raw)
    low, high = VENUE_LENGTH
    if not is_meaningful(text) or len(text) < low:
        return Problem(N_("Please type the venue, for example: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân."))
    if len(text) > high:
        return Problem(
            N_("That is too long ({length} characters): please keep it within {max}."),
            {"length": len(text), "max": high},
        )
    return text


def local_start(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The start as stored (UTC) of ``day`` at ``time`` in ``tz``."""
    return dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC)


def check_day(conference: Conference, day: dt.date, now: dt.datetime, tz: ZoneInfo) -> Problem | None:
    """Why no start on ``day`` could do (see :func:`check_start`), asked before the time is: the day has
    passed, is before the day the delegates' answers close, or lies outside the plan's window."""
    if day < now.astimezone(tz).date():
        return Problem(N_("That moment has passed already. Please type a day and time ahead."))
    if conference.rsvp_deadline is not None and day < conference.rsvp_deadline.astimezone(tz).date():
        return _before_answers_close(conference.rsvp_deadline)
    first = conference.window_start.astimezone(tz).date() if conference.window_start else None
    last = conference.window_end.astimezone(tz).date() if conference.window_end else None
    if (first is not None and day < first) or (last is not None and day > last):
        return Problem(
            N_("The plan holds {conference} between {first} and {last}. Please type a day within that time."),
            {"conference": conference.title, "first": first or day, "last": last or day},
        )
    return None


def _before_answers_close(deadline: dt.datetime) -> Problem:
    return Problem(
        N_(
            "Delegates may answer their invitations until {deadline}: the conference must start after that. "
            "Please type a later day."
        ),
        {"deadline": deadline},
    )


def check_start(conference: Conference, starts_at: dt.datetime, now: dt.datetime, tz: ZoneInfo) -> Problem | None:
    """Why ``starts_at`` cannot be the conference's start, or None: it lies ahead, after the delegates'
    answers close, and within the window the plan sets ("Quý II/2020")."""
    problem = check_day(conference, starts_at.astimezone(tz).date(), now, tz)
    if problem is not None:
        return problem
    if starts_at <= now:
        return Problem(N_("That moment has passed already. Please type a day and time ahead."))
    if conference.rsvp_deadline is not None and starts_at <= conference.rsvp_deadline:
        return _before_answers_close(conference.rsvp_deadline)
    return None


# --- over the plan --------------------------------------------------------------------------------------


def layer(values: dict[str, Any], arrangement: ConferenceArrangement | None) -> dict[str, Any]:
    """The plan's values of a conference with what organisers set in chat put over them."""
    if arrangement is None:
        return values
    layered = dict(values)
    if arrangement.starts_at is not None:
        layered["starts_at"] = arrangement.starts_at
    if arrangement.venue is not None:
        layered["venue"] = arrangement.venue
    return layered


async def arrangement_of(session: AsyncSession, conference_id: int) -> ConferenceArrangement | None:
    return await session.scalar(
        select(ConferenceArrangement).where(ConferenceArrangement.conference_id == conference_id)
    )


# --- setting them ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What a delegate who accepted is told, for the caller to write in their language."""

    locale: str | None
    full_name: str
    gender: str | None
    conference_title: str
    starts_at: dt.datetime | None
    starts_at_before: dt.datetime | None
    venue: str | None
    venue_before: str | None

    @property
    def time_changed(self) -> bool:
        return self.starts_at != self.starts_at_before

    @property
    def venue_changed(self) -> bool:
        return self.venue != self.venue_before


Notice = Callable[[Change], str]


@dataclass(frozen=True)
class Saved:
    conference_id: int
    title: str
    starts_at: dt.datetime | None
    venue: str | None
    changed: bool
    told: int  # accepted delegates told of the change


_UNCHANGED: Any = object()


async def set_arrangements(
    session: AsyncSession,
    conference_id: int,
    *,
    actor_id: Actor | None,
    now: dt.datetime,
    tz: ZoneInfo,
    notice: Notice,
    starts_at: dt.datetime | None = _UNCHANGED,
    venue: str | None = _UNCHANGED,
) -> Saved | NotAllowed | Closed | Problem:
    """Set the start (day and time) and/or the venue of a conference, over the plan.

    Organisers only (their role read now); a conference that has ended is refused (``rules.conferences``);
    the start is checked (:func:`check_start`). Audited with the values before and after. When something
    changed, every delegate who accepted and can be reached is told through the outbox (``notice``
    writes the message for one :class:`Change`), once per change.
    """
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get(Conference, conference_id, with_for_update=True)
    if conference is None or not is_open_for(conference, Use.ARRANGEMENTS, now):
        if conference is None:
            return Problem(N_("That conference is no longer in the plan."))
        return closed(conference, now)
    new_start = conference.starts_at if starts_at is _UNCHANGED else starts_at
    new_venue = conference.venue if venue is _UNCHANGED else venue
    if starts_at is not _UNCHANGED and new_start is not None:
        problem = check_start(conference, new_start, now, tz)
        if problem is not None:
            return problem
    before_start, before_venue = conference.starts_at, conference.venue
    changed = (new_start, new_venue) != (before_start, before_venue)
    if not changed:
        return Saved(conference.id, conference.title, new_start, new_venue, changed=False, told=0)
    arrangement = await arrangement_of(session, conference.id)
    if arrangement is None:
        arrangement = ConferenceArrangement(conference_id=conference.id)
        session.add(arrangement)
    if starts_at is not _UNCHANGED:
        arrangement.starts_at = new_start
    if venue is not _UNCHANGED:
        arrangement.venue = new_venue
    arrangement.set_by_id = audit_actor(actor_id)
    arrangement.set_at = now
    conference.starts_at, conference.venue = new_start, new_venue
    entry = AuditEntry(
        at=now,
        actor_id=audit_actor(actor_id),
        action="conference.arrangements",
        entity="conference",
        entity_id=str(conference.id),
        detail={
            "starts_at": [_iso(before_start), _iso(new_start)],
            "venue": [before_venue, new_venue],
        },
    )
    session.add(entry)
    await session.flush()
    told = 0
    rows = await session.execute(
        select(Invitation, Account.locale)
        .join(Account, Account.id == Invitation.account_id)
        .where(Invitation.conference_id == conference.id, Invitation.status == InvitationStatus.ACCEPTED)
        .order_by(Invitation.id)
    )
    for invitation, locale in rows:
        change = Change(
            locale=locale,
            full_name=invitation.full_name,
            gender=invitation.gender,
            conference_title=conference.title,
            starts_at=new_start,
            starts_at_before=before_start,
            venue=new_venue,
            venue_before=before_venue,
        )
        told += await outbox.enqueue(
            session,
            account_id=invitation.account_id,
            text=notice(change),
            dedupe_key=f"conference:{conference.id}:arrangements:{entry.id}:to:{invitation.id}",
            topic=f"conference:{conference.id}:arrangements",
            now=now,
        )
    entry.detail = {**entry.detail, "told": told}
    await session.flush()
    return Saved(conference.id, conference.title, new_start, new_venue, changed=True, told=told)


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


__all__ = [
    "Change",
    "Day",
    "Notice",
    "Saved",
    "arrangement_of",
    "check_day",
    "check_start",
    "layer",
    "local_start",
    "parse_day",
    "parse_time",
    "parse_venue",
    "set_arrangements",
]
