"""Endorsements: people who know a nominee say so ("được quần chúng, tập thể suy tôn").

After sending a nomination the nominator gets a share link (``https://t.me/<bot>?start=end_<token>``).
Whoever opens it sees a short public summary — never the phone number, ethnicity, religion, birth year or
any other personal detail — and may endorse the nomination once. Reviewers see how many endorsed and who.

The link has a typed code too (``rules.link_codes``), for Zalo, which has no deep links; both are derived
from a nonce on the nomination and stored only hashed. The link is stable: /share and a resubmission show
the same link and code again (:func:`share_link`), so those handed out keep working. Only when the
nominator asks for it (:func:`revoke_share_link`, audited) does a new nonce replace the old link and code.
Only nominations that are sent in and not thrown out can be endorsed (submitted, changes requested,
approved), and not by their own nominator. One endorsement per person is guaranteed by the database
(unique nomination and account), so two presses at the same moment still make one row.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import link_codes, links
from rules.link_codes import TypedCode, format_code
from rules.nominations import Status, by_code, normalise_code
from rules.refdata import reference
from rules.text import clean
from rules.tokens import deep_link_payload, token_hash
from storage import link_codes as link_store
from storage.db import insert_for
from storage.models import Account, AuditEntry, Endorsement, Nomination, OrgUnit

PAYLOAD_PREFIX = links.ENDORSEMENT
# Sent in and still in the running: these can be shared and endorsed.
ENDORSABLE = frozenset({Status.SUBMITTED, Status.CHANGES_REQUESTED, Status.APPROVED})
EXCERPT_CHARS = 300

# Vietnamese phone numbers (0… or +84…, 10–11 digits) and 12-digit citizen ids, however they are spaced,
# are masked in the public excerpt: nominators sometimes write them into the achievements.
_PHONE_OR_ID = re.compile(r"(?<![\d+])(?:\+\s?84|0)(?:[\s.\-]?\d){8,11}(?!\d)")
MASK = "***"


def share_url(bot_username: str, token: str) -> str:
    """The link a nominator shares: ``https://t.me/<bot>?start=end_<token>``."""
    return f"https://t.me/{bot_username}?start={deep_link_payload(PAYLOAD_PREFIX, token)}"


def share_command(token: str) -> str:
    """What opening the share link sends, to be typed where there are no deep links (Zalo):
    ``/start end_<token>``."""
    return f"/start {deep_link_payload(PAYLOAD_PREFIX, token)}"


@dataclass(frozen=True)
class ShareLink:
    """A nomination's share link: its token (for the deep link) and its typed code (canonical)."""

    token: str
    code: str

    @property
    def shown_code(self) -> str:
        return format_code(self.code)


async def share_link(session: AsyncSession, nomination: Nomination, secret: bytes) -> ShareLink:
    """The share link of ``nomination`` and its typed code: the one it has, shown again, or a first one.

    Both are derived from the nonce on the nomination (``rules.links``), only their hashes stored, so the
    same link is shown every time until the nominator revokes it (:func:`revoke_share_link`).
    """
    await session.flush()  # the nomination has its id
    nonce = nomination.share_nonce
    if nonce is not None:
        token, hashed = links.derive(secret, links.ENDORSEMENT, nomination.id, nonce)
        if hashed == nomination.share_token_hash:
            return ShareLink(token, link_codes.derive_code(secret, links.ENDORSEMENT, nomination.id, nonce))
        # A link from before codes existed (a random token that cannot be shown again): from now on the
        # link derived from the nonce, whose code the nominator has already.
    return await _new_share_link(session, nomination, secret, nonce)


async def _new_share_link(session: AsyncSession, nomination: Nomination, secret: bytes, nonce: str | None) -> ShareLink:
    nomination.share_nonce, code = await links.ensure_code(session, secret, links.ENDORSEMENT, nomination.id, nonce)
    token, nomination.share_token_hash = links.derive(secret, links.ENDORSEMENT, nomination.id, nomination.share_nonce)
    await session.flush()
    return ShareLink(token, code)


# --- the public summary ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicSummary:
    """What anyone with the share link may see. Deliberately no personal details beyond the name."""

    code: str | None
    nominee_name: str
    kind: str | None
    unit_name: str | None
    title_label: str | None
    movement_label: str | None
    achievements_excerpt: str | None


