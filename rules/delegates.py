"""Delegates of a conference for organisers: seats per pool, who is invited, inviting approved exemplars.

Seats come from the plan (capacity, pools computed by ``rules.plans.pool_seats``, optional unit seats,
balance targets); invitations are counted per pool and status. :func:`preview_nomination` and
:func:`preview_conference` say what ``/invite`` would do (the exemplar pool's seats, how many are invited
and accepted, who would be invited and who is skipped because they are invited already) before anything is
written; :func:`invite_nominations` then creates the invitations, checking every nomination again.

Only organisers invite and see delegates (:func:`may_manage`): the lists hold personal data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.accounts import acting
from rules.choices import Option, pick
from rules.conferences import Use, is_open_for
from rules.i18n import N_
from rules.invitations import EXEMPLAR_POOL, Status, create_invitation, person_from_nomination
from rules.nominations import Status as NominationStatus
from rules.nominations import by_code, normalise_code
from rules.roles import Actor, NotAllowed, Role, audit_actor, can_organise
from rules.seats import PoolCount, pool_counts
from rules.text import fold, name_sort_key
from storage.models import (
    AuditEntry,
    BalanceTarget,
    Campaign,
    Conference,
    Invitation,
    Nomination,
    OrgUnit,
    SeatPool,
    UnitAllowance,
)
from storage.scratch import forget, recall, remember

# The order statuses are listed in.
STATUS_ORDER: tuple[Status, ...] = (
    Status.ACCEPTED,
    Status.PENDING,
    Status.WAITLISTED,
    Status.PROPOSED,
    Status.DECLINED,
    Status.SUBSTITUTED,
    Status.CANCELLED,
)
STATUS_LABELS: dict[str, str] = {
    Status.PROPOSED: N_("Proposed substitute"),
    Status.PENDING: N_("Invited, no answer yet"),
    Status.ACCEPTED: N_("Accepted"),
    Status.DECLINED: N_("Declined"),
    Status.WAITLISTED: N_("On the waiting list"),
    Status.SUBSTITUTED: N_("Replaced by a substitute"),
    Status.CANCELLED: N_("Invitation withdrawn"),
}
INVITE_BATCH_LIMIT = 500  # approved nominations one /invite all may cover (a district conference has 300 seats)


def may_manage(role: str) -> bool:
    """Inviting, importing guest lists, exporting lists and seeing delegates: organisers only."""
    return can_organise(role)


# --- conferences -------------------------------------------------------------------------------------


async def conferences(session: AsyncSession) -> list[Conference]:
    """Conferences that take invitations (status open), newest campaign first, in plan order."""
    statement = (
        select(Conference)
        .join(Campaign, Campaign.id == Conference.campaign_id)
        .where(Conference.status == "open")
        .order_by(Campaign.id.desc(), Conference.id)
    )
    return list((await session.scalars(statement)).all())


def conference_options(items: Iterable[Conference]) -> list[Option]:
    """One option per conference: its title, with its code accepted when typed."""
    return [Option(str(conference.id), conference.title, aliases=(conference.code,)) for conference in items]


async def find_conference(session: AsyncSession, text: str) -> Conference | None:
    """The conference ``text`` names beyond doubt: its code (``district``), its full title, or its number
    in the list (a part of a title is no answer here: nobody can be asked "did you mean …?")."""
    items = await conferences(session)
    option = pick(conference_options(items), text)
    if option is None:
        return None
    return next(conference for conference in items if str(conference.id) == option.key)


# --- seats and counts --------------------------------------------------------------------------------
# ``rules.seats.pool_counts`` counts each pool's invitations (the same figures /status shows).


def active(pool: PoolCount) -> int:
    """People who hold a seat or may still take one: invited and not declined."""
    return pool.invited - pool.declined


# --- who is invited already --------------------------------------------------------------------------


@dataclass(frozen=True)
class Invited:
    """Who a conference has invitations for, to recognise the same person again."""

    nominations: Mapping[int, str]  # nomination id -> status of its invitation
    people: Mapping[tuple[str, int | None], str]  # (folded name, birth year) -> status

    def status_of(self, *, name: str, birth_year: int | None, nomination_id: int | None = None) -> str | None:
        """The status of this person's invitation, or None when they have none."""
        if nomination_id is not None and nomination_id in self.nominations:
            return self.nominations[nomination_id]
        return self.people.get((fold(name), birth_year))


