"""Migrations: upgrade to head, tell an out-of-date database, and match the models (SQLite and PostgreSQL).

The PostgreSQL cases run when ``DIENHINH_TEST_PG_URL`` points at a server (``make test`` starts one with
``scripts/pg-test-server.sh``); each test gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, insert, inspect, pool, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rules import links
from rules.link_codes import derive_code, format_code, lookup_hash
from rules.tokens import token_hash
from storage import migrate
from storage.models import Account, Base, Campaign, Conference, Invitation, Nomination, StoredFileRecord

PG_URL_ENV = "DIENHINH_TEST_PG_URL"


async def _create_pg_database(server_url: str) -> tuple[str, str]:
    """A new empty database on the test server: (its SQLAlchemy URL, its name)."""
    import asyncpg

    name = f"dienhinh_t_{uuid.uuid4().hex[:16]}"
    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    return url, name


async def _drop_pg_database(server_url: str, name: str) -> None:
    import asyncpg

    admin = make_url(server_url).set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database: a fresh SQLite file, or a fresh PostgreSQL database on the test server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'test.sqlite3'}"
        return
    server_url = os.environ.get(PG_URL_ENV)
    if not server_url:
        pytest.skip(f"{PG_URL_ENV} is not set (make test starts a server)")
    url, name = await _create_pg_database(server_url)
    try:
        yield url
    finally:
        await _drop_pg_database(server_url, name)


async def _run_sync(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _schema_diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
    return list(compare_metadata(context, Base.metadata))


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def _set_version(url: str, revision: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    finally:
        await engine.dispose()


def test_one_head_and_it_is_reported() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(script.get_heads()) == 1, "migrations have branched: merge them (alembic merge heads)"
    assert migrate.head_revision() == script.get_current_head()


def test_config_does_not_depend_on_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = migrate.alembic_config()
    assert Path(config.get_main_option("script_location") or "").is_absolute()
    assert migrate.head_revision()


async def test_empty_database_is_not_up_to_date(db_url: str) -> None:
    assert await migrate.current_revision(db_url) is None
    assert await migrate.is_up_to_date(db_url) is False
    with pytest.raises(migrate.OutOfDateDatabase) as raised:
        await migrate.ensure_up_to_date(db_url)
    message = str(raised.value)
    assert "\n" not in message
    assert migrate.head_revision() in message
    assert "dienhinh db upgrade" in message
    assert raised.value.current is None


async def test_missing_sqlite_file_is_not_created_by_a_check(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "db.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    assert await migrate.is_up_to_date(url) is False
    assert not path.exists()


async def test_upgrade_to_head_then_up_to_date(db_url: str) -> None:
    await migrate.upgrade_to_head(db_url)
    assert await migrate.current_revision(db_url) == migrate.head_revision()
    assert await migrate.is_up_to_date(db_url) is True
    await migrate.ensure_up_to_date(db_url)
    # A second upgrade is a no-op.
    await migrate.upgrade_to_head(db_url)
    assert await migrate.is_up_to_date(db_url) is True


async def test_migrated_schema_matches_the_models(db_url: str) -> None:
    """`alembic check` in-process: the migrations create exactly what storage.models declares."""
    await migrate.upgrade_to_head(db_url)
    diff = await _run_sync(db_url, _schema_diff)
    assert diff == [], f"models and migrations differ; write a migration for: {diff}"
    tables = await _run_sync(db_url, _table_names)
    assert set(Base.metadata.tables) <= tables


async def test_older_revision_is_out_of_date(db_url: str) -> None:
    await migrate.upgrade_to_head(db_url)
    await migrate.stamp(db_url, "base")
    assert await migrate.current_revision(db_url) is None
    assert await migrate.is_up_to_date(db_url) is False

    # Back to base for real, then forward again: the downgrade path works too.
    await migrate.stamp(db_url, "head")
    await migrate.downgrade(db_url, "base")
    assert await migrate.is_up_to_date(db_url) is False
    assert not (set(Base.metadata.tables) & await _run_sync(db_url, _table_names))
    await migrate.upgrade_to_head(db_url)
    assert await migrate.is_up_to_date(db_url) is True


async def test_unknown_revision_is_out_of_date(db_url: str) -> None:
    await migrate.upgrade_to_head(db_url)
    await _set_version(db_url, "ffffffffffff")
    assert await migrate.is_up_to_date(db_url) is False
    with pytest.raises(migrate.OutOfDateDatabase) as raised:
        await migrate.ensure_up_to_date(db_url)
    message = str(raised.value)
    assert "ffffffffffff" in message and migrate.head_revision() in message
    assert "\n" not in message


async def test_upgrade_works_from_another_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    monkeypatch.chdir(tmp_path)
    await migrate.upgrade_to_head(url)
    assert await migrate.is_up_to_date(url) is True


def test_out_of_date_message_names_revisions_and_command() -> None:
    error = migrate.OutOfDateDatabase("aaaa", "bbbb")
    assert str(error) == (
        "the database is at revision aaaa but this version needs revision bbbb; run: dienhinh db upgrade"
    )


# --- 0005: accounts are no longer Telegram ids ---------------------------------------------------------

_AT = "'2020-05-01 09:00:00+00:00'"
_ROWS_AT_0004 = [
    "INSERT INTO campaign (id, code, title, code_prefix, movements, created_at, updated_at) "
    f"VALUES (1, 'tay-ho-2020', 'Tây Hồ 2020', 'DH', '[]', {_AT}, {_AT})",
    "INSERT INTO conference (id, campaign_id, code, level, title, status, created_at, updated_at) "
    f"VALUES (1, 1, 'district', 'district', 'Hội nghị quận', 'open', {_AT}, {_AT})",
    "INSERT INTO account (id, telegram_user_id, zalo_user_id, display_name, role, created_at, updated_at, "
    f"last_seen_at) VALUES (1, 5005, NULL, 'Trần Văn Hùng', 'citizen', {_AT}, {_AT}, {_AT})",
    "INSERT INTO account (id, telegram_user_id, zalo_user_id, display_name, role, created_at, updated_at) "
    f"VALUES (2, 9001, NULL, 'Phạm Thu Hoà', 'organiser', {_AT}, {_AT})",
    "INSERT INTO account (id, telegram_user_id, zalo_user_id, display_name, role, created_at, updated_at) "
    f"VALUES (3, NULL, '5e1b9c2a7d4f0e3b8a61', 'Lê Thị Mai', 'citizen', {_AT}, {_AT})",
    "INSERT INTO invitation (id, conference_id, pool_code, import_key, full_name, name_fold, status, account_id, "
    f"chat_id, created_at, updated_at) VALUES (1, 1, 'exemplar', 'k1', 'Trần Văn Hùng', 'tran van hung', 'accepted', "
    f"1, 5005, {_AT}, {_AT})",
    "INSERT INTO outbox (id, dedupe_key, chat_id, is_group, method, payload, status, due_at, attempts, created_at) "
    f"VALUES (1, 'remind:1', 5005, false, 'sendMessage', '{{\"text\": \"Nhắc hạn\"}}', 'pending', {_AT}, 0, {_AT})",
    "INSERT INTO outbox (id, dedupe_key, chat_id, is_group, method, payload, status, due_at, attempts, created_at) "
    f"VALUES (2, 'publish:1', -1001234567890, true, 'sendMessage', '{{\"text\": \"Câu chuyện\"}}', 'sent', {_AT}, 1, "
    f"{_AT})",
]


async def _execute(url: str, statements: list[str]) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _rows(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(query))).all()]
    finally:
        await engine.dispose()


async def test_telegram_and_zalo_ids_become_identities_and_come_back_on_downgrade(db_url: str) -> None:
    await migrate._run_in_transaction(db_url, migrate._alembic_command("upgrade", "0004"))
    await _execute(db_url, _ROWS_AT_0004)

    await migrate.upgrade_to_head(db_url)

    identities = await _rows(
        db_url, "SELECT account_id, channel, external_id, address FROM channel_identity ORDER BY account_id"
    )
    assert identities[:2] == [(1, "telegram", "5005", 5005), (2, "telegram", "9001", 9001)]
    account_id, channel, external_id, address = identities[2]
    assert (account_id, channel, external_id) == (3, "zalo", "5e1b9c2a7d4f0e3b8a61")
    assert address >= 2**53  # never a Telegram id
    assert await _rows(db_url, "SELECT id, account_id FROM invitation") == [(1, 1)]
    assert await _rows(db_url, "SELECT dedupe_key, account_id, channel, chat_id FROM outbox ORDER BY id") == [
        ("remind:1", 1, "telegram", 5005),
        ("publish:1", None, "telegram", -1001234567890),
    ]
    assert await _rows(db_url, "SELECT id, display_name, role FROM account ORDER BY id") == [
        (1, "Trần Văn Hùng", "citizen"),
        (2, "Phạm Thu Hoà", "organiser"),
        (3, "Lê Thị Mai", "citizen"),
    ]

    await migrate.downgrade(db_url, "0004")

    assert await _rows(db_url, "SELECT id, telegram_user_id, zalo_user_id FROM account ORDER BY id") == [
        (1, 5005, None),
        (2, 9001, None),
        (3, None, "5e1b9c2a7d4f0e3b8a61"),
    ]
    assert await _rows(db_url, "SELECT id, account_id, chat_id FROM invitation") == [(1, 1, 5005)]
    assert await _rows(db_url, "SELECT dedupe_key, chat_id FROM outbox ORDER BY id") == [
        ("remind:1", 5005),
        ("publish:1", -1001234567890),
    ]
    assert "channel_identity" not in await _run_sync(db_url, _table_names)


async def test_stored_files_migration_goes_down_and_up_keeping_other_data(db_url: str) -> None:
    """0006 adds stored_file alone: down to the revision before it drops only that table, up brings it back."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    before = script.get_revision("0006").down_revision
    assert isinstance(before, str)
    await migrate.upgrade_to_head(db_url)
    engine = create_async_engine(db_url, poolclass=pool.NullPool)
    try:
        at = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
        async with engine.begin() as connection:
            # Through the models' tables, so each backend gets its own types (asyncpg wants datetimes).
            await connection.execute(
                insert(Account).values(id=7, display_name="Lan", role="citizen", created_at=at, updated_at=at)
            )
            await connection.execute(
                insert(StoredFileRecord).values(
                    purpose="evidence",
                    owner_account_id=7,
                    filename="a.png",
                    content_type="image/png",
                    size=3,
                    sha256="0" * 64,
                    data=b"png",
                    token_hash="1" * 64,
                    created_at=at,
                )
            )

        await migrate.downgrade(db_url, before)
        assert "stored_file" not in await _run_sync(db_url, _table_names)
        async with engine.connect() as connection:
            assert (
                await connection.execute(text("SELECT display_name FROM account WHERE id = 7"))
            ).scalar_one() == "Lan"

        await migrate.upgrade_to_head(db_url)
        assert "stored_file" in await _run_sync(db_url, _table_names)
        assert await _run_sync(db_url, _schema_diff) == []
    finally:
        await engine.dispose()


