"""Every use case that needs a role checks it itself, from the database, when it acts.

Each privileged use case is called as a citizen, as a person demoted a moment ago, and as someone who does
not exist: it answers ``NotAllowed`` (or its own refusal) and writes nothing. The operator at the command
line holds every role.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import Translators
from rules import accounts, delegates, exports, guest_lists, review, rsvp, unit_links, workbook
from rules.accounts import AccountSnapshot, ensure_telegram_account
from rules.invitations import EXEMPLAR_POOL, Person, create_invitation
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import OPERATOR, NotAllowed, Role
from storage.db import Database
from storage.models import Account, AuditEntry, Conference, Invitation, InvitationImport, Nomination, OrgUnit

NOW = dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC)
SECRET = b"test-link-secret"
VI = Translators("vi", ZoneInfo("Asia/Ho_Chi_Minh")).default
UseCase = Callable[[AsyncSession, Any, dict[str, int]], Awaitable[Any]]


async def _world(database: Database) -> dict[str, int]:
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        conference = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert conference is not None
        invitation = await create_invitation(
            db,
            conference=conference,
            pool_code=EXEMPLAR_POOL,
            person=Person(full_name="Lê Văn Hùng", birth_year=1950, gender="nam", ethnicity="tay"),
            secret=SECRET,
            now=NOW,
        )
        assert invitation is not None
        invitation.status = "accepted"
        citizen = await ensure_telegram_account(
            db, telegram_user_id=1001, display_name="Lan", username=None, organiser_ids=(), now=NOW
        )
        demoted = await ensure_telegram_account(
            db, telegram_user_id=1002, display_name="Xuân", username=None, organiser_ids=(), now=NOW
        )
        await accounts.assign_role(db, demoted.id, Role.ORGANISER)
        nomination = Nomination(
            code="DH-2020-0001",
            campaign_id=conference.campaign_id,
            conference_id=conference.id,
            nominator_id=citizen.id,
            status="approved",
            kind="individual",
            nominee_name="Nguyễn Thị Mai",
            nominee_fold="nguyen thi mai",
            birth_year=1980,
            unit_id=await db.scalar(select(OrgUnit.id).where(OrgUnit.code == "buoi")),
        )
        db.add(nomination)
        staged = InvitationImport(
            conference_id=conference.id,
            created_by_id=demoted.id,
            file_name="khach-moi.xlsx",
            file_sha256="0" * 64,
            status=guest_lists.PENDING,
            rows=[{"row": 2, "full_name": "Phạm Văn Khách", "birth_year": 1970, "pool": "guests", "key": "k"}],
            problems=[],
            created_at=NOW,
        )
        db.add(staged)
        await db.flush()
        ids = {
            "conference": conference.id,
            "citizen": citizen.id,
            "demoted": demoted.id,
            "nomination": nomination.id,
            "import": staged.id,
            "unit": nomination.unit_id or 0,
        }
    # A moment later another organiser (or process) takes the role away.
    async with database.transaction() as db:
        await db.execute(update(Account).where(Account.id == ids["demoted"]).values(role=Role.CITIZEN))
    return ids


def _viewer(account_id: int) -> AccountSnapshot:
    # What a handler would hold: a snapshot that still says organiser.
    return AccountSnapshot(account_id, "Xuân", Role.ORGANISER, None, None)


USE_CASES: dict[str, UseCase] = {
    "invitations workbook": lambda db, actor, ids: exports.invitations_workbook(
        db, ids["conference"], labels=VI, secret=SECRET, bot_username="b", actor_id=actor, now=NOW
    ),
    "attendance workbook": lambda db, actor, ids: exports.attendance_workbook(
        db, ids["conference"], labels=VI, actor_id=actor, now=NOW
    ),
    "delegates summary": lambda db, actor, ids: delegates.delegates_summary(db, ids["conference"], actor_id=actor),
    "invite preview by code": lambda db, actor, ids: delegates.preview_nomination(
        db, "DH-2020-0001", actor_id=actor, now=NOW
    ),
    "invite preview of a conference": lambda db, actor, ids: delegates.preview_conference(
        db, ids["conference"], actor_id=actor, now=NOW
    ),
    "invite nominations": lambda db, actor, ids: delegates.invite_nominations(
        db, conference_id=ids["conference"], nomination_ids=[ids["nomination"]], secret=SECRET, actor_id=actor, now=NOW
    ),
    "confirm a guest list": lambda db, actor, ids: guest_lists.confirm_import(db, ids["import"], actor, NOW, SECRET),
    "export workbook": lambda db, actor, ids: _export(db, actor, ids),
    "substitute proposals": lambda db, actor, ids: rsvp.proposals(db, actor_id=actor),
    "unit link": lambda db, actor, ids: unit_links.create_unit_link(
        db, unit_id=ids["unit"], created_by_id=actor, now=NOW, days=30, secret=SECRET
    ),
}


async def _export(db: AsyncSession, actor: Any, ids: dict[str, int]) -> Any:
    conference = await db.get_one(Conference, ids["conference"])
    return await workbook.build_export(db, [conference], t=VI, actor_id=actor, now=NOW)


async def _writes(database: Database) -> tuple[int, ...]:
    counts = []
    async with database.transaction() as db:
        for model in (Invitation, AuditEntry, InvitationImport):
            counts.append(int(await db.scalar(select(func.count()).select_from(model)) or 0))
        confirmed = select(func.count()).select_from(InvitationImport).where(InvitationImport.status == "confirmed")
        counts.append(int(await db.scalar(confirmed) or 0))
    return tuple(counts)


@pytest.mark.parametrize("name", list(USE_CASES))
@pytest.mark.parametrize("who", ["citizen", "demoted", "nobody"])
async def test_a_privileged_use_case_refuses_whoever_lacks_the_role_now(database, name, who):
    ids = await _world(database)
    actor = {"citizen": ids["citizen"], "demoted": ids["demoted"], "nobody": 999_999}[who]
    before = await _writes(database)

    async with database.transaction() as db:
        result = await USE_CASES[name](db, actor, ids)

    assert result == NotAllowed(Role.ORGANISER)
    assert await _writes(database) == before


# Unit links are made in chat only (their creator is an account).
@pytest.mark.parametrize("name", [name for name in USE_CASES if name != "unit link"])
async def test_the_operator_at_the_command_line_holds_every_role(database, name):
    ids = await _world(database)
    async with database.transaction() as db:
        result = await USE_CASES[name](db, OPERATOR, ids)
    assert not isinstance(result, NotAllowed)


async def test_review_decisions_and_lookups_use_the_role_of_now_not_the_snapshot(database):
    ids = await _world(database)
    stale = _viewer(ids["demoted"])
    async with database.transaction() as db:
        nomination = await db.get_one(Nomination, ids["nomination"])
        nomination.status = "submitted"
    async with database.transaction() as db:
        decision = await review.approve(db, ids["nomination"], actor=stale, now=NOW, notice=lambda *a, **k: None)
        found = await review.lookup(db, "DH-2020-0001", stale)
        published = await review.publish(
            db, "DH-2020-0001", actor=stale, now=NOW, channel_id=-100, story=lambda view: "story"
        )
    assert decision.refusal == review.Refusal.NOT_ALLOWED
    assert found.refusal == review.LookupRefusal.NOT_ALLOWED  # someone else's nomination, seen as a citizen
    assert published.refusal == review.PublishRefusal.NOT_ALLOWED
    async with database.transaction() as db:
        assert (await db.get_one(Nomination, ids["nomination"])).status == "submitted"


async def test_check_in_uses_the_role_of_now(database):
    ids = await _world(database)
    async with database.transaction() as db:
        result = await rsvp.check_in(db, token=None, code="ABCD-EFGH", actor_id=ids["demoted"], now=NOW)
    assert result.outcome == rsvp.CheckInOutcome.NOT_ALLOWED
