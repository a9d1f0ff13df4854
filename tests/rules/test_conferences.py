"""rules.conferences: which conferences of the 2020 Tây Hồ plan are open for what, moment by moment."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.conferences import Use, ends_at, has_ended, is_open_for, open_for
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from storage.db import Database
from storage.models import Conference

HANOI = dt.timezone(dt.timedelta(hours=7))


def _at(day: str, time: str = "10:00") -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=HANOI)


@pytest.mark.parametrize(
    ("moment", "nominations", "guest_lists"),
    [
        (_at("2020-02-10"), ["grassroots", "district"], ["district", "grassroots"]),
        (_at("2020-03-01"), ["district"], ["district", "grassroots"]),  # grassroots nominations closed 29/2
        (_at("2020-03-14", "23:59"), ["district"], ["district", "grassroots"]),
        (_at("2020-03-15", "00:00"), ["district"], ["district"]),  # held "trước 15/3/2020"
        (_at("2020-05-20"), [], ["district"]),  # district nominations closed 15/5
        (_at("2020-07-01"), [], []),  # Quý II/2020 is over
    ],
)
async def test_what_is_open_follows_the_plan_dates(database: Database, moment, nominations, guest_lists):
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        nominated = [c.code for c in await open_for(db, Use.NOMINATIONS, moment)]
        listed = [c.code for c in await open_for(db, Use.GUEST_LISTS, moment)]
        invited = [c.code for c in await open_for(db, Use.INVITATIONS, moment)]

    assert nominated == nominations
    assert sorted(listed) == sorted(guest_lists) and sorted(invited) == sorted(guest_lists)


def test_a_conference_with_its_day_set_ends_when_its_half_day_is_over():
    day = dt.datetime(2020, 6, 20, 1, 30, tzinfo=dt.UTC)
    conference = Conference(
        code="district",
        title="Hội nghị",
        status="open",
        starts_at=day,
        duration_minutes=240,
        window_end=dt.datetime(2020, 6, 30, 16, 59, tzinfo=dt.UTC),
    )

    assert ends_at(conference) == day + dt.timedelta(hours=4)
    assert not has_ended(conference, day + dt.timedelta(hours=3))
    assert is_open_for(conference, Use.INVITATIONS, day + dt.timedelta(hours=3))  # a late guest, that morning
    assert has_ended(conference, day + dt.timedelta(hours=4))
    assert not is_open_for(conference, Use.GUEST_LISTS, day + dt.timedelta(hours=4))
    conference.status = "closed"
    assert not is_open_for(conference, Use.INVITATIONS, day - dt.timedelta(days=1))
