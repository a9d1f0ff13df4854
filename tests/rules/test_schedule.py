"""The schedule with a clock the test controls: reminders, escalation, the day before, the digest.

The seed plan keeps its real 2020 dates and the clock is set around them. The bot is the real Application
against the in-process Bot API; the planner runs once at every start (as after a deploy) and whenever the
test says the minute job ran; ``drain()`` is the outbox sender. What people receive is read from their
chats, in Vietnamese.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from bot.playground.harness import Playground
from bot.services import Services
from bot.settings import Settings, SettingsError, load_settings
from handlers.schedule import plan_and_queue
from rules import audit, schedule
from rules.intake import Context, Refused, send
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.schedule import ScheduleConfig
from storage.db import Database
from storage.models import (
    Account,
    AuditEntry,
    Conference,
    Invitation,
    Nomination,
    NominationEvent,
    OrgUnit,
    OutboxMessage,
)
from tests.people import telegram_identities

HANOI = dt.timezone(dt.timedelta(hours=7))
ORGANISER = 9001
BUOI_FOCAL = 2002  # Phường Bưởi: expects 5 nominations to the district conference, has sent none
NHAT_TAN_FOCAL = 2003  # Phường Nhật Tân: has sent its 5
WAITING_DELEGATE = 5001  # invited, has not answered
ANSWERED_DELEGATE = 5002  # invited, has accepted


class Clock:
    """Aware UTC time set by the test; it runs on in real time from the moment set, so the outbox
    sender's pacing (which waits for time to pass) works as it does in production."""

    def __init__(self) -> None:
        self.moment = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        self.set_at = time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.moment + dt.timedelta(seconds=time.monotonic() - self.set_at)

    def set(self, local: str) -> None:
        """``"2020-05-08 07:59"``, Hà Nội time."""
        self.moment = dt.datetime.fromisoformat(local).replace(tzinfo=HANOI).astimezone(dt.UTC)
        self.set_at = time.monotonic()


@dataclass
class World:
    district_id: int
    grassroots_id: int
    buoi_id: int
    nhat_tan_id: int
    accounts: dict[int, int]  # telegram user id → account id


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database: Database) -> Settings:
    return Settings(
        database_url=database.url,
        organiser_ids=(ORGANISER,),
        bot_token="",
        webhook_url="",
        link_secret="test-link-secret",
    )


@pytest.fixture
async def world(database: Database) -> World:
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        conferences = {c.code: c.id for c in await db.scalars(select(Conference))}
        units = {u.code: u.id for u in await db.scalars(select(OrgUnit))}
        people = [
            (ORGANISER, "Phạm Thu Hoà", "organiser", None),
            (BUOI_FOCAL, "Trần Văn Minh", "focal_point", units["buoi"]),
            (NHAT_TAN_FOCAL, "Lê Thị Hạnh", "focal_point", units["nhat_tan"]),
            (WAITING_DELEGATE, "Đỗ Văn Hùng", "citizen", None),
            (ANSWERED_DELEGATE, "Vũ Thị Mai", "citizen", None),
        ]
        accounts = {}
        for user_id, name, role, unit_id in people:
            account = Account(identities=telegram_identities(user_id), display_name=name, role=role, unit_id=unit_id)
            db.add(account)
            await db.flush()
            accounts[user_id] = account.id
        world = World(conferences["district"], conferences["grassroots"], units["buoi"], units["nhat_tan"], accounts)
        await _nominations(db, world, NHAT_TAN_FOCAL, world.nhat_tan_id, 5, at=_utc("2020-05-01 09:00"))
    return world


