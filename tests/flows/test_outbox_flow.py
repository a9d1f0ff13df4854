"""The outbox as people see it: a queued message reaches its chat once; organisers can watch the queue."""

from __future__ import annotations

import datetime as dt

from bot.playground.transport import Fault
from rules import outbox
from tests.people import telegram_account


async def test_a_queued_message_reaches_the_person_once(playground, citizen):
    await citizen.send("/start")
    async with playground.services.database.transaction() as db:
        assert await outbox.enqueue(
            db,
            account_id=await telegram_account(db, citizen.chat_id),
            text="Nhắc hạn: còn 3 ngày",
            dedupe_key="remind:1",
        )
        assert not await outbox.enqueue(
            db,
            account_id=await telegram_account(db, citizen.chat_id),
            text="Nhắc hạn: còn 3 ngày",
            dedupe_key="remind:1",
        )

    assert playground.services.outbox is not None
    await playground.services.outbox.drain()
    await playground.services.outbox.drain()

    assert [m.text for m in citizen.messages].count("Nhắc hạn: còn 3 ngày") == 1


async def test_a_message_queued_before_a_restart_is_sent_after_it(playground, citizen):
    async with playground.services.database.transaction() as db:
        await outbox.enqueue(
            db, account_id=await telegram_account(db, citizen.chat_id), text="Quyết định đã có", dedupe_key="decision:7"
        )

    await playground.restart()
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()

    assert citizen.last.text == "Quyết định đã có"


async def test_organisers_see_the_queue_and_others_are_refused(playground, citizen, organiser):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    async with playground.services.database.transaction() as db:
        someone = await telegram_account(db, citizen.chat_id)
        await outbox.enqueue(db, account_id=someone, text="a", dedupe_key="k1")
        await outbox.enqueue(db, account_id=someone, text="b", dedupe_key="k2", due_at=later)
        await outbox.enqueue(db, account_id=await telegram_account(db, 555), text="c", dedupe_key="k3")
    playground.api.fail_next(Fault.blocked(), chat_id=555)
    assert playground.services.outbox is not None
    await playground.services.outbox.drain()

    summary = (await organiser.send("/outbox"))[0].text
    refusal = (await citizen.send("/outbox"))[-1].text

    assert "• đang chờ: 1" in summary
    assert "• đã gửi: 1" in summary
    assert "• không gửi được (người nhận đã chặn bot): 1" in summary
    assert refusal == "Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."
