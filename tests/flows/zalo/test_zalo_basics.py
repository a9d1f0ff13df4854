"""A Zalo person and a Telegram person in one playground."""

from __future__ import annotations

import re

from bot.playground.harness import ChatUser, Playground, ZaloChatUser
from rules.roles import Role
from storage.models import Account
from tests.flows.zalo.conftest import zalo_organiser


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


async def test_a_zalo_organiser_grants_a_role_by_the_account_number_the_person_reads_in_start(
    playground: Playground, lan: ZaloChatUser
) -> None:
    hoa = await zalo_organiser(playground)
    [welcome] = await lan.send("/start")
    number = re.search(r"Số tài khoản của bạn: #(\d+)\.", welcome).group(1)  # type: ignore[union-attr]

    [granted] = await hoa.send(f"/grant #{number} xét duyệt")
    told = await lan.send("/help")

    assert "Nguyễn Thị Lan" in granted and "người xét duyệt" in granted.lower()
    async with playground.services.database.transaction() as db:
        account = await db.get(Account, int(number))
        assert account is not None and account.role == Role.REVIEWER
    assert any("/review" in text for text in told)
