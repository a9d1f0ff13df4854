"""How the bot addresses a delegate or an exemplar: formally, "ông" or "bà" by the gender on record.

A Vietnamese office writes to a delegate "Kính gửi ông Lê Văn Hùng," and then calls him "ông" (never
"bạn"); "ông/bà" when the gender is not known. Citizens and nominators are addressed in the friendly
register and do not go through this module. The chat messages (the invitation card, answers,
reminders, promotions, substitute notices) and the printed giấy mời (``rules.printing``) take their
words from here, so a delegate is called the same in both.

In English the honorific is a title before the name ("Dear Mr Lê Văn Hùng,"), so a message that uses
``{honorific}`` names the person too; the Vietnamese text may then use ``{honorific}`` alone for "you".
"""

from __future__ import annotations

from typing import Protocol

from rules.i18n import N_

HONORIFICS = {"nam": N_("Mr"), "nu": N_("Ms")}
HONORIFIC = N_("Mr/Ms")

# The printed letter's "Kính gửi: Ông …" capitalises the title after the colon, as letters do.
SALUTATIONS = {"nam": N_("To: Mr {name}"), "nu": N_("To: Ms {name}")}
SALUTATION = N_("To: Mr/Ms {name}")
CLOSINGS = {
    "nam": N_("We respectfully invite you, Sir, to attend."),
    "nu": N_("We respectfully invite you, Madam, to attend."),
}
CLOSING = N_("We respectfully invite you to attend.")


class Words(Protocol):
    """Translates a msgid for the reader (``bot.i18n.Translator`` fits)."""

    def __call__(self, msgid: str, /, **values: object) -> str: ...


def honorific(words: Words, gender: str | None) -> str:
    """ "ông", "bà", or "ông/bà" when the gender is not on record ("Mr", "Ms", "Mr/Ms" in English)."""
    return words(HONORIFICS.get(gender or "", HONORIFIC))


def salutation(words: Words, gender: str | None, name: str) -> str:
    """The printed letter's ``Kính gửi: Ông Nguyễn Văn An``; "Ông/Bà" when the gender is not on record."""
    return words(SALUTATIONS.get(gender or "", SALUTATION), name=name)


def closing(words: Words, gender: str | None) -> str:
    """The printed letter's ``Trân trọng kính mời ông đến dự./.``; "ông/bà" without the gender."""
    return words(CLOSINGS.get(gender or "", CLOSING))