@pytest.fixture
async def bot(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    """The bot, not started: each test starts it at the time it wants (the planner runs at every start)."""
    playground = Playground(lambda: Services.create(settings, clock=clock))
    try:
        yield playground
    finally:
        await playground.stop()


def _utc(local: str) -> dt.datetime:
    return dt.datetime.fromisoformat(local).replace(tzinfo=HANOI).astimezone(dt.UTC)


async def _nominations(db, world: World, focal_user: int, unit_id: int, count: int, *, at: dt.datetime) -> None:
    campaign_id = await db.scalar(select(Conference.campaign_id).where(Conference.id == world.district_id))
    start = await db.scalar(select(Nomination.id).order_by(Nomination.id.desc()).limit(1)) or 0
    for seq in range(start + 1, start + 1 + count):
        nomination = Nomination(
            code=f"DH-2020-{seq:04d}",
            campaign_id=campaign_id,
            conference_id=world.district_id,
            nominator_id=world.accounts[focal_user],
            source="focal_point",
            unit_id=unit_id,
            status="submitted",
            kind="individual",
            nominee_name=f"Người được đề cử {seq}",
            submitted_at=at,
        )
        db.add(nomination)
        await db.flush()
        db.add(NominationEvent(nomination_id=nomination.id, from_status="draft", to_status="submitted", at=at))


async def _invite(db, world: World, user_id: int, status: str, *, checkin_code: str | None = None) -> int:
    name = {WAITING_DELEGATE: "Đỗ Văn Hùng", ANSWERED_DELEGATE: "Vũ Thị Mai"}[user_id]
    # Mai's gender is on record, Hùng's is not: "bà", and "ông/bà".
    gender = "nu" if user_id == ANSWERED_DELEGATE else None
    invitation = Invitation(
        conference_id=world.district_id,
        pool_code="exemplar",
        import_key=f"person:{user_id}",
        full_name=name,
        name_fold=name.lower(),
        gender=gender,
        status=status,
        link_nonce=f"nonce{user_id}",
        account_id=world.accounts[user_id],
        checkin_code=checkin_code,
    )
    db.add(invitation)
    await db.flush()
    return invitation.id


async def _minute_job(bot: Playground, clock: Clock, local: str) -> None:
    """The clock reaches ``local``; the planner's minute job and the outbox sender run."""
    clock.set(local)
    await plan_and_queue(bot.services, "dienhinh_bot")
    await bot.services.outbox.drain()


def _texts(bot: Playground, chat_id: int) -> list[str]:
    return [message.text for message in bot.api.messages(chat_id)]


def _escalations(bot: Playground) -> list[str]:
    return [text for text in _texts(bot, ORGANISER) if text.startswith("Đã hết hạn nhận đề cử")]


async def _rows(database: Database, prefix: str) -> list[OutboxMessage]:
    async with database.transaction() as db:
        statement = select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(prefix)).order_by(OutboxMessage.id)
        return list((await db.scalars(statement)).all())


# --- nominations ----------------------------------------------------------------------------------------


async def test_the_seven_day_reminder_leaves_at_eight_local_time_and_skips_a_unit_that_sent_its_share(
    bot, clock, world, database
):
    clock.set("2020-05-08 07:59")
    await bot.start()
    await bot.services.outbox.drain()
    assert _texts(bot, BUOI_FOCAL) == []

    await _minute_job(bot, clock, "2020-05-08 08:00")

    assert _texts(bot, BUOI_FOCAL) == [
        "Nhắc việc: hạn nhận đề cử cho Hội nghị Điển hình tiên tiến là 17:00, 15/5/2020 (còn 7 ngày).\n"
        "Phường Bưởi mới có 0/5 đề cử dự kiến. Vui lòng gõ /nominate để gửi đề cử."
    ]
    assert _texts(bot, NHAT_TAN_FOCAL) == []  # Nhật Tân has sent its five
    [row] = await _rows(database, "remind:nominations:")
    assert row.due_at == _utc("2020-05-08 08:00")
    assert row.dedupe_key == (
        f"remind:nominations:{world.district_id}:{world.buoi_id}:{world.accounts[BUOI_FOCAL]}:7d:20200508"
    )


async def test_the_reminders_follow_the_configured_days_and_time(bot, clock, world, settings):
    settings.nomination_reminder_days = (2,)
    settings.reminder_time = dt.time(9, 15)
    clock.set("2020-05-08 08:00")
    await bot.start()
    await bot.services.outbox.drain()
    assert _texts(bot, BUOI_FOCAL) == []  # no 7-day reminder any more

    await _minute_job(bot, clock, "2020-05-13 09:14")
    assert _texts(bot, BUOI_FOCAL) == []
    await _minute_job(bot, clock, "2020-05-13 09:15")
    [reminder] = _texts(bot, BUOI_FOCAL)
    assert "(còn 2 ngày)" in reminder


