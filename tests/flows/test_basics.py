"""The foundation as a person meets it: welcome, help, language, typed choices, restarts, mistakes."""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select
from telegram.ext import CommandHandler, ConversationHandler

from bot.playground.harness import ChatUser, Playground
from handlers import gate
from storage.models import Account, ConversationState
from tests.people import reached_at


async def _account(playground: Playground, user: ChatUser) -> Account:
    async with playground.services.database.transaction() as db:
        account = await db.scalar(select(Account).where(reached_at(user.chat_id)))
    assert account is not None
    return account


async def test_start_welcomes_in_vietnamese_and_stores_the_account(playground, citizen):
    replies = await citizen.send("/start")

    assert len(replies) == 1
    assert replies[0].text.startswith("Xin chào Lan!")
    assert "/lang" in replies[0].text
    account = await _account(playground, citizen)
    assert account.role == "citizen"
    assert account.display_name == "Nguyễn Thị Lan"


async def test_lang_switches_the_language_of_the_replies(playground, citizen):
    question = await citizen.send("/lang")
    assert question[-1].button_labels == ["Tiếng Việt", "English"]

    confirmation = await citizen.press("English")
    assert confirmation[-1].text == "Done: I will use English from now on."
    welcome = await citizen.send("/start")
    assert welcome[0].text.startswith("Hello Lan!")
    assert (await _account(playground, citizen)).locale == "en"

    await citizen.send("/lang")
    back = await citizen.send("tieng viet")
    assert back[-1].text.startswith("Xong")
    assert (await citizen.send("/help"))[0].text.startswith("Bạn có thể")


async def test_a_choice_can_be_typed_by_number(playground, citizen):
    await citizen.send("/lang")
    replies = await citizen.send("2")
    assert replies[-1].text == "Done: I will use English from now on."


async def test_a_label_typed_in_nfd_without_caps_matches(playground, citizen):
    await citizen.send("/lang")
    replies = await citizen.send(unicodedata.normalize("NFD", "tiếng việt"))
    assert replies[-1].text.startswith("Xong")


async def test_the_language_shortcut_takes_an_argument(playground, citizen):
    replies = await citizen.send("/lang english")
    assert replies[-1].text == "Done: I will use English from now on."


async def test_a_wrong_answer_gets_a_note_and_the_same_question(playground, citizen):
    await citizen.send("/lang")
    for attempt in (citizen.send("tiếng Pháp"), citizen.send("7"), citizen.send_sticker(), citizen.send_photo(b"x")):
        replies = await attempt
        assert len(replies) == 1
        assert "Xin lỗi, tôi chưa hiểu câu trả lời" in replies[0].text
        assert replies[0].button_labels == ["Tiếng Việt", "English"]
    assert (await _account(playground, citizen)).locale is None


async def test_a_restart_in_the_middle_of_a_conversation_resumes_at_the_same_step(playground, citizen):
    await citizen.send("/lang")
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(ConversationState)) == 1

    await playground.restart()

    replies = await citizen.send("English")
    assert replies[-1].text == "Done: I will use English from now on."
    async with playground.services.database.transaction() as db:
        assert await db.scalar(select(func.count()).select_from(ConversationState)) == 0


async def test_cancel_halfway_changes_nothing(playground, citizen):
    await citizen.send("/lang")
    replies = await citizen.send("/cancel")
    assert replies[-1].text == "Đã huỷ. Không có gì thay đổi."
    after = await citizen.send("2")
    assert "/help" in after[-1].text  # no longer a language answer
    assert (await _account(playground, citizen)).locale is None


async def test_an_old_button_after_the_conversation_ended_is_refused(playground, citizen):
    await citizen.send("/lang")
    old_question = citizen.last
    await citizen.send("/lang")
    await citizen.press("English")
    assert old_question.buttons and not citizen.last.buttons

    replies = await citizen.press("Tiếng Việt", old_question)

    assert replies == []
    assert citizen.toasts[-1] == "This button is no longer active. Type /help to start again."
    assert (await _account(playground, citizen)).locale == "en"
    assert not old_question.buttons  # taken away so it can't be pressed again


