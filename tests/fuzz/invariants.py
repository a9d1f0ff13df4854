"""What must hold in the database between any two updates, whatever people sent: no half-saved record.

Every update's work is one transaction (or a few, each complete), so at any moment between updates a
record is either fully there or not there at all. Each check returns the rows that break it, described
well enough to find them; the checks read the tables directly (SQL), not through the rules they check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from rules import audit
from rules.intake import MAX_EVIDENCE, OTHER
from rules.invitations import person_key
from rules.nominations import COUNTS_AGAINST_ALLOWANCE
from rules.roles import Role
from rules.seats import SEAT_PASSED_ON
from rules.text import fold
from storage import tally
from storage.db import Database
from storage.models import (
    Account,
    Campaign,
    ChannelIdentity,
    Conference,
    Endorsement,
    Evidence,
    Invitation,
    InvitationEvent,
    InvitationImport,
    Nomination,
    NominationEvent,
    OutboxMessage,
    SeatPool,
    UnitAllowance,
    UnitLink,
)

SENT = ("submitted", "approved", "rejected", "duplicate")
DECIDED = ("approved", "rejected", "duplicate")
# Everything the form asks before it may be sent (rules.intake.missing_steps), per kind.
_REQUIRED = (
    Nomination.code,
    Nomination.submitted_at,
    Nomination.kind,
    Nomination.nominee_name,
    Nomination.nominee_fold,
    Nomination.conference_id,
    Nomination.unit_id,
    Nomination.title_code,
    Nomination.movement_code,
    Nomination.achievements,
    Nomination.publicity_consent,
)
_INDIVIDUAL = (
    Nomination.gender,
    Nomination.birth_year,
    Nomination.sensitive_consent,
    Nomination.occupation_group,
    Nomination.position,
)
_COLLECTIVE = (Nomination.member_count, Nomination.economic_sector)


@dataclass(frozen=True)
class Violation:
    """One record that breaks one invariant."""

    invariant: str
    record: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.invariant}: {self.record}" + (f" ({self.detail})" if self.detail else "")


Check = Callable[[AsyncSession], Awaitable[list[Violation]]]


async def sent_nominations_are_complete(db: AsyncSession) -> list[Violation]:
    missing = or_(
        *(column.is_(None) for column in _REQUIRED),
        and_(Nomination.kind == "individual", or_(*(column.is_(None) for column in _INDIVIDUAL))),
        and_(Nomination.kind == "collective", or_(*(column.is_(None) for column in _COLLECTIVE))),
        and_(Nomination.movement_code == OTHER, Nomination.movement_other.is_(None)),
    )
    rows = await db.scalars(select(Nomination).where(Nomination.status.in_(SENT), missing))
    found = []
    for nomination in rows:
        empty = [
            column.key
            for column in (*_REQUIRED, *(_INDIVIDUAL if nomination.kind == "individual" else _COLLECTIVE))
            if getattr(nomination, str(column.key)) is None
        ]
        found.append(Violation("sent nomination missing answers", _nomination(nomination), ", ".join(empty)))
    return found


async def decided_nominations_have_a_time(db: AsyncSession) -> list[Violation]:
    rows = await db.scalars(select(Nomination).where(Nomination.status.in_(DECIDED), Nomination.decided_at.is_(None)))
    found = [Violation("decided nomination without decided_at", _nomination(n)) for n in rows]
    duplicates = await db.scalars(
        select(Nomination).where(Nomination.status == "duplicate", Nomination.duplicate_of_id.is_(None))
    )
    found += [Violation("duplicate without the original", _nomination(n)) for n in duplicates]
    return found


async def nomination_status_matches_its_last_event(db: AsyncSession) -> list[Violation]:
    last = (
        select(NominationEvent.nomination_id, func.max(NominationEvent.id).label("event_id"))
        .group_by(NominationEvent.nomination_id)
        .subquery()
    )
    event = aliased(NominationEvent)
    statement = (
        select(Nomination, event.to_status)
        .outerjoin(last, last.c.nomination_id == Nomination.id)
        .outerjoin(event, event.id == last.c.event_id)
        .where(Nomination.status != "draft", or_(event.to_status.is_(None), event.to_status != Nomination.status))
    )
    return [
        Violation("nomination status without its event", _nomination(n), f"last event to {to_status}")
        for n, to_status in (await db.execute(statement)).all()
    ]


async def codes_come_from_the_campaign_counter(db: AsyncSession) -> list[Violation]:
    found = []
    campaigns = {c.id: c for c in await db.scalars(select(Campaign))}
    rows = await db.execute(
        select(Nomination.id, Nomination.code, Nomination.campaign_id).where(Nomination.code.is_not(None))
    )
    for nomination_id, code, campaign_id in rows.all():
        campaign = campaigns[campaign_id]
        prefix, _, tail = str(code).rpartition("-")
        if not prefix.startswith(f"{campaign.code_prefix}-") or not tail.isdigit():
            found.append(Violation("malformed nomination code", f"nomination {nomination_id}", str(code)))
        elif int(tail) > campaign.nomination_seq:
            found.append(
                Violation(
                    "code ahead of the campaign counter",
                    f"nomination {nomination_id}",
                    f"{code} > {campaign.nomination_seq}",
                )
            )
    return found


async def evidence_within_the_limit(db: AsyncSession) -> list[Violation]:
    rows = await db.execute(
        select(Evidence.nomination_id, func.count())
        .group_by(Evidence.nomination_id)
        .having(func.count() > MAX_EVIDENCE)
    )
    return [Violation("more evidence than allowed", f"nomination {n}", f"{count} files") for n, count in rows.all()]


async def unit_allowances_hold(db: AsyncSession) -> list[Violation]:
    used = (
        select(Nomination.conference_id, Nomination.unit_id, func.count().label("used"))
        .where(Nomination.source == "focal_point", Nomination.status.in_(COUNTS_AGAINST_ALLOWANCE))
        .group_by(Nomination.conference_id, Nomination.unit_id)
        .subquery()
    )
    rows = await db.execute(
        select(used.c.conference_id, used.c.unit_id, used.c.used, UnitAllowance.nominations)
        .join(
            UnitAllowance,
            and_(UnitAllowance.conference_id == used.c.conference_id, UnitAllowance.unit_id == used.c.unit_id),
        )
        .where(used.c.used > UnitAllowance.nominations)
    )
    return [
        Violation("unit allowance exceeded", f"conference {c} unit {u}", f"{n} sent, {allowed} allowed")
        for c, u, n, allowed in rows.all()
    ]


def _holds_seat() -> ColumnElement[bool]:
    passed_on = (
        select(InvitationEvent.id)
        .where(
            InvitationEvent.invitation_id == Invitation.id,
            InvitationEvent.to_status == "pending",
            InvitationEvent.reason == SEAT_PASSED_ON,
        )
        .exists()
    )
    return or_(
        Invitation.status == "accepted",
        and_(Invitation.status == "pending", Invitation.substitute_for_id.is_not(None), passed_on),
    )


async def seats_are_not_overbooked(db: AsyncSession) -> list[Violation]:
    found = []
    held = await db.execute(
        select(Invitation.conference_id, Invitation.pool_code, func.count())
        .where(_holds_seat())
        .group_by(Invitation.conference_id, Invitation.pool_code)
    )
    seats = {(p.conference_id, p.code): p.seats for p in await db.scalars(select(SeatPool))}
    per_conference: dict[int, int] = {}
    for conference_id, pool, count in held.all():
        per_conference[conference_id] = per_conference.get(conference_id, 0) + count
        limit = seats.get((conference_id, pool))
        if limit is not None and count > limit:
            found.append(Violation("pool overbooked", f"conference {conference_id} pool {pool}", f"{count} > {limit}"))
    for conference in await db.scalars(select(Conference).where(Conference.capacity.is_not(None))):
        count = per_conference.get(conference.id, 0)
        if conference.capacity is not None and count > conference.capacity:
            found.append(
                Violation("conference overbooked", f"conference {conference.id}", f"{count} > {conference.capacity}")
            )
    return found


async def invitation_status_matches_its_last_event(db: AsyncSession) -> list[Violation]:
    last = (
        select(InvitationEvent.invitation_id, func.max(InvitationEvent.id).label("event_id"))
        .group_by(InvitationEvent.invitation_id)
        .subquery()
    )
    event = aliased(InvitationEvent)
    statement = (
        select(Invitation.id, Invitation.status, event.to_status)
        .outerjoin(last, last.c.invitation_id == Invitation.id)
        .outerjoin(event, event.id == last.c.event_id)
        .where(or_(event.to_status.is_(None), event.to_status != Invitation.status))
    )
    return [
        Violation("invitation status without its event", f"invitation {i} ({status})", f"last event to {to_status}")
        for i, status, to_status in (await db.execute(statement)).all()
    ]


async def invitations_are_whole(db: AsyncSession) -> list[Violation]:
    """Each status has what goes with it; a link can be opened; a binding has both its halves."""
    found = []
    for invitation in await db.scalars(select(Invitation)):
        record = f"invitation {invitation.id} ({invitation.status})"
        problems = [
            ("no personal link", invitation.token_hash is None or invitation.link_nonce is None),
            (
                "waitlisted without waitlisted_at",
                invitation.status == "waitlisted" and invitation.waitlisted_at is None,
            ),
            (
                "answered without responded_at",
                invitation.status in ("accepted", "declined", "waitlisted") and invitation.responded_at is None,
            ),
            ("proposed but replaces nobody", invitation.status == "proposed" and invitation.substitute_for_id is None),
            (
                "checked in without who checked them in",
                (invitation.checked_in_at is None) != (invitation.checked_in_by_id is None),
            ),
            (
                "check-in code without its token",
                (invitation.checkin_code is None) != (invitation.checkin_token_hash is None),
            ),
        ]
        found += [Violation(name, record) for name, broken in problems if broken]
    substituted = aliased(Invitation)
    replaced = await db.scalars(
        select(Invitation.id).where(
            Invitation.status == "substituted",
            not_(select(substituted.id).where(substituted.substitute_for_id == Invitation.id).exists()),
        )
    )
    found += [Violation("substituted without a substitute", f"invitation {i}") for i in replaced]
    return found


async def accepted_delegates_have_their_pass(db: AsyncSession) -> list[Violation]:
    """Every accepted delegate has a check-in code, however they were accepted: in chat, promoted from the
    waitlist, by an organiser's override for someone who never opened their link (issue 10)."""
    rows = await db.scalars(
        select(Invitation.id).where(Invitation.status == "accepted", Invitation.checkin_code.is_(None))
    )
    return [Violation("accepted without a check-in code", f"invitation {i}") for i in rows]


