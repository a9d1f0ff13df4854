"""The .ics a delegate receives, read back as a calendar application imports it (RFC 5545).

Google Calendar and Outlook both import an event whose times are in UTC (``…Z``, RFC 5545 §3.3.5 form #2)
and show it in the phone's own time zone; what breaks imports is a TZID without its VTIMEZONE, a local
("floating") time, or a mix. The bot's choice is UTC throughout: :func:`parse_ics` checks the file's
structure and that choice, and hands the event's properties back for the assertions.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

from rules import calendar
from storage.models import Conference

_NAME = re.compile(r"^[A-Z][A-Z0-9-]*$")
_UTC = re.compile(r"^\d{8}T\d{6}Z$")
_DATE_TIMES = ("DTSTAMP", "DTSTART", "DTEND", "CREATED", "LAST-MODIFIED", "RECURRENCE-ID")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def _content_lines(data: bytes) -> list[str]:
    """Unfolded content lines (§3.1): CRLF only, physical lines of at most 75 octets, UTF-8 unsplit."""
    assert data.endswith(b"\r\n"), "the last line ends in CRLF"
    physical = data[:-2].split(b"\r\n")
    assert all(b"\n" not in line and b"\r" not in line for line in physical), "bare CR or LF"
    assert all(len(line) <= 75 for line in physical), "a line longer than 75 octets"
    lines: list[str] = []
    for raw in physical:
        text = raw.decode("utf-8")
        if text.startswith((" ", "\t")):
            assert lines, "a continuation line first"
            lines[-1] += text[1:]
        else:
            lines.append(text)
    return lines


def _split(line: str) -> tuple[str, dict[str, str], str]:
    head, separator, value = line.partition(":")
    assert separator, f"no value: {line!r}"
    name, *params = head.split(";")
    assert _NAME.match(name), f"bad property name {name!r}"
    return name, dict(param.split("=", 1) for param in params), value


def parse_ics(data: bytes) -> dict[str, Any]:
    """The VEVENT of a one-event calendar, its date-times as aware UTC datetimes, after checking:
    BEGIN/END nesting, VERSION 2.0 and PRODID, UID/DTSTAMP/DTSTART, DTEND after DTSTART, a complete
    DISPLAY alarm, and UTC throughout (no TZID, no VTIMEZONE, no floating time)."""
    stack: list[str] = []
    calendar_props: dict[str, str] = {}
    event: dict[str, Any] = {}
    alarm: dict[str, str] = {}
    events = 0
    for line in _content_lines(data):
        name, params, value = _split(line)
        assert "TZID" not in params, f"a TZID in {line!r}: times are in UTC"
        if name == "BEGIN":
            assert value != "VTIMEZONE", "a VTIMEZONE: times are in UTC"
            assert stack or value == "VCALENDAR", "the file starts with BEGIN:VCALENDAR"
            stack.append(value)
            events += value == "VEVENT"
            continue
        if name == "END":
            assert stack and stack.pop() == value, f"END:{value} does not close what was begun"
            continue
        where = stack[-1] if stack else None
        if name in _DATE_TIMES:
            assert _UTC.match(value), f"{name} {value!r} is not a UTC date-time"
            parsed: Any = dt.datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        else:
            parsed = value
        if where == "VCALENDAR":
            calendar_props[name] = value
        elif where == "VEVENT":
            assert name not in event, f"{name} twice in the event"
            event[name] = parsed
        elif where == "VALARM":
            alarm[name] = value
    assert not stack, f"not closed: {stack}"
    assert events == 1
    assert calendar_props.get("VERSION") == "2.0" and calendar_props.get("PRODID")
    for required in ("UID", "DTSTAMP", "DTSTART"):
        assert required in event, f"the event has no {required}"
    if "DTEND" in event:
        assert event["DTEND"] > event["DTSTART"]
    if alarm:
        assert alarm.get("ACTION") == "DISPLAY" and alarm.get("TRIGGER") and alarm.get("DESCRIPTION")
    event["VALARM"] = alarm
    return event


def test_the_conference_event_is_in_utc_throughout_and_reads_as_half_past_eight_in_ha_noi():
    conference = Conference(
        id=2,
        code="district",
        title="Hội nghị Điển hình tiên tiến quận Tây Hồ",
        starts_at=dt.datetime(2020, 6, 18, 1, 30, tzinfo=dt.UTC),
        duration_minutes=240,
        venue="Hội trường UBND quận Tây Hồ",
        updated_at=dt.datetime(2020, 5, 20, 10, 0, tzinfo=HANOI),  # a stamp in local time comes out in UTC
    )

    event = parse_ics(calendar.conference_ics(conference, uid="invitation-42@dienhinh") or b"")

    assert event["DTSTART"].astimezone(HANOI).strftime("%d/%m/%Y %H:%M") == "18/06/2020 08:30"
    assert event["DTEND"].astimezone(HANOI).strftime("%H:%M") == "12:30"
    assert event["DTSTAMP"] == dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC)
    assert event["SUMMARY"] == "Hội nghị Điển hình tiên tiến quận Tây Hồ"
    assert event["VALARM"]["TRIGGER"] == "-P1D"


def test_the_reader_catches_what_breaks_an_import():
    good = calendar.conference_ics(
        Conference(id=1, title="HN", starts_at=dt.datetime(2020, 6, 18, 1, 30, tzinfo=dt.UTC)), uid="x"
    )
    assert good is not None
    floating = good.replace(b"DTSTART:20200618T013000Z", b"DTSTART:20200618T083000")
    zoned = good.replace(b"DTSTART:20200618T013000Z", b"DTSTART;TZID=Asia/Ho_Chi_Minh:20200618T083000")
    unclosed = good.replace(b"END:VALARM\r\n", b"")
    for broken in (floating, zoned, unclosed):
        try:
            parse_ics(broken)
        except AssertionError:
            continue
        raise AssertionError(f"not caught: {broken!r}")
