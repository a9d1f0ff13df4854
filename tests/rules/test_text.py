"""Vietnamese text: folding, normalisation, dictionary order."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules import text
from rules.text import MAX_ID, clean, fold, is_meaningful, name_sort_key, parse_id, sort_key

VIETNAMESE = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ "
)


def test_fold_drops_marks_and_maps_d():
    assert fold("Nguyễn Văn Đức") == fold("NGUYEN van duc") == "nguyen van duc"
    assert fold("Đặng") == "dang"
    assert fold("H’Mông") == fold("h'mong")


def test_clean_normalises_nfd_and_whitespace():
    nfd = unicodedata.normalize("NFD", "  Nguyễn   Văn\tĐức ")
    assert clean(nfd) == "Nguyễn Văn Đức"
    assert unicodedata.is_normalized("NFC", clean(nfd))


@given(VIETNAMESE)
def test_fold_ignores_normal_form_and_is_idempotent(text):
    assert fold(unicodedata.normalize("NFD", text)) == fold(text)
    assert fold(fold(text)) == fold(text)
    assert fold(text).isascii() or not text.isascii()


@given(VIETNAMESE)
def test_sort_key_is_the_same_for_nfc_and_nfd(text):
    assert sort_key(unicodedata.normalize("NFD", text))[:2] == sort_key(text)[:2]


def test_dictionary_order():
    words = ["Ư", "Ôn", "Đỗ", "Bạ", "Ba", "Bá", "Ân", "Ăn", "An", "Dương", "Bà", "Ơn", "On", "Bả", "Bã", "U", "Ảnh"]
    assert sorted(words, key=sort_key) == [
        "An", "Ảnh", "Ăn", "Ân", "Ba", "Bà", "Bả", "Bã", "Bá", "Bạ", "Dương", "Đỗ", "On", "Ôn", "Ơn", "U", "Ư",
    ]  # fmt: skip


def test_names_sort_by_given_name_first():
    names = ["Trần Văn Bình", "Nguyễn Thị An", "Lê Văn An"]
    # given name first (An, An, Bình), then the middle name (Thị before Văn)
    assert sorted(names, key=name_sort_key) == ["Nguyễn Thị An", "Lê Văn An", "Trần Văn Bình"]


def test_meaningful_text_needs_a_letter_or_digit():
    assert not is_meaningful("👍🎉 !!")
    assert is_meaningful("Lan 👍")


def test_a_database_id_is_1_to_2_63_minus_1_in_ascii_digits():
    assert parse_id("42") == parse_id(" #42 ") == 42
    assert parse_id(str(MAX_ID)) == MAX_ID
    for not_an_id in ("", "0", "-5", "4.2", "42a", "٤٢", "²", str(MAX_ID + 1), "9" * 25, "9" * 5000):
        assert parse_id(not_an_id) is None, not_an_id


def test_phones_are_written_as_people_write_them_and_masked_where_the_full_number_is_not_needed():
    from rules.text import format_phone

    assert format_phone("+84912345678") == "0912 345 678"
    assert format_phone("+84912345678", masked=True) == "0912 *** 678"
    assert format_phone("+842438253536", masked=True) == "024 **** 3536"
    assert format_phone("+4930123456", masked=True) == "********456"
    assert format_phone(None, masked=True) == ""


@pytest.mark.parametrize(
    ("first", "last", "shown"),
    [
        ("Hùng", "Lê Văn", "Lê Văn Hùng"),  # Telegram's usual split: given name first
        ("Lê Văn", "Hùng", "Lê Văn Hùng"),  # already in Vietnamese order
        ("Lê Văn Hùng", None, "Lê Văn Hùng"),  # the whole name in the first field
        ("Mai", "Nguyễn Thị", "Nguyễn Thị Mai"),  # a given name that is also a family name
        ("  Lan ", " nguyễn  thị ", "nguyễn thị Lan"),
    ],
)
def test_person_name_puts_the_family_name_first(first, last, shown):
    assert text.person_name(first, last) == shown


@pytest.mark.parametrize(
    ("stored", "shown", "masked"),
    [
        ("+84912345678", "0912 345 678", "0912 *** 678"),
        ("+84321234567", "0321 234 567", "0321 *** 567"),
        ("+842438253536", "024 3825 3536", "024 **** 3536"),
        ("+842363822123", "0236 382 2123", "0236 *** 2123"),
        ("+33123456789", "+33123456789", "*********789"),
        (None, "", ""),
    ],
)
def test_format_phone_shows_a_stored_number_as_people_write_it(stored, shown, masked):
    assert text.format_phone(stored) == shown
    assert text.format_phone(stored, masked=True) == masked