async def test_a_unit_that_reaches_its_number_before_the_reminder_is_not_reminded(bot, clock, world, database):
    clock.set("2020-05-08 07:55")
    await bot.start()  # the 08:00 reminder is queued ten minutes ahead
    [queued] = await _rows(database, "remind:nominations:")
    assert queued.status == "pending"

    async with database.transaction() as db:
        await _nominations(db, world, BUOI_FOCAL, world.buoi_id, 5, at=_utc("2020-05-08 07:56"))
    await _minute_job(bot, clock, "2020-05-08 07:57")
    await _minute_job(bot, clock, "2020-05-08 08:00")

    assert _texts(bot, BUOI_FOCAL) == []
    [cancelled] = await _rows(database, "remind:nominations:")
    assert cancelled.status == "cancelled"


async def test_each_reminder_is_sent_once_across_restarts(bot, clock, world, database):
    clock.set("2020-05-08 07:55")
    await bot.start()
    clock.set("2020-05-08 07:58")
    await bot.restart()  # a deploy between queueing and sending: the planner runs again at start
    await _minute_job(bot, clock, "2020-05-08 08:00")
    await bot.restart()  # and one after sending, still within the grace period
    await _minute_job(bot, clock, "2020-05-08 08:01")
    clock.set("2020-05-08 09:00")
    await bot.restart()
    await bot.services.outbox.drain()

    assert len(_texts(bot, BUOI_FOCAL)) == 1
    assert [row.status for row in await _rows(database, "remind:nominations:")] == ["sent"]


async def test_a_reminder_missed_by_minutes_is_sent_but_one_missed_by_a_day_is_not(bot, clock, world):
    clock.set("2020-05-08 08:20")  # the bot was down at 08:00
    await bot.start()
    await bot.services.outbox.drain()
    assert len(_texts(bot, BUOI_FOCAL)) == 1

    await bot.stop()
    clock.set("2020-05-12 09:00")  # down over the 3-day reminder of 12/5 08:00? No: that one is an hour ago
    await bot.start()
    await bot.services.outbox.drain()
    assert len(_texts(bot, BUOI_FOCAL)) == 2
    assert "(còn 3 ngày)" in _texts(bot, BUOI_FOCAL)[-1]

    await bot.stop()
    clock.set("2020-05-14 21:00")  # down for the whole day of the 1-day reminder: not sent thirteen hours late
    await bot.start()
    await bot.services.outbox.drain()
    assert len(_texts(bot, BUOI_FOCAL)) == 2


async def test_no_reminder_after_the_deadline_and_a_waiting_one_is_cancelled_when_it_moves(bot, clock, world, database):
    clock.set("2020-05-14 07:55")
    await bot.start()  # the 1-day reminder for 08:00 is queued
    async with database.transaction() as db:
        # The organisers close nominations early, at 08:02: a reminder at 08:00 would only confuse.
        await db.execute(
            update(Conference)
            .where(Conference.id == world.district_id)
            .values(nomination_deadline=_utc("2020-05-14 08:02"))
        )
    await _minute_job(bot, clock, "2020-05-14 07:56")
    await _minute_job(bot, clock, "2020-05-14 08:00")
    await _minute_job(bot, clock, "2020-05-14 08:30")

    assert all("Nhắc việc" not in text for text in _texts(bot, BUOI_FOCAL))
    assert [row.status for row in await _rows(database, "remind:nominations:")] == ["cancelled"]


