"""Texts a real chat can carry that Telegram or the database would refuse: replies that quote a very long
input, and NUL characters (PostgreSQL cannot store them in text)."""

from __future__ import annotations

from sqlalchemy import select

from rules.channel_text import text_length
from storage.models import Account


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
        account = await db.scalar(select(Account).where(Account.telegram_user_id == citizen.chat_id))
    assert account is not None and account.locale == "en"
