"""Misses at personal links and codes, counted per key on a clock the test holds (rules.guesses)."""

from __future__ import annotations

import datetime as dt

from rules.guesses import COOL_DOWN, LIMIT, WINDOW, CoolDown, GuessKind, GuessThrottle

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
INVITATION = GuessKind.INVITATION_LINK


def _miss(throttle: GuessThrottle, key: object, times: int, at: dt.datetime = NOW) -> list[CoolDown]:
    return [cool for _ in range(times) if (cool := throttle.missed(key, INVITATION, at)) is not None]


def test_the_tenth_miss_within_ten_minutes_starts_a_fifteen_minute_cool_down_once():
    throttle = GuessThrottle()
    assert (LIMIT, WINDOW, COOL_DOWN) == (10, 10 * MINUTE, 15 * MINUTE)

    for i in range(LIMIT - 1):
        assert throttle.missed("lan", INVITATION, NOW + i * MINUTE) is None
    assert throttle.blocked_until("lan", NOW + 9 * MINUTE) is None
    tripped = throttle.missed("lan", GuessKind.CHECK_IN_CODE, NOW + 9 * MINUTE)

    assert tripped == CoolDown(
        until=NOW + 24 * MINUTE, misses=10, by_kind=(("check_in_code", 1), ("invitation_link", 9))
    )
    assert throttle.blocked_until("lan", NOW + 10 * MINUTE) == NOW + 24 * MINUTE
    assert _miss(throttle, "lan", 50, NOW + 10 * MINUTE) == []  # no second warning while cooling down


def test_misses_spread_wider_than_the_window_never_add_up():
    throttle = GuessThrottle()

    for i in range(100):
        assert throttle.missed("lan", INVITATION, NOW + i * 70 * dt.timedelta(seconds=1)) is None
    assert throttle.blocked_until("lan", NOW + 100 * MINUTE) is None


def test_the_cool_down_ends_and_the_budget_starts_afresh():
    throttle = GuessThrottle()
    assert len(_miss(throttle, "lan", LIMIT)) == 1
    after = NOW + COOL_DOWN

    assert throttle.blocked_until("lan", after - dt.timedelta(seconds=1)) is not None
    assert throttle.blocked_until("lan", after) is None
    assert _miss(throttle, "lan", LIMIT - 1, after) == []
    assert len(_miss(throttle, "lan", 1, after)) == 1


def test_one_key_cooling_down_leaves_every_other_key_alone():
    throttle = GuessThrottle()
    _miss(throttle, "lan", LIMIT)

    assert throttle.blocked_until("minh", NOW) is None
    assert _miss(throttle, "minh", LIMIT - 1) == []
    assert throttle.blocked_until("minh", NOW) is None


def test_a_flood_of_different_keys_stays_within_the_bound_and_old_keys_are_dropped():
    throttle = GuessThrottle(max_keys=100)
    for chat in range(1_000):
        throttle.missed(chat, INVITATION, NOW)
    assert len(throttle) == 100

    throttle.missed("late", INVITATION, NOW + COOL_DOWN)
    assert len(throttle) == 1  # the others can no longer matter


def test_a_cooling_down_key_is_remembered_until_its_cool_down_ends():
    throttle = GuessThrottle(cool_down=60 * MINUTE)
    _miss(throttle, "lan", LIMIT)

    throttle.missed("minh", INVITATION, NOW + 30 * MINUTE)

    assert throttle.blocked_until("lan", NOW + 30 * MINUTE) == NOW + 60 * MINUTE
