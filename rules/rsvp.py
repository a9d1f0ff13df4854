"""A delegate and their invitation: opening the personal link, substitutes, check-in, what they receive.

Opening ``?start=inv_<token>`` binds the invitation to the chat that opens it first (:func:`open_link`);
the same chat may open it again any time, another chat is refused and the organisers are told. The link
expires at the RSVP deadline for anyone it is not bound to yet; the bound chat keeps seeing its invitation
(read-only once answers are locked). Answers themselves are in :mod:`rules.seats`.

A delegate may propose a substitute (:func:`propose_substitute`): a new invitation in the same pool with
status ``proposed``, which an organiser approves after seeing its effect on the balance
(:func:`balance_effect`) or rejects. On approval the delegate is ``substituted`` and the substitute becomes
``pending`` with a link of their own. If the delegate had a seat, it passes to the substitute and stays
held for them until they answer — it is not given to the waitlist meanwhile, so a replacement the
organisers approved is never bumped by the queue; if they decline, the seat goes to the waitlist then. A
waitlisted delegate's place in line does not pass on: their substitute queues when they accept.

On the day an accepted delegate shows a check-in QR (``?start=chk_<token>``, opened by an organiser's
phone) or types their code for ``/checkin``; :func:`check_in` records it once and answers "already checked in
at 08:12" after that.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import re
import secrets
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

import qrcode
from PIL import Image
from sqlalchemy import Integer, and_, bindparam, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from rules import links
from rules.accounts import AccountSnapshot, acting
from rules.calendar import conference_ics
from rules.invitations import (
    Person,
    Status,
    create_invitation,
    invitation_code,
    issue_checkin,
    link_token,
    person_key,
)
from rules.link_codes import TypedCode, parse_code, typed_code
from rules.refdata import reference
from rules.roles import Actor, NotAllowed, Role
from rules.seats import (
    ANSWERABLE,
    SEAT_PASSED_ON,
    PoolFacts,
    RsvpResult,
    accept,
    holds_seat,
    is_holding_seat,
    is_locked,
    lock_conference_of,
    lock_seats,
    pool_facts_of,
    transition,
    waitlist_position,
)
from rules.text import fold, name_sort_key, parse_id, title_for
from rules.tokens import token_hash
from storage import link_codes as link_store
from storage import scratch
from storage.models import (
    Account,
    AuditEntry,
    Conference,
    Invitation,
    InvitationEvent,
    OrgUnit,
    SeatPool,
)

YOUTH_AGES = (16, 30)  # Luật Thanh niên: from a full 16 to 30 (the plan's default band)
CHECKED_IN = "checked in"
CHECK_IN_ACTION = "invitation.check_in"  # its audit entry records the role the desk had (for /mydata)
# Statuses in which a person counts as invited already (a substitute must not be one of them).
_TAKEN = frozenset({Status.PROPOSED, *ANSWERABLE})


# --- what a delegate sees ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConferenceView:
    id: int
    title: str
    starts_at: dt.datetime | None
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    duration_minutes: int | None
    venue: str | None
    what_to_bring: str | None
    rsvp_deadline: dt.datetime | None
    title_en: str | None = None  # the plan's English title (rules.text.title_for)


@dataclass(frozen=True)
class InvitationView:
    """One invitation as its delegate (or an organiser) sees it."""

    id: int
    full_name: str
    status: str
    pool_code: str
    pool_title: str
    conference: ConferenceView
    locked: bool  # answers can no longer be changed by the delegate
    position: int | None = None
    decline_reason: str | None = None
    checked_in_at: dt.datetime | None = None
    account_id: int | None = None
    # What the invitation code is derived from (``rules.invitations.code_of``), for the card to show it.
    link_nonce: str | None = None
    gender: str | None = None  # "nam", "nu": how the delegate is addressed (``rules.address``)
    pool_title_en: str | None = None  # the plan's English title of the pool (rules.text.title_for)

    def pool_in(self, locale: str) -> str:
        return title_for(locale, self.pool_title, self.pool_title_en)


def _conference_view(conference: Conference) -> ConferenceView:
    return ConferenceView(
        id=conference.id,
        title=conference.title,
        starts_at=conference.starts_at,
        window_start=conference.window_start,
        window_end=conference.window_end,
        duration_minutes=conference.duration_minutes,
        venue=conference.venue,
        what_to_bring=conference.what_to_bring,
        rsvp_deadline=conference.rsvp_deadline,
        title_en=conference.title_en,
    )


async def _pool_titles(session: AsyncSession, conference_id: int, pool_code: str) -> tuple[str | None, str | None]:
    row = (
        await session.execute(
            select(SeatPool.title, SeatPool.title_en).where(
                SeatPool.conference_id == conference_id, SeatPool.code == pool_code
            )
        )
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


async def _pool_title(session: AsyncSession, conference_id: int, pool_code: str) -> str:
    title = await session.scalar(
        select(SeatPool.title).where(SeatPool.conference_id == conference_id, SeatPool.code == pool_code)
    )
    return title or pool_code


def _view(
    invitation: Invitation,
    conference: Conference,
    pool_title: str | None,
    position: int | None,
    now: dt.datetime,
    pool_title_en: str | None = None,
) -> InvitationView:
    return InvitationView(
        id=invitation.id,
        full_name=invitation.full_name,
        status=invitation.status,
        pool_code=invitation.pool_code,
        pool_title=pool_title or invitation.pool_code,
        conference=_conference_view(conference),
        locked=is_locked(conference, now) or invitation.checked_in_at is not None,
        position=position,
        decline_reason=invitation.decline_reason,
        checked_in_at=invitation.checked_in_at,
        account_id=invitation.account_id,
        link_nonce=invitation.link_nonce,
        gender=invitation.gender,
        pool_title_en=pool_title_en,
    )


async def view(session: AsyncSession, invitation: Invitation, now: dt.datetime) -> InvitationView:
    conference = await session.get_one(Conference, invitation.conference_id)
    pool_title, pool_title_en = await _pool_titles(session, conference.id, invitation.pool_code)
    position = await waitlist_position(session, invitation.id)
    return _view(invitation, conference, pool_title, position, now, pool_title_en)


async def load_view(session: AsyncSession, invitation_id: int, now: dt.datetime) -> InvitationView | None:
    """Any invitation as an organiser sees it (no ownership check: callers check the role)."""
    invitation = await session.get(Invitation, invitation_id, populate_existing=True)
    return None if invitation is None else await view(session, invitation, now)


async def invitation_for(
    session: AsyncSession, invitation_id: int, account_id: int, now: dt.datetime
) -> InvitationView | None:
    """The invitation if it is bound to ``account_id`` (a button is re-checked here); else None.

    One statement reads the invitation, its conference and its pool's title (a second counts the
    waitlist ahead, for a waitlisted delegate only): a card's press reads this every time.
    """
    loaded = await _owned(session, invitation_id, account_id)
    if loaded is None:
        return None
    invitation, conference, pool_title, pool_title_en = loaded
    position = await waitlist_position(session, invitation.id)
    return _view(invitation, conference, pool_title, position, now, pool_title_en)


# The invitation ``_owned`` reads, as a bound parameter of statements built once per shape.
_OWNED = "owned_invitation"


@functools.cache
def _owned_statement(for_update: bool, extra: Any) -> Any:
    """The statement of :func:`_owned` for one shape, built once: a press reads through it every time, and
    building it anew (coercing each clause, then its cache key) cost more CPU than running it."""
    statement = (
        select(Invitation, Conference, SeatPool.title, SeatPool.title_en, *(extra.c if extra is not None else ()))
        .join(Conference, Conference.id == Invitation.conference_id)
        .outerjoin(
            SeatPool, and_(SeatPool.conference_id == Invitation.conference_id, SeatPool.code == Invitation.pool_code)
        )
        .where(Invitation.id == bindparam(_OWNED, type_=Integer()))
        .execution_options(populate_existing=True)
    )
    if extra is not None:
        statement = statement.join(extra, true())
    if for_update:
        statement = statement.with_for_update(of=Invitation)
    return statement


async def _owned(
    session: AsyncSession,
    invitation_id: int,
    account_id: int,
    *,
    for_update: bool = False,
    also: tuple[Any, dict[str, Any]] | None = None,
) -> tuple[Any, ...] | None:
    """The invitation bound to ``account_id``, its conference and its pool's title, in one statement; with
    ``also`` (a one-row subquery built once and its parameters, e.g. ``seats.pool_facts_of``), its columns
    after them."""
    extra, parameters = also if also is not None else (None, {})
    statement = _owned_statement(for_update, extra)
    row = (await session.execute(statement, {**parameters, _OWNED: invitation_id})).first()
    if row is None or row[0].account_id != account_id:
        return None
    return tuple(row)


def can_attend(invitation: InvitationView) -> bool:
    """Whether "Attend" is one of the card's choices: answers open, pending or declined."""
    return not invitation.locked and invitation.status in (Status.PENDING, Status.DECLINED)


