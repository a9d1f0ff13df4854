"""Invitations as delegates and organisers meet them in chat: the personal link, attending, declining,
substitutes, the waitlist, the deadline, overrides, a link opened twice, and check-in at the door.

The seed plan is loaded with its dates moved ahead of today; invitations are created as ``/invite`` does
(``rules.invitations.create_invitation``), and each delegate opens the link the organisers handed out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona, SentMessage
from bot.services import Services
from bot.settings import Settings
from rules import links, outbox, rsvp
from rules.accounts import ensure_telegram_account
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation, invitation_code, link_token
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.models import AuditEntry, Conference, Invitation, InvitationEvent, SeatPool
from tests.people import account_id_at

HUNG, MAI, BINH, TUAN = 5005, 5006, 4004, 3003
CONFERENCE = "Hội nghị Điển hình tiên tiến"
CARD_BUTTONS = ["Tham dự", "Không tham dự", "Cử người thay thế"]


class Clock:
    """The bot's clock: real time, which a test moves (to the deadline, to the morning of the conference).

    It keeps running, so the outbox sender's pacing works as it does in production.
    """

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    @property
    def now(self) -> dt.datetime:
        return self()

    @now.setter
    def now(self, moment: dt.datetime) -> None:
        self.offset = moment - dt.datetime.now(dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    pg = Playground(lambda: Services.create(settings, clock=clock))
    await pg.start()
    async with pg.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), clock.now.date()))
    try:
        yield pg
    finally:
        await pg.stop()


@pytest.fixture
def hung(playground: Playground) -> ChatUser:
    return playground.person(Persona(HUNG, "Hùng", "Trần Văn"))


@pytest.fixture
def mai(playground: Playground) -> ChatUser:
    return playground.person(Persona(MAI, "Mai", "Nguyễn Thị"))


@pytest.fixture
def binh(playground: Playground) -> ChatUser:
    return playground.person(Persona(BINH, "Bình", "Trần"))


async def _district(playground: Playground) -> Conference:
    async with playground.services.database.transaction() as db:
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
    assert conference is not None
    return conference


async def _fix_the_day(playground: Playground) -> dt.datetime:
    """The follow-up document fixes the day: 08:00 in Hà Nội, six weeks into the plan's quarter."""
    conference = await _district(playground)
    assert conference.window_start is not None
    starts_at = conference.window_start + dt.timedelta(days=44, hours=8)
    async with playground.services.database.transaction() as db:
        await db.execute(
            update(Conference)
            .where(Conference.id == conference.id)
            .values(starts_at=starts_at, venue="Hội trường UBND quận Tây Hồ", what_to_bring="Giấy mời, thẻ đại biểu")
        )
    return starts_at


async def _invite(playground: Playground, name: str, *, birth_year: int = 1978, gender: str = "nam") -> tuple[int, str]:
    """An invitation in the exemplar pool, as /invite makes it: (its id, the token of its personal link)."""
    conference = await _district(playground)
    async with playground.services.database.transaction() as db:
        invitation = await create_invitation(
            db,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name=name, gender=gender, birth_year=birth_year, occupation_group="can_bo_cong_chuc"),
            secret=playground.services.link_secret,
            now=playground.services.clock(),
        )
        assert invitation is not None
        return invitation.id, link_token(invitation, playground.services.link_secret)


async def _invitation(playground: Playground, invitation_id: int) -> Invitation:
    async with playground.services.database.transaction() as db:
        return await db.get_one(Invitation, invitation_id)


async def _exemplar_seats(playground: Playground, seats: int) -> None:
    conference = await _district(playground)
    async with playground.services.database.transaction() as db:
        await db.execute(
            update(SeatPool)
            .where(SeatPool.conference_id == conference.id, SeatPool.code == EXEMPLAR_POOL)
            .values(seats=seats)
        )


async def _drain(playground: Playground) -> None:
    """Send everything queued. A chat gets one message a second, so the clock moves on between batches."""
    sender = playground.services.outbox
    clock = playground.services.clock
    assert sender is not None and isinstance(clock, Clock)
    for _ in range(10):
        await sender.drain()
        async with playground.services.database.transaction() as db:
            if not await outbox.pending_count(db):
                return
        clock.offset += dt.timedelta(seconds=2)
    raise AssertionError("the outbox did not empty")


def _texts(messages: list[SentMessage]) -> list[str]:
    return [message.text for message in messages]


