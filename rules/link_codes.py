"""Short codes a person can type or say on the phone, for every personal link (issue 9: Zalo has no deep links).

Each personal link — an invitation, a unit's focal-point link, a nomination's endorsement link, a check-in
pass — also has a code of 8 characters from Crockford's base32 alphabet (digits and letters without I, L, O
and U, so nothing is read as something else), shown in two groups: ``K7M2-Q9XD``. 40 bits: too few to be
safe on their own, so every typed miss counts in the per-person throttle of ``rules.guesses``.

A code is derived like the link's token (``rules.links``): an HMAC of the link secret, the kind, the
record's id and the record's nonce. Organisers can print the same code again, and a new nonce revokes the
code with the link. What is stored is :func:`lookup_hash`, an HMAC keyed with the same secret: a plain hash
of 40 bits could be reversed from a copy of the database in minutes, a keyed one cannot.

:func:`parse_code` reads what people type: ``K7M2Q9XD``, ``k7m2-q9xd``, ``K7M2 Q9XD``, look-alikes mapped
(O→0, I and L→1), after the words people put before a code ("mã mời K7M2-Q9XD", "ma moi: k7m2q9xd",
"mã điểm danh …", "code …"). :func:`find_code` is stricter, for a message that may be anything: a code
must be the whole message, or come after such a word, so a name or a word that happens to have 8
letters is not taken for one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from rules.text import fold

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
LENGTH = 8
BITS = 5 * LENGTH
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CANONICAL = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")

# The two groups of four, joined by nothing, a hyphen or dash, a dot or spaces.
_GROUPED = r"(?P<first>[0-9a-z]{4})(?P<separator>[\s\-–—.]*)(?P<second>[0-9a-z]{4})"
# Words people put before a code, folded (no tone marks, lower case): "mã mời", "mã điểm danh", "code"…
_LEAD = (
    r"(?:ma(?:\s+(?:so|moi|giay\s+moi|diem\s+danh|check[\s-]?in|checkin|don\s+vi|dau\s+moi|ung\s+ho|"
    r"xac\s+nhan|code|qr))?|code|invitation\s+code|check[\s-]?in\s+code|unit\s+code|endorsement\s+code)"
    r"(?:\s+(?:cua\s+(?:toi|em|chau|con|ong|ba|anh|chi)|nay))?(?:\s+la)?"
)
# And after it: courtesy ("ạ", "nhé"), thanks.
_TAIL = r"(?:\s+(?:a|ah|nhe|nha|ak|cam\s+on|thanks|thank\s+you))?"
_MESSAGE = re.compile(rf"^(?:(?P<lead>{_LEAD})(?:\s*[:=\-–]\s*|\s+))?{_GROUPED}{_TAIL}\s*[.!]*$")


def derive_code(secret: bytes, kind: str, record_id: int, nonce: str) -> str:
    """The code of one link in its canonical form (``K7M2Q9XD``): deterministic for (secret, kind, id,
    nonce), unguessable without the secret."""
    digest = hmac.new(secret, f"code:{kind}:{record_id}:{nonce}".encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[: BITS // 8], "big")
    return "".join(ALPHABET[(value >> (5 * (LENGTH - 1 - i))) & 31] for i in range(LENGTH))


def format_code(code: str) -> str:
    """``K7M2Q9XD`` → ``K7M2-Q9XD``: two groups, easier to read out and to type."""
    return f"{code[:4]}-{code[4:]}"


def lookup_hash(secret: bytes, code: str) -> str:
    """What is stored for a canonical code, and looked up when someone types it."""
    return hmac.new(secret, f"lookup:{code}".encode("ascii"), hashlib.sha256).hexdigest()


def is_canonical(text: str) -> bool:
    """True for a code as :func:`derive_code` writes it (8 characters of the alphabet, no separator)."""
    return bool(_CANONICAL.fullmatch(text))


def _canonical(first: str, second: str) -> str | None:
    code = (first + second).upper().translate(_LOOK_ALIKES)
    return code if _CANONICAL.fullmatch(code) else None


def _match(text: str) -> re.Match[str] | None:
    return _MESSAGE.match(fold(text))


def parse_code(text: str) -> str | None:
    """The canonical code ``text`` spells in any reasonable form, with or without the words before it;
    None when it spells none (wrong length, a U, other words)."""
    found = _match(text)
    return None if found is None else _canonical(found["first"], found["second"])


def find_code(text: str) -> str | None:
    """The code in a message that may be about anything else: as :func:`parse_code`, but two groups
    separated by a space with nothing before them ("Binh Minh") count only when they hold a digit or are
    typed in capitals, as codes are printed; a name is written otherwise."""
    found = _match(text)
    if found is None:
        return None
    code = _canonical(found["first"], found["second"])
    if code is None or found["lead"] or not found["separator"].isspace():
        return code
    typed = text.strip()
    looks_printed = any(ch.isdigit() for ch in typed) or typed.upper() == typed
    return code if looks_printed else None


@dataclass(frozen=True)
class TypedCode:
    """A code someone typed: its canonical form and the hash it is stored under (rules look it up by that,
    so they need no secret)."""

    value: str
    lookup: str

    @property
    def shown(self) -> str:
        return format_code(self.value)


def typed_code(secret: bytes, code: str) -> TypedCode:
    """``code`` (canonical) ready for a lookup."""
    return TypedCode(code, lookup_hash(secret, code))


__all__ = [
    "ALPHABET",
    "BITS",
    "LENGTH",
    "TypedCode",
    "derive_code",
    "find_code",
    "format_code",
    "is_canonical",
    "lookup_hash",
    "parse_code",
    "typed_code",
]
