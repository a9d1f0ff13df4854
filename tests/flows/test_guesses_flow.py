"""Guessing personal links and check-in codes, as a guesser and their neighbours meet it in chat.

Ten wrong links or codes within ten minutes from one person, and for fifteen minutes nothing they send is
looked up — not even a right one; everyone else goes on as before. The clock stands on 10 February 2020,
inside Tây Hồ's 2020 plan, and only the test moves it.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.playground.harness import ChatUser, Playground
from bot.playground.transport import Persona
from bot.settings import Settings
from storage.models import Account, Invitation
from tests.clock import Clock
from tests.flows.conftest import running
from tests.invitations import invite
from tests.people import account_id_at, reached_at

NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)
HUNG, MAI = 5005, 5006
WRONG_INVITATION = "Xin lỗi, đường dẫn giấy mời này không hợp lệ."
COOLING_DOWN = "Bạn đã nhập sai đường dẫn hoặc mã quá nhiều lần."


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def playground(settings: Settings, clock: Clock) -> AsyncIterator[Playground]:
    async with running(settings, clock, seed_plan=True) as pg:
        yield pg


@pytest.fixture
def hung(playground: Playground) -> ChatUser:
    return playground.person(Persona(HUNG, "Hùng", "Trần Văn"))


@pytest.fixture
def mai(playground: Playground) -> ChatUser:
    return playground.person(Persona(MAI, "Mai", "Nguyễn Thị"))


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="handlers.guesses")
    return caplog


async def _invite(playground: Playground, name: str) -> tuple[int, str]:
    """An invitation to the district conference, as /invite makes it: (its id, its link token)."""
    invited = await invite(playground.services, name)
    return invited.id, invited.token


async def _invitation(playground: Playground, invitation_id: int) -> Invitation:
    async with playground.services.database.transaction() as db:
        return await db.get_one(Invitation, invitation_id)


async def _account_id(playground: Playground, user: ChatUser) -> int:
    async with playground.services.database.transaction() as db:
        account_id = await db.scalar(select(Account.id).where(reached_at(user.chat_id)))
    assert account_id is not None
    return account_id


def _wrong_token() -> str:
    return secrets.token_urlsafe(18)


async def test_a_chat_guessing_invitation_links_is_slowed_down_alone_and_let_in_again_later(
    playground, hung, mai, clock, warnings
):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    _, mais_token = await _invite(playground, "Nguyễn Thị Mai")
    guesses = [_wrong_token() for _ in range(12)]

    for guess in guesses[:9]:
        assert (await hung.send(f"/start inv_{guess}"))[-1].text.startswith(WRONG_INVITATION)
    assert warnings.records == []
    tenth = await hung.send(f"/start inv_{guesses[9]}")
    assert tenth[-1].text.startswith(WRONG_INVITATION)  # the tenth is still looked up and answered as usual
    refused = await hung.send(f"/start inv_{guesses[10]}")
    assert refused[-1].text.startswith(COOLING_DOWN)
    assert refused[-1].text.endswith("vui lòng thử lại sau 15 phút.")

    clock.now = NOW + dt.timedelta(minutes=5)
    right_one = await hung.send(f"/start inv_{token}")
    assert [m.text for m in right_one] == [refused[-1].text.replace("15 phút", "10 phút")]
    assert (await _invitation(playground, invitation_id)).account_id is None  # not even looked up
    await hung.send(f"/start inv_{guesses[11]}")

    [warning] = warnings.records  # one, however many attempts followed
    assert warning.levelno == logging.WARNING
    message = warning.getMessage()
    assert f"account={await _account_id(playground, hung)} (chat {HUNG})" in message
    assert "10 wrong links or codes" in message and "invitation_link 10" in message
    assert not any(guess in message for guess in [*guesses, token])
    # Another chat meanwhile: wrong links are answered as always, and the right one opens.
    assert (await mai.send(f"/start inv_{_wrong_token()}"))[-1].text.startswith(WRONG_INVITATION)
    assert (await mai.send(f"/start inv_{mais_token}"))[-1].button_labels[0] == "Tham dự"

    clock.now = NOW + dt.timedelta(minutes=15)
    card = await hung.send(f"/start inv_{token}")
    assert card[-1].button_labels[0] == "Tham dự"
    assert (await _invitation(playground, invitation_id)).account_id == await account_id_at(
        playground.services.database, HUNG
    )


async def test_only_misses_count_and_opening_ones_own_link_does_not(playground, hung, warnings):
    _, token = await _invite(playground, "Trần Văn Hùng")
    for _ in range(9):
        await hung.send(f"/start inv_{_wrong_token()}")

    for _ in range(5):
        assert (await hung.send(f"/start inv_{token}"))[-1].button_labels[0] == "Tham dự"
    tenth = await hung.send(f"/start inv_{_wrong_token()}")
    after = await hung.send(f"/start inv_{token}")

    assert tenth[-1].text.startswith(WRONG_INVITATION)
    assert after[-1].text.startswith(COOLING_DOWN)
    assert len(warnings.records) == 1


async def test_every_kind_of_link_and_typed_check_in_code_shares_one_budget(
    playground, organiser, hung, clock, warnings
):
    invitation_id, token = await _invite(playground, "Trần Văn Hùng")
    await hung.send(f"/start inv_{token}")
    await hung.press("Tham dự")
    code = (await _invitation(playground, invitation_id)).checkin_code
    assert code is not None
    await organiser.send("/unitlink")
    made = await organiser.send("phuong buoi")
    unit_link = made[-1].text.split("?start=", 1)[1].split()[0]
    clock.now = NOW + dt.timedelta(days=31)  # the unit link has expired: opening it is a miss too

    for _ in range(5):
        assert "Không có đại biểu nào có mã" in (await organiser.send("/checkin ZZZZ-ZZZZ"))[-1].text
    for _ in range(3):
        assert (await organiser.send(f"/start chk_{_wrong_token()}"))[-1].text == "Mã QR điểm danh này không hợp lệ."
    assert "đã hết hạn" in (await organiser.send(f"/start {unit_link}"))[-1].text
    assert "không còn hiệu lực" in (await organiser.send(f"/start end_{_wrong_token()}"))[-1].text

    refused = await organiser.send(f"/checkin {code}")
    assert refused[-1].text.startswith(COOLING_DOWN)
    assert (await _invitation(playground, invitation_id)).checked_in_at is None
    [warning] = warnings.records
    assert "check_in_code 5, check_in_link 3, endorsement_link 1, unit_link 1" in warning.getMessage()

    clock.now += dt.timedelta(minutes=15)
    assert (await organiser.send(f"/checkin {code}"))[-1].text.startswith("✅")
    assert (await _invitation(playground, invitation_id)).checked_in_at is not None
