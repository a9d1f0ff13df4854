"""The organisers' desk as they meet it: a delegate accepted over the phone is checked in at the door by
the number every list prints, by name (a pick list when several fit, pressed or typed) or by code; an
override names the delegate the same ways and takes its answer in Vietnamese with or without tone marks;
and a delegate who cancels the substitute's questions still has their card's answers.

The seed plan and clock come from ``test_rsvp_flow``; invitations are made as ``/invite`` makes them.
"""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
from sqlalchemy import select

from bot.playground.harness import Playground
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation, link_token
from storage.models import Invitation, OrgUnit
from tests.flows import test_rsvp_flow as rsvp_flow
from tests.flows.test_rsvp_flow import (
    CARD_BUTTONS,
    CONFERENCE,
    _district,
    _exemplar_seats,
    _fix_the_day,
    _invitation,
    _one,
)
from tests.rules.test_ics import parse_ics

# The seed plan's playground, its clock and its people, as the RSVP flows have them.
clock = rsvp_flow.clock
playground = rsvp_flow.playground
hung = rsvp_flow.hung

POOL = "Đại biểu điển hình tiên tiến"


async def _invite(playground: Playground, name: str, unit: str, *, birth_year: int = 1970) -> tuple[int, str]:
    conference = await _district(playground)
    async with playground.services.database.transaction() as db:
        unit_id = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == unit))
        invitation = await create_invitation(
            db,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name=name, birth_year=birth_year, unit_id=unit_id),
            secret=playground.services.link_secret,
            now=playground.services.clock(),
        )
        assert invitation is not None
        return invitation.id, link_token(invitation, playground.services.link_secret)


async def test_a_delegate_accepted_by_phone_is_checked_in_by_the_number_in_the_lists(playground, organiser):
    mai_id, _ = await _invite(playground, "Lê Thị Mai", "buoi")

    # The organiser types her name, as it was said on the phone, with the answer without tone marks.
    done = await organiser.send("/override le thi mai tham du đã gọi điện xác nhận")

    assert done[-1].text == "Đã ghi nhận cho Lê Thị Mai: tham dự. Lý do: đã gọi điện xác nhận"
    stored = await _invitation(playground, mai_id)
    assert stored.status == "accepted" and stored.account_id is None  # she never opened her link
    assert stored.checkin_code is not None  # ... and still has a check-in code
    # Her number is in /delegates and in the attendance list.
    listing = await organiser.send("/delegates district")
    assert f"• Lê Thị Mai (số {mai_id}) — Phường Bưởi" in listing[-1].text
    assert "Số sau mỗi tên là số giấy mời, in trong mọi danh sách" in listing[-1].text
    attendance = await organiser.send("/attendance district")
    sheet = openpyxl.load_workbook(io.BytesIO(attendance[-1].file_bytes)).active
    assert sheet is not None
    assert sheet.cell(row=5, column=1).value == "Số giấy mời"
    assert [sheet.cell(row=6, column=1).value, sheet.cell(row=6, column=2).value] == [mai_id, "Lê Thị Mai"]
    assert sheet.cell(row=5, column=7).value == "Thành phần"  # no Dân tộc column: it was not asked for
    assert sheet.cell(row=6, column=7).value is None  # Thành phần: her occupation is not known

    # At the door: by the number printed in the list, then again by her code.
    at_door = await organiser.send(f"/checkin {mai_id}")
    again = await organiser.send(f"/checkin {stored.checkin_code.lower()}")

    assert at_door[-1].text.startswith(f"✅ Đã điểm danh: Lê Thị Mai ({POOL}), {CONFERENCE}, lúc ")
    assert again[-1].text.startswith("Lê Thị Mai đã điểm danh lúc ")
    assert (await _invitation(playground, mai_id)).checked_in_at is not None


async def test_before_and_after_a_name_several_delegates_share_is_offered_as_a_pick_list(playground, organiser):
    buoi_id, _ = await _invite(playground, "Nguyễn Văn Hùng", "buoi", birth_year=1960)
    nhat_tan_id, _ = await _invite(playground, "Nguyễn Văn Hùng", "nhat_tan", birth_year=1985)
    other_id, _ = await _invite(playground, "Trần Văn Hùng", "buoi")
    for number in (buoi_id, nhat_tan_id):
        await organiser.send(f"/override {number} dự xác nhận qua điện thoại")

    # Part of a name never checks anyone in by itself: the delegates with a seat are listed.
    asked = await organiser.send("/checkin Hùng")

    assert asked[-1].text == (
        "Các đại biểu khớp với “Hùng”: bạn điểm danh cho ai? Vui lòng chọn một người trong danh sách này."
    )
    assert asked[-1].button_labels == [
        f"Nguyễn Văn Hùng (số {buoi_id}), Phường Bưởi",
        f"Nguyễn Văn Hùng (số {nhat_tan_id}), Phường Nhật Tân",
    ]  # Trần Văn Hùng has no seat: he is not offered
    assert (await _invitation(playground, buoi_id)).checked_in_at is None
    pressed = await organiser.press(f"Nguyễn Văn Hùng (số {nhat_tan_id}), Phường Nhật Tân")
    assert pressed[-1].text.startswith(f"✅ Đã điểm danh: Nguyễn Văn Hùng ({POOL}), {CONFERENCE}, lúc ")
    assert (await _invitation(playground, nhat_tan_id)).checked_in_at is not None
    assert (await _invitation(playground, buoi_id)).checked_in_at is None

    # The whole name, shared by two: the list again (the one checked in is marked), answered by typing.
    asked = await organiser.send("/checkin nguyen van hung")
    assert asked[-1].button_labels[1] == f"Nguyễn Văn Hùng (số {nhat_tan_id}), Phường Nhật Tân ✅"
    wrong = await organiser.send("7")
    assert wrong[-1].text.startswith(
        "Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng bấm một nút hoặc gõ số thứ tự (1–2)."
    )
    typed = await organiser.send("1")
    assert typed[-1].text.startswith(f"✅ Đã điểm danh: Nguyễn Văn Hùng ({POOL}), {CONFERENCE}, lúc ")
    assert (await _invitation(playground, buoi_id)).checked_in_at is not None

    # Someone without a seat is named, with why.
    refused = await organiser.send("/checkin Trần Văn Hùng")
    assert refused[-1].text == (
        "Trần Văn Hùng chưa có chỗ được xác nhận (tình trạng: chưa trả lời), nên không thể điểm danh. Vui lòng "
        "kiểm tra lại với Ban tổ chức."
    )
    unknown = await organiser.send("/checkin Phạm Văn Quang")
    assert unknown[-1].text == (
        "Tôi không tìm thấy đại biểu nào có số giấy mời, mã hoặc tên “Phạm Văn Quang”. Gõ /delegates để xem số "
        "giấy mời của từng người."
    )
    assert (await _invitation(playground, other_id)).checked_in_at is None


