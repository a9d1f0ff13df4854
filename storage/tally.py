"""The nomination tally: how many nominations each conference has, by unit, source and status, kept by the
database itself.

/status shows every unit's progress, which is a count of the conference's nominations by unit, source and
status. Counted from the nominations, that is a scan of all of them: 30 ms for 70,000 on PostgreSQL on the
reference machine, the largest part of a /status (issue 11, item 5). ``nomination_tally`` holds the same
figures, one row per (conference, unit, source, status), and triggers on ``nomination`` change them in the
same transaction as the row they count, whoever writes it (the bot, a migration, an import, a cascade):
the tally is as exact as a count, and ``tests/test_nomination_tally.py`` and the fuzzer's invariants
compare it with one.

- ``unit_key`` is the unit's id, or 0 for a nomination without a unit: a key column cannot be NULL and
  still meet its row in ``ON CONFLICT``.
- ``submitted`` counts the nominations that were sent at some point (``submitted_at`` set), as /status's
  "received".
- A nomination without a conference is in no conference's figures and so in no row.
- Rows that fall to zero stay (a few hundred per conference at most); readers skip them.

SQLite gets row triggers that run only when a counted column changes. PostgreSQL gets statement triggers
over the transition tables: one upsert per statement whatever the number of rows, its rows in key order so
that two transactions lock the tally's rows in the same order, and none at all when the statement changed
no counted column (the old and new rows cancel out), as when a draft's answer is saved.

Installed with the tables (``Base.metadata``'s ``after_create``) and by migration 0015.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

TABLE = "nomination_tally"
KEY = "conference_id, unit_key, source, status"

# --- SQLite: row triggers ------------------------------------------------------------------------------


def _sqlite_add(row: str, sign: str) -> str:
    """Add (sign "+") or take away (sign "-") one nomination, ``row`` being NEW or OLD."""
    return f"""
    INSERT INTO {TABLE} ({KEY}, nominations, submitted)
    SELECT {row}.conference_id, coalesce({row}.unit_id, 0), {row}.source, {row}.status,
           {sign}1, {sign}({row}.submitted_at IS NOT NULL)
    WHERE {row}.conference_id IS NOT NULL
    ON CONFLICT ({KEY}) DO UPDATE
    SET nominations = nominations + excluded.nominations, submitted = submitted + excluded.submitted;"""


_COUNTED_CHANGED = (
    "OLD.conference_id IS NOT NEW.conference_id OR OLD.unit_id IS NOT NEW.unit_id"
    " OR OLD.source IS NOT NEW.source OR OLD.status IS NOT NEW.status"
    " OR (OLD.submitted_at IS NULL) <> (NEW.submitted_at IS NULL)"
)

SQLITE_INSTALL: tuple[str, ...] = (
    f"CREATE TRIGGER nomination_tally_insert AFTER INSERT ON nomination BEGIN{_sqlite_add('NEW', '+')}\nEND",
    f"CREATE TRIGGER nomination_tally_delete AFTER DELETE ON nomination BEGIN{_sqlite_add('OLD', '-')}\nEND",
    "CREATE TRIGGER nomination_tally_update"
    " AFTER UPDATE OF conference_id, unit_id, source, status, submitted_at ON nomination"
    f" WHEN {_COUNTED_CHANGED}\nBEGIN{_sqlite_add('OLD', '-')}{_sqlite_add('NEW', '+')}\nEND",
)
SQLITE_DROP: tuple[str, ...] = (
    "DROP TRIGGER IF EXISTS nomination_tally_update",
    "DROP TRIGGER IF EXISTS nomination_tally_delete",
    "DROP TRIGGER IF EXISTS nomination_tally_insert",
)

# --- PostgreSQL: statement triggers over the transition tables -----------------------------------------


def _pg_rows(table: str, sign: str) -> str:
    return (
        f"SELECT conference_id, coalesce(unit_id, 0) AS unit_key, source, status, {sign}1 AS nominations,"
        f" {sign}(submitted_at IS NOT NULL)::integer AS submitted FROM {table} WHERE conference_id IS NOT NULL"
    )


_PG_UPSERT = f"""
    INSERT INTO {TABLE} AS tally ({KEY}, nominations, submitted)
    SELECT {KEY}, sum(nominations), sum(submitted) FROM (%s) AS changes
    GROUP BY {KEY}
    HAVING sum(nominations) <> 0 OR sum(submitted) <> 0
    ORDER BY {KEY}
    ON CONFLICT ({KEY}) DO UPDATE
    SET nominations = tally.nominations + excluded.nominations, submitted = tally.submitted + excluded.submitted;"""

POSTGRESQL_INSTALL: tuple[str, ...] = (
    f"""CREATE FUNCTION nomination_tally_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN{_PG_UPSERT % _pg_rows("new_rows", "+")}
  ELSIF TG_OP = 'DELETE' THEN{_PG_UPSERT % _pg_rows("old_rows", "-")}
  ELSE{_PG_UPSERT % (_pg_rows("new_rows", "+") + " UNION ALL " + _pg_rows("old_rows", "-"))}
  END IF;
  RETURN NULL;
