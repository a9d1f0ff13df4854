"""The organisers' /export: one XLSX workbook with the nominations, the delegates, the attendance and the balance.

Sheets (names and headers in the reader's language): nominations sent in (every field; only organisers
may export, and every export is written to the audit log; ethnicity and religion only when the organiser
asks for them with a reason, ``/export sensitive REASON``, which the audit entry keeps), invitations with
their pool and status, the attendance list (accepted delegates and whether they checked in), and the
balance table (seats per pool, then every balance target and spread, as /status computes them), and the units
with their nominations against the number expected and their allowance (``rules.counts``, as /status counts).
The workbook is written in openpyxl's write-only mode, row by row, so 100,000 nominations fit in memory.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rules import invitations
from rules.accounts import acting
from rules.cells import put
from rules.delegates import STATUS_LABELS as INVITATION_STATUS_LABELS
from rules.i18n import N_
from rules.nominations import Status as NominationStatus
from rules.refdata import RefList, reference
from rules.roles import Actor, NotAllowed, Role, audit_actor
from rules.status import (
    LOCAL_TZ,
    BalanceLine,
    ConferenceStatus,
    PoolStatus,
    Translate,
    YouthBand,
    conference_status,
    dimension_label,
    value_label,
)
from rules.text import fold, format_phone, name_sort_key
from storage.models import AuditEntry, Conference, Endorsement, Evidence, Invitation, Nomination, OrgUnit

DATE_FORMAT = "dd/mm/yyyy hh:mm"
SHARE_FORMAT = "0.0%"
BOLD = Font(bold=True)

NOMINATION_STATUS: dict[str, str] = {
    NominationStatus.DRAFT: N_("Draft (not sent yet)"),
    NominationStatus.SUBMITTED: N_("Waiting for review"),
    NominationStatus.CHANGES_REQUESTED: N_("Changes requested"),
    NominationStatus.APPROVED: N_("Approved"),
    NominationStatus.REJECTED: N_("Not accepted"),
    NominationStatus.DUPLICATE: N_("Duplicate"),
    NominationStatus.WITHDRAWN: N_("Withdrawn"),
    NominationStatus.EXPIRED: N_("Expired draft"),
}
SOURCES = {"citizen": N_("Citizen"), "focal_point": N_("Unit's focal point"), "organiser": N_("Organisers")}
# Sensitive personal data (Law 91/2025/QH15): in the workbook only when an organiser asks, with a reason.
SENSITIVE_COLUMNS = (N_("Ethnic group"), N_("Religion"))
SENSITIVE_WORDS = ("sensitive", "nhay cam")  # folded: "nhạy cảm" typed with or without tone marks
MIN_REASON_CHARS = 5
KINDS = {"individual": N_("Individual"), "collective": N_("Collective")}


@dataclass(frozen=True)
class Export:
    content: bytes
    file_name: str
    rows: dict[str, int]  # sheet key → data rows written
    sensitive: bool = False  # whether ethnicity and religion are in it


@dataclass(frozen=True)
class ExportRequest:
    """What ``/export`` was asked for: the conference's code (None: every open one), and whether the
    sensitive columns were asked for, with the reason given (empty when none was)."""

    code: str | None
    sensitive: bool = False
    reason: str = ""

    @property
    def reason_missing(self) -> bool:
        return self.sensitive and len(self.reason) < MIN_REASON_CHARS


def export_request(words: Sequence[str]) -> ExportRequest:
    """``/export``'s words: ``[CODE] [sensitive|nhạy cảm REASON…]``."""
    folded = [fold(word) for word in words]
    for index, word in enumerate(folded):
        two = " ".join(folded[index : index + 2])
        width = 2 if two in SENSITIVE_WORDS else 1 if word in SENSITIVE_WORDS else 0
        if width:
            code = " ".join(words[:index]).strip() or None
            return ExportRequest(code, sensitive=True, reason=" ".join(words[index + width :]).strip())
    return ExportRequest(" ".join(words).strip() or None)


def _local(moment: dt.datetime | None) -> dt.datetime | None:
    # Excel has no time zones: write the time as it reads in Hà Nội.
    return moment.astimezone(LOCAL_TZ).replace(tzinfo=None) if moment else None


