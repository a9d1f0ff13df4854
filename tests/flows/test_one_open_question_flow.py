"""A typed answer answers the question asked last: starting a dialogue closes the one left open.

Found in the playground: an organiser at a /review card typed /invite all, was asked "which conference?",
typed 2 — and the review, registered earlier, took the 2 as "Từ chối" for the nomination on its card.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.playground.harness import Playground
from rules.plans import SEED_PLAN, apply_plan, load_plan_file, shift_plan_dates
from storage.models import ConversationState, Nomination
from tests.flows.test_review_flow import submit


@pytest.fixture
async def plan(playground: Playground) -> None:
    """The seed plan with its dates ahead of today, so the intake is open."""
    async with playground.services.database.transaction() as db:
        await apply_plan(db, shift_plan_dates(load_plan_file(SEED_PLAN), dt.datetime.now(dt.UTC).date()))


async def _statuses(playground: Playground) -> list[tuple[str | None, str]]:
    async with playground.services.database.transaction() as db:
        rows = await db.execute(select(Nomination.code, Nomination.status).order_by(Nomination.id))
        return [(code, status) for code, status in rows.all()]


async def test_a_number_typed_after_invite_answers_invite_not_the_review_card_left_open(playground, plan, organiser):
    await submit(playground, 1)
    card = await organiser.send("/review")
    assert card[-1].button_labels[:2] == ["Duyệt", "Từ chối"]

    asked = await organiser.send("/invite all")
    assert asked[-1].text == "Bạn muốn mời các điển hình đã được duyệt dự hội nghị nào?"
    answer = await organiser.send("2")

    # Before the fix: "Vì sao DH-2020-0001 không được chấp nhận? …" — the 2 was "Từ chối" on the card.
    assert "không được chấp nhận" not in answer[-1].text
    assert "Hội nghị Điển hình tiên tiến" in answer[-1].text
    assert await _statuses(playground) == [("DH-2020-0001", "submitted")]

    # The card's own buttons still work: pressing one opens the review again, and it decides.
    decided = await organiser.press("Duyệt", message=card[-1])
    assert "Đã duyệt DH-2020-0001" in decided[0].text
    assert await _statuses(playground) == [("DH-2020-0001", "approved")]


async def test_review_started_mid_form_takes_the_next_answer_and_the_form_resumes_later(playground, plan, organiser):
    await organiser.send("/nominate")
    await organiser.press("Hội nghị Điển hình tiên tiến")
    await organiser.press("Cá nhân")
    asked_gender = await organiser.send("Nguyễn Văn Bình")
    assert asked_gender[-1].text == "Giới tính?"
    await submit(playground, 1)

    await organiser.send("/review")
    decided = await organiser.send("1")

    # The 1 is "Duyệt" on the card shown last, not "Nam" for the form asked before it.
    assert "Đã duyệt DH-2020-0001" in decided[0].text
    async with playground.services.database.transaction() as db:
        draft = await db.scalar(select(Nomination).where(Nomination.status == "draft"))
    assert draft is not None and draft.nominee_name == "Nguyễn Văn Bình" and draft.gender is None

    resumed = await organiser.send("/nominate")
    assert resumed[-1].text.startswith("Bạn có một đề cử chưa hoàn thành (Nguyễn Văn Bình)")
    going_on = await organiser.press(1)
    assert going_on[-1].text == "Giới tính?"


async def test_lang_in_the_middle_of_the_form_leaves_the_form_open(playground, plan, citizen):
    await citizen.send("/nominate")
    await citizen.press("Hội nghị Điển hình tiên tiến")
    await citizen.press("Cá nhân")
    await citizen.send("/lang")
    await citizen.send("Tiếng Việt")

    going_on = await citizen.send("Nguyễn Văn Bình")

    assert going_on[-1].text == "Giới tính?"


async def _open_dialogues(playground: Playground) -> list[str]:
    """The conversations stored as open, read from the database (not from the running bot)."""
    async with playground.services.database.transaction() as db:
        return sorted((await db.scalars(select(ConversationState.name))).all())


async def test_each_step_is_stored_when_it_happens_and_a_closed_dialogue_leaves_the_database(
    playground, plan, organiser
):
    await organiser.send("/start")
    assert await _open_dialogues(playground) == []  # /start changes no state: nothing to write

    await organiser.send("/nominate")
    assert await _open_dialogues(playground) == ["nominate"]  # stored at once, not at the next minute

    await submit(playground, 1)
    await organiser.send("/review")
    # The form's claim on the next answer is gone from the database too, so a restart cannot bring it back.
    assert await _open_dialogues(playground) == ["review"]
