"""The audit trail as a hash chain: every entry written the normal way is linked; tampering directly in the
database (an edit, a deletion, an insertion, a cut end, a rewrite with every hash recomputed) is named by
``rules.audit.verify`` and by ``dienhinh audit verify``; erasure blanks details and keeps the chain; two
processes appending at once on PostgreSQL make one chain."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot import cli
from rules import audit
from rules.audit import Finding
from storage import migrate
from storage.audit_chain import GENESIS, digest_of
from storage.db import Database
from storage.models import AuditEntry

T0 = dt.datetime(2026, 3, 1, 1, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent
ACTIONS = [
    ("nomination.approve", "nomination", "5", {"reason": "Đủ tiêu chuẩn"}),
    ("role.grant", "account", "7", {"role": "reviewer"}),
    ("status.export", "conference", "1", {"rows": {"nominations": 3}, "sensitive_reason": "báo cáo cơ cấu"}),
    ("invitation.override", "invitation", "42", {"reason": "xác nhận qua điện thoại"}),
    ("invitation.check_in", "invitation", "42", {}),
    ("invitation.substitute.reject", "invitation", "43", {"reason": "Ông Nguyễn Văn A không thuộc đơn vị"}),
]


async def _write(database: Database, count: int = len(ACTIONS), start: int = 0) -> None:
    """``count`` entries, one transaction each, as the rules write them."""
    for index in range(start, start + count):
        action, entity, entity_id, detail = ACTIONS[index % len(ACTIONS)]
        async with database.transaction() as db:
            db.add(
                AuditEntry(
                    at=T0 + dt.timedelta(minutes=index),
                    actor_id=100 + index,
                    action=action,
                    entity=entity,
                    entity_id=entity_id,
                    detail=detail,
                )
            )


async def _verify(database: Database, expect_head: str | None = None) -> audit.Verdict:
    async with database.transaction() as db:
        return await audit.verify(db, expect_head=expect_head)


async def _found(database: Database, finding: Finding, expect_head: str | None = None) -> audit.Problem:
    """What verify names, which must be ``finding``."""
    problem = (await _verify(database, expect_head)).problem
    assert problem is not None and problem.finding is finding, problem
    return problem


async def _sql(database: Database, statement: str, **values: object) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text(statement), values)


async def test_entries_written_the_normal_way_are_linked_in_order(database: Database) -> None:
    await _write(database)
    async with database.transaction() as db:
        entries = list((await db.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())
        head = await audit.head(db)

    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.entry_hash for earlier, later in itertools.pairwise(entries))
    assert all(entry.entry_hash == digest_of(entry) for entry in entries)
    assert head == audit.Head(6, entries[-1].entry_hash or "")
    verdict = await _verify(database)
    assert verdict.problem is None and verdict.entries == 6 and verdict.head == head


async def test_several_entries_in_one_transaction_keep_the_order_they_were_added_in(database: Database) -> None:
    async with database.transaction() as db:
        for number in range(3):
            db.add(AuditEntry(at=T0, actor_id=None, action=f"step.{number}", entity="test", detail={}))
    async with database.transaction() as db:
        actions = list((await db.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all())
    assert actions == ["step.0", "step.1", "step.2"]
    assert (await _verify(database)).problem is None


async def test_an_entry_completed_later_in_its_own_transaction_stays_linked(database: Database) -> None:
    """As /conference does: the entry is flushed for its id, the delegates are told, then the count is added."""
    await _write(database, 2)
    async with database.transaction() as db:
        entry = AuditEntry(at=T0, actor_id=1, action="conference.arrangements", entity="conference", detail={})
        db.add(entry)
        await db.flush()
        db.add(AuditEntry(at=T0, actor_id=1, action="invitation.check_in", entity="invitation", detail={}))
        await db.flush()
        entry.detail = {**entry.detail, "told": 12}
    async with database.transaction() as db:
        stored = (await db.scalars(select(AuditEntry).where(AuditEntry.seq == 3))).one()

    assert stored.detail == {"told": 12}
    verdict = await _verify(database)
    assert verdict.problem is None and verdict.entries == 4


async def test_an_edited_action_names_the_entry(database: Database) -> None:
    await _write(database)
    await _sql(database, "UPDATE audit_log SET action = 'nomination.reject' WHERE seq = 1")

    problem = await _found(database, Finding.CHANGED)
    assert problem.entry is not None and problem.entry.seq == 1
    assert problem.entry.action == "nomination.reject"


async def test_an_edited_time_or_actor_names_the_entry(database: Database) -> None:
    await _write(database)
    async with database.transaction() as db:
        await db.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(actor_id=999))

    problem = await _found(database, Finding.CHANGED)
    assert problem.entry is not None and problem.entry.seq == 4


async def test_an_edited_detail_names_the_entry(database: Database) -> None:
    await _write(database)
    async with database.transaction() as db:
        await db.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(detail={"rows": {"nominations": 1}}))

    problem = await _found(database, Finding.DETAIL_CHANGED)
    assert problem.entry is not None and problem.entry.seq == 3


async def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(database: Database) -> None:
    await _write(database)
    async with database.transaction() as db:
        entry = (await db.scalars(select(AuditEntry).where(AuditEntry.seq == 2))).one()
        entry.action = "role.revoke"
        entry.entry_hash = digest_of(entry)

    problem = await _found(database, Finding.BROKEN_LINK)
    assert problem.entry is not None and problem.entry.seq == 3
    assert problem.previous is not None and problem.previous.seq == 2


async def test_a_deleted_entry_is_named(database: Database) -> None:
    await _write(database)
    await _sql(database, "DELETE FROM audit_log WHERE seq = 3")

    problem = await _found(database, Finding.REMOVED)
    assert (problem.first_missing, problem.last_missing) == (3, 3)
    assert problem.previous is not None and problem.previous.seq == 2
    assert problem.entry is not None and problem.entry.seq == 4


async def test_entries_cut_off_the_end_are_named_by_the_head(database: Database) -> None:
    await _write(database)
    await _sql(database, "DELETE FROM audit_log WHERE seq >= 5")

    problem = await _found(database, Finding.CUT_OFF)
    assert (problem.first_missing, problem.last_missing) == (5, 6)


async def test_a_row_inserted_without_a_place_in_the_chain_is_named(database: Database) -> None:
    await _write(database)
    await _sql(
        database,
        "INSERT INTO audit_log (at, actor_id, action, entity, entity_id, detail) "
        "VALUES (:at, 5, 'nomination.approve', 'nomination', '9', '{}')",
        at=T0,
    )

    problem = await _found(database, Finding.OUTSIDE)
    assert problem.entry is not None and problem.entry.entity_id == "9"


async def test_a_forged_entry_put_in_the_middle_with_correct_hashes_is_named(database: Database) -> None:
    """The forger knows the format: shifts the later entries up and links a new entry after entry 2."""
    await _write(database)
    async with database.transaction() as db:
        second = (await db.scalars(select(AuditEntry).where(AuditEntry.seq == 2))).one()
        later = list(await db.scalars(select(AuditEntry).where(AuditEntry.seq > 2).order_by(AuditEntry.seq.desc())))
        for entry in later:
            entry.seq = (entry.seq or 0) + 1
            await db.flush()
        await db.execute(text("UPDATE audit_chain_head SET seq = 100"))  # out of the bot hook's way
        forged = AuditEntry(
            at=T0, actor_id=1, action="nomination.approve", entity="nomination", entity_id="77", detail={}
        )
        db.add(forged)
        await db.flush()  # linked after the head by the bot's own hook: relink it where the forger wants it
        forged.seq, forged.prev_hash = 3, second.entry_hash
        forged.entry_hash = digest_of(forged)

    problem = await _found(database, Finding.INSERTED)
    assert problem.entry is not None
    assert (problem.entry.seq, problem.entry.entity_id) == (3, "77")


async def test_a_trail_rewritten_with_every_hash_recomputed_is_caught_by_the_digests_head(database: Database) -> None:
    await _write(database)
    async with database.transaction() as db:
        shown = await audit.head(db)  # what the digest carried
    assert shown is not None
    async with database.transaction() as db:
        entries = list((await db.scalars(select(AuditEntry).order_by(AuditEntry.seq))).all())
        entries[1].action = "role.revoke"
        previous = GENESIS
        for entry in entries:
            entry.prev_hash = previous
            entry.entry_hash = previous = digest_of(entry)
    await _sql(database, "UPDATE audit_chain_head SET entry_hash = :hash", hash=previous)

    assert (await _verify(database)).problem is None  # link by link, a full rewrite looks whole
    await _found(database, Finding.NOT_FOUND, expect_head=shown.short)
    assert (await _verify(database, expect_head=previous[:16])).expected_at == 6


async def test_erasure_blanks_details_and_keeps_the_chain(database: Database) -> None:
    await _write(database)
    async with database.transaction() as db:
        about_person = await audit.entries_about(db, records=[("invitation", "43")])
        assert [entry.seq for entry in await audit.entries_about(db, actor_id=101, records=[("invitation", "43")])] == [
            2,
            6,
        ]
        record = await audit.erase_details(db, about_person, actor_id=None, now=T0, reason="erasure_request")
    assert record is not None

    async with database.transaction() as db:
        blanked = (await db.scalars(select(AuditEntry).where(AuditEntry.seq == 6))).one()
    assert blanked.detail == {} and blanked.detail_salt is None and blanked.detail_erased_at is not None
    assert (blanked.actor_id, blanked.action, blanked.entity, blanked.entity_id) == (
        105,
        "invitation.substitute.reject",
        "invitation",
        "43",
    )
    verdict = await _verify(database)
    assert verdict.problem is None and verdict.entries == 7 and verdict.erased == 1


async def test_details_blanked_without_an_erasure_entry_are_named(database: Database) -> None:
    await _write(database)
    await _sql(database, "UPDATE audit_log SET detail = '{}', detail_salt = NULL WHERE seq = 4")

    problem = await _found(database, Finding.ERASED_UNRECORDED)
    assert problem.entry is not None and problem.entry.seq == 4

    # Details put back where erased ones were blank are no erasure at all.
    await _sql(database, """UPDATE audit_log SET detail = '{"reason": "khác"}' WHERE seq = 4""")
    problem = await _found(database, Finding.DETAIL_CHANGED)
    assert problem.entry is not None and problem.entry.seq == 4


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("DIENHINH_TEST_PG_URL"), reason="needs DIENHINH_TEST_PG_URL")
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_processes_appending_at_once_on_postgresql_make_one_chain(database: Database) -> None:
    """Two engines (two processes' pools) append 40 entries each at the same time: one chain, no place twice."""
    other = Database(database.url)

    async def append(target: Database, name: str) -> None:
        for number in range(40):
            async with target.transaction() as db:
                db.add(AuditEntry(at=T0, actor_id=None, action=f"{name}.{number}", entity="test", detail={}))
                await db.flush()
                await asyncio.sleep(0)  # the other process gets its turn while this one holds the chain

    try:
        await asyncio.gather(append(database, "a"), append(other, "b"), append(database, "c"), append(other, "d"))
    finally:
        await other.dispose()

    verdict = await _verify(database)
    assert verdict.problem is None and verdict.entries == 160
    async with database.transaction() as db:
        seqs = list((await db.scalars(select(AuditEntry.seq).order_by(AuditEntry.id))).all())
    assert seqs == list(range(1, 161))


_APPENDER = """
import asyncio, datetime as dt, sys
from storage.db import Database
from storage.models import AuditEntry

async def main(url, name):
    database = Database(url)
    async with database.transaction() as db:  # connected and imported: wait for the other one
        pass
    print("ready", flush=True)
    sys.stdin.readline()
    for number in range(100):
        async with database.transaction() as db:
            db.add(AuditEntry(actor_id=None, action=f"{name}.{number}", entity="test", detail={"n": number}))
    await database.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("DIENHINH_TEST_PG_URL"), reason="needs DIENHINH_TEST_PG_URL")
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_operating_system_processes_appending_on_postgresql_make_one_chain(database: Database) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _APPENDER,
            database.url,
            name,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        for name in ("first", "second")
    ]
    for process in processes:  # both ready, then both go
        assert process.stdout is not None and await process.stdout.readline() == b"ready\n"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    assert [await process.wait() for process in processes] == [0, 0]

    verdict = await _verify(database)
    assert verdict.problem is None and verdict.entries == 200
    async with database.transaction() as db:
        actions = list((await db.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all())
    assert sorted(actions) == sorted(f"{name}.{n}" for name in ("first", "second") for n in range(100))
    assert actions[:100] != [f"first.{n}" for n in range(100)]  # they did take turns


async def _in_thread(function, argv):  # type: ignore[no-untyped-def]
    return await asyncio.to_thread(function, argv)


async def test_audit_verify_and_export_from_the_command_line(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await migrate.upgrade_to_head(database_url)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    database = Database(database_url)
    try:
        await _write(database)
        async with database.transaction() as db:
            shown = await audit.head(db)
        assert shown is not None

        assert await _in_thread(cli.main, ["audit", "verify", "--expect-head", shown.short.upper()]) == 0
        intact = capsys.readouterr().out
        assert "Nhật ký kiểm tra còn nguyên vẹn: 6 mục" in intact
        assert "là mục số 6" in intact

        out = tmp_path / "audit.jsonl"
        assert await _in_thread(cli.main, ["audit", "export", "--out", str(out)]) == 0
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
        assert rows[-1]["entry_hash"] == shown.entry_hash and rows[2]["detail"]["sensitive_reason"] == "báo cáo cơ cấu"
        csv_out = tmp_path / "audit.csv"
        assert await _in_thread(cli.main, ["audit", "export", "--format", "csv", "--out", str(csv_out)]) == 0
        assert csv_out.read_text(encoding="utf-8").splitlines()[0].startswith("seq,id,at,actor_id,action")
        capsys.readouterr()

        await _sql(database, "DELETE FROM audit_log WHERE seq = 2")
        assert await _in_thread(cli.main, ["audit", "verify"]) == 1
        report = capsys.readouterr().out
        assert report.startswith("Mục số 2 đã bị xoá (chuỗi đi thẳng từ mục số 1 (mã dòng")
        assert "KHÔNG còn nguyên vẹn" in report
    finally:
        await database.dispose()