def _one(messages: list[SentMessage], part: str) -> SentMessage:
    found = [message for message in messages if part in message.text]
    assert len(found) == 1, (part, _texts(messages))
    return found[0]


async def _accept(user: ChatUser, token: str) -> list[SentMessage]:
    await user.send(f"/start inv_{token}")
    return await user.press(1)  # "Tham dự" / "Attend"


# --- opening the link and attending ------------------------------------------------------------------


async def test_a_delegate_opens_their_link_accepts_and_gets_the_qr_code_and_the_calendar_file(playground, hung):
    starts_at = await _fix_the_day(playground)
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")

    card = await hung.send(f"/start inv_{token}")

    text = card[-1].text
    assert text.startswith("Kính gửi ông Trần Văn Hùng,\nĐây là giấy mời dành riêng cho ông.")
    assert "bạn" not in text.split()
    assert "Trân trọng kính mời ông Trần Văn Hùng tới dự (Đại biểu điển hình tiên tiến)." in text
    assert f"Giấy mời dự {CONFERENCE}" in text
    assert "Trân trọng kính mời ông Trần Văn Hùng tới dự (Đại biểu điển hình tiên tiến)." in text
    assert f"Thời gian: 08:00, {starts_at.day}/{starts_at.month}/{starts_at.year}" in text
    assert "Địa điểm: Hội trường UBND quận Tây Hồ" in text
    assert "Thời lượng: ½ ngày (4 giờ)" in text
    assert "Vui lòng mang theo: Giấy mời, thẻ đại biểu" in text
    async with playground.services.database.transaction() as db:
        stored = await db.get_one(Invitation, invitation_id)
        assert f"Mã mời: {invitation_code(stored, playground.services.link_secret)}" in text
    assert "Trả lời: chưa có.\nVui lòng trả lời trước 17:00, 10/6/" in text
    assert card[-1].button_labels == CARD_BUTTONS

    replies = await hung.press("Tham dự")

    assert replies[0].text == f"Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại {CONFERENCE} đã được xác nhận."
    qr = replies[1]
    assert qr.method == "sendPhoto" and qr.file_bytes.startswith(b"\x89PNG")
    assert qr.text.startswith(f"Mã QR điểm danh: Trần Văn Hùng — {CONFERENCE}\nMã điểm danh: ")
    assert "Vào ngày hội nghị, xin đưa mã QR này tại lối vào" in qr.text
    code = re.search(r"Mã điểm danh: ([0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4})", qr.text)
    assert code is not None
    calendar = replies[2]
    assert calendar.method == "sendDocument" and calendar.file_name.endswith(".ics")
    assert b"BEGIN:VEVENT" in calendar.file_bytes
    assert starts_at.strftime("DTSTART:%Y%m%dT%H%M%SZ").encode() in calendar.file_bytes
    # The pressed card shows the answer and has no buttons left.
    assert card[-1].text.endswith("➜ Tham dự") and card[-1].buttons == []
    stored = await _invitation(playground, invitation_id)
    assert (stored.status, stored.checkin_code) == ("accepted", code.group(1))
    assert stored.account_id == await account_id_at(playground.services.database, HUNG)


async def test_the_card_gives_the_quarter_until_the_day_is_fixed_and_a_typed_answer_works(playground, hung):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    conference = await _district(playground)

    card = await hung.send(f"/start inv_{token}")
    replies = await hung.send("tham du")

    assert f"Thời gian: Quý II/{conference.window_start.year} (ngày cụ thể sẽ được thông báo sau)" in card[-1].text
    assert "Địa điểm: sẽ được thông báo sau" in card[-1].text
    assert replies[0].text == f"Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại {CONFERENCE} đã được xác nhận."
    assert [m.method for m in replies] == ["sendMessage", "sendPhoto"]  # no day fixed, so no calendar file yet
    assert (await _invitation(playground, invitation_id)).status == "accepted"
    # /rsvp shows the answer later, with what can still be changed.
    again = await hung.send("/rsvp")
    assert "Trả lời: sẽ tham dự." in again[-1].text
    assert again[-1].button_labels == ["Không tham dự", "Cử người thay thế"]


