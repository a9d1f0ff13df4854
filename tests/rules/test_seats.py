"""Seats and RSVP as rules, without a bot: pools, the waitlist, deadlines and overrides, substitutes,
personal links, check-in, and 400 delegates answering in the same second on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time

import pytest
from sqlalchemy import func, select, update

from rules import link_codes, rsvp, seats
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, Person, create_invitation, link_token
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from rules.roles import OPERATOR
from rules.rsvp import CheckInOutcome, OpenOutcome, SubstituteOutcome
from rules.seats import Outcome
from storage.db import Database
from storage.models import Account, AuditEntry, Conference, Invitation, InvitationEvent, SeatPool
from tests.people import telegram_identities

SECRET = b"test-link-secret"


def _typed(text: str) -> link_codes.TypedCode:
    """A check-in code as typed, read as /checkin reads it."""
    code = link_codes.parse_code(text)
    assert code is not None
    return link_codes.typed_code(SECRET, code)


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclasses.dataclass
class World:
    district: int
    grassroots: int
    deadline: dt.datetime
    organiser: int
    reviewer: int
    delegate: int
    stranger: int


async def _account(db, telegram_user_id: int, name: str, role: str = "citizen", locale: str | None = None) -> int:
    account = Account(identities=telegram_identities(telegram_user_id), display_name=name, role=role, locale=locale)
    db.add(account)
    await db.flush()
    return account.id


@pytest.fixture
async def world(database: Database) -> World:
    async with database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), NOW.date()))
        conferences = {c.code: c for c in await db.scalars(select(Conference))}
        district = conferences["district"]
        return World(
            district=district.id,
            grassroots=conferences["grassroots"].id,
            deadline=district.rsvp_deadline,
            organiser=await _account(db, 9001, "Phạm Thu Hoà", "organiser"),
            reviewer=await _account(db, 3003, "Lê Minh Tuấn", "reviewer"),
            delegate=await _account(db, 5005, "Trần Văn Hùng", locale="en"),
            stranger=await _account(db, 4004, "Trần Bình"),
        )


async def _invite(
    database: Database,
    conference_id: int,
    name: str,
    *,
    pool: str = EXEMPLAR_POOL,
    gender: str | None = None,
    birth_year: int | None = 1980,
    occupation: str | None = None,
    ethnicity: str | None = None,
    bound_to: tuple[int, int] | None = None,
) -> int:
    async with database.transaction() as db:
        conference = await db.get_one(Conference, conference_id)
        invitation = await create_invitation(
            db,
            conference=conference,
            pool_code=pool,
            person=Person(
                full_name=name, gender=gender, birth_year=birth_year, occupation_group=occupation, ethnicity=ethnicity
            ),
            secret=SECRET,
            now=NOW,
        )
        assert invitation is not None
        if bound_to is not None:
            invitation.account_id, invitation.chat_id = bound_to
        return invitation.id


async def _seats(database: Database, conference_id: int, *, exemplar: int, guest: int, capacity: int | None) -> None:
    """Shrink the district's pools so a handful of delegates fill them."""
    async with database.transaction() as db:
        await db.execute(update(Conference).where(Conference.id == conference_id).values(capacity=capacity))
        for code, seats_ in ((EXEMPLAR_POOL, exemplar), (GUEST_POOL, guest)):
            await db.execute(
                update(SeatPool)
                .where(SeatPool.conference_id == conference_id, SeatPool.code == code)
                .values(seats=seats_)
            )


async def _accept(database: Database, invitation_id: int, now: dt.datetime = NOW, **kw) -> seats.RsvpResult:
    async with database.transaction() as db:
        return await seats.accept(db, invitation_id, now=now, **kw)


async def _decline(database: Database, invitation_id: int, reason: str | None = "Bận công tác", **kw):
    kw.setdefault("now", NOW)
    async with database.transaction() as db:
        return await seats.decline(db, invitation_id, reason=reason, **kw)


async def _status(database: Database, invitation_id: int) -> str:
    async with database.transaction() as db:
        return (await db.get_one(Invitation, invitation_id)).status


