"""Who may do what. Roles are ordered: each includes the rights of those before it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    CITIZEN = "citizen"
    FOCAL_POINT = "focal_point"
    REVIEWER = "reviewer"
    ORGANISER = "organiser"


_RANK = {Role.CITIZEN: 0, Role.FOCAL_POINT: 1, Role.REVIEWER: 2, Role.ORGANISER: 3}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        return Role.CITIZEN


def at_least(role: str, required: Role) -> bool:
    """True when ``role`` has the rights of ``required`` (an organiser may review, a reviewer may not organise)."""
    return _RANK[parse_role(role)] >= _RANK[required]


def can_review(role: str) -> bool:
    return at_least(role, Role.REVIEWER)


def can_organise(role: str) -> bool:
    return at_least(role, Role.ORGANISER)