class _Sheet:
    """A write-only sheet with a bold header row, frozen below it; dates and shares formatted, text as text
    (:func:`rules.cells.put`: a name like "=1+1" never becomes a formula)."""

    def __init__(
        self,
        workbook: Workbook,
        title: str,
        headers: Sequence[str],
        widths: Sequence[int],
        *,
        hide: Collection[str] = (),
    ) -> None:
        self.sheet: WriteOnlyWorksheet = workbook.create_sheet(title[:31])
        # The columns written: all but those whose header is in ``hide`` (sensitive ones not asked for).
        self.keep = [index for index, text in enumerate(headers) if text not in hide]
        for place, index in enumerate(self.keep):
            self.sheet.column_dimensions[_column(place)].width = widths[index]
        self.sheet.freeze_panes = "A2"
        self.rows = 0
        header = []
        for text in (headers[index] for index in self.keep):
            cell = put(WriteOnlyCell(self.sheet), text)
            cell.font = BOLD
            header.append(cell)
        self.sheet.append(header)

    def append(self, values: Sequence[Any], *, shares: Iterable[int] = ()) -> None:
        share_columns = set(shares)
        row: list[Any] = []
        for index, value in ((index, values[index]) for index in self.keep):
            if value is None:
                row.append(None)
                continue
            cell = put(WriteOnlyCell(self.sheet), _local(value) if isinstance(value, dt.datetime) else value)
            if isinstance(value, dt.datetime):
                cell.number_format = DATE_FORMAT
            elif index in share_columns:
                cell.number_format = SHARE_FORMAT
            row.append(cell)
        self.sheet.append(row)
        self.rows += 1


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _ref(t: Translate, entries: RefList[Any], code: str | None) -> str | None:
    if not code:
        return None
    entry = entries.get(code)
    if entry is None:
        return code
    return str(entry.label_en if t.locale == "en" else entry.label)


def _label(t: Translate, labels: Mapping[str, str], code: str | None) -> str | None:
    if code is None:
        return None
    return t(labels[code]) if code in labels else code


def _yes_no(t: Translate, value: bool | None) -> str | None:
    return None if value is None else (t(N_("Yes")) if value else t(N_("No")))


async def _counts_by_nomination(session: AsyncSession, model: Any, ids: Sequence[int]) -> dict[int, int]:
    statement = (
        select(model.nomination_id, func.count())
        .join(Nomination, Nomination.id == model.nomination_id)
        .where(Nomination.conference_id.in_(ids))
        .group_by(model.nomination_id)
    )
    return {nomination_id: count for nomination_id, count in (await session.execute(statement)).all()}


def _hidden(t: Translate, sensitive: bool) -> set[str]:
    return set() if sensitive else {t(msgid) for msgid in SENSITIVE_COLUMNS}


async def _nominations_sheet(
    session: AsyncSession,
    workbook: Workbook,
    t: Translate,
    titles: dict[int, str],
    ids: Sequence[int],
    *,
    sensitive: bool,
) -> int:
    data = reference()
    headers = [
        t(N_("Code")),
        t(N_("Conference")),
        t(N_("Status")),
        t(N_("Unit")),
        t(N_("Sent by")),
        t(N_("Individual or collective")),
        t(N_("Nominee")),
        t(N_("Gender")),
        t(N_("Year of birth")),
        t(N_("Ethnic group")),
        t(N_("Religion")),
        t(N_("Occupation")),
        t(N_("Position")),
        t(N_("Workplace")),
        t(N_("Phone")),
        t(N_("Members (collective)")),
        t(N_("Economic sector")),
        t(N_("Title proposed")),
        t(N_("Movement")),
        t(N_("Other movement")),
        t(N_("Achievements")),
        t(N_("Consent to sensitive data")),
        t(N_("Consent to publicity")),
        t(N_("Legal basis")),
        t(N_("Endorsements")),
        t(N_("Evidence files")),
        t(N_("Sent in")),
        t(N_("Decided")),
        t(N_("Published")),
    ]
    widths = [
        14,
        30,
        18,
        28,
        18,
        12,
        26,
        8,
        8,
        12,
        14,
        20,
        24,
        28,
        14,
        10,
        16,
        24,
        26,
        20,
        60,
        10,
        10,
        12,
        10,
        10,
        16,
        16,
        16,
    ]
    sheet = _Sheet(workbook, t(N_("Nominations")), headers, widths, hide=_hidden(t, sensitive))
    endorsements = await _counts_by_nomination(session, Endorsement, ids)
    evidence = await _counts_by_nomination(session, Evidence, ids)
    statement = (
        select(Nomination, OrgUnit.name)
        .outerjoin(OrgUnit, OrgUnit.id == Nomination.unit_id)
        .where(Nomination.conference_id.in_(ids), Nomination.submitted_at.is_not(None))
        .order_by(Nomination.conference_id, Nomination.submitted_at, Nomination.id)
        .execution_options(yield_per=2000)
    )
    async for nomination, unit_name in await session.stream(statement):
        sheet.append(
            [
                nomination.code,
                titles.get(nomination.conference_id or 0),
                _label(t, NOMINATION_STATUS, nomination.status),
                unit_name,
                _label(t, SOURCES, nomination.source),
                _label(t, KINDS, nomination.kind),
                nomination.nominee_name,
                _ref(t, data.genders, nomination.gender),
                nomination.birth_year,
                _ref(t, data.ethnic_groups, nomination.ethnicity),
                _ref(t, data.religions, nomination.religion),
                _ref(t, data.occupation_groups, nomination.occupation_group),
                nomination.position,
                nomination.workplace,
                format_phone(nomination.phone_e164) or None,
                nomination.member_count,
                _ref(t, data.economic_sectors, nomination.economic_sector),
                _ref(t, data.titles, nomination.title_code),
                _ref(t, data.movements, nomination.movement_code),
                nomination.movement_other,
                nomination.achievements,
                _yes_no(t, nomination.sensitive_consent),
                _yes_no(t, nomination.publicity_consent),
                nomination.legal_basis,
                endorsements.get(nomination.id, 0),
                evidence.get(nomination.id, 0),
                nomination.submitted_at,
                nomination.decided_at,
                nomination.published_at,
            ]
        )
    return sheet.rows


