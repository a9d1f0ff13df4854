"""Which conferences are open for what, at a given moment.

Every place that offers a conference — the nomination form, a guest-list import (in chat and on the
command line), ``/invite``, ``/conference`` — asks :func:`open_for` (or :func:`is_open_for` for one it
already has), with the moment the application's clock gives, never the wall clock. The answer comes
from the plan's dates as they are in the database (with an organiser's change of day, time or venue
layered over the plan, see ``rules.arrangements``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.calendar import DEFAULT_DURATION_MINUTES
from storage.models import Conference

OPEN = "open"


class Use(StrEnum):
    """What a conference may be offered for."""

    NOMINATIONS = "nominations"  # a new nomination may be sent to it
    GUEST_LISTS = "guest_lists"  # a guest list may be imported into it
    INVITATIONS = "invitations"  # approved exemplars may be invited to it
    ARRANGEMENTS = "arrangements"  # organisers may set its day, time and venue


def ends_at(conference: Conference) -> dt.datetime | None:
    """When the conference is over: its start plus its length once the day is set, else the end of the
    window the plan gives ("hoàn thành trước 15/3/2020"); None when the plan says neither."""
    if conference.starts_at is not None:
        minutes = conference.duration_minutes or DEFAULT_DURATION_MINUTES
        return conference.starts_at + dt.timedelta(minutes=minutes)
    return conference.window_end


def has_ended(conference: Conference, now: dt.datetime) -> bool:
    """True once the conference is over (see :func:`ends_at`)."""
    end = ends_at(conference)
    return end is not None and now >= end


def is_open_for(conference: Conference, use: Use, now: dt.datetime) -> bool:
    """Whether ``conference`` may be offered for ``use`` at ``now``.

    - A conference that is not ``open`` in the plan, or that has ended, is offered for nothing (the
      grassroots conference, held by 14/3/2020, takes no guest list in May 2020).
    - Nominations also stop at the nomination deadline, when the plan sets one.
    - Guest lists, invitations and the day, time and venue are offered until the conference is over:
      organisers still invite a late guest on the morning of the conference.
    """
    if conference.status != OPEN or has_ended(conference, now):
        return False
    if use is Use.NOMINATIONS:
        return conference.nomination_deadline is None or now < conference.nomination_deadline
    return True


@dataclass(frozen=True)
class Closed:
    """What a use case returns when the conference it was asked about is not open for that any more."""

    conference_id: int
    title: str
    ended_at: dt.datetime | None  # when it ended; None when it is closed for another reason (a deadline)


def closed(conference: Conference, now: dt.datetime) -> Closed:
    """The refusal for ``conference`` at ``now`` (see :func:`is_open_for`)."""
    end = ends_at(conference)
    return Closed(conference.id, conference.title, end if end is not None and now >= end else None)


def _order(use: Use, conference: Conference) -> tuple[float, ...]:
    if use is Use.NOMINATIONS:
        # The soonest deadline first: the one a nominator must hurry for.
        deadline = conference.nomination_deadline
        return (deadline.timestamp() if deadline else float("inf"), conference.id)
    # The newest plan first, then in plan order.
    return (-conference.campaign_id, conference.id)


async def open_for(session: AsyncSession, use: Use, now: dt.datetime) -> list[Conference]:
    """The conferences that may be offered for ``use`` at ``now`` (see :func:`is_open_for`), in the order
    to offer them: for nominations the soonest deadline first, otherwise the newest plan first."""
    rows = (await session.scalars(select(Conference).where(Conference.status == OPEN))).all()
    return sorted((c for c in rows if is_open_for(c, use, now)), key=lambda c: _order(use, c))


__all__ = ["OPEN", "Closed", "Use", "closed", "ends_at", "has_ended", "is_open_for", "open_for"]