async def test_typed_answers_to_the_card_are_never_taken_in_part(playground, hung):
    """As on Zalo: "không" declines, part of a label is asked back, "Không" to that shows the card again."""
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")

    asked = await hung.send("cu nguoi")
    assert asked[-1].text == "Ý bạn là Cử người thay thế?"
    assert asked[-1].button_labels == ["Đúng", "Không"]
    card = await hung.send("2")
    assert card[-1].text.startswith("Vâng. Xin mời chọn lại.")
    assert card[-1].button_labels == CARD_BUTTONS
    assert (await _invitation(playground, invitation_id)).status == "pending"
    reason = await hung.send("không")
    assert reason[-1].text.startswith("Xin cho biết ngắn gọn lý do không thể tham dự")


# --- declining ----------------------------------------------------------------------------------------


async def test_a_delegate_declines_with_a_reason_even_across_a_restart(playground, hung):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")

    question = await hung.press("Không tham dự")
    assert question[-1].text.startswith("Xin cho biết ngắn gọn lý do không thể tham dự")
    again = await hung.send("🙏")
    assert again[-1].text.startswith("Vui lòng gõ lý do ngắn gọn bằng chữ.")
    await playground.restart()
    done = await hung.send("Đi công tác nước ngoài")

    assert done[-1].text.startswith(
        "Đã ghi nhận: ông Trần Văn Hùng không tham dự. Xin cảm ơn ông đã báo cho Ban Tổ chức."
    )
    assert "Có thể thay đổi câu trả lời đến 17:00, 10/6/" in done[-1].text
    stored = await _invitation(playground, invitation_id)
    assert (stored.status, stored.decline_reason) == ("declined", "Đi công tác nước ngoài")


# --- substitutes ---------------------------------------------------------------------------------------


async def test_a_delegate_proposes_a_substitute_whom_an_organiser_approves_after_seeing_the_balance(
    playground, hung, mai, organiser
):
    await organiser.send("/start")
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await _accept(hung, token)

    await hung.send("/rsvp")
    asked = await hung.press("Cử người thay thế")
    assert asked[-1].text.startswith("Ai sẽ tham dự thay? Xin gõ họ và tên đầy đủ")
    gender = await hung.send("Nguyễn Thị Mai")
    assert gender[-1].text == "Giới tính của người đó?" and gender[-1].button_labels == ["Nam", "Nữ"]
    year = await hung.press("Nữ")
    assert year[-1].text.startswith("Năm sinh của người đó?")
    assert (await hung.send("1850"))[-1].text.startswith("Năm sinh 1850 không hợp lệ: vui lòng gõ một năm từ 1900")
    occupation = await hung.send("1999")
    assert occupation[-1].text == "Nghề nghiệp của người đó?"
    position = await hung.send("cong nhan")
    assert position[-1].text.startswith("Chức vụ và đơn vị của người đó?")
    sent = await hung.send("Tổ trưởng tổ sản xuất, Công ty May 10")
    assert sent[-1].text.startswith("Xin cảm ơn. Đề xuất để Nguyễn Thị Mai tham dự thay đã được gửi tới Ban Tổ chức.")

    await _drain(playground)
    notice = _one(organiser.messages, "đề xuất người thay thế")
    assert notice.text.startswith(f"Trần Văn Hùng đề xuất người thay thế dự {CONFERENCE}: Nguyễn Thị Mai.")
    card = await organiser.send("/substitutes")
    text = card[-1].text
    assert text.startswith("Người thay thế được đề xuất: Nguyễn Thị Mai (Nữ, sinh năm 1999, Công nhân)")
    assert "Thay cho: Trần Văn Hùng (tham dự) — Đại biểu điển hình tiên tiến" in text
    assert "Nếu Nguyễn Thị Mai tham dự thay Trần Văn Hùng, trong số các đại biểu đã có chỗ:" in text
    assert "• Nữ: 0/1 (0%) → 1/1 (100%)" in text
    assert "• Thanh niên (16–30 tuổi): 0/1 (0%) → 1/1 (100%)" in text
    assert "• Dân tộc thiểu số" in text and "(chưa rõ đối với người thay thế)" in text
    assert "• Nghề nghiệp “Cán bộ, công chức, viên chức”: 1/1 (100%) → 0/1 (0%)" in text
    assert card[-1].button_labels[:2] == ["Duyệt", "Từ chối"]

    approved = await organiser.press("Duyệt")

    link = re.search(r"https://t\.me/dienhinh_bot\?start=inv_([A-Za-z0-9_-]+)", approved[0].text)
    assert approved[0].text.startswith(f"Đã duyệt: Nguyễn Thị Mai thay Trần Văn Hùng dự {CONFERENCE}.")
    assert "Chỗ của Trần Văn Hùng được giữ cho Nguyễn Thị Mai cho đến khi người này trả lời." in approved[0].text
    assert approved[-1].text == "Không có đề xuất người thay thế nào đang chờ quyết định."
    assert link is not None
    await _drain(playground)
    told = _one(hung.messages, "Ban Tổ chức đã đồng ý")
    assert told.text.startswith(
        f"Kính gửi ông Trần Văn Hùng,\nBan Tổ chức đã đồng ý để Nguyễn Thị Mai tham dự {CONFERENCE} thay ông."
    )
    assert link.group(0) in told.text
    assert (await _invitation(playground, invitation_id)).status == "substituted"
    # The substitute opens her own link and confirms.
    replies = await _accept(mai, link.group(1))
    assert replies[0].text == f"Xin trân trọng cảm ơn bà Nguyễn Thị Mai. Chỗ của bà tại {CONFERENCE} đã được xác nhận."
    async with playground.services.database.transaction() as db:
        substitute = await db.scalar(select(Invitation).where(Invitation.substitute_for_id == invitation_id))
    assert (substitute.full_name, substitute.status) == ("Nguyễn Thị Mai", "accepted")
    assert substitute.account_id == await account_id_at(playground.services.database, MAI)
    # The old invitation is closed: its link says so.
    closed = await hung.send(f"/start inv_{token}")
    assert closed[-1].text.startswith("Giấy mời này đã được chuyển cho người thay thế")


