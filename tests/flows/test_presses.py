"""Every button press is answered, once, and what it does reaches the person.

Telegram gives a press on a message older than 48 hours with an ``InaccessibleMessage`` and refuses to edit
it: the press still does its work (the delegate's acceptance is recorded, the guests are invited) and the
result comes as a new message. Forged callback data (ids of 25 digits, negative ids, parts missing or extra,
no data at all) is answered with a toast and changes nothing; so are typed ids too big for the database.

Each keyboard of the bot is reached the way a person reaches it; ``Scene`` holds those ways.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona, SentMessage
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from rules.roles import Role
from rules.text import fold
from storage.models import (
    Account,
    Base,
    Campaign,
    Conference,
    Endorsement,
    Evidence,
    Invitation,
    Nomination,
    OrgUnit,
    UnitLink,
)
from tests.invitations import invite
from tests.people import reached_at

HUNG, MINH = 5005, 2002
DISTRICT = "Hội nghị Điển hình tiên tiến"
FAILURE = "hệ thống gặp sự cố"
INACTIVE = "Nút này không còn hiệu lực. Gõ /help để bắt đầu lại."
HUGE = "9" * 25
TOO_BIG = str(2**31)  # one more than an id column (INTEGER: 32 bits on PostgreSQL) holds
# What every update may write (the conversations, when a person was last seen); everything else must stay
# as it was after a forged press.
CONVERSATION_TABLES = {"ptb_conversation", "ptb_data"}
SEEN = {"last_seen_at", "updated_at"}  # of the account
GUEST_LIST = [
    ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Dân tộc", "Đơn vị", "Chức vụ", "Thành phần", "Số điện thoại"],
    [1, "Nguyễn Văn An", 1968, "Nam", "Kinh", "Phường Bưởi", "Bí thư Đảng ủy phường", "Cán bộ", "0912 345 678"],
]


def xlsx(rows: list[list[Any]]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def no_error_logged(caplog: pytest.LogCaptureFixture):
    yield
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


@pytest.fixture
async def scene(playground: Playground, organiser: ChatUser, citizen: ChatUser) -> Scene:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), playground.services.clock().date()))
    return Scene(playground, organiser, citizen)


class Scene:
    """The people, and the way to each keyboard of the bot."""

    def __init__(self, playground: Playground, organiser: ChatUser, citizen: ChatUser) -> None:
        self.playground = playground
        self.organiser = organiser
        self.citizen = citizen  # Lan, who nominates
        self.hung = playground.person(Persona(HUNG, "Hùng", "Trần Văn"))  # an invited delegate
        self.minh = playground.person(Persona(MINH, "Minh", "Trần Văn"))

    async def scalar(self, statement: Any) -> Any:
        async with self.playground.services.database.transaction() as db:
            return await db.scalar(statement)

    async def count(self, model: Any) -> int:
        return int(await self.scalar(select(func.count()).select_from(model)) or 0)

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table but the conversations' own (without when people were last seen)."""
        tables = [table for table in Base.metadata.sorted_tables if table.name not in CONVERSATION_TABLES]
        async with self.playground.services.database.transaction() as db:
            return {
                table.name: [
                    tuple(row)
                    for row in await db.execute(select(*(c for c in table.columns if c.key not in _ignored(table))))
                ]
                for table in tables
            }

    # --- nominations and their review -------------------------------------------------------------------

    async def nomination(self, seq: int, name: str = "Nguyễn Văn An", **fields: Any) -> int:
        """A nomination Lan sent to the district conference, with a photo; its id."""
        await self.citizen.send("/start")
        async with self.playground.services.database.transaction() as db:
            nominator = await db.scalar(select(Account).where(reached_at(self.citizen.chat_id)))
            values: dict[str, Any] = {
                "status": "submitted",
                "code": f"DH-2020-{seq:04d}",
                "kind": "individual",
                "nominee_name": name,
                "nominee_fold": fold(name),
                "gender": "nam",
                "birth_year": 1985,
                "occupation_group": "cong_nhan",
                "position": "Tổ trưởng tổ dân phố số 5",
                "unit_id": await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi")),
                "title_code": "lao_dong_tien_tien",
                "movement_code": "nguoi_tot_viec_tot",
                "achievements": "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh.",
                "submitted_at": self.playground.services.clock(),
                "campaign_id": await db.scalar(select(Campaign.id)),
                "conference_id": await db.scalar(select(Conference.id).where(Conference.code == "district")),
                "nominator_id": nominator.id,
                "source": "citizen",
                "publicity_consent": True,
            }
            values.update(fields)
            nomination = Nomination(**values)
            db.add(nomination)
            await db.flush()
            db.add(Evidence(nomination_id=nomination.id, kind="photo", file_id=f"p{seq}", file_unique_id=f"u{seq}"))
            return nomination.id

    async def status(self, nomination_id: int) -> str:
        return str(await self.scalar(select(Nomination.status).where(Nomination.id == nomination_id)))

    async def review_card(self) -> ChatUser:
        await self.nomination(1)
        await self.organiser.send("/review")
        return self.organiser

    async def review_queues(self) -> ChatUser:
        nhat_tan = await self.scalar(select(OrgUnit.id).where(OrgUnit.code == "nhat_tan"))
        await self.nomination(1)
        await self.nomination(2, "Người Nhật Tân", unit_id=nhat_tan)
        await self.organiser.send("/review")
        return self.organiser

    async def duplicate_question(self) -> ChatUser:
        await self.nomination(1, "Nguyễn Văn Đức")
        await self.nomination(2, "NGUYỄN VĂN ĐỨC")
        await self.organiser.send("/review")
        await self.organiser.press("Đánh dấu trùng")
        return self.organiser

    async def approve_all_question(self) -> ChatUser:
        await self.nomination(1)
        await self.nomination(2, "Trần Thị Hoa")
        await self.organiser.send("/review")
        await self.organiser.press("Duyệt tất cả 2 đề cử trong hàng chờ")
        return self.organiser

    # --- invitations ------------------------------------------------------------------------------------

    async def invite_question(self) -> ChatUser:
        await self.organiser.send("/invite all")
        return self.organiser

    async def invite_confirmation(self) -> ChatUser:
        await self.nomination(1, status="approved")
        await self.organiser.send("/invite DH-2020-0001")
        return self.organiser

    async def guest_list_question(self) -> ChatUser:
        await self.organiser.send_document(xlsx(GUEST_LIST), "khach-moi.xlsx")
        return self.organiser

    async def guest_list_confirmation(self) -> ChatUser:
        await self.guest_list_question()
        await self.organiser.press(DISTRICT)
        return self.organiser

    async def delegates_question(self) -> ChatUser:
        await self.organiser.send("/delegates")
        return self.organiser

    async def invitation(self, name: str = "Trần Văn Hùng", conference: str = "district") -> tuple[int, str]:
        """An invitation in the exemplar pool: its id and the token of its personal link."""
        invited = await invite(self.playground.services, name, conference=conference, occupation_group="cong_nhan")
        return invited.id, invited.token

    async def invitation_status(self, invitation_id: int) -> str:
        return str(await self.scalar(select(Invitation.status).where(Invitation.id == invitation_id)))

    async def invitation_card(self) -> ChatUser:
        _, token = await self.invitation()
        await self.hung.send(f"/start inv_{token}")
        return self.hung

    async def invitation_choice(self) -> ChatUser:
        for conference in ("district", "grassroots"):
            _, token = await self.invitation(conference=conference)
            await self.hung.send(f"/start inv_{token}")
        await self.hung.send("/rsvp")
        return self.hung

    async def substitute_gender(self) -> ChatUser:
        await self.invitation_card()
        await self.hung.press("Cử người thay thế")
        await self.hung.send("Nguyễn Thị Mai")
        return self.hung

    async def substitute_occupation(self) -> ChatUser:
        await self.substitute_gender()
        await self.hung.press("Nữ")
        await self.hung.send("1999")
        return self.hung

    async def substitute_proposal(self) -> ChatUser:
        await self.substitute_occupation()
        await self.hung.send("cong nhan")
        await self.hung.send("Tổ trưởng tổ sản xuất, Công ty May 10")
        await self.organiser.send("/substitutes")
        return self.organiser

    # --- everyone's keyboards ---------------------------------------------------------------------------

    async def language(self) -> ChatUser:
        await self.citizen.send("/lang")
        return self.citizen

    async def nomination_form(self) -> ChatUser:
        await self.citizen.send("/nominate")
        return self.citizen

    async def endorsement(self) -> ChatUser:
        await self.nomination(1)
        share = await self.citizen.send("/share DH-2020-0001")
        payload = re.search(r"start=(end_[A-Za-z0-9_-]+)", share[-1].text)
        assert payload is not None, share[-1].text
        await self.minh.send(f"/start {payload.group(1)}")
        return self.minh

    async def unit_question(self) -> ChatUser:
        await self.organiser.send("/unitlink")
        return self.organiser

    async def role_question(self) -> ChatUser:
        await self.minh.send("/start")
        await self.organiser.send(f"/grant {MINH}")
        return self.organiser


