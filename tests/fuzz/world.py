"""The state a fuzz run starts from: the seed plan, people with every role, and records deep enough that
random updates reach the paths behind them (review cards, RSVP cards, substitutes, guest lists, links).

Records are put in the database as the bot's own use cases leave them (the same rules functions, or the
rows the intake and the review write); links are opened and cards pressed through the real Application,
so what the people start with is what real people would have in their chats.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from telegram import Update

from bot.playground.harness import Playground
from bot.playground.transport import Persona
from rules import accounts, endorsements, links, rsvp, unit_links
from rules.invitations import EXEMPLAR_POOL, GUEST_POOL, Person, create_invitation, link_token
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from rules.roles import Role
from rules.text import fold
from storage.models import Campaign, Conference, Evidence, Invitation, Nomination, NominationEvent, OrgUnit, SeatPool

# Telegram user ids of the organisers named in ORGANISER_IDS (the settings of the run).
BOOTSTRAP_ORGANISERS = (9001, 9002, 9003)
GROUPS = (-1001234567890, -4001)
CHANNELS = (-1009876543210,)
# Small pools, so the waitlist and "the pool is full" are reached.
EXEMPLAR_SEATS = 3
GUEST_SEATS = 3


@dataclass
class FuzzPerson:
    """Someone who writes to the bot during a run, with the role they start with."""

    persona: Persona
    role: str
    # Ids of the messages this person sent (what an edit may refer to).
    sent: list[int] = field(default_factory=list)

    @property
    def chat_id(self) -> int:
        return self.persona.user_id

    def __str__(self) -> str:
        return f"{self.persona.user_id} ({self.role})"


def _people() -> list[FuzzPerson]:
    def person(user_id: int, first: str, last: str, role: str, **extra: Any) -> FuzzPerson:
        return FuzzPerson(Persona(user_id, first, last, **extra), role)

    return [
        person(9001, "Hoà", "Phạm Thu", "organiser", username="hoa_pham"),
        person(9002, "Quang", "Lê", "organiser"),
        person(9003, "Thảo", "Vũ", "organiser", language_code="en"),
        person(9101, "Dũng", "Đỗ", "organiser (granted)", username="dung_do"),
        person(3001, "Tuấn", "Lê Minh", "reviewer", username="tuan_le"),
        person(3002, "Ngọc", "Hà", "reviewer", language_code="en"),
        person(3003, "Sơn", "Bùi", "reviewer"),
        person(2001, "Minh", "Trần Văn", "focal point", username="minh_tran"),
        person(2002, "Yến", "Đặng", "focal point"),
        person(2003, "Khánh", "Phan", "focal point", language_code="en"),
        *(
            person(5001 + i, name, "Trần", "delegate")
            for i, name in enumerate(("Hùng", "Mai", "Bình", "Hải", "Lan", "Nga", "Phúc", "Vy"))
        ),
        *(
            person(1001 + i, name, "Nguyễn", "citizen", **({"username": f"cit_{i}"} if i % 3 == 0 else {}))
            for i, name in enumerate(("Lan", "Hà", "Tú", "Nam", "Chi", "Long", "Thu", "Hiếu", "Quân", "Linh"))
        ),
        person(1101, "Emma", "Stone", "citizen", language_code="en", username="emma_s"),
        person(1102, "\u202eRTL\u202c", "👨‍👩‍👧", "citizen", language_code="ar"),
        person(1103, "A" * 64, "B" * 64, "citizen", language_code=""),
        person(8_999_999_999, "Khách", "Lạ", "stranger"),
        person(2**52 + 7, "Huge", "Id", "stranger"),
    ]


@dataclass
class World:
    """Who is there and what they can refer to: real codes, ids, links; filled by :func:`seed_world`."""

    people: list[FuzzPerson] = field(default_factory=_people)
    groups: tuple[int, ...] = GROUPS
    channels: tuple[int, ...] = CHANNELS
    nomination_codes: list[str] = field(default_factory=list)
    invitation_ids: list[int] = field(default_factory=list)
    # Deep-link payloads: inv_…, chk_…, unit_…, end_… (real ones; the fuzzer mutates them).
    payloads: list[str] = field(default_factory=list)
    checkin_codes: list[str] = field(default_factory=list)
    conference_codes: list[str] = field(default_factory=list)
    unit_names: list[str] = field(default_factory=list)
    district_id: int = 0

    def person(self, user_id: int) -> FuzzPerson:
        return next(p for p in self.people if p.chat_id == user_id)

    @property
    def usernames(self) -> list[str]:
        return [f"@{p.persona.username}" for p in self.people if p.persona.username]


# How the seeding sends an update through the fuzzer (so a seed step that fails is reported too).
Deliver = Callable[[FuzzPerson, Update, str], Awaitable[None]]

_ACHIEVEMENTS = (
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh và lập quỹ khuyến học của tổ dân phố."
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def seed_world(playground: Playground, clock: Callable[[], dt.datetime], deliver: Deliver) -> World:
    """Load the plan (dates moved ahead of today), give people their roles, and make nominations,
    invitations, a substitute proposal, unit links and share links for the run to use."""
    world = World()
    services = playground.services
    async with services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), clock().date()))
    account_ids = await _accounts(playground, world, clock())
    await _fix_the_day_and_seats(playground, world)
    await _nominations(playground, world, account_ids)
    await _focal_points(playground, world, account_ids, deliver)
    await _invitations(playground, world, account_ids, deliver)
    async with services.database.transaction() as db:
        world.conference_codes = list((await db.scalars(select(Conference.code).order_by(Conference.id))).all())
        units = await db.scalars(select(OrgUnit.name).order_by(OrgUnit.id).limit(12))
        world.unit_names = list(units.all())
    return world


async def _accounts(playground: Playground, world: World, now: dt.datetime) -> dict[int, int]:
    """Every person's account (so /grant @username finds them), with the roles no link gives."""
    ids: dict[int, int] = {}
    async with playground.services.database.transaction() as db:
        for person in world.people:
            persona = person.persona
            account = await accounts.ensure_telegram_account(
                db,
                telegram_user_id=persona.user_id,
                display_name=persona.user().full_name,
                username=persona.username,
                organiser_ids=BOOTSTRAP_ORGANISERS,
                now=now,
            )
            ids[persona.user_id] = account.id
            role = {"organiser (granted)": Role.ORGANISER, "reviewer": Role.REVIEWER}.get(person.role)
            if role is not None:
                await accounts.assign_role(db, account.id, role, actor_id=None, reason="fuzz world")
        locale_of = {p.chat_id: p.persona.language_code for p in world.people}
        for user_id, account_id in ids.items():
            if locale_of[user_id] == "en":
                await accounts.set_locale(db, account_id, "en")
    return ids


