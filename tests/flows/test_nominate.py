"""/nominate as people use it: every question, mistakes, edits, restarts, drafts, refusals, receipts."""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select, update

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from rules import accounts
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from rules.roles import Role
from storage.models import (
    Conference,
    ConversationState,
    Evidence,
    Nomination,
    NominationEvent,
    OrgUnit,
    OutboxMessage,
    UnitAllowance,
)

ACHIEVEMENTS = (
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, lập tổ tự quản môi trường, "
    "trồng 300 cây xanh và hỗ trợ 12 hộ nghèo thoát nghèo."
)
CODE = re.compile(r"DH-\d{4}-\d{4}")


@pytest.fixture
async def plan(playground: Playground) -> None:
    """The seed plan with its dates moved ahead of today, as in the playground."""
    today = dt.datetime.now(dt.UTC).date()
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), today))


@pytest.fixture
async def focal_point(playground: Playground, plan: None) -> ChatUser:
    person = playground.person(Persona(2002, "Minh", "Trần Văn"))
    async with playground.services.database.transaction() as db:
        account = await accounts.ensure_telegram_account(
            db, telegram_user_id=2002, display_name="Trần Văn Minh", username=None, organiser_ids=(), now=_now()
        )
        ward = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        await accounts.assign_role(db, account.id, Role.FOCAL_POINT, unit_id=ward)
    return person


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _nominations(playground: Playground) -> list[Nomination]:
    async with playground.services.database.transaction() as db:
        return list((await db.scalars(select(Nomination).order_by(Nomination.id))).all())


def _texts(replies) -> str:
    return "\n".join(m.text for m in replies)


async def _individual_until_summary(user: ChatUser, name: str = "Nguyễn Văn Bình", *, started: bool = False) -> None:
    if not started:
        await user.send("/nominate")
    await user.press("Hội nghị Điển hình tiên tiến")  # the district conference
    await user.press("Cá nhân")
    await user.send(name)
    await user.press("Nam")
    await user.send("1978")
    await user.press("Có, đồng ý")
    await user.send("tay")
    await user.press("Không")
    await user.send("công nhân")
    await user.send("Tổ trưởng tổ dân phố số 5")
    await user.send("phuong buoi")
    await user.send("0912 345 678")
    await user.press("Điển hình tiên tiến")
    await user.send("văn minh đô thị")
    await user.send(ACHIEVEMENTS)
    await user.send_photo(b"\x89PNG fake photo", caption="Nhận giấy khen")
    await user.press("Xong")
    await user.press("Có, đồng ý")


async def test_an_individual_nomination_end_to_end(playground, plan, citizen, organiser):
    await organiser.send("/start")  # organisers who have opened the bot are told of new nominations
    first = await citizen.send("/nominate")
    assert "Cùng đề cử một điển hình" in first[0].text
    assert first[-1].text == "Đề cử này dành cho hội nghị nào?"
    assert len(first[-1].buttons) == 2

    await _individual_until_summary(citizen, started=True)
    summary = citizen.last.text
    for expected in (
        "Nguyễn Văn Bình",
        "1978",
        "Tày",
        "Công nhân",
        "Phường Bưởi",
        "Điện thoại: 0912 345 678",
        "Điển hình tiên tiến",
        "Văn minh đô thị",
        "1 tệp",
    ):
        assert expected in summary, expected
    assert citizen.last.button_labels == ["Gửi", "Sửa một mục", "Huỷ đề cử này"]

    receipt = await citizen.press("Gửi")

    assert "Đã gửi. Mã đề cử của bạn là" in receipt[-1].text
    code = CODE.search(receipt[-1].text).group(0)
    assert "https://t.me/dienhinh_bot?start=end_" in receipt[-1].text
    [nomination] = await _nominations(playground)
    assert nomination.code == code and nomination.status == "submitted"
    assert nomination.source == "citizen" and nomination.kind == "individual"
    assert (nomination.ethnicity, nomination.religion, nomination.occupation_group) == ("tay", "khong", "cong_nhan")
    assert nomination.phone_e164 == "+84912345678" and nomination.publicity_consent is True
    assert nomination.share_token_hash is not None
    await playground.services.outbox.drain()
    assert f"Đề cử mới {code}: Nguyễn Văn Bình (Phường Bưởi), do người dân gửi." in organiser.last.text