async def guest_list_imports_are_whole(db: AsyncSession) -> list[Violation]:
    """A confirmed import has its time and an invitation for every good row; a pending one none yet."""
    found = []
    for staged in await db.scalars(select(InvitationImport)):
        record = f"import {staged.id} ({staged.status})"
        if (staged.status == "confirmed") != (staged.confirmed_at is not None):
            found.append(Violation("import status and confirmed_at disagree", record))
        if staged.status != "confirmed":
            continue
        invited = await db.execute(
            select(Invitation.import_key, Invitation.name_fold, Invitation.birth_year).where(
                Invitation.conference_id == staged.conference_id
            )
        )
        keys, people = set(), set()
        for key, name_fold, birth_year in invited.all():
            keys.add(key)
            people.add((name_fold, birth_year))
        for row in staged.rows:
            key = row.get("key") or person_key(row["full_name"], row.get("birth_year"))
            if key not in keys and (fold(row["full_name"]), row.get("birth_year")) not in people:
                found.append(Violation("confirmed import row not invited", record, str(row.get("full_name"))))
    return found


async def accounts_are_whole(db: AsyncSession) -> list[Violation]:
    found = []
    roles = {str(role) for role in Role}
    reachable = set(await db.scalars(select(ChannelIdentity.account_id)))
    for account in await db.scalars(select(Account)):
        record = f"account {account.id}"
        # /erase leaves the account as a row nobody can be found by: no identity, no name.
        if account.erased_at is not None:
            if account.id in reachable or account.display_name:
                found.append(Violation("erased account still identifiable", record))
        elif account.id not in reachable:
            found.append(Violation("account without a channel identity", record))
        if account.role not in roles:
            found.append(Violation("unknown role", record, account.role))
        if account.role == Role.FOCAL_POINT and account.unit_id is None:
            found.append(Violation("focal point without a unit", record))
        if account.locale not in (None, "vi", "en"):
            found.append(Violation("unknown locale", record, str(account.locale)))
    links = await db.scalars(select(UnitLink).where((UnitLink.used_by_id.is_(None)) != (UnitLink.used_at.is_(None))))
    found += [Violation("unit link half used", f"unit link {link.id}") for link in links]
    return found


