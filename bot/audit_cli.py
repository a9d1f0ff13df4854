"""``dienhinh audit verify [--expect-head HASH]`` and ``dienhinh audit export [--format csv|jsonl] [--out FILE]``.

``verify`` walks the audit chain (``rules.audit.verify``) and says the first entry changed, removed or
inserted out of order, with exit status 1; 0 when the chain is intact (and holds the head hash a digest
showed, with ``--expect-head``). ``export`` writes every entry with its hashes for an inspector, who can
check them without the bot (the format is in ``storage.audit_chain``); the export is itself audited.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TextIO

from bot.i18n import N_, Translator
from bot.settings import Settings
from rules import audit
from rules.audit import EntryRef, Finding, Problem, Verdict
from rules.roles import OPERATOR
from storage.migrate import OutOfDateDatabase

PROBLEM_EXIT = 1

_FINDINGS = {
    Finding.CHANGED: N_("Entry {entry} was changed: its content no longer gives the hash it carries."),
    Finding.DETAIL_CHANGED: N_(
        "The details of entry {entry} were changed: they no longer give the hash the chain holds."
    ),
    Finding.BROKEN_LINK: N_(
        "Entry {entry} does not follow entry {previous}: an entry between them was removed, or entry {previous} was changed and its hash recomputed."
    ),
    Finding.REMOVED: N_("Entries {first}–{last} were removed (the chain goes from entry {previous} to entry {entry})."),
    Finding.INSERTED: N_(
        "Entry {entry} was inserted out of order: it was written after entry {previous}, which follows it in the chain."
    ),
    Finding.OUTSIDE: N_("A row was inserted outside the chain: {entry}."),
    Finding.ERASED_UNRECORDED: N_("The details of entry {entry} were blanked without an erasure entry saying so."),
    Finding.CUT_OFF: N_(
        "Entries {first}–{last} were removed from the end of the trail (the chain's head records {last} entries)."
    ),
    Finding.BEYOND_HEAD: N_(
        "Entries {first}–{last} were added outside the bot: the chain's head records {head} entries."
    ),
    Finding.HEAD_CHANGED: N_("The last entry, {entry}, or the chain's head was changed: they do not agree."),
    Finding.NOT_FOUND: N_(
        "No entry has the head hash {expected} that the digest showed: the trail was rewritten after the digest went out (or the hash is mistyped)."
    ),
}


def _entry(t: Translator, ref: EntryRef | None) -> str:
    if ref is None:
        return "—"
    values = {
        "seq": ref.seq if ref.seq is not None else "—",
        "id": ref.id,
        "at": t.datetime(ref.at),
        "action": ref.action,
        "record": f"{ref.entity} {ref.entity_id}" if ref.entity_id else ref.entity,
    }
    return t("no. {seq} (row id {id}, {at}, {action}, {record})", **values)


def problem_text(t: Translator, problem: Problem, expected: str | None) -> str:
    """What went wrong, in the operator's language."""
    first, last = problem.first_missing, problem.last_missing
    msgid = _FINDINGS[problem.finding]
    if problem.finding is Finding.REMOVED and first == last:
        msgid = N_("Entry no. {first} was removed (the chain goes from entry {previous} to entry {entry}).")
    return t(
        msgid,
        entry=_entry(t, problem.entry),
        previous=_entry(t, problem.previous),
        first=first if first is not None else "—",
        last=last if last is not None else "—",
        head=(first or 1) - 1,
        expected=expected or "",
    )


def verdict_text(t: Translator, verdict: Verdict, expected: str | None) -> str:
    if verdict.problem is not None:
        return "\n".join(
            [
                problem_text(t, verdict.problem, expected),
                t("The audit trail is NOT intact. Entries checked before the problem: {count}.", count=verdict.entries),
            ]
        )
    if verdict.head is None:
        return t("The audit trail is empty.")
    lines = [
        t(
            "The audit trail is intact: {count} entries, head {head}.",
            count=t.number(verdict.entries),
            head=verdict.head.short,
        )
    ]
    if verdict.erased:
        lines.append(t("Details erased (recorded): {count} entries.", count=t.number(verdict.erased)))
    if expected and verdict.expected_at is not None:
        lines.append(
            t(
                "The digest's head {expected} is entry no. {seq}: the trail up to it is unchanged.",
                expected=expected,
                seq=verdict.expected_at,
            )
        )
    return "\n".join(lines)


async def _verify(settings: Settings, expected: str | None) -> Verdict:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.cli import _prepare_database
    from storage.db import Database

    await _prepare_database(settings)
    database = Database(settings.database_url)
    try:
        async with database.engine.connect() as connection:
            if database.dialect == "postgresql":
                # One snapshot for the walk and the head: the bot appending meanwhile is not a cut-off end.
                # (SQLite's transaction takes the write lock: writers wait the walk out, ~0.08 ms an entry.)
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with AsyncSession(bind=connection, expire_on_commit=False) as db, db.begin():
                return await audit.verify(db, expect_head=expected)
    finally:
        await database.dispose()


def cmd_verify(settings: Settings, t: Translator, expect_head: str | None) -> int:
    expected = None
    if expect_head is not None:
        expected = audit.normal_hash(expect_head)
        if expected is None:
            print(t("--expect-head takes the head hash a digest shows (at least 8 hex characters)."), file=sys.stderr)
            return 2
    try:
        verdict = asyncio.run(_verify(settings, expected))
    except OutOfDateDatabase as problem:
        return _out_of_date(t, problem)
    print(verdict_text(t, verdict, expected))
    return PROBLEM_EXIT if verdict.problem is not None else 0


async def _export(settings: Settings, form: str, out: TextIO) -> int:
    from bot.cli import _prepare_database
    from storage.db import Database

    await _prepare_database(settings)
    database = Database(settings.database_url)
    rows = 0
    writer = csv.DictWriter(out, fieldnames=audit.EXPORT_FIELDS) if form == "csv" else None
    if writer is not None:
        writer.writeheader()
    try:
        async with database.transaction() as db:
            async for entry in audit.chained_entries(db):
                row = audit.export_row(entry)
                if writer is not None:
                    writer.writerow({**row, "detail": json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)})
                else:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows += 1
            audit.record_export(db, actor_id=OPERATOR, now=dt.datetime.now(dt.UTC), rows=rows, form=form)
    finally:
        await database.dispose()
    return rows


def _out_of_date(t: Translator, problem: Exception) -> int:
    print(t("The database is not up to date: {problem}", problem=problem), file=sys.stderr)
    return 2


def cmd_export(settings: Settings, t: Translator, form: str, out: Path | None) -> int:
    try:
        if out is None:
            asyncio.run(_export(settings, form, sys.stdout))
            return 0
        with out.open("w", encoding="utf-8", newline="") as handle:
            rows = asyncio.run(_export(settings, form, handle))
    except OutOfDateDatabase as problem:
        return _out_of_date(t, problem)
    except OSError as problem:
        print(t("The file {path} cannot be written: {problem}", path=out, problem=problem.strerror), file=sys.stderr)
        return 2
    print(t("Wrote {count} audit entries with their hashes to {path}.", count=rows, path=out))
    return 0
