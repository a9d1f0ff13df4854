"""Typed answers to a choice: picked only when certain, asked back otherwise, on the real option lists."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.choices import (
    NO,
    YES,
    AskAgain,
    Chosen,
    Confirm,
    DidYouMean,
    Labels,
    NoMatch,
    Option,
    Pending,
    Picked,
    Several,
    ShortList,
    follow_up,
    is_short_form,
    match_option,
    pick,
)
from rules.plans import SEED_PLAN, load_plan_file
from rules.refdata import reference, search_key
from rules.text import fold

RSVP = [
    Option("a", "Tham dự", means=YES),
    Option("d", "Không tham dự", means=NO),
    Option("s", "Cử người thay thế"),
]
CONSENT = [Option("yes", "Có, đồng ý", means=YES), Option("no", "Không", means=NO)]
LABELS = Labels(right="Đúng", wrong="Không", full_list="Xem lại toàn bộ danh sách")


def _entries(ref_list) -> list[Option]:
    return [Option(entry.code, entry.label, aliases=tuple(entry.aliases)) for entry in ref_list]


def _lists() -> dict[str, list[Option]]:
    data = reference()
    units = [Option(unit.code, unit.name) for unit in load_plan_file(SEED_PLAN).units if unit.kind != "district"]
    return {
        "units": units,
        "movements": _entries(data.movements),
        "titles": _entries(data.titles),
        "ethnic_groups": _entries(data.ethnic_groups),
        "religions": _entries(data.religions),
        "occupation_groups": _entries(data.occupation_groups),
        "economic_sectors": _entries(data.economic_sectors),
    }


LISTS = _lists()
UNITS = LISTS["units"]
WARDS = [option for option in UNITS if option.label.startswith("Phường")]
MOVEMENTS = LISTS["movements"]


def _unit(name: str) -> Option:
    return next(option for option in UNITS if option.label == name)


# --- what picks ---------------------------------------------------------------------------------------


def test_a_number_picks_the_option_shown_with_it():
    assert match_option(RSVP, "2") == Picked(RSVP[1])
    assert match_option(RSVP, " 3. ") == Picked(RSVP[2])
    assert match_option(RSVP, "số 1") == Picked(RSVP[0])
    assert match_option(RSVP, "4") == NoMatch()
    assert match_option(RSVP, "0") == NoMatch()


def test_numbers_count_only_the_options_shown_not_those_that_can_be_named():
    assert match_option(WARDS, "9", named=UNITS) == NoMatch()
    assert match_option(WARDS, "1", named=UNITS) == Picked(WARDS[0])


def test_a_full_label_picks_whatever_the_tone_marks_case_punctuation_and_spaces():
    movement = next(option for option in MOVEMENTS if option.key == "nguoi_tot_viec_tot")
    for typed in ("nguoi tot viec tot", "Người tốt - việc tốt!", "NGƯỜI TỐT, VIỆC TỐT", "  người   tốt việc tốt "):
        assert match_option(MOVEMENTS, typed) == Picked(movement), typed
    assert match_option(RSVP, unicodedata.normalize("NFD", "Không tham dự")) == Picked(RSVP[1])


def test_a_full_alias_picks_but_a_short_form_is_only_suggested():
    groups = LISTS["ethnic_groups"]
    mong = next(option for option in groups if option.key == "mong")
    assert match_option(groups, "H'Mông") == Picked(mong)
    assert match_option(groups, "hmong") == Picked(mong)
    assert match_option(groups, "Mèo") == DidYouMean(mong)  # three letters: a nickname, not a name
    food = next(option for option in MOVEMENTS if option.key == "an_toan_thuc_pham")
    assert match_option(MOVEMENTS, "ATTP") == DidYouMean(food)
    assert is_short_form("CSTĐ cơ sở") and is_short_form("HTX") and not is_short_form("Hòa Hảo")


# --- what is asked back -------------------------------------------------------------------------------


def test_co_at_the_unit_question_is_not_the_police():
    """From the trial: "co" (meant as "có") picked "Công an quận Tây Hồ"."""
    assert match_option(WARDS, "co", named=UNITS) == NoMatch()
    assert match_option(WARDS, "cong an", named=UNITS) == DidYouMean(_unit("Công an quận Tây Hồ"))


def test_co_at_the_movement_question_is_not_a_good_deed():
    """From the trial: "co" picked "Người tốt, việc tốt" through its alias "Công dân Thủ đô ưu tú"."""
    assert match_option(MOVEMENTS, "co") == NoMatch()
    assert match_option(MOVEMENTS, "có") == NoMatch()
    good_deeds = next(option for option in MOVEMENTS if option.key == "nguoi_tot_viec_tot")
    assert match_option(MOVEMENTS, "cong dan thu do") == DidYouMean(good_deeds)


def test_one_word_of_a_name_is_a_did_you_mean():
    assert match_option(WARDS, "buoi", named=UNITS) == DidYouMean(_unit("Phường Bưởi"))
    assert match_option(RSVP, "cu nguoi") == DidYouMean(RSVP[2])


def test_several_matches_are_a_short_list_and_too_many_ask_for_more():
    wards = match_option(WARDS, "phuong", named=UNITS)
    assert isinstance(wards, Several) and {option.label for option in wards.options} == {o.label for o in WARDS}
    assert match_option(WARDS, "tay ho", named=UNITS) == NoMatch(too_many=True)
    religions = match_option(LISTS["religions"], "phat")
    assert isinstance(religions, Several) and religions.options[0].key == "phat_giao"


def test_the_co_people_are_asked_back_when_they_are_not_on_screen():
    groups = LISTS["ethnic_groups"]
    co = next(option for option in groups if option.key == "co")
    assert match_option(groups[:9], "co", named=groups) == DidYouMean(co)
    assert match_option(groups, "co") == Picked(co)  # its button is there: the label, typed in full


def test_nothing_matches_empty_or_unrelated():
    assert match_option(RSVP, "") == NoMatch()
    assert match_option(RSVP, "🙂") == NoMatch()
    assert match_option(RSVP, "có lẽ") == NoMatch()
    assert match_option(RSVP, "z") == NoMatch()


# --- yes and no ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["có", "co", "Có", "ừ", "đồng ý", "Đồng ý!", "vâng", "yes", "OK", "ok"])
def test_yes_words_answer_a_yes_no_question(word):
    assert match_option(CONSENT, word) == Picked(CONSENT[0])
    assert match_option(RSVP, word) == Picked(RSVP[0])


@pytest.mark.parametrize("word", ["không", "khong", "ko", "no", "KHÔNG"])
def test_no_words_answer_a_yes_no_question(word):
    assert match_option(CONSENT, word) == Picked(CONSENT[1])
    assert match_option(RSVP, word) == Picked(RSVP[1])


@pytest.mark.parametrize("word", ["có", "co", "ok", "ko", "no", "vâng", "khong"])
def test_yes_no_words_never_pick_another_option_by_its_beginning(word):
    for name, options in LISTS.items():
        assert not isinstance(match_option(options, word), Picked) or fold(word) in {
            fold(option.label) for option in options
        }, name
    assert match_option(UNITS, word) == NoMatch()


def test_pick_takes_only_what_is_certain():
    assert pick(RSVP, "tham du") == RSVP[0]
    assert pick(RSVP, "cu nguoi") is None
    assert pick(RSVP, "có") == RSVP[0]


# --- properties on the real lists ---------------------------------------------------------------------

LIST_NAMES = st.sampled_from(sorted(LISTS))
VIETNAMESE_LETTERS = st.sampled_from(
    list("aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵf")
)


def _respell(label: str, data: st.DataObject) -> str:
    """The label as a person might type it: without tone marks, in another case, other punctuation."""
    text = fold(label) if data.draw(st.booleans()) else label
    text = text.upper() if data.draw(st.booleans()) else text
    for mark in (",", "–", "-", "(", ")", ";"):
        text = text.replace(mark, data.draw(st.sampled_from([" ", "", mark])))
    return data.draw(st.sampled_from(["", " ", "  "])) + text + data.draw(st.sampled_from(["", "!", ".", " "]))


@given(LIST_NAMES, st.data())
def test_a_number_or_a_full_label_always_picks(name, data):
    options = LISTS[name]
    index = data.draw(st.integers(min_value=0, max_value=len(options) - 1))
    option = options[index]
    assert match_option(options, str(index + 1)) == Picked(option)
    assert match_option(options, f"{index + 1}.") == Picked(option)
    assert match_option(options, _respell(option.label, data)) == Picked(option)


NAMES = sorted({name for options in LISTS.values() for o in options for name in (o.label, *o.aliases)})
# Short answers worth trying: random letters, and the first letters of the lists' own names and aliases
# (where a silent pick would come from), spelt with or without tone marks.
SHORT_ANSWERS = st.one_of(
    st.text(VIETNAMESE_LETTERS, min_size=1, max_size=3),
    st.sampled_from([name for name in NAMES if len(search_key(name)) <= 3]),
    st.builds(
        lambda name, size, folded: (fold(name) if folded else name).replace(" ", "")[:size],
        st.sampled_from(NAMES),
        st.integers(1, 3),
        st.booleans(),
    ),
).filter(lambda text: text.strip() != "")


@given(LIST_NAMES, SHORT_ANSWERS)
def test_no_answer_of_one_to_three_letters_picks_silently(name, letters):
    """Unless it is an option's whole label ("Tày", "Dao", "Nam"): then it names it."""
    options = LISTS[name]
    match = match_option(options, letters)
    if isinstance(match, Picked):
        assert search_key(match.option.label) == search_key(letters), (letters, match.option.label)