async def invited(session: AsyncSession, conference_id: int) -> Invited:
    """Everyone with an invitation to the conference, whatever its status (a withdrawn invitation is not
    created again by accident)."""
    rows = await session.execute(
        select(Invitation.nomination_id, Invitation.name_fold, Invitation.birth_year, Invitation.status).where(
            Invitation.conference_id == conference_id
        )
    )
    nominations: dict[int, str] = {}
    people: dict[tuple[str, int | None], str] = {}
    for nomination_id, name_fold, birth_year, status in rows:
        if nomination_id is not None:
            nominations[nomination_id] = status
        people[(name_fold, birth_year)] = status
    return Invited(nominations, people)


# --- /invite: approved exemplars into the exemplar pool ----------------------------------------------


@dataclass(frozen=True)
class Nominee:
    nomination_id: int
    code: str
    name: str


@dataclass(frozen=True)
class InvitePreview:
    """What ``/invite`` would do, shown before the organiser confirms.

    ``refusal`` says why nothing can be invited: ``not_found`` (no such code), ``not_approved``
    (``nomination_status`` says what it is), ``no_conference`` (the nomination is for no conference),
    ``no_pool`` (the conference has no exemplar pool), ``nothing`` (no approved nomination is waiting).
    """

    conference_id: int | None = None
    conference_title: str = ""
    pool: PoolCount | None = None
    to_invite: tuple[Nominee, ...] = ()
    already_invited: tuple[Nominee, ...] = ()
    refusal: str | None = None
    code: str = ""
    nomination_status: str | None = None

    @property
    def nomination_ids(self) -> list[int]:
        return [nominee.nomination_id for nominee in self.to_invite]


def _nominee(nomination: Nomination) -> Nominee:
    return Nominee(nomination.id, nomination.code or "", nomination.nominee_name or "")


async def _preview(
    session: AsyncSession,
    conference: Conference,
    nominations: Iterable[Nomination],
    *,
    now: dt.datetime,
    code: str = "",
) -> InvitePreview:
    if not is_open_for(conference, Use.INVITATIONS, now):
        return InvitePreview(conference.id, conference.title, refusal="ended", code=code)
    pools = {pool.code: pool for pool in await pool_counts(session, conference.id)}
    if EXEMPLAR_POOL not in pools:
        return InvitePreview(conference.id, conference.title, refusal="no_pool", code=code)
    already = await invited(session, conference.id)
    to_invite: list[Nominee] = []
    skipped: list[Nominee] = []
    for nomination in nominations:
        status = already.status_of(
            name=nomination.nominee_name or "", birth_year=nomination.birth_year, nomination_id=nomination.id
        )
        (skipped if status is not None else to_invite).append(_nominee(nomination))
    return InvitePreview(
        conference_id=conference.id,
        conference_title=conference.title,
        pool=pools[EXEMPLAR_POOL],
        to_invite=tuple(to_invite),
        already_invited=tuple(skipped),
        refusal=None if to_invite else "nothing",
        code=code,
    )