def _ignored(table: Any) -> set[str]:
    return SEEN if table.name in {"account", "channel_identity"} else set()


def _texts(messages: list[SentMessage]) -> list[str]:
    return [message.text for message in messages]


def _answers(user: ChatUser, since: int) -> list[dict[str, Any]]:
    return [params for method, params in user.playground.api.calls[since:] if method == "answerCallbackQuery"]


async def press_old(user: ChatUser, choice: str | int) -> list[SentMessage]:
    """Press ``choice`` on the latest buttons as Telegram delivers it once the message is too old to give
    (an ``InaccessibleMessage``, not editable any more): answered once, and no failure in what comes back."""
    since = len(user.playground.api.calls)
    replies = await user.press(choice, inaccessible=True)
    assert len(_answers(user, since)) == 1, _answers(user, since)
    assert not [text for text in _texts(replies) if FAILURE in text], _texts(replies)
    return replies


# --- a press on a message Telegram no longer gives ---------------------------------------------------------


async def test_the_language_chosen_on_an_old_message(scene):
    await scene.language()

    replies = await press_old(scene.citizen, "English")

    assert _texts(replies) == ["➜ English", "Done: I will use English from now on."]
    assert await scene.scalar(select(Account.locale).where(reached_at(scene.citizen.chat_id))) == "en"


