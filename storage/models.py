"""The whole domain as SQLAlchemy 2 typed models.

Times are stored in UTC (``UtcDateTime``); they are shown in Asia/Ho_Chi_Minh by the presentation layer.
Names are stored NFC with a folded key beside them for matching (see ``rules.text.fold``).
Status columns are plain strings checked by the rules layer, so a new status is a code change in one place,
not a migration of an enum type on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage import tally

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware datetime stored as UTC; SQLite gives naive values back, so re-attach UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC datetimes only")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UtcDateTime(), dict[str, Any]: JSON()}


class Timestamped:
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# --- organisation ------------------------------------------------------------------------------------


class OrgUnit(Timestamped, Base):
    """A body that submits nominations or sends delegates: a ward, an office, a school, a mass organisation.

    Units change over time (Tây Hồ's 8 wards were merged on 1/7/2025), so each has a validity window and
    a nomination keeps the unit as it was on the day.
    """

    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    name_fold: Mapped[str] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"))
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)

    parent: Mapped[OrgUnit | None] = relationship(remote_side="OrgUnit.id")


class OrgUnitSuccession(Base):
    """Old unit → new unit after a reorganisation; many-to-many with partial areas."""

    __tablename__ = "org_unit_succession"

    old_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    new_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"), primary_key=True)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class Account(Timestamped, Base):
    """Someone who has talked to the bot, with their role, language and unit. How to reach them is in their
    channel identities (``ChannelIdentity``): rules, exports and audit rows refer to the account only."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    username: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(8))
    # citizen < focal_point < reviewer < organiser (see rules.roles)
    role: Mapped[str] = mapped_column(String(16), default="citizen")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"))
    sensitive_data_consent_at: Mapped[dt.datetime | None]
    bot_blocked_at: Mapped[dt.datetime | None]
    last_seen_at: Mapped[dt.datetime | None]
    # Set when the person erased their data (/erase): the row stays only as the nameless author of what must
    # be kept (a decided nomination, audit entries); it has no identity, so nobody can reach or be it again.
    erased_at: Mapped[dt.datetime | None]

    unit: Mapped[OrgUnit | None] = relationship()
    identities: Mapped[list[ChannelIdentity]] = relationship(
        back_populates="account", cascade="all, delete-orphan", passive_deletes=True
    )


class ChannelIdentity(Base):
    """One way to reach an account: a channel ("telegram", "zalo") and the id that channel gives the person.

    ``address`` is the integer the dialogue engine (PTB) sees as the person's user and chat id, the same
    after every restart: a Telegram identity's address is the Telegram id itself (under 2**52); any other
    channel's is ``rules.identities.ADDRESS_BASE`` + this row's id, so the ids of two channels never collide.
    """

    __tablename__ = "channel_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    # Set in the statement that creates the row for Telegram, just after it for other channels.
    address: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None]

    account: Mapped[Account] = relationship(back_populates="identities")


