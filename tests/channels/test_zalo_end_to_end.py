"""The real Application on Zalo: a person on the fake Zalo server talks to the same handlers as on Telegram,
through the real ZaloClient, the channel's polling and the ChannelRouter under the Application's Bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.app import DienhinhApplication, build_application
from bot.channels.addresses import DatabaseAddressBook
from bot.channels.memory import InMemoryFileStore
from bot.channels.router import ChannelRouter
from bot.channels.zalo.channel import ZaloChannel
from bot.channels.zalo.client import ZaloClient
from bot.channels.zalo.fake_server import FakeUser, FakeZaloServer
from bot.playground.transport import InProcessBotAPI
from bot.services import Services
from bot.settings import Settings
from storage.db import Database
from storage.models import Account
from tests.channels.waiting import eventually
from tests.people import reached_at

ORGANISER_ID = 9001


@dataclass
class ZaloWorld:
    server: FakeZaloServer
    application: DienhinhApplication
    telegram: InProcessBotAPI
    address_book: DatabaseAddressBook

    async def says(self, person: FakeUser, text: str, answers: int = 1) -> list[str]:
        """``person`` sends ``text`` on Zalo; the texts of the next ``answers`` messages the bot sends them."""
        before = len(self.server.received(person.id))
        self.server.queue(self.server.text_event(person, text))
        await eventually(lambda: len(self.server.received(person.id)) >= before + answers)
        return [message.text or "" for message in self.server.received(person.id)[before:]]


@pytest.fixture
async def world(database: Database) -> AsyncIterator[ZaloWorld]:
    settings = Settings(
        database_url=database.url,
        organiser_ids=(ORGANISER_ID,),
        bot_token="",
        webhook_url="",
        link_secret="test-link-secret",
    )
    services = Services.create(settings)
    address_book = DatabaseAddressBook(services.database, clock=services.clock, account_cache=services.accounts)
    file_store = InMemoryFileStore()
    telegram = InProcessBotAPI()
    application = build_application(services, request=ChannelRouter(telegram, address_book, file_store))
    async with FakeZaloServer() as server, ZaloClient(server.token, base_url=server.base_url) as client:
        channel = ZaloChannel(client, address_book, file_store, application, poll_timeout=0.2)
        await application.initialize()
        assert application.post_init is not None
        await application.post_init(application)
        await application.start()
        await channel.start_polling()
        try:
            yield ZaloWorld(server, application, telegram, address_book)
        finally:
            await channel.stop()
            await application.stop()
            await application.shutdown()
            assert application.post_shutdown is not None
            await application.post_shutdown(application)


async def test_a_zalo_user_starts_and_picks_a_language_from_a_numbered_menu(world: ZaloWorld) -> None:
    lan = world.server.user("Nguyễn Thị Lan")

    [welcome] = await world.says(lan, "/start")
    [question] = await world.says(lan, "/lang")
    [done] = await world.says(lan, "2")
    [again] = await world.says(lan, "/lang")

    assert welcome.startswith("Xin chào Nguyễn Thị Lan! Tôi là trợ lý công tác thi đua – khen thưởng.")
    assert question == "Bạn muốn dùng ngôn ngữ nào?\n\n1. Tiếng Việt\n2. English\n\nTrả lời 1 hoặc 2."
    assert done == "Done: I will use English from now on."
    # The hint the channel adds follows the account's new language.
    assert again == "Which language do you prefer?\n\n1. Tiếng Việt\n2. English\n\nReply 1 or 2."
    address = await world.address_book.address_of("zalo", lan.id, "Nguyễn Thị Lan")
    async with world.application.services.database.transaction() as session:
        account = (await session.execute(select(Account).where(reached_at(address)))).scalar_one()
    assert (account.display_name, account.locale) == ("Nguyễn Thị Lan", "en")
    # Nothing of it went to Telegram: no message, no command menu for the Zalo chat.
    assert world.telegram.messages(address) == []
    assert not any(str(address) in scope for scope in world.telegram.commands)


async def test_a_wrong_answer_on_zalo_gets_the_question_again_as_a_menu(world: ZaloWorld) -> None:
    minh = world.server.user("Trần Văn Minh")

    await world.says(minh, "/lang")
    [retry] = await world.says(minh, "tiếng Pháp")

    assert retry == (
        "Xin lỗi, tôi chưa hiểu câu trả lời. Vui lòng gõ số thứ tự của lựa chọn (1–2).\n\n"
        "Bạn muốn dùng ngôn ngữ nào?\n\n1. Tiếng Việt\n2. English\n\nTrả lời 1 hoặc 2."
    )


async def test_help_on_zalo_says_how_to_answer_without_buttons_and_where_files_and_codes_go(world: ZaloWorld) -> None:
    hoa = world.server.user("Phạm Thu Hoà")

    [help_text] = await world.says(hoa, "/help")

    assert "Trên Zalo, bạn trả lời mỗi câu hỏi bằng cách gõ số thứ tự" in help_text
    assert "K7M2-Q9XD" in help_text
    assert "bấm" not in help_text  # no buttons to press on Zalo
    assert "danh sách khách mời" not in help_text  # a citizen imports none