async def test_the_nomination_form_takes_old_presses_and_sends(scene):
    await scene.nomination_form()

    kind = await press_old(scene.citizen, DISTRICT)
    assert _texts(kind)[0].startswith(f"➜ {DISTRICT} (hạn ") and kind[-1].button_labels == ["Cá nhân", "Tập thể"]
    name = await press_old(scene.citizen, "Tập thể")
    assert _texts(name)[0] == "➜ Tập thể" and name[-1].text.startswith("Họ và tên đầy đủ")
    draft = await scene.scalar(select(Nomination))
    assert (draft.kind, draft.status) == ("collective", "draft")

    await scene.citizen.send("/nominate")
    resumed = await press_old(scene.citizen, "Tiếp tục")
    assert resumed[-1].text.startswith("Họ và tên đầy đủ")


async def test_a_review_decision_on_an_old_card_is_made_and_said(scene):
    nomination_id = await scene.nomination(1)
    await scene.organiser.send("/review")

    replies = await press_old(scene.organiser, "Duyệt")

    assert replies[0].text.startswith("Đã duyệt DH-2020-0001")
    assert await scene.status(nomination_id) == "approved"


async def test_a_rejection_from_an_old_card_asks_for_the_reason_anew(scene):
    await scene.review_card()

    question = await press_old(scene.organiser, "Từ chối")

    assert question[-1].text.startswith("Vì sao DH-2020-0001 không được chấp nhận?")
    shown = await scene.organiser.send("Hồ sơ thiếu xác nhận của địa phương.")
    assert shown[-1].text.startswith("Từ chối DH-2020-0001 (Nguyễn Văn An) với lý do này?")
    done = await scene.organiser.press("Gửi quyết định từ chối")
    assert done[0].text.startswith("Đã từ chối DH-2020-0001")


