"""Reference lists (titles, movements, ethnic groups, religions, …) loaded from versioned YAML.

Each list is one file under ``data/reference/`` with ``source``, ``valid_from``, ``valid_to``, ``version``
and ``entries``; every entry has an ascii ``code``, a Vietnamese ``label``, a ``label_en`` and optional
``aliases``. The lists change with the law, so they are data, checked by one schema when loaded:
a bad file stops the load with a :class:`DataFileError` whose text is one line naming the file, the field
and what was expected there.

The field types defined here (codes, labels, dates, whole numbers, shares) are shared with
:mod:`rules.plans`, so both kinds of file report problems in the same words.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from rules import data_yaml
from rules.i18n import N_, Wording
from rules.text import clean, fold, nfc

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
REFERENCE_DIR = DATA_DIR / "reference"


# --- errors --------------------------------------------------------------------------------------------


class DataFileError(Exception):
    """A data file (reference list or plan) is missing, unreadable or does not fit its schema.

    ``str(error)`` is one line for an operator: ``data/reference/x.yaml: entries[3].code: expected …``;
    :meth:`worded` is that line in the operator's language.
    """

    def __init__(self, file: Path | str, field_path: str | Wording, expected: str | Wording, *, more: int = 0) -> None:
        self.file = display_path(file)
        self.field_path = field_path
        self.expected = expected if isinstance(expected, Wording) else Wording(expected)
        # How many further problems the validator found; fix the first, then load again.
        self.more = more
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.worded()

    def worded(self, t: Callable[..., str] | None = None) -> str:
        """The problem in one line, worded by ``t`` (a translator; English without one)."""
        where = self.file
        if self.field_path:
            field_path = self.field_path
            where = f"{self.file}: {field_path.worded(t) if isinstance(field_path, Wording) else field_path}"
        return Wording.of(N_("{where}: expected {what}"), where=where, what=self.expected).worded(t)


def display_path(path: Path | str) -> str:
    """``path`` relative to the project root when it lies inside it (``data/plans/x.yaml``), else as given."""
    candidate = Path(path)
    try:
        return candidate.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def field_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as the path an editor would look for: ``conferences[1].pools[0].share``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "[key]":
            path += f".{part}" if path else str(part)
    return path


_PYDANTIC_EXPECTATIONS = {
    "missing": N_("a value (this field is required)"),
    "extra_forbidden": N_("no field of this name (check the spelling)"),
    "bool_type": N_("true or false"),
    "bool_parsing": N_("true or false"),
    "list_type": N_("a list"),
    "dict_type": N_("a mapping of names to values"),
    "model_type": N_("a mapping of field names to values"),
    "model_attributes_type": N_("a mapping of field names to values"),
    "string_type": N_("text"),
    "invalid_key": N_("field names written as text"),
}


def _expectation(error: Any) -> Wording:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "expected":
        what = ctx["expected"]
        return what if isinstance(what, Wording) else Wording(str(what))
    if kind == "literal_error":
        return Wording.of(N_("one of {choices}"), choices=ctx["expected"])
    if kind == "too_short":
        return Wording.of(N_("at least {count} item(s)"), count=ctx["min_length"])
    if kind in _PYDANTIC_EXPECTATIONS:
        return Wording(_PYDANTIC_EXPECTATIONS[kind])
    message = str(error["msg"])
    return Wording(message[:1].lower() + message[1:])


def error_from_validation(file: Path | str, exc: ValidationError) -> DataFileError:
    """The first problem pydantic found, as a :class:`DataFileError` (``more`` counts the others)."""
    errors = exc.errors()
    first = errors[0]
    return DataFileError(file, field_path(tuple(first["loc"])), _expectation(first), more=len(errors) - 1)


def read_yaml(path: Path) -> tuple[Any, bytes]:
    """The parsed YAML mapping in ``path`` and its raw bytes; a :class:`DataFileError` if it cannot be read."""
    try:
        with path.open("rb") as file:
            raw = file.read(data_yaml.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DataFileError(path, "", Wording(N_("a file at this path"))) from None
    except OSError as exc:
        raise DataFileError(path, "", Wording.of(N_("a readable file ({problem})"), problem=exc.strerror)) from None
    if len(raw) > data_yaml.MAX_FILE_BYTES:
        size = Wording.of(N_("a file of at most {mb} MB"), mb=data_yaml.MAX_FILE_BYTES // 2**20)
        raise DataFileError(path, "", size)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataFileError(path, "", Wording(N_("UTF-8 text"))) from None
    try:
        data = data_yaml.parse(text)
    except data_yaml.YamlProblem as problem:
        raise DataFileError(path, problem.where, problem.expected) from None
    if not isinstance(data, dict):
        raise DataFileError(path, "", Wording(N_("a YAML mapping of field names to values at the top level")))
    return data, raw


# --- field types shared by the data files ------------------------------------------------------------

_SNAKE_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")
# What the database columns hold: labels in VARCHAR(255), versions in VARCHAR(32), counts in INTEGER
# (far below its 2,147,483,647: no plan has a million seats).
MAX_LABEL_CHARS = 255
MAX_VERSION_CHARS = 32
MAX_WHOLE_NUMBER = 1_000_000
MIN_YEAR, MAX_YEAR = 1900, 2999


def expected(what: str, /, **values: object) -> PydanticCustomError:
    """A validation error that renders as ``expected <what>``: ``what`` is a msgid, with its ``values``."""
    return PydanticCustomError("expected", "{expected}", {"expected": Wording.of(what, **values)})


def _snake_code(value: object) -> str:
    if isinstance(value, str) and _SNAKE_CODE.fullmatch(value):
        return value
    raise expected(N_("an ascii snake_case code such as nong_thon_moi"))


def _label(value: object) -> str:
    if isinstance(value, str) and clean(value):
        if len(clean(value)) > MAX_LABEL_CHARS:
            raise expected(
                N_("at most {limit} characters (this has {count})"), limit=MAX_LABEL_CHARS, count=len(clean(value))
            )
        return clean(value)
    raise expected(N_("non-empty text"))


def _text(value: object) -> str:
    if isinstance(value, str) and value.strip():
        return nfc(value).strip()
    raise expected(N_("non-empty text"))


def _version(value: object) -> str:
    if isinstance(value, str) and value.strip() and len(value.strip()) <= MAX_VERSION_CHARS:
        return value.strip()
    raise expected(
        N_('a version of up to {limit} characters written as quoted text, e.g. "2020.1"'), limit=MAX_VERSION_CHARS
    )


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as exc:
            _refuse_impossible(value, exc, N_("a date that exists"))
    raise expected(N_("a date written YYYY-MM-DD"))


def _aware_datetime(value: object) -> dt.datetime:
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text.strip())
        except ValueError as exc:
            _refuse_impossible(text, exc, N_("a date and time that exists"))
    if isinstance(value, dt.datetime) and value.utcoffset() is not None:
        if not MIN_YEAR <= value.year <= MAX_YEAR:
            # Outside these years a time may not even convert to UTC (year 1 at +07:00 is year 0 in UTC).
            raise expected(N_("a date and time between the years {first} and {last}"), first=MIN_YEAR, last=MAX_YEAR)
        return value
    raise expected(N_("a date and time with its UTC offset, e.g. 2020-03-14T23:59:59+07:00"))


# What Python says of a date or time that does not exist, as msgids (it says them in English only).
_IMPOSSIBLE = frozenset(
    {
        N_("day is out of range for month"),
        N_("month must be in 1..12"),
        N_("year 0 is out of range"),
        N_("hour must be in 0..23"),
        N_("minute must be in 0..59"),
        N_("second must be in 0..59"),
    }
)


def _refuse_impossible(text: str, exc: ValueError, what: str) -> None:
    """Raise "expected <what>" when ``text`` is written the right way but names no real day or time
    (29 February 2027, 25:00); return for text not written as a date at all."""
    problem: str | Wording = str(exc)
    if str(problem).startswith("Invalid isoformat string"):
        return
    if "offset" in str(problem):
        problem = Wording(N_("the UTC offset must be under 24 hours"))
    elif problem in _IMPOSSIBLE:
        problem = Wording(str(problem))
    raise expected(N_("{what} ({text}: {problem})"), what=Wording(what), text=text.strip(), problem=problem)


def whole_number(minimum: int, maximum: int = MAX_WHOLE_NUMBER) -> Callable[[object], int]:
    """A validator for whole numbers from ``minimum`` to ``maximum`` (booleans and ``300.0`` are refused)."""

    def check(value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum:
            return value
        raise expected(N_("a whole number from {minimum} to {maximum}"), minimum=minimum, maximum=maximum)

    return check


def _share(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1 and round(value, 4) == value:
        return float(value)
    raise expected(N_("a share above 0 and at most 1 with up to 4 decimals, e.g. 0.30"))


SnakeCode = Annotated[str, PlainValidator(_snake_code)]
Label = Annotated[str, PlainValidator(_label)]
Text = Annotated[str, PlainValidator(_text)]
Version = Annotated[str, PlainValidator(_version)]
Date = Annotated[dt.date, PlainValidator(_date)]
AwareDateTime = Annotated[dt.datetime, PlainValidator(_aware_datetime)]
WholeNumber = Annotated[int, PlainValidator(whole_number(1))]
Count = Annotated[int, PlainValidator(whole_number(0))]
Share = Annotated[float, PlainValidator(_share)]


class StrictModel(BaseModel):
    """A data-file model: unknown fields are typos, so they are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_validity(valid_from: dt.date | None, valid_to: dt.date | None) -> None:
    if valid_from is not None and valid_to is not None and valid_to < valid_from:
        raise expected(N_("valid_to on or after valid_from"))


