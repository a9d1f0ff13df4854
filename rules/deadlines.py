"""What is open and until when: the milestones of each conference, for ``/deadlines``.

Anyone may ask. A milestone is shown while it lies ahead, and for ``RECENT`` after it passed, so a person
who missed a deadline by a day learns that it closed rather than finding nothing. A unit's focal point also
sees how many nominations the unit has sent against the number expected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.schedule import OPEN, ConferenceFacts, ScheduleConfig, UnitProgress, unit_progress
from storage.models import Campaign, Conference

RECENT = dt.timedelta(days=14)


class Milestone(StrEnum):
    NOMINATIONS = "nominations"  # nominations close
    RSVP = "rsvp"  # answers to invitations close
    CONFERENCE = "conference"  # the conference takes place (its date, or the end of its window)


@dataclass(frozen=True)
class Deadline:
    milestone: Milestone
    at: dt.datetime
    closed: bool


@dataclass(frozen=True)
class ConferenceDeadlines:
    campaign_title: str
    conference: ConferenceFacts
    deadlines: tuple[Deadline, ...]
    # The asking focal point's unit, while nominations are open and the unit is expected to nominate.
    unit: UnitProgress | None = None

    @property
    def nominations_open(self) -> bool:
        return any(d.milestone == Milestone.NOMINATIONS and not d.closed for d in self.deadlines)


def _milestones(conference: Conference) -> list[tuple[Milestone, dt.datetime | None]]:
    return [
        (Milestone.NOMINATIONS, conference.nomination_deadline),
        (Milestone.RSVP, conference.rsvp_deadline),
        (Milestone.CONFERENCE, conference.starts_at or conference.window_end),
    ]


async def overview(
    session: AsyncSession,
    *,
    now: dt.datetime,
    unit_id: int | None = None,
    recent: dt.timedelta = RECENT,
    config: ScheduleConfig | None = None,
) -> list[ConferenceDeadlines]:
    """The open conferences with a milestone ahead or passed within ``recent``, soonest conference first.

    ``unit_id``: the asker's unit (a focal point), to add the unit's nominations against those expected.
    """
    rows = await session.execute(
        select(Conference, Campaign.title)
        .join(Campaign, Campaign.id == Conference.campaign_id)
        .where(Conference.status == OPEN)
        .order_by(Conference.id)
    )
    found: list[ConferenceDeadlines] = []
    for conference, campaign_title in rows.all():
        deadlines = tuple(
            Deadline(milestone, at, closed=at <= now)
            for milestone, at in _milestones(conference)
            if at is not None and at > now - recent
        )
        if not deadlines:
            continue
        item = ConferenceDeadlines(campaign_title, ConferenceFacts.of(conference), deadlines)
        if unit_id is not None and item.nominations_open:
            progress = await unit_progress(session, conference, config)
            item = ConferenceDeadlines(
                campaign_title,
                item.conference,
                deadlines,
                next((unit for unit in progress if unit.unit_id == unit_id), None),
            )
        found.append(item)
    return sorted(found, key=_soonest)


def _soonest(item: ConferenceDeadlines) -> tuple[bool, dt.datetime]:
    ahead = [d.at for d in item.deadlines if not d.closed]
    return (not ahead, min(ahead) if ahead else max(d.at for d in item.deadlines))


__all__ = ["RECENT", "ConferenceDeadlines", "Deadline", "Milestone", "overview"]
