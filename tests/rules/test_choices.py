"""Typed answers to a choice: number, label, label without marks, unique beginning."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from rules.choices import Option, match_option

RSVP = [Option("yes", "Tham dự"), Option("no", "Không tham dự"), Option("sub", "Cử người thay thế")]


def test_by_number():
    assert match_option(RSVP, "2") == RSVP[1]
    assert match_option(RSVP, " 3. ") == RSVP[2]
    assert match_option(RSVP, "4") is None
    assert match_option(RSVP, "0") is None


def test_by_label_in_any_case_and_without_marks():
    assert match_option(RSVP, "khong tham du") == RSVP[1]
    assert match_option(RSVP, "THAM DỰ") == RSVP[0]
    assert match_option(RSVP, unicodedata.normalize("NFD", "Không tham dự")) == RSVP[1]


def test_by_unique_beginning_only():
    assert match_option(RSVP, "cu nguoi") == RSVP[2]
    assert match_option([Option("a", "Tham dự"), Option("b", "Tham khảo")], "tham") is None


def test_aliases():
    options = [Option("mong", "Mông", aliases=("H'Mông", "Mèo"))]
    assert match_option(options, "hmong") is None  # not a beginning of any name
    assert match_option(options, "h'mong") == options[0]
    assert match_option(options, "meo") == options[0]


def test_nothing_matches_empty_or_unrelated():
    assert match_option(RSVP, "") is None
    assert match_option(RSVP, "🙂") is None
    assert match_option(RSVP, "có lẽ") is None


@given(st.text())
def test_never_raises_and_returns_an_offered_option(answer):
    assert match_option(RSVP, answer) in (None, *RSVP)