@given(SHORT_ANSWERS)
def test_no_answer_of_one_to_three_letters_picks_a_unit_that_is_not_on_screen(letters):
    assert not isinstance(match_option(WARDS, letters, named=UNITS), Picked)


@given(st.text())
def test_never_raises_and_returns_only_offered_options(answer):
    match = match_option(WARDS, answer, named=UNITS)
    if isinstance(match, (Picked, DidYouMean)):
        assert match.option in UNITS
    elif isinstance(match, Several):
        assert 2 <= len(match.options) <= 8 and set(match.options) <= set(UNITS)


# --- a did-you-mean or a short list, and the next answer ----------------------------------------------

POLICE = _unit("Công an quận Tây Hồ")


def _follow(pending, answer):
    return follow_up("nom:unit", pending, answer, WARDS, LABELS, named=UNITS)


def test_a_did_you_mean_is_answered_by_1_yes_or_the_name():
    outcome, pending = _follow(None, "cong an")
    assert outcome == Confirm(POLICE) and pending == Pending("nom:unit", (POLICE.key,))
    for answer in ("1", "đúng", "có", "ok", "Công an quận Tây Hồ"):
        assert _follow(pending, answer) == (Chosen(POLICE), None), answer


def test_no_at_a_did_you_mean_asks_the_question_again():
    _, pending = _follow(None, "cong an")
    for answer in ("2", "không", "ko"):
        assert _follow(pending, answer) == (AskAgain("declined"), None), answer


