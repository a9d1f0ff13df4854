"""Roles granted in chat: an organiser makes someone an organiser, a reviewer, or a citizen again.

The first organisers come from the settings (``ORGANISER_IDS``); after that organisers grant roles with
``/grant @username reviewer`` or ``/grant 123456789 organiser``. Focal points are never granted here: they
bind themselves to a unit through a unit link (:mod:`rules.unit_links`). Every grant is audited.

Bots cannot write first, so the person must have opened the bot before (they then have an account).
The district must never be left without an organiser, and an organiser named in the settings would be
promoted again on their next message, so demoting one is refused with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.accounts import AccountSnapshot, assign_role, snapshot
from rules.identities import TELEGRAM, ZALO
from rules.roles import Role, can_organise
from storage.models import Account, ChannelIdentity

GRANTABLE_ROLES = (Role.ORGANISER, Role.REVIEWER, Role.CITIZEN)

# What people type for a role, in either language; matched without tone marks or case (rules.choices).
ROLE_ALIASES: dict[Role, tuple[str, ...]] = {
    Role.ORGANISER: ("organiser", "organizer", "Ban tổ chức", "tổ chức", "BTC", "admin"),
    Role.REVIEWER: ("reviewer", "người xét duyệt", "xét duyệt", "thẩm định"),
    Role.CITIZEN: ("citizen", "người dân", "công dân", "thường"),
    Role.FOCAL_POINT: ("focal point", "focal_point", "đầu mối", "cán bộ đầu mối"),
}

_USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,31})$")
_PROFILE_LINK = re.compile(r"^(?:https?://)?t\.me/([A-Za-z][A-Za-z0-9_]{3,31})/?$", re.IGNORECASE)
_TELEGRAM_ID = re.compile(r"^\d{1,15}$")
_ZALO_ID = re.compile(r"^[0-9a-fA-F]{16,40}$")
_ACCOUNT_NUMBER = re.compile(r"^#\s*(\d{1,9})$")


@dataclass(frozen=True)
class Target:
    """Whom a grant is for, as the organiser typed it: a channel's id for the person (a Telegram id, a Zalo
    id), a Telegram @username, or the account's number ("#42", shown to each person by /start)."""

    channel: str | None = None
    external_id: str | None = None
    username: str | None = None
    account_id: int | None = None


def parse_target(text: str) -> Target | None:
    """``123456789`` → a Telegram id; ``@lan_nguyen``, ``lan_nguyen`` or ``t.me/lan_nguyen`` → a username;
    ``#42`` → account 42; 16–40 hexadecimal digits → a Zalo id."""
    text = text.strip()
    if _TELEGRAM_ID.match(text):
        return Target(channel=TELEGRAM, external_id=str(int(text)))
    if number := _ACCOUNT_NUMBER.match(text):
        return Target(account_id=int(number.group(1)))
    if _ZALO_ID.match(text) and not text.isdigit():
        return Target(channel=ZALO, external_id=text.lower())
    match = _USERNAME.match(text) or _PROFILE_LINK.match(text)
    return Target(username=match.group(1)) if match else None


async def find_grantee(session: AsyncSession, target: Target) -> AccountSnapshot | None:
    """The account ``target`` names, if that person has talked to the bot.

    Usernames move between people over time; when two accounts carry the same one, the one seen most
    recently is meant.
    """
    account = await _find_account(session, target)
    return snapshot(account) if account is not None else None


async def _find_account(session: AsyncSession, target: Target) -> Account | None:
    if target.account_id is not None:
        return await session.get(Account, target.account_id)
    if target.channel is not None:
        return await session.scalar(
            select(Account)
            .join(ChannelIdentity)
            .where(ChannelIdentity.channel == target.channel, ChannelIdentity.external_id == target.external_id)
        )
    assert target.username is not None
    statement = (
        select(Account)
        .where(func.lower(Account.username) == target.username.lower())
        .order_by(Account.last_seen_at.desc().nulls_last(), Account.id.desc())
        .limit(1)
    )
    return await session.scalar(statement)


