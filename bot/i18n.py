"""Translations and locale-aware formatting, one Translator per user and update.

The code holds English msgids with named placeholders (``t("Hello, {name}!", name=...)``); Vietnamese lives
in ``locales/vi/LC_MESSAGES/messages.po``. Catalogs are compiled from the .po files in memory when the
bot starts, so what runs is always what the catalog says. There is no process-global locale: two users
in two languages are served side by side.

``python -m bot.i18n check`` fails when a msgid in the code is missing from a catalog, when a Vietnamese
translation is empty or fuzzy, or when the placeholders of a msgid and its translation differ.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import string
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from rules.i18n import N_

__all__ = ["N_", "Translator", "Translators", "catalog_problems", "load_catalogs"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOCALES_DIR = PROJECT_ROOT / "locales"
DOMAIN = "messages"
SUPPORTED = ("vi", "en")
# Functions whose first argument is a msgid (and second a plural msgid for `plural`).
KEYWORDS = {"t": None, "N_": None, "plural": (1, 2)}
SOURCE_DIRS = ("bot", "handlers", "rules")
ROMAN_QUARTERS = {1: "I", 2: "II", 3: "III", 4: "IV"}


def _placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field}


def _compile(po_path: Path) -> gettext.GNUTranslations:
    with po_path.open("rb") as handle:
        catalog = read_po(handle)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@cache
def load_catalogs(locales_dir: Path = LOCALES_DIR) -> dict[str, gettext.NullTranslations]:
    catalogs: dict[str, gettext.NullTranslations] = {}
    for locale in SUPPORTED:
        po_path = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        catalogs[locale] = _compile(po_path) if po_path.exists() else gettext.NullTranslations()
    return catalogs


# How a Vietnamese office writes a date, where Babel's ``vi`` forms ("15 tháng 3, 2020") differ: in a text
# as the Tây Hồ plan does ("trước ngày 15/3/2020"), and in full as a letter names the day of a meeting
# ("Chủ Nhật, ngày 15 tháng 3 năm 2020"). Other forms and locales are Babel's.
DATE_PATTERNS: dict[str, dict[str, str]] = {
    "vi": {"long": "d/M/y", "full": "EEEE, 'ngày' d 'tháng' M 'năm' y"},
}


@dataclass(frozen=True)
class Translator:
    """Translates and formats for one locale and time zone.

    ``buttons`` says whether the reader can press buttons: on Zalo (no buttons of any kind) a hint says
    "type the number", never "press a button".
    """

    locale: str
    tz: ZoneInfo
    translations: gettext.NullTranslations
    buttons: bool = True

    def __call__(self, msgid: str, /, **values: object) -> str:
        text = self.translations.gettext(msgid)
        return text.format(**values) if values else text

    def plural(self, singular: str, plural: str, n: int, /, **values: object) -> str:
        text = self.translations.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.locale)

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.tz)

    def date(self, day: dt.date | dt.datetime, form: str = "long") -> str:
        """``15/3/2020`` in Vietnamese (``Chủ Nhật, ngày 15 tháng 3 năm 2020`` in full); datetimes are first
        moved to the local time zone."""
        if isinstance(day, dt.datetime):
            day = self.local(day).date()
        pattern = DATE_PATTERNS.get(self.locale, {}).get(form, form)
        return format_date(day, format=pattern, locale=self.locale)

    def time(self, moment: dt.datetime) -> str:
        return format_time(self.local(moment), format="short", locale=self.locale)

    def datetime(self, moment: dt.datetime) -> str:
        """``08:30, 15 tháng 3, 2020`` — time first, as Vietnamese notices write it."""
        local = self.local(moment)
        return self(N_("{time}, {date}"), time=self.time(local), date=self.date(local))

    def full_datetime(self, moment: dt.datetime) -> str:
        return format_datetime(self.local(moment), format="full", locale=self.locale)

    def quarter(self, day: dt.date | dt.datetime) -> str:
        """``Quý II/2020`` (official Vietnamese style, Roman numerals)."""
        if isinstance(day, dt.datetime):
            day = self.local(day).date()
        return self(N_("Quarter {roman}/{year}"), roman=ROMAN_QUARTERS[(day.month - 1) // 3 + 1], year=day.year)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, share: float) -> str:
        return format_percent(share, locale=self.locale)


class Translators:
    """Hands out a Translator per locale; the catalogs are loaded once."""

    def __init__(self, default_locale: str, tz: ZoneInfo, locales_dir: Path = LOCALES_DIR) -> None:
        self.default_locale = default_locale
        self.tz = tz
        self._catalogs = load_catalogs(locales_dir)
        self._translators = {
            (locale, buttons): Translator(locale, tz, translations, buttons)
            for locale, translations in self._catalogs.items()
            for buttons in (True, False)
        }

    def get(self, locale: str | None, *, buttons: bool = True) -> Translator:
        return (
            self._translators.get((locale or self.default_locale, buttons))
            or self._translators[(self.default_locale, buttons)]
        )

    @property
    def default(self) -> Translator:
        return self.get(self.default_locale)


# --- catalog check -----------------------------------------------------------------------------------


def extract_msgids(root: Path = PROJECT_ROOT, dirs: Iterable[str] = SOURCE_DIRS) -> dict[str, str]:
    """Every msgid marked in the code, mapped to where it was first found."""
    found: dict[str, str] = {}
    for directory in dirs:
        for filename, lineno, message, _comments, _context in extract_from_dir(
            root / directory, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            # A plural message is one catalog entry, found under its singular msgid.
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault(msgid, f"{directory}/{filename}:{lineno}")
    return found


def catalog_problems(locales_dir: Path = LOCALES_DIR, root: Path = PROJECT_ROOT) -> list[str]:
    """What is wrong with the catalogs, one line each; empty when they are complete."""
    problems: list[str] = []
    in_code = extract_msgids(root)
    for locale in SUPPORTED:
        po_path = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po_path.exists():
            problems.append(f"{po_path}: missing (run make babel)")
            continue
        with po_path.open("rb") as handle:
            catalog: Catalog = read_po(handle)
        for msgid, where in sorted(in_code.items()):
            if msgid not in catalog:
                problems.append(f"{locale}: not in the catalog (run make babel): {msgid!r} from {where}")
        if locale != "vi":
            continue
        for message in catalog:
            if not message.id:
                continue
            ids = [str(i) for i in (message.id if isinstance(message.id, tuple | list) else (message.id,))]
            strings = [
                str(s or "")
                for s in (message.string if isinstance(message.string, tuple | list) else (message.string,))
            ]
            if message.fuzzy or not all(strings):
                problems.append(f"vi: untranslated or fuzzy: {ids[0]!r}")
                continue
            wanted = set().union(*(_placeholders(i) for i in ids))
            for translated in strings:
                if _placeholders(translated) != wanted:
                    problems.append(
                        f"vi: placeholders differ in {ids[0]!r}: {sorted(wanted)} vs {sorted(_placeholders(translated))}"
                    )
    return problems


def main(argv: list[str]) -> int:
    if argv[:1] != ["check"]:
        print("usage: python -m bot.i18n check", file=sys.stderr)
        return 2
    problems = catalog_problems()
    for line in problems:
        print(line)
    print(f"catalog check: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
