"""Typed answers to a choice: the one mechanism behind every keyboard.

Telegram shows buttons; Zalo and the offline playground show numbered lists. Either way a person may type
the option's number ("2"), its label, or the label without tone marks and in any case ("khong tham du"
picks "Không tham dự"). A unique beginning of a label is accepted too ("eng" picks "English").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rules.text import clean, fold

_NUMBER = re.compile(r"^\s*(?:số\s*|so\s*|#)?(\d{1,3})\s*[.)]?\s*$", re.IGNORECASE)
_MIN_PREFIX = 2


@dataclass(frozen=True)
class Option:
    """One choice: a stable key (in callback data and storage) and the label the person sees."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()


def match_option(options: Sequence[Option], answer: str) -> Option | None:
    """The option ``answer`` designates, or None when it designates none or several."""
    text = clean(answer)
    if not text:
        return None
    number = _NUMBER.match(text)
    if number:
        index = int(number.group(1))
        return options[index - 1] if 1 <= index <= len(options) else None
    wanted = fold(text)
    exact = [o for o in options if clean(o.label) == text]
    if exact:
        return exact[0]
    folded = [o for o in options if wanted in {fold(o.label), *(fold(a) for a in o.aliases)}]
    if len(folded) == 1:
        return folded[0]
    if folded or len(wanted) < _MIN_PREFIX:
        return None
    prefixed = [o for o in options if any(fold(name).startswith(wanted) for name in (o.label, *o.aliases))]
    return prefixed[0] if len(prefixed) == 1 else None
