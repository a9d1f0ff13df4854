"""Excel files for organisers: the invitations with personal links and QR codes, and the attendance list.

Bots cannot write to people first, so units hand each delegate their personal link (or its QR code,
printed) from :func:`invitations_workbook`. :func:`attendance_workbook` is the customary "danh sách trích
ngang" of the delegates who accepted, in Vietnamese name order, with a column to sign and the check-ins
marked. Both hold personal data (the attendance list holds ethnicity, which is sensitive under Decree
13/2023/NĐ-CP): only organisers may export them, and every export is written to the audit log.

This layer has no translator of its own: the caller passes :class:`Labels` (a ``bot.i18n.Translator``
fits) in the language the file is for.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import matplotlib
import qrcode
from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.drawing.image import Image
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rules.accounts import acting
from rules.cells import put
from rules.delegates import STATUS_LABELS, unit_names
from rules.i18n import N_
from rules.invitations import Status, invitation_code, invitation_link
from rules.refdata import RefList, reference
from rules.roles import Actor, NotAllowed, Role, audit_actor
from rules.text import name_sort_key, sort_key
from storage.models import AuditEntry, Conference, Invitation, SeatPool

# Invitations whose links units hand out: everyone who may still answer (a declined delegate may change
# their mind). Withdrawn, replaced and proposed (not yet approved) ones are left out.
HANDED_OUT = (Status.PENDING, Status.ACCEPTED, Status.WAITLISTED, Status.DECLINED)
QR_PIXELS = 150  # the width of each QR (with its name and code under it) on the sheet
_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="center")
_CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)

# The first column of both files is the invitation's number, not a running count: it stays the same in
# every list and every export, so it can be read out and typed (/checkin 42, /override 42 …).
INVITATION_COLUMNS: tuple[tuple[str, int], ...] = (
    (N_("Invitation no."), 8),
    (N_("Full name"), 26),
    (N_("Unit"), 30),
    (N_("Delegate group"), 24),
    (N_("Status"), 16),
    (N_("Personal link"), 44),
    (N_("Invitation code"), 13),
    (N_("QR code"), 23),
)
ATTENDANCE_COLUMNS: tuple[tuple[str, int], ...] = (
    (N_("Invitation no."), 8),
    (N_("Full name"), 24),
    (N_("Birth year"), 8),
    (N_("Gender"), 8),
    (N_("Ethnicity"), 10),
    (N_("Unit"), 28),
    (N_("Position"), 24),
    (N_("Category"), 18),
    (N_("Signature"), 14),
    (N_("Notes"), 14),
)
# Sensitive personal data (Law 91/2025/QH15): in the list only when an organiser asks, with a reason.
ATTENDANCE_SENSITIVE = frozenset({N_("Ethnicity")})


class Labels(Protocol):
    """Translates msgids and formats dates for the file's reader (``bot.i18n.Translator`` fits)."""

    @property
    def locale(self) -> str: ...

    def __call__(self, msgid: str, /, **values: object) -> str: ...

    def date(self, day: dt.date | dt.datetime, form: str = "long") -> str: ...

    def time(self, moment: dt.datetime) -> str: ...

    def quarter(self, day: dt.date | dt.datetime) -> str: ...


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as PNG bytes."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=4, border=2)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


@functools.cache
def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans, which covers Vietnamese and ships with matplotlib (no system font needed)."""
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)


def _fit_lines(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """``text`` in at most two lines of ``width`` pixels, cut with "…" when even that is too little."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and draw.textlength(trial, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    lines.append(current)
    if len(lines) > 2:
        lines = [lines[0], " ".join(lines[1:])]
    if draw.textlength(lines[-1], font=font) > width:
        last = lines[-1]
        while last and draw.textlength(last + "…", font=font) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


def labelled_qr_png(text: str, name: str, code: str) -> bytes:
    """A QR code of ``text`` with ``name`` (up to two lines) and ``code`` printed under it, as PNG bytes.

    For the sheet units print and cut out: each square says whose it is and carries the code to type where
    the QR cannot be scanned. Drawn large (8 pixels a module) so it prints sharp when scaled down.
    """
    code_image = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    code_image.add_data(text)
    code_image.make(fit=True)
    square = code_image.make_image().get_image().convert("L")
    width = square.width
    margin = 8
    name_font, code_font = _font(22), _font(26, bold=True)
    measure = ImageDraw.Draw(square)
    name_lines = _fit_lines(measure, name, name_font, width - 2 * margin)
    line_height = 28
    # Room for two lines of name whatever the name: every square of the sheet has the same size.
    height = square.height + line_height * 2 + 36 + margin
    canvas = PILImage.new("L", (width, height), 255)
    canvas.paste(square, (0, 0))
    draw = ImageDraw.Draw(canvas)
    y = square.height
    for line in name_lines:
        draw.text((width / 2, y), line, font=name_font, fill=0, anchor="ma")
        y += line_height
    draw.text((width / 2, y + 4), code, font=code_font, fill=0, anchor="ma")
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _ref_label(entries: RefList[Any], code: str | None, locale: str) -> str:
    if not code:
        return ""
    entry = entries.get(code)
    if entry is None:
        return code
    return str(entry.label_en if locale == "en" else entry.label)