async def _events(database: Database, invitation_id: int) -> list[tuple[str | None, str, str | None]]:
    async with database.transaction() as db:
        rows = await db.scalars(
            select(InvitationEvent).where(InvitationEvent.invitation_id == invitation_id).order_by(InvitationEvent.id)
        )
        return [(row.from_status, row.to_status, row.reason) for row in rows]


# --- seats and the waitlist ---------------------------------------------------------------------------


async def test_the_seed_plans_district_pools_have_210_and_90_seats_and_grassroots_is_unlimited(database, world):
    async with database.transaction() as db:
        district = await seats.pool_counts(db, world.district)
        grassroots = await seats.pool_counts(db, world.grassroots)
    assert [(pool.code, pool.seats, pool.free) for pool in district] == [
        ("exemplar", 210, 210),
        ("guest_leader", 90, 90),
    ]
    assert [(pool.code, pool.seats, pool.free) for pool in grassroots] == [
        ("exemplar", None, None),
        ("guest_leader", None, None),
    ]


async def test_a_full_pool_waitlists_in_order_and_a_decline_promotes_the_first_of_the_same_pool(database, world):
    await _seats(database, world.district, exemplar=2, guest=1, capacity=3)
    a, b, c, d = [await _invite(database, world.district, f"Đại biểu {n}") for n in "ABCD"]
    guest = await _invite(database, world.district, "Khách mời E", pool=GUEST_POOL)

    answers = [await _accept(database, i) for i in (a, b, c, d, guest)]

    assert [(r.outcome, r.position) for r in answers] == [
        (Outcome.ACCEPTED, None),
        (Outcome.ACCEPTED, None),
        (Outcome.WAITLISTED, 1),
        (Outcome.WAITLISTED, 2),
        (Outcome.ACCEPTED, None),  # the guests' pool has its own seat
    ]
    again = await _accept(database, d)
    assert (again.outcome, again.status, again.position) == (Outcome.UNCHANGED, "waitlisted", 2)

    declined = await _decline(database, a, reason="Bận công tác")

    assert declined.outcome is Outcome.DECLINED and declined.previous == "accepted"
    assert [(p.invitation_id, p.full_name) for p in declined.promoted] == [(c, "Đại biểu C")]
    assert await _status(database, c) == "accepted"
    async with database.transaction() as db:
        assert await seats.waitlist_position(db, d) == 1
        counts = {pool.code: pool for pool in await seats.pool_counts(db, world.district)}
    assert (counts["exemplar"].accepted, counts["exemplar"].waitlisted, counts["exemplar"].declined) == (2, 1, 1)
    assert counts["exemplar"].invited == 4 and counts["exemplar"].free == 0
    assert await _events(database, c) == [
        (None, "pending", None),
        ("pending", "waitlisted", None),
        ("waitlisted", "accepted", "promoted from the waitlist"),
    ]
    assert (await _events(database, a))[-1] == ("accepted", "declined", "Bận công tác")


async def test_leaving_the_waitlist_promotes_nobody_and_moves_the_others_up(database, world):
    await _seats(database, world.district, exemplar=1, guest=1, capacity=2)
    a, b, c = [await _invite(database, world.district, f"Đại biểu {n}") for n in "ABC"]
    for invitation in (a, b, c):
        await _accept(database, invitation)

    left = await _decline(database, b, reason="Không sắp xếp được")

    assert left.outcome is Outcome.DECLINED and left.promoted == ()
    assert await _status(database, a) == "accepted"
    async with database.transaction() as db:
        assert await seats.waitlist_position(db, c) == 1


async def test_the_capacity_caps_all_pools_together(database, world):
    await _seats(database, world.district, exemplar=2, guest=2, capacity=3)
    people = [await _invite(database, world.district, f"Đại biểu {n}") for n in "AB"]
    people += [await _invite(database, world.district, f"Khách {n}", pool=GUEST_POOL) for n in "CD"]

    answers = [await _accept(database, i) for i in people]

    assert [r.outcome for r in answers] == [Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.ACCEPTED, Outcome.WAITLISTED]


async def test_an_unlimited_pool_never_waitlists(database, world):
    people = [await _invite(database, world.grassroots, f"Đại biểu {n}") for n in range(5)]
    assert {(await _accept(database, i)).outcome for i in people} == {Outcome.ACCEPTED}


