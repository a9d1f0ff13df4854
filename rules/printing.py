"""Printed invitations (giấy mời): one A4 letter per delegate, as a Vietnamese office sends them.

Bots cannot write to people first, so units hand each delegate their invitation. Besides the Excel list
(``rules.exports.invitations_workbook``), organisers can print the letters themselves: the organising
body on the left and the national motto on the right, the place and date line, "GIẤY MỜI", "Kính gửi
ông/bà …" (by the gender on record, else "ông/bà"), the conference's time, place and what to bring, the
QR code of the personal link and the typed invitation code, "Trân trọng kính mời ông/bà đến dự" and the
signature block (the plan's ``letter`` section, ``rules.plans.LetterSpec``).

Two steps, so the heavy part runs off the event loop: :func:`invitation_letters` reads the database in the
caller's transaction (organisers only; audited, as every list of personal links is) and returns
:class:`Letters`, every text already in the reader's language; :func:`bundle` then draws the PDFs (and the
QR codes) from those plain values, in a worker thread or at the command line. One PDF per delegate, or one
PDF per unit with a page per delegate for the unit to print; several files come in one ZIP. The letters
are drawn in one document and cut into files with pypdf: about 25 ms a letter, 300 letters in seconds.

The font is DejaVu Sans, which matplotlib ships: it covers Vietnamese, and needs no system package.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Protocol

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from pypdf import PdfReader, PdfWriter
from sqlalchemy.ext.asyncio import AsyncSession

from rules.accounts import acting
from rules.address import closing, salutation
from rules.exports import Labels as ListLabels
from rules.exports import conference_when, handed_out, qr_png
from rules.files import safe_filename
from rules.i18n import N_
from rules.invitations import invitation_code, invitation_link
from rules.roles import Actor, NotAllowed, Role, audit_actor
from rules.text import nfc
from storage.models import AuditEntry, Campaign, Conference

PDF = "application/pdf"
ZIP = "application/zip"
FONT_FAMILY = "DejaVu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}

# The national motto (quốc hiệu and tiêu ngữ) is the same on every Vietnamese official letter, in
# whatever language the rest is: it is not translated.
MOTTO = ("CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập – Tự do – Hạnh phúc")

# A4 in millimetres, with the margins of Decree 30/2020/NĐ-CP (left 30, right 15–20, top and bottom 20).
PAGE_WIDTH = 210.0
LEFT = 30.0
RIGHT = 15.0
TOP = 18.0
TEXT_WIDTH = PAGE_WIDTH - LEFT - RIGHT
QR_SIZE = 36.0


class Labels(ListLabels, Protocol):
    """What the letters are written with (``bot.i18n.Translator`` fits): the lists' labels, and the
    reader's local time, to date the letter."""

    def local(self, moment: dt.datetime) -> dt.datetime: ...


class Per(StrEnum):
    """How the letters are put into files: one PDF per delegate, or one per unit."""

    PERSON = "person"
    UNIT = "unit"


@dataclass(frozen=True)
class Letter:
    """One delegate's invitation, every text in the reader's language; ``link`` is what the QR code holds."""

    unit: str  # the unit's name, "" without one: the letters are grouped by it
    name: str
    person_file: str  # "Giấy mời – Nguyễn Văn An.pdf"
    unit_file: str  # "Giấy mời – Phường Bưởi.pdf"
    header: tuple[str, ...]  # the organising body, top left, in capitals (the body above it first)
    number: str | None  # "Số: ……/GM-UBND"
    date_line: str  # "Tây Hồ, ngày 02 tháng 12 năm 2026"
    heading: str  # "GIẤY MỜI"
    subject: str  # the conference's title
    salutation: str  # "Kính gửi: Ông Nguyễn Văn An"
    addressee: str | None  # position and unit
    body: str
    details: tuple[tuple[str, str], ...]  # (label, value): time, place, what to bring
    answer: str  # how to answer (scan the QR code, or type the code)
    code_line: str  # "Mã mời: K7M2-Q9XD"
    link: str
    closing: str  # "Trân trọng kính mời ông đến dự./."
    signer_title: tuple[str, ...]
    signer_name: str | None
    recipients: tuple[str, ...]  # "Nơi nhận:", "- Như trên;", "- Lưu: VT."


@dataclass(frozen=True)
class Letters:
    """Every letter of one conference, by unit then name, and the names of the files they go into."""

    conference_code: str
    conference_title: str
    letters: tuple[Letter, ...]
    person_archive: str  # "giay-moi-district.zip"
    unit_archive: str  # "giay-moi-theo-don-vi-district.zip"

    @property
    def units(self) -> int:
        return len({letter.unit for letter in self.letters})


@dataclass(frozen=True)
class PrintedFile:
    """A file to send or write: its name, bytes and content type, and how many files it holds."""

    filename: str
    data: bytes
    content_type: str
    files: int