async def test_a_deadline_moved_later_brings_its_reminders_again_at_the_new_dates(bot, clock, world, database):
    clock.set("2020-05-08 08:00")
    await bot.start()
    await bot.services.outbox.drain()
    async with database.transaction() as db:  # the plan is reloaded with nominations open a week longer
        await db.execute(
            update(Conference)
            .where(Conference.id == world.district_id)
            .values(nomination_deadline=_utc("2020-05-22 17:00"))
        )

    await _minute_job(bot, clock, "2020-05-12 08:00")  # no longer three days before
    assert len(_texts(bot, BUOI_FOCAL)) == 1
    await _minute_job(bot, clock, "2020-05-15 08:00")

    first, second = _texts(bot, BUOI_FOCAL)
    assert "17:00, 15/5/2020 (còn 7 ngày)" in first
    assert "17:00, 22/5/2020 (còn 7 ngày)" in second


async def test_at_the_deadline_organisers_are_told_which_units_missed_it(bot, clock, world, database):
    clock.set("2020-05-15 16:59")
    await bot.start()
    await bot.services.outbox.drain()
    assert _escalations(bot) == []

    await _minute_job(bot, clock, "2020-05-15 17:00")
    await _minute_job(bot, clock, "2020-05-15 17:01")
    await bot.restart()
    await bot.services.outbox.drain()

    [escalation] = _escalations(bot)
    assert escalation.startswith(
        "Đã hết hạn nhận đề cử cho Hội nghị Điển hình tiên tiến lúc 17:00, 15/5/2020. "
        "Các đơn vị sau có ít hơn số đề cử dự kiến:\n"
    )
    assert "• Phường Bưởi: 0/5" in escalation
    assert "Phường Nhật Tân" not in escalation
    assert _texts(bot, BUOI_FOCAL) == []  # no reminder after the deadline


async def test_a_nomination_after_the_deadline_is_refused(world, database):
    async with database.transaction() as db:
        draft = Nomination(
            campaign_id=await db.scalar(select(Conference.campaign_id).where(Conference.id == world.district_id)),
            conference_id=world.district_id,
            nominator_id=world.accounts[BUOI_FOCAL],
            source="focal_point",
            unit_id=world.buoi_id,
            status="draft",
            kind="collective",
            nominee_name="Tổ dân phố số 5",
            member_count=40,
            economic_sector="nha_nuoc",
            title_code="tap_the_dien_hinh",
            movement_code="van_minh_do_thi",
            achievements="x" * 60,
            publicity_consent=True,
        )
        db.add(draft)
        await db.flush()
        who = Context(
            account_id=world.accounts[BUOI_FOCAL],
            role="focal_point",
            unit_id=world.buoi_id,
            now=_utc("2020-05-15 17:00"),
            draft_ttl=dt.timedelta(hours=72),
        )
        result = await send(db, draft, who)

    assert isinstance(result, Refused)
    assert result.problem.msgid == "Nominations for {conference} closed on {deadline}. It can no longer be sent."
    assert draft.status == "draft" and draft.code is None


# --- delegates ------------------------------------------------------------------------------------------


async def test_delegates_who_have_not_answered_are_reminded_with_their_link(bot, clock, world, database):
    async with database.transaction() as db:
        waiting = await _invite(db, world, WAITING_DELEGATE, "pending")
        await _invite(db, world, ANSWERED_DELEGATE, "accepted")
    clock.set("2020-06-07 07:59")
    await bot.start()
    await bot.services.outbox.drain()
    assert _texts(bot, WAITING_DELEGATE) == []

    await _minute_job(bot, clock, "2020-06-07 08:00")

    [reminder] = _texts(bot, WAITING_DELEGATE)
    assert reminder.startswith(
        "Kính gửi ông/bà Đỗ Văn Hùng,\nBan Tổ chức kính nhắc ông/bà trả lời giấy mời dự Hội nghị Điển hình tiên "
        "tiến trước 17:00, 10/6/2020 (còn 3 ngày).\nXin mở đường dẫn cá nhân để trả lời: "
        "https://t.me/dienhinh_bot?start=inv_"
    )
    assert _texts(bot, ANSWERED_DELEGATE) == []
    [row] = await _rows(database, "remind:rsvp:")
    assert row.topic == schedule.rsvp_topic(waiting)