@dataclass(frozen=True)
class AttendResult:
    """A delegate's "Attend": the invitation as it stood (None: not theirs, or gone), whether attending was
    on offer, what the answer did, and the pass to send when a seat was given (rendered after the commit)."""

    invitation: InvitationView | None
    offered: bool = False
    result: RsvpResult | None = None
    delegate: PassFacts | None = None


async def attend(
    session: AsyncSession, invitation_id: int, *, account_id: int, now: dt.datetime, secret: bytes, bot_username: str
) -> AttendResult:
    """The use case of a card's "Attend" (pressed or typed): the invitation must be the person's and
    attending on offer; then the seat (or the waitlist) in the same transaction, the check-in pass issued,
    the open form closed. The QR and the calendar file are drawn by the caller after the commit
    (:meth:`PassFacts.render`), so the seat lock is not held while they are drawn."""
    # The rows are held here for the whole use case: the session keeps unchanged rows only while someone
    # refers to them, and the seat answer and the pass would otherwise read them again.
    await lock_conference_of(session, invitation_id)
    loaded = await _owned(session, invitation_id, account_id, for_update=True, also=pool_facts_of(invitation_id))
    if loaded is None:
        return AttendResult(None)
    row, conference, pool_title, pool_title_en, *facts = loaded
    invitation = _view(row, conference, pool_title, await waitlist_position(session, row.id), now, pool_title_en)
    if not can_attend(invitation):
        return AttendResult(invitation)
    result = await accept(
        session, invitation.id, now=now, actor_id=account_id, locked=(row, conference), pool=PoolFacts(*facts)
    )
    delegate = None
    if result.status == Status.ACCEPTED and result.invitation_id is not None:
        delegate = await pass_facts(session, result.invitation_id, secret=secret, bot_username=bot_username)
    await close_form(session, account_id)
    return AttendResult(invitation, True, result, delegate)


async def my_invitations(session: AsyncSession, account_id: int, now: dt.datetime) -> list[InvitationView]:
    """The invitations bound to an account that can still be seen (not replaced or withdrawn), newest first."""
    invitations = await session.scalars(
        select(Invitation)
        .where(Invitation.account_id == account_id, Invitation.status.in_(ANSWERABLE))
        .order_by(Invitation.id.desc())
    )
    return [await view(session, invitation, now) for invitation in invitations]


@dataclass(frozen=True)
class Organiser:
    """Someone to tell (in their language) when something needs the organisers."""

    account_id: int
    locale: str | None


async def organisers(session: AsyncSession) -> list[Organiser]:
    """The organisers the bot can write to."""
    rows = await session.scalars(
        select(Account).where(Account.role == Role.ORGANISER, Account.bot_blocked_at.is_(None)).order_by(Account.id)
    )
    return [Organiser(row.id, row.locale) for row in rows]


# --- opening the personal link ---------------------------------------------------------------------------


