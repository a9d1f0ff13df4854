"""Reviewing without Telegram: the queue, decisions and their records, duplicates, visibility, publicity."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from rules import review
from rules.accounts import AccountSnapshot, snapshot
from rules.nominations import Status, transition
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.review import Action, Decision, LookupRefusal, PublishRefusal, Refusal
from rules.text import fold
from storage.models import (
    Account,
    AuditEntry,
    Campaign,
    Conference,
    Endorsement,
    Evidence,
    Nomination,
    NominationEvent,
    OrgUnit,
    OutboxMessage,
)
from tests.people import telegram_identities

NOW = dt.datetime(2020, 2, 20, 1, 12, tzinfo=dt.UTC)  # 08:12 in Hà Nội
CHANNEL = -1001234567890


@dataclass
class World:
    campaign_id: int
    grassroots_id: int
    district_id: int
    buoi_id: int
    nhat_tan_id: int
    nominator: AccountSnapshot
    reviewer: AccountSnapshot
    organiser: AccountSnapshot
    stranger: AccountSnapshot


async def _account(session, telegram_user_id: int | None, name: str, role: str, locale: str | None = None):
    account = Account(identities=telegram_identities(telegram_user_id), display_name=name, role=role, locale=locale)
    session.add(account)
    await session.flush()
    return snapshot(account)


async def seed(session) -> World:
    """The seed plan and four people: a citizen who nominates, a reviewer, an organiser, a stranger."""
    await apply_plan(session, load_plan_file(SEED_PLAN))
    conferences = {c.code: c for c in await session.scalars(select(Conference))}
    units = {u.code: u.id for u in await session.scalars(select(OrgUnit))}
    return World(
        campaign_id=conferences["district"].campaign_id,
        grassroots_id=conferences["grassroots"].id,
        district_id=conferences["district"].id,
        buoi_id=units["buoi"],
        nhat_tan_id=units["nhat_tan"],
        nominator=await _account(session, 1001, "Nguyễn Thị Lan", "citizen", locale="en"),
        reviewer=await _account(session, 3003, "Lê Minh Tuấn", "reviewer"),
        organiser=await _account(session, 9001, "Phạm Thu Hoà", "organiser"),
        stranger=await _account(session, 4004, "Trần Bình", "citizen"),
    )


async def nominate(
    session,
    world: World,
    seq: int,
    name: str = "Nguyễn Văn An",
    *,
    birth_year: int | None = 1985,
    submitted_at: dt.datetime | None = None,
    status: str = "submitted",
    photo: bool = True,
    **fields: Any,
) -> Nomination:
    """A nomination as the intake leaves it when sent in, with one photo as evidence."""
    values: dict[str, Any] = {
        "code": f"DH-2020-{seq:04d}",
        "kind": "individual",
        "nominee_name": name,
        "nominee_fold": fold(name),
        "gender": "nam",
        "birth_year": birth_year,
        "ethnicity": "tay",
        "religion": "phat_giao",
        "phone_e164": "+84912345678",
        "unit_id": world.buoi_id,
        "occupation_group": "cong_nhan",
        "position": "Tổ trưởng tổ dân phố",
        "workplace": "Tổ dân phố số 5",
        "title_code": "lao_dong_tien_tien",
        "movement_code": "nguoi_tot_viec_tot",
        "achievements": "Vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh.",
        "submitted_at": submitted_at or NOW - dt.timedelta(days=10 - seq),
        "campaign_id": world.campaign_id,
        "conference_id": world.district_id,
        "nominator_id": world.nominator.id,
        "source": "citizen",
        "publicity_consent": True,
        "sensitive_consent": True,
        "status": status,
    }
    values.update(fields)
    nomination = Nomination(**values)
    session.add(nomination)
    await session.flush()
    if photo:
        session.add(Evidence(nomination_id=nomination.id, kind="photo", file_id=f"photo-{seq}"))
        await session.flush()
    return nomination


def notice(decision: Decision) -> str:
    return f"[{decision.nominator_locale}] {decision.action} {decision.code}: {decision.reason or decision.original}"


async def _outbox(session) -> list[OutboxMessage]:
    return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def _events(session, nomination_id: int) -> list[NominationEvent]:
    return list(
        await session.scalars(
            select(NominationEvent).where(NominationEvent.nomination_id == nomination_id).order_by(NominationEvent.id)
        )
    )


# --- the queue -----------------------------------------------------------------------------------------


async def test_the_queue_is_oldest_first_and_filters_by_conference_and_unit(database):
    async with database.transaction() as db:
        world = await seed(db)
        newer = await nominate(db, world, 1, "Lê Văn Cường", submitted_at=NOW - dt.timedelta(days=1))
        older = await nominate(db, world, 2, "Đỗ Thị Hạnh", submitted_at=NOW - dt.timedelta(days=5))
        other_unit = await nominate(db, world, 3, "Phan Văn Đạt", unit_id=world.nhat_tan_id)
        grassroots = await nominate(db, world, 4, "Vũ Thị Mai", conference_id=world.grassroots_id)
        await nominate(db, world, 5, "Hà Văn Nam", status="draft")
        await nominate(db, world, 6, "Mai Thị Oanh", status="approved")

        everything = await review.review_queue(db, limit=10)
        buoi_district = await review.review_queue(db, conference_id=world.district_id, unit_id=world.buoi_id, limit=10)
        groups = await review.queue_groups(db)

    assert [n.id for n in everything] == [other_unit.id, grassroots.id, older.id, newer.id]
    assert [n.id for n in buoi_district] == [older.id, newer.id]
    assert [(g.conference_id, g.unit_name, g.count) for g in groups] == [
        (world.district_id, "Phường Nhật Tân", 1),
        (world.grassroots_id, "Phường Bưởi", 1),
        (world.district_id, "Phường Bưởi", 2),
    ]
    assert groups[0].conference_title == "Hội nghị Điển hình tiên tiến"


# --- decisions -----------------------------------------------------------------------------------------


async def test_approving_records_who_and_when_and_queues_the_nominators_notice(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        decision = await review.approve(db, nomination.id, actor=world.reviewer, now=NOW, notice=notice)
    async with database.transaction() as db:
        stored = await db.get_one(Nomination, nomination.id)
        events = await _events(db, nomination.id)
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "nomination.approve"))
        messages = await _outbox(db)

    assert decision.ok and decision.status == Status.APPROVED and decision.nominator_locale == "en"
    assert stored.status == "approved" and stored.decided_at == NOW
    assert [(e.from_status, e.to_status, e.actor_id, e.at) for e in events] == [
        ("submitted", "approved", world.reviewer.id, NOW)
    ]
    assert audit is not None and audit.actor_id == world.reviewer.id and audit.entity_id == str(nomination.id)
    assert audit.detail["code"] == "DH-2020-0001" and audit.detail["event_id"] == events[0].id
    assert len(messages) == 1
    assert messages[0].chat_id == 1001
    assert messages[0].payload["text"] == "[en] approve DH-2020-0001: None"
    assert messages[0].dedupe_key == f"nomination:{nomination.id}:event:{events[0].id}"


async def test_a_decided_nomination_is_not_decided_again_and_says_by_whom(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        await review.approve(db, nomination.id, actor=world.organiser, now=NOW, notice=notice)
    later = NOW + dt.timedelta(hours=2)
    async with database.transaction() as db:
        again = await review.approve(db, nomination.id, actor=world.reviewer, now=later, notice=notice)
        rejected = await review.reject(db, nomination.id, "Không đủ", actor=world.reviewer, now=later, notice=notice)
        asked = await review.check_open(db, nomination.id, Action.REJECT, actor=world.reviewer)
    async with database.transaction() as db:
        events = await _events(db, nomination.id)
        messages = await _outbox(db)

    for refused in (again, rejected, asked):
        assert refused.refusal == Refusal.ALREADY_DECIDED
        assert refused.status == "approved"
        assert refused.decided_by == "Phạm Thu Hoà"
        assert refused.decided_at == NOW
    assert len(events) == 1 and len(messages) == 1


async def test_a_rejection_needs_a_reason_which_is_stored_and_quoted(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        blank = await review.reject(db, nomination.id, "  🙂 ", actor=world.reviewer, now=NOW, notice=notice)
        too_long = await review.reject(db, nomination.id, "x" * 1001, actor=world.reviewer, now=NOW, notice=notice)
        too_short = await review.reject(db, nomination.id, " o k ! ", actor=world.reviewer, now=NOW, notice=notice)
        seven = await review.reject(db, nomination.id, "Chưa đạt.!", actor=world.reviewer, now=NOW, notice=notice)
        assert (await db.get_one(Nomination, nomination.id)).status == "submitted"
        decision = await review.reject(
            db,
            nomination.id,
            "  Thành tích chưa có xác nhận của phường. ",
            actor=world.reviewer,
            now=NOW,
            notice=notice,
        )
    async with database.transaction() as db:
        events = await _events(db, nomination.id)
        messages = await _outbox(db)

    assert blank.refusal == Refusal.TEXT_REQUIRED and too_long.refusal == Refusal.TEXT_TOO_LONG
    # At least 10 letters or digits: "ok" or "Chưa đạt." tells the nominator nothing they can act on.
    assert too_short.refusal == seven.refusal == Refusal.TEXT_TOO_SHORT
    assert review.check_text("Thiếu minh chứng") is None
    assert decision.ok and decision.reason == "Thành tích chưa có xác nhận của phường."
    assert [(e.to_status, e.reason) for e in events] == [("rejected", "Thành tích chưa có xác nhận của phường.")]
    assert [m.payload["text"] for m in messages] == [
        "[en] reject DH-2020-0001: Thành tích chưa có xác nhận của phường."
    ]


async def test_asking_for_changes_sends_it_back_and_it_then_waits_for_the_nominator(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        asked = await review.request_changes(
            db, nomination.id, "Vui lòng bổ sung ảnh bằng khen.", actor=world.reviewer, now=NOW, notice=notice
        )
        approve = await review.approve(db, nomination.id, actor=world.organiser, now=NOW, notice=notice)
        queue = await review.review_queue(db, limit=10)

    assert asked.ok and asked.status == "changes_requested"
    assert approve.refusal == Refusal.NOT_AWAITING_REVIEW
    assert approve.decided_by == "Lê Minh Tuấn" and approve.reason == "Vui lòng bổ sung ảnh bằng khen."
    assert queue == []


async def test_marking_a_duplicate_needs_a_standing_original_in_the_same_campaign(database):
    async with database.transaction() as db:
        world = await seed(db)
        original = await nominate(db, world, 1)
        copy = await nominate(db, world, 2)
        withdrawn = await nominate(db, world, 3, "Khác Tên", status="withdrawn")
        other_campaign = Campaign(code="khac-2021", title="Kế hoạch khác")
        db.add(other_campaign)
        await db.flush()
        elsewhere = await nominate(db, world, 4, "Khác Nữa", campaign_id=other_campaign.id, conference_id=None)

        def mark(code: str):
            return review.mark_duplicate(db, copy.id, code, actor=world.reviewer, now=NOW, notice=notice)

        unknown = await mark("DH-2020-0099")
        itself = await mark("dh-2020-2")
        unusable = await mark(withdrawn.code)
        foreign = await mark(elsewhere.code)
        done = await mark(" dh-2020-1 ")
        stored = await db.get_one(Nomination, copy.id)

    assert unknown.refusal == Refusal.UNKNOWN_ORIGINAL and unknown.original == "DH-2020-0099"
    assert itself.refusal == Refusal.SAME_NOMINATION
    assert unusable.refusal == Refusal.ORIGINAL_UNUSABLE and unusable.original_status == "withdrawn"
    assert foreign.refusal == Refusal.OTHER_CAMPAIGN
    assert done.ok and done.original == "DH-2020-0001"
    assert stored.status == "duplicate" and stored.duplicate_of_id == original.id


async def test_only_reviewers_and_organisers_decide(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        refused = await review.approve(db, nomination.id, actor=world.nominator, now=NOW, notice=notice)
        bulk = await review.approve_many(db, [nomination.id], actor=world.stranger, now=NOW, notice=notice)
        missing = await review.approve(db, 999, actor=world.reviewer, now=NOW, notice=notice)
        stored = await db.get_one(Nomination, nomination.id)

    assert refused.refusal == Refusal.NOT_ALLOWED
    assert bulk.count == 0 and bulk.refused[0].refusal == Refusal.NOT_ALLOWED
    assert missing.refusal == Refusal.NOT_FOUND
    assert stored.status == "submitted"


async def test_approving_many_approves_those_still_waiting_and_tells_each_nominator(database):
    async with database.transaction() as db:
        world = await seed(db)
        first, second, third = [await nominate(db, world, seq, f"Người {seq}") for seq in (1, 2, 3)]
        await review.reject(
            db, second.id, "Trùng hồ sơ với DH-2020-0001", actor=world.organiser, now=NOW, notice=notice
        )
        result = await review.approve_many(
            db, [third.id, first.id, second.id, first.id], actor=world.reviewer, now=NOW, notice=notice
        )
    async with database.transaction() as db:
        statuses = list(await db.scalars(select(Nomination.status).order_by(Nomination.id)))
        messages = await _outbox(db)
        bulk_audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "nomination.approve_many"))

    assert result.count == 2
    assert [d.code for d in result.approved] == ["DH-2020-0001", "DH-2020-0003"]
    assert [(d.code, d.refusal) for d in result.refused] == [("DH-2020-0002", Refusal.ALREADY_DECIDED)]
    assert statuses == ["approved", "rejected", "approved"]
    assert len(messages) == 3  # the rejection and two approvals
    assert bulk_audit is not None and bulk_audit.detail == {"count": 2, "codes": ["DH-2020-0001", "DH-2020-0003"]}


async def test_a_nominator_without_telegram_gets_no_message_but_the_decision_stands(database):
    async with database.transaction() as db:
        world = await seed(db)
        zalo_only = await _account(db, None, "Người dùng Zalo", "citizen")
        nomination = await nominate(db, world, 1, nominator_id=zalo_only.id)
        decision = await review.approve(db, nomination.id, actor=world.reviewer, now=NOW, notice=notice)
        assert await db.scalar(select(func.count()).select_from(OutboxMessage)) == 0

    assert decision.ok


# --- duplicates and endorsements -----------------------------------------------------------------------


async def test_possible_duplicates_match_folded_name_and_birth_year_in_the_campaign(database):
    async with database.transaction() as db:
        world = await seed(db)
        first = await nominate(db, world, 1, "Nguyễn Văn Đức", birth_year=1980)
        same = await nominate(db, world, 2, "NGUYEN van duc", birth_year=1980)
        await nominate(db, world, 3, "Nguyễn Văn Đức", birth_year=1981)
        await nominate(db, world, 4, "Nguyễn Văn Đức", birth_year=1980, status="withdrawn")
        draft = await nominate(db, world, 5, "Nguyễn Văn Đức", birth_year=1980, status="draft", code=None)

        for_same = await review.possible_duplicates(db, same)
        for_draft = await review.possible_duplicates(db, draft)

    assert [n.id for n in for_same] == [first.id]
    assert [n.id for n in for_draft] == [first.id, same.id]


async def test_collectives_are_duplicates_by_folded_name_and_unit(database):
    async with database.transaction() as db:
        world = await seed(db)
        team = {"kind": "collective", "birth_year": None, "member_count": 12}
        first = await nominate(db, world, 1, "Tổ dân phố số 5", **team)
        same_unit = await nominate(db, world, 2, "Tổ Dân Phố Số 5", **team)
        other_unit = await nominate(db, world, 3, "Tổ dân phố số 5", unit_id=world.nhat_tan_id, **team)

        assert [n.id for n in await review.possible_duplicates(db, same_unit)] == [first.id]
        assert await review.possible_duplicates(db, other_unit) == []


async def test_endorsements_give_the_count_and_the_names_first_come_first(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        assert await review.endorsements_of(db, nomination) == review.Endorsements(0, ())
        for offset, person in enumerate((world.stranger, world.reviewer)):
            db.add(
                Endorsement(
                    nomination_id=nomination.id, account_id=person.id, created_at=NOW + dt.timedelta(minutes=offset)
                )
            )
        await db.flush()

        endorsements = await review.endorsements_of(db, nomination)

    assert endorsements == review.Endorsements(2, ("Trần Bình", "Lê Minh Tuấn"))


# --- who sees what -------------------------------------------------------------------------------------


async def test_organisers_and_reviewers_see_everything_nominators_their_own_and_strangers_nothing(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1)
        await review.request_changes(
            db, nomination.id, "Bổ sung ảnh giấy khen", actor=world.reviewer, now=NOW, notice=notice
        )

        as_organiser = await review.lookup(db, "dh-2020-1", world.organiser)
        as_reviewer = await review.lookup(db, "DH-2020-0001", world.reviewer)
        as_nominator = await review.lookup(db, "DH-2020-0001", world.nominator)
        as_stranger = await review.lookup(db, "DH-2020-0001", world.stranger)
        unknown = await review.lookup(db, "DH-2020-0042", world.organiser)

    assert review.visible_to(world.stranger, nomination) is False
    assert as_stranger.refusal == LookupRefusal.NOT_ALLOWED and as_stranger.view is None
    assert unknown.refusal == LookupRefusal.NOT_FOUND
    organiser_view = as_organiser.view
    assert organiser_view is not None
    assert (organiser_view.ethnicity, organiser_view.religion, organiser_view.phone) == (
        "tay",
        "phat_giao",
        "+84912345678",
    )
    for view in (as_reviewer.view, as_nominator.view):
        assert view is not None
        assert (view.ethnicity, view.religion, view.phone) == (None, None, "0912 *** 678")  # masked
    assert as_reviewer.view is not None and as_reviewer.view.history[-1].actor_name == "Lê Minh Tuấn"
    assert as_nominator.view is not None and as_nominator.view.history[-1].actor_name is None
    assert as_nominator.view.history[-1].reason == "Bổ sung ảnh giấy khen"
    assert organiser_view.unit_name == "Phường Bưởi" and organiser_view.evidence[0].file_id == "photo-1"


async def test_a_nominator_lists_their_own_nominations_newest_first(database):
    async with database.transaction() as db:
        world = await seed(db)
        await nominate(db, world, 1, "Một", created_at=NOW - dt.timedelta(days=2))
        await nominate(db, world, 2, "Hai", created_at=NOW - dt.timedelta(days=1), status="approved")
        await nominate(db, world, 3, "Của người khác", nominator_id=world.stranger.id)

        mine = await review.nominations_of(db, world.nominator.id)

    assert [(item.code, item.status) for item in mine] == [("DH-2020-0002", "approved"), ("DH-2020-0001", "submitted")]


# --- publicity -----------------------------------------------------------------------------------------


def story(view: review.NominationView) -> str:
    return f"{view.nominee_name}: {view.achievements} ({view.ethnicity}, {view.phone})"


async def test_publishing_posts_the_first_photo_with_the_story_once(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1, achievements="Trồng cây xanh. " * 200)
        db.add(Evidence(nomination_id=nomination.id, kind="document", file_id="doc-1"))
        transition(db, nomination, Status.APPROVED, actor_id=world.organiser.id, now=NOW)
        result = await review.publish(db, "dh-2020-1", actor=world.organiser, now=NOW, channel_id=CHANNEL, story=story)
    async with database.transaction() as db:
        again = await review.publish(
            db, "DH-2020-0001", actor=world.organiser, now=NOW, channel_id=CHANNEL, story=story
        )
        messages = await _outbox(db)
        stored = await db.get_one(Nomination, nomination.id)

    assert result.ok and result.with_photo
    assert again.refusal == PublishRefusal.ALREADY_PUBLISHED and again.published_at == NOW
    assert stored.published_at == NOW
    assert len(messages) == 1
    post = messages[0]
    assert (post.chat_id, post.is_group, post.method) == (CHANNEL, True, "sendPhoto")
    assert post.payload["file_id"] == "photo-1"
    caption = post.payload["text"]
    assert caption.startswith("Nguyễn Văn An: Trồng cây xanh.") and caption.endswith("…")
    assert len(caption) <= 1024
    assert "(None, None)" not in caption and "tay" not in caption  # the story never sees sensitive fields


async def test_a_story_without_a_photo_is_a_message(database):
    async with database.transaction() as db:
        world = await seed(db)
        nomination = await nominate(db, world, 1, photo=False)
        transition(db, nomination, Status.APPROVED, actor_id=world.organiser.id, now=NOW)
        result = await review.publish(
            db, nomination.code, actor=world.organiser, now=NOW, channel_id=CHANNEL, story=story
        )
        messages = await _outbox(db)

    assert result.ok and not result.with_photo
    assert [(m.method, m.payload["text"]) for m in messages] == [
        ("sendMessage", "Nguyễn Văn An: Vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh. (None, None)")
    ]


async def test_only_approved_consenting_nominations_are_published_and_only_by_organisers(database):
    async with database.transaction() as db:
        world = await seed(db)
        waiting = await nominate(db, world, 1)
        no_consent = await nominate(db, world, 2, publicity_consent=False)
        transition(db, no_consent, Status.APPROVED, actor_id=world.organiser.id, now=NOW)

        def publish(code: str, actor: AccountSnapshot):
            return review.publish(db, code, actor=actor, now=NOW, channel_id=CHANNEL, story=story)

        results = [
            await publish(waiting.code, world.organiser),
            await publish(no_consent.code, world.organiser),
            await publish(no_consent.code, world.reviewer),
            await publish("DH-2020-0077", world.organiser),
        ]
        assert await db.scalar(select(func.count()).select_from(OutboxMessage)) == 0

    assert [r.refusal for r in results] == [
        PublishRefusal.NOT_APPROVED,
        PublishRefusal.NO_CONSENT,
        PublishRefusal.NOT_ALLOWED,
        PublishRefusal.NOT_FOUND,
    ]


def test_channel_ids_and_shortening():
    assert review.channel_chat_id(" -1001234567890 ") == -1001234567890
    assert review.channel_chat_id("") is None
    assert review.channel_chat_id("@kenh_dien_hinh") is None
    assert review.shorten("ngắn", 10) == "ngắn"
    assert review.shorten("một hai ba bốn năm sáu", 12) == "một hai ba…"


# --- the reviewer's desk -------------------------------------------------------------------------------


async def test_the_desk_is_kept_until_the_review_ends(database):
    async with database.transaction() as db:
        world = await seed(db)
        assert await review.open_desk(db, world.reviewer.id) == review.ReviewDesk()
        await review.keep_desk(db, world.reviewer.id, review.ReviewDesk(unit_id=world.buoi_id, card_id=7, skipped=[3]))
    async with database.transaction() as db:
        desk = await review.open_desk(db, world.reviewer.id)
        desk.bulk = [1, 2]
        await review.keep_desk(db, world.reviewer.id, desk)
    async with database.transaction() as db:
        kept = await review.open_desk(db, world.reviewer.id)
        await review.close_desk(db, world.reviewer.id)
    async with database.transaction() as db:
        closed = await review.open_desk(db, world.reviewer.id)

    assert kept == review.ReviewDesk(unit_id=world.buoi_id, card_id=7, skipped=[3], bulk=[1, 2])
    assert closed == review.ReviewDesk()