def _cell(sheet: Worksheet, row: int, column: int, value: Any) -> Cell:
    # Every value goes through rules.cells.put: a name or a position like "=1+1" stays text.
    cell = sheet.cell(row=row, column=column)
    assert isinstance(cell, Cell)  # a merged range is written through its first cell only
    return put(cell, value)


def _header(sheet: Worksheet, row: int, columns: Sequence[tuple[str, int]], labels: Labels) -> None:
    for index, (msgid, width) in enumerate(columns, start=1):
        cell = _cell(sheet, row, index, labels(msgid))
        cell.font = Font(bold=True)
        cell.alignment = _CENTRE
        cell.border = _BOX
        sheet.column_dimensions[get_column_letter(index)].width = width


def _title(sheet: Worksheet, row: int, text: str, columns: int, *, size: int = 13, bold: bool = True) -> None:
    sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=columns)
    cell = _cell(sheet, row, 1, text)
    cell.font = Font(bold=bold, italic=not bold, size=size)
    cell.alignment = _CENTRE


def _print_setup(sheet: Worksheet, header_row: int, *, landscape: bool) -> None:
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape" if landscape else "portrait"
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.freeze_panes = f"A{header_row + 1}"


def _bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _audit(
    session: AsyncSession, action: str, conference: Conference, actor_id: int | None, now: dt.datetime, **detail: Any
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_id=actor_id,
            action=action,
            entity="conference",
            entity_id=str(conference.id),
            detail={"conference": conference.code, **detail},
        )
    )


def conference_when(conference: Conference, labels: Labels) -> str | None:
    """When the conference takes place, as a reader expects it: its date, else the quarter or the deadline."""
    if conference.starts_at is not None:
        return labels.date(conference.starts_at)
    if conference.window_start is not None:
        return labels.quarter(conference.window_start)
    if conference.window_end is not None:
        return labels(N_("before {date}"), date=labels.date(conference.window_end))
    return None


# --- the invitations and their links -------------------------------------------------------------------


async def handed_out(session: AsyncSession, conference_id: int) -> tuple[list[Invitation], dict[int, str]]:
    """The invitations of a conference whose links units hand out, by unit (those without one last) then
    name, and the names of their units by id."""
    invitations = list(
        (
            await session.scalars(
                select(Invitation).where(Invitation.conference_id == conference_id, Invitation.status.in_(HANDED_OUT))
            )
        ).all()
    )
    units = await unit_names(session, (invitation.unit_id for invitation in invitations))
    invitations.sort(key=lambda item: (sort_key(units.get(item.unit_id or 0, "\uffff")), name_sort_key(item.full_name)))
    return invitations, units


async def invitations_workbook(
    session: AsyncSession,
    conference_id: int,
    *,
    labels: Labels,
    secret: bytes,
    bot_username: str,
    actor_id: Actor | None,
    now: dt.datetime,
) -> bytes | NotAllowed | None:
    """An XLSX of everyone invited (by unit, then name): pool, status, personal link, the invitation code
    that stands for it where links do not work (Zalo, paper read over the phone) and the link's QR code.

    One sheet with a column for the delegate group, so a unit finds all its people together; printed on
    A4 with the header repeated on each page. Organisers only (every personal link is in it); None when
    nobody is invited yet. Audited.
    """
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get_one(Conference, conference_id)
    invitations, units = await handed_out(session, conference_id)
    if not invitations:
        return None
    pools = {
        pool.code: pool.title
        for pool in await session.scalars(select(SeatPool).where(SeatPool.conference_id == conference_id))
    }

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = labels(N_("Invitations"))[:31]
    width = len(INVITATION_COLUMNS)
    _title(sheet, 1, labels(N_("INVITATIONS TO {title}"), title=conference.title.upper()), width)
    _title(
        sheet,
        2,
        labels(
            N_(
                "Each delegate opens their own link, scans their QR code or types their invitation code (on "
                "Telegram or Zalo) to answer the invitation."
            )
        ),
        width,
        size=11,
        bold=False,
    )
    header_row = 4
    _header(sheet, header_row, INVITATION_COLUMNS, labels)
    for index, invitation in enumerate(invitations, start=1):
        row = header_row + index
        link = invitation_link(invitation, secret, bot_username)
        code = invitation_code(invitation, secret)
        values: tuple[Any, ...] = (
            invitation.id,
            invitation.full_name,
            units.get(invitation.unit_id or 0, ""),
            pools.get(invitation.pool_code, invitation.pool_code),
            labels(STATUS_LABELS[invitation.status]) if invitation.status in STATUS_LABELS else invitation.status,
            link,
            code,
        )
        for column, value in enumerate(values, start=1):
            cell = _cell(sheet, row, column, value)
            cell.alignment = _CENTRE if column == 1 else _WRAP
            cell.border = _BOX
        sheet.cell(row=row, column=6).hyperlink = link
        sheet.cell(row=row, column=7).font = Font(bold=True)
        sheet.cell(row=row, column=8).border = _BOX
        png = labelled_qr_png(link, invitation.full_name, code)
        image = Image(io.BytesIO(png))
        image.height = round(QR_PIXELS * image.height / image.width)
        image.width = QR_PIXELS
        sheet.add_image(image, f"H{row}")
        sheet.row_dimensions[row].height = image.height * 0.75 + 6  # points
    _print_setup(sheet, header_row, landscape=True)
    _audit(session, "export.invitations", conference, audit_actor(actor_id), now, rows=len(invitations))
    return _bytes(workbook)