async def test_the_review_queue_picked_on_an_old_message(scene):
    await scene.review_queues()

    card = await press_old(scene.organiser, "Tất cả hàng chờ (2)")

    assert card[-1].text.startswith("Đề cử DH-2020-0001: Nguyễn Văn An")


async def test_a_duplicate_marked_from_an_old_suggestion(scene):
    await scene.duplicate_question()
    assert scene.organiser.last.button_labels == ["DH-2020-0002"]

    done = await press_old(scene.organiser, "DH-2020-0002")

    assert done[0].text.startswith("Đã đánh dấu DH-2020-0001 (Nguyễn Văn Đức) trùng với DH-2020-0002.")
    assert await scene.scalar(select(Nomination.status).where(Nomination.code == "DH-2020-0001")) == "duplicate"


async def test_approve_all_confirmed_on_an_old_message(scene):
    await scene.nomination(1)
    await scene.nomination(2, "Trần Thị Hoa")
    await scene.organiser.send("/review")
    question = await press_old(scene.organiser, "Duyệt tất cả 2 đề cử trong hàng chờ")
    assert question[-1].button_labels == ["Đồng ý, duyệt cả 2 đề cử", "Không, quay lại"]

    done = await press_old(scene.organiser, "Đồng ý, duyệt cả 2 đề cử")

    assert done[0].text == "Đã duyệt 2 đề cử. Từng người đề cử sẽ được thông báo."
    assert await scene.count(Nomination) == 2
    assert await scene.scalar(select(func.count()).where(Nomination.status == "approved")) == 2


async def test_invite_confirmed_on_an_old_message(scene):
    await scene.nomination(1, status="approved")
    await scene.invite_question()
    preview = await press_old(scene.organiser, DISTRICT)
    assert preview[-1].button_labels == ["Đồng ý, mời 1 người", "Không, chưa mời"]

    done = await press_old(scene.organiser, "Đồng ý, mời 1 người")

    assert done[-1].text.startswith("Đã tạo thư mời cho 1 đại biểu điển hình.")
    assert await scene.count(Invitation) == 1


async def test_a_guest_list_confirmed_on_an_old_message(scene):
    await scene.guest_list_question()
    report = await press_old(scene.organiser, DISTRICT)
    assert report[-1].button_labels[0] == "Mời 1 người hợp lệ"

    done = await press_old(scene.organiser, "Mời 1 người hợp lệ")

    assert "1 người trong danh sách khách mời" in done[-1].text
    assert await scene.count(Invitation) == 1


async def test_the_delegates_of_a_conference_picked_on_an_old_message(scene):
    await scene.delegates_question()

    summary = await press_old(scene.organiser, DISTRICT)

    assert DISTRICT in summary[-1].text


async def test_a_delegate_attends_from_an_old_invitation_card(scene):
    invitation_id, token = await scene.invitation()
    await scene.hung.send(f"/start inv_{token}")

    replies = await press_old(scene.hung, "Tham dự")

    assert _texts(replies)[:2] == [
        "➜ Tham dự",
        f"Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại {DISTRICT} đã được xác nhận.",
    ]
    assert replies[2].method == "sendPhoto"  # the check-in QR
    assert await scene.invitation_status(invitation_id) == "accepted"


async def test_a_delegate_attends_from_a_card_telegram_will_not_edit(scene):
    invitation_id, token = await scene.invitation()
    card = (await scene.hung.send(f"/start inv_{token}"))[-1]
    card.editable = False  # still given with the press, but too old to edit

    replies = await scene.hung.press("Tham dự")

    assert _texts(replies)[:2] == [
        "➜ Tham dự",
        f"Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại {DISTRICT} đã được xác nhận.",
    ]
    assert await scene.invitation_status(invitation_id) == "accepted"