async def test_a_collective_nomination_by_a_unit_focal_point(playground, plan, focal_point):
    intro = await focal_point.send("/nominate")
    assert "Phường Bưởi còn được gửi" in _texts(intro) or "Đề cử này dành cho hội nghị nào?" in intro[-1].text
    await focal_point.press("Hội nghị tuyên dương")  # the grassroots conference
    await focal_point.press("Tập thể")
    await focal_point.send("Tổ dân phố số 3 phường Bưởi")
    asked = await focal_point.send("25")
    assert asked[-1].text == "Tập thể thuộc thành phần kinh tế nào?"  # the unit question is skipped
    await focal_point.press("Kinh tế tập thể")
    titles = focal_point.last.button_labels
    assert "Tập thể lao động tiên tiến" in titles and "Chiến sĩ thi đua cơ sở" not in titles
    await focal_point.press("Tập thể lao động tiên tiến")
    await focal_point.press("Phong trào khác")
    await focal_point.send("Phong trào Ngày Chủ nhật xanh")
    await focal_point.send(ACHIEVEMENTS)
    await focal_point.send("xong")
    await focal_point.send("1")
    assert "Phong trào Ngày Chủ nhật xanh" in focal_point.last.text

    receipt = await focal_point.send("gửi")

    assert "Mã đề cử của bạn là" in receipt[-1].text
    [nomination] = await _nominations(playground)
    assert nomination.source == "focal_point" and nomination.kind == "collective"
    assert nomination.member_count == 25 and nomination.economic_sector == "tap_the"
    assert nomination.movement_code == "khac" and nomination.movement_other == "Phong trào Ngày Chủ nhật xanh"
    assert nomination.gender is None and nomination.ethnicity is None


async def test_editing_a_field_from_the_summary_returns_to_the_summary(playground, plan, citizen):
    await _individual_until_summary(citizen)
    await citizen.press("Sửa một mục")
    await citizen.press("Năm sinh")
    back = await citizen.send("1980")

    assert back[-1].text.startswith("Vui lòng kiểm tra lại đề cử trước khi gửi:")
    assert "1980" in back[-1].text and "1978" not in back[-1].text


async def test_changing_the_kind_from_the_summary_asks_the_new_questions(playground, plan, citizen):
    await _individual_until_summary(citizen)
    await citizen.press("Sửa một mục")
    await citizen.press("Đối tượng")
    asked = await citizen.press("Tập thể")
    assert asked[-1].text == "Tập thể có bao nhiêu thành viên?"
    await citizen.send("12")
    await citizen.press("Kinh tế tư nhân")
    asked = await citizen.press("Tập thể lao động tiên tiến")
    assert asked[-1].text.startswith("Vui lòng kiểm tra lại đề cử")


async def test_a_restart_midway_resumes_at_the_same_question(playground, plan, citizen):
    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    await citizen.press("Cá nhân")
    await citizen.send("Lê Thị Hoa")

    await playground.restart()

    asked = await citizen.press("Nữ")
    assert asked[-1].text == "Năm sinh? (bốn chữ số, ví dụ 1985)"
    [draft] = await _nominations(playground)
    assert (draft.nominee_name, draft.gender, draft.status) == ("Lê Thị Hoa", "nu", "draft")


async def test_a_crash_between_the_reply_and_saving_the_step_takes_the_next_answer_for_the_question_shown(
    playground, plan, citizen
):
    """The step a conversation is at is saved just after its reply goes out; a process that dies in between
    (kill -9, a lost machine) comes back one question behind what the person sees. The draft, committed
    before the reply, knows the question shown: a typed "1" is the answer to it, not to the one before."""
    await citizen.send("/nominate")
    asked = await citizen.press("Hội nghị Điển hình tiên tiến")
    assert asked[-1].text.startswith("Bạn đề cử một cá nhân hay một tập thể")
    async with playground.services.database.transaction() as db:
        saved = await db.execute(
            update(ConversationState).where(ConversationState.name == "nominate").values(state="conference")
        )
        assert saved.rowcount == 1  # as if the process died before saving "kind"
    await playground.restart()

    name_question = await citizen.send("1")  # "1. Cá nhân", as shown
    assert name_question[-1].text.startswith("Họ và tên đầy đủ của cá nhân")
    [draft] = await _nominations(playground)
    async with playground.services.database.transaction() as db:
        district = await db.scalar(select(Conference.id).where(Conference.code == "district"))
    assert (draft.kind, draft.conference_id) == ("individual", district)  # not conference 1