def is_active(valid_from: dt.date | None, valid_to: dt.date | None, on: dt.date) -> bool:
    """Whether ``on`` lies in the validity window; both ends are inclusive, ``None`` is open."""
    return (valid_from is None or valid_from <= on) and (valid_to is None or on <= valid_to)


# --- entries -------------------------------------------------------------------------------------------


class RefEntry(StrictModel):
    """One item of a reference list. ``valid_to`` is the last day the item applies (inclusive)."""

    code: SnakeCode
    label: Label
    label_en: Label
    aliases: tuple[Label, ...] = ()
    valid_from: Date | None = None
    valid_to: Date | None = None
    note: Text | None = None

    @model_validator(mode="after")
    def _validity(self) -> RefEntry:
        check_validity(self.valid_from, self.valid_to)
        return self


class TitleEntry(RefEntry):
    kind: Literal["emulation_title", "commendation", "honorary_title", "local_category"]
    applies_to: tuple[Literal["individual", "collective", "household"], ...] = Field(min_length=1)


class MovementEntry(RefEntry):
    scope: Literal["national", "city", "district", "sector", "mass_org", "other"]
    launched_by: Label | None = None


class EthnicGroupEntry(RefEntry):
    minority: bool


class OccupationGroupEntry(RefEntry):
    # Counted as "người trực tiếp sản xuất" (direct producer) in the balance report.
    direct_producer: bool