def test_a_wrong_answer_to_a_did_you_mean_keeps_it_and_numbers_stay_its_own():
    _, pending = _follow(None, "cong an")
    assert _follow(pending, "3") == (Confirm(POLICE, again=True), pending)  # not the third ward
    assert _follow(pending, "xyz") == (Confirm(POLICE, again=True), pending)
    assert _follow(pending, "phuong buoi") == (Chosen(_unit("Phường Bưởi")), None)  # another name, in full


def test_a_wrong_answer_to_a_short_list_keeps_the_short_list():
    outcome, pending = _follow(None, "truong")
    assert isinstance(outcome, ShortList) and pending is not None
    schools = outcome.options
    assert _follow(pending, "xyz") == (ShortList(schools, again=True), pending)
    assert _follow(pending, "99") == (ShortList(schools, again=True), pending)
    assert _follow(pending, "2") == (Chosen(schools[1]), None)
    assert _follow(pending, str(len(schools) + 1)) == (AskAgain("full_list"), None)
    assert _follow(pending, "xem lai toan bo danh sach") == (AskAgain("full_list"), None)


def test_a_short_list_narrows_to_a_did_you_mean():
    _, pending = _follow(None, "phuong")
    outcome, narrowed = _follow(pending, "buoi")
    assert outcome == Confirm(_unit("Phường Bưởi")) and narrowed == Pending("nom:unit", (_unit("Phường Bưởi").key,))


def test_a_clarification_of_another_question_is_ignored():
    _, pending = _follow(None, "cong an")
    assert follow_up("nom:movement", pending, "1", MOVEMENTS, LABELS) == (Chosen(MOVEMENTS[0]), None)


def test_a_clarification_whose_option_is_gone_asks_again():
    stale = Pending("nom:unit", ("no-such-unit",))
    assert _follow(stale, "1") == (AskAgain("gone"), None)


def test_pending_round_trips_through_json():
    pending = Pending("nom:unit", ("1", "2"))
    assert Pending.from_json(pending.to_json()) == pending
    assert Pending.from_json({}) is None and Pending.from_json({"question": "x", "keys": []}) is None
