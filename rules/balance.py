"""The balance dimensions of a delegation (women, young people, ethnic minorities, religion, people who
work directly in production, sectors, economic sectors, occupation groups), each with one label.

/status and its chart, /delegates, the balance effect of a substitute on the RSVP desk, the workbooks and
the digest all name a dimension through :func:`dimension_name`, so a concept reads the same on every
screen: "Thanh niên (16–30 tuổi)" everywhere, never "Đại biểu trẻ tuổi" on one and "Thanh niên" on another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rules.i18n import N_


@dataclass(frozen=True)
class YouthBand:
    """Who counts as young: aged ``min_age`` to ``max_age`` on the conference date (the plan's ``youth``;
    16–30 is the Youth Law 2020's definition)."""

    min_age: int = 16
    max_age: int = 30


LABELS: dict[str, str] = {
    "women": N_("Women"),
    "youth": N_("Young people ({min_age}–{max_age})"),
    "ethnic_minority": N_("Ethnic minorities"),
    "direct_producer": N_("Working directly in production or service"),
    "religion": N_("Religion"),
    "sector": N_("Sector or field"),
    "economic_sector": N_("Economic sector"),
    "occupation_group": N_("Occupation group"),
}


class Words(Protocol):
    def __call__(self, msgid: str, /, **values: object) -> str: ...


def dimension_name(t: Words, dimension: str, youth: YouthBand | None = None) -> str:
    """ "Nữ", "Thanh niên (16–30 tuổi)" … in the reader's language; an unknown dimension as it is."""
    if dimension not in LABELS:
        return dimension
    band = youth or YouthBand()
    return t(LABELS[dimension], min_age=band.min_age, max_age=band.max_age)
