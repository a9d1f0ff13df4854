"""A role taken away while a question is open: the answer is refused and nothing changes.

Organiser Hoà makes Xuân an organiser (or a reviewer); Xuân starts something that asks a question; Hoà
runs ``/grant … citizen``; Xuân answers. Every use case checks the role itself, from the database, at the
moment it acts, so the answer is refused. Each is tried twice: demoted with /grant in this process, and
in the database only, as another process or the command line would. The last tests send a privileged
command right after such a change made elsewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.models import Account, AuditEntry, Invitation, InvitationImport, Nomination, UnitLink
from tests.flows.test_invite_flow import GUEST_LIST, approved, xlsx
from tests.flows.test_review_flow import submit
from tests.invitations import invite
from tests.people import reached_at

XUAN = 2020
ORGANISERS_ONLY = "Xin lỗi, chỉ Ban tổ chức mới thực hiện được việc này."
COMMAND_REFUSED = "Xin lỗi, chỉ Ban tổ chức mới dùng được lệnh này."
REVIEWERS_ONLY = "Xin lỗi, chỉ người xét duyệt và Ban tổ chức mới thực hiện được việc này."
# What a command's own first check says (when this process already knows of the demotion).
REFUSALS = {
    ORGANISERS_ONLY,
    REVIEWERS_ONLY,
    COMMAND_REFUSED,
    "Xin lỗi, chỉ người xét duyệt và Ban tổ chức mới được xét duyệt đề cử.",
}


@pytest.fixture
async def plan(playground: Playground) -> None:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), playground.services.clock().date()))


@pytest.fixture
async def xuan(playground: Playground, plan: None, organiser: ChatUser) -> ChatUser:
    person = playground.person(Persona(XUAN, "Xuân", "Đinh Thị"))
    await person.send("/start")
    return person


async def _make(organiser: ChatUser, person: ChatUser, role: str) -> None:
    replies = await organiser.send(f"/grant {person.chat_id} {role}")
    assert replies[-1].text.startswith("Xong."), replies[-1].text


@pytest.fixture(params=["by /grant", "by another process"])
def demote(request: pytest.FixtureRequest, playground: Playground, organiser: ChatUser):
    """Take ``person``'s role away: with /grant here, or in the database only, as another process would
    (this process's cache then still holds the old role, so only the use case's own check can refuse)."""

    async def take_away(person: ChatUser) -> None:
        if request.param == "by /grant":
            await _make(organiser, person, "citizen")
            return
        async with playground.services.database.transaction() as db:
            await db.execute(update(Account).where(reached_at(person.chat_id)).values(role="citizen"))

    return take_away


def _refused(text: str) -> bool:
    """Refused for the role: the use case's own answer, or the one its command gives (each says who may)."""
    return text in REFUSALS or text.startswith(("Xin lỗi, chỉ Ban tổ chức mới", "Xin lỗi, chỉ người xét duyệt"))