class UnitLink(Base):
    """A ``?start=unit_<token>`` link an organiser made so a unit's focal point can bind their account."""

    __tablename__ = "unit_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The typed code is derived from this nonce (``rules.link_codes``); the token itself is random, shown
    # once when the link is made. None for links that were spent before codes existed.
    link_nonce: Mapped[str | None] = mapped_column(String(32))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class LinkCode(Base):
    """The typed short code of one personal link (Zalo has no deep links): one row per link, whatever its
    kind, so one lookup of what someone typed finds the kind and the record.

    ``kind`` is the link's deep-link prefix (``inv``, ``chk``, ``unit``, ``end``) and ``record_id`` the
    invitation, unit link or nomination; only the code's keyed hash is stored. A link's row is replaced
    when its nonce changes, so it always holds the current code; no two rows share a code.
    """

    __tablename__ = "link_code"
    __table_args__ = (UniqueConstraint("kind", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    record_id: Mapped[int] = mapped_column(Integer)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)


# --- campaigns and conferences -----------------------------------------------------------------------


class Campaign(Timestamped, Base):
    """One plan: e.g. Tây Hồ's 2020 exemplar conferences leading to the city congress."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str | None] = mapped_column(String(255))
    # How printed invitations are headed and signed (rules.plans.LetterSpec as JSON); None: the defaults.
    letter: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Who is responsible for the personal data (rules.plans.DataControllerSpec as JSON), for /privacy.
    data_controller: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
    code_prefix: Mapped[str] = mapped_column(String(16), default="DH")
    # Last sequence number handed out for nomination codes (DH-2020-0042); bumped with UPDATE … RETURNING.
    nomination_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    plan_version: Mapped[str | None] = mapped_column(String(32))
    plan_sha256: Mapped[str | None] = mapped_column(String(64))
    movements: Mapped[list[str]] = mapped_column(JSON, default=list)

    conferences: Mapped[list[Conference]] = relationship(
        back_populates="campaign", order_by="Conference.id", cascade="all, delete-orphan"
    )


class Conference(Timestamped, Base):
    """A conference level of a campaign (grassroots/sector or district) with its dates and seats."""

    __tablename__ = "conference"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(Text)  # shown in English mode (rules.text.title_for)
    # The plan may give only a window ("Quý II/2020"); starts_at is set once the date is fixed.
    window_start: Mapped[dt.datetime | None]
    window_end: Mapped[dt.datetime | None]
    starts_at: Mapped[dt.datetime | None]
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    nomination_deadline: Mapped[dt.datetime | None]
    rsvp_deadline: Mapped[dt.datetime | None]
    venue: Mapped[str | None] = mapped_column(Text)
    what_to_bring: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    composition: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")

    campaign: Mapped[Campaign] = relationship(back_populates="conferences")
    seat_pools: Mapped[list[SeatPool]] = relationship(
        back_populates="conference", order_by="SeatPool.id", cascade="all, delete-orphan"
    )
    balance_targets: Mapped[list[BalanceTarget]] = relationship(
        back_populates="conference", order_by="BalanceTarget.id", cascade="all, delete-orphan"
    )
    unit_allowances: Mapped[list[UnitAllowance]] = relationship(
        back_populates="conference", cascade="all, delete-orphan"
    )


class ConferenceArrangement(Base):
    """The day, time and venue of a conference as organisers set them in chat (``/conference``).

    Layered over the plan: a value here wins over the plan file's, and loading the plan again keeps it
    (``rules.plans`` applies the plan, then this). The conference row holds the effective values, so
    every place that shows them (invitation cards, reminders, .ics files, /status) reads one column.
    A None here means "as the plan says".
    """

    __tablename__ = "conference_arrangement"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"), unique=True)
    starts_at: Mapped[dt.datetime | None]
    venue: Mapped[str | None] = mapped_column(Text)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    set_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SeatPool(Base):
    """A category of seats: exemplars (at least 70%) or guests and leaders (at most 30%)."""

    __tablename__ = "seat_pool"
    __table_args__ = (UniqueConstraint("conference_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255))
    title_en: Mapped[str | None] = mapped_column(String(255))
    share: Mapped[float] = mapped_column(Numeric(5, 4, asdecimal=False))
    # "min": the share is a floor (exemplars ≥ 70%); "max": a ceiling (guests ≤ 30%).
    share_rule: Mapped[str] = mapped_column(String(8))
    seats: Mapped[int | None] = mapped_column(Integer)

    conference: Mapped[Conference] = relationship(back_populates="seat_pools")


class BalanceTarget(Base):
    """A soft target for one dimension of the delegate structure; shown as a gap, never enforced."""

    __tablename__ = "balance_target"
    __table_args__ = (UniqueConstraint("conference_id", "dimension", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"))
    dimension: Mapped[str] = mapped_column(String(32))
    # The category counted within the dimension (e.g. occupation "worker"); empty for yes/no dimensions.
    value: Mapped[str] = mapped_column(String(64), default="")
    # None: report only.
    target_share: Mapped[float | None] = mapped_column(Numeric(5, 4, asdecimal=False))
    comparison: Mapped[str] = mapped_column(String(8), default="min")

    conference: Mapped[Conference] = relationship(back_populates="balance_targets")


class UnitAllowance(Base):
    """How many nominations a unit may submit to a conference, and optionally how many seats it gets."""

    __tablename__ = "unit_allowance"
    __table_args__ = (UniqueConstraint("conference_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id", ondelete="CASCADE"))
    nominations: Mapped[int] = mapped_column(Integer)
    expected_nominations: Mapped[int | None] = mapped_column(Integer)
    seats: Mapped[int | None] = mapped_column(Integer)

    conference: Mapped[Conference] = relationship(back_populates="unit_allowances")
    unit: Mapped[OrgUnit] = relationship()


# --- nominations -------------------------------------------------------------------------------------


class Nomination(Timestamped, Base):
    """A proposed exemplar (individual or collective), from draft to decision.

    A draft is a row from the first answer on; each answer is committed as it is given.
    """

    __tablename__ = "nomination"
    __table_args__ = (
        Index("ix_nomination_dup", "campaign_id", "nominee_fold", "birth_year"),
        Index("ix_nomination_queue", "conference_id", "status", "submitted_at"),
        # Covers the count of a unit's allowance used (rules.counts.allowance_used); /status reads the tally.
        Index("ix_nomination_status_by_unit", "conference_id", "unit_id", "source", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    conference_id: Mapped[int | None] = mapped_column(ForeignKey("conference.id", ondelete="SET NULL"))
    nominator_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="RESTRICT"), index=True)
    # focal_point (counts against the unit's allowance) or citizen (lands in the named ward's queue)
    source: Mapped[str] = mapped_column(String(16), default="citizen")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    kind: Mapped[str | None] = mapped_column(String(16))  # individual | collective
    nominee_name: Mapped[str | None] = mapped_column(String(255))
    nominee_fold: Mapped[str | None] = mapped_column(String(255))
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    ethnicity: Mapped[str | None] = mapped_column(String(32))
    religion: Mapped[str | None] = mapped_column(String(32))
    occupation_group: Mapped[str | None] = mapped_column(String(32))
    position: Mapped[str | None] = mapped_column(Text)
    workplace: Mapped[str | None] = mapped_column(Text)
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    member_count: Mapped[int | None] = mapped_column(Integer)
    economic_sector: Mapped[str | None] = mapped_column(String(32))
    title_code: Mapped[str | None] = mapped_column(String(64))
    movement_code: Mapped[str | None] = mapped_column(String(64))
    movement_other: Mapped[str | None] = mapped_column(Text)
    achievements: Mapped[str | None] = mapped_column(Text)
    sensitive_consent: Mapped[bool | None] = mapped_column(Boolean)
    publicity_consent: Mapped[bool | None] = mapped_column(Boolean)
    legal_basis: Mapped[str | None] = mapped_column(String(64))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("nomination.id", ondelete="SET NULL"))
    share_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The share link's token and typed code are derived from this nonce (``rules.links``); a new nonce
    # replaces both. Links made before codes existed keep their random token: for them the nonce gives
    # the code only.
    share_nonce: Mapped[str | None] = mapped_column(String(32))
    draft_step: Mapped[str | None] = mapped_column(String(32))
    # Set while the nominator edits one field from the summary: after it, go back to the summary.
    draft_editing: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    draft_expires_at: Mapped[dt.datetime | None]
    submitted_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    published_at: Mapped[dt.datetime | None]

    evidence: Mapped[list[Evidence]] = relationship(
        back_populates="nomination", order_by="Evidence.id", cascade="all, delete-orphan"
    )
    endorsements: Mapped[list[Endorsement]] = relationship(
        back_populates="nomination", order_by="Endorsement.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[NominationEvent]] = relationship(
        back_populates="nomination", order_by="NominationEvent.id", cascade="all, delete-orphan"
    )


class NominationTally(Base):
    """How many of a conference's nominations have this unit, source and status: kept by triggers on
    ``nomination`` in the same transaction (``storage.tally``), read by /status instead of a count."""

    __tablename__ = "nomination_tally"

    conference_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # The unit's id, or 0 for a nomination without one (a key column cannot be NULL).
    unit_key: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(24), primary_key=True)
    nominations: Mapped[int] = mapped_column(Integer)
    # Of them, those sent at some point (submitted_at set): /status's "received".
    submitted: Mapped[int] = mapped_column(Integer)


# The tally's triggers, once every table exists; on PostgreSQL their function is dropped with the tables.
event.listen(Base.metadata, "after_create", tally.install)
event.listen(Base.metadata, "after_drop", tally.drop)


class Evidence(Base):
    """A photo or document attached to a nomination (Telegram file ids; the bytes stay on Telegram)."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(ForeignKey("nomination.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo | document
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str | None] = mapped_column(String(64))
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(128))
    file_size: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    nomination: Mapped[Nomination] = relationship(back_populates="evidence")


