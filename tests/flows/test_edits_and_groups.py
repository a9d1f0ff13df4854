"""Updates that are not a person writing in a private chat: edited messages, groups, channels.

An edit is never acted on (an edited command was answered when it was sent; an edited answer gets a note
and the question stays open). In a group the bot is quiet unless addressed, and a personal link posted
there binds nothing. Channel posts are ignored.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select
from telegram import CallbackQuery

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from handlers.menu import COMMANDS
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.models import Account, ConversationState, Invitation
from tests.invitations import invite
from tests.people import reached_at

GROUP = -100123
FAILURE = "hệ thống gặp sự cố"


@pytest.fixture
async def planned(playground: Playground) -> Playground:
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), playground.services.clock().date()))
    return playground


async def _invitation_token(playground: Playground, name: str) -> tuple[int, str]:
    invited = await invite(playground.services, name, birth_year=1950, occupation_group="cong_nhan")
    return invited.id, invited.token


def _no_failure(user: ChatUser, caplog: pytest.LogCaptureFixture) -> None:
    assert not [m.text for m in user.messages if FAILURE in m.text]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


# --- edited messages -------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["citizen", "organiser"])
async def test_an_edited_command_is_never_run_again_nor_crashes(planned, citizen, organiser, who, caplog):
    user = citizen if who == "citizen" else organiser
    await user.send("/start")
    texts = [f"/{command.name}" for command in COMMANDS]
    texts += ["/nomination DH-2020-0001", "/start unit_abc", "/start end_abc", "/start inv_abc", "/start chk_abc"]
    texts += ["/checkin K7M2", "/override 1 attend phone", "/grant 123 reviewer", "/invite all district"]
    for text in texts:
        replies = await user.edit(text)
        assert replies == [], (text, [r.text for r in replies])
    _no_failure(user, caplog)
    async with planned.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(ConversationState)) == 0


async def test_an_edited_answer_gets_a_note_and_the_question_stays_open(playground, citizen, caplog):
    await citizen.send("/lang")

    note = await citizen.edit("English")

    assert len(note) == 1
    assert note[0].text.startswith("Tôi thấy bạn vừa sửa một tin nhắn")
    async with playground.services.database.transaction() as db:
        account = await db.scalar(select(Account).where(reached_at(citizen.chat_id)))
    assert account is not None and account.locale is None  # the edit chose nothing
    assert (await citizen.send("English"))[-1].text == "Done: I will use English from now on."
    _no_failure(citizen, caplog)


# --- groups --------------------------------------------------------------------------------------


async def test_a_personal_link_in_a_group_binds_nothing_and_works_in_private_afterwards(planned, caplog):
    hung = planned.person(Persona(5005, "Hùng", "Lê Văn"))
    nosy = planned.person(Persona(5006, "Tâm", "Đỗ"))
    invitation_id, token = await _invitation_token(planned, "Lê Văn Hùng")

    in_group = await nosy.send_in_group(GROUP, f"/start inv_{token}")

    assert len(in_group) == 1
    assert "liên kết cá nhân" in in_group[0].text and "nhóm" in in_group[0].text
    assert token not in in_group[0].text
    assert in_group[0].buttons[0]["url"] == "https://t.me/dienhinh_bot"
    assert nosy.messages == []
    async with planned.services.database.transaction() as db:
        invitation = await db.get_one(Invitation, invitation_id)
        assert invitation.account_id is None
        # Nobody who only wrote in a group gets an account.
        assert await db.scalar(select(func.count()).select_from(Account)) == 0

    card = await hung.send(f"/start inv_{token}")
    assert card[-1].button_labels[:2] == ["Tham dự", "Không tham dự"]
    _no_failure(hung, caplog)


@pytest.mark.parametrize("text", ["/start chk_abc", "/start unit_abc", "/start end_abc"])
async def test_every_kind_of_personal_link_in_a_group_is_refused_the_same_way(playground, citizen, text):
    replies = await citizen.send_in_group(GROUP, text)
    assert len(replies) == 1 and "liên kết cá nhân" in replies[0].text


async def test_a_group_hears_nothing_unless_the_bot_is_addressed(playground, citizen, caplog):
    for chatter in ["Chào cả nhà", "/nominate@other_bot", "/weather", "ok", "1", "Đề cử"]:
        assert await citizen.send_in_group(GROUP, chatter) == [], chatter

    for addressed in ["/help", "/start", "/nominate@dienhinh_bot", "Nhờ @dienhinh_bot giúp với"]:
        replies = await citizen.send_in_group(GROUP, addressed)
        assert len(replies) == 1, addressed
        assert replies[0].text.startswith("Tôi chỉ làm việc trong tin nhắn riêng")

    assert citizen.messages == []  # nothing leaked into a private chat either
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(ConversationState)) == 0
    _no_failure(citizen, caplog)


async def test_a_button_pressed_in_a_group_is_answered_with_a_toast(playground, citizen):
    factory = playground.factory
    assert factory is not None
    update = factory.group_text(citizen.persona, GROUP, "x")
    assert update.message is not None
    query = CallbackQuery(
        id=f"{citizen.chat_id}:g1",
        from_user=citizen.persona.user(),
        chat_instance="g",
        message=update.message,
        data="lang:en",
    )
    query.set_bot(playground.application.bot)
    await playground.deliver(factory._update(callback_query=query))

    assert citizen.toasts[-1].startswith("Tôi chỉ làm việc trong tin nhắn riêng")
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(Account)) == 0


async def test_channel_posts_are_ignored(playground, caplog):
    factory = playground.factory
    assert factory is not None
    await playground.deliver(factory.channel_post(-100999, "/start"))
    assert playground.api.messages(-100999) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