async def test_withdraw_takes_back_an_acceptance_only(database, world):
    await _seats(database, world.district, exemplar=1, guest=1, capacity=2)
    a, b = [await _invite(database, world.district, f"Đại biểu {n}") for n in "AB"]
    async with database.transaction() as db:
        not_yet = await seats.withdraw(db, a, now=NOW)
    await _accept(database, a)
    await _accept(database, b)

    async with database.transaction() as db:
        withdrawn = await seats.withdraw(db, a, now=NOW)

    assert not_yet.outcome is Outcome.NOT_ACCEPTED
    assert withdrawn.outcome is Outcome.DECLINED and [p.invitation_id for p in withdrawn.promoted] == [b]


async def test_a_decline_needs_a_reason_of_reasonable_length(database, world):
    a = await _invite(database, world.district, "Đại biểu A")
    assert (await _decline(database, a, reason="   ")).outcome is Outcome.REASON_REQUIRED
    assert (await _decline(database, a, reason="🙏")).outcome is Outcome.REASON_REQUIRED
    assert (await _decline(database, a, reason="x" * 501)).outcome is Outcome.REASON_TOO_LONG
    assert await _status(database, a) == "pending"


async def test_the_answer_is_locked_from_the_deadline_on_unless_an_organiser_overrides_with_a_reason(database, world):
    a = await _invite(database, world.district, "Đại biểu A")
    late = world.deadline

    locked = await _accept(database, a, now=late)
    by_a_citizen = await _accept(database, a, now=late, actor_id=world.stranger, override_reason="tôi muốn")
    without_reason = await _accept(database, a, now=late, actor_id=world.organiser, override_reason=" ")
    overridden = await _accept(
        database, a, now=late, actor_id=world.organiser, override_reason="Đã xác nhận qua điện thoại"
    )

    assert locked.outcome is Outcome.LOCKED and locked.deadline == world.deadline
    assert by_a_citizen.outcome is Outcome.NOT_ALLOWED
    assert without_reason.outcome is Outcome.REASON_REQUIRED
    assert overridden.outcome is Outcome.ACCEPTED
    assert (await _events(database, a))[-1] == ("pending", "accepted", "Đã xác nhận qua điện thoại")
    async with database.transaction() as db:
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.override"))
    assert audit.actor_id == world.organiser and audit.entity_id == str(a)
    assert audit.detail == {"from": "pending", "to": "accepted", "reason": "Đã xác nhận qua điện thoại"}
    # A minute before the deadline the delegate still decides.
    b = await _invite(database, world.district, "Đại biểu B")
    assert (await _accept(database, b, now=late - dt.timedelta(minutes=1))).outcome is Outcome.ACCEPTED


async def test_only_the_bound_account_answers_its_invitation(database, world):
    a = await _invite(database, world.district, "Đại biểu A", bound_to=(world.delegate, 5005))
    assert (await _accept(database, a, actor_id=world.stranger)).outcome is Outcome.NOT_ALLOWED
    assert (await _accept(database, a, actor_id=world.delegate)).outcome is Outcome.ACCEPTED


# --- 400 delegates in the same second -------------------------------------------------------------------


async def _four_hundred(db, world) -> list[Invitation]:
    """280 invitations to the exemplar pool (210 seats) and 120 to the guests' (90): 100 more than the seats."""
    conference = await db.get_one(Conference, world.district)
    made = []
    for pool, count in ((EXEMPLAR_POOL, 280), (GUEST_POOL, 120)):
        for n in range(count):
            invitation = await create_invitation(
                db,
                conference=conference,
                pool_code=pool,
                person=Person(full_name=f"Đại biểu {pool} {n:03d}", birth_year=1970 + n % 40),
                secret=SECRET,
                now=NOW,
            )
            assert invitation is not None
            made.append(invitation)
    return made