class GrantOutcome(StrEnum):
    GRANTED = "granted"
    UNCHANGED = "unchanged"  # the person already has that role
    NOT_ALLOWED = "not_allowed"  # the actor is not an organiser
    NOT_GRANTABLE = "not_grantable"  # focal point (only through a unit link) or not a role
    BAD_TARGET = "bad_target"  # neither a @username nor a numeric Telegram id
    UNKNOWN_TARGET = "unknown_target"  # has never opened the bot
    LAST_ORGANISER = "last_organiser"  # would leave nobody to organise
    SETTINGS_ORGANISER = "settings_organiser"  # named in ORGANISER_IDS: would be promoted again


@dataclass(frozen=True)
class GrantResult:
    outcome: GrantOutcome
    role: Role | None = None
    # The person's account, after the change when there was one.
    target: AccountSnapshot | None = None
    previous_role: str | None = None

    @property
    def granted(self) -> bool:
        return self.outcome is GrantOutcome.GRANTED


async def grant_role(
    session: AsyncSession,
    *,
    actor_id: int,
    role: Role | str,
    target: Target | str | None = None,
    target_account_id: int | None = None,
    reason: str | None = None,
    settings_organiser_ids: tuple[int, ...] = (),
) -> GrantResult:
    """Give the person named by ``target`` (or ``target_account_id``) ``role``; audited as ``role.grant``.

    Only organisers grant, and only organiser, reviewer or citizen. Demoting an organiser is refused
    when they are the last one (organiser rows are locked while counting, so two organisers demoting
    each other at once cannot both succeed) or when the settings name them.
    """
    actor = await session.get(Account, actor_id)
    if actor is None or not can_organise(actor.role):
        return GrantResult(GrantOutcome.NOT_ALLOWED)
    wanted = _role(role)
    if wanted not in GRANTABLE_ROLES:
        return GrantResult(GrantOutcome.NOT_GRANTABLE, role=wanted)
    account = await _target_account(session, target, target_account_id)
    if isinstance(account, GrantOutcome):
        return GrantResult(account, role=wanted)
    if account.role == wanted:
        return GrantResult(GrantOutcome.UNCHANGED, wanted, snapshot(account), account.role)
    if account.role == Role.ORGANISER:
        refusal = await _refuse_demotion(session, account, settings_organiser_ids)
        if refusal is not None:
            return GrantResult(refusal, wanted, snapshot(account), account.role)
    previous = account.role
    updated = await assign_role(session, account.id, wanted, actor_id=actor_id, reason=reason, action="role.grant")
    return GrantResult(GrantOutcome.GRANTED, wanted, updated, previous)


def _role(value: Role | str) -> Role | None:
    try:
        return Role(value)
    except ValueError:
        return None


async def _target_account(
    session: AsyncSession, target: Target | str | None, target_account_id: int | None
) -> Account | GrantOutcome:
    if target_account_id is not None:
        account = await session.get(Account, target_account_id)
        return account if account is not None else GrantOutcome.UNKNOWN_TARGET
    parsed = parse_target(target) if isinstance(target, str) else target
    if parsed is None:
        return GrantOutcome.BAD_TARGET
    found = await _find_account(session, parsed)
    return found if found is not None else GrantOutcome.UNKNOWN_TARGET


async def _refuse_demotion(
    session: AsyncSession, organiser: Account, settings_organiser_ids: tuple[int, ...]
) -> GrantOutcome | None:
    listed = {str(telegram_id) for telegram_id in settings_organiser_ids}
    telegram_ids = await session.scalars(
        select(ChannelIdentity.external_id).where(
            ChannelIdentity.account_id == organiser.id, ChannelIdentity.channel == TELEGRAM
        )
    )
    if listed.intersection(telegram_ids):
        return GrantOutcome.SETTINGS_ORGANISER
    organisers = (
        await session.scalars(select(Account.id).where(Account.role == Role.ORGANISER).with_for_update())
    ).all()
    return GrantOutcome.LAST_ORGANISER if len(organisers) <= 1 else None


__all__ = [
    "GRANTABLE_ROLES",
    "ROLE_ALIASES",
    "GrantOutcome",
    "GrantResult",
    "Target",
    "find_grantee",
    "grant_role",
    "parse_target",
]