async def test_an_override_by_part_of_a_name_is_picked_and_the_answer_may_be_typed_without_tone_marks(
    playground, organiser
):
    mai_id, _ = await _invite(playground, "Lê Thị Mai", "buoi")

    usage = await organiser.send("/override Mai")
    asked = await organiser.send("/override mai khong du bi om")

    assert "rồi trả lời (dự hoặc không dự) và lý do" in usage[-1].text
    assert "attend" not in usage[-1].text and "decline" not in usage[-1].text
    assert asked[-1].text.startswith("Các đại biểu khớp với “mai”: bạn ghi nhận “không tham dự” cho ai?")
    assert asked[-1].button_labels == [f"Lê Thị Mai (số {mai_id}), Phường Bưởi"]
    assert (await _invitation(playground, mai_id)).status == "pending"
    done = await organiser.send("1")
    assert done[-1].text == "Đã ghi nhận cho Lê Thị Mai: không tham dự. Lý do: bi om"
    assert (await _invitation(playground, mai_id)).status == "declined"


async def test_a_waitlisted_delegate_promoted_without_ever_opening_their_link_can_be_checked_in(
    playground, hung, organiser
):
    await _exemplar_seats(playground, 1)
    hung_id, token = await _invite(playground, "Trần Văn Hùng", "buoi")
    waiting_id, _ = await _invite(playground, "Đỗ Thị Lan", "nhat_tan")
    await hung.send(f"/start inv_{token}")
    await hung.press("Tham dự")
    queued = await organiser.send(f"/override {waiting_id} dự đã gọi điện")
    assert queued[-1].text.startswith(
        "Nhóm đại biểu của Đỗ Thị Lan đã đủ chỗ, nên người này được xếp vào danh sách chờ"
    )

    await hung.send("/rsvp")
    await hung.press("Không tham dự")
    await hung.send("Bận công tác")

    assert (await _invitation(playground, waiting_id)).status == "accepted"
    checked = await organiser.send("/checkin Đỗ Thị Lan")
    assert checked[-1].text.startswith(f"✅ Đã điểm danh: Đỗ Thị Lan ({POOL}), {CONFERENCE}, lúc ")
    assert (await _invitation(playground, hung_id)).status == "declined"


async def test_after_cancelling_the_substitute_questions_the_card_still_answers(playground, hung):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng", "buoi")
    await hung.send(f"/start inv_{token}")
    await hung.press("Cử người thay thế")
    await hung.send("Nguyễn Thị Mai")

    cancelled = await hung.send("/cancel")

    assert cancelled[-1].text.startswith(
        "Đã huỷ. Không có gì thay đổi; giấy mời vẫn giữ nguyên.\n\nGiấy mời dự " + CONFERENCE
    )
    assert cancelled[-1].button_labels == CARD_BUTTONS
    # Typed, its answers work ...
    reason = await hung.send("2")
    assert reason[-1].text.startswith("Xin cho biết ngắn gọn lý do không thể tham dự")
    # ... and /cancel there brings the card back again, whose buttons work too.
    again = await hung.send("/cancel")
    assert again[-1].button_labels == CARD_BUTTONS
    accepted = await hung.press("Tham dự", again[-1])
    assert accepted[0].text == (
        # No gender on record: "ông/bà".
        f"Xin trân trọng cảm ơn ông/bà Trần Văn Hùng. Chỗ của ông/bà tại {CONFERENCE} đã được xác nhận."
    )
    stored = await _invitation(playground, invitation_id)
    assert stored.status == "accepted"
    async with playground.services.database.transaction() as db:
        proposals = (await db.scalars(select(Invitation).where(Invitation.substitute_for_id == invitation_id))).all()
    assert proposals == []
    # /cancel at the card itself just ends it.
    await hung.send("/rsvp")
    assert (await hung.send("/cancel"))[-1].text == "Đã huỷ. Không có gì thay đổi."


async def test_the_pass_calendar_file_stays_in_utc_and_matches_the_time_on_the_card(playground, hung):
    starts_at = await _fix_the_day(playground)
    _, token = await _invite(playground, "Trần Văn Hùng", "buoi")
    card = await hung.send(f"/start inv_{token}")
    replies = await hung.press("Tham dự")

    calendar = _one(replies, "thêm hội nghị vào lịch")
    event = parse_ics(calendar.file_bytes)
    assert event["DTSTART"] == starts_at and event["DTEND"] == starts_at + dt.timedelta(hours=4)
    local = starts_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert f"Thời gian: {local:%H:%M}, {local.day}/{local.month}/{local.year}" in card[-1].text
