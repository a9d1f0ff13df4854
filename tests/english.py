"""English words in Vietnamese text: the words of the project's own msgids, found where a `vi` reader sees them.

The list is made from ``locales/messages.pot`` (every English msgid the code marks), so a string that bypasses
the catalog shows up with the words it was written in. What is taken out first is what a Vietnamese text
legitimately holds as it is: what a person types (commands, their arguments, codes, CLI options), links,
file names and acronyms; then :data:`ALLOWED` — short on purpose, each word with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

from rules.plans import load_plan_file

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "locales" / "messages.pot"
PLANS = ROOT / "data" / "plans"

# Words of msgids that are also in Vietnamese output, and why.
ALLOWED = frozenset(
    {
        # Vietnamese syllables that English happens to spell the same way: "in" (print: "bản in"), "do" (because),
        # "so" ("so sánh"), "an" ("Công an", "an toàn"), "long" ("long trọng"), and syllables of Vietnamese names
        # in the msgids' examples ("Ho_Chi_Minh", "Trần Văn Hùng" folded, "Nam", "Năm sinh", "trích ngang",
        # "điểm danh").
        "in",
        "do",
        "so",
        "an",
        "ho",
        "chi",
        "minh",
        "hung",
        "nam",
        "sinh",
        "ngang",
        "danh",
        "long",
        "non",  # "Mầm non", "núi non" (and the "non-" of "non-empty")
        # Names of products and services, written so in Vietnamese too.
        "zalo",
        "telegram",
        "excel",
        "workbook",  # "Excel Workbook (.xlsx)": the file type as Excel's "Save as" names it
        "botfather",  # @BotFather, Telegram's bot for making bots
        "creator",  # "Zalo Bot Creator", Zalo's bot for making bots
        "bot",
        "chatbot",
        # Telegram's own button, named as Telegram shows it ("bấm Bắt đầu (Start)").
        "start",
        # The language menu names each language in its own tongue: "Đổi ngôn ngữ / Change language", "English".
        "change",
        "language",
        "english",
        # Technical words an operator looks up as they are (settings and CLI errors).
        "token",
        "polling",
        "webhook",
        "sqlite",
        "aiosqlite",
        "postgresql",
        "asyncpg",
        "sha",
        "zip",  # "bom nén (zip bomb)": the name of the attack, as security notices write it
        "bomb",
        "https",
        "asia",  # the IANA zone name Asia/Ho_Chi_Minh
        # Language codes, as typed in DEFAULT_LOCALE ("chỉ nhận vi hoặc en").
        "vi",
        "en",
    }
)

# The conferences' codes in the plan files: people type them (``/status district``, ``--conference district``)
# and the bot shows them to be typed ("(mã: district)"), as it shows every other code.
CONFERENCE_CODES = frozenset(
    conference.code for plan in sorted(PLANS.glob("*.yaml")) for conference in load_plan_file(plan).conferences
)
# Arguments typed after a command (``/status units``, ``/invite all``): commands, not prose.
COMMAND_ARGUMENTS = ("units", "unit", "balance", "all", "english", "en", "vi", *sorted(CONFERENCE_CODES))

_TYPED = re.compile(
    r"https?://\S+|\bt\.me/\S+"  # links
    r"|`[^`]*`"  # code
    r"|(?<![\w/])/[a-z_]+(?:@\w+)?(?:\s+(?:" + "|".join(COMMAND_ARGUMENTS) + r"|[A-Z0-9][A-Z0-9-]*)\b)*"  # /commands
    r"|(?:^|(?<=\s)):[a-z]+"  # the playground's :commands
    r"|--[a-z][a-z-]*"  # CLI options
    r"|\bdienhinh(?:\s+[a-z]+){0,2}"  # CLI commands (dienhinh invitations import …)
    r"|@\w+"  # Telegram usernames
    r"|(?<!\S)[\w.~-]*(?:/[^\s/]+){2,}/?"  # paths of files and folders
    r"|[\w.-]*\.(?:xlsx|xls|csv|ics|pdf|png|jpe?g|zip|json|jsonl|ya?ml|sqlite3|env|docx?)\b"  # file names
    r"|\b[A-Z][A-Z0-9_]*_[A-Z0-9_]+\b"  # setting names (BOT_TOKEN)
    r"|\b[a-z]+(?:_[a-z0-9]+)+\b",  # fields of the data files (valid_from, report_only)
    re.MULTILINE,
)
_WORD = re.compile(r"[^\W\d_]+")
# A msgid's placeholders ({name}, %(prog)s) stand for a value: a number, which makes "thu-moi-{code}.xlsx" a code.
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\(\w+\)[a-z]|%[sd]")
_CODE = re.compile(r"\S*\d\S*")  # DH-2020-0001, K7M2-Q9XD, 8h30, 91/2025/QH15: codes and numbers


def _words(text: str) -> list[str]:
    """The words of ``text`` a reader reads as words: codes, acronyms (UBND, QR, PDF) and single letters out."""
    text = _CODE.sub(" ", _TYPED.sub(" ", _PLACEHOLDER.sub("7", text)))
    return [word for word in _WORD.findall(text) if len(word) > 1 and not word.isupper()]


@cache
def english_words() -> frozenset[str]:
    """Every English word of the project's msgids (lowercase), but those in :data:`ALLOWED` and the codes."""
    with POT.open("rb") as handle:
        catalog = read_po(handle)
    found: set[str] = set()
    for message in catalog:
        for msgid in message.id if isinstance(message.id, tuple | list) else (message.id,):
            found.update(word.lower() for word in _words(str(msgid)) if word.isascii())
    return frozenset(found - ALLOWED - CONFERENCE_CODES)


def english_in(text: str, *, also_allowed: frozenset[str] = frozenset()) -> list[str]:
    """The English words of ``text``, in order; ``also_allowed``: words this text may hold (what the person
    typed, their name), lowercase."""
    words = english_words()
    return [word for word in _words(text) if (key := word.lower()) in words and key not in also_allowed]


@dataclass(frozen=True)
class Leak:
    """An English word a Vietnamese reader was shown: the word, the text and where the text came from."""

    word: str
    text: str
    where: str

    def __str__(self) -> str:
        return f"English word {self.word!r} in {self.where}:\n    {self.text!r}"


def leaks(texts: list[tuple[str, str]], *, also_allowed: frozenset[str] = frozenset(), limit: int = 20) -> list[Leak]:
    """The English words of (text, where) pairs, the first one of each text, at most ``limit`` texts."""
    found: list[Leak] = []
    for text, where in texts:
        if words := english_in(text, also_allowed=also_allowed):
            found.append(Leak(words[0], text, where))
            if len(found) >= limit:
                break
    return found


def typed_words(*texts: str | None) -> frozenset[str]:
    """The words of what people typed or are called (lowercase): the bot may say them back."""
    return frozenset(word.lower() for text in texts if text for word in _WORD.findall(text))