async def test_nominate_with_a_draft_offers_continue_or_start_over(playground, plan, citizen):
    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    await citizen.press("Cá nhân")
    await citizen.send("Lê Thị Hoa")
    await citizen.send("/cancel")
    assert "được lưu dưới dạng bản nháp" in citizen.last.text

    offer = await citizen.send("/nominate")
    assert "Bạn có một đề cử chưa hoàn thành (Lê Thị Hoa)" in offer[-1].text
    resumed = await citizen.press("Tiếp tục")
    assert resumed[-1].text == "Giới tính?"

    await citizen.send("/nominate")
    fresh = await citizen.press("Làm lại từ đầu")
    assert fresh[-1].text == "Đề cử này dành cho hội nghị nào?"
    assert len(await _nominations(playground)) == 1


async def test_back_returns_one_question(playground, plan, citizen):
    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    await citizen.press("Cá nhân")
    await citizen.send("Lê Thị Hoa")
    back = await citizen.send("/back")
    assert back[-1].text == "Họ và tên đầy đủ của cá nhân, hoặc tên của tập thể?"
    again = await citizen.send("Lê Thị Hoà")
    assert again[-1].text == "Giới tính?"
    [draft] = await _nominations(playground)
    assert draft.nominee_name == "Lê Thị Hoà"


async def test_wrong_input_gets_a_clear_message_and_the_same_question(playground, plan, citizen):
    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    old_question = citizen.last
    again = await citizen.send("không biết")
    assert again[-1].text.startswith("Xin lỗi, tôi chưa hiểu câu trả lời")
    await citizen.press("Cá nhân")  # on the question asked again

    photo_for_name = await citizen.send_photo(b"photo")
    assert "Tệp tin không phải là câu trả lời" in photo_for_name[-1].text
    assert photo_for_name[-1].text.endswith("Họ và tên đầy đủ của cá nhân, hoặc tên của tập thể?")
    too_long = await citizen.send("A" * 5000)
    assert "quá dài (5000 ký tự)" in too_long[-1].text
    emoji = await citizen.send("🎉🎉🎉")
    assert "không chỉ dùng ký hiệu" in emoji[-1].text
    sticker = await citizen.send_sticker()
    assert sticker[-1].text.startswith("Vui lòng trả lời câu hỏi này bằng chữ.")
    stale = await citizen.press("Cá nhân", old_question)
    assert stale == [] and "không còn hiệu lực" in citizen.toasts[-1]

    await citizen.send(unicodedata.normalize("NFD", "Nguyễn Thị Đào"))
    await citizen.press("Nữ")
    year = await citizen.send("1850")
    assert "Năm sinh 1850 không hợp lệ" in year[-1].text
    words = await citizen.send("khoảng bốn mươi tuổi")
    assert "bốn chữ số" in words[-1].text
    await citizen.send("1990")
    await citizen.press("Có, đồng ý")
    unknown = await citizen.send("người sao Hỏa")
    assert "Tôi không tìm thấy tên này" in unknown[-1].text

    [draft] = await _nominations(playground)
    assert draft.nominee_name == "Nguyễn Thị Đào" and unicodedata.is_normalized("NFC", draft.nominee_name)
    assert draft.birth_year == 1990 and draft.ethnicity is None