async def test_a_delegate_who_answers_gets_no_further_reminder(bot, clock, world, database):
    async with database.transaction() as db:
        waiting = await _invite(db, world, WAITING_DELEGATE, "pending")
    clock.set("2020-06-09 07:55")
    await bot.start()  # the 1-day reminder is queued for 08:00
    async with database.transaction() as db:
        await db.execute(update(Invitation).where(Invitation.id == waiting).values(status="declined"))
    await _minute_job(bot, clock, "2020-06-09 07:56")
    await _minute_job(bot, clock, "2020-06-09 08:00")

    assert _texts(bot, WAITING_DELEGATE) == []
    assert [row.status for row in await _rows(database, "remind:rsvp:")] == ["cancelled"]


async def test_no_answer_reminder_after_the_answer_deadline(bot, clock, world, database):
    async with database.transaction() as db:
        await _invite(db, world, WAITING_DELEGATE, "pending")
    clock.set("2020-06-10 17:00")
    await bot.start()
    await _minute_job(bot, clock, "2020-06-11 08:00")
    assert _texts(bot, WAITING_DELEGATE) == []
    assert await _rows(database, "remind:rsvp:") == []


async def test_accepted_delegates_are_told_time_place_and_code_the_day_before(bot, clock, world, database):
    async with database.transaction() as db:
        await db.execute(
            update(Conference)
            .where(Conference.id == world.district_id)
            .values(starts_at=_utc("2020-06-20 08:00"), venue="Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân")
        )
        await _invite(db, world, ANSWERED_DELEGATE, "accepted", checkin_code="K7M2Q9")
        await _invite(db, world, WAITING_DELEGATE, "declined")
    clock.set("2020-06-19 07:59")
    await bot.start()
    await bot.services.outbox.drain()
    assert _texts(bot, ANSWERED_DELEGATE) == []

    await _minute_job(bot, clock, "2020-06-19 08:00")

    assert _texts(bot, ANSWERED_DELEGATE) == [
        "Kính gửi bà Vũ Thị Mai,\n"
        "Ban Tổ chức kính báo: Hội nghị Điển hình tiên tiến diễn ra vào ngày mai, 08:00, 20/6/2020.\n"
        "Địa điểm: Hội trường UBND quận Tây Hồ, 657 Lạc Long Quân\n"
        "Mã điểm danh: K7M2Q9"
    ]
    assert _texts(bot, WAITING_DELEGATE) == []


async def test_a_delegate_reading_in_english_gets_the_plans_english_title_in_both_reminders(
    bot, clock, world, database
):
    async with database.transaction() as db:
        await db.execute(
            update(Conference).where(Conference.id == world.district_id).values(starts_at=_utc("2020-06-20 08:00"))
        )
        await db.execute(update(Account).where(Account.id == world.accounts[ANSWERED_DELEGATE]).values(locale="en"))
        await db.execute(update(Account).where(Account.id == world.accounts[WAITING_DELEGATE]).values(locale="en"))
        await _invite(db, world, ANSWERED_DELEGATE, "accepted", checkin_code="K7M2Q9")
        await _invite(db, world, WAITING_DELEGATE, "pending")
    clock.set("2020-06-07 07:59")
    await bot.start()
    await _minute_job(bot, clock, "2020-06-07 08:00")
    await _minute_job(bot, clock, "2020-06-19 08:00")

    [answer_please] = _texts(bot, WAITING_DELEGATE)
    [tomorrow] = _texts(bot, ANSWERED_DELEGATE)
    # The plan's title_en, not "Hội nghị Điển hình tiên tiến" inside an English sentence.
    assert "answer your invitation to District Exemplars' Conference by" in answer_please
    assert tomorrow.startswith("Dear Ms Vũ Thị Mai,\nA reminder: District Exemplars' Conference takes place tomorrow")


