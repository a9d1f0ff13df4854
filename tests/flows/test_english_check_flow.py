"""The English check every playground runs when it stops (tests/vi_check.py): it fails on a leak, names the
word, the text and the chat, and leaves alone what people typed and chats in English."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.playground.harness import Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings


async def _started(settings: Settings, *, zalo: bool = False) -> Playground:
    playground = Playground(lambda: Services.create(settings), zalo=zalo)
    await playground.start()
    return playground


async def test_english_sent_to_a_vietnamese_chat_fails_when_the_playground_stops(settings):
    playground = await _started(settings)
    lan = playground.person(Persona(1001, "Lan", "Nguyễn Thị"))
    await lan.send("/start")
    await playground.application.bot.send_message(1001, "Đề cử của bạn: Waiting for review")

    with pytest.raises(AssertionError) as failure:
        await playground.stop()
    assert "English word 'Waiting'" in str(failure.value)
    assert "'Đề cử của bạn: Waiting for review'" in str(failure.value)
    assert "chat 1001 after '/start'" in str(failure.value)


async def test_button_labels_and_zalo_messages_are_checked_too(settings):
    playground = await _started(settings, zalo=True)
    hoa = playground.person(Persona(9001, "Hoà", "Phạm Thu"))
    await hoa.send("/start")
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="x")]])
    await playground.application.bot.send_message(9001, "Vui lòng chọn:", reply_markup=buttons)
    lan = playground.zalo_person("Nguyễn Thị Lan")
    await lan.send("/start")
    await playground.application.bot.send_message(await lan.address(), "Xin chào! Please choose one")

    with pytest.raises(AssertionError) as failure:
        await playground.stop()
    assert "English word 'Approve' in Telegram sendMessage to chat 9001" in str(failure.value)
    assert f"English word 'Please' in Zalo message to {lan.zalo_id}" in str(failure.value)


async def test_what_a_person_typed_may_come_back_and_chats_in_english_are_left_out(settings):
    playground = await _started(settings)
    lan = playground.person(Persona(1001, "Lan", "Nguyễn Thị"))
    await lan.send("Please review")
    await playground.application.bot.send_message(1001, "Bạn đã gõ: Please review")
    emma = playground.person(Persona(1002, "Emma", "Stone"))
    await emma.send("/lang English")
    assert (await emma.send("/help"))[0].text.startswith("What you can do:")

    await playground.stop()
