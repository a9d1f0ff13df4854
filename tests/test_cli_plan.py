"""`dienhinh plan load FILE`: the seed plan goes in; a broken one is refused whole, with the field named."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from bot import cli
from rules.plans import SEED_PLAN
from storage.db import Database
from storage.models import Conference, SeatPool


@pytest.mark.sqlite_only
async def test_plan_load_from_the_command_line(monkeypatch, tmp_path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    broken = tmp_path / "broken.yaml"
    shutil.copy(SEED_PLAN, broken)
    broken.write_text(broken.read_text(encoding="utf-8").replace("capacity: 300", "capacity: ba trăm"), "utf-8")

    # cli.main runs its own event loop, as it does from the shell.
    assert await _in_thread(cli.main, ["plan", "load", str(SEED_PLAN)]) == 0
    loaded = capsys.readouterr().out
    assert await _in_thread(cli.main, ["plan", "load", str(broken)]) == 2
    refusal = capsys.readouterr().err.strip().splitlines()

    assert loaded.startswith("Đã nạp kế hoạch:")
    assert len(refusal) == 1
    assert refusal[0].startswith("Chưa nạp được kế hoạch, dữ liệu không thay đổi.")
    assert "broken.yaml" in refusal[0] and "capacity" in refusal[0]
    database = Database(url)
    async with database.transaction() as db:
        capacity = await db.scalar(select(Conference.capacity).where(Conference.code == "district"))
        pools = await db.scalar(select(func.count()).select_from(SeatPool))
    await database.dispose()
    assert capacity == 300
    assert pools == 4


async def _in_thread(function, *args):
    import asyncio

    return await asyncio.to_thread(function, *args)