END
$$""",
    "CREATE TRIGGER nomination_tally_insert AFTER INSERT ON nomination REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION nomination_tally_apply()",
    "CREATE TRIGGER nomination_tally_delete AFTER DELETE ON nomination REFERENCING OLD TABLE AS old_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION nomination_tally_apply()",
    "CREATE TRIGGER nomination_tally_update AFTER UPDATE ON nomination"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION nomination_tally_apply()",
)
POSTGRESQL_DROP: tuple[str, ...] = (
    "DROP TRIGGER IF EXISTS nomination_tally_update ON nomination",
    "DROP TRIGGER IF EXISTS nomination_tally_delete ON nomination",
    "DROP TRIGGER IF EXISTS nomination_tally_insert ON nomination",
    "DROP FUNCTION IF EXISTS nomination_tally_apply()",
)

# The tally of the nominations already there (a migration, or a table filled before the triggers).
RECOUNT = (
    f"INSERT INTO {TABLE} ({KEY}, nominations, submitted)"
    " SELECT conference_id, coalesce(unit_id, 0), source, status, count(*), count(submitted_at)"
    f" FROM nomination WHERE conference_id IS NOT NULL GROUP BY conference_id, coalesce(unit_id, 0), source, status"
)


def install_statements(dialect: str) -> Sequence[str]:
    return POSTGRESQL_INSTALL if dialect == "postgresql" else SQLITE_INSTALL


def drop_statements(dialect: str) -> Sequence[str]:
    return POSTGRESQL_DROP if dialect == "postgresql" else SQLITE_DROP


def install(target: Any, connection: Any, **_: Any) -> None:
    """``Base.metadata``'s after_create: the triggers, once every table exists (tally and nomination alike)."""
    if not connection.dialect.has_table(connection, TABLE) or _installed(connection):
        return
    for statement in install_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)


def _installed(connection: Any) -> bool:
    if connection.dialect.name == "postgresql":
        query = "SELECT 1 FROM pg_trigger WHERE tgname = 'nomination_tally_insert'"
    else:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'nomination_tally_insert'"
    return connection.exec_driver_sql(query).first() is not None


def drop(target: Any, connection: Any, **_: Any) -> None:
    """``Base.metadata``'s after_drop: on PostgreSQL the triggers' function outlives the tables."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS nomination_tally_apply()")


# --- reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TallyRow:
    unit_id: int | None
    source: str
    status: str
    nominations: int
    submitted: int


_TALLY = text(
    f"SELECT unit_key, source, status, nominations, submitted FROM {TABLE}"
    " WHERE conference_id = :conference_id AND (nominations <> 0 OR submitted <> 0)"
)


async def conference_tally(session: AsyncSession, conference_id: int) -> list[TallyRow]:
    """The conference's nominations by unit (None: none named), source and status, from the tally."""
    rows = await session.execute(_TALLY, {"conference_id": conference_id})
    return [TallyRow(unit or None, source, status, n, sent) for unit, source, status, n, sent in rows.all()]


# Each key's count from the nominations and from the tally side by side (UNION ALL rather than a FULL JOIN,
# which SQLite has only since 3.39), where they differ.
_MISMATCHES = text(
    f"SELECT {KEY}, sum(counted), sum(tallied), sum(counted_submitted), sum(tallied_submitted) FROM ("
    " SELECT conference_id, coalesce(unit_id, 0) AS unit_key, source, status, count(*) AS counted, 0 AS tallied,"
    " count(submitted_at) AS counted_submitted, 0 AS tallied_submitted FROM nomination"
    " WHERE conference_id IS NOT NULL GROUP BY conference_id, coalesce(unit_id, 0), source, status"
    f" UNION ALL SELECT {KEY}, 0, nominations, 0, submitted FROM {TABLE}"
    f") AS both_sides GROUP BY {KEY}"
    " HAVING sum(counted) <> sum(tallied) OR sum(counted_submitted) <> sum(tallied_submitted)"
    f" ORDER BY {KEY}"
)


async def mismatches(session: AsyncSession) -> list[tuple[Any, ...]]:
    """Where the tally and a count of the nominations disagree: (conference, unit key, source, status,
    counted, tallied, counted submitted, tallied submitted). Empty when the triggers did their work."""
    return [tuple(row) for row in (await session.execute(_MISMATCHES)).all()]
