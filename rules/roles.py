"""Who may do what. Roles are ordered: each includes the rights of those before it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


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


@dataclass(frozen=True)
class NotAllowed:
    """What a use case returns when the person asking does not (or no longer) hold the role it needs.

    Checked by the use case itself, from the database, when it acts: a role may have been taken away
    while a question was open, or by another process whose cache the asking process cannot see.
    """

    required: Role


class Operator(Enum):
    """Whoever runs the command line on the bot's machine (``dienhinh invitations import``): they hold the
    database itself, so a use case grants them every role. Audit rows record them as no account."""

    COMMAND_LINE = "command line"


OPERATOR = Operator.COMMAND_LINE
# Who a use case acts for: an account id, or the operator at the command line.
Actor = int | Operator


def audit_actor(actor: Actor | None) -> int | None:
    """The account id an audit row (or a created record) names for ``actor``; None for the operator."""
    return None if isinstance(actor, Operator) else actor
