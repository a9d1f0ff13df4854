"""Texts a real chat can carry that Telegram or the database would refuse: replies that quote a very long
input, and NUL characters (PostgreSQL cannot store them in text)."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.playground.transport import Persona
from rules.channel_text import text_length
from storage.models import Account, ChannelIdentity
from tests.people import reached_at


async def test_a_reply_quoting_a_very_long_input_is_split_under_telegrams_limit(playground, organiser):
    replies = await organiser.send("/nomination " + "Lý do " * 900)

    assert len(replies) >= 2
    assert all(0 < len(reply.text) <= 4096 for reply in replies)
    assert replies[0].text.startswith("Không tìm thấy đề cử nào có mã LÝ DO")


async def test_a_reply_full_of_emoji_is_split_by_telegrams_count_not_by_characters(playground, organiser):
    # 2,800 characters but 4,200 UTF-16 units: Telegram counts the latter and would refuse it whole.
    replies = await organiser.send("/nomination " + "🏅 " * 1400)

    assert len(replies) >= 2
    assert all(0 < text_length(reply.text) <= 4096 for reply in replies)


async def test_a_nul_character_in_a_message_is_dropped_before_anything_reads_it(playground, citizen):
    await citizen.send("/lang")
    replies = await citizen.send("Eng\x00lish")

    assert replies[-1].text == "Done: I will use English from now on."
    async with playground.services.database.transaction() as db:
        account = await db.scalar(select(Account).where(reached_at(citizen.chat_id)))
    assert account is not None and account.locale == "en"


async def test_a_telegram_update_claiming_a_channel_address_is_ignored(playground):
    # Addresses from 2**53 up belong to people on other channels (rules.identities): an update that did not
    # come through that channel's adapter may not speak for them, nor make an account there.
    impostor = playground.person(Persona(user_id=2**53 + 1, first_name="Giả", last_name="Mạo"))

    assert await impostor.send("/start") == []
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(ChannelIdentity)) == 0


async def test_the_largest_telegram_ids_are_people_like_any_other(playground):
    huge = playground.person(Persona(user_id=2**52 + 7, first_name="Lớn", last_name="Số"))

    replies = await huge.send("/start")

    assert replies and replies[0].text.startswith("Xin chào")