async def test_one_of_several_invitations_picked_on_an_old_message(scene):
    await scene.invitation_choice()

    card = await press_old(scene.hung, 1)

    assert card[-1].text.startswith("Giấy mời dự") and card[-1].buttons


async def test_a_substitute_proposed_and_approved_with_old_presses(scene):
    invitation_id, token = await scene.invitation()
    await scene.hung.send(f"/start inv_{token}")
    asked = await press_old(scene.hung, "Cử người thay thế")
    assert asked[-1].text.startswith("Ai sẽ tham dự thay?")
    await scene.hung.send("Nguyễn Thị Mai")
    year = await press_old(scene.hung, "Nữ")
    assert _texts(year) == ["➜ Nữ", "Năm sinh của người đó? (bốn chữ số, ví dụ 1985)"]
    await scene.hung.send("1999")
    position = await press_old(scene.hung, "Công nhân")
    assert position[-1].text.startswith("Chức vụ và đơn vị của người đó?")
    await scene.hung.send("Tổ trưởng tổ sản xuất, Công ty May 10")
    await scene.organiser.send("/substitutes")

    approved = await press_old(scene.organiser, "Duyệt")

    assert approved[0].text.startswith(f"Đã duyệt: Nguyễn Thị Mai thay Trần Văn Hùng dự {DISTRICT}.")
    assert await scene.invitation_status(invitation_id) == "substituted"


async def test_an_endorsement_from_an_old_message_is_recorded(scene):
    await scene.endorsement()

    thanks = await press_old(scene.minh, "Ủng hộ")

    assert thanks[-1].text.startswith("Cảm ơn bạn! Sự ủng hộ của bạn dành cho Nguyễn Văn An đã được ghi nhận.")
    assert await scene.count(Endorsement) == 1


async def test_a_unit_link_made_from_an_old_message(scene):
    await scene.unit_question()

    link = await press_old(scene.organiser, "Phường Bưởi")

    assert _texts(link)[0] == "➜ Phường Bưởi"
    assert link[-1].text.startswith("Đây là đường dẫn cho đầu mối của Phường Bưởi:")
    assert await scene.count(UnitLink) == 1


async def test_a_role_granted_from_an_old_message(scene):
    await scene.role_question()

    done = await press_old(scene.organiser, "Người xét duyệt")

    assert done[-1].text.startswith("Xong. Vai trò của Trần Văn Minh từ nay là: Người xét duyệt.")
    assert await scene.scalar(select(Account.role).where(reached_at(MINH))) == Role.REVIEWER


async def test_an_old_button_of_a_finished_question_gets_a_toast(scene):
    await scene.language()
    await scene.citizen.send("English")

    assert await press_old(scene.citizen, "Tiếng Việt") == []
    assert scene.citizen.toasts[-1] == "This button is no longer active. Type /help to start again."


# --- forged and empty callback data -------------------------------------------------------------------------


def _forgeries(prefix: str, *shapes: str) -> list[str]:
    """Data shaped like ``prefix``'s but not its: ``{id}`` stands for the id, replaced by bad ones."""
    forged = [f"{prefix}:", prefix, f"{prefix}:1:1:1", f"{prefix}:{HUGE}"]
    for shape in shapes:
        forged += [shape.format(id=bad) for bad in (HUGE, TOO_BIG, "-1", "0", "1:1", "٣", "")]
    return forged