# --- the texts -----------------------------------------------------------------------------------------


def date_line(labels: Labels, place: str | None, day: dt.date) -> str:
    """``Tây Hồ, ngày 02 tháng 12 năm 2026``: a day below 10 and the months 1 and 2 with a leading zero, as
    Decree 30/2020/NĐ-CP writes dates on letters."""
    values = {
        "day": f"{day.day:02d}",
        "month": f"{day.month:02d}" if day.month < 3 else str(day.month),
        "year": str(day.year),
    }
    if place:
        return labels(N_("{place}, {day}/{month}/{year}"), place=place, **values)
    return labels(N_("Date: {day}/{month}/{year}"), **values)


def _moment(labels: Labels, moment: dt.datetime) -> str:
    return labels(N_("{time}, {date}"), time=labels.time(moment), date=labels.date(moment, "full"))


def when_text(labels: Labels, conference: Conference) -> str:
    """When the conference is held, as the letter says it: ``08:00 đến 12:00, Thứ Năm, ngày 25 tháng 6 năm 2020``,
    or the period the plan gives while the day is not fixed yet."""
    if conference.starts_at is not None:
        start = conference.starts_at
        if conference.duration_minutes:
            end = start + dt.timedelta(minutes=conference.duration_minutes)
            return labels(
                N_("{start} to {end}, {date}"),
                start=labels.time(start),
                end=labels.time(end),
                date=labels.date(start, "full"),
            )
        return _moment(labels, start)
    period = conference_when(conference, labels)
    if period is None:
        return labels(N_("to be announced"))
    return labels(N_("{period} (the day will be announced)"), period=period)


def _details(labels: Labels, conference: Conference) -> tuple[tuple[str, str], ...]:
    details = [
        (labels(N_("Time:")), when_text(labels, conference)),
        (labels(N_("Place:")), conference.venue or labels(N_("to be announced"))),
    ]
    if conference.what_to_bring:
        details.append((labels(N_("Please bring:")), conference.what_to_bring))
    return tuple(details)


def _answer(labels: Labels, conference: Conference) -> str:
    if conference.rsvp_deadline is not None:
        return labels(
            N_(
                "Please let us know whether you will attend before {deadline}: scan the QR code with your phone, "
                "or send the invitation code to the organisers' chatbot on Telegram or Zalo."
            ),
            deadline=_moment(labels, conference.rsvp_deadline),
        )
    return labels(
        N_(
            "Please let us know whether you will attend: scan the QR code with your phone, or send the "
            "invitation code to the organisers' chatbot on Telegram or Zalo."
        )
    )


def _header(campaign: Campaign) -> tuple[str, ...]:
    letter = campaign.letter or {}
    lines = [letter.get("parent_body"), campaign.issuer]
    return tuple(str(line).upper() for line in lines if line)


def _file_name(labels: Labels, who: str) -> str:
    return safe_filename(labels(N_("Invitation – {name}.pdf"), name=who))


# --- reading the database ------------------------------------------------------------------------------


async def invitation_letters(
    session: AsyncSession,
    conference_id: int,
    *,
    labels: Labels,
    secret: bytes,
    bot_username: str,
    actor_id: Actor | None,
    now: dt.datetime,
) -> Letters | NotAllowed | None:
    """The invitations to print for everyone whose link units hand out (as in the Excel list), by unit
    then name. Organisers only (every personal link is in them); None when nobody is invited yet. Audited.
    ``now`` dates the letters (in the reader's time zone)."""
    if await acting(session, actor_id, Role.ORGANISER) is None:
        return NotAllowed(Role.ORGANISER)
    conference = await session.get_one(Conference, conference_id)
    campaign = await session.get_one(Campaign, conference.campaign_id)
    invitations, units = await handed_out(session, conference_id)
    if not invitations:
        return None

    letter = campaign.letter or {}
    issuer = campaign.issuer or labels(N_("The organising committee"))
    number = labels(N_("No.: ……{number}"), number=letter["number"]) if letter.get("number") else None
    signer_title = tuple(letter.get("signer_title") or (labels(N_("ON BEHALF OF THE ORGANISING COMMITTEE")),))
    today = labels.local(now).date()
    common = {
        "header": _header(campaign) or (issuer.upper(),),
        "number": number,
        "date_line": date_line(labels, letter.get("place"), today),
        "heading": labels(N_("INVITATION")),
        "subject": conference.title,
        "body": labels(N_("{issuer} holds the {title}."), issuer=issuer, title=conference.title),
        "details": _details(labels, conference),
        "answer": _answer(labels, conference),
        "signer_title": signer_title,
        "signer_name": letter.get("signer_name"),
        "recipients": (labels(N_("Recipients:")), labels(N_("- As above;")), labels(N_("- Filed: records office."))),
    }
    no_unit = labels(N_("Without a unit"))
    letters = []
    for invitation in invitations:
        unit = units.get(invitation.unit_id or 0, "")
        about = ", ".join(part for part in (invitation.position, unit) if part)
        letters.append(
            Letter(
                unit=unit,
                name=invitation.full_name,
                person_file=_file_name(labels, invitation.full_name),
                unit_file=_file_name(labels, unit or no_unit),
                salutation=salutation(labels, invitation.gender, invitation.full_name),
                addressee=about or None,
                code_line=labels(N_("Invitation code: {code}"), code=invitation_code(invitation, secret)),
                link=invitation_link(invitation, secret, bot_username),
                closing=closing(labels, invitation.gender),
                **common,  # type: ignore[arg-type]
            )
        )
    session.add(
        AuditEntry(
            at=now,
            actor_id=audit_actor(actor_id),
            action="export.invitation_letters",
            entity="conference",
            entity_id=str(conference.id),
            detail={"conference": conference.code, "rows": len(letters)},
        )
    )
    return Letters(
        conference_code=conference.code,
        conference_title=conference.title,
        letters=tuple(letters),
        person_archive=safe_filename(labels(N_("invitations-{code}.zip"), code=conference.code)),
        unit_archive=safe_filename(labels(N_("invitations-by-unit-{code}.zip"), code=conference.code)),
    )


