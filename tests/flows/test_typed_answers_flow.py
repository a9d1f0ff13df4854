"""Every choice typed, as on Zalo: nothing is picked silently, partial answers are asked back.

From the organiser's trial (issue 10, item 1): at the unit question "co" (meant as "có") picked "Công an
quận Tây Hồ", and at the movement question "co" picked "Người tốt, việc tốt" through an alias.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.models import Nomination, OrgUnit, PersistedData

ACHIEVEMENTS = (
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, lập tổ tự quản môi trường, "
    "trồng 300 cây xanh và hỗ trợ 12 hộ nghèo thoát nghèo."
)
UNIT_QUESTION = "Người được đề cử thuộc phường hay đơn vị nào? Chọn một mục, hoặc gõ tên đơn vị."
MOVEMENT_QUESTION = "Người được đề cử tiêu biểu trong phong trào thi đua nào?"
NOT_UNDERSTOOD = "Xin lỗi, tôi chưa hiểu câu trả lời."


@pytest.fixture
async def plan(playground: Playground) -> None:
    today = dt.datetime.now(dt.UTC).date()
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), today))


async def _draft(playground: Playground) -> Nomination:
    async with playground.services.database.transaction() as db:
        drafts = list((await db.scalars(select(Nomination).order_by(Nomination.id))).all())
    assert len(drafts) == 1
    return drafts[0]


async def _unit_name(playground: Playground, unit_id: int | None) -> str | None:
    async with playground.services.database.transaction() as db:
        unit = await db.get(OrgUnit, unit_id) if unit_id else None
    return unit.name if unit else None


async def _until_unit(user: ChatUser) -> None:
    """A citizen's individual nomination, typed, up to the unit question."""
    for answer in ("/nominate", "2", "1", "Nguyễn Văn Bình", "1", "1978", "1", "2", "1", "1"):
        await user.send(answer)
    asked = await user.send("Tổ trưởng tổ dân phố số 5")
    assert asked[-1].text == UNIT_QUESTION


async def _until_movement(user: ChatUser) -> None:
    await _until_unit(user)
    for answer in ("1", "1"):
        await user.send(answer)
    asked = await user.send("1")
    assert asked[-1].text == MOVEMENT_QUESTION


# --- the two cases from the trial ---------------------------------------------------------------------