async def test_a_delegate_who_never_opened_the_pass_still_gets_a_check_in_code(bot, clock, world, database):
    async with database.transaction() as db:
        await db.execute(
            update(Conference).where(Conference.id == world.district_id).values(starts_at=_utc("2020-06-20 08:00"))
        )
        accepted = await _invite(db, world, ANSWERED_DELEGATE, "accepted")  # promoted from the waiting list
    clock.set("2020-06-19 08:00")
    await bot.start()
    await bot.services.outbox.drain()

    [reminder] = _texts(bot, ANSWERED_DELEGATE)
    assert "Địa điểm: sẽ thông báo sau" in reminder
    async with database.transaction() as db:
        invitation = await db.get_one(Invitation, accepted)
    assert invitation.checkin_code and reminder.endswith(f"Mã điểm danh: {invitation.checkin_code}")
    assert invitation.checkin_token_hash is not None  # the pass shown later has the same code


# --- the organisers' digest -----------------------------------------------------------------------------


async def test_the_digest_leaves_at_seven_thirty_once_even_across_a_restart_at_seven_twenty_nine(
    bot, clock, world, database
):
    clock.set("2020-05-14 07:29")  # a deadline tomorrow: something to say
    await bot.start()
    await bot.restart()  # the restart at 07:29
    await bot.services.outbox.drain()
    assert _texts(bot, ORGANISER) == []

    await _minute_job(bot, clock, "2020-05-14 07:30")
    await _minute_job(bot, clock, "2020-05-14 07:31")
    await bot.restart()
    await _minute_job(bot, clock, "2020-05-14 07:32")

    [digest] = [text for text in _texts(bot, ORGANISER) if text.startswith("Tin tổng hợp")]
    assert digest.startswith("Tin tổng hợp ngày 14/5/2020. Thay đổi được tính từ 07:30, 13/5/2020.")
    assert "📋 Hội nghị Điển hình tiên tiến" in digest
    assert "• Nhận đề cử: đến 17:00, 15/5/2020 (còn 1 ngày)" in digest
    assert "• Đề cử: đã nhận 5; chờ xét duyệt 5, đã duyệt 0, trả lại để chỉnh sửa 0, không được chấp nhận 0" in digest
    assert "• Đơn vị chưa có đề cử nào (" in digest and "Phường Bưởi" in digest
    assert "• Đại biểu điển hình tiên tiến: 0/210 chỗ đã nhận lời (0%), còn thiếu 210" in digest


async def test_a_digest_missed_while_the_bot_was_down_is_sent_when_it_starts(bot, clock, world):
    clock.set("2020-05-14 07:41")  # down from 07:29 to 07:41
    await bot.start()
    await bot.services.outbox.drain()
    assert len([t for t in _texts(bot, ORGANISER) if t.startswith("Tin tổng hợp")]) == 1


async def test_no_digest_on_a_quiet_day_and_the_next_one_counts_since_the_last(bot, clock, world, database):
    clock.set("2020-04-20 07:30")  # nothing changed since yesterday, no deadline within three days
    await bot.start()
    await bot.services.outbox.drain()
    await _minute_job(bot, clock, "2020-04-20 12:00")
    assert _texts(bot, ORGANISER) == []

    async with database.transaction() as db:
        await _nominations(db, world, BUOI_FOCAL, world.buoi_id, 2, at=_utc("2020-04-20 15:00"))
    await _minute_job(bot, clock, "2020-04-21 07:30")

    [digest] = _texts(bot, ORGANISER)
    assert "• Từ lần tổng hợp trước: 2 đề cử mới, 0 được duyệt, 0 trả lại để chỉnh sửa, 0 không được chấp nhận" in (
        digest
    )


async def test_the_digest_counts_changes_since_the_previous_digest_only(bot, clock, world, database):
    clock.set("2020-05-13 07:30")
    await bot.start()
    await bot.services.outbox.drain()
    async with database.transaction() as db:
        await _nominations(db, world, BUOI_FOCAL, world.buoi_id, 1, at=_utc("2020-05-13 10:00"))
    await _minute_job(bot, clock, "2020-05-14 07:30")

    first, second = [text for text in _texts(bot, ORGANISER) if text.startswith("Tin tổng hợp")]
    assert "Từ lần tổng hợp trước" not in first  # the five of 1/5 are older than a day
    assert "• Từ lần tổng hợp trước: 1 đề cử mới" in second
    assert "Thay đổi được tính từ 07:30, 13/5/2020." in second