async def test_400_delegates_accepting_at_once_fill_exactly_the_pools_and_queue_the_rest_in_commit_order(
    database, world
):
    async with database.transaction() as db:
        ids: dict[str, list[int]] = {EXEMPLAR_POOL: [], GUEST_POOL: []}
        for invitation in await _four_hundred(db, world):
            ids[invitation.pool_code].append(invitation.id)
    everyone = ids[EXEMPLAR_POOL] + ids[GUEST_POOL]
    # Each answer is its own transaction on its own connection, all released at once.
    connections = 40
    answering = Database(database.url, pool_size=connections, max_overflow=0)
    gate = asyncio.Semaphore(connections)

    async def answer(invitation_id: int) -> seats.RsvpResult:
        async with gate, answering.transaction() as db:
            return await seats.accept(db, invitation_id, now=NOW)

    started = time.perf_counter()
    try:
        results = await asyncio.gather(*(answer(i) for i in everyone))
    finally:
        await answering.dispose()
    elapsed = time.perf_counter() - started
    print(f"\n400 concurrent accepts on {database.dialect}: {elapsed:.2f} s")

    by_pool = {pool: [r for r in results if r.invitation_id in set(ids[pool])] for pool in ids}
    for pool, seats_, queued in ((EXEMPLAR_POOL, 210, 70), (GUEST_POOL, 90, 30)):
        outcomes = [r.outcome for r in by_pool[pool]]
        assert outcomes.count(Outcome.ACCEPTED) == seats_
        assert outcomes.count(Outcome.WAITLISTED) == queued
        assert sorted(r.position for r in by_pool[pool] if r.position) == list(range(1, queued + 1))
    async with database.transaction() as db:
        counts = {pool.code: pool for pool in await seats.pool_counts(db, world.district)}
        statuses = dict((await db.execute(select(Invitation.id, Invitation.status))).all())
        answered = await db.scalar(
            select(func.count()).select_from(InvitationEvent).where(InvitationEvent.from_status == "pending")
        )
        queue = (
            await db.execute(
                select(Invitation.pool_code, Invitation.id)
                .join(InvitationEvent, InvitationEvent.invitation_id == Invitation.id)
                .where(InvitationEvent.to_status == "waitlisted")
                .order_by(InvitationEvent.id)
            )
        ).all()
        stored_positions = {i: await seats.waitlist_position(db, i) for _, i in queue}
    assert (counts[EXEMPLAR_POOL].accepted, counts[EXEMPLAR_POOL].waitlisted) == (210, 70)
    assert (counts[GUEST_POOL].accepted, counts[GUEST_POOL].waitlisted) == (90, 30)
    # No answer lost: every delegate answered exactly once and is accepted or waitlisted.
    assert answered == 400 and set(statuses.values()) == {"accepted", "waitlisted"}
    # In order: within each pool, the waitlist follows the order the answers were committed in (the
    # events were written under the lock), and each delegate was told the position they hold.
    told = {r.invitation_id: r.position for r in results if r.position}
    for pool in ids:
        in_commit_order = [i for code, i in queue if code == pool]
        assert [stored_positions[i] for i in in_commit_order] == list(range(1, len(in_commit_order) + 1))
        assert [told[i] for i in in_commit_order] == list(range(1, len(in_commit_order) + 1))


# --- personal links -------------------------------------------------------------------------------------


async def _token(database: Database, invitation_id: int) -> str:
    async with database.transaction() as db:
        return link_token(await db.get_one(Invitation, invitation_id), SECRET)


async def _open(database: Database, token: str, account_id: int, now: dt.datetime = NOW):
    async with database.transaction() as db:
        return await rsvp.open_link(db, token, account_id=account_id, now=now)


async def test_the_first_chat_to_open_a_link_keeps_it_and_another_is_refused_with_the_organisers_named(database, world):
    a = await _invite(database, world.district, "Trần Văn Hùng")
    token = await _token(database, a)

    first = await _open(database, token, world.delegate)
    again = await _open(database, token, world.delegate)
    other = await _open(database, token, world.stranger)
    unknown = await _open(database, token[:-2] + "xx", world.delegate)

    assert first.outcome is OpenOutcome.OPENED and first.first_open
    assert (
        first.invitation.full_name == "Trần Văn Hùng" and first.invitation.pool_title == "Đại biểu điển hình tiên tiến"
    )
    assert again.outcome is OpenOutcome.OPENED and not again.first_open
    assert other.outcome is OpenOutcome.TAKEN
    assert [o.account_id for o in other.organisers] == [world.organiser]
    assert unknown.outcome is OpenOutcome.UNKNOWN
    async with database.transaction() as db:
        stored = await db.get_one(Invitation, a)
        taken = await db.scalar(select(AuditEntry).where(AuditEntry.action == "invitation.link_taken"))
    assert stored.account_id == world.delegate
    assert token not in (stored.token_hash or "") and len(token) <= 64
    assert taken.actor_id == world.stranger