async def _invitation_rows(session: AsyncSession, ids: Sequence[int], *, accepted_only: bool) -> list[Any]:
    statement = (
        select(Invitation, OrgUnit.name, Nomination.code)
        .outerjoin(OrgUnit, OrgUnit.id == Invitation.unit_id)
        .outerjoin(Nomination, Nomination.id == Invitation.nomination_id)
        .where(Invitation.conference_id.in_(ids))
    )
    if accepted_only:
        statement = statement.where(Invitation.status == invitations.Status.ACCEPTED)
    return list((await session.execute(statement)).all())


def _pool_order(statuses: Sequence[ConferenceStatus], locale: str) -> dict[tuple[int, str], tuple[int, str]]:
    return {
        (status.conference_id, pool.code): (index, pool.title_in(locale))
        for status in statuses
        for index, pool in enumerate(status.pools)
    }


def _sorted(
    rows: list[Any], conference_order: dict[int, int], pools: dict[tuple[int, str], tuple[int, str]]
) -> list[Any]:
    def key(row: Any) -> tuple[Any, ...]:
        invitation = row[0]
        pool = pools.get((invitation.conference_id, invitation.pool_code), (99, invitation.pool_code))
        return conference_order.get(invitation.conference_id, 0), pool[0], name_sort_key(invitation.full_name)

    return sorted(rows, key=key)


async def _delegates_sheet(
    session: AsyncSession,
    workbook: Workbook,
    t: Translate,
    titles: dict[int, str],
    statuses: Sequence[ConferenceStatus],
    *,
    sensitive: bool,
) -> int:
    data = reference()
    headers = [
        t(N_("Conference")),
        t(N_("Invitation no.")),
        t(N_("Pool")),
        t(N_("Status")),
        t(N_("Full name")),
        t(N_("Gender")),
        t(N_("Year of birth")),
        t(N_("Ethnic group")),
        t(N_("Religion")),
        t(N_("Occupation")),
        t(N_("Economic sector")),
        t(N_("Sector or field")),
        t(N_("Position")),
        t(N_("Unit")),
        t(N_("Phone")),
        t(N_("Nomination code")),
        t(N_("Answered")),
        t(N_("Reason for declining")),
        t(N_("Waiting list since")),
        t(N_("Check-in code")),
        t(N_("Checked in")),
    ]
    widths = [30, 8, 26, 20, 26, 8, 8, 12, 14, 20, 16, 16, 24, 28, 14, 14, 16, 30, 16, 12, 16]
    sheet = _Sheet(workbook, t(N_("Delegates")), headers, widths, hide=_hidden(t, sensitive))
    pools = _pool_order(statuses, t.locale)
    order = {status.conference_id: index for index, status in enumerate(statuses)}
    rows = _sorted(await _invitation_rows(session, list(order), accepted_only=False), order, pools)
    for invitation, unit_name, nomination_code in rows:
        sheet.append(
            [
                titles.get(invitation.conference_id),
                invitation.id,
                pools.get((invitation.conference_id, invitation.pool_code), (0, invitation.pool_code))[1],
                _label(t, INVITATION_STATUS_LABELS, invitation.status),
                invitation.full_name,
                _ref(t, data.genders, invitation.gender),
                invitation.birth_year,
                _ref(t, data.ethnic_groups, invitation.ethnicity),
                _ref(t, data.religions, invitation.religion),
                _ref(t, data.occupation_groups, invitation.occupation_group),
                _ref(t, data.economic_sectors, invitation.economic_sector),
                invitation.sector,
                invitation.position,
                unit_name,
                format_phone(invitation.phone_e164) or None,
                nomination_code,
                invitation.responded_at,
                invitation.decline_reason,
                invitation.waitlisted_at,
                invitation.checkin_code,
                invitation.checked_in_at,
            ]
        )
    return sheet.rows