async def test_evidence_step_takes_files_and_refuses_plain_text(playground, plan, citizen):
    await _individual_until_summary(citizen)
    await citizen.press("Sửa một mục")
    await citizen.press("Minh chứng")
    text_instead = await citizen.send("ảnh ở nhà")
    # One button ("Xong"): "gõ 1", never "(1–1)" (issue 10 item 7).
    assert "Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng bấm nút hoặc gõ 1." in text_instead[-1].text
    assert "1–1" not in text_instead[-1].text
    document = await citizen.send_document(b"%PDF-1.4 fake", "quyet-dinh.pdf")
    assert "Tổng số tệp: 2" in document[-1].text
    same_again = await citizen.send_photo(b"\x89PNG fake photo")
    assert "Tổng số tệp: 3" in same_again[-1].text
    await citizen.press("Xong")
    async with playground.services.database.transaction() as db:
        kinds = sorted((await db.scalars(select(Evidence.kind))).all())
    assert kinds == ["document", "photo", "photo"]


async def test_the_duplicate_warning_before_sending(playground, plan, citizen):
    await _individual_until_summary(citizen, name="Phạm Văn Đông")
    await citizen.press("Gửi")
    other = playground.person(Persona(3003, "Tuấn"))

    await _individual_until_summary(other, name="PHAM VAN DONG")
    warning = await other.press("Gửi")

    assert "Người này có thể đã được đề cử" in warning[-1].text
    assert warning[-1].button_labels == ["Vẫn gửi", "Quay lại bản tóm tắt"]
    back = await other.press("Quay lại bản tóm tắt")
    assert back[-1].text.startswith("Vui lòng kiểm tra lại")
    await other.press("Gửi")
    sent = await other.press("Vẫn gửi")
    assert "Mã đề cử của bạn là" in sent[-1].text
    assert [n.status for n in await _nominations(playground)] == ["submitted", "submitted"]


async def test_a_unit_without_allowance_left_is_refused(playground, plan, focal_point):
    async with playground.services.database.transaction() as db:
        district = await db.scalar(select(Conference.id).where(Conference.code == "district"))
        await db.execute(update(UnitAllowance).where(UnitAllowance.conference_id == district).values(nominations=0))

    only_grassroots = await focal_point.send("/nominate")
    grassroots = "Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt"
    assert f"Phường Bưởi còn được gửi 20 đề cử cho {grassroots}." in only_grassroots[0].text
    # Said, and asked: the draft does not go to the grassroots conference by itself.
    assert only_grassroots[-1].text == (
        "Phường Bưởi đã dùng hết 0 đề cử được gửi cho Hội nghị Điển hình tiên tiến.\nĐề cử này dành cho hội nghị nào?"
    )
    assert [label.split(" (")[0] for label in only_grassroots[-1].button_labels] == [grassroots]
    asked = await focal_point.press("Hội nghị tuyên dương")
    assert asked[-1].text.startswith("Bạn đề cử một cá nhân hay một tập thể")

    async with playground.services.database.transaction() as db:
        await db.execute(update(UnitAllowance).values(nominations=0))
    await focal_point.send("/cancel")
    await focal_point.send("/nominate")
    final = await focal_point.press("Làm lại từ đầu")
    assert final[-1].text == (
        "Phường Bưởi đã dùng hết 0 đề cử được gửi cho Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt.\n"
        "Phường Bưởi đã dùng hết 0 đề cử được gửi cho Hội nghị Điển hình tiên tiến."
    )
    assert await _nominations(playground) == []


async def test_sending_after_the_deadline_is_refused(playground, plan, citizen):
    await _individual_until_summary(citizen)
    async with playground.services.database.transaction() as db:
        await db.execute(update(Conference).values(nomination_deadline=_now() - dt.timedelta(minutes=1)))

    refused = await citizen.press("Gửi")

    assert "đã hết hạn nhận đề cử" in refused[-1].text
    [draft] = await _nominations(playground)
    assert draft.status == "draft" and draft.code is None
    reopened = await citizen.send("/nominate")
    assert "đã hết hạn nhận đề cử" in reopened[-1].text and not reopened[-1].buttons


async def test_no_open_conference(playground, plan, citizen):
    async with playground.services.database.transaction() as db:
        await db.execute(update(Conference).values(nomination_deadline=_now() - dt.timedelta(days=1)))
    replies = await citizen.send("/nominate")
    assert replies[-1].text.startswith("Hiện không có hội nghị nào đang nhận đề cử")


async def test_discarding_from_the_summary_deletes_the_draft(playground, plan, citizen):
    await _individual_until_summary(citizen)
    done = await citizen.press("Huỷ đề cử này")
    assert done[-1].text == "Đã huỷ đề cử và xoá bản nháp."
    assert await _nominations(playground) == []


