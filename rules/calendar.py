"""A conference as a calendar event (RFC 5545), for a delegate to add to their phone's calendar.

One VEVENT with the start and end in UTC (``…Z``), the venue, what to bring, and an alarm the day
before. Lines end in CRLF and are folded at 75 octets without splitting a UTF-8 character, as the RFC
requires; text values are escaped. A conference whose day is not fixed yet (the plan gives only a window,
"Quý II/2020") has no event: :func:`conference_ics` returns None.
"""

from __future__ import annotations

import datetime as dt

from storage.models import Conference

PRODUCT_ID = "-//dienhinh//conference invitations//VI"
DEFAULT_DURATION_MINUTES = 240  # "½ ngày", the plan's half-day conference
LINE_OCTETS = 75


def escape_text(value: str) -> str:
    """A TEXT value: backslash, semicolon and comma escaped, line breaks as ``\\n`` (RFC 5545 §3.3.11)."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold_line(line: str) -> str:
    """``line`` cut into pieces of at most 75 octets, joined by CRLF and a space (RFC 5545 §3.1)."""
    pieces: list[str] = []
    current = ""
    size = 0
    limit = LINE_OCTETS
    for char in line:
        octets = len(char.encode("utf-8"))
        if size + octets > limit:
            pieces.append(current)
            current, size = "", 0
            limit = LINE_OCTETS - 1  # continuation lines start with a space
        current += char
        size += octets
    pieces.append(current)
    return "\r\n ".join(pieces)


def utc_stamp(moment: dt.datetime) -> str:
    """``20200515T013000Z``."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: calendar times must be aware")
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def conference_ics(
    conference: Conference,
    *,
    uid: str,
    url: str | None = None,
    now: dt.datetime | None = None,
    description: str | None = None,
) -> bytes | None:
    """The conference as an .ics file (UTF-8), or None while its start time is not known.

    ``uid`` identifies the event (e.g. ``invitation-42@dienhinh``), so a calendar updates the same entry
    when the file is sent again. DTSTAMP is ``now``, or else when the conference was last changed. DESCRIPTION is ``description`` if given (the caller's translated text),
    else the plan's "what to bring"; ``url`` is added as URL and at the end of the description. The alarm
    rings the day before.
    """
    if conference.starts_at is None:
        return None
    start = conference.starts_at
    stamp = now or conference.updated_at or start
    end = start + dt.timedelta(minutes=conference.duration_minutes or DEFAULT_DURATION_MINUTES)
    details = description if description is not None else (conference.what_to_bring or "")
    if url:
        details = f"{details}\n{url}" if details else url
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{escape_text(uid)}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        f"DTSTART:{utc_stamp(start)}",
        f"DTEND:{utc_stamp(end)}",
        f"SUMMARY:{escape_text(conference.title)}",
    ]
    if conference.venue:
        lines.append(f"LOCATION:{escape_text(conference.venue)}")
    if details:
        lines.append(f"DESCRIPTION:{escape_text(details)}")
    if url:
        lines.append(f"URL:{url}")
    lines += [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{escape_text(conference.title)}",
        "TRIGGER:-P1D",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold_line(line) + "\r\n" for line in lines).encode("utf-8")


__all__ = ["conference_ics", "escape_text", "fold_line", "utc_stamp"]