EntryT = TypeVar("EntryT", bound=RefEntry)


class RefFile(StrictModel, Generic[EntryT]):
    """The schema of one reference file."""

    source: Text
    valid_from: Date
    valid_to: Date | None = None
    version: Version
    entries: tuple[EntryT, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _validity(self) -> RefFile[EntryT]:
        check_validity(self.valid_from, self.valid_to)
        return self


# --- lists ---------------------------------------------------------------------------------------------


def search_key(text: str) -> str:
    """The folded key with everything but letters and digits removed: "H’Mông", "Hmông" → ``hmong``."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def _accented_key(text: str) -> str:
    return "".join(ch for ch in clean(text).casefold() if ch.isalnum())


class RefList(Generic[EntryT]):
    """One loaded reference list: its entries in file order, looked up by code or searched by name."""

    def __init__(self, name: str, file: RefFile[EntryT]) -> None:
        self.name = name
        self.source = file.source
        self.valid_from = file.valid_from
        self.valid_to = file.valid_to
        self.version = file.version
        self.entries: tuple[EntryT, ...] = file.entries
        self._by_code = {entry.code: entry for entry in file.entries}
        # Per entry, the (folded, accented) keys of its code, label and aliases, which search() compares.
        self._keys = [
            [(search_key(name), _accented_key(name)) for name in (entry.code, entry.label, *entry.aliases)]
            for entry in file.entries
        ]

    def __iter__(self) -> Iterator[EntryT]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> EntryT:
        return self._by_code[code]

    def get(self, code: str) -> EntryT | None:
        """The entry with ``code``, or ``None``."""
        return self._by_code.get(code)

    def codes(self) -> tuple[str, ...]:
        return tuple(self._by_code)

    def active(self, on: dt.date) -> list[EntryT]:
        """The entries in force on ``on``: inside both the file's and the entry's validity windows."""
        if not is_active(self.valid_from, self.valid_to, on):
            return []
        return [entry for entry in self.entries if is_active(entry.valid_from, entry.valid_to, on)]

    def search(self, text: str) -> list[EntryT]:
        """Entries whose label, aliases or code match ``text``, best first.

        Matching ignores tone marks, đ/d, case, spaces, hyphens and apostrophes ("hmong", "H’Mông" and
        "meo" all find Mông). Exact matches come first, then prefixes, then substrings; within a rank an
        exact match with the same diacritics comes before a merely folded one, then file order.
        """
        query = search_key(text)
        if not query:
            return []
        accented = _accented_key(text)
        ranked: list[tuple[int, int, int, EntryT]] = []
        for index, (entry, keys) in enumerate(zip(self.entries, self._keys, strict=True)):
            best: tuple[int, int] | None = None
            for key, accented_key in keys:
                if key == query:
                    rank = (0, 0 if accented_key == accented else 1)
                elif key.startswith(query):
                    rank = (1, 0)
                elif query in key:
                    rank = (2, 0)
                else:
                    continue
                best = rank if best is None else min(best, rank)
            if best is not None:
                ranked.append((best[0], best[1], index, entry))
        ranked.sort(key=lambda item: item[:3])
        return [entry for *_, entry in ranked]


@dataclass(frozen=True)
class ReferenceData:
    """All reference lists, each a :class:`RefList`."""

    titles: RefList[TitleEntry]
    movements: RefList[MovementEntry]
    ethnic_groups: RefList[EthnicGroupEntry]
    religions: RefList[RefEntry]
    occupation_groups: RefList[OccupationGroupEntry]
    economic_sectors: RefList[RefEntry]
    genders: RefList[RefEntry]


# attribute of ReferenceData -> (file name, entry schema)
REFERENCE_FILES: dict[str, tuple[str, type[RefEntry]]] = {
    "titles": ("titles.yaml", TitleEntry),
    "movements": ("movements.yaml", MovementEntry),
    "ethnic_groups": ("ethnic_groups.yaml", EthnicGroupEntry),
    "religions": ("religions.yaml", RefEntry),
    "occupation_groups": ("occupation_groups.yaml", OccupationGroupEntry),
    "economic_sectors": ("economic_sectors.yaml", RefEntry),
    "genders": ("genders.yaml", RefEntry),
}


def _check_entries(path: Path, entries: tuple[RefEntry, ...]) -> None:
    """Codes are unique, and no name (label or alias) of one entry is a name of another."""
    code_at: dict[str, int] = {}
    name_at: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.code in code_at:
            raise DataFileError(
                path,
                f"entries[{index}].code",
                Wording.of(
                    N_("a code no other entry uses ('{code}' is also entries[{other}])"),
                    code=entry.code,
                    other=code_at[entry.code],
                ),
            )
        code_at[entry.code] = index
        names = [("label", entry.label)] + [(f"aliases[{i}]", alias) for i, alias in enumerate(entry.aliases)]
        for where, name in names:
            key = search_key(name)
            other = name_at.setdefault(key, index)
            if other != index:
                raise DataFileError(
                    path,
                    f"entries[{index}].{where}",
                    Wording.of(
                        N_("a name no other entry uses ('{name}' also names entries[{other}])"), name=name, other=other
                    ),
                )


def load_reference_file(path: Path, entry_type: type[EntryT]) -> RefFile[EntryT]:
    """One reference file, validated against ``RefFile[entry_type]``."""
    data, _raw = read_yaml(path)
    try:
        file = RefFile[entry_type].model_validate(data)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise error_from_validation(path, exc) from None
    _check_entries(path, file.entries)
    return file


def load_reference(directory: Path = REFERENCE_DIR) -> ReferenceData:
    """Load and validate every reference list in ``directory``; the first bad file raises DataFileError."""
    lists: dict[str, RefList[Any]] = {}
    for attribute, (file_name, entry_type) in REFERENCE_FILES.items():
        lists[attribute] = RefList(attribute, load_reference_file(directory / file_name, entry_type))
    return ReferenceData(**lists)


@functools.lru_cache(maxsize=1)
def reference() -> ReferenceData:
    """The project's reference data, loaded once per process."""
    return load_reference()


__all__ = [
    "DATA_DIR",
    "REFERENCE_DIR",
    "DataFileError",
    "EthnicGroupEntry",
    "MovementEntry",
    "OccupationGroupEntry",
    "RefEntry",
    "RefFile",
    "RefList",
    "ReferenceData",
    "TitleEntry",
    "load_reference",
    "reference",
    "search_key",
]