# --- 0007: typed codes for the links that exist already --------------------------------------------------

LINK_SECRET = b"the-secret-of-this-database"
NOW = dt.datetime(2020, 2, 10, 3, 0, tzinfo=dt.UTC)
REVISION = "0007"
OLD_CHECKIN_CODE = "ABCL-UVWX"  # the form before 0007, with letters the new alphabet lacks


def _before() -> str:
    revision = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(REVISION)
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


async def _run(url: str, fn: Any) -> Any:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


def _tables(connection: Connection) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(connection)
    return dict(metadata.tables)


def _seed(connection: Connection) -> None:
    """What the previous version left: an invitation not yet answered, one accepted with its check-in pass
    (a code of the old form), a unit link and a nomination's share link with random tokens."""
    tables = _tables(connection)
    stamps = {"created_at": NOW, "updated_at": NOW}
    rows: list[tuple[str, dict[str, Any]]] = [
        ("account", {"id": 1, "display_name": "Phạm Thu Hoà", "role": "organiser", **stamps}),
        (
            "org_unit",
            {"id": 1, "code": "buoi", "name": "Phường Bưởi", "name_fold": "phuong buoi", "kind": "ward", **stamps},
        ),
        (
            "campaign",
            {"id": 1, "code": "tay-ho-2020", "title": "Tây Hồ 2020", "code_prefix": "DH", "movements": [], **stamps},
        ),
        (
            "conference",
            {
                "id": 1,
                "campaign_id": 1,
                "code": "district",
                "level": "district",
                "title": "HN",
                "status": "open",
                **stamps,
            },
        ),
        (
            "nomination",
            {
                "id": 1,
                "campaign_id": 1,
                "nominator_id": 1,
                "source": "citizen",
                "status": "submitted",
                "code": "DH-2020-0001",
                "share_token_hash": token_hash("a-random-share-token"),
                **stamps,
            },
        ),
        ("unit_link", {"id": 1, "unit_id": 1, "token_hash": token_hash("a-random-unit-token"), "created_at": NOW}),
    ]
    for invitation_id, status in ((1, "pending"), (2, "accepted")):
        values = {
            "id": invitation_id,
            "conference_id": 1,
            "pool_code": "exemplar",
            "import_key": f"person {invitation_id}",
            "full_name": f"Đại biểu {invitation_id}",
            "name_fold": f"dai bieu {invitation_id}",
            "status": status,
            "link_nonce": f"link-nonce-{invitation_id}",
            "token_hash": links.derive(LINK_SECRET, links.INVITATION, invitation_id, f"link-nonce-{invitation_id}")[1],
            **stamps,
        }
        if status == "accepted":
            values |= {
                "checkin_nonce": "checkin-nonce",
                "checkin_token_hash": links.derive(LINK_SECRET, links.CHECK_IN, invitation_id, "checkin-nonce")[1],
                "checkin_code": OLD_CHECKIN_CODE,
            }
        rows.append(("invitation", values))
    for name, values in rows:
        connection.execute(tables[name].insert().values(**values))