async def test_unknown_command_and_stray_text_get_a_polite_answer(playground, citizen):
    assert (await citizen.send("/baocao"))[0].text == (
        "Xin lỗi, tôi không biết lệnh /baocao. Gõ /help để xem tôi có thể giúp gì."
    )
    assert "/help" in (await citizen.send("xin chào"))[0].text
    assert (await citizen.send("/cancel"))[0].text.startswith("Không có việc gì để huỷ")


async def test_help_depends_on_who_is_asking(playground, citizen, organiser):
    citizen_help = (await citizen.send("/help"))[0].text
    organiser_help = (await organiser.send("/help"))[0].text
    assert "/outbox" not in citizen_help
    assert "/outbox" in organiser_help
    assert (await _account(playground, organiser)).role == "organiser"


async def test_command_menus_are_set_per_role_and_language(playground, organiser):
    menus = playground.api.commands
    everyone = {c["command"]: c["description"] for c in menus["default|"]}
    assert everyone["lang"].startswith("Đổi ngôn ngữ")
    assert "outbox" not in everyone
    assert {c["command"] for c in menus["default|en"]} == set(everyone)
    organisers = {c["command"] for c in menus[f"chat:{organiser.chat_id}|"]}
    assert "outbox" in organisers


async def test_an_error_in_a_handler_is_logged_and_the_person_told(playground, citizen, caplog):
    async def broken(update, context):
        raise RuntimeError("boom")

    playground.application.add_handler(CommandHandler("broken", broken), group=-3)

    replies = await citizen.send("/broken")

    assert replies[-1].text.startswith("Xin lỗi, hệ thống gặp sự cố")
    assert any("failed" in record.getMessage() and record.exc_info for record in caplog.records)


async def test_two_people_keep_their_own_language(playground, citizen, organiser):
    await citizen.send("/lang English")
    english = await citizen.send("/start")
    vietnamese = await organiser.send("/start")
    assert english[0].text.startswith("Hello")
    assert vietnamese[0].text.startswith("Xin chào")


async def test_the_commands_checked_before_the_conversations_are_taken_by_no_conversation(playground, citizen):
    # bot/app.py puts plain commands ahead of the conversations for speed. That is only right while no
    # conversation would take them in any state: otherwise /help typed mid-form would bypass the form.
    group = playground.application.handlers[0]
    first_conversation = next(i for i, handler in enumerate(group) if isinstance(handler, ConversationHandler))
    early = [handler for handler in group[:first_conversation] if handler.callback is not gate.edited]
    assert {"start", "help", "status", "deadlines", "mine"} <= {c for h in early for c in h.commands}
    conversations = [handler for handler in group if isinstance(handler, ConversationHandler)]
    assert conversations
    factory = playground.factory
    assert factory is not None
    for handler in early:
        assert isinstance(handler, CommandHandler)
        for command in handler.commands:
            texts = [f"/{command}"] if handler.has_args is False else [f"/{command}", f"/{command} DH-2020-0001"]
            for text in texts:
                update = factory.text(citizen.persona, text)
                assert handler.check_update(update)
                for conversation in conversations:
                    inner = [*conversation.entry_points, *conversation.fallbacks]
                    inner += [h for handlers in conversation.states.values() for h in handlers]
                    taken = [h for h in inner if h.check_update(update) not in (None, False)]
                    assert not taken, f"{text} is taken by {conversation.name}: {taken}"


async def test_help_in_the_middle_of_a_form_answers_and_the_form_goes_on(playground, citizen):
    await citizen.send("/lang")
    help_text = (await citizen.send("/help"))[0].text
    assert help_text.startswith("Bạn có thể") and "/nominate" in help_text
    assert (await citizen.send("2"))[-1].text == "Done: I will use English from now on."