async def _count(playground: Playground, model: Any, *where: Any) -> int:
    async with playground.services.database.transaction() as db:
        return int(await db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _exports(playground: Playground) -> int:
    return await _count(playground, AuditEntry, AuditEntry.action.like("export.%"))


async def _accepted_delegate(playground: Playground) -> None:
    await invite(
        playground.services, "Lê Văn Hùng", status="accepted", birth_year=1950, ethnicity="tay", occupation_group=None
    )


# --- the lists: /attendance, /invitations, /delegates -----------------------------------------------


@pytest.mark.parametrize("command", ["/attendance", "/invitations", "/delegates"])
async def test_a_list_asked_for_before_a_demotion_is_not_sent_after_it(playground, organiser, xuan, demote, command):
    await _accepted_delegate(playground)
    await _make(organiser, xuan, "organiser")
    question = await xuan.send(command)
    assert question[-1].text.endswith("hội nghị nào?")

    await demote(xuan)
    replies = await xuan.send("district")

    assert len(replies) == 1 and _refused(replies[0].text)
    assert not any(reply.file_name for reply in xuan.messages)
    assert not any("Lê Văn Hùng" in reply.text for reply in xuan.messages)
    assert await _exports(playground) == 0
    # The question is over: the next answer is not taken as a conference.
    assert "Gõ /help" in (await xuan.send("district"))[-1].text


# --- /invite ---------------------------------------------------------------------------------------


async def test_invite_all_answered_after_a_demotion_shows_nothing(playground, organiser, xuan, demote):
    await approved(playground, 1, "Nguyễn Thị Mai")
    await _make(organiser, xuan, "organiser")
    await xuan.send("/invite all")

    await demote(xuan)
    replies = await xuan.send("district")

    assert len(replies) == 1 and _refused(replies[0].text)
    assert await _count(playground, Invitation) == 0


async def test_invite_confirmed_after_a_demotion_creates_nothing(playground, organiser, xuan, demote):
    await approved(playground, 1, "Nguyễn Thị Mai")
    await approved(playground, 2, "Trần Văn Bình")
    await _make(organiser, xuan, "organiser")
    preview = await xuan.send("/invite all district")
    assert preview[-1].button_labels[0].startswith("Đồng ý, mời 2")

    await demote(xuan)
    replies = await xuan.send("1")

    assert _refused(replies[-1].text)
    assert await _count(playground, Invitation) == 0
    assert await _count(playground, AuditEntry, AuditEntry.action == "invitation.invite_nominations") == 0


async def test_an_old_invite_button_pressed_after_a_demotion_creates_nothing(playground, organiser, xuan, demote):
    await approved(playground, 1, "Nguyễn Thị Mai")
    await _make(organiser, xuan, "organiser")
    await xuan.send("/invite all district")

    await demote(xuan)
    await xuan.press(1)

    assert _refused(xuan.toasts[-1]) or _refused(xuan.last.text)
    assert await _count(playground, Invitation) == 0


# --- guest lists -------------------------------------------------------------------------------------


async def test_a_guest_list_whose_conference_is_named_after_a_demotion_is_not_read(playground, organiser, xuan, demote):
    await _make(organiser, xuan, "organiser")
    question = await xuan.send_document(xlsx(GUEST_LIST), "khach-moi.xlsx")
    assert question[-1].button_labels  # which conference?

    await demote(xuan)
    replies = await xuan.send("district")

    assert len(replies) == 1 and _refused(replies[0].text)
    assert await _count(playground, InvitationImport) == 0


async def test_a_guest_list_confirmed_after_a_demotion_invites_nobody(playground, organiser, xuan, demote):
    await _make(organiser, xuan, "organiser")
    report = await xuan.send_document(xlsx(GUEST_LIST), "khach-moi.xlsx")
    assert report[-1].button_labels
    await xuan.send("district")
    assert xuan.last.button_labels[0].startswith("Mời")

    await demote(xuan)
    replies = await xuan.send("1")

    assert _refused(replies[-1].text)
    assert await _count(playground, Invitation) == 0
    assert await _count(playground, InvitationImport, InvitationImport.status == "confirmed") == 0


# --- review ------------------------------------------------------------------------------------------


async def test_a_reason_typed_after_a_demotion_decides_nothing(playground, organiser, xuan, demote):
    nomination = await submit(playground, 1)
    await _make(organiser, xuan, "reviewer")
    await xuan.send("/review")
    await xuan.press("Từ chối")  # asks for the reason

    await demote(xuan)
    replies = await xuan.send("Hồ sơ chưa có xác nhận của địa phương nơi cư trú.")

    assert _refused(replies[-1].text)
    async with playground.services.database.transaction() as db:
        stored = await db.get_one(Nomination, nomination.id)
    assert stored.status == "submitted" and stored.decided_at is None


async def test_approve_all_confirmed_after_a_demotion_approves_nothing(playground, organiser, xuan, demote):
    await submit(playground, 1)
    await submit(playground, 2, "Trần Thị Bích")
    await _make(organiser, xuan, "reviewer")
    await xuan.send("/review")
    await xuan.press("Duyệt tất cả")

    await demote(xuan)
    await xuan.send("1")

    assert await _count(playground, Nomination, Nomination.status == "approved") == 0


# --- roles and links ---------------------------------------------------------------------------------


async def test_a_role_chosen_after_the_granter_was_demoted_is_not_given(playground, organiser, xuan, demote):
    minh = playground.person(Persona(1002, "Minh", "Trần Văn"))
    await minh.send("/start")
    await _make(organiser, xuan, "organiser")
    question = await xuan.send(f"/grant {minh.chat_id}")
    assert question[-1].button_labels

    await demote(xuan)
    await xuan.send("xet duyet")

    async with playground.services.database.transaction() as db:
        role = await db.scalar(select(Account.role).where(reached_at(minh.chat_id)))
    assert role == "citizen"


async def test_a_unit_picked_after_a_demotion_gets_no_link(playground, organiser, xuan, demote):
    await _make(organiser, xuan, "organiser")
    question = await xuan.send("/unitlink")
    assert question[-1].button_labels

    await demote(xuan)
    replies = await xuan.send("1")

    assert len(replies) == 1 and _refused(replies[0].text)
    assert await _count(playground, UnitLink) == 0


# --- demoted by another process: this one's cache still says organiser --------------------------------


async def _demote_elsewhere(playground: Playground, person: ChatUser) -> None:
    async with playground.services.database.transaction() as db:
        await db.execute(update(Account).where(reached_at(person.chat_id)).values(role="citizen"))
    # This process was not told. It keeps no cached account for anyone with a role, so it reads the change.
    assert playground.services.accounts.get(person.chat_id) is None


@pytest.mark.parametrize(
    "command",
    [
        "/status",
        "/export",
        "/delegates district",
        "/attendance district",
        "/invitations district",
        "/invite all district",
        "/substitutes",
        "/outbox",
        "/review",
        "/unitlink buoi",
        "/publish DH-2020-0001",
    ],
)
async def test_a_demotion_in_another_process_is_honoured_at_once(playground, organiser, xuan, command):
    await _accepted_delegate(playground)
    await _make(organiser, xuan, "organiser")
    await xuan.send("/help")

    await _demote_elsewhere(playground, xuan)
    replies = await xuan.send(command)

    assert len(replies) == 1 and _refused(replies[0].text), [reply.text for reply in replies]
    assert await _exports(playground) == 0