class Endorsement(Base):
    """Someone who recognises the nominee ("được quần chúng suy tôn"); one per person and nomination."""

    __tablename__ = "endorsement"
    __table_args__ = (UniqueConstraint("nomination_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(ForeignKey("nomination.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    nomination: Mapped[Nomination] = relationship(back_populates="endorsements")


class NominationEvent(Base):
    """One transition of a nomination, with who did it, when and why."""

    __tablename__ = "nomination_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    nomination_id: Mapped[int] = mapped_column(ForeignKey("nomination.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    nomination: Mapped[Nomination] = relationship(back_populates="events")


# --- invitations -------------------------------------------------------------------------------------


class Invitation(Timestamped, Base):
    """A seat offered to one person in one pool of a conference, answered through a personal link."""

    __tablename__ = "invitation"
    __table_args__ = (
        UniqueConstraint("conference_id", "import_key"),
        Index("ix_invitation_pool_status", "conference_id", "pool_code", "status"),
        # Covers rules.seats.pool_counts' counts of reserved seats and check-ins (/status), and leads
        # /status's scan of a conference's accepted delegates.
        Index(
            "ix_invitation_seat_counts", "conference_id", "status", "pool_code", "substitute_for_id", "checked_in_at"
        ),
        # Every attribute /status's balance figures read (rules.status._balance), the grouped ones first: the
        # scan of a conference's accepted delegates reads this index only (migration 0014).
        Index(
            "ix_invitation_balance",
            "conference_id",
            "status",
            "economic_sector",
            "religion",
            "sector",
            "gender",
            "birth_year",
            "ethnicity",
            "occupation_group",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"))
    pool_code: Mapped[str] = mapped_column(String(32))
    nomination_id: Mapped[int | None] = mapped_column(ForeignKey("nomination.id", ondelete="SET NULL"))
    substitute_for_id: Mapped[int | None] = mapped_column(ForeignKey("invitation.id", ondelete="SET NULL"))
    # A stable key of the person within the conference (folded name + birth year, or the nomination),
    # so importing the same spreadsheet twice creates no duplicates.
    import_key: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    name_fold: Mapped[str] = mapped_column(String(255), index=True)
    gender: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    ethnicity: Mapped[str | None] = mapped_column(String(32))
    religion: Mapped[str | None] = mapped_column(String(32))
    occupation_group: Mapped[str | None] = mapped_column(String(32))
    economic_sector: Mapped[str | None] = mapped_column(String(32))
    sector: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[str | None] = mapped_column(Text)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id", ondelete="SET NULL"))
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    # proposed (a substitute awaiting an organiser) | pending | accepted | declined | waitlisted
    # | substituted | cancelled — see rules.invitations.Status
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # The personal link's token is derived (HMAC of the link secret, the id and this nonce), never stored:
    # only its hash is, for lookup. A new nonce revokes the old link.
    link_nonce: Mapped[str | None] = mapped_column(String(32))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[dt.datetime | None]
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    waitlisted_at: Mapped[dt.datetime | None]
    responded_at: Mapped[dt.datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    checkin_nonce: Mapped[str | None] = mapped_column(String(32))
    checkin_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    checkin_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    checked_in_at: Mapped[dt.datetime | None]
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))


class InvitationImport(Base):
    """A guest list sent by an organiser, validated row by row and kept until it is confirmed.

    Nothing is invited until the organiser confirms the good rows; the file's hash and each row's person
    key make importing the same file twice create no duplicates.
    """

    __tablename__ = "invitation_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    file_name: Mapped[str] = mapped_column(String(255))
    file_sha256: Mapped[str] = mapped_column(String(64))
    # pending | confirmed | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[dt.datetime | None]


class InvitationEvent(Base):
    """One change of an invitation (answer, waitlist promotion, override with reason, check-in)."""

    __tablename__ = "invitation_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitation.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# --- files the bot keeps ----------------------------------------------------------------------------


class StoredFileRecord(Base):
    """The bytes of a file the bot keeps itself, for channels that cannot hold files for it (Zalo).

    ``evidence``: a photo a person sent, downloaded at once because the sender's CDN link expires; found by
    its file id (``zf_<token>``). ``share``: a file the bot made for one account (a QR code, a chart, an
    .ics, a workbook), served at ``/files/<token>/<name>`` until ``expires_at`` and then purged. Only the
    SHA-256 of a token is stored. ``expires_at`` is where a retention period (issue 12) goes for evidence.
    """

    __tablename__ = "stored_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # evidence | share
    # The file goes with the person's account: it is their data (photos they sent, links made for them).
    owner_account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(index=True)


# --- outbox and audit --------------------------------------------------------------------------------


class OutboxMessage(Base):
    """A message the bot sends on its own. The dedupe key makes enqueueing idempotent.

    Lifecycle: pending → sending (claimed with a lease) → sent | undeliverable | failed; or cancelled.
    A lease that runs out (the sender died) makes the row claimable again.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(191), unique=True)
    # Whom it is for (None for a group or channel, e.g. the published stories), and where it goes out:
    # the channel and the address of the account's most recently used identity when the row was added.
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="telegram", server_default="telegram")
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    is_group: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[str] = mapped_column(String(32), default="sendMessage")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the row is about (e.g. "invitation:42"), so rows can be cancelled when no longer relevant.
    topic: Mapped[str | None] = mapped_column(String(128), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None]
    # The id the channel gave the sent message (Telegram's message_id; a counter of ours on Zalo).
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what to which record, for inspection (decisions, grants, exports, overrides, check-ins).

    Every entry is a link of a hash chain (``storage.audit_chain``), filled in when it is flushed: its place
    (``seq``), the salted hash of its free-text ``detail``, the previous entry's hash and its own hash over
    who, what, when, which record and those two. Erasure blanks ``detail`` and its salt and keeps the rest,
    so the chain still verifies. ``actor_id`` is a plain number: the trail outlives the account.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    detail_salt: Mapped[str | None] = mapped_column(String(32))
    detail_hash: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    entry_hash: Mapped[str | None] = mapped_column(String(64))
    detail_erased_at: Mapped[dt.datetime | None]


class AuditChainHead(Base):
    """The last link of the audit chain (one row, id 1): its place and hash, moved with every append. A
    trail cut short at its end still verifies link by link; this row (and the digests) tell it."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PrivacyRequest(Base):
    """A request about personal data that needs an organiser (a correction, an erasure of what the person
    cannot erase themselves, an objection), queued with the date by which it must be answered.

    ``account_id`` is who asked (they are told when it is handled); ``about`` names the record (a nomination
    code) when they gave one. open → done | refused.
    """

    __tablename__ = "privacy_request"
    __table_args__ = (Index("ix_privacy_request_queue", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # correct | erase | object | other
    about: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime]
    handled_at: Mapped[dt.datetime | None]
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"))
    reply: Mapped[str | None] = mapped_column(Text)


# --- PTB persistence ---------------------------------------------------------------------------------


class ConversationState(Base):
    """A ConversationHandler's state for one key (chat, user, …), so a restart resumes at the same step."""

    __tablename__ = "ptb_conversation"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    state: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PersistedData(Base):
    """PTB's user_data / chat_data / bot_data / callback_data, as JSON, when a feature uses them."""

    __tablename__ = "ptb_data"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # user | chat | bot | callback
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


__all__ = [
    "Account",
    "AuditChainHead",
    "AuditEntry",
    "BalanceTarget",
    "Base",
    "Campaign",
    "Conference",
    "ConversationState",
    "Endorsement",
    "Evidence",
    "Invitation",
    "InvitationEvent",
    "InvitationImport",
    "Nomination",
    "NominationEvent",
    "OrgUnit",
    "OrgUnitSuccession",
    "OutboxMessage",
    "PersistedData",
    "PrivacyRequest",
    "SeatPool",
    "StoredFileRecord",
    "UnitAllowance",
    "UnitLink",
    "UtcDateTime",
    "utcnow",
]
