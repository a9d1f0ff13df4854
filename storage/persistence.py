"""PTB persistence in the project's own database, async end to end.

Conversation states live in ``ptb_conversation``; user/chat/bot/callback data, when a feature turns them
on, in ``ptb_data`` as JSON. The application flushes after every update (see ``bot.app``), so a restart in
the middle of a conversation resumes at the same step.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, cast

from sqlalchemy import Table, delete, select
from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import CDCData, ConversationDict, ConversationKey

from storage import one_trip
from storage.db import Database, insert_for
from storage.models import ConversationState, PersistedData, utcnow

JSONDict = dict[Any, Any]


def _upsert(database: Database, model: Any, values: dict[str, Any], keys: list[str]) -> Any:
    statement = insert_for(database.engine.dialect.name)(model).values(**values)
    update = {name: statement.excluded[name] for name in values if name not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=update)


_SQLITE_DELETE = "DELETE FROM ptb_conversation WHERE name = ? AND key = ?"
_SQLITE_UPSERT = (
    "INSERT INTO ptb_conversation (name, key, state, updated_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (name, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
_POSTGRES_DELETE = "DELETE FROM ptb_conversation WHERE name = $1 AND key = $2"
_POSTGRES_UPSERT = (
    "INSERT INTO ptb_conversation (name, key, state, updated_at) VALUES ($1, $2, $3::json, $4) "
    "ON CONFLICT (name, key) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at"
)
_UPDATED_AT = cast(Table, ConversationState.__table__).c.updated_at


async def _write_state(database: Database, name: str, key: str, state: object | None) -> object:
    """The conversation state written (or deleted) in one statement, committed; ``one_trip.UNAVAILABLE`` on
    an engine that cannot."""
    if state is None:
        return await one_trip.run(
            database,
            sqlite=lambda connection: connection.execute(_SQLITE_DELETE, (name, key)).close(),
            postgresql=lambda connection: connection.execute(_POSTGRES_DELETE, name, key),
        )
    encoded, now = json.dumps(state), one_trip.time_bound(database, _UPDATED_AT)(utcnow())
    return await one_trip.run(
        database,
        sqlite=lambda connection: connection.execute(_SQLITE_UPSERT, (name, key, encoded, now)).close(),
        postgresql=lambda connection: connection.execute(_POSTGRES_UPSERT, name, key, encoded, now),
    )


class SQLAlchemyPersistence(BasePersistence[JSONDict, JSONDict, JSONDict]):
    """Stores PTB's state through SQLAlchemy; by default only conversation states (features keep their
    data in domain tables, not in user_data)."""

    def __init__(
        self,
        database: Database,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
    ) -> None:
        super().__init__(
            store_data=store_data
            or PersistenceInput(bot_data=False, chat_data=False, user_data=False, callback_data=False),
            update_interval=update_interval,
        )
        self.database = database
        # What the table holds for each (name, key), as this process last read or wrote it: PTB hands every
        # state a handler set back to us, changed or not (a card's press sets the state it was in), and
        # rewriting the same row was one trip to the database in every press. Only the active process
        # writes (a standby loads the table when it takes over), so this is what the table holds.
        self._stored: dict[tuple[str, str], str] = {}

    # --- conversations -----------------------------------------------------------------------------

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self.database.transaction() as session:
            rows = (await session.scalars(select(ConversationState).where(ConversationState.name == name))).all()
        for row in rows:
            self._stored[(name, row.key)] = json.dumps(row.state)
        return {tuple(json.loads(row.key)): row.state for row in rows}

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        """Store one conversation's new state (None: it ended) in one trip to the database
        (``storage.one_trip``): it runs after nearly every update."""
        encoded_key = json.dumps(list(key))
        encoded = None if new_state is None else json.dumps(new_state)
        if self._stored.get((name, encoded_key)) == encoded:
            return  # the row already holds this state (or, for None, there is no row)
        stored = await _write_state(self.database, name, encoded_key, new_state)
        self._remember(name, encoded_key, encoded)
        if stored is not one_trip.UNAVAILABLE:
            return
        async with self.database.transaction() as session:
            if new_state is None:
                await session.execute(
                    delete(ConversationState).where(
                        ConversationState.name == name, ConversationState.key == encoded_key
                    )
                )
                return
            await session.execute(
                _upsert(
                    self.database,
                    ConversationState,
                    {"name": name, "key": encoded_key, "state": new_state, "updated_at": utcnow()},
                    ["name", "key"],
                )
            )

    def _remember(self, name: str, encoded_key: str, encoded: str | None) -> None:
        if encoded is None:
            self._stored.pop((name, encoded_key), None)
        else:
            self._stored[(name, encoded_key)] = encoded

    # --- user / chat / bot / callback data ---------------------------------------------------------

    async def _load(self, kind: str) -> dict[str, Any]:
        async with self.database.transaction() as session:
            rows = await session.scalars(select(PersistedData).where(PersistedData.kind == kind))
            return {row.key: row.data for row in rows}

    async def _store(self, kind: str, key: str, data: Any) -> None:
        async with self.database.transaction() as session:
            await session.execute(
                _upsert(self.database, PersistedData, {"kind": kind, "key": key, "data": data}, ["kind", "key"])
            )

    async def _drop(self, kind: str, key: str) -> None:
        async with self.database.transaction() as session:
            await session.execute(delete(PersistedData).where(PersistedData.kind == kind, PersistedData.key == key))

    async def get_user_data(self) -> dict[int, JSONDict]:
        stored = await self._load("user")
        return defaultdict(dict, {int(k): v for k, v in stored.items()})

    async def get_chat_data(self) -> dict[int, JSONDict]:
        stored = await self._load("chat")
        return defaultdict(dict, {int(k): v for k, v in stored.items()})

    async def get_bot_data(self) -> JSONDict:
        return cast(JSONDict, (await self._load("bot")).get("bot", {}))

    async def get_callback_data(self) -> CDCData | None:
        stored = (await self._load("callback")).get("callback")
        if stored is None:
            return None
        return cast(CDCData, ([(a, b, c) for a, b, c in stored[0]], stored[1]))

    async def update_user_data(self, user_id: int, data: JSONDict) -> None:
        await self._store("user", str(user_id), data)

    async def update_chat_data(self, chat_id: int, data: JSONDict) -> None:
        await self._store("chat", str(chat_id), data)

    async def update_bot_data(self, data: JSONDict) -> None:
        await self._store("bot", "bot", data)

    async def update_callback_data(self, data: CDCData) -> None:
        await self._store("callback", "callback", [list(data[0]), data[1]])

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._drop("chat", str(chat_id))

    async def drop_user_data(self, user_id: int) -> None:
        await self._drop("user", str(user_id))

    async def refresh_user_data(self, user_id: int, user_data: JSONDict) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: JSONDict) -> None:
        return None

    async def refresh_bot_data(self, bot_data: JSONDict) -> None:
        return None

    async def flush(self) -> None:
        return None