async def test_the_word_de_cu_starts_a_nomination(playground, plan, citizen):
    replies = await citizen.send("Đề cử")
    assert replies[-1].text == "Đề cử này dành cho hội nghị nào?"


async def test_stale_drafts_expire_and_the_nominator_is_told(playground, plan, citizen):
    from handlers.nominate import expire_drafts

    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    async with playground.services.database.transaction() as db:
        await db.execute(update(Nomination).values(draft_expires_at=_now() - dt.timedelta(seconds=1)))

    class JobContext:
        application = playground.application

    await expire_drafts(JobContext())  # type: ignore[arg-type]
    await expire_drafts(JobContext())  # type: ignore[arg-type]
    await playground.services.outbox.drain()

    assert "đã hết hạn" in citizen.last.text
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    [draft] = await _nominations(playground)
    assert draft.status == "expired"
    late = await citizen.press("Cá nhân")
    assert "không còn mở" in late[-1].text


async def test_changes_requested_then_edited_and_resubmitted_with_the_same_code(playground, plan, citizen, organiser):
    await organiser.send("/start")
    await _individual_until_summary(citizen)
    receipt = await citizen.press("Gửi")
    code = CODE.search(receipt[-1].text).group(0)

    await organiser.send("/review")
    await organiser.press("Đề nghị chỉnh sửa")
    await organiser.send("Vui lòng bổ sung số liệu cụ thể về số hộ được giúp đỡ.")
    await playground.services.outbox.drain()
    assert "Vui lòng bổ sung số liệu cụ thể" in citizen.last.text

    reopened = await citizen.send("/nominate")
    assert "Ban xét duyệt đề nghị chỉnh sửa: Vui lòng bổ sung số liệu cụ thể" in reopened[-1].text
    assert f"Đề cử {code} được gửi lại để bạn chỉnh sửa." in reopened[-1].text
    await citizen.press("Sửa một mục")
    await citizen.press("Thành tích")
    await citizen.send(ACHIEVEMENTS + " Cụ thể đã giúp 12 hộ với tổng số 36 nhân khẩu.")
    resent = await citizen.press("Gửi")

    assert f"Mã đề cử của bạn là {code}" in resent[-1].text
    [nomination] = await _nominations(playground)
    assert nomination.status == "submitted" and nomination.code == code
    assert nomination.achievements.endswith("36 nhân khẩu.")
    await playground.services.outbox.drain()
    assert f"Đề cử {code} đã được gửi lại sau khi chỉnh sửa" in organiser.last.text

    # The history line of the resubmission: before, the stored English "resubmitted after changes".
    card = (await citizen.send(f"/nomination {code}"))[-1].text
    history = card[card.index("Quá trình xử lý:") :]
    assert "   gửi lại sau khi chỉnh sửa" in history
    assert "resubmitted" not in card
    assert "   “Vui lòng bổ sung số liệu cụ thể về số hộ được giúp đỡ.”" in history  # the reviewer's own words
    english = await _english_card(playground, citizen, code)
    assert "   resubmitted after changes" in english
    async with playground.services.database.transaction() as db:
        reasons = (await db.scalars(select(NominationEvent.reason).order_by(NominationEvent.id))).all()
    assert reasons[-1] == "resubmitted"  # a code, worded by the catalog for each reader


async def _english_card(playground: Playground, citizen: ChatUser, code: str) -> str:
    await citizen.send("/lang")
    await citizen.press("English")
    return (await citizen.send(f"/nomination {code}"))[-1].text


async def test_start_with_a_draft_pending_mentions_it_and_how_to_go_on(playground, plan, citizen):
    before = (await citizen.send("/start"))[-1].text
    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    await citizen.press("Cá nhân")
    await citizen.send("Nguyễn Văn Bình")
    await citizen.send("/cancel")

    after = (await citizen.send("/start"))[-1].text

    # Before: the same welcome, with or without a draft waiting.
    assert "chưa gửi" not in before
    assert "Bạn có một đề cử chưa gửi: Nguyễn Văn Bình. Gõ /nominate để tiếp tục." in after
    going_on = await citizen.send("/nominate")
    assert "Nguyễn Văn Bình" in _texts(going_on)


