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