class OpenOutcome(StrEnum):
    OPENED = "opened"
    UNKNOWN = "unknown"  # no such link (mistyped, revoked, or a proposal not approved yet)
    EXPIRED = "expired"  # not opened before the RSVP deadline
    CLOSED = "closed"  # the invitation was replaced by a substitute or withdrawn (``status`` says which)
    TAKEN = "taken"  # already bound to another chat


@dataclass(frozen=True)
class OpenResult:
    outcome: OpenOutcome
    invitation: InvitationView | None = None
    first_open: bool = False
    status: str | None = None
    expired_at: dt.datetime | None = None
    # TAKEN: the organisers to tell that someone else tried the link.
    organisers: tuple[Organiser, ...] = ()


async def open_link(
    session: AsyncSession,
    token: str,
    *,
    account_id: int,
    now: dt.datetime,
    code: TypedCode | None = None,
) -> OpenResult:
    """A person opens ``?start=inv_<token>``, or types the invitation's ``code``: the first account is bound
    to the invitation, the same account is welcome again (on any of its channels), another is refused (and
    the result names the organisers to tell)."""
    if code is not None:
        condition = Invitation.id == link_store.record_id(links.INVITATION, code.lookup)
    elif token:
        condition = Invitation.token_hash == token_hash(token)
    else:
        return OpenResult(OpenOutcome.UNKNOWN)
    invitation = await session.scalar(
        select(Invitation).where(condition).with_for_update().execution_options(populate_existing=True)
    )
    if invitation is None or invitation.status == Status.PROPOSED:
        return OpenResult(OpenOutcome.UNKNOWN)
    if invitation.status not in ANSWERABLE:
        return OpenResult(OpenOutcome.CLOSED, status=invitation.status)
    if invitation.account_id is not None and invitation.account_id != account_id:
        _audit(session, "invitation.link_taken", invitation.id, account_id, now, {})
        return OpenResult(
            OpenOutcome.TAKEN,
            invitation=await view(session, invitation, now),
            organisers=tuple(await organisers(session)),
        )
    first_open = invitation.account_id is None
    if first_open:
        expires = invitation.token_expires_at
        if expires is not None and now >= expires:
            return OpenResult(OpenOutcome.EXPIRED, expired_at=expires)
        invitation.account_id = account_id
        invitation.updated_at = now
        _audit(session, "invitation.bind", invitation.id, account_id, now, {})
        await session.flush()
    return OpenResult(OpenOutcome.OPENED, invitation=await view(session, invitation, now), first_open=first_open)


def _audit(
    session: AsyncSession, action: str, invitation_id: int, actor_id: int | None, now: dt.datetime, detail: dict
) -> None:
    session.add(
        AuditEntry(
            at=now, actor_id=actor_id, action=action, entity="invitation", entity_id=str(invitation_id), detail=detail
        )
    )


# --- a half-answered question (decline reason, substitute's details), an organiser's proposals desk -------

_FORM_KIND = "rsvp"
_DESK_KIND = "rsvp_desk"
_ERRAND_KIND = "rsvp_desk_pick"


@dataclass
class RsvpForm:
    """Which invitation a delegate is answering about, and the substitute's details typed so far.

    Kept in the database (``ptb_data``, kind ``rsvp``), so a restart resumes the same question.
    """

    invitation_id: int | None = None
    substitute: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any) -> RsvpForm:
        if not isinstance(data, dict):
            return cls()
        invitation_id = data.get("invitation_id")
        substitute = data.get("substitute")
        return cls(
            invitation_id=invitation_id if isinstance(invitation_id, int) else None,
            substitute=substitute if isinstance(substitute, dict) else {},
        )


@dataclass
class ProposalDesk:
    """The proposal an organiser is looking at in ``/substitutes`` and those they skipped."""

    card_id: int | None = None
    skipped: list[int] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> ProposalDesk:
        if not isinstance(data, dict):
            return cls()
        card_id = data.get("card_id")
        skipped = data.get("skipped")
        return cls(
            card_id=card_id if isinstance(card_id, int) else None,
            skipped=[i for i in skipped if isinstance(i, int)] if isinstance(skipped, list) else [],
        )


@dataclass
class DeskErrand:
    """What an organiser asked at the desk while they pick the delegate from a list: ``action``
    (``checkin``, ``attend`` or ``decline``), the override's ``reason``, what they ``typed`` and the
    invitations offered (``ids``, in the order shown). Kept like :class:`RsvpForm` (kind ``rsvp_desk_pick``)."""

    action: str = ""
    reason: str = ""
    typed: str = ""
    ids: list[int] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> DeskErrand:
        if not isinstance(data, dict):
            return cls()
        ids = data.get("ids")
        return cls(
            action=str(data.get("action") or ""),
            reason=str(data.get("reason") or ""),
            typed=str(data.get("typed") or ""),
            ids=[i for i in ids if isinstance(i, int)] if isinstance(ids, list) else [],
        )


async def open_errand(session: AsyncSession, account_id: int) -> DeskErrand:
    return DeskErrand.from_json(await scratch.recall(session, _ERRAND_KIND, account_id))


async def keep_errand(session: AsyncSession, account_id: int, errand: DeskErrand) -> None:
    await scratch.remember(session, _ERRAND_KIND, account_id, asdict(errand))


async def close_errand(session: AsyncSession, account_id: int) -> None:
    await scratch.forget(session, _ERRAND_KIND, account_id)


async def open_form(session: AsyncSession, account_id: int) -> RsvpForm:
    return RsvpForm.from_json(await scratch.recall(session, _FORM_KIND, account_id))


async def keep_form(session: AsyncSession, account_id: int, form: RsvpForm) -> None:
    await scratch.remember(session, _FORM_KIND, account_id, asdict(form))


async def close_form(session: AsyncSession, account_id: int) -> None:
    await scratch.forget(session, _FORM_KIND, account_id)


