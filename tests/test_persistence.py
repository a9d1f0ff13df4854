"""PTB persistence in our database: what is written is what a new process reads."""

from __future__ import annotations

from telegram.ext import PersistenceInput

from storage.persistence import SQLAlchemyPersistence


async def test_conversation_states_survive_a_new_persistence_object(database):
    first = SQLAlchemyPersistence(database)
    await first.update_conversation("nomination", (1001, 1001), "nomination.name")
    await first.update_conversation("nomination", (1002, 1002), "nomination.kind")
    await first.update_conversation("nomination", (1002, 1002), "nomination.summary")
    await first.update_conversation("language", (1001, 1001), "language.choosing")

    second = SQLAlchemyPersistence(database)
    assert await second.get_conversations("nomination") == {
        (1001, 1001): "nomination.name",
        (1002, 1002): "nomination.summary",
    }

    await second.update_conversation("nomination", (1001, 1001), None)
    assert await SQLAlchemyPersistence(database).get_conversations("nomination") == {(1002, 1002): "nomination.summary"}
    assert await second.get_conversations("language") == {(1001, 1001): "language.choosing"}


async def test_user_chat_and_bot_data_when_a_feature_turns_them_on(database):
    everything = PersistenceInput(bot_data=True, chat_data=True, user_data=True, callback_data=True)
    persistence = SQLAlchemyPersistence(database, store_data=everything)
    await persistence.update_user_data(7, {"draft": 3})
    await persistence.update_chat_data(-100, {"topic": "hội nghị"})
    await persistence.update_bot_data({"version": 2})
    await persistence.drop_user_data(8)

    fresh = SQLAlchemyPersistence(database, store_data=everything)
    assert (await fresh.get_user_data())[7] == {"draft": 3}
    assert (await fresh.get_chat_data())[-100] == {"topic": "hội nghị"}
    assert await fresh.get_bot_data() == {"version": 2}
    assert await fresh.get_callback_data() is None

    await fresh.drop_user_data(7)
    assert 7 not in await SQLAlchemyPersistence(database, store_data=everything).get_user_data()


async def test_a_state_the_table_already_holds_is_not_written_again(database, monkeypatch):
    from storage import persistence as module

    writes: list[tuple[str, str, object]] = []
    write = module._write_state

    async def counted(db, name, key, state):
        writes.append((name, key, state))
        return await write(db, name, key, state)

    monkeypatch.setattr(module, "_write_state", counted)
    first = SQLAlchemyPersistence(database)
    await first.update_conversation("rsvp", (5001, 5001), "rsvp.card")
    await first.update_conversation("rsvp", (5001, 5001), "rsvp.card")  # a press that left the card as it was
    await first.update_conversation("rsvp", (5002, 5002), None)  # ended, never stored: nothing to delete
    assert writes == [("rsvp", "[5001, 5001]", "rsvp.card")]

    # A new process reads the table first, and then knows what it holds: the same state is not rewritten,
    # a changed one and an end are.
    second = SQLAlchemyPersistence(database)
    assert await second.get_conversations("rsvp") == {(5001, 5001): "rsvp.card"}
    await second.update_conversation("rsvp", (5001, 5001), "rsvp.card")
    await second.update_conversation("rsvp", (5001, 5001), "rsvp.reason")
    await second.update_conversation("rsvp", (5001, 5001), None)
    assert writes[1:] == [("rsvp", "[5001, 5001]", "rsvp.reason"), ("rsvp", "[5001, 5001]", None)]
    assert await SQLAlchemyPersistence(database).get_conversations("rsvp") == {}
