"""What a fuzz run sent, what went wrong, and the deduplicated summary of it.

Failures are grouped by oracle, exception type (or what was missing), innermost project frame and kind of
update; each group keeps its first failure as the reproducer: the seed and the update's number, what the
update was, what the same person did just before, and the end of the traceback.
"""

from __future__ import annotations

import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from telegram import Update

from .world import FuzzPerson

PROJECT_ROOT = Path(__file__).resolve().parents[2]
Expectation = Literal["reply", "answer", "nothing"]


# --- what was sent and what went wrong -----------------------------------------------------------------


@dataclass
class Action:
    """One update (or job) of the run, described well enough to do it again by hand."""

    index: int  # the update's number in the run; -1 for the world's seeding
    kind: str  # "coarse:fine", e.g. "press:forged", "command:/grant", "document:zip-bomb"
    detail: str
    person: FuzzPerson | None
    chat_id: int
    expects: Expectation
    update: Update | None = None
    context: tuple[str, ...] = ()  # this person's previous actions

    @property
    def coarse(self) -> str:
        return self.kind.split(":", 1)[0]

    def describe(self) -> str:
        who = str(self.person) if self.person else f"chat {self.chat_id}"
        return f"update #{self.index} {self.kind}: {who}: {self.detail}"


@dataclass
class Failure:
    oracle: str
    action: Action
    message: str  # the exception (type: text) or what was missing
    where: str = ""  # innermost project frame of the traceback
    trace: str = ""
    # What makes two failures the same defect, beside the oracle and the kind of update.
    signature: str = ""
    # Whether the fine kind of update tells defects apart ("command:/export" and "command:/status" leaving
    # the person without an answer are two defects), or only the coarse one ("press").
    by_fine_kind: bool = False

    @property
    def key(self) -> tuple[str, str, str, str]:
        kind = self.action.kind if self.by_fine_kind else self.action.coarse
        return self.oracle, self.signature or self.message, self.where, kind


@dataclass
class FailureGroup:
    first: Failure
    count: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    roles: Counter[str] = field(default_factory=Counter)


@dataclass
class Report:
    seed: int
    backend: str
    updates: int = 0
    elapsed: float = 0.0
    durations: list[tuple[float, str]] = field(default_factory=list)
    groups: dict[tuple[str, str, str, str], FailureGroup] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    failed_updates: set[int] = field(default_factory=set)
    # (oracle, Telegram update id) of every failure of an update: what a test that injects faults checks.
    failed_on: set[tuple[str, int]] = field(default_factory=set)
    # How far the run got: rows by table and status at the end (e.g. "nomination submitted": 9).
    reached: dict[str, int] = field(default_factory=dict)

    def add(self, failure: Failure) -> None:
        group = self.groups.get(failure.key)
        if group is None:
            group = self.groups[failure.key] = FailureGroup(failure)
        group.count += 1
        group.kinds[failure.action.kind] += 1
        group.roles[failure.action.person.role if failure.action.person else "-"] += 1
        self.failed_updates.add(failure.action.index)
        if failure.action.update is not None:
            self.failed_on.add((failure.oracle, failure.action.update.update_id))

    @property
    def failures(self) -> int:
        return sum(group.count for group in self.groups.values())

    @property
    def ok(self) -> bool:
        return not self.groups

    def timing(self) -> str:
        if not self.durations:
            return "no updates"
        times = sorted(duration for duration, _ in self.durations)
        slowest = max(self.durations)

        def at(share: float) -> float:
            return times[min(len(times) - 1, int(share * len(times)))] * 1000

        return (
            f"{self.elapsed:.1f} s, {self.updates / max(self.elapsed, 1e-9):.0f} updates/s; per update p50 {at(0.5):.1f} ms, "
            f"p99 {at(0.99):.0f} ms, max {slowest[0] * 1000:.0f} ms ({slowest[1]})"
        )

    def summary(self) -> str:
        head = (
            f"fuzz: {self.updates} updates, seed {self.seed}, {self.backend}: {self.timing()}\n"
            f"updates by kind: {', '.join(f'{k} {n}' for k, n in sorted(self.counts.items()))}\n"
            f"records at the end: {', '.join(f'{k} {n}' for k, n in self.reached.items())}"
        )
        if self.ok:
            return head + "\nno failures"
        lines = [
            head,
            f"{len(self.groups)} distinct failures, {self.failures} in all, in {len(self.failed_updates)} updates:",
        ]
        ordered = sorted(self.groups.values(), key=lambda g: (-g.count, g.first.oracle))
        for number, group in enumerate(ordered, start=1):
            lines += ["", *self._describe(number, group)]
        return "\n".join(lines)

    def _describe(self, number: int, group: FailureGroup) -> list[str]:
        failure = group.first
        oracle, _, where, kind = failure.key
        at = f" at {where}" if where else ""
        kinds = ", ".join(f"{k} ×{n}" for k, n in group.kinds.most_common(6))
        roles = ", ".join(f"{r} ×{n}" for r, n in group.roles.most_common(4))
        action = failure.action
        lines = [
            f"{number}. [{oracle}] {clip(failure.message, 200)}{at} — {kind}: {group.count} ×",
            f"   kinds: {kinds}",
            f"   roles: {roles}",
            f"   first: {clip(action.describe(), 400)}",
        ]
        if action.index >= 0:
            lines.append(f"   replay: FUZZ_SEED={self.seed} FUZZ_UPDATES={action.index + 1} make fuzz")
        if action.context:
            lines.append("   before, by the same person: " + " | ".join(clip(c, 120) for c in action.context))
        if failure.trace:
            lines += ["   " + line for line in failure.trace.splitlines()[-8:]]
        return lines


def append_report(path: str, summary: str) -> None:
    """Add ``summary`` to the file at ``path`` (one report per backend, one after the other)."""
    with Path(path).open("a", encoding="utf-8") as file:
        file.write(summary + "\n\n")


def clip(text: str, limit: int) -> str:
    text = text.replace("\n", "⏎")
    return text if len(text) <= limit else f"{text[: limit - 1]}…(+{len(text) - limit + 1})"


def shown(text: str | None, limit: int = 70) -> str:
    if text is None:
        return "None"
    return repr(clip(text, limit)) + (f" ({len(text)} chars)" if len(text) > limit else "")


def innermost_project_frame(error: BaseException) -> str:
    """``path:line in function`` of the deepest frame in the project's own code (not a library's)."""
    found = ""
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        if not path.is_relative_to(PROJECT_ROOT) or ".venv" in path.parts:
            continue
        found = f"{path.relative_to(PROJECT_ROOT)}:{frame.lineno} in {frame.name}"
    return found


def trace_of(error: BaseException) -> str:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return "".join(lines).replace(str(PROJECT_ROOT) + "/", "")