async def open_desk(session: AsyncSession, account_id: int) -> ProposalDesk:
    return ProposalDesk.from_json(await scratch.recall(session, _DESK_KIND, account_id))


async def keep_desk(session: AsyncSession, account_id: int, desk: ProposalDesk) -> None:
    await scratch.remember(session, _DESK_KIND, account_id, asdict(desk))


async def close_desk(session: AsyncSession, account_id: int) -> None:
    await scratch.forget(session, _DESK_KIND, account_id)


# --- substitutes ----------------------------------------------------------------------------------------


class SubstituteOutcome(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    NOT_FOUND = "not_found"
    NOT_ALLOWED = "not_allowed"  # not the delegate's invitation / not an organiser
    LOCKED = "locked"  # after the RSVP deadline, or the delegate has checked in
    CLOSED = "closed"  # the invitation was replaced or withdrawn already
    ALREADY_INVITED = "already_invited"  # the substitute is invited to this conference already
    ALREADY_DECIDED = "already_decided"  # an old button: the proposal was approved or rejected
    ORIGINAL_GONE = "original_gone"  # the delegate's invitation closed meanwhile; the proposal is dropped


@dataclass(frozen=True)
class SubstituteResult:
    outcome: SubstituteOutcome
    proposed_id: int | None = None
    substitute_name: str | None = None
    original_id: int | None = None
    original_name: str | None = None
    conference_title: str | None = None
    # PROPOSED: the organisers to tell. APPROVED / REJECTED: the delegate who proposed, to tell.
    organisers: tuple[Organiser, ...] = ()
    original_account_id: int | None = None
    original_locale: str | None = None
    original_gender: str | None = None
    # APPROVED: the substitute's own link token and invitation code (shown); whether the seat passed on.
    link_token: str | None = None
    invitation_code: str | None = None
    seat_passed: bool = False
    # ALREADY_DECIDED / ALREADY_INVITED: the status found, and who decided when.
    status: str | None = None
    decided_by: str | None = None
    decided_at: dt.datetime | None = None
    replaced_proposal: bool = False


async def _lock(session: AsyncSession, invitation_id: int) -> Invitation | None:
    return await session.scalar(
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _already_invited(
    session: AsyncSession, conference_id: int, name: str, birth_year: int | None, excluding: int | None = None
) -> Invitation | None:
    statement = select(Invitation).where(
        Invitation.conference_id == conference_id,
        Invitation.name_fold == fold(name),
        Invitation.status.in_(_TAKEN),
    )
    if birth_year is not None:
        statement = statement.where(Invitation.birth_year == birth_year)
    if excluding is not None:
        statement = statement.where(Invitation.id != excluding)
    return await session.scalar(statement.limit(1))


async def may_propose(
    session: AsyncSession, invitation_id: int, *, actor_id: int | None, now: dt.datetime
) -> SubstituteOutcome | None:
    """None when the delegate may propose a substitute now; else why not (asked before the questions)."""
    invitation = await session.get(Invitation, invitation_id, populate_existing=True)
    if invitation is None:
        return SubstituteOutcome.NOT_FOUND
    conference = await session.get_one(Conference, invitation.conference_id)
    if actor_id is not None and invitation.account_id != actor_id:
        return SubstituteOutcome.NOT_ALLOWED
    if invitation.status not in ANSWERABLE:
        return SubstituteOutcome.CLOSED
    if invitation.checked_in_at is not None or is_locked(conference, now):
        return SubstituteOutcome.LOCKED
    return None


async def propose_substitute(
    session: AsyncSession,
    invitation_id: int,
    person: Person,
    *,
    now: dt.datetime,
    secret: bytes,
    actor_id: int | None = None,
) -> SubstituteResult:
    """The delegate proposes ``person`` to go in their place: an invitation in the same pool with status
    ``proposed`` and ``substitute_for_id``, waiting for an organiser. An earlier open proposal for the same
    invitation is replaced. ``actor_id``, when given, must be the account the invitation is bound to."""
    original = await _lock(session, invitation_id)  # one proposal at a time per invitation
    refusal = await may_propose(session, invitation_id, actor_id=actor_id, now=now)
    if refusal is not None or original is None:
        return SubstituteResult(refusal or SubstituteOutcome.NOT_FOUND, original_id=invitation_id)
    conference = await session.get_one(Conference, original.conference_id)
    taken = await _already_invited(session, conference.id, person.full_name, person.birth_year)
    if taken is not None:
        return SubstituteResult(
            SubstituteOutcome.ALREADY_INVITED,
            original_id=original.id,
            substitute_name=taken.full_name,
            status=taken.status,
            conference_title=conference.title,
        )
    earlier = list(
        await session.scalars(
            select(Invitation).where(Invitation.substitute_for_id == original.id, Invitation.status == Status.PROPOSED)
        )
    )
    for proposal in earlier:
        transition(session, proposal, Status.CANCELLED, actor_id=actor_id, now=now, reason="replaced by a new proposal")
    if person.unit_id is None:
        person = replace(person, unit_id=original.unit_id)
    # A key of its own: the person's key (``person_key``) is given on approval, so a rejected proposal
    # does not stop the same person from being invited later.
    proposed = await create_invitation(
        session,
        conference=conference,
        pool_code=original.pool_code,
        person=person,
        secret=secret,
        now=now,
        substitute_for_id=original.id,
        status=Status.PROPOSED,
        actor_id=actor_id,
        import_key=f"proposal:{original.id}:{secrets.token_hex(6)}",
    )
    assert proposed is not None  # the key is new
    return SubstituteResult(
        SubstituteOutcome.PROPOSED,
        proposed_id=proposed.id,
        substitute_name=proposed.full_name,
        original_id=original.id,
        original_name=original.full_name,
        conference_title=conference.title,
        organisers=tuple(await organisers(session)),
        replaced_proposal=bool(earlier),
    )


async def _decision_refusal(session: AsyncSession, proposed: Invitation) -> SubstituteResult:
    """An old button: who approved or rejected the proposal, and when."""
    event = await session.scalar(
        select(InvitationEvent)
        .where(InvitationEvent.invitation_id == proposed.id, InvitationEvent.from_status == Status.PROPOSED)
        .order_by(InvitationEvent.id.desc())
        .limit(1)
    )
    actor = await session.get(Account, event.actor_id) if event and event.actor_id else None
    return SubstituteResult(
        SubstituteOutcome.ALREADY_DECIDED,
        proposed_id=proposed.id,
        substitute_name=proposed.full_name,
        status=proposed.status,
        decided_by=actor.display_name if actor else None,
        decided_at=event.at if event else None,
    )


async def _is_organiser(session: AsyncSession, actor_id: int) -> bool:
    return await acting(session, actor_id, Role.ORGANISER) is not None


async def _original_contact(session: AsyncSession, original: Invitation) -> tuple[int | None, str | None]:
    locale = await session.scalar(select(Account.locale).where(Account.id == original.account_id))
    return original.account_id, locale


async def approve_substitute(
    session: AsyncSession, proposed_id: int, *, actor_id: int, now: dt.datetime, secret: bytes
) -> SubstituteResult:
    """An organiser approves a proposed substitute: the delegate becomes ``substituted``, the substitute
    ``pending`` with a link of their own (``link_token``); a seat the delegate held passes to them."""
    if not await _is_organiser(session, actor_id):
        return SubstituteResult(SubstituteOutcome.NOT_ALLOWED, proposed_id=proposed_id)
    conference_id = await session.scalar(select(Invitation.conference_id).where(Invitation.id == proposed_id))
    if conference_id is None:
        return SubstituteResult(SubstituteOutcome.NOT_FOUND, proposed_id=proposed_id)
    conference = await lock_seats(session, conference_id)
    proposed = await _lock(session, proposed_id)
    assert proposed is not None and conference is not None
    if proposed.status != Status.PROPOSED:
        return await _decision_refusal(session, proposed)
    original = await _lock(session, proposed.substitute_for_id) if proposed.substitute_for_id else None
    if original is None or original.status not in ANSWERABLE or original.checked_in_at is not None:
        transition(
            session, proposed, Status.CANCELLED, actor_id=actor_id, now=now, reason="the delegate's invitation closed"
        )
        return SubstituteResult(
            SubstituteOutcome.ORIGINAL_GONE, proposed_id=proposed.id, substitute_name=proposed.full_name
        )
    taken = await _already_invited(session, conference.id, proposed.full_name, proposed.birth_year, proposed.id)
    if taken is not None:
        return SubstituteResult(
            SubstituteOutcome.ALREADY_INVITED,
            proposed_id=proposed.id,
            substitute_name=proposed.full_name,
            status=taken.status,
            conference_title=conference.title,
        )
    seat_passed = await is_holding_seat(session, original.id)
    transition(
        session, original, Status.SUBSTITUTED, actor_id=actor_id, now=now, reason=f"replaced by {proposed.full_name}"
    )
    transition(
        session,
        proposed,
        Status.PENDING,
        actor_id=actor_id,
        now=now,
        reason=SEAT_PASSED_ON if seat_passed else "substitute approved",
    )
    key = person_key(proposed.full_name, proposed.birth_year)
    if (
        await session.scalar(
            select(Invitation.id).where(Invitation.conference_id == conference.id, Invitation.import_key == key)
        )
        is None
    ):
        proposed.import_key = key
    _audit(
        session,
        "invitation.substitute.approve",
        proposed.id,
        actor_id,
        now,
        {"original": original.id, "seat_passed": seat_passed},
    )
    await session.flush()
    account_id, locale = await _original_contact(session, original)
    return SubstituteResult(
        SubstituteOutcome.APPROVED,
        proposed_id=proposed.id,
        substitute_name=proposed.full_name,
        original_id=original.id,
        original_name=original.full_name,
        conference_title=conference.title,
        original_account_id=account_id,
        original_locale=locale,
        original_gender=original.gender,
        link_token=link_token(proposed, secret),
        invitation_code=invitation_code(proposed, secret),
        seat_passed=seat_passed,
    )


async def reject_substitute(
    session: AsyncSession, proposed_id: int, *, actor_id: int, now: dt.datetime, reason: str | None = None
) -> SubstituteResult:
    """An organiser rejects a proposed substitute (→ cancelled); the delegate's invitation stays as it was."""
    if not await _is_organiser(session, actor_id):
        return SubstituteResult(SubstituteOutcome.NOT_ALLOWED, proposed_id=proposed_id)
    proposed = await _lock(session, proposed_id)
    if proposed is None or proposed.substitute_for_id is None:
        return SubstituteResult(SubstituteOutcome.NOT_FOUND, proposed_id=proposed_id)
    if proposed.status != Status.PROPOSED:
        return await _decision_refusal(session, proposed)
    transition(session, proposed, Status.CANCELLED, actor_id=actor_id, now=now, reason=reason or "substitute rejected")
    _audit(session, "invitation.substitute.reject", proposed.id, actor_id, now, {"reason": reason})
    original = await session.get_one(Invitation, proposed.substitute_for_id)
    conference = await session.get_one(Conference, proposed.conference_id)
    account_id, locale = await _original_contact(session, original)
    return SubstituteResult(
        SubstituteOutcome.REJECTED,
        proposed_id=proposed.id,
        substitute_name=proposed.full_name,
        original_id=original.id,
        original_name=original.full_name,
        conference_title=conference.title,
        original_account_id=account_id,
        original_locale=locale,
        original_gender=original.gender,
    )


@dataclass(frozen=True)
class ProposalView:
    """A proposed substitute waiting for an organiser."""

    id: int
    full_name: str
    gender: str | None
    birth_year: int | None
    occupation_group: str | None
    position: str | None
    original_id: int
    original_name: str
    original_status: str
    conference_title: str
    pool_title: str
    proposed_at: dt.datetime


async def proposals(
    session: AsyncSession, *, actor_id: Actor | None, exclude: tuple[int, ...] = ()
) -> list[ProposalView] | NotAllowed:
    """Proposed substitutes waiting for a decision, oldest first (organisers: they name people)."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    rows = await session.scalars(
        select(Invitation)
        .where(Invitation.status == Status.PROPOSED, Invitation.substitute_for_id.is_not(None))
        .order_by(Invitation.created_at, Invitation.id)
    )
    found = []
    for row in rows:
        if row.id in exclude or row.substitute_for_id is None:
            continue
        original = await session.get_one(Invitation, row.substitute_for_id)
        conference = await session.get_one(Conference, row.conference_id)
        found.append(
            ProposalView(
                id=row.id,
                full_name=row.full_name,
                gender=row.gender,
                birth_year=row.birth_year,
                occupation_group=row.occupation_group,
                position=row.position,
                original_id=original.id,
                original_name=original.full_name,
                original_status=original.status,
                conference_title=conference.title,
                pool_title=await _pool_title(session, conference.id, row.pool_code),
                proposed_at=row.created_at,
            )
        )
    return found


# --- balance ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionChange:
    """How many delegates with a seat are in one group, before and after the substitution."""

    dimension: str  # women | youth | ethnic_minority | direct_producer | occupation
    before: int
    after: int
    value: str = ""  # the occupation group's code, for ``occupation``
    # The substitute's attribute is not known (e.g. ethnicity is not asked): counted as outside the group.
    unknown: bool = False


@dataclass(frozen=True)
class BalanceEffect:
    """Delegates holding a seat now, and if the substitute attends in the delegate's place."""

    total_before: int
    total_after: int
    original_holds_seat: bool
    changes: tuple[DimensionChange, ...]


def _conference_year(conference: Conference) -> int | None:
    moment = conference.starts_at or conference.window_start or conference.window_end
    return moment.year if moment else None


def _groups(row: Invitation, year: int | None) -> dict[tuple[str, str], bool | None]:
    """Which balance groups a person is in (None: not known)."""
    data = reference()
    minorities = {entry.code for entry in data.ethnic_groups if entry.minority}
    producers = {entry.code for entry in data.occupation_groups if entry.direct_producer}
    youth: bool | None = None
    if row.birth_year is not None and year is not None:
        youth = YOUTH_AGES[0] <= year - row.birth_year <= YOUTH_AGES[1]
    occupation = row.occupation_group
    groups: dict[tuple[str, str], bool | None] = {
        ("women", ""): None if row.gender is None else row.gender == "nu",
        ("youth", ""): youth,
        ("ethnic_minority", ""): None if row.ethnicity is None else row.ethnicity in minorities,
        ("direct_producer", ""): None if occupation is None else occupation in producers,
    }
    return groups


async def balance_effect(session: AsyncSession, proposed_id: int) -> BalanceEffect | None:
    """Women, youth (16–30 in the conference's year, by year of birth), ethnic minorities, direct producers
    and the occupation groups concerned among the delegates holding a seat: now, and with the substitute in
    the delegate's place (as if they attend). None when ``proposed_id`` is not a substitute proposal."""
    proposed = await session.get(Invitation, proposed_id)
    if proposed is None or proposed.substitute_for_id is None:
        return None
    original = await session.get_one(Invitation, proposed.substitute_for_id)
    conference = await session.get_one(Conference, proposed.conference_id)
    seated = list(
        await session.scalars(select(Invitation).where(Invitation.conference_id == conference.id, holds_seat()))
    )
    original_seated = any(row.id == original.id for row in seated)
    after = [row for row in seated if row.id != original.id] + [proposed]
    year = _conference_year(conference)
    occupations = [code for code in (original.occupation_group, proposed.occupation_group) if code]
    keys = [("women", ""), ("youth", ""), ("ethnic_minority", ""), ("direct_producer", "")]
    keys += [("occupation", code) for code in dict.fromkeys(occupations)]

    def member(row: Invitation, key: tuple[str, str]) -> bool | None:
        if key[0] == "occupation":
            return None if row.occupation_group is None else row.occupation_group == key[1]
        return _groups(row, year)[key]

    changes = tuple(
        DimensionChange(
            dimension=key[0],
            value=key[1],
            before=sum(1 for row in seated if member(row, key)),
            after=sum(1 for row in after if member(row, key)),
            unknown=member(proposed, key) is None,
        )
        for key in keys
    )
    return BalanceEffect(
        total_before=len(seated), total_after=len(after), original_holds_seat=original_seated, changes=changes
    )


# --- check-in --------------------------------------------------------------------------------------------


class CheckInOutcome(StrEnum):
    CHECKED_IN = "checked_in"
    ALREADY = "already"  # checked in before: ``checked_in_at`` and ``checked_in_by`` say when and by whom
    UNKNOWN = "unknown"  # no delegate has this code or QR
    NOT_ACCEPTED = "not_accepted"  # the delegate has no seat (``status`` says why)
    NOT_ALLOWED = "not_allowed"  # only organisers and reviewers check delegates in


@dataclass(frozen=True)
class CheckInResult:
    outcome: CheckInOutcome
    invitation_id: int | None = None
    full_name: str | None = None
    pool_title: str | None = None
    conference_title: str | None = None
    status: str | None = None
    checked_in_at: dt.datetime | None = None
    checked_in_by: str | None = None


async def check_in(
    session: AsyncSession,
    *,
    token: str | None = None,
    code: TypedCode | None = None,
    invitation_id: int | None = None,
    actor_id: int,
    now: dt.datetime,
) -> CheckInResult:
    """Check a delegate in by their QR's token, their typed check-in code, or their invitation found by
    :func:`find_delegates` (``invitation_id``: the number in the lists, a name picked from a list);
    organisers and reviewers only.

    Only accepted delegates are checked in, once; a second scan answers ALREADY with the first time.
    """
    actor = await acting(session, actor_id, Role.REVIEWER)
    if not isinstance(actor, AccountSnapshot):
        return CheckInResult(CheckInOutcome.NOT_ALLOWED)
    if invitation_id is not None:
        condition = Invitation.id == invitation_id
    elif code is not None:
        condition = Invitation.id == link_store.record_id(links.CHECK_IN, code.lookup)
    elif token:
        condition = Invitation.checkin_token_hash == token_hash(token)
    else:
        return CheckInResult(CheckInOutcome.UNKNOWN)
    invitation = await session.scalar(
        select(Invitation).where(condition).with_for_update().execution_options(populate_existing=True)
    )
    if invitation is None:
        return CheckInResult(CheckInOutcome.UNKNOWN)
    conference = await session.get_one(Conference, invitation.conference_id)
    found = CheckInResult(
        CheckInOutcome.NOT_ACCEPTED,
        invitation_id=invitation.id,
        full_name=invitation.full_name,
        pool_title=await _pool_title(session, conference.id, invitation.pool_code),
        conference_title=conference.title,
        status=invitation.status,
    )
    if invitation.status != Status.ACCEPTED:
        return found
    if invitation.checked_in_at is not None:
        by = await session.get(Account, invitation.checked_in_by_id) if invitation.checked_in_by_id else None
        return replace(
            found,
            outcome=CheckInOutcome.ALREADY,
            checked_in_at=invitation.checked_in_at,
            checked_in_by=by.display_name if by else None,
        )
    invitation.checked_in_at = now
    invitation.checked_in_by_id = actor_id
    invitation.updated_at = now
    # The status stays accepted; the event records the check-in in the invitation's history.
    session.add(
        InvitationEvent(
            invitation_id=invitation.id,
            from_status=invitation.status,
            to_status=invitation.status,
            actor_id=actor_id,
            reason=CHECKED_IN,
            at=now,
        )
    )
    _audit(session, CHECK_IN_ACTION, invitation.id, actor_id, now, {"by_role": actor.role})
    await session.flush()
    return replace(found, outcome=CheckInOutcome.CHECKED_IN, checked_in_at=now, checked_in_by=actor.display_name)


# --- what an accepted delegate receives --------------------------------------------------------------------


@dataclass(frozen=True)
class DelegatePass:
    """The check-in QR (PNG of the ``chk_`` link), the code to type instead, and the calendar file."""

    invitation_id: int
    full_name: str
    conference_title: str
    checkin_url: str
    code: str
    qr_png: bytes
    ics: bytes | None  # None until the conference's date is fixed
    ics_filename: str


@dataclass(frozen=True)
class PassFacts:
    """A :class:`DelegatePass` before its QR is drawn (what the transaction decides)."""

    invitation_id: int
    full_name: str
    conference_title: str
    checkin_url: str
    code: str
    ics: bytes | None
    ics_filename: str

    def render(self) -> DelegatePass:
        """The pass with its QR drawn (a few milliseconds of CPU: outside the seat transaction)."""
        return DelegatePass(
            invitation_id=self.invitation_id,
            full_name=self.full_name,
            conference_title=self.conference_title,
            checkin_url=self.checkin_url,
            code=self.code,
            qr_png=qr_png(self.checkin_url),
            ics=self.ics,
            ics_filename=self.ics_filename,
        )


def qr_png(data: str) -> bytes:
    """A QR code of ``data`` as a PNG, large enough to scan from a phone screen."""
    # A fixed mask: scanners read every mask, and searching all eight for the "best" costs ~8 ms a code.
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4, mask_pattern=0)
    code.add_data(data)
    code.make(fit=True)
    # The same PNG as ``code.make_image()`` (one rectangle drawn per module, ~1 ms more): the module matrix
    # (border included) as one byte per pixel, scaled by the box size.
    matrix = code.get_matrix()
    size = len(matrix)
    pixels = bytes(0 if dark else 255 for row in matrix for dark in row)
    image = Image.frombytes("L", (size, size), pixels).convert("1")
    image = image.resize((size * code.box_size, size * code.box_size), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def pass_facts(
    session: AsyncSession, invitation_id: int, *, secret: bytes, bot_username: str
) -> PassFacts | None:
    """The check-in pass of an accepted delegate (issued on first use, the same after), QR not drawn yet;
    None when the invitation is not accepted."""
    invitation = await session.get(Invitation, invitation_id)
    if invitation is None or invitation.status != Status.ACCEPTED:
        return None
    token, code = await issue_checkin(session, invitation, secret)
    await session.flush()
    conference = await session.get_one(Conference, invitation.conference_id)
    return PassFacts(
        invitation_id=invitation.id,
        full_name=invitation.full_name,
        conference_title=conference.title,
        checkin_url=links.deep_link(bot_username, links.CHECK_IN, token),
        code=code,
        ics=conference_ics(conference, uid=f"invitation-{invitation.id}@dienhinh"),
        ics_filename=f"hoi-nghi-{conference.id}.ics",
    )


async def delegate_pass(
    session: AsyncSession, invitation_id: int, *, secret: bytes, bot_username: str
) -> DelegatePass | None:
    """The check-in pass of an accepted delegate (issued on first use, the same after); None otherwise."""
    facts = await pass_facts(session, invitation_id, secret=secret, bot_username=bot_username)
    return None if facts is None else facts.render()


# --- finding a delegate by what an organiser can see: number, code or name ----------------------------------

# A name that fits more people than this is asked again, more fully: a list longer than a phone screen
# helps nobody at the door.
MAX_MATCHES = 8
_NUMBER = re.compile(r"^(?:so|so\s+giay\s+moi|giay\s+moi|no\.?|number|#)?\s*#?\s*(?P<digits>[0-9]{1,10})$")
_WORD = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True)
class DelegateMatch:
    """An invitation as a pick list shows it: its number (printed in every list), name, unit, conference."""

    id: int
    full_name: str
    status: str
    unit_name: str | None
    conference_title: str
    checked_in: bool


@dataclass(frozen=True)
class DelegateSearch:
    """What :func:`find_delegates` found. ``exact``: the text named them beyond doubt (a number, a code, a
    whole name that fits one person), so the caller may act on a single match; otherwise each match is
    offered to pick, even a single one. ``too_many``: more people fit than are listed."""

    matches: tuple[DelegateMatch, ...]
    exact: bool = False
    too_many: bool = False


def invitation_number(text: str) -> int | None:
    """The invitation number ``text`` spells: ``42``, ``#42``, ``số 42``, ``số giấy mời 42``."""
    found = _NUMBER.match(fold(text).strip())
    return parse_id(found["digits"]) if found else None


async def _match_rows(session: AsyncSession, condition: Any, limit: int) -> list[DelegateMatch]:
    rows = list(
        (
            await session.execute(
                select(Invitation, Conference.title, OrgUnit.name)
                .join(Conference, Conference.id == Invitation.conference_id)
                .outerjoin(OrgUnit, OrgUnit.id == Invitation.unit_id)
                .where(condition)
                .order_by(Conference.id.desc(), Invitation.id)
                .limit(limit)
            )
        ).all()
    )
    # Vietnamese name order; the same name by the newest conference first, then by number.
    rows.sort(key=lambda row: (name_sort_key(row[0].full_name), -row[0].conference_id, row[0].id))
    return [
        DelegateMatch(
            id=invitation.id,
            full_name=invitation.full_name,
            status=invitation.status,
            unit_name=unit_name,
            conference_title=title,
            checked_in=invitation.checked_in_at is not None,
        )
        for invitation, title, unit_name in rows
    ]


def _words_condition(words: list[str]) -> Any:
    """Every typed word is a whole word of the folded name ("hung" fits "tran van hung", not "hungary")."""
    return and_(
        *(
            or_(
                Invitation.name_fold == word,
                Invitation.name_fold.startswith(f"{word} ", autoescape=True),
                Invitation.name_fold.endswith(f" {word}", autoescape=True),
                Invitation.name_fold.contains(f" {word} ", autoescape=True),
            )
            for word in words
        )
    )


async def find_delegates(
    session: AsyncSession,
    text: str,
    *,
    secret: bytes,
    actor_id: Actor | None,
    role: Role,
    statuses: Collection[str] = ANSWERABLE,
) -> DelegateSearch | NotAllowed:
    """The invitations ``text`` names, for ``/checkin`` (``role`` reviewer) and ``/override`` (organiser).

    ``text`` is an invitation number as every list prints it (``42``, ``số 42``), a check-in code or an
    invitation code in any typed form, or a name matched on its folded key: the whole name first, else
    every word typed being a word of the name ("Hùng", "van hung"). Invitations in ``statuses`` only (a
    number or a code finds its invitation whatever its status, so the caller can say why it cannot act).
    """
    if await acting(session, actor_id, role) is None:
        return NotAllowed(role)
    number = invitation_number(text)
    if number is not None:
        return DelegateSearch(tuple(await _match_rows(session, Invitation.id == number, 1)), exact=True)
    code = parse_code(text)
    if code is not None:
        owner = await link_store.owner(session, typed_code(secret, code).lookup)
        if owner is None or owner.kind not in (links.INVITATION, links.CHECK_IN):
            return DelegateSearch((), exact=True)
        return DelegateSearch(tuple(await _match_rows(session, Invitation.id == owner.record_id, 1)), exact=True)
    key = fold(text)
    words = _WORD.findall(key)
    if not words:
        return DelegateSearch(())
    open_ones = Invitation.status.in_(list(statuses))
    whole = await _match_rows(session, and_(open_ones, Invitation.name_fold == " ".join(words)), MAX_MATCHES + 1)
    if whole:
        return DelegateSearch(tuple(whole[:MAX_MATCHES]), exact=len(whole) == 1, too_many=len(whole) > MAX_MATCHES)
    some = await _match_rows(session, and_(open_ones, _words_condition(words)), MAX_MATCHES + 1)
    return DelegateSearch(tuple(some[:MAX_MATCHES]), too_many=len(some) > MAX_MATCHES)


async def delegate_matches(session: AsyncSession, ids: Sequence[int]) -> list[DelegateMatch]:
    """The invitations ``ids`` as a pick list shows them again (a restart, a typed answer), in that order;
    an invitation that no longer exists is left out."""
    if not ids:
        return []
    found = {match.id: match for match in await _match_rows(session, Invitation.id.in_(list(ids)), len(ids))}
    return [found[invitation_id] for invitation_id in ids if invitation_id in found]


async def account_locale(session: AsyncSession, account_id: int | None) -> str | None:
    if account_id is None:
        return None
    locale: str | None = await session.scalar(select(Account.locale).where(Account.id == account_id))
    return locale


__all__ = [
    "AttendResult",
    "BalanceEffect",
    "CheckInOutcome",
    "CheckInResult",
    "ConferenceView",
    "DelegateMatch",
    "DelegatePass",
    "DelegateSearch",
    "DeskErrand",
    "DimensionChange",
    "InvitationView",
    "OpenOutcome",
    "OpenResult",
    "Organiser",
    "PassFacts",
    "ProposalDesk",
    "ProposalView",
    "RsvpForm",
    "SubstituteOutcome",
    "SubstituteResult",
    "account_locale",
    "approve_substitute",
    "attend",
    "balance_effect",
    "can_attend",
    "check_in",
    "close_desk",
    "close_errand",
    "close_form",
    "delegate_matches",
    "delegate_pass",
    "find_delegates",
    "invitation_for",
    "invitation_number",
    "keep_desk",
    "keep_errand",
    "keep_form",
    "load_view",
    "may_propose",
    "my_invitations",
    "open_desk",
    "open_errand",
    "open_form",
    "open_link",
    "organisers",
    "pass_facts",
    "proposals",
    "propose_substitute",
    "qr_png",
    "reject_substitute",
    "view",
]
