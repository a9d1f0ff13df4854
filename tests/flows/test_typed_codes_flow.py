"""Typing a personal link's code, as people do on Zalo (no deep links) or reading it off paper.

Every kind of link — an invitation, a unit's focal-point link, an endorsement link, a check-in pass — has
a code shown beside it; typed in any reasonable form it does what opening the link does, with the same
refusals, and a wrong one counts in the same throttle as a wrong link. The clock stands on 10 February
2020, inside Tây Hồ's 2020 plan, and only the test moves it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from telegram.ext import ConversationHandler

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.settings import Settings
from handlers.typed_codes import open_typed_code
from rules import link_codes, unit_links
from rules.invitations import invitation_code
from rules.text import fold
from storage.models import Account, Campaign, Conference, Endorsement, Invitation, Nomination, OrgUnit, UnitLink
from tests.clock import Clock
from tests.flows.conftest import running
from tests.invitations import invite
from tests.people import account_id_at, reached_at

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)
HUNG, MAI, MINH, TUAN = 5005, 5006, 5007, 5008
GROUP = -100123
SHOWN = re.compile(r"(?<![\w-])[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}(?![\w-])")
WELCOME = "Kính gửi ông Trần Văn Hùng,\nĐây là giấy mời dành riêng cho ông."
CARD_BUTTONS = ["Tham dự", "Không tham dự", "Cử người thay thế"]
UNKNOWN = "Xin lỗi, không có giấy mời hay đường dẫn cá nhân nào có mã"
COOLING_DOWN = "Bạn đã nhập sai đường dẫn hoặc mã quá nhiều lần."
STRAY = "Tôi chưa hiểu ý bạn."


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, seed_plan=True) as pg:
        yield pg


@pytest.fixture
def hung(playground: Playground) -> ChatUser:
    return playground.person(Persona(HUNG, "Hùng", "Trần Văn"))


@pytest.fixture
def mai(playground: Playground) -> ChatUser:
    return playground.person(Persona(MAI, "Mai", "Nguyễn Thị"))


@pytest.fixture
def minh(playground: Playground) -> ChatUser:
    return playground.person(Persona(MINH, "Minh", "Trần Văn"))


@pytest.fixture
def tuan(playground: Playground) -> ChatUser:
    return playground.person(Persona(TUAN, "Tuấn", "Lê Anh"))


async def _invite(playground: Playground, name: str, gender: str = "nam") -> tuple[int, str, str]:
    """An invitation to the district conference, as /invite makes it: (its id, link token, shown code)."""
    invited = await invite(playground.services, name, gender=gender)
    return invited.id, invited.token, invited.code


async def _invitation(playground: Playground, invitation_id: int) -> Invitation:
    async with playground.services.database.transaction() as db:
        return await db.get_one(Invitation, invitation_id)


async def _account(playground: Playground, user: ChatUser) -> Account:
    async with playground.services.database.transaction() as db:
        account = await db.scalar(select(Account).where(reached_at(user.chat_id)))
    assert account is not None
    return account


def _code_in(text: str) -> str:
    found = SHOWN.search(text)
    assert found, text
    return found.group(0)


def _nobodys_code(n: int) -> str:
    """A well-formed code that belongs to no link (a fresh derivation)."""
    return link_codes.format_code(link_codes.derive_code(b"another secret", "inv", n, "guess"))


# --- invitations ---------------------------------------------------------------------------------------


async def test_an_invitation_code_typed_in_any_form_binds_and_answers_like_the_link(playground, hung, mai, organiser):
    invitation_id, _, code = await _invite(playground, "Trần Văn Hùng")
    await organiser.send("/start")  # organisers who have opened the bot hear of a link tried by someone else

    card = await hung.send(code.replace("-", "").lower())

    assert card[-1].text.startswith(WELCOME)
    assert f"Mã mời: {code}" in card[-1].text
    assert card[-1].button_labels == CARD_BUTTONS
    stored = await _invitation(playground, invitation_id)
    assert stored.account_id == (await _account(playground, hung)).id
    # The card's question is open: on Zalo, where nothing can be pressed, the answer is typed.
    accepted = await hung.send("1")
    assert accepted[0].text.startswith("Xin trân trọng cảm ơn ông Trần Văn Hùng. Chỗ của ông tại")
    assert (await _invitation(playground, invitation_id)).status == "accepted"

    refused = await mai.send(f"mã mời {code.lower()}")
    assert refused[-1].text.startswith("Xin lỗi, giấy mời này đã được mở từ một tài khoản khác")
    assert (await _invitation(playground, invitation_id)).account_id == await account_id_at(
        playground.services.database, HUNG
    )
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()
    assert "Trần Văn Hùng" in organiser.last.text
    assert f"tài khoản số {await account_id_at(playground.services.database, MAI)}" in organiser.last.text

    again = await hung.send(f"/start {code.replace('-', ' ')}")
    assert again[-1].text.startswith("Giấy mời dự") and "sẽ tham dự." in again[-1].text
    assert "Trả lời: chưa có." not in again[-1].text


async def test_an_expired_or_withdrawn_invitation_is_refused_by_code_as_by_link(playground, hung, clock):
    _, token, code = await _invite(playground, "Trần Văn Hùng")
    withdrawn_id, withdrawn_token, withdrawn_code = await _invite(playground, "Nguyễn Văn Tư")
    async with playground.services.database.transaction() as db:
        (await db.get_one(Invitation, withdrawn_id)).status = "cancelled"
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None and conference.rsvp_deadline is not None
        clock.now = conference.rsvp_deadline + dt.timedelta(hours=1)

    by_link = await hung.send(f"/start inv_{token}")
    by_code = await hung.send(code)
    withdrawn_by_link = await hung.send(f"/start inv_{withdrawn_token}")
    withdrawn_by_code = await hung.send(f"Mã mời: {withdrawn_code}")

    assert by_link[-1].text.startswith("Xin lỗi, đường dẫn giấy mời này đã hết hạn")
    assert by_code[-1].text == by_link[-1].text
    assert withdrawn_by_code[-1].text == withdrawn_by_link[-1].text
    assert "Ban Tổ chức đã rút giấy mời này" in withdrawn_by_code[-1].text


async def test_an_approved_substitute_gets_a_link_and_a_code(playground, hung, organiser):
    invitation_id, token, _ = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")
    await hung.press("Cử người thay thế")
    for answer in ("Nguyễn Thị Lan", "Nữ", "1985", "1", "Cán bộ phường Bưởi"):
        await hung.send(answer)
    await organiser.send("/substitutes")

    approved = await organiser.press("Duyệt")

    text = next(message.text for message in approved if message.text.startswith("Đã duyệt"))
    code = _code_in(text)
    assert f"Hoặc gõ mã mời {code} khi trò chuyện với tôi (trên Telegram hoặc Zalo)." in text
    async with playground.services.database.transaction() as db:
        substitute = await db.scalar(select(Invitation).where(Invitation.substitute_for_id == invitation_id))
        assert substitute is not None
        assert invitation_code(substitute, playground.services.link_secret) == code


# --- unit links ------------------------------------------------------------------------------------------


async def _unit_link(organiser: ChatUser) -> tuple[str, str]:
    await organiser.send("/unitlink")
    made = await organiser.send("phuong buoi")  # the full name: a part of it is asked back
    text = made[-1].text
    code = _code_in(text)
    assert f"\nHoặc gõ mã {code} khi trò chuyện với tôi (trên Telegram hoặc Zalo).\n" in text
    return text.split("?start=", 1)[1].split()[0], code


async def test_a_unit_code_makes_a_focal_point_once_like_the_link(playground, organiser, minh, tuan):
    _, code = await _unit_link(organiser)

    welcome = await minh.send(f"Mã đơn vị: {code.lower()}")

    assert welcome[-1].text.startswith("Chào mừng! Từ nay bạn là đầu mối của Phường Bưởi")
    async with playground.services.database.transaction() as db:
        buoi = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
    account = await _account(playground, minh)
    assert (account.role, account.unit_id) == ("focal_point", buoi)
    refused = await tuan.send(code)
    assert refused[-1].text.startswith("Xin lỗi, đường dẫn cho Phường Bưởi này đã được người khác sử dụng")
    assert (await _account(playground, tuan)).role == "citizen"


async def test_an_expired_or_revoked_unit_code_is_refused_like_the_link(playground, organiser, minh, clock):
    payload, code = await _unit_link(organiser)
    revoked_payload, revoked_code = await _unit_link(organiser)
    organiser_id = (await _account(playground, organiser)).id
    async with playground.services.database.transaction() as db:
        revoked = await db.scalar(select(UnitLink).order_by(UnitLink.id.desc()))
        assert revoked is not None
        assert await unit_links.revoke_unit_link(db, link_id=revoked.id, actor_id=organiser_id, now=NOW)
    clock.now = NOW + dt.timedelta(days=31)

    by_code = await minh.send(code)
    by_link = await minh.send(f"/start {payload}")
    revoked_by_code = await minh.send(revoked_code)
    revoked_by_link = await minh.send(f"/start {revoked_payload}")

    assert by_code[-1].text.startswith("Xin lỗi, đường dẫn cho Phường Bưởi này đã hết hạn")
    assert by_code[-1].text == by_link[-1].text
    assert revoked_by_code[-1].text == revoked_by_link[-1].text
    assert "Ban tổ chức đã thu hồi" in revoked_by_code[-1].text
    assert (await _account(playground, minh)).role == "citizen"


# --- endorsements ------------------------------------------------------------------------------------------


async def _nomination(playground: Playground, nominator: ChatUser) -> None:
    await nominator.send("/start")
    account = await _account(playground, nominator)
    async with playground.services.database.transaction() as db:
        campaign = await db.scalar(select(Campaign))
        conference = await db.scalar(select(Conference).where(Conference.code == "grassroots"))
        assert campaign is not None and conference is not None
        db.add(
            Nomination(
                status="submitted",
                code="DH-2020-0001",
                kind="individual",
                nominee_name="Đỗ Thị Hạnh",
                nominee_fold=fold("Đỗ Thị Hạnh"),
                title_code="nguoi_tot_viec_tot",
                movement_code="van_minh_do_thi",
                achievements="Tổ trưởng tổ dân phố 5 năm liền.",
                campaign_id=campaign.id,
                conference_id=conference.id,
                nominator_id=account.id,
                source="citizen",
                submitted_at=NOW,
            )
        )


async def _endorsements(playground: Playground) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(Endorsement)) or 0)


async def test_an_endorsement_code_shows_the_summary_and_the_question_takes_a_typed_answer(
    playground, citizen, minh, tuan
):
    await _nomination(playground, citizen)
    shared = await citizen.send("/share DH-2020-0001")
    code = _code_in(shared[-1].text)
    assert "?start=end_" in shared[-1].text and f"Hoặc gõ mã {code}" in shared[-1].text

    opened = await minh.send(f"ma ung ho {code.lower()}")

    assert opened[-1].text.startswith("Đề cử DH-2020-0001\n• Người được đề cử: Đỗ Thị Hạnh")
    assert opened[-1].button_labels == ["Ủng hộ", "Để sau"]
    unclear = await minh.send("có lẽ")
    assert unclear[-1].text.startswith("Xin lỗi, tôi chưa hiểu câu trả lời")
    thanks = await minh.send("1")
    assert thanks[-1].text.startswith("Cảm ơn bạn! Sự ủng hộ của bạn dành cho Đỗ Thị Hạnh đã được ghi nhận.")
    # Pressed instead of typed: the button carries the code, checked again on the server.
    await tuan.send(code)
    pressed = await tuan.press("Ủng hộ")
    assert pressed[-1].text.endswith("Số người ủng hộ đến nay: 2.")
    assert (await tuan.send("xin chào"))[-1].text.startswith(STRAY)  # the question ended with the press
    assert await _endorsements(playground) == 2

    again = await citizen.send("/share DH-2020-0001")
    assert _code_in(again[-1].text) == code  # the code handed out keeps working
    await citizen.press("Thu hồi liên kết cũ, tạo liên kết mới")
    renewed = await citizen.press("Thu hồi và tạo liên kết mới")
    assert _code_in(renewed[-1].text) != code
    stale = await minh.send(code)
    assert stale[-1].text.startswith(UNKNOWN)


async def test_a_forged_endorse_button_with_a_guessed_code_counts_as_a_guess(playground, citizen, minh):
    await _nomination(playground, citizen)
    shared = await citizen.send("/share DH-2020-0001")
    code = _code_in(shared[-1].text)
    endorse = (await minh.send(code))[-1]

    for n in range(10):
        guess = link_codes.derive_code(b"another secret", "end", n, "guess")
        await minh.press_data(f"end:yes:{guess}", endorse)
    assert minh.toasts[-1].startswith("Xin lỗi, đường dẫn này không còn hiệu lực")
    refused = await minh.send(code)

    assert refused[-1].text.startswith(COOLING_DOWN)
    assert await _endorsements(playground) == 0


# --- check-in --------------------------------------------------------------------------------------------


async def test_a_check_in_code_typed_by_an_organiser_checks_the_delegate_in(playground, organiser, hung):
    invitation_id, token, _ = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")
    accepted = await hung.press("Tham dự")
    code = _code_in(accepted[1].text.split("Mã điểm danh: ", 1)[1])

    own = await hung.send(code)
    assert own[-1].text.startswith("Đây là mã điểm danh của đại biểu.")
    assert (await _invitation(playground, invitation_id)).checked_in_at is None

    checked = await organiser.send(f"mã điểm danh {code.lower().replace('-', ' ')}")
    assert checked[-1].text.startswith("✅ Đã điểm danh: Trần Văn Hùng")
    again = await organiser.send(f"/checkin {code.lower()}")
    assert again[-1].text.startswith("Trần Văn Hùng đã điểm danh lúc")
    assert (await _invitation(playground, invitation_id)).checked_in_at is not None


# --- wrong codes, and what is not a code -----------------------------------------------------------------


async def test_a_wrong_code_is_refused_politely_and_ten_misses_cool_down_with_wrong_links(playground, hung, clock):
    invitation_id, _, code = await _invite(playground, "Trần Văn Hùng")

    first = await hung.send(_nobodys_code(0))
    assert first[-1].text.startswith(f"{UNKNOWN} {_nobodys_code(0)}.")
    assert "ví dụ K7M2-Q9XD" in first[-1].text
    for n in range(1, 6):
        assert (await hung.send(f"mã mời {_nobodys_code(n).lower()}"))[-1].text.startswith(UNKNOWN)
    for n in range(6, 8):
        await hung.send(f"/start {_nobodys_code(n)}")
    await hung.send("/start inv_" + "x" * 24)  # a wrong link: the same budget
    tenth = await hung.send(_nobodys_code(9))
    assert tenth[-1].text.startswith(UNKNOWN)

    right_one = await hung.send(code)
    assert right_one[-1].text.startswith(COOLING_DOWN)
    assert (await _invitation(playground, invitation_id)).account_id is None  # not even looked up
    clock.now += dt.timedelta(minutes=15)
    assert (await hung.send(code))[-1].text.startswith(WELCOME)


@pytest.mark.parametrize("text", ["Nguyễn Văn Nam", "Bình Minh", "nguoitot", "Người tốt việc tốt", "Trần Thị Hoa"])
async def test_names_and_words_are_not_taken_for_codes(playground, citizen, text):
    replies = await citizen.send(text)

    assert replies[-1].text.startswith(STRAY)


async def test_a_code_typed_at_a_question_is_that_questions_answer_but_start_code_opens_the_link(playground, hung, mai):
    hungs_id, token, _ = await _invite(playground, "Trần Văn Hùng")
    mais_id, _, mais_code = await _invite(playground, "Nguyễn Thị Mai", gender="nu")
    await hung.send(f"/start inv_{token}")
    await hung.press("Không tham dự")

    declined = await hung.send(mais_code)

    assert declined[-1].text.startswith("Đã ghi nhận: ông Trần Văn Hùng không tham dự.")
    assert (await _invitation(playground, hungs_id)).decline_reason == mais_code
    assert (await _invitation(playground, mais_id)).account_id is None

    await mai.send("/nominate")
    answered = await mai.send(mais_code)
    assert all("Giấy mời dự" not in message.text for message in answered)
    assert (await _invitation(playground, mais_id)).account_id is None
    opened = await mai.send(f"/start {mais_code}")
    assert opened[-1].text.startswith("Kính gửi bà Nguyễn Thị Mai,")
    assert (await _invitation(playground, mais_id)).account_id == await account_id_at(playground.services.database, MAI)


async def test_a_code_posted_in_a_group_binds_nothing(playground, hung):
    invitation_id, _, code = await _invite(playground, "Trần Văn Hùng")

    in_group = await hung.send_in_group(GROUP, f"/start@dienhinh_bot {code}")

    assert len(in_group) == 1 and "liên kết cá nhân" in in_group[0].text
    assert await hung.send_in_group(GROUP, code) == []
    assert (await _invitation(playground, invitation_id)).account_id is None


def test_the_conversation_that_takes_typed_codes_comes_after_every_other_conversation(playground):
    conversations = [
        handler for handler in playground.application.handlers[0] if isinstance(handler, ConversationHandler)
    ]

    # Only /share's offer to revoke comes after it: it takes "1" or "thu hồi" under the link and its
    # confirmation, never a code, so a typed code reaches the delegate's conversation first.
    assert conversations[-1].name == "share"
    last = conversations[-2]
    assert last.name == "rsvp"
    typed = [handler for handler in last.entry_points if getattr(handler, "callback", None) is open_typed_code]
    assert len(typed) == 2  # /start CODE and a typed code
    # Only /start CODE works at its questions too; a typed code there is the question's answer.
    assert [handler for handler in last.fallbacks if getattr(handler, "callback", None) is open_typed_code] == typed[:1]