def _state(connection: Connection) -> dict[str, Any]:
    tables = _tables(connection)
    invitations = select(tables["invitation"]).order_by(tables["invitation"].c.id)
    state: dict[str, Any] = {"invitations": [dict(row) for row in connection.execute(invitations).mappings()]}
    state["unit_link"] = dict(connection.execute(select(tables["unit_link"])).mappings().one())
    state["nomination"] = dict(connection.execute(select(tables["nomination"])).mappings().one())
    if "link_code" in tables:
        state["codes"] = {
            (row.kind, row.record_id): row.code_hash for row in connection.execute(select(tables["link_code"]))
        }
    state["columns"] = {
        name: {column["name"] for column in inspect(connection).get_columns(name)}
        for name in ("unit_link", "nomination")
    }
    return state


def _code_hash(kind: str, record_id: int, nonce: str) -> str:
    return lookup_hash(LINK_SECRET, derive_code(LINK_SECRET, kind, record_id, nonce))


async def test_existing_links_get_their_codes_and_keep_their_tokens_and_the_downgrade_removes_the_codes(
    db_url: str,
) -> None:
    await migrate.upgrade(db_url, _before())
    await _run(db_url, _seed)
    before = await _run(db_url, _state)

    await migrate.upgrade(db_url, REVISION, link_secret=LINK_SECRET)
    after = await _run(db_url, _state)

    unit_nonce = after["unit_link"]["link_nonce"]
    share_nonce = after["nomination"]["share_nonce"]
    assert unit_nonce and share_nonce
    assert after["codes"] == {
        ("inv", 1): _code_hash("inv", 1, "link-nonce-1"),
        ("inv", 2): _code_hash("inv", 2, "link-nonce-2"),
        ("chk", 2): _code_hash("chk", 2, "checkin-nonce"),
        ("unit", 1): _code_hash("unit", 1, unit_nonce),
        ("end", 1): _code_hash("end", 1, share_nonce),
    }
    # Every link handed out still works: tokens and nonces as they were.
    for old, new in zip(before["invitations"], after["invitations"], strict=True):
        assert {key: new[key] for key in old if key != "checkin_code"} == {
            key: value for key, value in old.items() if key != "checkin_code"
        }
    assert after["unit_link"]["token_hash"] == before["unit_link"]["token_hash"]
    assert after["nomination"]["share_token_hash"] == before["nomination"]["share_token_hash"]
    # The check-in code is now the check-in link's typed code, shown as before in two groups.
    assert before["invitations"][1]["checkin_code"] == OLD_CHECKIN_CODE
    assert after["invitations"][1]["checkin_code"] == format_code(derive_code(LINK_SECRET, "chk", 2, "checkin-nonce"))
    assert after["invitations"][0]["checkin_code"] is None

    await migrate.downgrade(db_url, _before())
    down = await _run(db_url, _state)

    assert "codes" not in down
    assert "link_nonce" not in down["columns"]["unit_link"] and "share_nonce" not in down["columns"]["nomination"]
    assert down["unit_link"]["token_hash"] == before["unit_link"]["token_hash"]
    assert down["nomination"]["share_token_hash"] == before["nomination"]["share_token_hash"]
    assert down["invitations"] == after["invitations"]  # the previous version reads the new check-in codes too