def public_summary(nomination: Nomination, *, unit_name: str | None = None, locale: str = "vi") -> PublicSummary:
    """The public face of ``nomination``, with reference labels in ``locale`` ("vi" or "en").

    Only the fields below are read, so a sensitive field added to nominations later cannot leak here.
    """
    data = reference()
    title = data.titles.get(nomination.title_code) if nomination.title_code else None
    movement = data.movements.get(nomination.movement_code) if nomination.movement_code else None
    english = locale == "en"
    movement_label = (movement.label_en if english else movement.label) if movement else None
    return PublicSummary(
        code=nomination.code,
        nominee_name=nomination.nominee_name or "",
        kind=nomination.kind,
        unit_name=unit_name,
        title_label=(title.label_en if english else title.label) if title else None,
        movement_label=movement_label or (clean(nomination.movement_other) if nomination.movement_other else None),
        achievements_excerpt=excerpt(nomination.achievements) if nomination.achievements else None,
    )


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The beginning of ``text``, cut at a word, with phone numbers and citizen ids masked."""
    masked = _PHONE_OR_ID.sub(MASK, clean(text))
    if len(masked) <= limit:
        return masked
    cut = masked[:limit].rsplit(" ", 1)[0].rstrip(",;:.-–")
    return f"{cut}…"


async def _unit_name(session: AsyncSession, unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    unit = await session.get(OrgUnit, unit_id)
    return unit.name if unit is not None else None


async def _by_link(session: AsyncSession, token: str, code: TypedCode | None) -> Nomination | None:
    """The nomination whose share link has ``token``, or whose typed code is ``code``."""
    if code is not None:
        condition = Nomination.id == link_store.record_id(links.ENDORSEMENT, code.lookup)
    elif token:
        condition = Nomination.share_token_hash == token_hash(token)
    else:
        return None
    return await session.scalar(select(Nomination).where(condition))


async def _endorsed_at(session: AsyncSession, nomination_id: int, account_id: int) -> dt.datetime | None:
    return await session.scalar(
        select(Endorsement.created_at).where(
            Endorsement.nomination_id == nomination_id, Endorsement.account_id == account_id
        )
    )


async def endorsement_count(session: AsyncSession, nomination_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Endorsement).where(Endorsement.nomination_id == nomination_id)
    )
    return int(count or 0)


# --- opening a share link and endorsing --------------------------------------------------------------


class EndorseOutcome(StrEnum):
    CAN_ENDORSE = "can_endorse"  # opened the link; may endorse
    ENDORSED = "endorsed"  # endorsed just now
    ALREADY = "already"  # endorsed before (``endorsed_at``)
    OWN = "own"  # the nominator's own nomination
    CLOSED = "closed"  # withdrawn, rejected, a duplicate…: no longer open to endorsements
    UNKNOWN = "unknown"  # no such link, or a link its nominator revoked


@dataclass(frozen=True)
class EndorseResult:
    outcome: EndorseOutcome
    summary: PublicSummary | None = None
    endorsed_at: dt.datetime | None = None
    count: int = 0


async def open_share_link(
    session: AsyncSession, *, token: str, account_id: int, locale: str = "vi", code: TypedCode | None = None
) -> EndorseResult:
    """What someone who opens a share link (or types its ``code``) sees, and whether they may endorse."""
    nomination = await _by_link(session, token, code)
    if nomination is None:
        return EndorseResult(EndorseOutcome.UNKNOWN)
    summary = public_summary(nomination, unit_name=await _unit_name(session, nomination.unit_id), locale=locale)
    count = await endorsement_count(session, nomination.id)
    outcome = await _refusal(session, nomination, account_id)
    endorsed_at = await _endorsed_at(session, nomination.id, account_id)
    if outcome is None and endorsed_at is not None:
        outcome = EndorseOutcome.ALREADY
    return EndorseResult(outcome or EndorseOutcome.CAN_ENDORSE, summary, endorsed_at, count)


async def _refusal(session: AsyncSession, nomination: Nomination, account_id: int) -> EndorseOutcome | None:
    if nomination.status not in ENDORSABLE:
        return EndorseOutcome.CLOSED
    if nomination.nominator_id == account_id:
        return EndorseOutcome.OWN
    return None


async def endorse(
    session: AsyncSession,
    *,
    token: str,
    account_id: int,
    now: dt.datetime,
    locale: str = "vi",
    code: TypedCode | None = None,
) -> EndorseResult:
    """Record that ``account_id`` endorses the nomination of ``token`` (or of the typed ``code``), once.

    ``INSERT … ON CONFLICT DO NOTHING`` on (nomination, account): a second endorsement, even one racing
    the first in another transaction, adds nothing and reports when the first was made.
    """
    nomination = await _by_link(session, token, code)
    if nomination is None:
        return EndorseResult(EndorseOutcome.UNKNOWN)
    summary = public_summary(nomination, unit_name=await _unit_name(session, nomination.unit_id), locale=locale)
    refusal = await _refusal(session, nomination, account_id)
    if refusal is not None:
        return EndorseResult(refusal, summary)
    statement = (
        insert_for(session.get_bind().dialect.name)(Endorsement)
        .values(nomination_id=nomination.id, account_id=account_id, created_at=now)
        .on_conflict_do_nothing(index_elements=[Endorsement.nomination_id, Endorsement.account_id])
        .returning(Endorsement.id)
    )
    inserted = await session.scalar(statement)
    count = await endorsement_count(session, nomination.id)
    if inserted is None:
        endorsed_at = await _endorsed_at(session, nomination.id, account_id)
        return EndorseResult(EndorseOutcome.ALREADY, summary, endorsed_at, count)
    return EndorseResult(EndorseOutcome.ENDORSED, summary, now, count)


# --- for reviewers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endorser:
    account_id: int
    display_name: str
    username: str | None
    endorsed_at: dt.datetime


async def endorsers(session: AsyncSession, nomination_id: int) -> list[Endorser]:
    """Who endorsed the nomination, earliest first (its length is the count reviewers see)."""
    rows = await session.execute(
        select(Account.id, Account.display_name, Account.username, Endorsement.created_at)
        .join(Endorsement, Endorsement.account_id == Account.id)
        .where(Endorsement.nomination_id == nomination_id)
        .order_by(Endorsement.created_at, Endorsement.id)
    )
    return [Endorser(*row) for row in rows]


# --- /share: the nominator asks for a link -----------------------------------------------------------


class ShareOutcome(StrEnum):
    CREATED = "created"
    NOT_FOUND = "not_found"  # no such code among the asker's nominations
    NOT_SHAREABLE = "not_shareable"  # a draft, or no longer in the running


@dataclass(frozen=True)
class ShareResult:
    outcome: ShareOutcome
    code: str
    token: str | None = None
    nominee_name: str | None = None
    status: str | None = None
    # The link made before was revoked: it and its code no longer work.
    replaced: bool = False
    count: int = 0
    # The link's typed code (canonical), beside ``code``, the nomination's own code.
    short_code: str | None = None


async def _own_shareable(
    session: AsyncSession, code: str, account_id: int
) -> tuple[Nomination | None, ShareResult | None]:
    """The asker's own nomination ``code`` when it can be shared, else the refusal to return."""
    nomination = await by_code(session, code)
    if nomination is None or nomination.nominator_id != account_id:
        return None, ShareResult(ShareOutcome.NOT_FOUND, normalise_code(code))
    assert nomination.code is not None
    if nomination.status not in ENDORSABLE:
        return None, ShareResult(ShareOutcome.NOT_SHAREABLE, nomination.code, status=nomination.status)
    return nomination, None


