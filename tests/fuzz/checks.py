"""Checks of single Bot API calls, files and audit entries, with no state: what Telegram would refuse,
formulas in a workbook, which files and acts are organisers' only, placeholders left unfilled."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import openpyxl

from rules.channel_text import text_length

PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


def formula_cells(content: bytes) -> list[tuple[str, str, str]]:
    """(sheet, cell, formula) of every formula cell of an .xlsx workbook."""
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    found = []
    try:
        for sheet in workbook.worksheets:
            for row in sheet.iter_rows():
                found += [
                    (sheet.title, str(getattr(cell, "coordinate", "?")), str(cell.value))
                    for cell in row
                    if getattr(cell, "data_type", None) == "f"
                ]
    finally:
        workbook.close()
    return found


def is_organisers_file(file_name: str) -> bool:
    """Spreadsheets (exports, attendance, invitations with every link), the printed invitations (PDF, or a
    ZIP of them) and the status chart."""
    return file_name.endswith((".xlsx", ".pdf", ".zip")) or file_name.startswith("status-")


# Audited acts (AuditEntry.action) and the role they need; the rest of "nomination.*" needs a reviewer.
ORGANISERS_ACTS = frozenset(
    {
        "conference.arrangements",
        "guest_list.import",
        "invitation.cancel",
        "invitation.invite_nominations",
        "nomination.publish",
        "role.grant",
        "status.export",
        "unit_link.create",
        "unit_link.revoke",
    }
)


def roles_allowed(act: str) -> frozenset[str | None]:
    """The roles that may do an audited act (an organiser may do what a reviewer may)."""
    if act in ORGANISERS_ACTS:
        return frozenset({"organiser"})
    if act.startswith("nomination."):
        return frozenset({"reviewer", "organiser"})
    return frozenset({None, "citizen", "focal_point", "reviewer", "organiser"})


def texts_sent(params: dict[str, Any]) -> list[str]:
    """The text and caption of a call."""
    return [str(params[key]) for key in ("text", "caption") if params.get(key)]


def _markup(params: dict[str, Any]) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    if isinstance(markup, str) and markup:
        loaded = json.loads(markup)
        return loaded if isinstance(loaded, dict) else None
    return markup if isinstance(markup, dict) else None


def telegram_limit_problems(name: str, params: dict[str, Any]) -> list[str]:
    """What Telegram would refuse in this call (Bot API limits), as short descriptions."""
    problems = []
    if name in ("sendMessage", "editMessageText"):
        text = str(params.get("text") or "")
        if not text.strip():
            problems.append("empty text")
        elif text_length(text) > 4096:
            problems.append(f"text over 4096 UTF-16 units ({text_length(text)})")
    if name in ("sendPhoto", "sendDocument", "editMessageCaption") and len(str(params.get("caption") or "")) > 1024:
        problems.append(f"caption over 1024 characters ({len(str(params.get('caption')))})")
    if name == "answerCallbackQuery" and len(str(params.get("text") or "")) > 200:
        problems.append(f"toast over 200 characters ({len(str(params.get('text')))})")
    markup = _markup(params)
    for row in (markup or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and len(str(data).encode()) > 64:
                problems.append(f"callback data over 64 bytes ({len(str(data).encode())})")
            if not str(button.get("text") or "").strip():
                problems.append("button without text")
    if name == "setMyCommands":
        commands = params.get("commands") or []
        if len(commands) > 100:
            problems.append("more than 100 commands")
        for command in commands:
            command_name, description = str(command.get("command")), str(command.get("description") or "")
            if not _COMMAND_NAME.match(command_name) or not 1 <= len(description) <= 256:
                problems.append(f"invalid menu command {command_name!r}")
    return problems