async def test_co_at_the_unit_question_picks_nothing_and_cong_an_is_asked_back(playground, plan, citizen):
    await _until_unit(citizen)

    co = await citizen.send("co")

    assert co[-1].text.startswith("Tôi không tìm thấy tên này trong danh sách.")
    assert co[-1].text.endswith(UNIT_QUESTION)
    assert (await _draft(playground)).unit_id is None
    asked = await citizen.send("cong an")
    assert asked[-1].text == "Ý bạn là Công an quận Tây Hồ?"
    assert asked[-1].button_labels == ["Đúng", "Không"]  # "1. Đúng 2. Không" on Zalo and in the playground
    assert (await _draft(playground)).unit_id is None
    confirmed = await citizen.send("1")
    assert confirmed[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Công an quận Tây Hồ"


async def test_co_at_the_movement_question_picks_nothing_and_an_alias_in_part_is_asked_back(playground, plan, citizen):
    await _until_movement(citizen)

    co = await citizen.send("co")

    assert co[-1].text.startswith(NOT_UNDERSTOOD) and co[-1].text.endswith(MOVEMENT_QUESTION)
    assert (await _draft(playground)).movement_code is None
    asked = await citizen.send("cong dan thu do")
    assert asked[-1].text == "Ý bạn là Người tốt, việc tốt?"
    await citizen.send("có")
    assert (await _draft(playground)).movement_code == "nguoi_tot_viec_tot"


async def test_a_full_label_without_tone_marks_or_punctuation_picks_at_once(playground, plan, citizen):
    await _until_movement(citizen)

    picked = await citizen.send("Người tốt - việc tốt!")

    assert picked[-1].text.startswith("Tóm tắt thành tích")
    assert (await _draft(playground)).movement_code == "nguoi_tot_viec_tot"


# --- a whole nomination, typed ------------------------------------------------------------------------


async def _typed_nomination(user: ChatUser, answers: list[str]) -> str:
    replies = []
    for answer in answers:
        replies = await user.send(answer)
        assert not replies[-1].text.startswith(NOT_UNDERSTOOD), (answer, replies[-1].text)
        assert not replies[-1].text.startswith("Ý bạn là"), (answer, replies[-1].text)
    return replies[-1].text


async def test_a_whole_nomination_typed_with_numbers_only(playground, plan, citizen):
    receipt = await _typed_nomination(
        citizen,
        [
            "/nominate",
            "2",  # the district conference
            "1",  # a person
            "Nguyễn Văn Bình",
            "1",  # Nam
            "1978",
            "1",  # consent
            "2",  # Tày
            "1",  # no religion
            "1",  # Công nhân
            "Tổ trưởng tổ dân phố số 5",
            "1",  # Phường Bưởi
            "1",  # skip the phone
            "1",  # Điển hình tiên tiến
            "4",  # Văn minh đô thị
            ACHIEVEMENTS,
            "1",  # no files
            "1",  # publicity
            "1",  # send
        ],
    )

    assert "Mã đề cử của bạn là" in receipt
    nomination = await _draft(playground)
    assert nomination.status == "submitted"
    assert (nomination.gender, nomination.ethnicity, nomination.religion) == ("nam", "tay", "khong")
    assert (nomination.occupation_group, nomination.title_code) == ("cong_nhan", "dien_hinh_tien_tien")
    assert (nomination.movement_code, nomination.phone_e164, nomination.publicity_consent) == (
        "van_minh_do_thi",
        None,
        True,
    )
    assert await _unit_name(playground, nomination.unit_id) == "Phường Bưởi"


async def test_a_whole_nomination_typed_with_labels_without_tone_marks(playground, plan, citizen):
    receipt = await _typed_nomination(
        citizen,
        [
            "/nominate",
            "hoi nghi dien hinh tien tien",
            "ca nhan",
            "Nguyễn Thị Đào",
            "nu",
            "1985",
            "co, dong y",
            "muong",
            "phat giao",
            "giao vien, giang vien",
            "Giáo viên trường Tiểu học Xuân La",
            "phuong xuan la",
            "bo qua",
            "dien hinh tien tien",
            "an toan thuc pham",
            ACHIEVEMENTS,
            "xong",
            "khong",
            "gui",
        ],
    )

    assert "Mã đề cử của bạn là" in receipt
    nomination = await _draft(playground)
    assert (nomination.gender, nomination.ethnicity, nomination.religion) == ("nu", "muong", "phat_giao")
    assert (nomination.occupation_group, nomination.movement_code) == ("giao_vien", "an_toan_thuc_pham")
    assert nomination.publicity_consent is False
    assert await _unit_name(playground, nomination.unit_id) == "Phường Xuân La"


@pytest.mark.parametrize(("consent", "expected"), [("ừ", True), ("vâng", True), ("ok", True), ("ko", False)])
async def test_yes_and_no_words_answer_a_yes_no_question(playground, plan, citizen, consent, expected):
    for answer in ("/nominate", "2", "1", "Nguyễn Văn Bình", "1", "1978"):
        await citizen.send(answer)

    await citizen.send(consent)

    assert (await _draft(playground)).sensitive_consent is expected


# --- short lists --------------------------------------------------------------------------------------


async def test_an_ambiguous_answer_then_a_wrong_one_keeps_the_short_list(playground, plan, citizen):
    await _until_unit(citizen)

    several = await citizen.send("truong")

    assert several[-1].text == "Có một số mục khớp với nội dung bạn gõ. Bạn muốn chọn mục nào?"
    schools = several[-1].button_labels
    assert {"Trường THCS Chu Văn An", "Trường THCS Nhật Tân", "Trường Tiểu học Xuân La"} <= set(schools)
    assert not any(label.startswith("Phường") for label in schools)
    assert schools[-1] == "Xem lại toàn bộ danh sách"
    wrong = await citizen.send("bệnh viện")
    assert wrong[-1].button_labels == schools  # the short list again, not the eight wards
    assert wrong[-1].text.startswith(f"{NOT_UNDERSTOOD} Vui lòng bấm một nút hoặc gõ số thứ tự (1–{len(schools)}).")
    number = await citizen.send("9")  # no ninth school: still the short list, never the ninth unit
    assert number[-1].button_labels == schools
    assert (await _draft(playground)).unit_id is None

    chosen = await citizen.send(str(schools.index("Trường THCS Nhật Tân") + 1))

    assert chosen[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Trường THCS Nhật Tân"


async def test_the_short_list_leads_back_to_the_whole_list(playground, plan, citizen):
    await _until_unit(citizen)
    several = await citizen.send("truong")

    back = await citizen.send(str(len(several[-1].buttons)))

    assert back[-1].text == "Đây là toàn bộ danh sách.\n\n" + UNIT_QUESTION
    assert back[-1].button_labels[0] == "Phường Bưởi" and len(back[-1].buttons) == 8
    await citizen.send("1")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Phường Bưởi"


async def test_a_unit_of_the_short_list_can_be_pressed_though_it_has_no_button_at_the_question(
    playground, plan, citizen
):
    await _until_unit(citizen)
    await citizen.send("truong")

    chosen = await citizen.press("Trường THCS Chu Văn An")

    assert chosen[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Trường THCS Chu Văn An"


# --- did you mean ---------------------------------------------------------------------------------------


async def test_no_at_a_did_you_mean_asks_the_question_again(playground, plan, citizen):
    await _until_unit(citizen)
    await citizen.send("cong an")

    again = await citizen.send("Không")

    assert again[-1].text == "Vâng. Xin mời chọn lại.\n\n" + UNIT_QUESTION
    assert (await _draft(playground)).unit_id is None
    first = await citizen.send("1")  # now the question's own first option
    assert first[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Phường Bưởi"


async def test_pressing_no_shows_the_options_again_and_pressing_yes_takes_the_option(playground, plan, citizen):
    await _until_unit(citizen)
    await citizen.send("cong an")

    again = await citizen.press("Không")

    assert again[-1].text == "Vâng. Xin mời chọn lại."
    assert again[-1].button_labels[0] == "Phường Bưởi"
    await citizen.send("cong an")
    confirmed = await citizen.press("Đúng")
    assert confirmed[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Công an quận Tây Hồ"


async def test_a_wrong_answer_to_a_did_you_mean_asks_it_again(playground, plan, citizen):
    await _until_unit(citizen)
    await citizen.send("cong an")

    wrong = await citizen.send("5")  # not an answer to "did you mean": not the fifth ward either

    assert (
        wrong[-1].text
        == f"{NOT_UNDERSTOOD} Vui lòng bấm một nút hoặc gõ số thứ tự (1–2).\n\nÝ bạn là Công an quận Tây Hồ?"
    )
    assert (await _draft(playground)).unit_id is None


async def test_a_restart_in_the_middle_of_a_did_you_mean_resumes_it(playground, plan, citizen):
    await _until_unit(citizen)
    await citizen.send("cong an")

    await playground.restart()
    confirmed = await citizen.send("1")

    assert confirmed[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Công an quận Tây Hồ"


async def test_a_did_you_mean_the_person_moved_on_from_is_closed(playground, plan, citizen):
    """/back, then the unit question again: "1" is now its first ward, not a stale "yes"."""
    await _until_unit(citizen)
    await citizen.send("cong an")

    await citizen.send("/back")
    await citizen.send("Tổ trưởng tổ dân phố số 5")
    first = await citizen.send("1")

    assert first[-1].text.startswith("Số điện thoại của người được đề cử")
    assert await _unit_name(playground, (await _draft(playground)).unit_id) == "Phường Bưởi"
    async with playground.services.database.transaction() as db:
        assert await db.get(PersistedData, ("choice_pending", str((await _draft(playground)).nominator_id))) is None


async def test_an_ethnic_group_without_a_button_whose_name_is_a_yes_word_is_asked_back(playground, plan, citizen):
    for answer in ("/nominate", "2", "1", "Nguyễn Văn Bình", "1", "1978", "1"):
        await citizen.send(answer)

    asked = await citizen.send("co")

    assert asked[-1].text == "Ý bạn là Co?"  # the Co people, or a stray "có"?
    assert (await _draft(playground)).ethnicity is None


async def test_lang_with_part_of_a_language_is_asked_back(playground, citizen):
    asked = await citizen.send("/lang eng")

    assert asked[-1].text == "Ý bạn là English?"
    done = await citizen.send("đúng")
    assert done[-1].text == "Done: I will use English from now on."