async def test_the_digest_carries_the_audit_chains_head_for_a_later_check(bot, clock, world, database):
    async with database.transaction() as db:
        for number in (1, 2, 3):
            db.add(
                AuditEntry(
                    at=_utc("2020-05-13 10:00"),
                    actor_id=world.accounts[ORGANISER],
                    action="nomination.approve",
                    entity="nomination",
                    entity_id=str(number),
                    detail={},
                )
            )
    clock.set("2020-05-14 07:30")
    await bot.start()
    await bot.services.outbox.drain()

    [digest] = [text for text in _texts(bot, ORGANISER) if text.startswith("Tin tổng hợp")]
    async with database.transaction() as db:
        head = await audit.head(db)
        assert head is not None and head.count >= 3
        shown = digest.rsplit("--expect-head ", 1)[-1]
        verdict = await audit.verify(db, expect_head=shown)
    assert digest.endswith(
        f"🔒 Nhật ký kiểm tra: {head.count} mục, mã cuối {head.short}. Để kiểm tra không có mục nào trước đó bị sửa: "
        f"dienhinh audit verify --expect-head {head.short}"
    )
    assert verdict.problem is None and verdict.expected_at == head.count


async def test_a_digest_too_long_for_one_message_keeps_the_audit_head_and_cuts_the_conferences(world, database):
    from zoneinfo import ZoneInfo

    from bot.i18n import Translators
    from handlers.schedule import Renderer
    from rules.outbox import MAX_TEXT_CHARS

    until = _utc("2020-05-14 07:30")
    async with database.transaction() as db:
        content = await schedule.digest_content(
            db, since=until - dt.timedelta(days=1), until=until, config=ScheduleConfig()
        )
    assert content is not None
    head = audit.Head(1234, "6e372d438ca48440" + "0" * 48)
    digest = schedule.Digest(
        "digest:1:20200514", "digest:1", until, schedule.Recipient(1, "vi"), until, until, content * 40, head
    )

    text = Renderer.digest(Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).get("vi"), digest)

    assert len(text) <= MAX_TEXT_CHARS
    assert "…\n\n🔒 Nhật ký kiểm tra: 1.234 mục, mã cuối 6e372d438ca48440." in text
    assert text.endswith("dienhinh audit verify --expect-head 6e372d438ca48440")


# --- the planner's rules without a bot --------------------------------------------------------------------


async def test_planning_twice_adds_nothing_twice(world, database):
    config = ScheduleConfig()
    now = _utc("2020-05-08 08:00")
    async with database.transaction() as db:
        first = await schedule.run(db, now=now, config=config, render=lambda intent: intent.key)
        second = await schedule.run(db, now=now, config=config, render=lambda intent: intent.key)
    assert first.added == {"nomination_reminder": 1}
    assert second.total_added == 0 and second.cancelled == 0


def test_reminder_settings_are_parsed_and_a_malformed_one_is_named(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    defaults = load_settings()
    assert defaults.nomination_reminder_days == (7, 3, 1)
    assert defaults.rsvp_reminder_days == (3, 1)
    assert (defaults.reminder_time, defaults.digest_time) == (dt.time(8, 0), dt.time(7, 30))

    monkeypatch.setenv("NOMINATION_REMINDER_DAYS", "1, 14,3")
    monkeypatch.setenv("REMINDER_TIME", "7:45")
    parsed = load_settings()
    assert parsed.nomination_reminder_days == (14, 3, 1)
    assert parsed.reminder_time == dt.time(7, 45)

    for name, value in [
        ("NOMINATION_REMINDER_DAYS", "7,ba,1"),
        ("RSVP_REMINDER_DAYS", "0"),
        ("REMINDER_TIME", "25:00"),
        ("DIGEST_TIME", "7h30"),
    ]:
        monkeypatch.setenv(name, value)
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert caught.value.setting == name
        monkeypatch.delenv(name)
        monkeypatch.delenv("NOMINATION_REMINDER_DAYS", raising=False)