async def test_a_link_expires_at_the_deadline_for_new_chats_but_its_chat_still_sees_the_invitation(database, world):
    a = await _invite(database, world.district, "Đại biểu A")
    b = await _invite(database, world.district, "Đại biểu B")
    await _open(database, await _token(database, a), world.delegate)

    late_new = await _open(database, await _token(database, b), world.stranger, now=world.deadline)
    late_own = await _open(database, await _token(database, a), world.delegate, now=world.deadline)

    assert late_new.outcome is OpenOutcome.EXPIRED and late_new.expired_at == world.deadline
    assert late_own.outcome is OpenOutcome.OPENED and late_own.invitation.locked


# --- substitutes ----------------------------------------------------------------------------------------


async def _propose(database: Database, invitation_id: int, person: Person, actor_id: int | None = None):
    async with database.transaction() as db:
        return await rsvp.propose_substitute(db, invitation_id, person, now=NOW, secret=SECRET, actor_id=actor_id)


async def test_an_approved_substitute_takes_over_the_seat_which_is_held_until_they_answer(database, world):
    await _seats(database, world.district, exemplar=1, guest=1, capacity=2)
    a = await _invite(database, world.district, "Trần Văn Hùng", bound_to=(world.delegate, 5005))
    waiting = await _invite(database, world.district, "Đại biểu Chờ")
    await _accept(database, a)
    await _accept(database, waiting)

    proposed = await _propose(
        database, a, Person(full_name="Nguyễn Thị Mai", gender="nu", birth_year=1999), actor_id=world.delegate
    )
    assert proposed.outcome is SubstituteOutcome.PROPOSED and [o.account_id for o in proposed.organisers] == [
        world.organiser
    ]
    assert await _status(database, proposed.proposed_id) == "proposed"

    async with database.transaction() as db:
        refused = await rsvp.approve_substitute(
            db, proposed.proposed_id, actor_id=world.reviewer, now=NOW, secret=SECRET
        )
        approved = await rsvp.approve_substitute(
            db, proposed.proposed_id, actor_id=world.organiser, now=NOW, secret=SECRET
        )
    async with database.transaction() as db:
        twice = await rsvp.approve_substitute(
            db, proposed.proposed_id, actor_id=world.organiser, now=NOW, secret=SECRET
        )

    assert refused.outcome is SubstituteOutcome.NOT_ALLOWED
    assert approved.outcome is SubstituteOutcome.APPROVED and approved.seat_passed
    assert (approved.original_account_id, approved.original_locale) == (world.delegate, "en")
    assert approved.link_token == await _token(database, proposed.proposed_id)
    assert twice.outcome is SubstituteOutcome.ALREADY_DECIDED and twice.decided_by == "Phạm Thu Hoà"
    assert await _status(database, a) == "substituted"
    assert await _status(database, proposed.proposed_id) == "pending"
    assert await _status(database, waiting) == "waitlisted"  # the seat is held for the substitute
    async with database.transaction() as db:
        exemplar = (await seats.pool_counts(db, world.district))[0]
    assert (exemplar.accepted, exemplar.reserved, exemplar.free, exemplar.substituted) == (0, 1, 0, 1)

    # The substitute opens their own link and accepts: the held seat is theirs.
    opened = await _open(database, approved.link_token, world.stranger)
    assert opened.outcome is OpenOutcome.OPENED
    assert (await _accept(database, proposed.proposed_id, actor_id=world.stranger)).outcome is Outcome.ACCEPTED
    assert await _status(database, waiting) == "waitlisted"


