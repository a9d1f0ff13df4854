"""Typed codes: derived like the tokens, shown in two groups, read back from whatever people type."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from rules import link_codes, links
from rules.link_codes import ALPHABET, derive_code, find_code, format_code, lookup_hash, parse_code
from storage import link_codes as link_store
from storage.models import LinkCode

SECRET = b"test-link-secret"
codes = st.text(alphabet=ALPHABET, min_size=8, max_size=8)


def test_a_code_is_derived_from_the_secret_the_kind_the_record_and_the_nonce():
    code = derive_code(SECRET, "inv", 42, "nonce")

    assert code == derive_code(SECRET, "inv", 42, "nonce")  # organisers can print the same code again
    assert link_codes.is_canonical(code)
    others = {
        derive_code(b"another-secret", "inv", 42, "nonce"),
        derive_code(SECRET, "chk", 42, "nonce"),
        derive_code(SECRET, "inv", 43, "nonce"),
        derive_code(SECRET, "inv", 42, "new nonce"),  # a new nonce revokes the code with the link
    }
    assert code not in others and len(others) == 4


def test_codes_spread_over_the_whole_alphabet_and_have_no_look_alikes():
    drawn = [derive_code(SECRET, "inv", record, "n") for record in range(2000)]

    assert len(set(drawn)) == len(drawn)
    assert set("".join(drawn)) == set(ALPHABET)
    assert not set("ILOU") & set("".join(drawn))


def test_what_is_stored_is_a_keyed_hash():
    code = derive_code(SECRET, "inv", 1, "n")

    assert lookup_hash(SECRET, code) == lookup_hash(SECRET, code)
    assert lookup_hash(b"another-secret", code) != lookup_hash(SECRET, code)
    assert code not in lookup_hash(SECRET, code)


def test_a_code_is_shown_in_two_groups():
    assert format_code("K7M2Q9XD") == "K7M2-Q9XD"
    assert link_codes.typed_code(SECRET, "K7M2Q9XD").shown == "K7M2-Q9XD"


@pytest.mark.parametrize(
    "typed",
    [
        "K7M2Q9XD",
        "K7M2-Q9XD",
        "k7m2-q9xd",
        "K7M2 Q9XD",
        "  k7m2   q9xd  ",
        "K7M2.Q9XD",
        "K7M2–Q9XD",
        "mã mời K7M2-Q9XD",
        "Mã mời: K7M2-Q9XD",
        "ma moi: k7m2q9xd",
        "MA MOI K7M2Q9XD",
        "mã điểm danh K7M2 Q9XD",
        "Mã đơn vị: K7M2-Q9XD",
        "mã ủng hộ k7m2q9xd",
        "code K7M2-Q9XD",
        "check-in code k7m2-q9xd",
        "mã mời của tôi là K7M2-Q9XD ạ",
        "Mã: K7M2-Q9XD.",
        "K7M2-Q9XD nhé",
    ],
)
def test_every_reasonable_form_reads_as_the_code(typed):
    assert parse_code(typed) == "K7M2Q9XD"
    assert find_code(typed) == "K7M2Q9XD"


@pytest.mark.parametrize(
    ("typed", "code"),
    [("K7M2-Q9XO", "K7M2Q9X0"), ("k7m2-q9xo", "K7M2Q9X0"), ("I7L2-Q9XD", "1712Q9XD"), ("ma moi i7l2 q9xd", "1712Q9XD")],
)
def test_look_alikes_are_read_as_the_digits_they_stand_for(typed, code):
    assert parse_code(typed) == code


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "K7M2Q9X",  # seven
        "K7M2Q9XDA",  # nine
        "K7M2-Q9XU",  # U is not in the alphabet
        "K7M-2Q9XD",
        "mãmời K7M2Q9XD",
        "mak7m2q9xd",
        "Tôi muốn đề cử K7M2Q9XD",
        "K7M2Q9XD và K7M2Q9XD",
        "/start K7M2Q9XD",
    ],
)
def test_anything_else_is_no_code(typed):
    assert parse_code(typed) is None
    assert find_code(typed) is None


@pytest.mark.parametrize(
    "name",
    [
        "Nguyễn Văn Nam",
        "Trần Thị Hoa",
        "Bình Minh",  # two groups of four letters once folded ("binh minh")
        "Vĩnh Hạnh",
        "Đinh Hằng",
        "nguoitot",
        "Người tốt",
        "Lê Văn Hùng",
        "Phường Bưởi",
        "Tổ dân phố 7",
        "Không tham dự",
        "tham du",
        "ủng hộ",
    ],
)
def test_names_and_answers_are_not_taken_for_codes(name):
    assert find_code(name) is None


def test_two_words_of_four_letters_are_a_code_when_they_look_printed_or_follow_a_word_for_one():
    assert find_code("Binh Minh") is None
    assert find_code("BINH MINH") == "B1NHM1NH"  # capitals, as codes are printed
    assert find_code("mã mời Binh Minh") == "B1NHM1NH"
    assert find_code("binh-minh") == "B1NHM1NH"  # grouped as a code is
    assert parse_code("Binh Minh") == "B1NHM1NH"  # after /start, anything that spells a code is one


@given(codes)
def test_a_shown_code_reads_back_as_itself(code):
    shown = format_code(code)
    assert parse_code(shown) == code
    assert find_code(shown) == code
    assert parse_code(shown.lower()) == code
    assert parse_code(shown.replace("-", " ")) == code
    assert parse_code(f"mã mời {shown}") == code


@given(
    st.binary(min_size=1, max_size=32), st.sampled_from(["inv", "chk", "unit", "end"]), st.integers(1, 2**31), st.text()
)
def test_every_derived_code_reads_back_as_itself(secret, kind, record_id, nonce):
    code = derive_code(secret, kind, record_id, nonce)
    assert link_codes.is_canonical(code)
    assert parse_code(format_code(code).lower()) == code


# --- one code, one link -----------------------------------------------------------------------------------


async def test_a_code_another_link_has_is_never_given_twice_a_new_nonce_is_drawn(database):
    taken = derive_code(SECRET, "inv", 1, "nonce")
    async with database.transaction() as db:
        assert await link_store.claim(db, kind="unit", record_id=5, code_hash=lookup_hash(SECRET, taken))

        nonce, code = await links.ensure_code(db, SECRET, "inv", 1, "nonce")

        assert nonce != "nonce" and code != taken
        assert code == derive_code(SECRET, "inv", 1, nonce)
        assert await link_store.owner(db, lookup_hash(SECRET, code)) == link_store.CodeOwner("inv", 1)
        assert await link_store.owner(db, lookup_hash(SECRET, taken)) == link_store.CodeOwner("unit", 5)


async def test_a_link_keeps_one_code_and_a_new_nonce_replaces_it(database):
    async with database.transaction() as db:
        _, first = await links.ensure_code(db, SECRET, "end", 7, "first")
        same_nonce, again = await links.ensure_code(db, SECRET, "end", 7, "first")
        _, renewed = await links.ensure_code(db, SECRET, "end", 7, "second")
        count = await db.scalar(select(func.count()).select_from(LinkCode))

        assert (same_nonce, again) == ("first", first)
        assert renewed != first
        assert await link_store.owner(db, lookup_hash(SECRET, first)) is None  # the old code stopped working
        assert await link_store.owner(db, lookup_hash(SECRET, renewed)) == link_store.CodeOwner("end", 7)
        assert count == 1
