"""The closing table of ``python -m bench``: each aim with "ok" or its gap, from the figures a bench returned."""

from __future__ import annotations

from bench import reminder_wave, rsvp_burst, status_latency
from bench.common import Aim, aim_table


def _timed(median: float) -> dict[str, float]:
    return {"calls": 50, "median_ms": median, "p95_ms": median + 10, "min_ms": 1.0, "max_ms": median + 20}


def _status_result(drawn: float, lag: float) -> dict:
    return {
        "backend": "postgresql",
        "contents": {"nominations": 100_000},
        "status_through_application_chart_drawn": _timed(drawn),
        "status_through_application_chart_cached": _timed(40.0),
        "status_district_chart_drawn": _timed(99.9),
        "status_units": _timed(30.0),
        "event_loop_lag": {"max_ms": lag, "idle": {"median_ms": 0.3, "max_ms": 4.0}, "longest_step_cpu_ms": 6.0},
    }


def test_status_aims_give_ok_or_the_gap_in_milliseconds():
    aims = status_latency.aims(_status_result(drawn=112.5, lag=61.0))
    assert [(aim.figure, aim.measured, aim.verdict(), aim.database) for aim in aims] == [
        ("/status, chart drawn median (100,000 nominations)", "112.5 ms", "gap 12.5 ms", "postgresql"),
        ("/status, chart kept median (100,000 nominations)", "40.0 ms", "ok", "postgresql"),
        ("/status district, chart drawn median (100,000 nominations)", "99.9 ms", "ok", "postgresql"),
        ("/status units median (100,000 nominations)", "30.0 ms", "ok", "postgresql"),
        (
            "event loop lag, worst during one /status",
            "61.0 ms (idle 4.0 ms; longest step 6.0 ms CPU)",
            "gap 11.0 ms",
            "postgresql",
        ),
    ]
    assert all(aim.met for aim in status_latency.aims(_status_result(drawn=67.4, lag=50.0)))


def test_a_wave_with_a_duplicate_misses_its_aim_whatever_its_rate():
    result = {"share_of_30": 0.99, "rate_per_second": 29.7, "duplicates": 1, "lost": 0, "backend": "sqlite"}
    (aim,) = reminder_wave.aims(result)
    assert (aim.met, aim.verdict()) == (False, "gap 1 duplicates")
    (slow,) = reminder_wave.aims({**result, "share_of_30": 0.9, "duplicates": 0})
    assert slow.verdict() == "gap 5.0 points"


def test_the_burst_shows_p50_p95_p99_and_its_gap():
    result = {"delegates": 300, "burst_seconds": 10.0, "p50_ms": 9.0, "p95_ms": 659.0, "p99_ms": 700.0}
    (aim,) = rsvp_burst.aims({**result, "aim_p95_ms": 300.0, "database": "sqlite"})
    assert aim.measured == "p50 9 / p95 659 / p99 700 ms"
    assert aim.verdict() == "gap 359 ms"


def test_the_closing_table_lines_up_every_aim_and_counts_those_met():
    table = aim_table(
        [
            Aim("reminder wave ÷ 30 msg/s", "≥ 0.95", "0.99", True, database="sqlite"),
            Aim("/status median", "< 100 ms", "112.5 ms", False, "12.5 ms", "postgresql"),
        ]
    )
    header, rule, wave, status, total = table.splitlines()
    assert header.split() == ["figure", "aim", "measured", "ok", "/", "gap", "database"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert wave.split("  ")[0] == "reminder wave ÷ 30 msg/s"
    assert status.index("gap 12.5 ms") == wave.index("ok") == header.index("ok / gap")
    assert total == "1 of 2 aims met"