async def test_an_organiser_rejects_a_substitute_by_typing_and_the_delegate_keeps_their_invitation(
    playground, hung, organiser
):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await _accept(hung, token)
    async with playground.services.database.transaction() as db:
        account_id = (await db.get_one(Invitation, invitation_id)).account_id
        await rsvp.propose_substitute(
            db,
            invitation_id,
            Person(full_name="Lê Văn Nam", gender="nam", birth_year=1960),
            now=playground.services.clock(),
            secret=playground.services.link_secret,
            actor_id=account_id,
        )

    card = await organiser.send("/substitutes")
    assert card[-1].button_labels == ["Duyệt", "Từ chối", "Để sau"]
    rejected = await organiser.send("tu choi")

    assert rejected[0].text == "Đã từ chối: Lê Văn Nam sẽ không thay Trần Văn Hùng. Tôi đã báo cho Trần Văn Hùng."
    assert rejected[-1].text == "Không có đề xuất người thay thế nào đang chờ quyết định."
    await _drain(playground)
    assert _one(hung.messages, "chưa đồng ý").text == (
        "Kính gửi ông Trần Văn Hùng,\n"
        f"Ban Tổ chức chưa đồng ý để Lê Văn Nam dự {CONFERENCE} thay ông. Giấy mời của ông vẫn giữ nguyên; "
        "gõ /rsvp để xem lại."
    )
    assert (await _invitation(playground, invitation_id)).status == "accepted"
    # The old card's button is refused with who decided and when.
    await organiser.press("Duyệt", card[-1])
    assert organiser.toasts[-1].startswith("Đề xuất này đã được xử lý (bởi Phạm Thu Hoà, ")


# --- the waitlist --------------------------------------------------------------------------------------


async def test_a_decline_promotes_the_first_waitlisted_delegate_who_is_told_with_their_pass(playground, hung, mai):
    await _fix_the_day(playground)
    await _exemplar_seats(playground, 1)
    _, hung_token = await _invite(playground, "Trần Văn Hùng")
    mai_id, mai_token = await _invite(playground, "Nguyễn Thị Mai", gender="nu")
    await mai.send("/lang English")
    await _accept(hung, hung_token)

    waiting = await _accept(mai, mai_token)
    assert waiting[-1].text.startswith(
        # The pool by the plan's English title, not "Đại biểu điển hình tiên tiến" inside an English sentence.
        "Thank you, Ms Nguyễn Thị Mai. All seats for Exemplars are taken for now, so you are on the waitlist: number 1."
    )

    await hung.send("/rsvp")
    await hung.press("Không tham dự")
    declined = await hung.send("Bị ốm")
    assert "Chỗ đã được chuyển cho đại biểu khác." in declined[-1].text
    await _drain(playground)

    news = _one(mai.messages, "Good news")
    assert (
        news.text == "Dear Ms Nguyễn Thị Mai,\n"
        f"Good news: a seat has become free at {CONFERENCE} and it is yours. Your attendance is confirmed."
    )
    # Then her pass: the QR with her code, and the calendar file (the sender may deliver them in either order).
    passes = mai.messages[mai.messages.index(news) + 1 :]
    assert sorted(m.method for m in passes) == ["sendDocument", "sendPhoto"]
    assert _one(passes, "Your check-in code: ").method == "sendPhoto"
    assert (await _invitation(playground, mai_id)).status == "accepted"


