"""Vietnamese text handling: normalisation at the boundary, folding for matching, dictionary-order sorting.

Every inbound string passes through :func:`clean` once (NFC, trimmed, whitespace collapsed, typographic
apostrophes made plain). Names and typed choices are matched on :func:`fold`; lists of names are sorted
with :func:`sort_key`, which follows the Vietnamese dictionary order (a < ă < â, d < đ, …; tones ordered
level, huyền, hỏi, ngã, sắc, nặng) without needing ICU on the machine.
"""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})

# Combining marks that carry a tone in Vietnamese, in dictionary order (level tone has none).
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Combining marks that make a separate letter: breve (ă), circumflex (â ê ô), horn (ơ ư).
_LETTER_MARKS = {"\u0306": 1, "\u0302": 2, "\u031b": 3}


def nfc(text: str) -> str:
    """The NFC form of ``text``: what every stored and compared string must be."""
    return unicodedata.normalize("NFC", text)


def clean(text: str) -> str:
    """Normalise user input: NFC, plain apostrophes, whitespace collapsed and trimmed."""
    return _WHITESPACE.sub(" ", nfc(text).translate(_APOSTROPHES)).strip()


def fold(text: str) -> str:
    """The matching key of ``text``: tone and letter marks dropped, đ→d, case folded.

    ``fold("Nguyễn Văn Đức") == fold("NGUYEN van duc")``. Different names can share a key
    (Đào/Dao), so callers rank exact matches first.
    """
    decomposed = unicodedata.normalize("NFD", clean(text))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return stripped.replace("đ", "d").replace("Đ", "D").casefold()


def _letter_key(ch: str) -> tuple[str, int, int]:
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0]
    letter_variant = 0
    tone = 0
    for mark in decomposed[1:]:
        if mark in _LETTER_MARKS:
            letter_variant = _LETTER_MARKS[mark]
        elif mark in _TONES:
            tone = _TONES[mark]
    if base in "đĐ":
        base, letter_variant = "d", 1
    return base.casefold(), letter_variant, tone


def sort_key(text: str) -> tuple[tuple[tuple[str, int], ...], tuple[int, ...], str]:
    """A key that sorts Vietnamese strings in dictionary order.

    Letters compare first (with ă, â, đ, ê, ô, ơ, ư as letters of their own), tones break ties
    (Ba < Bà < Bả < Bã < Bá < Bạ), and the original string makes the order total.
    """
    letters = []
    tones = []
    for ch in clean(text):
        base, variant, tone = _letter_key(ch)
        letters.append((base, variant))
        tones.append(tone)
    return tuple(letters), tuple(tones), text


def name_sort_key(full_name: str) -> tuple[object, ...]:
    """Sort people the way Vietnamese lists do: given name, then middle names, then family name."""
    words = clean(full_name).split(" ")
    return tuple(sort_key(word) for word in reversed(words))


def is_meaningful(text: str) -> bool:
    """True when ``text`` holds at least one letter or digit (not only emoji, punctuation or spaces)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)


# Database ids are INTEGERs (32 bits on PostgreSQL): 1 … 2**31 - 1, written with at most 10 ASCII digits.
# A bigger number is no id of ours; passed on, PostgreSQL's driver would refuse it with an error.
MAX_ID = 2**31 - 1
_ID = re.compile(r"[0-9]{1,10}")


def parse_id(text: str) -> int | None:
    """The database id ``text`` spells (``"42"``, ``" #42 "``), or None when it is not one.

    Typed numbers and callback data are checked here before they reach a query: a 25-digit number, a
    negative one, ``0``, digits of another script (``"٤٢"``) or anything else is no id, never an
    OverflowError from the driver.
    """
    digits = text.strip().removeprefix("#")
    if not _ID.fullmatch(digits):
        return None
    value = int(digits)
    return value if 1 <= value <= MAX_ID else None


# Family names common enough in Vietnam that a Telegram first name starting with one is already a full name
# in Vietnamese order ("Lê Văn" + "Hùng"), not a given name ("Hùng" + "Lê Văn").
FAMILY_NAMES = frozenset(
    fold(name)
    for name in [
        "Nguyễn",
        "Trần",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
        "Đào",
        "Đoàn",
        "Vương",
        "Trịnh",
        "Trương",
        "Đinh",
        "Lâm",
        "Phùng",
        "Mai",
        "Tô",
        "Hà",
        "Tạ",
        "Chu",
        "Cao",
        "Lương",
        "Triệu",
        "Kiều",
        "Quách",
        "Thái",
        "Lục",
        "Đàm",
        "Khổng",
        "Mạc",
        "Tăng",
        "La",
        "Hứa",
        "Lưu",
        "Nông",
        "Lò",
        "Thân",
        "Tống",
        "Giáp",
        "Ông",
        "Âu",
        "Doãn",
        "Lại",
        "Kim",
        "Bạch",
        "Nghiêm",
        "Đồng",
        "Trình",
        "Hàn",
    ]
)


def person_name(first_name: str, last_name: str | None) -> str:
    """A display name in Vietnamese order (family name first) from a first and a last name.

    Telegram asks for a first name and a last name separately; a Vietnamese person usually gives the given
    name as the first ("Hùng") and the family and middle names as the last ("Lê Văn"): shown "Lê Văn Hùng",
    never "Hùng Lê Văn". When the first name already begins with a family name ("Lê Văn" + "Hùng", or the
    whole name in the first field), the order given is kept.
    """
    first = clean(first_name)
    last = clean(last_name or "")
    if not last:
        return first
    if not first:
        return last
    if fold(first.split(" ")[0]) in FAMILY_NAMES and fold(last.split(" ")[0]) not in FAMILY_NAMES:
        return f"{first} {last}"
    return f"{last} {first}"


_E164_VN = re.compile(r"\+84(\d{9,10})")


def format_phone(e164: str | None, masked: bool = False) -> str:
    """A stored Vietnamese number (+84…) as people write it: ``0912 345 678``, ``024 3825 3536``.

    ``masked`` hides the middle group (``0912 *** 678``) where the full number is not needed. A number
    that is not a Vietnamese E.164 one is shown as stored (masked: all but its last three digits); None
    shows as an empty string.
    """
    if not e164:
        return ""
    match = _E164_VN.fullmatch(e164.strip())
    if match is None:
        return "*" * max(len(e164) - 3, 0) + e164[-3:] if masked else e164
    national = "0" + match.group(1)
    if len(national) == 10:  # a mobile: 0912 345 678
        groups = [national[:4], national[4:7], national[7:]]
    elif national[:3] in {"024", "028"}:  # Hà Nội, Hồ Chí Minh City: 024 3825 3536
        groups = [national[:3], national[3:7], national[7:]]
    else:  # another province's landline: 0236 382 2123
        groups = [national[:4], national[4:7], national[7:]]
    if masked:
        groups[1] = "*" * len(groups[1])
    return " ".join(groups)


def title_for(locale: str, title: str, title_en: str | None) -> str:
    """The title a reader sees: the English one in English mode when the plan gives it, else the title."""
    return title_en if locale == "en" and title_en else title
