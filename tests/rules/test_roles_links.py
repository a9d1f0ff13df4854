"""Roles, unit links and endorsements as rules: who may grant what, what a unit link does for whom,
and what an endorsement link shows and records — without a bot."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select

from rules import endorsements, grants, link_codes, unit_links
from rules.accounts import AccountSnapshot, ensure_telegram_account
from rules.endorsements import EndorseOutcome, ShareOutcome
from rules.grants import GrantOutcome, Target
from rules.nominations import Status, transition
from rules.plans import SEED_PLAN, apply_plan, load_plan_file
from rules.roles import NotAllowed, Role
from rules.text import fold
from rules.tokens import token_hash
from rules.unit_links import LinkOutcome, UnitLinkError
from storage.db import Database
from storage.models import Account, AuditEntry, Campaign, Conference, Endorsement, Nomination, OrgUnit, UnitLink

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)
TODAY = dt.date(2020, 2, 10)
ORGANISER_TG = 9001
SECRET = b"test-link-secret"


async def _person(db, telegram_id: int, name: str, username: str | None = None) -> AccountSnapshot:
    return await ensure_telegram_account(
        db,
        telegram_user_id=telegram_id,
        display_name=name,
        username=username,
        organiser_ids=(ORGANISER_TG,),
        now=NOW,
    )


async def _unit_id(db, code: str) -> int:
    unit_id = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == code))
    assert unit_id is not None
    return unit_id


@pytest.fixture
async def people(database: Database) -> dict[str, AccountSnapshot]:
    """The seed plan, an organiser (from the settings) and three citizens."""
    async with database.transaction() as db:
        await apply_plan(db, load_plan_file(SEED_PLAN))
        return {
            "hoa": await _person(db, ORGANISER_TG, "Phạm Thu Hoà", "hoa_btc"),
            "minh": await _person(db, 1002, "Trần Văn Minh", "MinhTran"),
            "lan": await _person(db, 1001, "Nguyễn Thị Lan", "lan_nguyen"),
            "tuan": await _person(db, 1003, "Lê Anh Tuấn"),
        }


async def _account(database: Database, account_id: int) -> Account:
    async with database.transaction() as db:
        return await db.get_one(Account, account_id)


# --- choosing a unit ---------------------------------------------------------------------------------


async def test_units_active_today_list_the_wards_first_and_are_searchable(database, people):
    async with database.transaction() as db:
        everything = await unit_links.linkable_units(db, today=TODAY)
        buoi = await unit_links.linkable_units(db, today=TODAY, query="buoi")
        education = await unit_links.linkable_units(db, today=TODAY, query="Giáo dục")
        noi_vu = await unit_links.linkable_units(db, today=TODAY, query="phong noi vu tay ho")
        nothing = await unit_links.linkable_units(db, today=TODAY, query="Hoàn Kiếm")
        after_the_merger = await unit_links.linkable_units(db, today=dt.date(2026, 1, 5))

    assert [unit.name for unit in everything[:8]] == [
        "Phường Bưởi",
        "Phường Nhật Tân",
        "Phường Phú Thượng",
        "Phường Quảng An",
        "Phường Thụy Khuê",
        "Phường Tứ Liên",
        "Phường Xuân La",
        "Phường Yên Phụ",
    ]
    assert not any(unit.is_ward for unit in everything[8:])
    assert [unit.name for unit in buoi] == ["Phường Bưởi"]
    assert [unit.code for unit in education] == ["phong_gd_dt"]
    assert [unit.code for unit in noi_vu] == ["phong_noi_vu"]
    assert nothing == []
    assert after_the_merger == []  # Tây Hồ's 2020 units ended on 30/6/2025


# --- unit links --------------------------------------------------------------------------------------


async def _link(database: Database, people, unit_code: str = "buoi", days: int = 30) -> str:
    async with database.transaction() as db:
        link = await unit_links.create_unit_link(
            db,
            unit_id=await _unit_id(db, unit_code),
            created_by_id=people["hoa"].id,
            now=NOW,
            days=days,
            secret=SECRET,
        )
    assert isinstance(link, unit_links.NewUnitLink)
    return link.token


async def _redeem(database: Database, token: str, account: AccountSnapshot, now: dt.datetime = NOW):
    async with database.transaction() as db:
        return await unit_links.redeem_unit_link(db, token=token, account_id=account.id, now=now)


async def test_a_unit_link_is_stored_hashed_and_makes_its_first_opener_the_focal_point(database, people):
    token = await _link(database, people)
    async with database.transaction() as db:
        stored = await db.scalar(select(UnitLink))
        audited = await db.scalar(select(AuditEntry).where(AuditEntry.action == "role.unit_link"))
    assert stored.token_hash == token_hash(token) and token not in stored.token_hash
    assert len(token) >= 22 and stored.expires_at == NOW + dt.timedelta(days=30)
    assert audited is None

    result = await _redeem(database, token, people["minh"])

    assert result.outcome is LinkOutcome.REDEEMED and result.unit_name == "Phường Bưởi"
    minh = await _account(database, people["minh"].id)
    async with database.transaction() as db:
        buoi = await _unit_id(db, "buoi")
        link = await db.scalar(select(UnitLink))
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "role.unit_link"))
    assert (minh.role, minh.unit_id) == ("focal_point", buoi)
    assert (link.used_by_id, link.used_at) == (minh.id, NOW)
    assert audit.detail["to"] == "focal_point" and audit.actor_id == people["hoa"].id


async def test_a_used_link_refuses_someone_else_and_names_the_organiser_to_tell(database, people):
    token = await _link(database, people)
    await _redeem(database, token, people["minh"])

    again = await _redeem(database, token, people["minh"])
    intruder = await _redeem(database, token, people["lan"])

    assert again.outcome is LinkOutcome.ALREADY_YOURS and again.unit_name == "Phường Bưởi"
    assert intruder.outcome is LinkOutcome.TAKEN and intruder.refused
    assert intruder.creator is not None and intruder.creator.id == people["hoa"].id
    assert intruder.used_by is not None and intruder.used_by.display_name == "Trần Văn Minh"
    assert (await _account(database, people["lan"].id)).role == "citizen"


async def test_expired_revoked_and_unknown_links_are_refused_and_change_nothing(database, people):
    expired = await _link(database, people, days=30)
    revoked = await _link(database, people)
    async with database.transaction() as db:
        link_id = await db.scalar(select(UnitLink.id).where(UnitLink.token_hash == token_hash(revoked)))
        assert await unit_links.revoke_unit_link(db, link_id=link_id, actor_id=people["hoa"].id, now=NOW)
        assert not await unit_links.revoke_unit_link(db, link_id=link_id, actor_id=people["hoa"].id, now=NOW)

    late = await _redeem(database, expired, people["minh"], now=NOW + dt.timedelta(days=30))
    withdrawn = await _redeem(database, revoked, people["minh"])
    unknown = await _redeem(database, "not-a-real-token-at-all-xx", people["minh"])
    empty = await _redeem(database, "", people["minh"])

    assert late.outcome is LinkOutcome.EXPIRED and late.expires_at == NOW + dt.timedelta(days=30)
    assert withdrawn.outcome is LinkOutcome.REVOKED
    assert unknown.outcome is LinkOutcome.UNKNOWN and empty.outcome is LinkOutcome.UNKNOWN
    assert (await _account(database, people["minh"].id)).role == "citizen"
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(UnitLink).where(UnitLink.used_by_id.is_not(None))) == 0


async def test_an_organiser_or_reviewer_opening_a_unit_link_keeps_their_role_and_the_link(database, people):
    token = await _link(database, people)

    result = await _redeem(database, token, people["hoa"])

    assert result.outcome is LinkOutcome.STAFF
    assert (await _account(database, people["hoa"].id)).role == "organiser"
    second = await _redeem(database, token, people["minh"])
    assert second.outcome is LinkOutcome.REDEEMED


async def test_a_focal_point_moved_to_another_unit_is_told_which_one_they_left(database, people):
    await _redeem(database, await _link(database, people, "buoi"), people["minh"])

    moved = await _redeem(database, await _link(database, people, "nhat_tan"), people["minh"])

    assert moved.outcome is LinkOutcome.REDEEMED
    assert (moved.unit_name, moved.previous_unit_name) == ("Phường Nhật Tân", "Phường Bưởi")


async def test_a_demoted_focal_point_cannot_reuse_their_old_link(database, people):
    token = await _link(database, people)
    await _redeem(database, token, people["minh"])
    async with database.transaction() as db:
        await grants.grant_role(db, actor_id=people["hoa"].id, role="citizen", target_account_id=people["minh"].id)

    result = await _redeem(database, token, people["minh"])

    assert result.outcome is LinkOutcome.SPENT
    assert (await _account(database, people["minh"].id)).role == "citizen"


async def test_only_organisers_make_unit_links(database, people):
    async with database.transaction() as db:
        buoi = await _unit_id(db, "buoi")
        refused = await unit_links.create_unit_link(
            db, unit_id=buoi, created_by_id=people["lan"].id, now=NOW, days=30, secret=SECRET
        )
        assert refused == NotAllowed(Role.ORGANISER)
        with pytest.raises(UnitLinkError):
            await unit_links.create_unit_link(
                db, unit_id=99999, created_by_id=people["hoa"].id, now=NOW, days=30, secret=SECRET
            )


def test_unit_link_urls_are_telegram_deep_links():
    url = unit_links.unit_link_url("dienhinh_bot", "abc_DEF-123")
    assert url == "https://t.me/dienhinh_bot?start=unit_abc_DEF-123"


# --- grants ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "target"),
    [
        ("123456789", Target(channel="telegram", external_id="123456789")),
        ("#42", Target(account_id=42)),
        ("5e1b9c2a7d4f0e3b8a61", Target(channel="zalo", external_id="5e1b9c2a7d4f0e3b8a61")),
        ("@lan_nguyen", Target(username="lan_nguyen")),
        ("lan_nguyen", Target(username="lan_nguyen")),
        ("https://t.me/lan_nguyen", Target(username="lan_nguyen")),
        ("@l", None),
        ("Nguyễn Thị Lan", None),
    ],
)
def test_grant_targets_are_usernames_or_telegram_ids(typed, target):
    assert grants.parse_target(typed) == target


async def _grant(database: Database, actor: AccountSnapshot, target: str, role: str, **kwargs):
    async with database.transaction() as db:
        return await grants.grant_role(
            db, actor_id=actor.id, target=target, role=role, settings_organiser_ids=(ORGANISER_TG,), **kwargs
        )


async def test_an_organiser_grants_reviewer_by_username_and_it_is_audited(database, people):
    result = await _grant(database, people["hoa"], "@minhtran", "reviewer", reason="phụ trách khối phường")

    assert result.outcome is GrantOutcome.GRANTED and result.previous_role == "citizen"
    assert result.target is not None and result.target.role == "reviewer"
    async with database.transaction() as db:
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "role.grant"))
    assert audit.actor_id == people["hoa"].id and audit.entity_id == str(people["minh"].id)
    assert audit.detail == {"from": "citizen", "to": "reviewer", "unit_id": None, "reason": "phụ trách khối phường"}

    again = await _grant(database, people["hoa"], "1002", "reviewer")
    assert again.outcome is GrantOutcome.UNCHANGED


async def test_grants_are_refused_with_a_reason(database, people):
    by_citizen = await _grant(database, people["lan"], "@MinhTran", "reviewer")
    focal = await _grant(database, people["hoa"], "@MinhTran", "focal_point")
    nonsense_role = await _grant(database, people["hoa"], "@MinhTran", "king")
    never_met = await _grant(database, people["hoa"], "@someone_new", "reviewer")
    bad_target = await _grant(database, people["hoa"], "Minh ơi", "reviewer")

    assert by_citizen.outcome is GrantOutcome.NOT_ALLOWED
    assert focal.outcome is GrantOutcome.NOT_GRANTABLE
    assert nonsense_role.outcome is GrantOutcome.NOT_GRANTABLE
    assert never_met.outcome is GrantOutcome.UNKNOWN_TARGET
    assert bad_target.outcome is GrantOutcome.BAD_TARGET
    assert (await _account(database, people["minh"].id)).role == "citizen"


async def test_the_last_organiser_cannot_step_down_and_settings_organisers_stay(database, people):
    alone = await _grant(database, people["hoa"], "hoa_btc", "citizen")
    assert alone.outcome is GrantOutcome.SETTINGS_ORGANISER

    promoted = await _grant(database, people["hoa"], "@minhtran", "organiser")
    assert promoted.granted
    minh = promoted.target
    assert minh is not None

    hoa_demoted = await _grant(database, minh, "@hoa_btc", "citizen")
    assert hoa_demoted.outcome is GrantOutcome.SETTINGS_ORGANISER

    async with database.transaction() as db:
        last = await grants.grant_role(db, actor_id=minh.id, role="reviewer", target_account_id=minh.id)
    # Hoà is still an organiser, so Minh may step down.
    assert last.outcome is GrantOutcome.GRANTED

    async with database.transaction() as db:
        await db.execute(Account.__table__.update().where(Account.id == people["hoa"].id).values(role="organiser"))
        lone = await grants.grant_role(
            db, actor_id=people["hoa"].id, role="citizen", target_account_id=people["hoa"].id
        )
    assert lone.outcome is GrantOutcome.LAST_ORGANISER
    assert (await _account(database, people["hoa"].id)).role == "organiser"


# --- endorsements ------------------------------------------------------------------------------------


async def _nomination(database: Database, nominator: AccountSnapshot, **overrides) -> int:
    async with database.transaction() as db:
        campaign = await db.scalar(select(Campaign))
        conference = await db.scalar(select(Conference).where(Conference.code == "grassroots"))
        values = {
            "status": "submitted",
            "code": "DH-2020-0001",
            "kind": "individual",
            "nominee_name": "Đỗ Thị Hạnh",
            "nominee_fold": fold("Đỗ Thị Hạnh"),
            "unit_id": await _unit_id(db, "buoi"),
            "title_code": "nguoi_tot_viec_tot",
            "movement_code": "van_minh_do_thi",
            "achievements": "Tổ trưởng tổ dân phố 5 năm liền; vận động 120 hộ giữ vệ sinh ngõ xóm. "
            "Liên hệ: 0912 345 678.",
            "gender": "nu",
            "birth_year": 1971,
            "ethnicity": "tay",
            "religion": "cong_giao",
            "phone_e164": "+84912345678",
            "position": "Tổ trưởng",
            "workplace": "Tổ dân phố 7",
            "campaign_id": campaign.id,
            "conference_id": conference.id if conference else None,
            "nominator_id": nominator.id,
            "source": "citizen",
            "submitted_at": NOW,
        } | overrides
        nomination = Nomination(**values)
        db.add(nomination)
        await db.flush()
        return nomination.id


async def _share(database: Database, nomination_id: int) -> str:
    async with database.transaction() as db:
        link = await endorsements.share_link(db, await db.get_one(Nomination, nomination_id), SECRET)
        return link.token


async def test_the_public_summary_shows_no_personal_details(database, people):
    nomination_id = await _nomination(database, people["lan"])
    token = await _share(database, nomination_id)
    async with database.transaction() as db:
        view = await endorsements.open_share_link(db, token=token, account_id=people["minh"].id)

    summary = view.summary
    assert view.outcome is EndorseOutcome.CAN_ENDORSE and summary is not None
    assert summary.nominee_name == "Đỗ Thị Hạnh" and summary.unit_name == "Phường Bưởi"
    assert (summary.title_label, summary.movement_label) == ("Người tốt – việc tốt", "Văn minh đô thị")
    assert summary.achievements_excerpt is not None and "0912" not in summary.achievements_excerpt
    shown = " ".join(str(value) for value in dataclasses.asdict(summary).values())
    for secret in ("0912", "345 678", "+84", "1971", "tay", "cong_giao", "Công giáo", "Tày", "Nữ", "Tổ dân phố 7"):
        assert secret not in shown
    assert {field.name for field in dataclasses.fields(summary)} == {
        "code",
        "nominee_name",
        "kind",
        "unit_name",
        "title_label",
        "movement_label",
        "achievements_excerpt",
    }


def test_excerpts_are_short_and_mask_phone_numbers_and_citizen_ids():
    text = "Gọi +84 912.345.678 hoặc 0243 8123 456; CCCD 001071012345. Năm 2019 góp 1.500.000.000 đồng. " + "x " * 400
    short = endorsements.excerpt(text)
    assert len(short) <= endorsements.EXCERPT_CHARS + 1 and short.endswith("…")
    assert "912" not in short and "8123" not in short and "001071012345" not in short
    assert "1.500.000.000" in short


async def test_the_share_link_is_stable_until_the_nominator_revokes_it(database, people):
    nomination_id = await _nomination(database, people["lan"])
    first = await _share(database, nomination_id)
    again = await _share(database, nomination_id)
    assert again == first  # /share and a resubmission show the link already handed out

    async with database.transaction() as db:
        code = (await db.get_one(Nomination, nomination_id)).code or ""
        shown = await endorsements.share_link_for(db, code=code, account_id=people["lan"].id, secret=SECRET)
        foreign = await endorsements.revoke_share_link(
            db, code=code, account_id=people["minh"].id, secret=SECRET, now=NOW
        )
    assert shown.token == first and not shown.replaced
    assert foreign.outcome is ShareOutcome.NOT_FOUND  # only the nominator may revoke

    async with database.transaction() as db:
        revoked = await endorsements.revoke_share_link(
            db, code=code, account_id=people["lan"].id, secret=SECRET, now=NOW
        )
        [audit] = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "endorsement_link.revoke"))).all()
    assert revoked.replaced and revoked.token not in (None, first)
    assert (audit.actor_id, audit.entity_id) == (people["lan"].id, str(nomination_id))
    old_code = link_codes.typed_code(SECRET, shown.short_code or "")
    async with database.transaction() as db:
        stale = await endorsements.endorse(db, token=first, account_id=people["minh"].id, now=NOW)
        stale_code = await endorsements.endorse(db, token="", code=old_code, account_id=people["tuan"].id, now=NOW)
        fresh = await endorsements.endorse(db, token=revoked.token or "", account_id=people["minh"].id, now=NOW)

    assert stale.outcome is EndorseOutcome.UNKNOWN and stale_code.outcome is EndorseOutcome.UNKNOWN
    assert fresh.outcome is EndorseOutcome.ENDORSED and fresh.count == 1


async def test_endorsing_once_per_person_never_your_own_and_only_while_open(database, people):
    nomination_id = await _nomination(database, people["lan"])
    token = await _share(database, nomination_id)
    later = NOW + dt.timedelta(days=2)

    async with database.transaction() as db:
        first = await endorsements.endorse(db, token=token, account_id=people["minh"].id, now=NOW)
    async with database.transaction() as db:
        second = await endorsements.endorse(db, token=token, account_id=people["minh"].id, now=later)
        own = await endorsements.endorse(db, token=token, account_id=people["lan"].id, now=later)
        reopened = await endorsements.open_share_link(db, token=token, account_id=people["minh"].id)

    assert first.outcome is EndorseOutcome.ENDORSED
    assert second.outcome is EndorseOutcome.ALREADY and second.endorsed_at == NOW
    assert own.outcome is EndorseOutcome.OWN
    assert reopened.outcome is EndorseOutcome.ALREADY and reopened.count == 1

    async with database.transaction() as db:
        nomination = await db.get_one(Nomination, nomination_id)
        transition(db, nomination, Status.WITHDRAWN, actor_id=people["lan"].id, now=later)
    async with database.transaction() as db:
        closed = await endorsements.endorse(db, token=token, account_id=people["tuan"].id, now=later)
        who = await endorsements.endorsers(db, nomination_id)

    assert closed.outcome is EndorseOutcome.CLOSED
    assert [(e.display_name, e.endorsed_at) for e in who] == [("Trần Văn Minh", NOW)]


async def test_two_endorsements_by_the_same_person_at_once_make_one_row(database, people):
    nomination_id = await _nomination(database, people["lan"])
    token = await _share(database, nomination_id)

    async def press() -> EndorseOutcome:
        async with database.transaction() as db:
            return (await endorsements.endorse(db, token=token, account_id=people["minh"].id, now=NOW)).outcome

    outcomes = await asyncio.gather(press(), press())

    assert sorted(outcomes) == sorted([EndorseOutcome.ENDORSED, EndorseOutcome.ALREADY])
    async with database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Endorsement)) == 1


async def test_share_links_are_for_the_nominators_own_sent_nominations(database, people):
    await _nomination(database, people["lan"])
    await _nomination(database, people["lan"], code="DH-2020-0002", status="draft")

    async with database.transaction() as db:
        mine = await endorsements.share_link_for(db, code="dh-2020-1", account_id=people["lan"].id, secret=SECRET)
        not_mine = await endorsements.share_link_for(
            db, code="DH-2020-0001", account_id=people["minh"].id, secret=SECRET
        )
        draft = await endorsements.share_link_for(db, code="DH-2020-0002", account_id=people["lan"].id, secret=SECRET)
        listed = await endorsements.shareable_nominations(db, people["lan"].id)

    assert mine.outcome is ShareOutcome.CREATED and mine.code == "DH-2020-0001" and mine.token
    assert not mine.replaced
    assert not_mine.outcome is ShareOutcome.NOT_FOUND
    assert draft.outcome is ShareOutcome.NOT_SHAREABLE
    assert [(item.code, item.nominee_name) for item in listed] == [("DH-2020-0001", "Đỗ Thị Hạnh")]
