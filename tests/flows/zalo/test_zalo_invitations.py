"""An invitation on Zalo: the delegate types the code printed beside the link (Zalo has no deep links),
reads the card as a numbered menu and answers by typing — accept, decline, or propose a substitute whom an
organiser on Telegram approves. The real Application, the real ZaloClient and the fake Zalo server."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground, ZaloChatUser
from rules.invitations import invitation_code
from storage.models import Invitation
from tests.flows.zalo.conftest import zalo_organiser
from tests.invitations import invite
from tests.people import account_id_at

CARD_MENU = "1. Tham dự\n2. Không tham dự\n3. Cử người thay thế\n\nTrả lời 1, 2 hoặc 3."
SHOWN = re.compile(r"(?<![\w-])[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}(?![\w-])")


async def _invite(playground: Playground, name: str, gender: str = "nam") -> tuple[int, str]:
    """An invitation to the district conference: its id and the code printed on it."""
    invited = await invite(playground.services, name, gender=gender, birth_year=1956, occupation_group="cong_nhan")
    return invited.id, invited.code


async def _invitation(playground: Playground, invitation_id: int) -> Invitation:
    async with playground.services.database.transaction() as db:
        return await db.get_one(Invitation, invitation_id)


async def _drain(playground: Playground) -> None:
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()


async def _open_card(playground: Playground, delegate: ZaloChatUser, code: str) -> str:
    replies = await delegate.send(f"ma moi {code.replace('-', '').lower()}")
    assert replies, "the code got no answer"
    return replies[-1]


async def test_a_zalo_delegate_types_the_code_then_accepts_by_typing_and_is_told_where_the_pass_is(
    playground: Playground, plan: None
) -> None:
    invitation_id, code = await _invite(playground, "Lê Văn Hùng")
    hung = playground.zalo_person("Lê Văn Hùng")

    card = await _open_card(playground, hung, code)

    assert "Lê Văn Hùng" in card and f"Mã mời: {code}" in card
    assert card.endswith(CARD_MENU)
    assert "?start=" not in card  # a Zalo user cannot open a deep link
    stored = await _invitation(playground, invitation_id)
    assert stored.account_id == await account_id_at(playground.services.database, await hung.address())

    accepted = await hung.send("tham du")

    assert accepted[0].startswith("Xin trân trọng cảm ơn ông Lê Văn Hùng. Chỗ của ông tại")
    assert (await _invitation(playground, invitation_id)).status == "accepted"
    # The QR code and the calendar file cannot reach Zalo without a public address: the check-in code does.
    assert not any(text.startswith("[photo") or text.startswith("[document") for text in accepted)
    check_in = next(text for text in accepted if "Mã điểm danh" in text or "mã điểm danh" in text)
    assert SHOWN.search(check_in) is not None


async def test_a_zalo_delegate_declines_by_number_with_a_typed_reason_and_the_card_says_so_when_opened_again(
    playground: Playground, plan: None
) -> None:
    invitation_id, code = await _invite(playground, "Nguyễn Thị Lan", gender="nu")
    lan = playground.zalo_person("Nguyễn Thị Lan")
    await _open_card(playground, lan, code)

    asked = await lan.send("2")
    sticker = await lan.send_sticker()
    declined = await lan.send("Đi công tác xa")

    assert asked[-1].startswith("Xin cho biết ngắn gọn lý do không thể tham dự")
    assert sticker == [
        "Vui lòng trả lời bằng tin nhắn chữ.\n\nXin cho biết ngắn gọn lý do không thể tham dự (ví dụ: “đi "
        "công tác”). Gõ /cancel để giữ nguyên câu trả lời."
    ]
    assert declined[-1].startswith("Đã ghi nhận: bà Nguyễn Thị Lan không tham dự.")
    stored = await _invitation(playground, invitation_id)
    assert (stored.status, stored.decline_reason) == ("declined", "Đi công tác xa")
    again = await _open_card(playground, lan, code)
    assert "Trả lời: chưa có." not in again
    assert "không tham dự" in again.lower()


async def test_a_zalo_delegate_proposes_a_substitute_by_typing_and_hears_the_approval_on_zalo(
    playground: Playground, plan: None, organiser: ChatUser
) -> None:
    invitation_id, code = await _invite(playground, "Lê Văn Hùng")
    hung = playground.zalo_person("Lê Văn Hùng")
    await _open_card(playground, hung, code)

    asked = await hung.send("3")
    assert asked[-1].startswith("Ai sẽ tham dự thay? Xin gõ họ và tên đầy đủ")
    for answer in ("Nguyễn Thị Lan", "nu", "1985", "1", "Cán bộ phường Bưởi"):
        last = await hung.send(answer)
    assert last[-1].startswith("Xin cảm ơn. Đề xuất để Nguyễn Thị Lan tham dự thay đã được gửi tới Ban Tổ chức.")

    await organiser.send("/substitutes")
    approved = await organiser.press("Duyệt")
    assert any(message.text.startswith("Đã duyệt") for message in approved)
    before = len(hung.messages)
    await _drain(playground)

    [told] = hung.texts[before:]
    assert told.startswith(
        "Kính gửi ông Lê Văn Hùng,\nBan Tổ chức đã đồng ý để Nguyễn Thị Lan tham dự Hội nghị Điển hình tiên tiến thay ông."
    )
    assert "một tài khoản Telegram" not in told  # the code works on Zalo as well
    async with playground.services.database.transaction() as db:
        substitute = await db.scalar(select(Invitation).where(Invitation.substitute_for_id == invitation_id))
    assert substitute is not None and substitute.full_name == "Nguyễn Thị Lan"
    assert f"Hoặc gõ mã mời {invitation_code(substitute, playground.services.link_secret)} " in told
    assert (await _invitation(playground, invitation_id)).status == "substituted"


async def test_on_zalo_a_wrong_answer_at_the_card_asks_to_type_a_number_never_to_press_a_button(
    playground: Playground, plan: None
) -> None:
    _, code = await _invite(playground, "Lê Văn Hùng")
    hung = playground.zalo_person("Lê Văn Hùng")
    await _open_card(playground, hung, code)

    sticker = await hung.send_sticker()
    wrong = await hung.send("có thể")

    for replies in (sticker, wrong):
        assert replies and not any("bấm" in text for text in replies), replies
    assert sticker[-1].startswith("Vui lòng gõ số thứ tự của một lựa chọn trong giấy mời.")
    assert wrong[-1].startswith("Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng gõ số thứ tự của lựa chọn (1–3).")
    assert wrong[-1].endswith(CARD_MENU)


async def test_an_organiser_on_zalo_checks_in_by_name_from_a_numbered_list_and_by_number(
    playground: Playground, plan: None
) -> None:
    first = await invite(playground.services, "Nguyễn Văn Hùng", status="accepted", birth_year=1960)
    second = await invite(playground.services, "Nguyễn Văn Hùng", status="accepted", birth_year=1985)
    hoa = await zalo_organiser(playground)

    asked = await hoa.send("/checkin nguyen van hung")

    assert asked[-1].startswith("Các đại biểu khớp với “nguyen van hung”: bạn điểm danh cho ai?")
    assert f"1. Nguyễn Văn Hùng (số {first.id})" in asked[-1] and f"2. Nguyễn Văn Hùng (số {second.id})" in asked[-1]
    assert asked[-1].endswith("Trả lời 1 hoặc 2.")
    wrong = await hoa.send("5")
    assert wrong[-1].startswith("Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng gõ số thứ tự của lựa chọn (1–2).")
    done = await hoa.send("2")
    assert done[-1].startswith("✅ Đã điểm danh: Nguyễn Văn Hùng")
    assert (await _invitation(playground, second.id)).checked_in_at is not None
    assert (await _invitation(playground, first.id)).checked_in_at is None

    by_number = await hoa.send(f"/checkin {first.id}")
    assert by_number[-1].startswith("✅ Đã điểm danh: Nguyễn Văn Hùng")