async def no_orphans(db: AsyncSession) -> list[Violation]:
    found = []
    children = (
        (Evidence, Evidence.nomination_id, Nomination),
        (Endorsement, Endorsement.nomination_id, Nomination),
        (NominationEvent, NominationEvent.nomination_id, Nomination),
        (InvitationEvent, InvitationEvent.invitation_id, Invitation),
    )
    for child, parent_id, parent in children:
        count = await db.scalar(
            select(func.count())
            .select_from(child)
            .where(not_(select(parent.id).where(parent.id == parent_id).exists()))
        )
        if count:
            found.append(Violation("orphan rows", child.__tablename__, f"{count} without their {parent.__tablename__}"))
    return found


async def outbox_rows_are_delivered_or_waiting(db: AsyncSession) -> list[Violation]:
    """Nothing the bot queued failed to go out (the in-process Bot API refuses nothing); no claimed row
    without its claim."""
    rows = await db.scalars(
        select(OutboxMessage).where(
            or_(
                OutboxMessage.status.in_(("failed", "undeliverable")),
                and_(OutboxMessage.status == "sending", OutboxMessage.lease_owner.is_(None)),
            )
        )
    )
    return [
        Violation(f"outbox row {row.status}", f"outbox {row.id} ({row.dedupe_key})", str(row.last_error or "")[:160])
        for row in rows
    ]


