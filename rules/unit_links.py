"""Unit links: how a unit's focal point binds their account to the unit.

An organiser makes a link for one unit (``/unitlink``) and hands it to the unit's focal point; the first
person who opens it (``https://t.me/<bot>?start=unit_<token>``) becomes the focal point of that unit.
Bots cannot write first, so a link is the only way to reach someone the district has not met in chat.

The link has a typed code too (``rules.link_codes``), for Zalo, which has no deep links: typing it does
what opening the link does. A link is single use and bound to the first account that opens it; it
expires (``UNIT_LINK_DAYS``) and can be revoked, code and all. Only the token's and the code's hashes are
stored. Someone else opening a used link is refused and the organiser who made it is told (the link may
have leaked). Organisers and reviewers opening a unit link keep their
role: a link never demotes anyone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import links
from rules.accounts import AccountSnapshot, acting, assign_role, snapshot
from rules.link_codes import TypedCode, format_code
from rules.refdata import search_key
from rules.roles import NotAllowed, Role, can_review
from rules.text import sort_key
from rules.tokens import deep_link_payload, new_token, token_hash
from storage import link_codes as link_store
from storage.models import Account, AuditEntry, OrgUnit, UnitLink

PAYLOAD_PREFIX = links.UNIT
WARD = "ward"


class UnitLinkError(Exception):
    """A unit link cannot be made: the unit does not exist, or the creator is not an organiser."""


# --- choosing the unit -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitChoice:
    """A unit an organiser may make a link for."""

    id: int
    code: str
    name: str
    kind: str

    @property
    def is_ward(self) -> bool:
        return self.kind == WARD


def _active_on(today: dt.date) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return (
        or_(OrgUnit.valid_from.is_(None), OrgUnit.valid_from <= today),
        or_(OrgUnit.valid_to.is_(None), OrgUnit.valid_to >= today),
    )


def _choice(unit: OrgUnit) -> UnitChoice:
    return UnitChoice(id=unit.id, code=unit.code, name=unit.name, kind=unit.kind)


async def linkable_units(session: AsyncSession, *, today: dt.date, query: str | None = None) -> list[UnitChoice]:
    """Units in force on ``today`` (the plans' units), wards first, in Vietnamese dictionary order.

    With ``query``, only the units whose name or code matches it, ignoring tone marks, case, spaces and
    punctuation ("buoi", "Phường Bưởi", "phong noi vu"): a whole-name match first, then names that begin
    with it, then names that contain it, then names that contain every word of it; wards first within
    each rank.
    """
    units = [_choice(unit) for unit in await session.scalars(select(OrgUnit).where(*_active_on(today)))]
    if query is None:
        return sorted(units, key=lambda unit: (not unit.is_ward, sort_key(unit.name)))
    ranked = [(rank, unit) for unit in units if (rank := _match_rank(unit, query)) is not None]
    ranked.sort(key=lambda item: (item[0], not item[1].is_ward, sort_key(item[1].name)))
    return [unit for _, unit in ranked]


def _match_rank(unit: UnitChoice, query: str) -> int | None:
    wanted = search_key(query)
    if not wanted:
        return None
    keys = (search_key(unit.name), search_key(unit.code))
    if wanted in keys:
        return 0
    if any(key.startswith(wanted) for key in keys):
        return 1
    if any(wanted in key for key in keys):
        return 2
    words = [search_key(word) for word in query.split()]
    if all(word and word in keys[0] for word in words):
        return 3
    return None


async def linkable_unit(session: AsyncSession, *, unit_id: int, today: dt.date) -> UnitChoice | None:
    """The unit ``unit_id`` if a link can be made for it today (it exists and is in force)."""
    unit = await session.scalar(select(OrgUnit).where(OrgUnit.id == unit_id, *_active_on(today)))
    return None if unit is None else _choice(unit)


# --- making and revoking links -----------------------------------------------------------------------


def link_expiry(now: dt.datetime, days: int) -> dt.datetime:
    """When a link made at ``now`` stops working."""
    return now + dt.timedelta(days=days)


def unit_link_url(bot_username: str, token: str) -> str:
    """The deep link a focal point opens: ``https://t.me/<bot>?start=unit_<token>``."""
    return f"https://t.me/{bot_username}?start={deep_link_payload(PAYLOAD_PREFIX, token)}"


@dataclass(frozen=True)
class NewUnitLink:
    """A link just made: its token (for the deep link) and its typed code, both shown once, stored hashed."""

    id: int
    token: str
    code: str  # canonical; ``rules.link_codes.format_code`` shows it

    @property
    def shown_code(self) -> str:
        return format_code(self.code)


async def create_unit_link(
    session: AsyncSession, *, unit_id: int, created_by_id: int, now: dt.datetime, days: int, secret: bytes
) -> NewUnitLink | NotAllowed:
    """A new single-use link for ``unit_id``, valid ``days`` days, with its typed code.

    Only organisers make them (their role read now). Raises :class:`UnitLinkError` when the unit does not
    exist (the caller offers units that do). The token is random (a unit link is shown once, never printed
    again); the code is derived from ``secret`` and the link's nonce (``rules.links.ensure_code``).
    """
    if await acting(session, created_by_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    if await session.get(OrgUnit, unit_id) is None:
        raise UnitLinkError(f"no unit {unit_id}")
    token = new_token()
    link = UnitLink(
        unit_id=unit_id,
        token_hash=token_hash(token),
        created_by_id=created_by_id,
        created_at=now,
        expires_at=link_expiry(now, days),
    )
    session.add(link)
    await session.flush()
    link.link_nonce, code = await links.ensure_code(session, secret, links.UNIT, link.id)
    session.add(
        AuditEntry(
            at=now,
            actor_id=created_by_id,
            action="unit_link.create",
            entity="unit_link",
            entity_id=str(link.id),
            detail={"unit_id": unit_id, "expires_at": link.expires_at.isoformat() if link.expires_at else None},
        )
    )
    return NewUnitLink(link.id, token, code)


async def revoke_unit_link(session: AsyncSession, *, link_id: int, actor_id: int, now: dt.datetime) -> bool:
    """Stop an unused link from working; False when it is unknown, already used or already revoked."""
    link = await session.scalar(select(UnitLink).where(UnitLink.id == link_id).with_for_update())
    if link is None or link.used_by_id is not None or link.revoked_at is not None:
        return False
    link.revoked_at = now
    session.add(
        AuditEntry(at=now, actor_id=actor_id, action="unit_link.revoke", entity="unit_link", entity_id=str(link_id))
    )
    await session.flush()
    return True


# --- opening a link ----------------------------------------------------------------------------------


class LinkOutcome(StrEnum):
    REDEEMED = "redeemed"  # the person is now the unit's focal point
    ALREADY_YOURS = "already_yours"  # the same person opened it again and still speaks for the unit
    TAKEN = "taken"  # someone else used it; the organiser who made it is to be told
    SPENT = "spent"  # this person used it before but has another role now: a link works once
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # no such link (mistyped, or not a unit link at all)
    STAFF = "staff"  # organisers and reviewers keep their role


@dataclass(frozen=True)
class Redemption:
    """What opening a unit link did, and whom the handler must tell."""

    outcome: LinkOutcome
    unit_name: str | None = None
    # The person's account after opening the link.
    account: AccountSnapshot | None = None
    # The unit the person spoke for before, when the link moved them to another unit.
    previous_unit_name: str | None = None
    link_id: int | None = None
    expires_at: dt.datetime | None = None
    # TAKEN: the organiser who made the link, the person it was bound to, and when.
    creator: AccountSnapshot | None = None
    used_by: AccountSnapshot | None = None
    used_at: dt.datetime | None = None

    @property
    def refused(self) -> bool:
        return self.outcome not in (LinkOutcome.REDEEMED, LinkOutcome.ALREADY_YOURS)


async def redeem_unit_link(
    session: AsyncSession, *, token: str, account_id: int, now: dt.datetime, code: TypedCode | None = None
) -> Redemption:
    """Open a unit link (by its ``token``, or its typed ``code``) for ``account_id``: valid and unused → the
    account becomes the unit's focal point.

    The link row is locked, so two people opening the same link at once cannot both become focal points.
    """
    if code is not None:
        condition = UnitLink.id == link_store.record_id(links.UNIT, code.lookup)
    else:
        condition = UnitLink.token_hash == token_hash(token)
    link = await session.scalar(select(UnitLink).where(condition).with_for_update()) if token or code else None
    if link is None:
        return Redemption(LinkOutcome.UNKNOWN)
    unit = await session.get_one(OrgUnit, link.unit_id)
    account = await session.get_one(Account, account_id)
    if link.used_by_id is not None:
        return await _used(session, link, unit, account)
    if link.revoked_at is not None:
        return Redemption(LinkOutcome.REVOKED, unit.name, snapshot(account), link_id=link.id)
    if link.expires_at is not None and link.expires_at <= now:
        return Redemption(
            LinkOutcome.EXPIRED, unit.name, snapshot(account), link_id=link.id, expires_at=link.expires_at
        )
    if can_review(account.role):
        return Redemption(LinkOutcome.STAFF, unit.name, snapshot(account), link_id=link.id)
    previous = await _previous_unit_name(session, account, unit.id)
    link.used_by_id = account.id
    link.used_at = now
    updated = await assign_role(
        session,
        account.id,
        Role.FOCAL_POINT,
        unit_id=unit.id,
        actor_id=link.created_by_id,
        reason=f"unit link {link.id}",
        action="role.unit_link",
    )
    return Redemption(LinkOutcome.REDEEMED, unit.name, updated, previous_unit_name=previous, link_id=link.id)


async def _used(session: AsyncSession, link: UnitLink, unit: OrgUnit, account: Account) -> Redemption:
    if link.used_by_id == account.id:
        still = account.role == Role.FOCAL_POINT and account.unit_id == unit.id
        outcome = LinkOutcome.ALREADY_YOURS if still else LinkOutcome.SPENT
        return Redemption(outcome, unit.name, snapshot(account), link_id=link.id)
    creator = await session.get(Account, link.created_by_id) if link.created_by_id else None
    used_by = await session.get(Account, link.used_by_id) if link.used_by_id else None
    return Redemption(
        LinkOutcome.TAKEN,
        unit.name,
        snapshot(account),
        link_id=link.id,
        creator=snapshot(creator) if creator is not None else None,
        used_by=snapshot(used_by) if used_by is not None else None,
        used_at=link.used_at,
    )


async def _previous_unit_name(session: AsyncSession, account: Account, new_unit_id: int) -> str | None:
    if account.role != Role.FOCAL_POINT or account.unit_id is None or account.unit_id == new_unit_id:
        return None
    previous = await session.get(OrgUnit, account.unit_id)
    return previous.name if previous is not None else None


__all__ = [
    "LinkOutcome",
    "NewUnitLink",
    "Redemption",
    "UnitChoice",
    "UnitLinkError",
    "create_unit_link",
    "link_expiry",
    "linkable_unit",
    "linkable_units",
    "redeem_unit_link",
    "revoke_unit_link",
    "unit_link_url",
]