async def _shared(session: AsyncSession, nomination: Nomination, link: ShareLink, *, replaced: bool) -> ShareResult:
    assert nomination.code is not None
    return ShareResult(
        ShareOutcome.CREATED,
        nomination.code,
        link.token,
        nomination.nominee_name,
        nomination.status,
        replaced,
        await endorsement_count(session, nomination.id),
        short_code=link.code,
    )


async def share_link_for(session: AsyncSession, *, code: str, account_id: int, secret: bytes) -> ShareResult:
    """The share link of the asker's own nomination ``code`` (any spelling ``normalise_code`` knows): the
    same one every time, so links handed out before keep working."""
    nomination, refusal = await _own_shareable(session, code, account_id)
    if nomination is None:
        assert refusal is not None
        return refusal
    return await _shared(session, nomination, await share_link(session, nomination, secret), replaced=False)


async def revoke_share_link(
    session: AsyncSession, *, code: str, account_id: int, secret: bytes, now: dt.datetime
) -> ShareResult:
    """Stop the share link of the asker's own nomination ``code`` and its typed code, and make a new one.

    Only the nominator may, and only while the nomination can gather endorsements. Endorsements already
    given stay. Audited (who, when, which nomination; never the link).
    """
    nomination, refusal = await _own_shareable(session, code, account_id)
    if nomination is None:
        assert refusal is not None
        return refusal
    link = await _new_share_link(session, nomination, secret, None)
    session.add(
        AuditEntry(
            at=now,
            actor_id=account_id,
            action="endorsement_link.revoke",
            entity="nomination",
            entity_id=str(nomination.id),
            detail={"code": nomination.code},
        )
    )
    await session.flush()
    return await _shared(session, nomination, link, replaced=True)


@dataclass(frozen=True)
class Shareable:
    code: str
    nominee_name: str


async def shareable_nominations(session: AsyncSession, account_id: int) -> list[Shareable]:
    """The asker's nominations that can be shared, newest first."""
    rows = await session.execute(
        select(Nomination.code, Nomination.nominee_name)
        .where(
            Nomination.nominator_id == account_id,
            Nomination.status.in_(list(ENDORSABLE)),
            Nomination.code.is_not(None),
        )
        .order_by(Nomination.submitted_at.desc(), Nomination.id.desc())
    )
    return [Shareable(code or "", name or "") for code, name in rows]


__all__ = [
    "ENDORSABLE",
    "EndorseOutcome",
    "EndorseResult",
    "Endorser",
    "PublicSummary",
    "ShareLink",
    "ShareOutcome",
    "ShareResult",
    "Shareable",
    "endorse",
    "endorsement_count",
    "endorsers",
    "excerpt",
    "open_share_link",
    "public_summary",
    "revoke_share_link",
    "share_link",
    "share_link_for",
    "share_url",
    "shareable_nominations",
]
