"""Invitations: who is offered a seat in which pool of a conference, and their personal links.

An invitation is created from an approved nomination (exemplar pool) or a guest-list row (guests and
leaders). Each has a personal deep link ``?start=inv_<token>`` and a check-in link ``?start=chk_<token>``
(given when the invitation is made, shown to the delegate once they have a seat). Each link also has a code to type (``rules.link_codes``): the invitation code and
the check-in code. Tokens and codes are derived (see ``rules.links``), only hashes are stored.
``import_key`` identifies the person within the conference so nobody is invited twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import links
from rules.link_codes import derive_code, format_code
from rules.text import clean, fold
from rules.tokens import token_hash
from storage.db import insert_for
from storage.models import Conference, Invitation, InvitationEvent, Nomination


class Status(StrEnum):
    PROPOSED = "proposed"  # a substitute proposed by a delegate, waiting for an organiser
    PENDING = "pending"  # invited, not answered
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"  # wanted to come, the pool was full
    SUBSTITUTED = "substituted"  # replaced by an approved substitute
    CANCELLED = "cancelled"  # withdrawn by the organisers


EXEMPLAR_POOL = "exemplar"
GUEST_POOL = "guest_leader"


@dataclass(frozen=True)
class Person:
    """Who is invited: what the delegate list and the balance report need to know."""

    full_name: str
    gender: str | None = None
    birth_year: int | None = None
    ethnicity: str | None = None
    religion: str | None = None
    occupation_group: str | None = None
    economic_sector: str | None = None
    sector: str | None = None
    position: str | None = None
    unit_id: int | None = None
    phone_e164: str | None = None


def person_key(full_name: str, birth_year: int | None) -> str:
    """The same person however the name is typed: folded name and year of birth."""
    return f"{fold(full_name)}|{birth_year or ''}"


def person_from_nomination(nomination: Nomination) -> Person:
    return Person(
        full_name=nomination.nominee_name or "",
        gender=nomination.gender,
        birth_year=nomination.birth_year,
        ethnicity=nomination.ethnicity,
        religion=nomination.religion,
        occupation_group=nomination.occupation_group,
        economic_sector=nomination.economic_sector,
        position=nomination.position,
        unit_id=nomination.unit_id,
        phone_e164=nomination.phone_e164,
    )


async def create_invitation(
    session: AsyncSession,
    *,
    conference: Conference,
    pool_code: str,
    person: Person,
    secret: bytes,
    now: dt.datetime,
    nomination_id: int | None = None,
    substitute_for_id: int | None = None,
    status: Status = Status.PENDING,
    actor_id: int | None = None,
    import_key: str | None = None,
) -> Invitation | None:
    """Invite ``person``; None when the same person is already invited to this conference.

    One INSERT … ON CONFLICT DO NOTHING on (conference, import_key), so two organisers inviting the same
    person at once, or a spreadsheet imported twice, still make one invitation.
    """
    name = clean(person.full_name)
    key = import_key or (f"nomination:{nomination_id}" if nomination_id else person_key(name, person.birth_year))
    statement = (
        insert_for(session.get_bind().dialect.name)(Invitation)
        .values(
            conference_id=conference.id,
            pool_code=pool_code,
            nomination_id=nomination_id,
            substitute_for_id=substitute_for_id,
            import_key=key,
            full_name=name,
            name_fold=fold(name),
            gender=person.gender,
            birth_year=person.birth_year,
            ethnicity=person.ethnicity,
            religion=person.religion,
            occupation_group=person.occupation_group,
            economic_sector=person.economic_sector,
            sector=person.sector,
            position=person.position,
            unit_id=person.unit_id,
            phone_e164=person.phone_e164,
            status=status,
            token_expires_at=conference.rsvp_deadline,
            link_nonce=links.new_nonce(),
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=[Invitation.conference_id, Invitation.import_key])
        .returning(Invitation.id)
    )
    invitation_id = await session.scalar(statement)
    if invitation_id is None:
        return None
    invitation = await session.get_one(Invitation, invitation_id)
    # The link and its typed code come from one nonce; on a clash of codes both come from a new one.
    invitation.link_nonce, _ = await links.ensure_code(
        session, secret, links.INVITATION, invitation.id, invitation.link_nonce
    )
    _, invitation.token_hash = links.derive(secret, links.INVITATION, invitation.id, invitation.link_nonce)
    # The check-in code from the start, not at acceptance: a delegate accepted in any way (by phone through
    # /override, promoted from the waitlist, an approved substitute, their link or code) can be checked in,
    # and the attendance list shows it whoever recorded the answer (issue 10, item 4).
    await issue_checkin(session, invitation, secret)
    session.add(
        InvitationEvent(invitation_id=invitation.id, from_status=None, to_status=status, actor_id=actor_id, at=now)
    )
    await session.flush()
    return invitation


def link_token(invitation: Invitation, secret: bytes) -> str:
    """The token of the invitation's personal link (the same every time it is asked for)."""
    return links.derive_token(secret, links.INVITATION, invitation.id, invitation.link_nonce or "")


def invitation_link(invitation: Invitation, secret: bytes, bot_username: str) -> str:
    return links.deep_link(bot_username, links.INVITATION, link_token(invitation, secret))


def invitation_code(invitation: Invitation, secret: bytes) -> str:
    """The typed code of the invitation's personal link, as shown and printed ("K7M2-Q9XD")."""
    return code_of(secret, invitation.id, invitation.link_nonce)


def code_of(secret: bytes, invitation_id: int, link_nonce: str | None) -> str:
    """The shown invitation code of the invitation ``invitation_id`` whose link nonce is ``link_nonce``."""
    return format_code(derive_code(secret, links.INVITATION, invitation_id, link_nonce or ""))


async def issue_checkin(session: AsyncSession, invitation: Invitation, secret: bytes) -> tuple[str, str]:
    """Give an invitation its check-in token and code (kept if already given): (token, shown code).

    The code is the check-in link's typed code (``rules.link_codes``): stored hashed for lookup like every
    code, and also as it is shown (``checkin_code``), for the attendance list and the reminder the day
    before, which are written without the link secret. A check-in code only lets organisers and reviewers
    check its delegate in.
    """
    nonce = invitation.checkin_nonce
    code = derive_code(secret, links.CHECK_IN, invitation.id, nonce) if nonce else None
    if code is None or invitation.checkin_code != format_code(code):
        nonce, code = await links.ensure_code(session, secret, links.CHECK_IN, invitation.id, nonce)
        invitation.checkin_nonce = nonce
    assert nonce is not None
    token, invitation.checkin_token_hash = links.derive(secret, links.CHECK_IN, invitation.id, nonce)
    invitation.checkin_code = format_code(code)
    return token, invitation.checkin_code


async def by_link_token(session: AsyncSession, token: str) -> Invitation | None:
    return await session.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