async def audit_trail_is_one_intact_chain(db: AsyncSession) -> list[Violation]:
    """Whatever was done, every audit entry is linked into one chain that verifies (``rules.audit``)."""
    problem = (await audit.verify(db)).problem
    if problem is None:
        return []
    where = f"audit entry {problem.entry.seq} ({problem.entry.action})" if problem.entry else "audit chain"
    return [Violation("audit chain broken", where, problem.finding.value)]


async def nomination_tally_matches_a_count(db: AsyncSession) -> list[Violation]:
    """The tally /status reads (kept by the database's triggers, ``storage.tally``) equals a fresh count."""
    return [
        Violation(
            "nomination tally out of step",
            f"conference {conference} unit {unit or '(none)'} {source} {status}",
            f"counted {counted} ({sent} sent), tallied {tallied} ({tallied_sent} sent)",
        )
        for conference, unit, source, status, counted, tallied, sent, tallied_sent in await tally.mismatches(db)
    ]


CHECKS: tuple[Check, ...] = (
    sent_nominations_are_complete,
    decided_nominations_have_a_time,
    nomination_status_matches_its_last_event,
    codes_come_from_the_campaign_counter,
    evidence_within_the_limit,
    unit_allowances_hold,
    seats_are_not_overbooked,
    invitation_status_matches_its_last_event,
    invitations_are_whole,
    accepted_delegates_have_their_pass,
    guest_list_imports_are_whole,
    accounts_are_whole,
    no_orphans,
    outbox_rows_are_delivered_or_waiting,
    audit_trail_is_one_intact_chain,
    nomination_tally_matches_a_count,
)


async def violations(database: Database) -> list[Violation]:
    """Every invariant, checked in one read-only transaction."""
    found: list[Violation] = []
    async with database.transaction() as db:
        for check in CHECKS:
            found += await check(db)
    return found


def _nomination(nomination: Nomination) -> str:
    return f"nomination {nomination.id} {nomination.code or '(no code)'} ({nomination.status})"