# --- the deadline and overrides ------------------------------------------------------------------------


async def test_after_the_deadline_the_answer_is_locked_and_an_unopened_link_has_expired(playground, hung, binh, clock):
    _, token = await _invite(playground, "Trần Văn Hùng")
    _, unopened = await _invite(playground, "Trần Bình")
    card = await hung.send(f"/start inv_{token}")
    clock.now = (await _district(playground)).rsvp_deadline

    again = await hung.send(f"/start inv_{token}")
    await hung.press("Tham dự", card[-1])
    late = await binh.send(f"/start inv_{unopened}")

    assert "Hạn trả lời đã kết thúc lúc 17:00, 10/6/" in again[-1].text
    assert "nên không thể thay đổi câu trả lời tại đây nữa" in again[-1].text and again[-1].buttons == []
    assert hung.toasts[-1] == "Lựa chọn này không còn nữa."
    assert late[-1].text.startswith("Xin lỗi, đường dẫn giấy mời này đã hết hạn lúc 17:00, 10/6/")


async def test_an_organiser_overrides_a_locked_answer_with_a_reason_which_is_recorded(
    playground, hung, binh, organiser, clock
):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")
    clock.now = (await _district(playground)).rsvp_deadline + dt.timedelta(hours=1)

    refused = await binh.send(f"/override {invitation_id} tham dự tôi muốn")
    usage = await organiser.send(f"/override {invitation_id} tham dự")
    done = await organiser.send(f"/override {invitation_id} tham dự đã xác nhận qua điện thoại")

    assert refused[-1].text == "Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."
    assert usage[-1].text.startswith("Để ghi nhận trả lời thay cho đại biểu")
    assert done[-1].text == (
        "Đã ghi nhận cho Trần Văn Hùng: tham dự. Lý do: đã xác nhận qua điện thoại\nTôi đã báo cho người đó."
    )
    async with playground.services.database.transaction() as db:
        event = await db.scalar(select(InvitationEvent).order_by(InvitationEvent.id.desc()).limit(1))
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.override"))
    assert (event.from_status, event.to_status, event.reason) == ("pending", "accepted", "đã xác nhận qua điện thoại")
    assert audit is not None and audit.entity_id == str(invitation_id)
    await _drain(playground)
    assert _one(hung.messages, "Ban Tổ chức đã ghi nhận").text == (
        "Kính gửi ông Trần Văn Hùng,\n"
        f"Ban Tổ chức đã ghi nhận trả lời của ông cho {CONFERENCE}: tham dự. Lý do: đã xác nhận qua điện thoại"
    )
    assert _one(hung.messages, "Mã QR điểm danh").method == "sendPhoto"
    # The delegate still cannot change it themselves.
    assert "Hạn trả lời đã kết thúc" in (await hung.send("/rsvp"))[-1].text


# --- a link opened from another chat --------------------------------------------------------------------


async def test_a_link_opened_from_a_second_chat_is_refused_and_the_organisers_are_told(
    playground, hung, binh, organiser
):
    await organiser.send("/start")
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")

    refused = await binh.send(f"/start inv_{token}")

    assert refused[-1].text.startswith("Xin lỗi, giấy mời này đã được mở từ một tài khoản khác")
    assert refused[-1].buttons == []
    await _drain(playground)
    notice = _one(organiser.messages, "Có người đã thử mở giấy mời")
    assert notice.text.startswith(
        f"Có người đã thử mở giấy mời cá nhân của Trần Văn Hùng ({CONFERENCE}) từ một tài khoản khác: "
        f"Trần Bình (tài khoản số {await account_id_at(playground.services.database, BINH)})."
    )
    assert (await _invitation(playground, invitation_id)).account_id == await account_id_at(
        playground.services.database, HUNG
    )


# --- check-in ------------------------------------------------------------------------------------------


