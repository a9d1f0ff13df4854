"""A clock that stands still until the test moves it: tests stay off the wall clock."""

from __future__ import annotations

import datetime as dt


class Clock:
    """The bot's clock (``Services.create(settings, clock=…)``): ``now`` until a test sets or advances it."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)
