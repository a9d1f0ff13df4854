"""Texts for channels without buttons: 2000-character pieces and numbered menus."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rules.channel_text import choice_numbers, numbered_menu, split_text, text_length, words

LETTERS = "aăâbcdđeêghiklmnoôơpqrstuưvxyAĐƠàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ"
WORD = st.text(alphabet=LETTERS + "0123456789.,:!?🌸🇻🇳👍🏽", min_size=1, max_size=12)
SEPARATOR = st.sampled_from([" ", "  ", "\n", "\n\n", " \n \n", "\t", "\u00a0", "\r\n"])
TEXT = st.lists(st.tuples(WORD, SEPARATOR), max_size=60).map(lambda parts: "".join(w + s for w, s in parts))


def _gaps(text: str, pieces: list[str]) -> list[str]:
    """What lies between consecutive pieces in ``text`` (and before the first, after the last)."""
    gaps, position = [], 0
    for piece in pieces:
        found = text.index(piece, position)
        gaps.append(text[position:found])
        position = found + len(piece)
    gaps.append(text[position:])
    return gaps


@given(TEXT, st.integers(min_value=2, max_value=80))
@example("Xin chào", 2000)
def test_pieces_fit_are_not_empty_and_rebuild_the_text(text: str, limit: int) -> None:
    pieces = split_text(text, limit)

    assert all(1 <= text_length(piece) <= limit for piece in pieces)
    assert all(piece == piece.strip(" \t\r\n") for piece in pieces)
    # Joined back, the pieces are the text: only whitespace was dropped, and only at the cuts.
    assert all(not gap.strip() for gap in _gaps(text, pieces))
    assert ("".join(pieces) == "") == (not text.strip())


@given(TEXT, st.integers(min_value=2, max_value=80))
def test_no_word_is_cut_when_every_word_fits(text: str, limit: int) -> None:
    if any(text_length(word) > limit for word in words(text)):
        return
    pieces = split_text(text, limit)

    assert [word for piece in pieces for word in words(piece)] == words(text)


@given(st.text(alphabet=LETTERS, min_size=1, max_size=300), st.integers(min_value=2, max_value=40))
def test_a_word_longer_than_the_limit_is_the_only_thing_cut(word: str, limit: int) -> None:
    pieces = split_text(f"Mở {word} nhé", limit)

    assert all(text_length(piece) <= limit for piece in pieces)
    assert "".join(pieces).replace(" ", "") == f"Mở{word}nhé"


def test_a_cut_prefers_a_paragraph_then_a_line_then_a_space() -> None:
    first = "Đoạn một, câu một. Câu hai."
    second_line = "Dòng hai của đoạn một."

    assert split_text(f"{first}\n{second_line}\n\nĐoạn hai.", 60) == [f"{first}\n{second_line}", "Đoạn hai."]
    assert split_text(f"{first}\n{second_line} Và thêm nữa.", 60) == [first, f"{second_line} Và thêm nữa."]
    assert split_text("Một hai ba bốn năm sáu", 12) == ["Một hai ba", "bốn năm sáu"]


def test_whitespace_at_the_cuts_and_the_ends_is_dropped() -> None:
    assert split_text("  \n\n  ") == []
    assert split_text("") == []
    assert split_text("\n  Chào bạn  \n") == ["Chào bạn"]
    assert split_text("một   \n \n   hai", 5) == ["một", "hai"]


def test_a_long_link_is_cut_hard_only_because_it_cannot_fit() -> None:
    link = "https://example.org/" + "x" * 30

    pieces = split_text(f"Xem {link} ngay", 20)

    assert pieces == ["Xem", link[:20], link[20:40], f"{link[40:]} ngay"]


def test_a_no_break_space_holds_its_words_together() -> None:
    assert split_text("Hạn chót 15\u00a0tháng\u00a03", 14) == ["Hạn chót", "15\u00a0tháng\u00a03"]


def test_emoji_count_two_units_and_are_never_split() -> None:
    pieces = split_text("🌸" * 5, 4)

    assert pieces == ["🌸🌸", "🌸🌸", "🌸"]
    assert text_length("🌸") == 2 and text_length("ạ") == 1


def test_a_hard_cut_keeps_a_letter_with_its_combining_marks() -> None:
    # Decomposed (NFD) Vietnamese: "ệ" is e + circumflex + dot below.
    word = unicodedata.normalize("NFD", "nghiệpvụ" * 3)

    pieces = split_text(word, 5)

    assert "".join(pieces) == word
    assert all(unicodedata.category(piece[0])[0] != "M" for piece in pieces)


def test_the_default_limit_is_zalos_2000() -> None:
    paragraph = "Người tốt – việc tốt. " * 60

    pieces = split_text(f"{paragraph}\n\n{paragraph}\n\n{paragraph}")

    assert len(pieces) == 3
    assert all(text_length(piece) <= 2000 for piece in pieces)


def test_a_limit_below_two_is_refused() -> None:
    with pytest.raises(ValueError):
        split_text("abc", 1)


def test_a_numbered_menu_reads_question_options_hint() -> None:
    menu = numbered_menu(
        "Bạn có tham dự Hội nghị Điển hình tiên tiến không? 🎉",
        ["Tham dự", "Không tham dự", "Cử người thay thế"],
        "Trả lời 1, 2 hoặc 3",
    )

    assert menu == (
        "Bạn có tham dự Hội nghị Điển hình tiên tiến không? 🎉\n"
        "\n"
        "1. Tham dự\n"
        "2. Không tham dự\n"
        "3. Cử người thay thế\n"
        "\n"
        "Trả lời 1, 2 hoặc 3"
    )


def test_a_label_stays_on_its_line_and_empty_parts_are_left_out() -> None:
    menu = numbered_menu("", ["Phường Bưởi\nquận Tây Hồ", " Khác "], "Reply 1 or 2")

    assert menu == "1. Phường Bưởi quận Tây Hồ\n2. Khác\n\nReply 1 or 2"


def test_a_menu_needs_options() -> None:
    with pytest.raises(ValueError):
        numbered_menu("Chọn?", [], "Trả lời")


@pytest.mark.parametrize(
    ("count", "locale", "expected"),
    [
        (1, "vi", "1"),
        (2, "vi", "1 hoặc 2"),
        (3, "vi", "1, 2 hoặc 3"),
        (4, "vi", "1, 2, 3 hoặc 4"),
        (5, "vi", "1–5"),
        (12, "vi", "1–12"),
        (1, "en", "1"),
        (2, "en", "1 or 2"),
        (3, "en", "1, 2, or 3"),
        (12, "en", "1–12"),
    ],
)
def test_choice_numbers_in_vietnamese_and_english(count: int, locale: str, expected: str) -> None:
    assert choice_numbers(count, locale) == expected


def test_choice_numbers_can_list_more_and_refuses_none() -> None:
    assert choice_numbers(6, "vi", max_listed=6) == "1, 2, 3, 4, 5 hoặc 6"
    with pytest.raises(ValueError):
        choice_numbers(0, "vi")


def test_a_menu_too_long_for_one_message_splits_between_options() -> None:
    labels = [f"Đơn vị số {n} – phường, xã, cơ quan 🏢" for n in range(1, 121)]
    menu = numbered_menu("Chọn đơn vị của bạn:", labels, f"Trả lời {choice_numbers(len(labels), 'vi')}")

    pieces = split_text(menu)

    assert len(pieces) > 1 and all(text_length(piece) <= 2000 for piece in pieces)
    lines = [line for piece in pieces for line in piece.splitlines() if line]
    assert lines[1:-1] == [f"{n}. {label}" for n, label in enumerate(labels, start=1)]
    assert pieces[-1].endswith("Trả lời 1–120")