async def test_a_substitute_who_declines_releases_the_held_seat_to_the_waitlist(database, world):
    await _seats(database, world.district, exemplar=1, guest=1, capacity=2)
    a = await _invite(database, world.district, "Đại biểu A")
    waiting = await _invite(database, world.district, "Đại biểu Chờ")
    await _accept(database, a)
    await _accept(database, waiting)
    proposed = await _propose(database, a, Person(full_name="Người Thay", birth_year=1990))
    async with database.transaction() as db:
        await rsvp.approve_substitute(db, proposed.proposed_id, actor_id=world.organiser, now=NOW, secret=SECRET)

    declined = await _decline(database, proposed.proposed_id, reason="Trùng lịch")

    assert [p.invitation_id for p in declined.promoted] == [waiting]


async def test_a_rejected_substitute_leaves_the_invitation_as_it_was_and_a_new_proposal_replaces_an_old(
    database, world
):
    a = await _invite(database, world.district, "Đại biểu A", bound_to=(world.delegate, 5005))
    await _accept(database, a)
    first = await _propose(database, a, Person(full_name="Người Một", birth_year=1990))
    second = await _propose(database, a, Person(full_name="Người Hai", birth_year=1991))
    async with database.transaction() as db:
        rejected = await rsvp.reject_substitute(db, second.proposed_id, actor_id=world.organiser, now=NOW)
        waiting = await rsvp.proposals(db, actor_id=OPERATOR)

    assert second.replaced_proposal and await _status(database, first.proposed_id) == "cancelled"
    assert rejected.outcome is SubstituteOutcome.REJECTED and rejected.original_account_id == world.delegate
    assert await _status(database, a) == "accepted" and waiting == []
    # The same person may be proposed again after a rejection.
    assert (await _propose(database, a, Person(full_name="Người Hai", birth_year=1991))).outcome is (
        SubstituteOutcome.PROPOSED
    )


async def test_a_substitute_who_is_invited_already_or_a_late_proposal_is_refused(database, world):
    a = await _invite(database, world.district, "Đại biểu A", bound_to=(world.delegate, 5005))
    await _invite(database, world.district, "Lê Thị Hồng", birth_year=1975, pool=GUEST_POOL)

    invited = await _propose(database, a, Person(full_name="le thi hong", birth_year=1975))
    not_theirs = await _propose(database, a, Person(full_name="Người Khác", birth_year=1990), actor_id=world.stranger)
    async with database.transaction() as db:
        late = await rsvp.propose_substitute(
            db, a, Person(full_name="Người Khác", birth_year=1990), now=world.deadline, secret=SECRET
        )

    assert invited.outcome is SubstituteOutcome.ALREADY_INVITED and invited.substitute_name == "Lê Thị Hồng"
    assert not_theirs.outcome is SubstituteOutcome.NOT_ALLOWED
    assert late.outcome is SubstituteOutcome.LOCKED


async def test_the_balance_effect_compares_the_seated_delegates_before_and_after(database, world):
    man = await _invite(
        database, world.district, "Ông Cán Bộ", gender="nam", birth_year=1960, occupation="can_bo_cong_chuc"
    )
    woman = await _invite(
        database, world.district, "Bà Nông Dân", gender="nu", birth_year=1970, occupation="nong_dan", ethnicity="tay"
    )
    for invitation in (man, woman):
        await _accept(database, invitation)
    async with database.transaction() as db:
        year = (await db.get_one(Conference, world.district)).window_start.year
    proposed = await _propose(
        database,
        man,
        Person(full_name="Chị Công Nhân", gender="nu", birth_year=year - 25, occupation_group="cong_nhan"),
    )

    async with database.transaction() as db:
        effect = await rsvp.balance_effect(db, proposed.proposed_id)

    assert (effect.total_before, effect.total_after, effect.original_holds_seat) == (2, 2, True)
    changes = {(c.dimension, c.value): (c.before, c.after, c.unknown) for c in effect.changes}
    assert changes == {
        ("women", ""): (1, 2, False),
        ("youth", ""): (0, 1, False),
        ("ethnic_minority", ""): (1, 1, True),  # not asked of a substitute
        ("direct_producer", ""): (1, 2, False),
        ("occupation", "can_bo_cong_chuc"): (1, 0, False),
        ("occupation", "cong_nhan"): (0, 1, False),
    }


# --- check-in -------------------------------------------------------------------------------------------