async def _fix_the_day_and_seats(playground: Playground, world: World) -> None:
    async with playground.services.database.transaction() as db:
        district = await db.scalar(select(Conference).where(Conference.code == "district"))
        assert district is not None and district.window_start is not None
        world.district_id = district.id
        await db.execute(
            update(Conference)
            .where(Conference.id == district.id)
            .values(
                starts_at=district.window_start + dt.timedelta(days=44, hours=1),
                venue="Hội trường UBND quận Tây Hồ",
                what_to_bring="Giấy mời, thẻ đại biểu",
            )
        )
        for code, seats in ((EXEMPLAR_POOL, EXEMPLAR_SEATS), (GUEST_POOL, GUEST_SEATS)):
            await db.execute(
                update(SeatPool).where(SeatPool.conference_id == district.id, SeatPool.code == code).values(seats=seats)
            )


# (nominator, status, nominee, kind, unit code)
_NOMINATIONS = (
    (1001, "submitted", "Nguyễn Văn An", "individual", "buoi"),
    (1002, "submitted", "Trần Thị Bích", "individual", "nhat_tan"),
    (1003, "submitted", "Tổ dân phố số 5", "collective", "buoi"),
    (2001, "submitted", "Lê Văn Cường", "individual", "buoi"),
    (1004, "submitted", "Phạm Thị Dung", "individual", "tu_lien"),
    (1005, "submitted", "Hoàng Văn Em", "individual", "xuan_la"),
    (1001, "approved", "Đỗ Thị Giang", "individual", "buoi"),
    (1002, "approved", "Vũ Văn Hậu", "individual", "quang_an"),
    (2002, "approved", "Ngô Thị Hương", "individual", "nhat_tan"),
    (1006, "approved", "Bùi Văn Khoa", "individual", "yen_phu"),
    (1001, "changes_requested", "Lý Thị Liên", "individual", "buoi"),
    (1007, "rejected", "Mạc Văn Mạnh", "individual", "thuy_khue"),
)


