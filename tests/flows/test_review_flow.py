"""/review, /mine, /nomination and /publish as reviewers, organisers and nominators use them.

Nominations are put in the database as the intake leaves them when sent in (status submitted, a code,
one photo as evidence); the reviewer then works through the real Application.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from rules import accounts
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import Role
from rules.text import fold
from storage.models import Campaign, Conference, Evidence, Nomination, NominationEvent, OrgUnit, OutboxMessage

CHANNEL = -1001234567890
NOMINATOR_ID = 1001


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
async def plan(playground: Playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))


async def _ensure(
    playground: Playground, persona_id: int, name: str, role: Role | None = None, locale: str | None = None
) -> int:
    async with playground.services.database.transaction() as db:
        account = await accounts.ensure_telegram_account(
            db, telegram_user_id=persona_id, display_name=name, username=None, organiser_ids=(), now=_now()
        )
        if role is not None:
            account = await accounts.assign_role(db, account.id, role)
        if locale is not None:
            account = await accounts.set_locale(db, account.id, locale)
    return account.id


@pytest.fixture
async def reviewer(playground: Playground, plan: None) -> ChatUser:
    await _ensure(playground, 3003, "Lê Minh Tuấn", Role.REVIEWER)
    return playground.person(Persona(3003, "Tuấn", "Lê Minh"))


@pytest.fixture
def stranger(playground: Playground) -> ChatUser:
    return playground.person(Persona(4004, "Bình", "Trần"))


async def submit(
    playground: Playground,
    seq: int,
    name: str = "Nguyễn Văn An",
    *,
    nominator_locale: str | None = None,
    days_ago: int | None = None,
    **fields: Any,
) -> Nomination:
    """A nomination as the intake stores it when the citizen (Lan, 1001) sends it, with one photo."""
    nominator_id = await _ensure(playground, NOMINATOR_ID, "Nguyễn Thị Lan", locale=nominator_locale)
    async with playground.services.database.transaction() as db:
        campaign_id = await db.scalar(select(Campaign.id).where(Campaign.code == "tay-ho-2020"))
        conference_id = await db.scalar(select(Conference.id).where(Conference.code == "district"))
        ward_id = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        values: dict[str, Any] = {
            "status": "submitted",
            "code": f"DH-2020-{seq:04d}",
            "kind": "individual",
            "nominee_name": name,
            "nominee_fold": fold(name),
            "gender": "nam",
            "birth_year": 1985,
            "ethnicity": "tay",
            "religion": "phat_giao",
            "phone_e164": "+84912345678",
            "unit_id": ward_id,
            "occupation_group": "cong_nhan",
            "position": "Tổ trưởng tổ dân phố số 5",
            "title_code": "lao_dong_tien_tien",
            "movement_code": "nguoi_tot_viec_tot",
            "achievements": "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh.",
            "submitted_at": _now() - dt.timedelta(days=days_ago if days_ago is not None else 10 - seq),
            "campaign_id": campaign_id,
            "conference_id": conference_id,
            "nominator_id": nominator_id,
            "source": "citizen",
            "sensitive_consent": True,
            "publicity_consent": True,
        }
        values.update(fields)
        nomination = Nomination(**values)
        db.add(nomination)
        await db.flush()
        db.add(Evidence(nomination_id=nomination.id, kind="photo", file_id=f"photo-{seq}", file_unique_id=f"u{seq}"))
    return nomination


async def _stored(playground: Playground, nomination_id: int) -> Nomination:
    async with playground.services.database.transaction() as db:
        return await db.get_one(Nomination, nomination_id)


async def _notices(playground: Playground) -> list[str]:
    """What the nominator received once the outbox was sent."""
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()
    return [m.text for m in playground.api.messages(NOMINATOR_ID)]


def _texts(replies) -> str:
    return "\n".join(m.text for m in replies)


# --- refusals ------------------------------------------------------------------------------------------


async def test_a_citizen_trying_review_is_refused_politely(playground, plan, citizen):
    await submit(playground, 1)

    replies = await citizen.send("/review")

    assert _texts(replies) == "Xin lỗi, chỉ người xét duyệt và Ban tổ chức mới được xét duyệt đề cử."
    assert not any(m.buttons for m in replies)


async def test_an_empty_queue_is_said_so(playground, plan, organiser):
    replies = await organiser.send("/review")
    assert _texts(replies) == "Hiện không có đề cử nào chờ xét duyệt. Cảm ơn bạn!"


# --- approve -------------------------------------------------------------------------------------------


async def test_an_organiser_approves_and_the_nominator_is_told_in_vietnamese(playground, plan, organiser):
    nomination = await submit(playground, 1)

    replies = await organiser.send("/review")

    photo, card = replies[0], replies[-1]
    assert photo.method == "sendPhoto" and photo.file_name == "photo-1"
    assert photo.text == "Minh chứng 1/1 của DH-2020-0001"
    for line in (
        "Đề cử DH-2020-0001: Nguyễn Văn An",
        "Loại: Cá nhân",
        "Tình trạng: Đang chờ xét duyệt",
        "Hội nghị: Hội nghị Điển hình tiên tiến",
        "Giới tính: Nam",
        "Năm sinh: 1985",
        "Dân tộc: Tày",
        "Tôn giáo: Phật giáo",
        "Đơn vị: Phường Bưởi",
        "Thành phần: Công nhân",
        "Chức vụ: Tổ trưởng tổ dân phố số 5",
        "Điện thoại: 0912 345 678",
        "Danh hiệu đề nghị: Lao động tiên tiến",
        "Phong trào: Người tốt, việc tốt",
        "Thành tích: Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh.",
        "Tệp minh chứng: 1",
        "Người ủng hộ: chưa có",
        "Người đề cử: Nguyễn Thị Lan — người dân",
    ):
        assert line in card.text.splitlines(), line
    assert re.search(r"Ngày gửi: \d{1,2}/\d{1,2}/\d{4}\n", card.text)
    assert card.button_labels == ["Duyệt", "Từ chối", "Đề nghị chỉnh sửa", "Đánh dấu trùng", "Để sau"]

    done = await organiser.press("Duyệt")

    assert _texts(done) == (
        "Đã duyệt DH-2020-0001 (Nguyễn Văn An). Người đề cử sẽ được thông báo.\n"
        "Hàng chờ này không còn đề cử nào. Cảm ơn bạn!"
    )
    assert not card.buttons  # the card's buttons are taken away
    stored = await _stored(playground, nomination.id)
    assert stored.status == "approved" and stored.decided_at is not None
    assert (await _notices(playground))[-1] == (
        "Tin vui: đề cử DH-2020-0001 (Nguyễn Văn An) của bạn đã được duyệt. Cảm ơn bạn đã giới thiệu gương điển hình.\n"
        "Xem chi tiết: /nomination DH-2020-0001"
    )


async def test_an_old_button_after_the_decision_says_who_decided_and_changes_nothing(
    playground, plan, organiser, reviewer
):
    nomination = await submit(playground, 1)
    await reviewer.send("/review")
    reviewers_card = reviewer.last
    await organiser.send("/review")
    # As another of the organiser's devices would still show it, with its buttons.
    organisers_card = dataclasses.replace(organiser.last)
    await organiser.press("Duyệt")

    replies = await reviewer.press("Từ chối", reviewers_card)

    assert replies == []
    toast = reviewer.toasts[-1]
    assert toast.startswith("DH-2020-0001 đã được Phạm Thu Hoà duyệt lúc ")
    assert re.search(r"lúc \d\d:\d\d, \d{1,2}/\d{1,2}/\d{4}", toast)
    assert not reviewers_card.buttons
    async with playground.services.database.transaction() as db:
        events = await db.scalar(
            select(func.count()).select_from(NominationEvent).where(NominationEvent.nomination_id == nomination.id)
        )
    assert events == 1
    assert (await _stored(playground, nomination.id)).status == "approved"

    again = await organiser.press("Duyệt", organisers_card)
    assert again == [] and organiser.toasts[-1].startswith("DH-2020-0001 đã được Phạm Thu Hoà duyệt lúc ")


async def test_a_reason_typed_after_someone_else_decided_is_refused_and_the_review_moves_on(
    playground, plan, organiser, reviewer
):
    nomination = await submit(playground, 1)
    await reviewer.send("/review")
    await reviewer.press("Từ chối")
    await organiser.send("/review DH-2020-0001")
    await organiser.press("Duyệt")

    replies = await reviewer.send("Hồ sơ thiếu xác nhận.")

    assert replies[0].text.startswith("DH-2020-0001 đã được Phạm Thu Hoà duyệt lúc ")
    assert replies[-1].text == "Hàng chờ này không còn đề cử nào. Cảm ơn bạn!"
    assert (await _stored(playground, nomination.id)).status == "approved"


async def test_review_with_a_code_opens_that_card(playground, plan, organiser):
    await submit(playground, 1)
    await submit(playground, 2, "Trần Thị Hoa", status="approved")

    card = await organiser.send("/review dh-2020-1")
    decided = await organiser.send("/review DH-2020-0002")

    assert card[-1].text.startswith("Đề cử DH-2020-0001: Nguyễn Văn An")
    assert card[-1].button_labels[0] == "Duyệt"
    assert decided[-1].text == "DH-2020-0002 không ở trong hàng chờ xét duyệt (tình trạng: Đã được duyệt)."


# --- reject, ask for changes, duplicate ---------------------------------------------------------------


async def test_rejecting_asks_for_a_reason_and_the_nominator_reads_it_in_english(playground, plan, reviewer):
    nomination = await submit(playground, 1, nominator_locale="en")
    await reviewer.send("/review")

    question = await reviewer.press("Từ chối")
    assert question[-1].text.startswith(
        "Vì sao DH-2020-0001 không được chấp nhận? Vui lòng gõ lý do; người đề cử sẽ nhận được lý do này."
    )
    sticker = await reviewer.send_sticker()
    assert sticker[-1].text == "Vui lòng trả lời bằng tin nhắn chữ, hoặc gõ /cancel để dừng."
    blank = await reviewer.send("🙂")
    assert blank[-1].text.startswith("Cần ghi rõ lý do khi từ chối một đề cử.\n\nVì sao DH-2020-0001")
    assert (await _stored(playground, nomination.id)).status == "submitted"

    # Before: "ok" was sent to the nominator as the reason, at once.
    short = await reviewer.send("ok")
    assert short[-1].text.startswith(
        "Lý do này quá ngắn để người đề cử hiểu được: vui lòng viết ít nhất 10 chữ, ví dụ “Thành tích chưa có "
        "số liệu hoặc minh chứng.”\n\nVì sao DH-2020-0001"
    )
    shown = await reviewer.send("Thành tích chưa có xác nhận của UBND phường")
    assert shown[-1].text == (
        "Từ chối DH-2020-0001 (Nguyễn Văn An) với lý do này? Người đề cử sẽ đọc được:\n"
        "“Thành tích chưa có xác nhận của UBND phường”"
    )
    assert shown[-1].button_labels == ["Gửi quyết định từ chối", "Sửa lý do"]
    assert (await _stored(playground, nomination.id)).status == "submitted"
    assert await _notices(playground) == []
    again = await reviewer.press("Sửa lý do")
    assert again[-1].text.startswith("Vì sao DH-2020-0001 không được chấp nhận?")
    await reviewer.send("Thành tích chưa có xác nhận của UBND phường.")
    assert (await _stored(playground, nomination.id)).status == "submitted"

    done = await reviewer.press("Gửi quyết định từ chối")

    assert done[0].text == "Đã từ chối DH-2020-0001 (Nguyễn Văn An). Người đề cử sẽ được thông báo lý do."
    async with playground.services.database.transaction() as db:
        event = await db.scalar(select(NominationEvent).where(NominationEvent.nomination_id == nomination.id))
    assert event is not None and event.to_status == "rejected"
    assert event.reason == "Thành tích chưa có xác nhận của UBND phường."
    assert (await _notices(playground))[-1] == (
        "Your nomination DH-2020-0001 (Nguyễn Văn An) was not accepted.\n"
        "Reason: Thành tích chưa có xác nhận của UBND phường.\n"
        "Details: /nomination DH-2020-0001"
    )


async def test_asking_for_changes_by_typing_sends_the_message_to_the_nominator(playground, plan, reviewer):
    nomination = await submit(playground, 1)
    await reviewer.send("/review")

    await reviewer.send("de nghi chinh sua")  # the button's label typed, without tone marks
    done = await reviewer.send("Vui lòng bổ sung ảnh giấy khen năm 2019.")

    assert done[0].text == "Đã gửi lại DH-2020-0001 (Nguyễn Văn An) cho người đề cử kèm lời nhắn của bạn."
    assert (await _stored(playground, nomination.id)).status == "changes_requested"
    assert (await _notices(playground))[-1] == (
        "Ban xét duyệt đề nghị bạn chỉnh sửa đề cử DH-2020-0001 (Nguyễn Văn An):\n"
        "Vui lòng bổ sung ảnh giấy khen năm 2019.\n\n"
        "Vui lòng gõ /nominate để chỉnh sửa và gửi lại."
    )


async def test_a_possible_duplicate_is_flagged_and_marked_with_a_suggested_code(playground, plan, organiser):
    original = await submit(playground, 1, "Nguyễn Văn Đức", days_ago=3)
    copy = await submit(playground, 2, "NGUYỄN VĂN ĐỨC", days_ago=1)
    await submit(playground, 3, "Trần Thị Hoa", days_ago=2)
    await organiser.send("/review")
    await organiser.press("Để sau")  # Đức (the oldest)
    await organiser.press("Để sau")  # Hoa
    card = organiser.last

    assert "⚠️ Có thể trùng với DH-2020-0001 (cùng họ tên và năm sinh trong cùng đợt)." in card.text
    question = await organiser.press("Đánh dấu trùng")
    assert question[-1].button_labels == ["DH-2020-0001"]
    wrong = await organiser.send("DH-2020-0099")
    assert wrong[-1].text.startswith("Không tìm thấy đề cử nào có mã DH-2020-0099. Vui lòng kiểm tra lại.")

    done = await organiser.press("DH-2020-0001")

    assert done[0].text == (
        "Đã đánh dấu DH-2020-0002 (NGUYỄN VĂN ĐỨC) trùng với DH-2020-0001. Người đề cử sẽ được thông báo."
    )
    stored = await _stored(playground, copy.id)
    assert stored.status == "duplicate" and stored.duplicate_of_id == original.id
    assert (await _notices(playground))[-1].startswith(
        "Đề cử DH-2020-0002 (NGUYỄN VĂN ĐỨC) của bạn trùng với đề cử DH-2020-0001 đã được gửi trước đó"
    )


async def test_a_restart_while_the_reason_is_asked_keeps_the_card(playground, plan, reviewer):
    nomination = await submit(playground, 1)
    await reviewer.send("/review")
    await reviewer.press("Từ chối")

    await playground.restart()
    shown = await reviewer.send("Hồ sơ thiếu xác nhận.")
    await playground.restart()
    done = await reviewer.send("1")  # typed, after another restart: the reason shown is the one sent

    assert shown[-1].text.endswith("“Hồ sơ thiếu xác nhận.”")
    assert done[0].text.startswith("Đã từ chối DH-2020-0001")
    async with playground.services.database.transaction() as db:
        event = await db.scalar(select(NominationEvent).where(NominationEvent.nomination_id == nomination.id))
    assert event is not None and event.reason == "Hồ sơ thiếu xác nhận."
    assert (await _stored(playground, nomination.id)).status == "rejected"


async def test_cancel_in_the_middle_changes_nothing(playground, plan, reviewer):
    nomination = await submit(playground, 1)
    await reviewer.send("/review")
    await reviewer.press("Từ chối")

    replies = await reviewer.send("/cancel")
    after = await reviewer.send("Lý do gõ sau khi huỷ")

    assert replies[-1].text.startswith("Đã dừng xét duyệt.")
    assert "/help" in after[-1].text
    assert (await _stored(playground, nomination.id)).status == "submitted"


# --- the queue and approving many ----------------------------------------------------------------------


async def test_approving_all_asks_for_confirmation_with_the_count(playground, plan, reviewer):
    ids = [(await submit(playground, seq, f"Người thứ {seq}")).id for seq in (1, 2, 3)]
    await reviewer.send("/review")
    assert reviewer.last.button_labels[-1] == "Duyệt tất cả 3 đề cử trong hàng chờ"

    confirmation = await reviewer.press("Duyệt tất cả 3 đề cử trong hàng chờ")

    assert confirmation[-1].text == (
        "Duyệt cùng lúc 3 đề cử sau đây?\n"
        "• DH-2020-0001 — Người thứ 1\n"
        "• DH-2020-0002 — Người thứ 2\n"
        "• DH-2020-0003 — Người thứ 3\n"
        "Từng người đề cử sẽ được thông báo."
    )
    assert confirmation[-1].button_labels == ["Đồng ý, duyệt cả 3 đề cử", "Không, quay lại"]
    for nomination_id in ids:
        assert (await _stored(playground, nomination_id)).status == "submitted"

    done = await reviewer.press("Đồng ý, duyệt cả 3 đề cử")

    assert done[0].text == "Đã duyệt 3 đề cử. Từng người đề cử sẽ được thông báo."
    assert done[-1].text == "Hàng chờ này không còn đề cử nào. Cảm ơn bạn!"
    for nomination_id in ids:
        assert (await _stored(playground, nomination_id)).status == "approved"
    async with playground.services.database.transaction() as db:
        queued = list(await db.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == NOMINATOR_ID)))
    assert sorted(row.payload["text"].split("\n")[0] for row in queued) == [
        f"Tin vui: đề cử DH-2020-000{seq} (Người thứ {seq}) của bạn đã được duyệt. Cảm ơn bạn đã giới thiệu gương điển hình."
        for seq in (1, 2, 3)
    ]


async def test_saying_no_to_approve_all_approves_nothing(playground, plan, reviewer):
    first = await submit(playground, 1)
    await submit(playground, 2, "Trần Thị Hoa")
    await reviewer.send("/review")
    await reviewer.send("6")  # "Approve all 2", typed by number

    replies = await reviewer.send("khong")

    assert replies[0].text == "Chưa duyệt đề cử nào."
    assert replies[-1].text.startswith("Đề cử DH-2020-0001: Nguyễn Văn An")
    assert (await _stored(playground, first.id)).status == "submitted"


async def test_the_queue_is_chosen_by_conference_and_unit(playground, plan, reviewer):
    async with playground.services.database.transaction() as db:
        nhat_tan = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "nhat_tan"))
    await submit(playground, 1, "Người Bưởi", days_ago=1)
    await submit(playground, 2, "Người Nhật Tân", unit_id=nhat_tan, days_ago=5)

    question = await reviewer.send("/review")

    assert question[-1].text.startswith("Số đề cử đang chờ xét duyệt: 2. Bạn muốn xét hàng chờ nào?")
    assert question[-1].button_labels == [
        "Tất cả hàng chờ (2)",
        "Hội nghị Điển hình tiên tiến · Phường Nhật Tân (1)",
        "Hội nghị Điển hình tiên tiến · Phường Bưởi (1)",
    ]
    asked = await reviewer.send("buoi")  # one word of one queue: asked back, never taken silently
    assert asked[-1].text == "Ý bạn là Hội nghị Điển hình tiên tiến · Phường Bưởi (1)?"
    assert asked[-1].button_labels == ["Đúng", "Không"]
    again = await reviewer.send("không")
    assert again[-1].text.startswith("Vâng. Xin mời chọn lại.\n\nSố đề cử đang chờ xét duyệt: 2.")
    card = await reviewer.press("Hội nghị Điển hình tiên tiến · Phường Bưởi (1)")
    assert card[-1].text.startswith("Đề cử DH-2020-0001: Người Bưởi")


# --- who sees what -------------------------------------------------------------------------------------


async def test_sensitive_fields_are_shown_to_organisers_only(playground, plan, reviewer, organiser):
    await submit(playground, 1)

    reviewers_card = (await reviewer.send("/review"))[-1].text
    organisers_details = (await organiser.send("/nomination DH-2020-0001"))[-1].text

    for hidden in ("Dân tộc", "Tôn giáo", "Tày", "+84912345678", "345"):
        assert hidden not in reviewers_card
    assert "Điện thoại: 0912 *** 678" in reviewers_card  # masked: a reviewer needs no full number
    for shown in ("Dân tộc: Tày", "Tôn giáo: Phật giáo", "Điện thoại: 0912 345 678"):
        assert shown in organisers_details


async def test_mine_lists_the_nominators_nominations_with_their_statuses(playground, plan, citizen, stranger):
    await submit(playground, 1, "Nguyễn Văn An")
    await submit(playground, 2, "Trần Thị Hoa", status="approved")

    mine = await citizen.send("/mine")
    nothing = await stranger.send("/mine")

    assert mine[0].text == (
        "Các đề cử của bạn:\n"
        "• DH-2020-0002 — Trần Thị Hoa: Đã được duyệt\n"
        "• DH-2020-0001 — Nguyễn Văn An: Đang chờ xét duyệt\n\n"
        "Để xem chi tiết, gõ /nomination kèm mã đề cử, ví dụ /nomination DH-2020-0002"
    )
    assert nothing[0].text == "Bạn chưa gửi đề cử nào. Gõ /nominate để đề cử một điển hình."


async def test_a_draft_is_said_to_be_a_draft_once_in_mine_and_in_its_details(playground, plan, citizen, organiser):
    # Before: "• (bản nháp) — Lê Văn Cường: Bản nháp (chưa gửi)" and "Đề cử (bản nháp): Lê Văn Cường".
    await submit(playground, 1, "Nguyễn Văn An")
    await submit(playground, 2, "Lê Văn Cường", status="draft", code=None, submitted_at=None)

    mine = await citizen.send("/mine")

    lines = mine[0].text.splitlines()
    assert "• Lê Văn Cường: Bản nháp (chưa gửi)" in lines
    assert "• DH-2020-0001 — Nguyễn Văn An: Đang chờ xét duyệt" in lines
    assert sum(line.casefold().count("bản nháp") for line in lines) == 1


async def test_the_card_names_who_nominated_as_an_office_writes_it_for_each_source(playground, plan, organiser):
    # Before: "Người gửi (người dân): Nguyễn Thị Lan", "Người gửi (đầu mối của đơn vị): …".
    await submit(playground, 1, source="citizen")
    await submit(playground, 2, source="focal_point")
    await submit(playground, 3, source="organiser")
    await submit(playground, 4, source="focal_point", unit_id=None)

    cards = [(await organiser.send(f"/nomination DH-2020-000{seq}"))[-1].text.splitlines() for seq in (1, 2, 3, 4)]

    assert "Người đề cử: Nguyễn Thị Lan — người dân" in cards[0]
    assert "Người đề cử: Nguyễn Thị Lan — đầu mối của Phường Bưởi" in cards[1]
    assert "Người đề cử: Nguyễn Thị Lan — Ban Tổ chức" in cards[2]
    assert "Người đề cử: Nguyễn Thị Lan — đầu mối đơn vị" in cards[3]
    assert not any(line.startswith("Người gửi") for card in cards for line in card)


async def test_nomination_details_for_the_nominator_and_refusal_for_a_stranger(
    playground, plan, citizen, stranger, reviewer
):
    await submit(playground, 1)
    await reviewer.send("/review")
    await reviewer.press("Đề nghị chỉnh sửa")
    await reviewer.send("Bổ sung ảnh giấy khen.")

    own = await citizen.send("/nomination dh-2020-1")
    refused = await stranger.send("/nomination DH-2020-0001")
    unknown = await citizen.send("/nomination DH-2020-0042")
    bare = await citizen.send("/nomination")

    details = own[-1].text
    assert details.startswith("Đề cử DH-2020-0001: Nguyễn Văn An")
    assert "Tình trạng: Được đề nghị chỉnh sửa" in details
    assert "Quá trình xử lý:" in details and "“Bổ sung ảnh giấy khen.”" in details
    assert "Tuấn" not in details  # reviewers' names are not shown to nominators
    for hidden in ("Dân tộc", "Tôn giáo", "+84912345678"):
        assert hidden not in details
    assert "Điện thoại: 0912 *** 678" in details
    assert not any(m.method == "sendPhoto" for m in own)
    assert refused[-1].text == "Xin lỗi, bạn chỉ xem được các đề cử do chính bạn gửi."
    assert unknown[-1].text == "Không tìm thấy đề cử nào có mã DH-2020-0042."
    assert bare[-1].text == "Vui lòng ghi kèm mã đề cử, ví dụ /nomination DH-2020-0001"


# --- publicity -----------------------------------------------------------------------------------------


async def test_publish_posts_a_photo_story_to_the_channel_once(playground, plan, organiser, citizen):
    playground.services.settings.public_channel_id = str(CHANNEL)
    nomination = await submit(playground, 1)
    await organiser.send("/review")
    await organiser.press("Duyệt")

    refused = await citizen.send("/publish DH-2020-0001")
    first = await organiser.send("/publish DH-2020-0001")
    second = await organiser.send("/publish dh-2020-1")
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()
    await playground.services.outbox.drain()

    assert refused[-1].text == "Xin lỗi, chỉ Ban tổ chức mới được đăng tin về đề cử."
    assert first[-1].text == "Bài giới thiệu DH-2020-0001 (Nguyễn Văn An) kèm ảnh sẽ được đăng lên kênh trong giây lát."
    assert second[-1].text.startswith("DH-2020-0001 (Nguyễn Văn An) đã được đăng lúc ")
    posts = playground.api.messages(CHANNEL)
    assert len(posts) == 1
    assert posts[0].method == "sendPhoto" and posts[0].file_name == "photo-1"
    assert posts[0].text == (
        "🌟 Gương điển hình tiên tiến: Nguyễn Văn An\n"
        "Đơn vị: Phường Bưởi\n"
        "Đề nghị: Lao động tiên tiến\n"
        "Phong trào: Người tốt, việc tốt\n\n"
        "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh."
    )
    assert (await _stored(playground, nomination.id)).published_at is not None


async def test_publish_explains_what_is_missing(playground, plan, organiser):
    await submit(playground, 1)
    await submit(playground, 2, "Trần Thị Hoa", status="approved", publicity_consent=False)

    unset = await organiser.send("/publish DH-2020-0001")
    playground.services.settings.public_channel_id = "@kenh"
    malformed = await organiser.send("/publish DH-2020-0001")
    playground.services.settings.public_channel_id = str(CHANNEL)
    waiting = await organiser.send("/publish DH-2020-0001")
    no_consent = await organiser.send("/publish DH-2020-0002")

    assert unset[-1].text.startswith("Chưa cấu hình kênh đăng tin: PUBLIC_CHANNEL_ID đang để trống.")
    assert malformed[-1].text.startswith("PUBLIC_CHANNEL_ID (@kenh) không phải là mã kênh")
    assert waiting[-1].text == (
        "Chỉ đăng được các đề cử đã được duyệt; DH-2020-0001 (Nguyễn Văn An) đang ở tình trạng: Đang chờ xét duyệt."
    )
    assert no_consent[-1].text == "Không thể đăng DH-2020-0002 (Trần Thị Hoa): người được đề cử không đồng ý công khai."
    async with playground.services.database.transaction() as db:
        assert (
            await db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.chat_id == CHANNEL))
            == 0
        )