async def test_check_in_once_by_qr_or_code_then_already_with_the_time(database, world):
    a = await _invite(database, world.district, "Đại biểu A")
    pending = await _invite(database, world.district, "Đại biểu B")
    await _accept(database, a)
    async with database.transaction() as db:
        delegate = await rsvp.delegate_pass(db, a, secret=SECRET, bot_username="dienhinh_bot")
        nothing = await rsvp.delegate_pass(db, pending, secret=SECRET, bot_username="dienhinh_bot")
    token = delegate.checkin_url.split("start=chk_", 1)[1]
    morning = NOW.replace(hour=1, minute=12)

    async with database.transaction() as db:
        by_citizen = await rsvp.check_in(db, token=token, actor_id=world.stranger, now=morning)
        first = await rsvp.check_in(db, token=token, actor_id=world.reviewer, now=morning)
    async with database.transaction() as db:
        second = await rsvp.check_in(
            db,
            code=_typed(delegate.code.lower().replace("-", " ")),
            actor_id=world.organiser,
            now=morning + dt.timedelta(hours=1),
        )
        unknown = await rsvp.check_in(db, code=_typed("AAAA-AAAA"), actor_id=world.organiser, now=morning)

    assert nothing is None and delegate.qr_png.startswith(b"\x89PNG")
    assert by_citizen.outcome is CheckInOutcome.NOT_ALLOWED
    assert first.outcome is CheckInOutcome.CHECKED_IN and first.full_name == "Đại biểu A"
    assert second.outcome is CheckInOutcome.ALREADY
    assert (second.checked_in_at, second.checked_in_by) == (morning, "Lê Minh Tuấn")
    assert unknown.outcome is CheckInOutcome.UNKNOWN
    assert (await _events(database, a))[-1] == ("accepted", "accepted", "checked in")
    # A checked-in delegate's answer is locked.
    assert (await _decline(database, a)).outcome is Outcome.LOCKED


async def test_a_delegate_without_a_seat_is_not_checked_in(database, world):
    await _seats(database, world.district, exemplar=1, guest=1, capacity=2)
    a, b = [await _invite(database, world.district, f"Đại biểu {n}") for n in "AB"]
    await _accept(database, a)
    async with database.transaction() as db:
        delegate = await rsvp.delegate_pass(db, a, secret=SECRET, bot_username="dienhinh_bot")
    await _accept(database, b)
    await _decline(database, a)

    async with database.transaction() as db:
        result = await rsvp.check_in(db, code=_typed(delegate.code), actor_id=world.organiser, now=NOW)

    assert result.outcome is CheckInOutcome.NOT_ACCEPTED and result.status == "declined"


async def test_400_delegates_pressing_attend_at_once_fill_exactly_the_pools(database, world):
    """The press's own use case (``rsvp.attend``), which reads the pool's counts in the statement that reads
    the invitation: under the seat lock, so hundreds at once still never over-book."""
    async with database.transaction() as db:
        bound: list[tuple[int, int]] = []
        for invitation in await _four_hundred(db, world):
            account = Account(display_name=invitation.full_name, role="citizen")
            db.add(account)
            await db.flush()
            invitation.account_id = account.id
            bound.append((invitation.id, account.id))
    connections = 40
    answering = Database(database.url, pool_size=connections, max_overflow=0)
    gate = asyncio.Semaphore(connections)

    async def press(invitation_id: int, account_id: int) -> rsvp.AttendResult:
        async with gate, answering.transaction() as db:
            return await rsvp.attend(
                db, invitation_id, account_id=account_id, now=NOW, secret=SECRET, bot_username="dienhinh_bot"
            )

    try:
        results = await asyncio.gather(*(press(*pair) for pair in bound))
    finally:
        await answering.dispose()

    outcomes = [result.result.outcome for result in results if result.result is not None]
    assert len(outcomes) == 400
    assert (outcomes.count(Outcome.ACCEPTED), outcomes.count(Outcome.WAITLISTED)) == (300, 100)
    assert sum(result.delegate is not None for result in results) == 300  # a pass for each seat
    async with database.transaction() as db:
        held = dict(
            (
                await db.execute(
                    select(Invitation.pool_code, func.count())
                    .where(Invitation.status == "accepted")
                    .group_by(Invitation.pool_code)
                )
            ).all()
        )
    assert held == {EXEMPLAR_POOL: 210, GUEST_POOL: 90}
