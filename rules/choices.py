"""Typed answers to a choice: the one rule behind every keyboard.

Telegram shows buttons; Zalo and the offline playground show numbered lists, so there every choice is
typed. A typed answer is **picked** only when it says exactly which option it means: the option's number,
its full label or a full alias, compared on a key that ignores tone marks, case, punctuation and spaces
("nguoi tot viec tot" and "Người tốt - việc tốt!" both name "Người tốt, việc tốt"). Anything less certain
is never taken silently: one option matched by a beginning ("cong an"), by some of its words ("buoi") or
by a short form ("ATTP") is a **did you mean**; several are a short **list**; the rest is **no match**.

Yes and no have words of their own ("có", "ừ", "đồng ý", "ok" / "không", "ko", "no"). They always answer a
yes/no question (an option with ``means``), and they never pick some other option by its beginning: at the
unit question "co" (meant as "có") is not "Công an quận Tây Hồ".

:func:`follow_up` carries a did-you-mean or a short list over to the next answer (:class:`Pending`), so
"1" then means "yes, that one" or the first of the short list, not the first option of the question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.text import clean, fold

YES, NO = "yes", "no"

_NUMBER = re.compile(r"^\s*(?:số\s*|so\s*|#)?(\d{1,3})\s*[.)]?\s*$", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+")

# A beginning or some words name an option only from two letters on: one letter is a guess at best.
MIN_PARTIAL = 2
# At most this many options in a short list (the eight wards of a district fit); more is "type more".
SHORTLIST_SIZE = 8
# An alias this short (or an acronym such as "ATTP", "CSTĐ cơ sở") is a short form: typed in full it is
# still only a did-you-mean. Measured on the real lists in data/: the shortest full names are three
# letters ("Tày", "Dao", "Nam"), and they are labels, which pick; the three-letter aliases ("Mèo", "HTX",
# "FDI") are nicknames and acronyms.
SHORT_FORM_LETTERS = 3


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))


def _key(text: str) -> str:
    """The comparison key: folded (no tone marks, no case), without punctuation or spaces."""
    return "".join(_words(text))


YES_WORDS = frozenset(
    _key(word) for word in ("có", "ừ", "uh", "đồng ý", "vâng", "dạ", "dạ có", "được", "đúng", "yes", "ok", "okay")
)
NO_WORDS = frozenset(_key(word) for word in ("không", "ko", "k", "no", "không đồng ý", "không phải", "sai"))


def yes_or_no(answer: str) -> str | None:
    """``YES`` or ``NO`` when ``answer`` is one of the yes/no words, else None."""
    key = _key(answer)
    return YES if key in YES_WORDS else NO if key in NO_WORDS else None


def is_short_form(alias: str) -> bool:
    """Whether an alias is a short form (an acronym, a nickname of a few letters) rather than a full name."""
    if len(_key(alias)) <= SHORT_FORM_LETTERS:
        return True
    return any(len(word) >= 2 and word.isupper() for word in _WORD.findall(clean(alias)))


@dataclass(frozen=True)
class Option:
    """One choice: a stable key (in callback data and storage) and the label the person sees.

    ``aliases`` are other names that pick it when typed in full (short forms only suggest it);
    ``means`` (``YES`` or ``NO``) makes it the answer to the yes/no words.
    """

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    means: str | None = None


@dataclass(frozen=True)
class Picked:
    """The answer names this option beyond doubt: take it."""

    option: Option


@dataclass(frozen=True)
class DidYouMean:
    """One option fits only partly: ask "did you mean …?" before taking it."""

    option: Option


@dataclass(frozen=True)
class Several:
    """A few options fit (at most :data:`SHORTLIST_SIZE`, best first): let the person choose among them."""

    options: tuple[Option, ...]


@dataclass(frozen=True)
class NoMatch:
    """Nothing fits, or too many do (``too_many``: the person should type more of the name)."""

    too_many: bool = False


Match = Picked | DidYouMean | Several | NoMatch


def match_option(options: Sequence[Option], answer: str, *, named: Sequence[Option] = ()) -> Match:
    """What ``answer`` designates among ``options`` (numbered as shown, from 1).

    ``named`` are options that can be typed by name but have no number on screen (the rest of a long
    list: every unit when the wards are shown, all 54 ethnic groups when the common ones are).
    """
    text = clean(answer)
    number = _NUMBER.match(text)
    if number:
        index = int(number.group(1))
        return Picked(options[index - 1]) if 1 <= index <= len(options) else NoMatch()
    key = _key(text)
    if not key:
        return NoMatch()
    offered = _unique([*options, *named])
    meaning = YES if key in YES_WORDS else NO if key in NO_WORDS else None
    if meaning is not None:
        meant = [option for option in offered if option.means == meaning]
        if meant:
            return Picked(meant[0]) if len(meant) == 1 else Several(tuple(meant[:SHORTLIST_SIZE]))
    exact = [option for option in offered if key in _full_names(option)]
    if len(exact) == 1:
        # "co" is the full name of the Co people, but typed at their question it is far likelier a "có".
        hidden = meaning is not None and exact[0] not in options
        return DidYouMean(exact[0]) if hidden else Picked(exact[0])
    if exact:
        return Several(tuple(exact[:SHORTLIST_SIZE]))
    if meaning is not None:
        return NoMatch()
    ranked = sorted(
        (
            (rank, index, option)
            for index, option in enumerate(offered)
            if (rank := _partial(option, key, text)) is not None
        ),
        key=lambda item: item[:2],
    )
    found = tuple(option for _, _, option in ranked)
    if not found:
        return NoMatch()
    if len(found) == 1:
        return DidYouMean(found[0])
    if len(found) <= SHORTLIST_SIZE:
        return Several(found)
    return NoMatch(too_many=True)


def pick(options: Sequence[Option], answer: str) -> Option | None:
    """The option ``answer`` names beyond doubt, or None: for answers nobody can be asked about (words
    after a command, a cell of a spreadsheet), where a did-you-mean is impossible."""
    match = match_option(options, answer)
    return match.option if isinstance(match, Picked) else None


def _unique(options: Sequence[Option]) -> list[Option]:
    seen: set[str] = set()
    unique = []
    for option in options:
        if option.key not in seen:
            seen.add(option.key)
            unique.append(option)
    return unique


def _full_names(option: Option) -> set[str]:
    return {_key(option.label), *(_key(alias) for alias in option.aliases if not is_short_form(alias))}


def _partial(option: Option, key: str, text: str) -> int | None:
    """How well ``key`` fits ``option`` without naming it in full (lower is better), or None."""
    short_forms = [alias for alias in option.aliases if is_short_form(alias)]
    if any(_key(alias) == key for alias in short_forms):
        return 0
    if len(key) < MIN_PARTIAL:
        return None
    words = _words(text)
    names = [option.label, *option.aliases]
    for rank, test in ((1, _begins), (2, _has_words)):
        if any(test(name, key, words) for name in names):
            return rank
    return None


def _begins(name: str, key: str, words: tuple[str, ...]) -> bool:
    return _key(name).startswith(key)


def _has_words(name: str, key: str, words: tuple[str, ...]) -> bool:
    """Each typed word begins a word of ``name``, in order ("buoi" in "Phường Bưởi", "cu nguoi" in "Cử
    người thay thế")."""
    remaining = iter(_words(name))
    return all(any(word.startswith(typed) for word in remaining) for typed in words)


# --- a did-you-mean or a short list, carried over to the next answer -----------------------------------

# Keys of the answers a clarification adds; they never collide with an option's key (which is a code, an
# id or a ``kind:id`` pair, none starting with a dash).
RIGHT, WRONG, FULL_LIST = "-right", "-wrong", "-all"


@dataclass(frozen=True)
class Pending:
    """A question's open clarification: a did-you-mean (one key) or a short list (several)."""

    question: str
    keys: tuple[str, ...]

    @property
    def confirming(self) -> bool:
        return len(self.keys) == 1

    def to_json(self) -> dict[str, Any]:
        return {"question": self.question, "keys": list(self.keys)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Pending | None:
        question, keys = data.get("question"), data.get("keys")
        if not isinstance(question, str) or not isinstance(keys, list) or not keys:
            return None
        return cls(question, tuple(str(key) for key in keys))


@dataclass(frozen=True)
class Labels:
    """The labels of the answers a clarification adds, in the person's language."""

    right: str
    wrong: str
    full_list: str


@dataclass(frozen=True)
class Chosen:
    """The person chose this option (named in full, confirmed, or picked from a short list)."""

    option: Option


@dataclass(frozen=True)
class Confirm:
    """Ask "did you mean ``option``?" (``again``: the answer to the same question was not understood)."""

    option: Option
    again: bool = False


@dataclass(frozen=True)
class ShortList:
    """Offer these options only, and a way back to the whole list."""

    options: tuple[Option, ...]
    again: bool = False


@dataclass(frozen=True)
class AskAgain:
    """Ask the question itself again; ``reason`` says why (for the note above it)."""

    reason: str  # "unmatched", "too_many", "declined", "full_list", "gone"


Outcome = Chosen | Confirm | ShortList | AskAgain


def confirm_options(option: Option, labels: Labels) -> tuple[Option, ...]:
    """The answers to "did you mean ``option``?": right (also its name typed again) or wrong."""
    return (
        Option(RIGHT, labels.right, aliases=(option.label,), means=YES),
        Option(WRONG, labels.wrong, means=NO),
    )


def list_options(options: Sequence[Option], labels: Labels) -> tuple[Option, ...]:
    """A short list as offered: its options, then the way back to the whole list."""
    return (*options, Option(FULL_LIST, labels.full_list))


def follow_up(
    question: str,
    pending: Pending | None,
    answer: str,
    options: Sequence[Option],
    labels: Labels,
    *,
    named: Sequence[Option] = (),
) -> tuple[Outcome, Pending | None]:
    """What a typed ``answer`` to the choice ``question`` does, and what stays open for the next answer.

    Without a ``pending`` clarification of this question the answer is matched against the question. A
    did-you-mean is answered by 1/2, yes/no or the option's name; a short list by its numbers or names.
    Another option's name typed in full is taken wherever the person is. An answer that fits nothing keeps
    the did-you-mean or the short list open: numbers typed then mean the clarification's, never the
    question's.
    """
    if pending is None or pending.question != question:
        return _opened(question, match_option(options, answer, named=named))
    offered = {option.key: option for option in [*options, *named]}
    candidates = tuple(offered[key] for key in pending.keys if key in offered)
    if len(candidates) != len(pending.keys):
        return AskAgain("gone"), None
    if pending.confirming:
        return _confirming(pending, candidates[0], answer, labels, offered)
    return _choosing(pending, candidates, answer, labels, offered)


def _opened(question: str, match: Match) -> tuple[Outcome, Pending | None]:
    """The outcome of a match at ``question``, and the clarification it opens."""
    if isinstance(match, Picked):
        return Chosen(match.option), None
    if isinstance(match, DidYouMean):
        return Confirm(match.option), Pending(question, (match.option.key,))
    if isinstance(match, Several):
        return ShortList(match.options), Pending(question, tuple(option.key for option in match.options))
    return AskAgain("too_many" if match.too_many else "unmatched"), None


def _confirming(
    pending: Pending, option: Option, answer: str, labels: Labels, offered: Mapping[str, Option]
) -> tuple[Outcome, Pending | None]:
    reply = match_option(confirm_options(option, labels), answer)
    if isinstance(reply, Picked):
        return (Chosen(option), None) if reply.option.key == RIGHT else (AskAgain("declined"), None)
    # Not 1/2 nor yes/no: perhaps another name. No numbers here: they are the did-you-mean's.
    elsewhere = match_option((), answer, named=list(offered.values()))
    if isinstance(elsewhere, Picked) or _keys(elsewhere) not in ((), pending.keys):
        return _opened(pending.question, elsewhere)
    return Confirm(option, again=True), pending


def _choosing(
    pending: Pending,
    candidates: tuple[Option, ...],
    answer: str,
    labels: Labels,
    offered: Mapping[str, Option],
) -> tuple[Outcome, Pending | None]:
    reply = match_option(list_options(candidates, labels), answer)
    if isinstance(reply, (Picked, DidYouMean)) and reply.option.key == FULL_LIST:
        return AskAgain("full_list"), None
    if isinstance(reply, (Picked, DidYouMean)):
        return _opened(pending.question, reply)
    if isinstance(reply, Several):
        narrower = tuple(option for option in reply.options if option.key != FULL_LIST)
        if len(narrower) < len(candidates):
            return _opened(pending.question, Several(narrower) if len(narrower) > 1 else DidYouMean(narrower[0]))
    # A wrong answer keeps the short list, unless it names another option in full.
    elsewhere = match_option((), answer, named=list(offered.values()))
    if isinstance(elsewhere, Picked):
        return Chosen(elsewhere.option), None
    return ShortList(candidates, again=True), pending


def _keys(match: Match) -> tuple[str, ...]:
    if isinstance(match, (Picked, DidYouMean)):
        return (match.option.key,)
    if isinstance(match, Several):
        return tuple(option.key for option in match.options)
    return ()
