"""A person's rights over their personal data (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): to be informed
(:func:`controller`), to see their data (:func:`my_data`), to withdraw consent (:func:`withdraw_consent`),
to have it erased (:func:`erasure_plan`, :func:`erase`), and to ask the organisers for what they cannot do
themselves — a correction, an erasure of data about them that someone else sent, an objection
(:func:`file_request`, :func:`open_requests`, :func:`handle_request`).

Every use case reads who is asking from the database at the moment it acts, writes an audit entry, and
returns a typed outcome; notices to other people go to their accounts through the outbox.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import accounts, outbox
from rules.accounts import acting
from rules.i18n import N_
from rules.nominations import DECIDED, Status, transition
from rules.retention import LOCAL_TZ, BackToReviewNotice, delete_nominations
from rules.roles import NotAllowed, Role
from rules.rsvp import CHECK_IN_ACTION
from storage.models import (
    Account,
    AuditEntry,
    Campaign,
    ChannelIdentity,
    Conference,
    Endorsement,
    Invitation,
    Nomination,
    OrgUnit,
    OutboxMessage,
    PrivacyRequest,
    StoredFileRecord,
)

# ASSUMPTION: how long the organisers have to answer a request; an organisation sets its own here.
ANSWER_WITHIN = dt.timedelta(days=15)
MAX_DETAIL_CHARS = 2000
MIN_DETAIL_CHARS = 10
_CODE = re.compile(r"\b([A-Z]{1,16}-\d{4}-\d{3,6})\b", re.IGNORECASE)
OPEN_NOMINATION = (Status.SUBMITTED, Status.CHANGES_REQUESTED)
DRAFTS = (Status.DRAFT, Status.EXPIRED)


# --- the notice ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Controller:
    """Who is responsible for the data, as the newest plan names it (``data_controller``, else ``issuer``)."""

    name: str | None
    contact: str | None = None
    address: str | None = None
    phone: str | None = None
    email: str | None = None


async def controller(session: AsyncSession) -> Controller:
    campaign = await session.scalar(select(Campaign).order_by(Campaign.valid_from.desc(), Campaign.id.desc()).limit(1))
    if campaign is None:
        return Controller(name=None)
    spec: dict[str, Any] = campaign.data_controller or {}
    return Controller(
        name=spec.get("name") or campaign.issuer,
        contact=spec.get("contact"),
        address=spec.get("address"),
        phone=spec.get("phone"),
        email=spec.get("email"),
    )


# --- see my data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consent:
    nomination: str
    what: str  # sensitive (ethnicity and religion) | publicity
    given: bool
    at: dt.datetime | None


@dataclass(frozen=True)
class MyData:
    """Everything the bot holds about one account, as plain values (the file is this, as JSON)."""

    account: dict[str, Any]
    identities: list[dict[str, Any]]
    consents: list[Consent]
    nominations: list[dict[str, Any]]
    invitations: list[dict[str, Any]]
    endorsements: list[dict[str, Any]]
    requests: list[dict[str, Any]]
    generated_at: dt.datetime

    def as_json(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, dt.datetime):  # local time, with its offset: what the person lived
                return value.astimezone(LOCAL_TZ).isoformat()
            if isinstance(value, dict):
                return {key: plain(item) for key, item in value.items()}
            if isinstance(value, list):
                return [plain(item) for item in value]
            return value

        return plain({**asdict(self), "consents": [asdict(consent) for consent in self.consents]})


_NOMINATION_FIELDS = (
    "code",
    "status",
    "kind",
    "nominee_name",
    "gender",
    "birth_year",
    "ethnicity",
    "religion",
    "occupation_group",
    "position",
    "phone_e164",
    "member_count",
    "title_code",
    "movement_code",
    "movement_other",
    "achievements",
    "sensitive_consent",
    "publicity_consent",
    "created_at",
    "submitted_at",
    "decided_at",
    "published_at",
)
_INVITATION_FIELDS = (
    "full_name",
    "gender",
    "birth_year",
    "ethnicity",
    "religion",
    "position",
    "phone_e164",
    "status",
    "responded_at",
    "checked_in_at",
)


async def my_data(session: AsyncSession, account_id: int, *, now: dt.datetime) -> MyData | None:
    """What the bot holds about ``account_id`` (None once erased); the look is audited."""
    account = await session.get(Account, account_id)
    if account is None or account.erased_at is not None:
        return None
    unit = await session.get(OrgUnit, account.unit_id) if account.unit_id else None
    identities = (await session.scalars(select(ChannelIdentity).where(ChannelIdentity.account_id == account_id))).all()
    nominations = (
        await session.scalars(select(Nomination).where(Nomination.nominator_id == account_id).order_by(Nomination.id))
    ).all()
    withdrawn = await _withdrawals(session, [n.id for n in nominations])
    invitations = await _invitations(session, account_id)
    endorsements = (
        await session.execute(
            select(Endorsement, Nomination.code)
            .join(Nomination, Nomination.id == Endorsement.nomination_id)
            .where(Endorsement.account_id == account_id)
            .order_by(Endorsement.id)
        )
    ).all()
    requests = (
        await session.scalars(
            select(PrivacyRequest).where(PrivacyRequest.account_id == account_id).order_by(PrivacyRequest.id)
        )
    ).all()
    session.add(
        AuditEntry(at=now, actor_id=account_id, action="privacy.mydata", entity="account", entity_id=str(account_id))
    )
    await session.flush()
    return MyData(
        account={
            "number": account.id,
            "name": account.display_name,
            "username": account.username,
            "language": account.locale,
            "role": account.role,
            "unit": unit.name if unit else None,
            "first_seen": account.created_at,
            "last_seen": account.last_seen_at,
        },
        identities=[
            {"channel": i.channel, "id": i.external_id, "name": i.display_name, "since": i.created_at}
            for i in identities
        ],
        consents=_consents(nominations, withdrawn),
        nominations=[{name: getattr(n, name) for name in _NOMINATION_FIELDS} for n in nominations],
        invitations=invitations,
        endorsements=[{"nomination": code, "comment": e.comment, "at": e.created_at} for e, code in endorsements],
        requests=[
            {
                "number": r.id,
                "kind": r.kind,
                "about": r.about,
                "detail": r.detail,
                "status": r.status,
                "filed": r.created_at,
                "due": r.due_at,
                "handled": r.handled_at,
                "reply": r.reply,
            }
            for r in requests
        ],
        generated_at=now,
    )


async def _invitations(session: AsyncSession, account_id: int) -> list[dict[str, Any]]:
    """The person's invitations with when they were invited and answered, and the check-in: when, and by
    whom as a role (the role the desk had then, recorded in the check-in's audit entry), never who it was."""
    rows = (
        await session.execute(
            select(Invitation, Conference.title, Account.role)
            .join(Conference, Conference.id == Invitation.conference_id)
            .outerjoin(Account, Account.id == Invitation.checked_in_by_id)
            .where(Invitation.account_id == account_id)
            .order_by(Invitation.id)
        )
    ).all()
    roles_then = await _roles_at_check_in(session, [i.id for i, _, _ in rows if i.checked_in_at is not None])
    return [
        {
            "conference": title,
            "invited_at": i.created_at,
            **{name: getattr(i, name) for name in _INVITATION_FIELDS},
            "checked_in_by": (roles_then.get(i.id) or role) if i.checked_in_at is not None else None,
        }
        for i, title, role in rows
    ]


async def _roles_at_check_in(session: AsyncSession, invitation_ids: Sequence[int]) -> dict[int, str]:
    if not invitation_ids:
        return {}
    rows = await session.execute(
        select(AuditEntry.entity_id, AuditEntry.detail).where(
            AuditEntry.action == CHECK_IN_ACTION,
            AuditEntry.entity == "invitation",
            AuditEntry.entity_id.in_([str(i) for i in invitation_ids]),
        )
    )
    return {int(entity_id): detail["by_role"] for entity_id, detail in rows if (detail or {}).get("by_role")}


async def _withdrawals(session: AsyncSession, nomination_ids: Sequence[int]) -> dict[tuple[int, str], dt.datetime]:
    if not nomination_ids:
        return {}
    rows = await session.execute(
        select(AuditEntry.entity_id, AuditEntry.detail, AuditEntry.at).where(
            AuditEntry.action == "consent.withdraw",
            AuditEntry.entity == "nomination",
            AuditEntry.entity_id.in_([str(i) for i in nomination_ids]),
        )
    )
    found: dict[tuple[int, str], dt.datetime] = {}
    for entity_id, detail, at in rows:
        for what in (detail or {}).get("consents", []):
            found[(int(entity_id), what)] = at
    return found


def _consents(nominations: Sequence[Nomination], withdrawn: dict[tuple[int, str], dt.datetime]) -> list[Consent]:
    found = []
    for n in nominations:
        for what, value in (("sensitive", n.sensitive_consent), ("publicity", n.publicity_consent)):
            if value is None and (n.id, what) not in withdrawn:
                continue
            given = bool(value)
            at = n.submitted_at or n.created_at if given else withdrawn.get((n.id, what), n.updated_at)
            found.append(Consent(n.code or "", what, given, at))
    return found


# --- withdraw consent ------------------------------------------------------------------------------------


class Refusal(StrEnum):
    NOT_FOUND = "not_found"
    NOT_YOURS = "not_yours"
    NOTHING_TO_WITHDRAW = "nothing_to_withdraw"


@dataclass(frozen=True)
class Withdrawn:
    code: str
    erased_sensitive: bool
    was_published: bool


async def withdraw_consent(
    session: AsyncSession, account_id: int, code: str, *, now: dt.datetime
) -> Withdrawn | Refusal:
    """The nominator withdraws the consents a nomination carries: ethnicity and religion are erased at once
    and the story is not published (one already published stays where it was posted). Audited."""
    nomination = await session.scalar(
        select(Nomination).where(Nomination.code == code.strip().upper()).with_for_update()
    )
    if nomination is None:
        return Refusal.NOT_FOUND
    if nomination.nominator_id != account_id:
        return Refusal.NOT_YOURS
    withdrawn = [
        what
        for what, value in (("sensitive", nomination.sensitive_consent), ("publicity", nomination.publicity_consent))
        if value
    ]
    if not withdrawn:
        return Refusal.NOTHING_TO_WITHDRAW
    erased = nomination.ethnicity is not None or nomination.religion is not None
    nomination.sensitive_consent = False if nomination.sensitive_consent is not None else None
    nomination.publicity_consent = False if nomination.publicity_consent is not None else None
    nomination.ethnicity = None
    nomination.religion = None
    session.add(
        AuditEntry(
            at=now,
            actor_id=account_id,
            action="consent.withdraw",
            entity="nomination",
            entity_id=str(nomination.id),
            detail={"consents": withdrawn, "erased": ["ethnicity", "religion"] if erased else []},
        )
    )
    await session.flush()
    return Withdrawn(nomination.code or code, erased, nomination.published_at is not None)


# --- erase -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErasurePlan:
    """What /erase would do for one account, said before it is done."""

    drafts: int
    open_nominations: list[str]  # withdrawn and deleted
    closed_nominations: list[str]  # not approved: deleted
    kept_nominations: list[str]  # decided and approved: kept, without the nominator's identity
    endorsements: int
    invitations: int  # unlinked from the account, kept by the organisers until their retention period
    files: int
    requests: int  # kept: the record of how a request was handled

    @property
    def nothing(self) -> bool:
        return not (
            self.drafts
            or self.open_nominations
            or self.closed_nominations
            or self.kept_nominations
            or self.endorsements
            or self.invitations
            or self.files
        )


async def erasure_plan(session: AsyncSession, account_id: int) -> ErasurePlan:
    nominations = (
        await session.scalars(select(Nomination).where(Nomination.nominator_id == account_id).order_by(Nomination.id))
    ).all()

    def codes(statuses: Sequence[str]) -> list[str]:
        return [n.code or "" for n in nominations if n.status in statuses]

    return ErasurePlan(
        drafts=sum(1 for n in nominations if n.status in DRAFTS),
        open_nominations=codes(OPEN_NOMINATION),
        closed_nominations=codes([s for s in DECIDED if s != Status.APPROVED] + [Status.WITHDRAWN]),
        kept_nominations=codes([Status.APPROVED]),
        endorsements=len(
            (await session.scalars(select(Endorsement.id).where(Endorsement.account_id == account_id))).all()
        ),
        invitations=len(
            (await session.scalars(select(Invitation.id).where(Invitation.account_id == account_id))).all()
        ),
        files=len(
            (
                await session.scalars(
                    select(StoredFileRecord.id).where(StoredFileRecord.owner_account_id == account_id)
                )
            ).all()
        ),
        requests=len(
            (await session.scalars(select(PrivacyRequest.id).where(PrivacyRequest.account_id == account_id))).all()
        ),
    )


@dataclass(frozen=True)
class Erased:
    plan: ErasurePlan
    # The addresses the person was reached at: the caller forgets them (caches, conversations).
    addresses: list[int] = field(default_factory=list)


async def erase(
    session: AsyncSession, account_id: int, *, now: dt.datetime, notice: BackToReviewNotice | None = None
) -> Erased | None:
    """Delete or de-identify everything :func:`erasure_plan` lists; None when the account is gone already.

    What stays, and why: a decided, approved nomination is part of an official commendation record, so it
    keeps the nominee's record, and the account it points to keeps no name and no way to reach anyone;
    invitations stay with the organisers (their conference record) but lose the link to the account; the
    audit trail stays (it is the evidence of what was done, this erasure included). Someone else's nomination
    marked as a duplicate of one that goes is back under review, its nominator told with ``notice``.
    """
    account = await session.get(Account, account_id, with_for_update=True)
    if account is None or account.erased_at is not None:
        return None
    plan = await erasure_plan(session, account_id)
    nominations = (await session.scalars(select(Nomination).where(Nomination.nominator_id == account_id))).all()
    for nomination in nominations:
        if nomination.status in OPEN_NOMINATION:
            transition(session, nomination, Status.WITHDRAWN, actor_id=account_id, now=now, reason="erased")
    gone = [n.id for n in nominations if n.status != Status.APPROVED]
    await session.flush()
    await delete_nominations(session, tuple(gone), now=now, notice=notice)
    approved = [n.id for n in nominations if n.status == Status.APPROVED]
    for endorsement in (await session.scalars(select(Endorsement).where(Endorsement.account_id == account_id))).all():
        if endorsement.nomination_id in approved:
            endorsement.comment = None  # the count of people who recognised the exemplar is part of the record
        else:
            await session.delete(endorsement)
    for invitation in (await session.scalars(select(Invitation).where(Invitation.account_id == account_id))).all():
        invitation.account_id = None
    addresses = [
        a
        for a in (
            await session.scalars(select(ChannelIdentity.address).where(ChannelIdentity.account_id == account_id))
        ).all()
        if a is not None
    ]
    for model, column in (
        (StoredFileRecord, StoredFileRecord.owner_account_id),
        (OutboxMessage, OutboxMessage.account_id),
        (ChannelIdentity, ChannelIdentity.account_id),
    ):
        await session.execute(delete(model).where(column == account_id).execution_options(synchronize_session=False))
    account.display_name = ""
    account.username = None
    account.locale = None
    account.role = Role.CITIZEN
    account.unit_id = None
    account.sensitive_data_consent_at = None
    account.last_seen_at = None
    account.erased_at = now
    session.add(
        AuditEntry(
            at=now,
            actor_id=account_id,
            action="privacy.erase",
            entity="account",
            entity_id=str(account_id),
            detail={
                "drafts": plan.drafts,
                "withdrawn": plan.open_nominations,
                "deleted": plan.closed_nominations,
                "kept_without_nominator": plan.kept_nominations,
                "endorsements": plan.endorsements,
                "invitations_unlinked": plan.invitations,
                "files": plan.files,
            },
        )
    )
    await session.flush()
    session.expire_all()
    return Erased(plan, addresses)


# --- requests to the organisers --------------------------------------------------------------------------


class RequestKind(StrEnum):
    CORRECT = "correct"
    ERASE = "erase"
    OBJECT = "object"
    OTHER = "other"


class RequestStatus(StrEnum):
    OPEN = "open"
    DONE = "done"


@dataclass(frozen=True)
class DetailProblem:
    msgid: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Filed:
    number: int
    due_at: dt.datetime
    about: str | None
    told: int  # organisers told of it


@dataclass(frozen=True)
class RequestView:
    number: int
    kind: str
    about: str | None
    detail: str
    requester: str
    filed_at: dt.datetime
    due_at: dt.datetime
    overdue: bool


@dataclass(frozen=True)
class NewRequestNotice:
    """What an organiser is told of a new request (their ``locale``)."""

    locale: str | None
    number: int
    kind: str
    due_at: dt.datetime


@dataclass(frozen=True)
class HandledNotice:
    """What the person who asked is told when their request is handled (their ``locale``)."""

    locale: str | None
    number: int
    kind: str
    reply: str


def check_detail(text: str) -> str | DetailProblem:
    """A request's text as stored (trimmed), or why it cannot be."""
    cleaned = " ".join(text.split())
    if len(cleaned) < MIN_DETAIL_CHARS:
        return DetailProblem(
            N_(
                "Please say a little more (at least {count} characters): what should be corrected, erased or stopped, and in which nomination if you know its code."
            ),
            {"count": MIN_DETAIL_CHARS},
        )
    if len(cleaned) > MAX_DETAIL_CHARS:
        return DetailProblem(N_("Please keep it under {count} characters."), {"count": MAX_DETAIL_CHARS})
    return cleaned


async def file_request(
    session: AsyncSession,
    account_id: int,
    kind: RequestKind,
    detail: str,
    *,
    now: dt.datetime,
    notice: Callable[[NewRequestNotice], str],
) -> Filed | DetailProblem:
    """Queue a request for the organisers with its answer-by date; each organiser is told. Audited."""
    checked = check_detail(detail)
    if isinstance(checked, DetailProblem):
        return checked
    found = _CODE.search(checked)
    request = PrivacyRequest(
        account_id=account_id,
        kind=kind,
        about=found.group(1).upper() if found else None,
        detail=checked,
        status=RequestStatus.OPEN,
        created_at=now,
        due_at=now + ANSWER_WITHIN,
    )
    session.add(request)
    await session.flush()
    session.add(
        AuditEntry(
            at=now,
            actor_id=account_id,
            action="privacy.request",
            entity="privacy_request",
            entity_id=str(request.id),
            detail={"kind": kind, "about": request.about},
        )
    )
    told = 0
    for organiser in await accounts.staff(session):
        if organiser.role != Role.ORGANISER:
            continue
        told += await outbox.enqueue(
            session,
            account_id=organiser.id,
            text=notice(NewRequestNotice(organiser.locale, request.id, kind, request.due_at)),
            dedupe_key=f"privacy_request:{request.id}:to:{organiser.id}",
            topic=f"privacy_request:{request.id}",
            now=now,
        )
    await session.flush()
    return Filed(request.id, request.due_at, request.about, told)


async def open_requests(session: AsyncSession, actor_id: int, *, now: dt.datetime) -> list[RequestView] | NotAllowed:
    """The organisers' queue: open requests, the nearest deadline first."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    rows = await session.execute(
        select(PrivacyRequest, Account.display_name)
        .outerjoin(Account, Account.id == PrivacyRequest.account_id)
        .where(PrivacyRequest.status == RequestStatus.OPEN)
        .order_by(PrivacyRequest.due_at, PrivacyRequest.id)
    )
    return [
        RequestView(r.id, r.kind, r.about, r.detail, name or "", r.created_at, r.due_at, r.due_at < now)
        for r, name in rows
    ]


class HandleRefusal(StrEnum):
    NOT_FOUND = "not_found"
    ALREADY_HANDLED = "already_handled"


@dataclass(frozen=True)
class Handled:
    number: int
    told: bool


async def handle_request(
    session: AsyncSession,
    actor_id: int,
    number: int,
    reply: str,
    *,
    now: dt.datetime,
    notice: Callable[[HandledNotice], str],
) -> Handled | HandleRefusal | DetailProblem | NotAllowed:
    """An organiser closes a request with what was done; the person is told through the outbox. Audited."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    request = await session.get(PrivacyRequest, number, with_for_update=True)
    if request is None:
        return HandleRefusal.NOT_FOUND
    if request.status != RequestStatus.OPEN:
        return HandleRefusal.ALREADY_HANDLED
    checked = check_detail(reply)
    if isinstance(checked, DetailProblem):
        return checked
    request.status = RequestStatus.DONE
    request.handled_at = now
    request.handled_by_id = actor_id
    request.reply = checked
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            action="privacy.request.handled",
            entity="privacy_request",
            entity_id=str(request.id),
            detail={"kind": request.kind, "about": request.about},
        )
    )
    told = False
    if request.account_id is not None:
        locale = await session.scalar(select(Account.locale).where(Account.id == request.account_id))
        told = await outbox.enqueue(
            session,
            account_id=request.account_id,
            text=notice(HandledNotice(locale, request.id, request.kind, checked)),
            dedupe_key=f"privacy_request:{request.id}:handled",
            topic=f"privacy_request:{request.id}:handled",
            now=now,
        )
    await outbox.cancel(session, topic=f"privacy_request:{request.id}")
    await session.flush()
    return Handled(request.id, told)