async def test_start_tells_a_focal_point_the_name_of_their_unit(playground, plan, focal_point):
    welcome = (await focal_point.send("/start"))[-1].text

    # Before: "Bạn là đầu mối của đơn vị: …" without saying which unit.
    assert "Bạn là đầu mối của Phường Bưởi: bạn gửi các đề cử của đơn vị này." in welcome
    assert "đầu mối của đơn vị:" not in welcome


async def test_the_edit_list_numbers_each_question_the_same_whatever_was_answered_or_skipped(playground, plan, citizen):
    """Issue 10 item 9: "Điện thoại" has one number in the "Sửa một mục" list of the individual form,
    whether ethnicity and religion were given (consent) or skipped, and typing that number picks it."""
    await _individual_until_summary(citizen)
    await citizen.press("Sửa một mục")
    given = citizen.last.button_labels
    assert {"Dân tộc", "Tôn giáo"} <= set(given)

    other = playground.person(Persona(7007, "Lan", "Phạm Thị"))
    await other.send("/nominate")
    await other.press("Hội nghị Điển hình tiên tiến")
    await other.press("Cá nhân")
    await other.send("Phạm Thị Hoa")
    await other.press("Nữ")
    await other.send("1985")
    await other.press("Không")  # no ethnicity or religion recorded
    await other.send("công nhân")
    await other.send("Tổ trưởng tổ dân phố số 2")
    await other.send("phuong buoi")
    await other.send("0987 654 321")
    await other.press("Điển hình tiên tiến")
    await other.send("văn minh đô thị")
    await other.send(ACHIEVEMENTS)
    await other.press("Xong")
    await other.press("Có, đồng ý")
    assert other.last.text.startswith("Vui lòng kiểm tra lại đề cử trước khi gửi:")
    await other.press("Sửa một mục")
    skipped = other.last.button_labels
    assert "Dân tộc" not in skipped and "Tôn giáo" not in skipped

    number = given.index("Điện thoại") + 1
    assert skipped.index("Điện thoại") + 1 == number
    assert given[: len(skipped)] == skipped  # every question keeps its place; the follow-ups come last
    asked = await other.send(str(number))
    assert "số điện thoại" in asked[-1].text.lower()
    back = await other.send("0912 000 111")
    assert "Điện thoại: 0912 000 111" in back[-1].text
    [_, nomination] = await _nominations(playground)
    assert nomination.phone_e164 == "+84912000111" and nomination.ethnicity is None


async def test_a_residents_group_answers_not_applicable_to_the_economic_sector(
    playground, plan, focal_point, organiser
):
    """Issue 10 item 9: a tổ dân phố is in no economic sector; "Không áp dụng" is offered, stored as a
    code, shown in the summary and in the export."""
    await focal_point.send("/nominate")
    await focal_point.press("Hội nghị tuyên dương")
    await focal_point.press("Tập thể")
    await focal_point.send("Tổ dân phố số 3 phường Bưởi")
    asked = await focal_point.send("25")
    assert asked[-1].text == "Tập thể thuộc thành phần kinh tế nào?"
    assert asked[-1].button_labels[-1] == "Không áp dụng"
    await focal_point.send("không áp dụng")  # typed, as on Zalo
    await focal_point.press("Tập thể lao động tiên tiến")
    await focal_point.press("Phong trào khác")
    await focal_point.send("Phong trào Ngày Chủ nhật xanh")
    await focal_point.send(ACHIEVEMENTS)
    await focal_point.send("xong")
    summary = await focal_point.send("1")
    assert "• Thành phần kinh tế: Không áp dụng" in summary[-1].text

    await focal_point.send("gửi")

    [nomination] = await _nominations(playground)
    assert nomination.status == "submitted" and nomination.economic_sector == "khong_ap_dung"
    replies = await organiser.send("/export grassroots")
    book = load_workbook(io.BytesIO(replies[-1].file_bytes or b""))
    rows = list(book["Đề cử"].iter_rows(values_only=True))
    column = rows[0].index("Thành phần kinh tế")
    assert rows[1][column] == "Không áp dụng"