async def preview_nomination(
    session: AsyncSession, code: str, *, actor_id: Actor | None, now: dt.datetime
) -> InvitePreview | NotAllowed:
    """``/invite DH-2020-0042``: that approved nomination into its conference's exemplar pool (organisers)."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    wanted = normalise_code(code)
    nomination = await by_code(session, wanted)
    if nomination is None:
        return InvitePreview(refusal="not_found", code=wanted)
    if nomination.status != NominationStatus.APPROVED:
        return InvitePreview(refusal="not_approved", code=wanted, nomination_status=nomination.status)
    conference = await session.get(Conference, nomination.conference_id) if nomination.conference_id else None
    if conference is None:
        return InvitePreview(refusal="no_conference", code=wanted)
    return await _preview(session, conference, [nomination], now=now, code=wanted)


async def _approved(session: AsyncSession, conference_id: int) -> list[Nomination]:
    statement = (
        select(Nomination)
        .where(Nomination.conference_id == conference_id, Nomination.status == NominationStatus.APPROVED)
        .order_by(Nomination.decided_at, Nomination.id)
        .limit(INVITE_BATCH_LIMIT)
    )
    return list((await session.scalars(statement)).all())


async def preview_conference(
    session: AsyncSession, conference_id: int, *, actor_id: Actor | None, now: dt.datetime
) -> InvitePreview | NotAllowed:
    """``/invite all``: every approved nomination of the conference not invited yet (organisers)."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get(Conference, conference_id)
    if conference is None:
        return InvitePreview(refusal="no_conference")
    return await _preview(session, conference, await _approved(session, conference_id), now=now)


@dataclass(frozen=True)
class InviteResult:
    created: tuple[Nominee, ...] = ()
    # Invited meanwhile, no longer approved, or moved to another conference: not invited.
    skipped: tuple[Nominee, ...] = ()


async def invite_nominations(
    session: AsyncSession,
    *,
    conference_id: int,
    nomination_ids: Collection[int],
    secret: bytes,
    actor_id: Actor | None,
    now: dt.datetime,
) -> InviteResult | NotAllowed:
    """Invite these approved nominations' nominees into the exemplar pool of the conference.

    The actor must be an organiser now (not only when the preview was shown). Each nomination is checked
    again (approved, of this conference, its nominee not invited yet), so a confirmation pressed twice or
    late creates nothing twice. Audited.
    """
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get(Conference, conference_id)
    if conference is None or not nomination_ids or not is_open_for(conference, Use.INVITATIONS, now):
        return InviteResult()
    nominations = (await session.scalars(select(Nomination).where(Nomination.id.in_(nomination_ids)))).all()
    already = await invited(session, conference_id)
    created: list[Nominee] = []
    skipped: list[Nominee] = []
    for nomination in sorted(nominations, key=lambda item: item.id):
        usable = nomination.status == NominationStatus.APPROVED and nomination.conference_id == conference_id
        if not usable or already.status_of(
            name=nomination.nominee_name or "", birth_year=nomination.birth_year, nomination_id=nomination.id
        ):
            skipped.append(_nominee(nomination))
            continue
        invitation = await create_invitation(
            session,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=person_from_nomination(nomination),
            secret=secret,
            now=now,
            nomination_id=nomination.id,
            actor_id=audit_actor(actor_id),
        )
        (created if invitation is not None else skipped).append(_nominee(nomination))
    if created:
        session.add(
            AuditEntry(
                at=now,
                actor_id=audit_actor(actor_id),
                action="invitation.invite_nominations",
                entity="conference",
                entity_id=str(conference_id),
                detail={"created": len(created), "nominations": [nominee.code for nominee in created]},
            )
        )
    return InviteResult(tuple(created), tuple(skipped))


# --- /delegates ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DelegateLine:
    name: str
    unit_name: str | None
    checked_in: bool
    # The invitation's number, printed in every list and typed for /checkin and /override.
    number: int = 0


@dataclass(frozen=True)
class PoolDelegates:
    pool: PoolCount
    share: float | None  # None: a pool the plan no longer lists
    share_rule: str | None
    # status -> people in that status, in Vietnamese name order
    people: Mapping[str, tuple[DelegateLine, ...]]


@dataclass(frozen=True)
class UnitSeats:
    unit_name: str
    seats: int
    accepted: int


@dataclass(frozen=True)
class Target:
    dimension: str
    value: str
    target_share: float | None  # None: report only
    comparison: str


@dataclass(frozen=True)
class DelegatesSummary:
    """What ``/delegates`` shows: the seats of the plan and the delegates by pool and status."""

    conference_id: int
    title: str
    capacity: int | None
    pools: tuple[PoolDelegates, ...]
    unit_seats: tuple[UnitSeats, ...]
    targets: tuple[Target, ...]
    title_en: str | None = None  # the plan's English title (rules.text.title_for)

    @property
    def invited(self) -> int:
        return sum(item.pool.invited for item in self.pools)

    @property
    def accepted(self) -> int:
        return sum(item.pool.accepted for item in self.pools)