async def _attendance_sheet(
    session: AsyncSession,
    workbook: Workbook,
    t: Translate,
    titles: dict[int, str],
    statuses: Sequence[ConferenceStatus],
) -> int:
    headers = [
        t(N_("Conference")),
        t(N_("Invitation no.")),
        t(N_("Full name")),
        t(N_("Pool")),
        t(N_("Unit")),
        t(N_("Position")),
        t(N_("Phone")),
        t(N_("Check-in code")),
        t(N_("Present")),
        t(N_("Checked in")),
    ]
    sheet = _Sheet(workbook, t(N_("Attendance")), headers, [30, 8, 26, 26, 28, 24, 14, 12, 10, 16])
    pools = _pool_order(statuses, t.locale)
    order = {status.conference_id: index for index, status in enumerate(statuses)}
    rows = _sorted(await _invitation_rows(session, list(order), accepted_only=True), order, pools)
    for invitation, unit_name, _code in rows:
        sheet.append(
            [
                titles.get(invitation.conference_id),
                invitation.id,  # the number every list prints, not a running count (see rules.exports)
                invitation.full_name,
                pools.get((invitation.conference_id, invitation.pool_code), (0, invitation.pool_code))[1],
                unit_name,
                invitation.position,
                format_phone(invitation.phone_e164) or None,
                invitation.checkin_code,
                _yes_no(t, invitation.checked_in_at is not None),
                invitation.checked_in_at,
            ]
        )
    return sheet.rows


def _target_text(t: Translate, share: float | None, comparison: str) -> str:
    if share is None:
        return t(N_("report only"))
    if comparison == "max":
        return t(N_("at most {share}"), share=f"{round(share * 100)}%")
    return t(N_("at least {share}"), share=f"{round(share * 100)}%")


def _gap_text(t: Translate, gap: int, comparison: str, met: bool | None) -> str | None:
    if met is None:
        return None
    if met:
        return t(N_("met"))
    if comparison == "max":
        return t(N_("{count} over"), count=gap)
    return t(N_("{count} short"), count=gap)


def _pool_rows(t: Translate, status: ConferenceStatus, pool: PoolStatus) -> list[Any]:
    if pool.seats is None:
        result = None
    elif pool.over:
        result = t(N_("{count} over"), count=pool.over)
    elif pool.gap:
        result = t(N_("{count} seats to fill"), count=pool.gap)
    else:
        result = t(N_("full"))
    target = _target_text(t, pool.share, pool.share_rule) if pool.share is not None else None
    return [
        status.title_in(t.locale),
        t(N_("Seats")),
        pool.title_in(t.locale),
        pool.accepted,
        pool.seats,
        pool.fill_rate,
        target,
        result,
        None,
    ]


def _balance_rows(t: Translate, status: ConferenceStatus, line: BalanceLine, youth: YouthBand) -> list[list[Any]]:
    group = t(N_("Balance"))
    label = dimension_label(t, line, youth)
    target = _target_text(t, line.target_share, line.comparison)
    if not line.is_spread:
        result = _gap_text(t, line.gap, line.comparison, line.met)
        return [
            [
                status.title_in(t.locale),
                group,
                label,
                line.count,
                line.accepted,
                line.share,
                target,
                result,
                line.unknown,
            ]
        ]
    rows = []
    for value, count in line.spread:
        item = t(N_("{dimension}: {value}"), dimension=label, value=value_label(t, line.dimension, value))
        share = count / line.accepted if line.accepted else None
        rows.append([status.title_in(t.locale), group, item, count, line.accepted, share, target, None, None])
    if line.unknown:
        item = t(N_("{dimension}: not recorded"), dimension=label)
        rows.append([status.title_in(t.locale), group, item, line.unknown, line.accepted, None, None, None, None])
    return rows


