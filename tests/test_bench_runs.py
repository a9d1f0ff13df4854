"""The two benches that measure dienhinh beside a baseline by turns still measure what they claim: every press
and every update answered, the seats given as the plan says (no timing is asserted: speed is bench/'s)."""

from __future__ import annotations

import pytest

from bench import rsvp_presses, start_traffic
from bench.common import BenchError


async def test_the_rsvp_bench_presses_both_bots_by_turns_and_checks_the_seats_each_gave(tmp_path, monkeypatch):
    monkeypatch.setattr("bench.common.RESULTS_DIR", tmp_path)
    options = rsvp_presses.Options(presses=40, repeats=1, chunk=7)
    result = await rsvp_presses.run(options, log=lambda _line: None)
    assert result["outcome"] == {"accepted": 40}  # 28 exemplars and 12 guests: every one has a seat
    assert result["chunk"] == 7
    assert result["minimal_seconds"] > 0 and result["dienhinh_seconds"] > 0
    assert set(result["driver_trips_per_press"]) == {"minimal", "dienhinh"}
    assert rsvp_presses.aims(result)[0].figure == "RSVP presses ÷ minimal seat-safe press"


async def test_the_rsvp_bench_refuses_a_turn_of_no_presses():
    with pytest.raises(BenchError, match="--rsvp-chunk"):
        await rsvp_presses.run(rsvp_presses.Options(presses=40, repeats=1, chunk=0), log=lambda _line: None)


async def test_the_start_bench_feeds_both_bots_by_turns_and_checks_every_reply(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/start.sqlite3"
    options = start_traffic.Options(updates=60, users=12, repeats=1, chunk=25, warmup=8, database_url=url)
    result = await start_traffic._run(options, url, log=lambda _line: None)
    assert result["options"]["chunk"] == 25
    assert {bot: data["runs"][0]["updates"] for bot, data in result["bots"].items()} == {
        "bare PTB": 60,
        "dienhinh": 60,
    }
    assert result["traffic"]["first_contact_updates"] == 12  # each of the 12 people new to the database