# The way to each keyboard, and data forged for it.
FORGED: dict[str, list[str]] = {
    "language": _forgeries("lang", "lang:{id}:x"),
    "nomination_form": _forgeries("nom:conference", "nom:conference:{id}:x", "nom:{id}"),
    "review_card": _forgeries("rv1", "rv1:a:{id}", "rv1:x:1{id}"),
    "review_queues": _forgeries("rvq", "rvq:{id}.1", "rvq:all{id}"),
    "duplicate_question": _forgeries("rvd", "rvd:{id}:DH-2020-0002", "rvd:1:DH-2020-0002:{id}"),
    "approve_all_question": _forgeries("rvb", "rvb:yes:{id}", "rvb:maybe:2{id}"),
    "invite_question": _forgeries("ivk", "ivk:{id}"),
    "invite_confirmation": _forgeries("ivc", "ivc:yes:{id}"),
    "guest_list_question": _forgeries("glk", "glk:{id}"),
    "guest_list_confirmation": _forgeries("glc", "glc:ok:{id}", "glc:no:{id}"),
    "delegates_question": _forgeries("xpd", "xpd:{id}"),
    "invitation_card": _forgeries("rsvp1", "rsvp1:a:{id}", "rsvp1:d:{id}"),
    "invitation_choice": _forgeries("rsvpl", "rsvpl:{id}"),
    "substitute_gender": _forgeries("rsvpg", "rsvpg:nu:{id}"),
    "substitute_occupation": _forgeries("rsvpo", "rsvpo:cong_nhan:{id}"),
    "substitute_proposal": _forgeries("rsub1", "rsub1:a:{id}", "rsub1:r:{id}"),
    "endorsement": _forgeries("end", "end:yes:{id}!", "end:yes:{id}:x"),
    "unit_question": _forgeries("ulink", "ulink:{id}"),
    "role_question": _forgeries("grant", "grant:{id}.reviewer:x"),
}


@pytest.mark.parametrize("keyboard", sorted(FORGED))
async def test_forged_and_empty_data_is_answered_with_a_toast_and_changes_nothing(scene, keyboard):
    user: ChatUser = await getattr(scene, keyboard)()
    before = await scene.snapshot()

    for data in [*FORGED[keyboard], None, ""]:
        since, toasts = len(scene.playground.api.calls), len(user.toasts)
        replies = await user.press_data(data)
        assert len(_answers(user, since)) == 1, data
        # A toast; a well-formed key the question does not offer (any more) may also be answered by asking again.
        assert len(user.toasts) == toasts + 1 or replies, (data, _texts(replies))
        assert not [text for text in _texts(user.messages) if FAILURE in text], data

    assert await scene.snapshot() == before


# --- typed ids too big for the database ------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        f"/override {HUGE} attend Đã xác nhận qua điện thoại",
        f"/override #{TOO_BIG} decline Ốm",
        f"/checkin {HUGE}",
        f"/nomination {HUGE}",
        f"/nomination DH-2020-{HUGE}",
        "/nomination DH-2020-²",
        f"/invite {HUGE}",
        f"/invite all {HUGE}",
        f"/review {HUGE}",
        f"/grant {HUGE} reviewer",
        f"/publish {HUGE}",
        f"/share {HUGE}",
        f"/attendance {HUGE}",
    ],
)
async def test_a_typed_id_too_big_for_the_database_gets_a_polite_answer(scene, command):
    await scene.organiser.send("/start")
    before = await scene.snapshot()

    replies = await scene.organiser.send(command)

    assert replies and not [text for text in _texts(replies) if FAILURE in text], _texts(replies)
    assert await scene.snapshot() == before


@pytest.mark.parametrize("members", ["²", "9" * 5000])
async def test_a_number_of_members_no_one_can_count_is_asked_again(scene, members):
    await scene.nomination_form()
    await scene.citizen.press(DISTRICT)
    await scene.citizen.press("Tập thể")
    await scene.citizen.send("Hợp tác xã Nhật Tân")
    question = await scene.citizen.press("Phường Nhật Tân")
    assert question[-1].text.startswith("Tập thể có bao nhiêu thành viên?"), question[-1].text

    again = await scene.citizen.send(members)

    assert again[-1].text.endswith("Tập thể có bao nhiêu thành viên?")
    assert not [text for text in _texts(again) if FAILURE in text]
