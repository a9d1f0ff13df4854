"""Guessing personal links and typed codes: misses counted per person, a cool-down past a limit.

A link token carries 144 bits and a check-in code 40, so a guess is hopeless unless someone can try without
end. Every miss (a token or code that matches nothing, or has expired) is counted per key — a person, or a
chat when nobody is known — in a sliding window; :data:`LIMIT` misses within :data:`WINDOW` start a
:data:`COOL_DOWN` during which that key's links and codes are refused without being looked up. The budget
is shared by every kind of link and code, so running out of one kind does not open another. Hits are not
counted and do not wipe the count either: one valid link of one's own must not buy a fresh budget.

The counters live in process memory, on purpose: they are cheap, need no write per miss, and a restart (or
a standby taking over, issue 11) only resets them, which gives a guesser a handful of tries, not a channel.
Memory is bounded: a key is dropped once it can no longer matter (its misses left the window and its
cool-down ended), and past :data:`MAX_KEYS` the least recently seen keys go first, so a flood of different
chats cannot grow it without limit.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from enum import StrEnum

LIMIT = 10  # misses …
WINDOW = dt.timedelta(minutes=10)  # … within this long …
COOL_DOWN = dt.timedelta(minutes=15)  # … and nothing is looked up for this long.
MAX_KEYS = 10_000


class GuessKind(StrEnum):
    """What was tried; named in the warning (never the token or code itself)."""

    INVITATION_LINK = "invitation_link"
    CHECK_IN_LINK = "check_in_link"
    UNIT_LINK = "unit_link"
    ENDORSEMENT_LINK = "endorsement_link"
    CHECK_IN_CODE = "check_in_code"  # /checkin CODE
    TYPED_CODE = "typed_code"  # a link's code typed instead of opening the link (or an Endorse press carrying one)


@dataclass(frozen=True)
class CoolDown:
    """A key that has just reached the limit: until when it is refused, and the misses that led there."""

    until: dt.datetime
    misses: int
    by_kind: tuple[tuple[str, int], ...]


@dataclass
class _Record:
    last_seen: dt.datetime
    misses: deque[tuple[dt.datetime, str]] = field(default_factory=deque)
    blocked_until: dt.datetime | None = None


class GuessThrottle:
    """Misses per key in a sliding window; the time is always passed in (``now``), so tests need no clock."""

    def __init__(
        self,
        *,
        limit: int = LIMIT,
        window: dt.timedelta = WINDOW,
        cool_down: dt.timedelta = COOL_DOWN,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limit = limit
        self.window = window
        self.cool_down = cool_down
        self.max_keys = max_keys
        # Least recently seen first, so the keys to drop are always at the front.
        self._records: OrderedDict[Hashable, _Record] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def blocked_until(self, key: Hashable, now: dt.datetime) -> dt.datetime | None:
        """When ``key`` may try again, while it is cooling down; None when it may try now."""
        record = self._records.get(key)
        if record is None or record.blocked_until is None or now >= record.blocked_until:
            return None
        return record.blocked_until

    def missed(self, key: Hashable, kind: str, now: dt.datetime) -> CoolDown | None:
        """Count one miss of ``key``; the :class:`CoolDown` when this miss reaches the limit (once), else None."""
        if self.blocked_until(key, now) is not None:
            return None  # already refused: nothing was looked up, nothing to count
        record = self._records.pop(key, None) or _Record(last_seen=now)
        record.last_seen = now
        record.blocked_until = None
        while record.misses and record.misses[0][0] <= now - self.window:
            record.misses.popleft()
        record.misses.append((now, kind))
        self._records[key] = record
        self._evict(now)
        if len(record.misses) < self.limit:
            return None
        by_kind = Counter(missed_kind for _, missed_kind in record.misses)
        tripped = CoolDown(
            until=now + self.cool_down, misses=len(record.misses), by_kind=tuple(sorted(by_kind.items()))
        )
        record.blocked_until = tripped.until
        record.misses.clear()
        return tripped

    def _evict(self, now: dt.datetime) -> None:
        # A key last seen longer ago than both the window and the cool-down has nothing left to remember.
        horizon = now - max(self.window, self.cool_down)
        while self._records:
            oldest = next(iter(self._records.values()))
            if oldest.last_seen > horizon and len(self._records) <= self.max_keys:
                return
            self._records.popitem(last=False)