async def test_a_database_without_links_needs_no_secret(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_secret(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the link secret was read for a database without links")

    monkeypatch.setattr("bot.settings.load_settings", no_secret)
    await migrate.upgrade(db_url, _before())

    await migrate.upgrade(db_url, REVISION)

    assert await migrate.current_revision(db_url) == REVISION


# --- 0008: a check-in code for every invitation ------------------------------------------------------------


def _seed_0008(connection: Connection) -> None:
    """Two delegates accepted before 0008: one over the phone, who never opened her link (no code), and
    one who accepted himself (his pass gave him a code), plus one not answered yet."""
    _seed(connection)
    tables = _tables(connection)
    connection.execute(
        tables["invitation"]
        .update()
        .where(tables["invitation"].c.id == 1)
        .values(status="accepted")  # accepted by an organiser with /override: no code before 0008
    )
    connection.execute(
        tables["invitation"]
        .insert()
        .values(
            id=3,
            conference_id=1,
            pool_code="exemplar",
            import_key="person 3",
            full_name="Đại biểu 3",
            name_fold="dai bieu 3",
            status="pending",
            link_nonce="link-nonce-3",
            created_at=NOW,
            updated_at=NOW,
        )
    )


async def test_every_invitation_without_a_check_in_code_gets_one_and_the_others_keep_theirs(db_url: str) -> None:
    await migrate.upgrade(db_url, "0007", link_secret=LINK_SECRET)
    await _run(db_url, _seed_0008)
    before = await _run(db_url, _state)
    assert before["invitations"][0]["checkin_code"] is None

    await migrate.upgrade(db_url, "0008", link_secret=LINK_SECRET)
    after = await _run(db_url, _state)

    for old, new in zip(before["invitations"], after["invitations"], strict=True):
        if old["checkin_nonce"] is not None:  # the code a delegate was shown stays
            assert {key: new[key] for key in old} == old
            continue
        nonce = new["checkin_nonce"]
        assert nonce and new["checkin_code"] == format_code(derive_code(LINK_SECRET, "chk", new["id"], nonce))
        assert new["checkin_token_hash"] == links.derive(LINK_SECRET, links.CHECK_IN, new["id"], nonce)[1]
        # Typed at /checkin, the code is found through the code table like every other code.
        assert after["codes"][("chk", new["id"])] == _code_hash("chk", new["id"], nonce)
    assert len({row["checkin_code"] for row in after["invitations"]}) == 3

    await migrate.downgrade(db_url, "0007")
    assert (await _run(db_url, _state))["invitations"] == after["invitations"]  # 0007 reads them as they are


# --- 0011: the audit chain ------------------------------------------------------------------------------

_AUDIT_AT_0010 = [
    "INSERT INTO account (id, display_name, role, created_at, updated_at) "
    f"VALUES (2, 'Phạm Thu Hoà', 'organiser', {_AT}, {_AT})",
    "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail) "
    f"VALUES ({_AT}, 2, 'role.grant', 'account', '2', '{{\"role\": \"organiser\"}}')",
    "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail) "
    "VALUES ('2020-05-01 10:30:00.250000+00:00', 2, 'nomination.approve', 'nomination', '5', "
    '\'{"reason": "Đủ tiêu chuẩn"}\')',
    "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail) "
    f"VALUES ({_AT}, NULL, 'status.export', 'conference', '1', '{{}}')",
]


async def test_existing_audit_entries_are_chained_in_order_and_the_downgrade_takes_the_chain_away(
    db_url: str,
) -> None:
    from rules import audit
    from storage.db import Database
    from storage.models import AuditEntry

    await migrate.upgrade(db_url, "0010")
    await _execute(db_url, _AUDIT_AT_0010)

    await migrate.upgrade(db_url, "0011")
    chain = await _rows(db_url, "SELECT id, seq, prev_hash, entry_hash FROM audit_log ORDER BY id")
    assert [(row[0], row[1]) for row in chain] == [(1, 1), (2, 2), (3, 3)]
    assert chain[1][2] == chain[0][3] and chain[2][2] == chain[1][3]
    assert await _rows(db_url, "SELECT seq, entry_hash FROM audit_chain_head") == [(3, chain[2][3])]
    database = Database(db_url)
    try:
        async with database.transaction() as db:
            verdict = await audit.verify(db)
            db.add(AuditEntry(actor_id=2, action="invitation.check_in", entity="invitation", entity_id="1"))
        async with database.transaction() as db:
            after = await audit.verify(db)
    finally:
        await database.dispose()
    assert verdict.problem is None and verdict.entries == 3
    assert after.problem is None and after.entries == 4  # the bot goes on from the migrated head

    await migrate.downgrade(db_url, "0010")
    assert await _rows(db_url, "SELECT id, actor_id, action FROM audit_log ORDER BY id") == [
        (1, 2, "role.grant"),
        (2, 2, "nomination.approve"),
        (3, None, "status.export"),
        (4, 2, "invitation.check_in"),
    ]
    columns = await _run(db_url, lambda c: {col["name"] for col in inspect(c).get_columns("audit_log")})
    assert "entry_hash" not in columns and "seq" not in columns
    assert "audit_chain_head" not in await _run(db_url, _table_names)


# --- 0012: personal-data requests and erasure -------------------------------------------------------------


async def test_privacy_migration_adds_the_request_queue_and_erasure_and_goes_down_keeping_accounts(
    db_url: str,
) -> None:
    await migrate.upgrade(db_url, "0011")
    await _execute(
        db_url,
        [
            "INSERT INTO account (id, display_name, role, created_at, updated_at) "
            f"VALUES (7, 'Nguyễn Thị Lan', 'citizen', {_AT}, {_AT})"
        ],
    )

    await migrate.upgrade(db_url, "0012")
    assert "privacy_request" in await _run(db_url, _table_names)
    assert await _rows(db_url, "SELECT id, display_name, erased_at FROM account") == [(7, "Nguyễn Thị Lan", None)]
    await _execute(
        db_url,
        [
            "INSERT INTO privacy_request (account_id, kind, detail, status, created_at, due_at) "
            f"VALUES (7, 'correct', 'Năm sinh ghi sai', 'open', {_AT}, {_AT})"
        ],
    )

    await migrate.downgrade(db_url, "0011")
    assert "privacy_request" not in await _run(db_url, _table_names)
    columns = await _run(db_url, lambda c: {col["name"] for col in inspect(c).get_columns("account")})
    assert "erased_at" not in columns
    assert await _rows(db_url, "SELECT id, display_name FROM account") == [(7, "Nguyễn Thị Lan")]


# --- 0013: English titles of plan data -----------------------------------------------------------------


async def test_english_titles_migration_adds_the_columns_and_goes_down_keeping_the_titles(db_url: str) -> None:
    await migrate.upgrade(db_url, "0012")
    await _execute(
        db_url,
        [
            "INSERT INTO campaign (id, code, title, code_prefix, movements, created_at, updated_at) "
            f"VALUES (1, 'tay-ho-2020', 'Kế hoạch', 'DH', '[]', {_AT}, {_AT})",
            "INSERT INTO conference (id, campaign_id, code, level, title, status, created_at, updated_at) "
            f"VALUES (1, 1, 'district', 'district', 'Hội nghị Điển hình tiên tiến', 'open', {_AT}, {_AT})",
            "INSERT INTO seat_pool (id, conference_id, code, title, share, share_rule) "
            "VALUES (1, 1, 'exemplar', 'Đại biểu điển hình tiên tiến', 0.7, 'min')",
        ],
    )

    await migrate.upgrade(db_url, "0013")
    assert await _rows(db_url, "SELECT title, title_en FROM conference") == [("Hội nghị Điển hình tiên tiến", None)]
    await _execute(db_url, ["UPDATE seat_pool SET title_en = 'Exemplars'"])
    assert await _rows(db_url, "SELECT title, title_en FROM seat_pool") == [
        ("Đại biểu điển hình tiên tiến", "Exemplars")
    ]

    await migrate.downgrade(db_url, "0012")
    for table in ("conference", "seat_pool"):
        columns = await _run(db_url, lambda c, table=table: {col["name"] for col in inspect(c).get_columns(table)})
        assert "title_en" not in columns and "title" in columns
    assert await _rows(db_url, "SELECT title FROM seat_pool") == [("Đại biểu điển hình tiên tiến",)]


# --- 0014: the balance index of /status -----------------------------------------------------------------


def _invitation_indexes(connection: Connection) -> dict[str, list[str]]:
    return {index["name"]: list(index["column_names"]) for index in inspect(connection).get_indexes("invitation")}


async def test_the_balance_index_comes_with_0014_and_goes_on_downgrade_keeping_the_invitations(db_url: str) -> None:
    await migrate.upgrade(db_url, "0013")
    await _execute(
        db_url,
        [
            "INSERT INTO campaign (id, code, title, code_prefix, movements, created_at, updated_at) "
            f"VALUES (1, 'tay-ho-2020', 'Tây Hồ 2020', 'DH', '[]', {_AT}, {_AT})",
            "INSERT INTO conference (id, campaign_id, code, level, title, status, created_at, updated_at) "
            f"VALUES (1, 1, 'district', 'district', 'Hội nghị quận', 'open', {_AT}, {_AT})",
            "INSERT INTO invitation (id, conference_id, pool_code, import_key, full_name, name_fold, status, gender, "
            "birth_year, religion, created_at, updated_at) VALUES (1, 1, 'exemplar', 'k1', 'Trần Thị Lan', "
            f"'tran thi lan', 'accepted', 'nu', 1995, 'phat_giao', {_AT}, {_AT})",
        ],
    )
    assert "ix_invitation_balance" not in await _run(db_url, _invitation_indexes)

    await migrate.upgrade(db_url, "0014")
    # The migration makes the index the models declare, column for column (a migration keeps its own copy).
    [declared] = [index for index in Invitation.__table__.indexes if index.name == "ix_invitation_balance"]
    assert (await _run(db_url, _invitation_indexes))["ix_invitation_balance"] == [c.name for c in declared.columns]

    await migrate.downgrade(db_url, "0013")
    indexes = await _run(db_url, _invitation_indexes)
    assert "ix_invitation_balance" not in indexes
    assert "ix_invitation_seat_counts" in indexes
    assert await _rows(db_url, "SELECT id, gender, birth_year, religion FROM invitation") == [
        (1, "nu", 1995, "phat_giao")
    ]


# --- 0015: the nomination tally counts the nominations already there ---------------------------------------


async def test_the_nomination_tally_counts_what_is_there_and_goes_away_on_downgrade(db_url: str) -> None:
    await migrate._run_in_transaction(db_url, migrate._alembic_command("upgrade", "0014"))
    at = dt.datetime(2020, 5, 1, 2, tzinfo=dt.UTC)
    engine = create_async_engine(db_url, poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Account).values(id=7, display_name="Lan", role="focal_point", created_at=at, updated_at=at)
            )
            await connection.execute(insert(Campaign).values(id=1, code="c", title="Kế hoạch", created_at=at))
            await connection.execute(
                insert(Conference).values(id=3, campaign_id=1, code="d", level="district", title="Hội nghị")
            )
            sent = {"submitted_at": at, "created_at": at, "updated_at": at}
            rows = [
                {"status": "submitted", "source": "focal_point", **sent},
                {"status": "submitted", "source": "focal_point", **sent},
                {"status": "draft", "source": "citizen", "submitted_at": None, "created_at": at, "updated_at": at},
            ]
            await connection.execute(
                insert(Nomination),
                [{"campaign_id": 1, "conference_id": 3, "nominator_id": 7, "draft_editing": False, **r} for r in rows],
            )

        await migrate.upgrade_to_head(db_url)
        query = "SELECT conference_id, unit_key, source, status, nominations, submitted FROM nomination_tally"
        assert sorted(await _rows(db_url, query)) == [
            (3, 0, "citizen", "draft", 1, 0),
            (3, 0, "focal_point", "submitted", 2, 2),
        ]
        # The triggers are armed: a nomination decided after the upgrade moves in the tally.
        await _execute(db_url, ["UPDATE nomination SET status = 'approved' WHERE source = 'citizen'"])
        assert sorted(await _rows(db_url, query + " WHERE nominations <> 0")) == [
            (3, 0, "citizen", "approved", 1, 0),
            (3, 0, "focal_point", "submitted", 2, 2),
        ]

        await migrate.downgrade(db_url, "0014")
        assert "nomination_tally" not in await _run_sync(db_url, _table_names)
        # No trigger is left to write to a table that is gone.
        await _execute(db_url, ["UPDATE nomination SET status = 'rejected' WHERE source = 'citizen'"])
        await migrate.upgrade_to_head(db_url)
        assert sorted(await _rows(db_url, query + " WHERE nominations <> 0")) == [
            (3, 0, "citizen", "rejected", 1, 0),
            (3, 0, "focal_point", "submitted", 2, 2),
        ]
    finally:
        await engine.dispose()