# --- drawing -------------------------------------------------------------------------------------------


@cache
def font_dir() -> Path:
    """Where matplotlib keeps DejaVu Sans (it covers Vietnamese)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


class _Document(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_margins(LEFT, TOP, RIGHT)
        self.set_auto_page_break(auto=True, margin=15)
        for style, file in _FONT_FILES.items():
            self.add_font(FONT_FAMILY, style, str(font_dir() / file))
        self.set_creator("dienhinh")

    def lines(self, x: float, width: float, texts: Sequence[str], size: float, style: str = "") -> float:
        """``texts`` centred in the column at ``x``; returns where it ended."""
        self.set_font(FONT_FAMILY, style, size)
        for text in texts:
            self.set_x(x)
            self.multi_cell(width, size * 0.45, text, align=Align.C, new_x=XPos.LEFT, new_y=YPos.NEXT)
        return self.get_y()

    def keep_room(self, height: float) -> None:
        """A new page unless ``height`` millimetres are left on this one (a block that must stay whole)."""
        if self.get_y() + height > self.h - self.b_margin:
            self.add_page()

    def rule(self, x: float, width: float, length: float, y: float) -> None:
        middle = x + width / 2
        self.set_line_width(0.3)
        self.line(middle - length / 2, y, middle + length / 2, y)

    def paragraph(self, text: str, size: float = 12, style: str = "", *, indent: float = 0) -> None:
        self.set_font(FONT_FAMILY, style, size)
        self.set_x(LEFT + indent)
        self.multi_cell(TEXT_WIDTH - indent, size * 0.5, text, align=Align.J, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _draw(document: _Document, letter: Letter) -> None:
    document.add_page()
    document.set_title(nfc(letter.heading))
    # The organising body (left) and the national motto (right), each centred in its column.
    left_x, left_w = LEFT - 12, 78.0
    right_x, right_w = 98.0, PAGE_WIDTH - RIGHT - 98.0 + 6
    top = document.get_y()
    *above, issuer = letter.header
    end_left = document.lines(left_x, left_w, above, 11) if above else top
    end_left = document.lines(left_x, left_w, [issuer], 11, "B")
    document.rule(left_x, left_w, 22, end_left + 1)
    if letter.number:
        document.set_y(end_left + 3)
        end_left = document.lines(left_x, left_w, [letter.number], 11)
    document.set_y(top)
    end_right = document.lines(right_x, right_w, [MOTTO[0]], 11, "B")
    end_right = document.lines(right_x, right_w, [MOTTO[1]], 12, "B")
    document.rule(right_x, right_w, 58, end_right + 1)
    document.set_y(end_right + 4)
    end_right = document.lines(right_x, right_w, [letter.date_line], 11, "I")

    document.set_y(max(end_left, end_right) + 10)
    document.lines(LEFT, TEXT_WIDTH, [letter.heading], 16, "B")
    document.ln(1)
    document.lines(LEFT, TEXT_WIDTH, [letter.subject], 13, "B")
    document.ln(7)

    document.paragraph(letter.salutation, 13, "B", indent=20)
    if letter.addressee:
        document.paragraph(letter.addressee, 12, indent=20)
    document.ln(5)
    document.paragraph(letter.body)
    document.ln(2)
    for label, value in letter.details:
        document.set_font(FONT_FAMILY, "B", 12)
        document.set_x(LEFT + 8)
        document.cell(document.get_string_width(label) + 2, 6, label)
        document.set_font(FONT_FAMILY, "", 12)
        document.multi_cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        document.ln(1)
    document.ln(3)

    # How to answer on the left, the QR code and the typed code on the right.
    document.keep_room(QR_SIZE + 8)
    top = document.get_y()
    qr_x = PAGE_WIDTH - RIGHT - QR_SIZE
    document.image(io.BytesIO(qr_png(letter.link)), x=qr_x, y=top, w=QR_SIZE, h=QR_SIZE)
    document.set_font(FONT_FAMILY, "", 12)
    document.set_xy(LEFT, top + 2)
    document.multi_cell(qr_x - LEFT - 6, 6, letter.answer, align=Align.J, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    document.ln(2)
    document.set_font(FONT_FAMILY, "B", 14)
    document.set_x(LEFT)
    document.cell(qr_x - LEFT - 6, 8, letter.code_line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    document.set_y(max(document.get_y(), top + QR_SIZE) + 6)

    document.paragraph(letter.closing, 12, "B")
    document.ln(6)

    # Who it goes to (left, small) and the signature block (right).
    document.keep_room(45)
    top = document.get_y()
    document.set_font(FONT_FAMILY, "B", 10)
    document.set_xy(LEFT, top)
    first, *rest = letter.recipients
    document.cell(60, 5, first, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    document.set_font(FONT_FAMILY, "", 10)
    for line in rest:
        document.set_x(LEFT)
        document.cell(60, 5, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    sign_x, sign_w = 105.0, PAGE_WIDTH - RIGHT - 105.0
    document.set_y(top)
    end = document.lines(sign_x, sign_w, letter.signer_title, 12, "B")
    if letter.signer_name:
        document.set_y(end + 24)
        document.lines(sign_x, sign_w, [letter.signer_name], 12, "B")


def render_pdf(letters: Sequence[Letter]) -> bytes:
    """One PDF with a page per letter (A4)."""
    return _render(letters)[0]


def _render(letters: Sequence[Letter]) -> tuple[bytes, list[range]]:
    """One PDF of all the letters, and the pages (from 0) of each: a letter runs onto a second page when
    its texts are long."""
    document = _Document()
    pages = []
    for letter in letters:
        first = document.page_no()
        _draw(document, letter)
        pages.append(range(first, document.page_no()))
    return bytes(document.output()), pages


def _extract(reader: PdfReader, pages: Sequence[range]) -> bytes:
    """The ``pages`` of a drawn PDF as a PDF of their own (the fonts go with them)."""
    writer = PdfWriter()
    for span in pages:
        for index in span:
            writer.add_page(reader.pages[index])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _unique(names: Sequence[str]) -> list[str]:
    """File names for a ZIP, two people of the same name told apart: ``… (2).pdf``."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        key = unicodedata.normalize("NFC", name).casefold()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            stem, dot, extension = name.rpartition(".")
            name = f"{stem} ({seen[key]}){dot}{extension}"
        unique.append(name)
    return unique