def _balance_sheet(workbook: Workbook, t: Translate, statuses: Sequence[ConferenceStatus]) -> int:
    headers = [
        t(N_("Conference")),
        t(N_("Group")),
        t(N_("Item")),
        t(N_("Count")),
        t(N_("Out of")),
        t(N_("Share")),
        t(N_("Target")),
        t(N_("Result")),
        t(N_("Not recorded")),
    ]
    sheet = _Sheet(workbook, t(N_("Balance")), headers, [30, 12, 40, 10, 10, 10, 14, 16, 12])
    for status in statuses:
        for pool in status.pools:
            sheet.append(_pool_rows(t, status, pool), shares=[5])
        for line in status.balance:
            for row in _balance_rows(t, status, line, status.youth):
                sheet.append(row, shares=[5])
    return sheet.rows


def _units_sheet(workbook: Workbook, t: Translate, statuses: Sequence[ConferenceStatus]) -> int:
    """Each unit's nominations to each conference, counted as /status, the digest and the reminders count
    them (``rules.counts``): the sent ones naming the unit, whoever sent them, and of those the ones its
    focal point sent, which use its allowance."""
    headers = [
        t(N_("Conference")),
        t(N_("Unit")),
        t(N_("Nominations")),
        t(N_("Expected")),
        t(N_("Still missing")),
        t(N_("Approved")),
        t(N_("Sent by the unit itself")),
        t(N_("Allowance")),
        t(N_("Sent by others")),
    ]
    sheet = _Sheet(workbook, t(N_("Units")), headers, [30, 40, 12, 10, 10, 10, 14, 10, 12])
    for status in statuses:
        for unit in status.nominations.units:
            sheet.append(
                [
                    status.title_in(t.locale),
                    unit.name,
                    unit.sent,
                    unit.expected,
                    unit.missing if unit.expected else None,
                    unit.approved,
                    unit.by_focal_point,
                    unit.allowance,
                    unit.from_others,
                ]
            )
    return sheet.rows


async def build_export(
    session: AsyncSession,
    conferences: Sequence[Conference],
    *,
    t: Translate,
    actor_id: Actor | None,
    now: dt.datetime,
    youth: YouthBand | None = None,
    sensitive_reason: str | None = None,
) -> Export | NotAllowed:
    """The workbook of ``conferences`` for an organiser (checked now, in the database), and an audit entry
    saying who exported what. Ethnicity and religion are in it only with a ``sensitive_reason`` (the
    organiser asked for them and said why); the reason is in the audit entry. Phones are in full: this is
    the organisers' own list."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    today = now.astimezone(LOCAL_TZ).date()
    statuses = [
        found
        for conference in conferences
        if (found := await conference_status(session, conference.id, today=today, youth=youth)) is not None
    ]
    titles = {status.conference_id: status.title_in(t.locale) for status in statuses}
    ids = list(titles)
    sensitive = bool(sensitive_reason)
    workbook = Workbook(write_only=True)
    rows = {
        "nominations": await _nominations_sheet(session, workbook, t, titles, ids, sensitive=sensitive),
        "delegates": await _delegates_sheet(session, workbook, t, titles, statuses, sensitive=sensitive),
        "attendance": await _attendance_sheet(session, workbook, t, titles, statuses),
        "units": _units_sheet(workbook, t, statuses),
        "balance": _balance_sheet(workbook, t, statuses),
    }
    buffer = io.BytesIO()
    workbook.save(buffer)
    codes = [status.code for status in statuses]
    suffix = f"-{codes[0]}" if len(codes) == 1 else ""
    session.add(
        AuditEntry(
            at=now,
            actor_id=audit_actor(actor_id),
            action="status.export",
            entity="conference",
            entity_id=",".join(str(i) for i in ids)[:64] or None,
            # What personal data left the system in this file, and why the sensitive part did.
            detail={
                "conferences": codes,
                "rows": rows,
                "phones": True,
                "sensitive_fields": ["ethnicity", "religion"] if sensitive else [],
                "sensitive_reason": sensitive_reason if sensitive else None,
            },
        )
    )
    await session.flush()
    return Export(buffer.getvalue(), f"dienhinh-{today:%Y%m%d}{suffix}.xlsx", rows, sensitive)