async def unit_names(session: AsyncSession, unit_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {unit_id for unit_id in unit_ids if unit_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(wanted)))
    return {unit_id: name for unit_id, name in rows}


async def delegates_summary(
    session: AsyncSession, conference_id: int, *, actor_id: Actor | None
) -> DelegatesSummary | NotAllowed | None:
    """The conference's seats and delegates by pool and status (organisers: it names people), or None
    when there is no such conference."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get(Conference, conference_id)
    if conference is None:
        return None
    counts = await pool_counts(session, conference_id)
    plan_pools = {
        pool.code: pool
        for pool in await session.scalars(select(SeatPool).where(SeatPool.conference_id == conference_id))
    }
    invitations = list(
        (await session.scalars(select(Invitation).where(Invitation.conference_id == conference_id))).all()
    )
    names = await unit_names(session, (invitation.unit_id for invitation in invitations))
    grouped: dict[str, dict[str, list[Invitation]]] = {}
    for invitation in invitations:
        grouped.setdefault(invitation.pool_code, {}).setdefault(invitation.status, []).append(invitation)

    def lines(items: list[Invitation]) -> tuple[DelegateLine, ...]:
        ordered = sorted(items, key=lambda item: name_sort_key(item.full_name))
        return tuple(
            DelegateLine(item.full_name, names.get(item.unit_id or 0), item.checked_in_at is not None, item.id)
            for item in ordered
        )

    pools = tuple(
        PoolDelegates(
            count,
            plan_pools[count.code].share if count.code in plan_pools else None,
            plan_pools[count.code].share_rule if count.code in plan_pools else None,
            {status: lines(items) for status, items in grouped.get(count.code, {}).items()},
        )
        for count in counts
    )
    return DelegatesSummary(
        conference_id=conference.id,
        title=conference.title,
        capacity=conference.capacity,
        pools=pools,
        unit_seats=await _unit_seats(session, conference_id),
        targets=await _targets(session, conference_id),
        title_en=conference.title_en,
    )


async def _unit_seats(session: AsyncSession, conference_id: int) -> tuple[UnitSeats, ...]:
    allowances = (
        await session.execute(
            select(UnitAllowance.unit_id, UnitAllowance.seats, OrgUnit.name)
            .join(OrgUnit, OrgUnit.id == UnitAllowance.unit_id)
            .where(UnitAllowance.conference_id == conference_id, UnitAllowance.seats.is_not(None))
        )
    ).all()
    if not allowances:
        return ()
    accepted = dict(
        (
            await session.execute(
                select(Invitation.unit_id, func.count())
                .where(Invitation.conference_id == conference_id, Invitation.status == Status.ACCEPTED)
                .group_by(Invitation.unit_id)
            )
        ).all()
    )
    items = [UnitSeats(name, seats or 0, accepted.get(unit_id, 0)) for unit_id, seats, name in allowances]
    return tuple(sorted(items, key=lambda item: fold(item.unit_name)))


async def _targets(session: AsyncSession, conference_id: int) -> tuple[Target, ...]:
    rows = await session.scalars(
        select(BalanceTarget).where(BalanceTarget.conference_id == conference_id).order_by(BalanceTarget.id)
    )
    return tuple(Target(row.dimension, row.value, row.target_share, row.comparison) for row in rows)


__all__ = [
    "STATUS_LABELS",
    "STATUS_ORDER",
    "DelegateLine",
    "DelegatesSummary",
    "InvitePreview",
    "InviteResult",
    "Invited",
    "Nominee",
    "PoolDelegates",
    "Target",
    "UnitSeats",
    "active",
    "conference_options",
    "conferences",
    "delegates_summary",
    "find_conference",
    "forget",
    "invite_nominations",
    "invited",
    "may_manage",
    "preview_conference",
    "preview_nomination",
    "recall",
    "remember",
]
