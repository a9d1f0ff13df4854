"""Text for channels without buttons or long messages (Zalo, the playground): splitting and numbered menus.

Zalo accepts texts of 1–2000 characters and has no keyboards (``../shared/docs/zalo-bot-api.md`` §2, §5,
§6). A long reply is sent as several messages cut where a reader expects a pause (:func:`split_text`), and a
keyboard becomes a numbered list the person answers by typing (:func:`numbered_menu`, with
:func:`choice_numbers` for the "1, 2 hoặc 3" part of its hint).

Lengths are counted in UTF-16 code units (:func:`text_length`), not code points: Zalo counts its text
styles in UTF-16 units, so its "2000 characters" is most likely the same count, and the UTF-16 length is
never smaller than the code-point length, so a piece that fits here fits under either reading.

Pure functions: no telegram, no httpx, no translator. The caller passes translated text in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from babel.lists import format_list

ZALO_TEXT_LIMIT = 2000

# Spaces that exist to prevent a break (Vietnamese dates and amounts use them: "15 tháng 3"); a cut never
# happens at one and trimming never removes one.
_NO_BREAK = frozenset("\u00a0\u2007\u202f")
_BREAKABLE = "".join(sorted(ch for ch in map(chr, range(0x3001)) if ch.isspace() and ch not in _NO_BREAK))
_BREAKABLE_SET = frozenset(_BREAKABLE)
_WORD_SEPARATOR = re.compile("[" + re.escape(_BREAKABLE) + "]+")
# A blank line: a line break, optional horizontal whitespace, another line break.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_ZERO_WIDTH_JOINER = "\u200d"
# Beyond this many options a hint says "1–12" instead of listing every number.
MAX_LISTED_CHOICES = 4


def text_length(text: str) -> int:
    """The length of ``text`` as Zalo's limits count it: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def words(text: str) -> list[str]:
    """The words of ``text``: the runs between breakable whitespace (a no-break space joins two words)."""
    return [word for word in _WORD_SEPARATOR.split(text) if word]


def split_text(text: str, limit: int = ZALO_TEXT_LIMIT) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` UTF-16 units, each sendable as one message.

    Each cut is at the last blank line that fits, else the last line break, else the last space; whitespace
    around a cut is dropped, and so is whitespace at both ends. A word is cut only when it alone is longer
    than ``limit`` (a long URL, say), and then never between a letter and its combining marks. A text of
    whitespace only gives no pieces.
    """
    if limit < 2:
        # One code point may take two units; a smaller limit could not always make progress.
        raise ValueError(f"limit must be at least 2, not {limit}")
    rest = text.strip(_BREAKABLE)
    pieces: list[str] = []
    while rest:
        end = _fitting_prefix(rest, limit)
        if end == len(rest):
            pieces.append(rest)
            break
        cut = _cut_position(rest, end)
        pieces.append(rest[:cut].rstrip(_BREAKABLE))
        rest = rest[cut:].lstrip(_BREAKABLE)
    return pieces


def _fitting_prefix(text: str, limit: int) -> int:
    """The largest ``end`` such that ``text[:end]`` is at most ``limit`` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut_position(text: str, end: int) -> int:
    """Where to cut ``text`` so that the head is within ``text[:end]``; ``text`` starts with a non-space.

    The cut may sit at ``end`` itself when ``text[end]`` is whitespace: the head is then the whole window.
    """
    paragraph = None
    for match in _PARAGRAPH_BREAK.finditer(text):
        if match.start() > end:
            break
        if match.start() > 0:
            paragraph = match.start()
    if paragraph is not None:
        return paragraph
    line = text.rfind("\n", 1, end + 1)
    if line > 0:
        return line
    space = next((i for i in range(end, 0, -1) if text[i] in _BREAKABLE_SET), None)
    if space is not None:
        return space
    return _hard_cut(text, end)


def _hard_cut(text: str, end: int) -> int:
    """A cut inside a word longer than the limit, moved back so a letter keeps its marks and joiners."""
    cut = end
    while cut > 1 and _continues_previous(text, cut):
        cut -= 1
    # One grapheme longer than the limit (absurd, but possible): cut it where the limit says.
    return end if _continues_previous(text, cut) else cut


def _continues_previous(text: str, index: int) -> bool:
    """Whether ``text[index]`` belongs to the same visible character as ``text[index - 1]``."""
    return unicodedata.category(text[index])[0] == "M" or text[index - 1] == _ZERO_WIDTH_JOINER


def choice_numbers(count: int, locale: str, max_listed: int = MAX_LISTED_CHOICES) -> str:
    """The numbers a person may answer with, as the language says them: "1, 2 hoặc 3", "1 or 2", "1–12".

    Up to ``max_listed`` options are listed with the locale's "or" (Babel's CLDR list patterns: Vietnamese
    "1, 2 hoặc 3", English "1, 2, or 3"); more are given as a range with an en dash.
    """
    if count < 1:
        raise ValueError(f"a menu needs at least one option, not {count}")
    if count > max_listed:
        return f"1–{count}"
    return format_list([str(number) for number in range(1, count + 1)], style="or", locale=locale)


def numbered_menu(question: str, labels: Sequence[str], hint: str) -> str:
    """What a person without buttons sees for a keyboard: the question, "1. …" lines, then ``hint``.

    ``hint`` is translated by the caller (e.g. "Trả lời 1, 2 hoặc 3", built with :func:`choice_numbers`).
    A label is kept on its own line (line breaks inside it become spaces), so the numbers stay true. The
    three parts are separated by blank lines, which is also where :func:`split_text` prefers to cut.
    """
    if not labels:
        raise ValueError("a menu needs at least one option")
    options = "\n".join(
        f"{number}. {_LINE_BREAKS.sub(' ', label).strip()}" for number, label in enumerate(labels, start=1)
    )
    return "\n\n".join(part for part in (question.strip(), options, hint.strip()) if part)
