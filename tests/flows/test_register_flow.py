"""The register: a delegate is written to as a Vietnamese office writes, "Kính gửi bà Đỗ Thị Hạnh," and
"bà" (or "ông") after that, by the gender on record, "ông/bà" without it — never "bạn". A citizen keeps the
friendly "bạn". In English, "Dear Ms …".

Before: the card said "Kính chào Đỗ Thị Hạnh! Đây là giấy mời dành riêng cho bạn.", an answer "Xin cảm ơn!
Chỗ của bạn …" and a decline "Đã ghi nhận: bạn không tham dự. Cảm ơn bạn …".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from tests.clock import Clock
from tests.invitations import invite

HANH, ANH, CITIZEN = 6001, 6002, 6003
NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
async def playground(settings: Settings) -> AsyncIterator[Playground]:
    clock = Clock(NOW)
    pg = Playground(lambda: Services.create(settings, clock=clock))
    await pg.start()
    async with pg.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), NOW.date()))
    try:
        yield pg
    finally:
        await pg.stop()


def _words(user: ChatUser) -> set[str]:
    """Every word the bot wrote to ``user``, lower case ("ông/bà" counts as "ông" and "bà")."""
    return {word.casefold() for message in user.messages for word in re.findall(r"\w+", message.text or "")}


async def test_a_woman_delegate_is_written_to_as_ba_from_the_card_to_her_decline(playground):
    hanh = playground.person(Persona(HANH, "Hạnh", "Đỗ Thị"))
    invited = await invite(playground.services, "Đỗ Thị Hạnh", gender="nu")

    card = await hanh.send(f"/start inv_{invited.token}")

    assert card[-1].text.startswith(
        "Kính gửi bà Đỗ Thị Hạnh,\nĐây là giấy mời dành riêng cho bà. Kính đề nghị bà giữ cuộc trò chuyện này"
    )
    assert "Trân trọng kính mời bà Đỗ Thị Hạnh tới dự (Đại biểu điển hình tiên tiến)." in card[-1].text
    accepted = await hanh.press("Tham dự")
    assert accepted[0].text.startswith("Xin trân trọng cảm ơn bà Đỗ Thị Hạnh. Chỗ của bà tại ")
    await hanh.send("/rsvp")
    asked = await hanh.press("Không tham dự")
    assert asked[-1].text.startswith("Xin cho biết ngắn gọn lý do không thể tham dự")
    declined = await hanh.send("Đi công tác xa")
    assert declined[-1].text.startswith(
        "Đã ghi nhận: bà Đỗ Thị Hạnh không tham dự. Xin cảm ơn bà đã báo cho Ban Tổ chức. "
        "Chỗ đã được chuyển cho đại biểu khác."
    )
    # Nothing she read (card, answers, the check-in pass, the calendar file) calls her "bạn", or "ông".
    words = _words(hanh)
    assert "bạn" not in words and "ông" not in words and "bà" in words


async def test_without_a_gender_on_record_the_delegate_is_ong_ba(playground):
    anh = playground.person(Persona(ANH, "Ánh", "Trần Thị Ngọc"))
    invited = await invite(playground.services, "Trần Thị Ngọc Ánh", gender=None)

    card = await anh.send(f"/start inv_{invited.token}")
    accepted = await anh.press("Tham dự")

    assert card[-1].text.startswith("Kính gửi ông/bà Trần Thị Ngọc Ánh,\nĐây là giấy mời dành riêng cho ông/bà.")
    assert accepted[0].text.startswith("Xin trân trọng cảm ơn ông/bà Trần Thị Ngọc Ánh. Chỗ của ông/bà tại ")
    assert "bạn" not in _words(anh)


async def test_in_english_a_delegate_is_dear_ms_and_thanked_by_name(playground):
    hanh = playground.person(Persona(HANH, "Hạnh", "Đỗ Thị"))
    await hanh.send("/lang English")
    invited = await invite(playground.services, "Đỗ Thị Hạnh", gender="nu")

    card = await hanh.send(f"/start inv_{invited.token}")
    accepted = await hanh.press("Attend")

    assert card[-1].text.startswith("Dear Ms Đỗ Thị Hạnh,\nThis is your personal invitation.")
    assert "Invitation to District Exemplars' Conference" in card[-1].text  # the plan's title_en
    assert "We respectfully invite Ms Đỗ Thị Hạnh to attend (" in card[-1].text
    assert "Đại biểu" not in card[-1].text  # the pool by its title_en too, not "Đại biểu điển hình tiên tiến"
    assert accepted[0].text.startswith("Thank you, Ms Đỗ Thị Hạnh: your seat at ")


async def test_a_citizen_is_still_ban(playground):
    citizen = playground.person(Persona(CITIZEN, "Lan", "Nguyễn Thị"))

    started = await citizen.send("/start")

    assert "Bạn có thể:" in started[-1].text
    assert "kính gửi" not in started[-1].text.casefold()