def _zip(files: Sequence[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            archive.writestr(name, data)
    return buffer.getvalue()


def files(letters: Letters, per: Per) -> list[tuple[str, bytes]]:
    """The PDFs: one per delegate, or one per unit (its delegates' letters one after another).

    The letters are drawn once, in one document (loading the fonts is most of the cost of a small PDF),
    and cut into the files by their pages."""
    data, pages = _render(letters.letters)
    groups: dict[str, list[range]] = {}
    if per is Per.PERSON:
        names = _unique([letter.person_file for letter in letters.letters])
        groups = {name: [span] for name, span in zip(names, pages, strict=True)}
    else:
        for letter, span in zip(letters.letters, pages, strict=True):
            groups.setdefault(letter.unit_file, []).append(span)
    if len(groups) == 1:
        return [(next(iter(groups)), data)]
    reader = PdfReader(io.BytesIO(data))
    return [(name, _extract(reader, spans)) for name, spans in groups.items()]


def bundle(letters: Letters, per: Per) -> PrintedFile:
    """What to send: the one PDF when there is one, else a ZIP of them. Slow for many letters: run it in
    a worker thread (``asyncio.to_thread``), never on the event loop."""
    made = files(letters, per)
    if len(made) == 1:
        name, data = made[0]
        return PrintedFile(name, data, PDF, 1)
    archive = letters.person_archive if per is Per.PERSON else letters.unit_archive
    return PrintedFile(archive, _zip(made), ZIP, len(made))


__all__ = [
    "MOTTO",
    "Letter",
    "Letters",
    "Per",
    "PrintedFile",
    "bundle",
    "closing",
    "date_line",
    "files",
    "font_dir",
    "invitation_letters",
    "render_pdf",
    "salutation",
    "when_text",
]