async def test_an_organiser_scans_the_qr_then_a_second_check_in_says_when(playground, hung, binh, organiser, clock):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    replies = await _accept(hung, token)
    code = re.search(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", replies[1].text)  # the QR's caption
    assert code is not None
    stored = await _invitation(playground, invitation_id)
    assert stored.checkin_nonce is not None
    qr_token = links.derive_token(playground.services.link_secret, links.CHECK_IN, invitation_id, stored.checkin_nonce)
    async with playground.services.database.transaction() as db:
        await ensure_telegram_account(
            db, telegram_user_id=BINH, display_name="Trần Bình", username=None, organiser_ids=(), now=clock.now
        )
    clock.now = clock.now.replace(hour=1, minute=12, second=0)  # 08:12 in Hà Nội

    not_staff = await binh.send(f"/start chk_{qr_token}")
    scanned = await organiser.send(f"/start chk_{qr_token}")
    clock.now += dt.timedelta(minutes=20)
    twice = await organiser.send(f"/checkin {code.group(0).lower()}")
    unknown = await organiser.send("/checkin AAAA-BBBB")

    assert not_staff[-1].text.startswith("Đây là mã điểm danh của đại biểu.")
    assert scanned[-1].text == (
        f"✅ Đã điểm danh: Trần Văn Hùng (Đại biểu điển hình tiên tiến), {CONFERENCE}, lúc 08:12."
    )
    assert twice[-1].text == "Trần Văn Hùng đã điểm danh lúc 08:12 (người ghi nhận: Phạm Thu Hoà)."
    assert unknown[-1].text == "Không có đại biểu nào có mã AAAA-BBBB. Vui lòng kiểm tra và gõ lại."
    stored = await _invitation(playground, invitation_id)
    assert stored.checked_in_at is not None and stored.checked_in_at.strftime("%H:%M") == "01:12"


async def test_a_delegate_with_two_invitations_picks_one_with_rsvp(playground, hung):
    conference = await _district(playground)
    async with playground.services.database.transaction() as db:
        grassroots = await db.scalar(select(Conference).where(Conference.code == "grassroots"))
        assert grassroots is not None
        other = await create_invitation(
            db,
            conference=grassroots,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name="Lê Văn Hùng", birth_year=1962),
            secret=playground.services.link_secret,
            now=playground.services.clock(),
        )
        assert other is not None
        other_token = link_token(other, playground.services.link_secret)
    _, token = await _invite(playground, "Lê Văn Hùng", birth_year=1962)
    await hung.send(f"/start inv_{token}")
    await hung.send(f"/start inv_{other_token}")

    choice = await hung.send("/rsvp")
    assert len(choice[-1].buttons) == 2
    card = await hung.press(2)

    assert card[-1].buttons, "the chosen invitation's card comes with its answers"
    assert conference.title in card[-1].text or grassroots.title in card[-1].text


# --- /cancel in the substitute step (issue 10 item 9) -------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "typed"),
    [("1", True), ("tham dự", True), ("Tham dự", False)],
)
async def test_after_cancel_in_the_substitute_step_the_card_answers_keep_working(playground, hung, answer, typed):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")
    await hung.press("Cử người thay thế")
    gender = await hung.send("Nguyễn Thị Mai")
    assert gender[-1].text == "Giới tính của người đó?"

    card = await hung.send("/cancel")

    assert card[-1].text.startswith("Đã huỷ. Không có gì thay đổi; giấy mời vẫn giữ nguyên.")
    assert f"Giấy mời dự {CONFERENCE}" in card[-1].text
    assert card[-1].button_labels == CARD_BUTTONS
    replies = await (hung.send(answer) if typed else hung.press(answer))
    assert replies[0].text == f"Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại {CONFERENCE} đã được xác nhận."
    stored = await _invitation(playground, invitation_id)
    assert stored.status == "accepted"
    async with playground.services.database.transaction() as db:
        proposed = await db.scalar(select(Invitation).where(Invitation.substitute_for_id == invitation_id))
    assert proposed is None


async def test_after_cancel_at_the_substitute_name_a_typed_decline_asks_the_reason(playground, hung):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")
    await hung.send("3")  # "Cử người thay thế", typed

    await hung.send("/cancel")
    reason = await hung.send("2")

    assert reason[-1].text.startswith("Xin cho biết ngắn gọn lý do không thể tham dự")
    done = await hung.send("Đi công tác nước ngoài")
    assert done[-1].text.startswith("Đã ghi nhận: ông Trần Văn Hùng không tham dự.")
    assert (await _invitation(playground, invitation_id)).status == "declined"