# --- the attendance list ("danh sách trích ngang") -----------------------------------------------------


async def attendance_workbook(
    session: AsyncSession,
    conference_id: int,
    *,
    labels: Labels,
    actor_id: Actor | None,
    now: dt.datetime,
    sensitive_reason: str | None = None,
) -> bytes | NotAllowed | None:
    """The "danh sách trích ngang" of the delegates who accepted, in Vietnamese name order.

    A title naming the conference, its date, then Số giấy mời (the invitation's number, as every list
    prints it), Họ và tên, Năm sinh, Giới tính, Dân tộc (only with a ``sensitive_reason``: the organiser
    asked for it and said why), Đơn vị, Chức vụ, Thành phần (the occupation group; empty when it is not
    known), Ký tên, and a note for those checked in; a total at the end. Organisers only; None when nobody
    has accepted. Audited, with what sensitive data it holds and why.
    """
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get_one(Conference, conference_id)
    delegates = list(
        (
            await session.scalars(
                select(Invitation).where(
                    Invitation.conference_id == conference_id, Invitation.status == Status.ACCEPTED
                )
            )
        ).all()
    )
    if not delegates:
        return None
    delegates.sort(key=lambda item: name_sort_key(item.full_name))
    units = await unit_names(session, (delegate.unit_id for delegate in delegates))
    data = reference()
    locale = labels.locale

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = labels(N_("Attendance list"))[:31]
    keep = [
        index
        for index, (msgid, _width) in enumerate(ATTENDANCE_COLUMNS)
        if sensitive_reason or msgid not in ATTENDANCE_SENSITIVE
    ]
    columns = [ATTENDANCE_COLUMNS[index] for index in keep]
    width = len(columns)
    _title(sheet, 1, labels(N_("LIST OF DELEGATES ATTENDING {title}"), title=conference.title.upper()), width, size=14)
    when = conference_when(conference, labels)
    if when:
        _title(sheet, 2, labels(N_("Date: {date}"), date=when), width, size=11, bold=False)
    if conference.venue:
        _title(sheet, 3, labels(N_("Venue: {venue}"), venue=conference.venue), width, size=11, bold=False)
    header_row = 5
    _header(sheet, header_row, columns, labels)
    checked_in = 0
    for index, delegate in enumerate(delegates, start=1):
        row = header_row + index
        note = ""
        if delegate.checked_in_at is not None:
            checked_in += 1
            note = labels(N_("Checked in at {time}"), time=labels.time(delegate.checked_in_at))
        # Thành phần is the person's social group; the delegate group (exemplar, guest) is not one of them.
        category = _ref_label(data.occupation_groups, delegate.occupation_group, locale)
        values: tuple[Any, ...] = (
            delegate.id,
            delegate.full_name,
            delegate.birth_year,
            _ref_label(data.genders, delegate.gender, locale),
            _ref_label(data.ethnic_groups, delegate.ethnicity, locale),
            units.get(delegate.unit_id or 0, ""),
            delegate.position or "",
            category,
            "",
            note,
        )
        for column, value in enumerate((values[index] for index in keep), start=1):
            cell = _cell(sheet, row, column, value)
            cell.alignment = _CENTRE if column in (1, 3, 4) else _WRAP
            cell.border = _BOX
        sheet.row_dimensions[row].height = 30
    total_row = header_row + len(delegates) + 2
    total = labels(
        N_("Total: {count} delegates; checked in: {checked_in}"), count=len(delegates), checked_in=checked_in
    )
    _cell(sheet, total_row, 2, total).font = Font(bold=True)
    _print_setup(sheet, header_row, landscape=True)
    _audit(
        session,
        "export.attendance",
        conference,
        audit_actor(actor_id),
        now,
        rows=len(delegates),
        sensitive=["ethnicity"] if sensitive_reason else [],
        sensitive_reason=sensitive_reason or None,
    )
    return _bytes(workbook)


__all__ = [
    "ATTENDANCE_COLUMNS",
    "HANDED_OUT",
    "INVITATION_COLUMNS",
    "Labels",
    "attendance_workbook",
    "conference_when",
    "handed_out",
    "invitations_workbook",
    "labelled_qr_png",
    "qr_png",
]