async def _nominations(playground: Playground, world: World, account_ids: dict[int, int]) -> None:
    """Nominations as the intake and the review leave them: sent in, with a code, evidence and events."""
    now = _now()
    async with playground.services.database.transaction() as db:
        campaign = await db.scalar(select(Campaign).where(Campaign.code == "tay-ho-2020"))
        assert campaign is not None
        year = campaign.valid_from.year if campaign.valid_from else now.year
        units = {code: unit_id for code, unit_id in (await db.execute(select(OrgUnit.code, OrgUnit.id))).all()}
        for seq, (nominator, status, name, kind, unit) in enumerate(_NOMINATIONS, start=1):
            code = f"{campaign.code_prefix}-{year}-{seq:04d}"
            values: dict[str, Any] = {
                "code": code,
                "campaign_id": campaign.id,
                "conference_id": world.district_id,
                "nominator_id": account_ids[nominator],
                "source": "focal_point" if nominator in (2001, 2002, 2003) else "citizen",
                "unit_id": units[unit],
                "status": status,
                "kind": kind,
                "nominee_name": name,
                "nominee_fold": fold(name),
                "title_code": "lao_dong_tien_tien",
                "movement_code": "nguoi_tot_viec_tot",
                "achievements": _ACHIEVEMENTS,
                "publicity_consent": seq % 2 == 0,
                "submitted_at": now - dt.timedelta(days=20 - seq),
                "decided_at": now if status in ("approved", "rejected") else None,
            }
            if kind == "individual":
                values |= {
                    "gender": "nu" if seq % 2 else "nam",
                    "birth_year": 1960 + seq * 3,
                    "sensitive_consent": True,
                    "ethnicity": "kinh" if seq % 3 else "tay",
                    "religion": "khong",
                    "occupation_group": "cong_nhan",
                    "position": "Tổ trưởng tổ dân phố số 5",
                    "phone_e164": "+84912345678",
                }
            else:
                values |= {"member_count": 12, "economic_sector": "nha_nuoc"}
            nomination = Nomination(**values)
            db.add(nomination)
            await db.flush()
            db.add(Evidence(nomination_id=nomination.id, kind="photo", file_id=f"seed-photo-{seq}"))
            _events(db, nomination, status, account_ids[9001], now)
            world.nomination_codes.append(code)
            if status == "submitted" and seq <= 2:
                share = await endorsements.share_link(db, nomination, playground.services.link_secret)
                world.payloads.append(f"end_{share.token}")
        # The intake numbers the next nomination after these.
        campaign.nomination_seq = max(campaign.nomination_seq, len(_NOMINATIONS))


def _events(db: Any, nomination: Nomination, status: str, reviewer_id: int, now: dt.datetime) -> None:
    db.add(
        NominationEvent(nomination_id=nomination.id, from_status="draft", to_status="submitted", actor_id=None, at=now)
    )
    if status != "submitted":
        db.add(
            NominationEvent(
                nomination_id=nomination.id,
                from_status="submitted",
                to_status=status,
                actor_id=reviewer_id,
                reason=None if status == "approved" else "Chưa đủ minh chứng",
                at=now,
            )
        )


