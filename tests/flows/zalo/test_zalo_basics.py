"""A Zalo person and a Telegram person in one playground."""

from __future__ import annotations

from bot.playground.harness import ChatUser, Playground, ZaloChatUser


async def test_a_zalo_person_and_a_telegram_person_talk_to_the_same_bot(
    playground: Playground, lan: ZaloChatUser, organiser: ChatUser
) -> None:
    [welcome] = await lan.send("/start")
    question = await lan.send("/lang")
    telegram = await organiser.send("/lang")

    assert welcome.startswith("Xin chào Nguyễn Thị Lan!")
    assert question == ["Bạn muốn dùng ngôn ngữ nào?\n\n1. Tiếng Việt\n2. English\n\nTrả lời 1 hoặc 2."]
    assert telegram[-1].button_labels == ["Tiếng Việt", "English"]
    assert playground.api.messages(await lan.address()) == []
