"""/deadlines as people use it, with the clock set around the seed plan's real 2020 dates."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.services import Services
from bot.settings import Settings
from rules import accounts
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import Role
from storage.db import Database
from storage.models import Conference, OrgUnit

HANOI = dt.timezone(dt.timedelta(hours=7))


class Clock:
    """Aware UTC time set by the test, running on in real time from there."""

    def __init__(self) -> None:
        self.moment = dt.datetime(2020, 2, 20, 9, 0, tzinfo=HANOI).astimezone(dt.UTC)
        self.set_at = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.moment + dt.timedelta(seconds=time.monotonic() - self.set_at)

    def set(self, local: str) -> None:
        self.moment = dt.datetime.fromisoformat(local).replace(tzinfo=HANOI).astimezone(dt.UTC)
        self.set_at = time.monotonic()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def bot(settings: Settings, database: Database, clock: Clock) -> AsyncIterator[Playground]:
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
    playground = Playground(lambda: Services.create(settings, clock=clock))
    await playground.start()
    try:
        yield playground
    finally:
        await playground.stop()


@pytest.fixture
def lan(bot: Playground) -> ChatUser:
    return bot.person(Persona(1001, "Lan", "Nguyễn Thị"))


@pytest.fixture
async def minh(bot: Playground) -> ChatUser:
    """The focal point of Phường Bưởi."""
    async with bot.services.database.transaction() as db:
        account = await accounts.ensure_telegram_account(
            db,
            telegram_user_id=2002,
            display_name="Trần Văn Minh",
            username=None,
            organiser_ids=(),
            now=bot.services.clock(),
        )
        ward = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi"))
        await accounts.assign_role(db, account.id, Role.FOCAL_POINT, unit_id=ward)
    return bot.person(Persona(2002, "Minh", "Trần Văn"))


async def test_everyone_sees_what_is_open_and_until_when(lan, clock):
    clock.set("2020-02-20 09:00")

    [reply] = await lan.send("/deadlines")

    assert reply.text == (
        "Các mốc thời gian (giờ Việt Nam):\n\n"
        "📅 Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt\n"
        "• Nhận đề cử: đến 17:00, 29/2/2020 (còn 9 ngày)\n"
        "• Trả lời thư mời: đến 17:00, 10/3/2020 (còn 19 ngày)\n"
        "• Hội nghị: trước ngày 14/3/2020\n\n"
        "📅 Hội nghị Điển hình tiên tiến\n"
        "• Nhận đề cử: đến 17:00, 15/5/2020 (còn 85 ngày)\n"
        "• Trả lời thư mời: đến 17:00, 10/6/2020 (còn 111 ngày)\n"
        "• Hội nghị: Quý II/2020\n\n"
        "Để đề cử một điển hình, vui lòng gõ /nominate."
    )


async def test_a_deadline_that_passed_recently_is_shown_as_closed(lan, clock):
    clock.set("2020-03-02 10:00")

    [reply] = await lan.send("/deadlines")

    assert "• Nhận đề cử: đã hết hạn lúc 17:00, 29/2/2020" in reply.text
    assert "• Trả lời thư mời: đến 17:00, 10/3/2020 (còn 8 ngày)" in reply.text


async def test_on_the_day_of_the_deadline_it_says_today(lan, clock):
    clock.set("2020-05-15 08:00")

    [reply] = await lan.send("/deadlines")

    assert "• Nhận đề cử: đến 17:00, 15/5/2020 (hôm nay)" in reply.text
    assert "tuyên dương" not in reply.text  # the grassroots conference is long over


async def test_a_focal_point_also_sees_what_the_unit_has_sent(minh, clock):
    clock.set("2020-05-08 09:00")

    [reply] = await minh.send("/deadlines")

    assert "• Phường Bưởi đã có 0/5 đề cử dự kiến" in reply.text


async def test_nothing_open(lan, clock):
    clock.set("2020-09-01 09:00")

    [reply] = await lan.send("/deadlines")

    assert reply.text == "Hiện không có mốc thời gian nào đang mở."


async def test_in_english(lan, clock):
    clock.set("2020-05-14 09:00")
    await lan.send("/lang")
    await lan.press("English")

    [reply] = await lan.send("/deadlines")

    assert reply.text.startswith("Deadlines (Vietnam time):\n\n📅 Hội nghị Điển hình tiên tiến\n")
    assert "• Nominations: until 5:00\u202fPM, May 15, 2020 (1 day left)" in reply.text
    assert "• Conference: Quarter II/2020" in reply.text


async def test_nominating_after_the_deadline_is_refused(bot, lan, clock):
    clock.set("2020-05-15 16:59")
    started = await lan.send("/nominate")
    assert "Hiện không có hội nghị nào" not in started[-1].text

    clock.set("2020-05-15 17:00")
    late = bot.person(Persona(1002, "Hùng", "Đỗ Văn"))
    refused = await late.send("/nominate")

    assert refused[-1].text.startswith("Hiện không có hội nghị nào đang nhận đề cử")


async def test_deadlines_is_in_everyones_menu(bot, lan):
    [reply] = await lan.send("/help")
    assert "/deadlines — Các mốc thời gian: việc gì đang mở và đến khi nào" in reply.text
    assert any(command["command"] == "deadlines" for command in bot.api.commands["default|"])


async def test_a_moved_deadline_is_shown_at_once(bot, lan, clock):
    clock.set("2020-05-08 09:00")
    async with bot.services.database.transaction() as db:
        await db.execute(
            update(Conference)
            .where(Conference.code == "district")
            .values(nomination_deadline=dt.datetime(2020, 5, 22, 10, 0, tzinfo=dt.UTC))
        )

    [reply] = await lan.send("/deadlines")

    assert "• Nhận đề cử: đến 17:00, 22/5/2020 (còn 14 ngày)" in reply.text