async def _focal_points(playground: Playground, world: World, account_ids: dict[int, int], deliver: Deliver) -> None:
    """Unit links made by an organiser; three are opened by their focal points, two stay unused."""
    services = playground.services
    assert playground.factory is not None
    tokens: list[str] = []
    async with services.database.transaction() as db:
        for code in ("buoi", "nhat_tan", "phong_gd_dt", "tu_lien", "xuan_la"):
            unit_id = await db.scalar(select(OrgUnit.id).where(OrgUnit.code == code))
            assert unit_id is not None
            link = await unit_links.create_unit_link(
                db, unit_id=unit_id, created_by_id=account_ids[9001], now=_now(), days=30, secret=services.link_secret
            )
            assert isinstance(link, unit_links.NewUnitLink), link  # an organiser may make one
            tokens.append(link.token)
    for user_id, token in zip((2001, 2002, 2003), tokens, strict=False):
        person = world.person(user_id)
        await deliver(person, playground.factory.text(person.persona, f"/start unit_{token}"), "seed:unit-link")
    world.payloads.extend(f"unit_{token}" for token in tokens)


async def _invitations(playground: Playground, world: World, account_ids: dict[int, int], deliver: Deliver) -> None:
    """Invitations for the eight delegates; five open their link, three accept, one declines; one
    proposes a substitute. The rest of the links are unopened, for anyone to try."""
    services = playground.services
    assert playground.factory is not None
    delegates = [p for p in world.people if p.role == "delegate"]
    tokens: dict[int, str] = {}
    async with services.database.transaction() as db:
        conference = await db.get_one(Conference, world.district_id)
        approved = (
            await db.scalars(select(Nomination).where(Nomination.status == "approved").order_by(Nomination.id))
        ).all()
        for index, person in enumerate(delegates):
            nomination = approved[index] if index < len(approved) else None
            invitation = await create_invitation(
                db,
                conference=conference,
                pool_code=EXEMPLAR_POOL if nomination else GUEST_POOL,
                person=Person(
                    full_name=(nomination.nominee_name or "") if nomination else person.persona.user().full_name,
                    gender="nam" if index % 2 else "nu",
                    birth_year=1970 + index,
                    occupation_group="can_bo_cong_chuc",
                ),
                secret=services.link_secret,
                now=_now(),
                nomination_id=nomination.id if nomination else None,
            )
            assert invitation is not None
            tokens[person.chat_id] = link_token(invitation, services.link_secret)
            world.invitation_ids.append(invitation.id)
    factory = playground.factory
    for index, person in enumerate(delegates[:5]):
        await deliver(person, factory.text(person.persona, f"/start inv_{tokens[person.chat_id]}"), "seed:inv-link")
        card = _last_with_buttons(playground, person.chat_id)
        if card is None or index > 3:
            continue
        data = str(card.buttons[0 if index < 3 else 1]["callback_data"])
        await deliver(person, factory.press(person.persona, card, data), "seed:rsvp")
        if index == 3:
            await deliver(person, factory.text(person.persona, "Đi công tác nước ngoài"), "seed:decline-reason")
    world.payloads.extend(f"inv_{token}" for token in tokens.values())
    async with services.database.transaction() as db:
        first = await db.get_one(Invitation, world.invitation_ids[2])
        await rsvp.propose_substitute(
            db,
            first.id,
            Person(full_name="Lê Văn Nam", gender="nam", birth_year=1990),
            now=_now(),
            secret=services.link_secret,
            actor_id=first.account_id,
        )
        accepted = (
            await db.scalars(select(Invitation).where(Invitation.checkin_nonce.is_not(None)).order_by(Invitation.id))
        ).all()
        for invitation in accepted:
            token = links.derive_token(
                services.link_secret, links.CHECK_IN, invitation.id, invitation.checkin_nonce or ""
            )
            world.payloads.append(f"chk_{token}")
            if invitation.checkin_code:
                world.checkin_codes.append(invitation.checkin_code)
        world.invitation_ids = list((await db.scalars(select(Invitation.id).order_by(Invitation.id))).all())


def _last_with_buttons(playground: Playground, chat_id: int) -> Any:
    return next((m for m in reversed(playground.api.messages(chat_id)) if m.buttons), None)
