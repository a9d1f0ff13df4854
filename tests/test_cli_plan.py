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


TYPED_MISTAKES = [
    # (what the operator typed instead of what, the field and what the refusal must say, in Vietnamese)
    (
        "nomination_deadline: 2020-05-15T17:00:00+07:00",
        "nomination_deadline: 2027-02-29T17:00:00+07:00",
        "conferences[1].nomination_deadline: cần một ngày giờ có thật (2027-02-29T17:00:00+07:00: tháng này không có",
    ),
    ("rsvp_deadline: 2020-06-10T17:00:00+07:00", "rsvp_deadline: 2020-06-10T24:30:00+07:00", "giờ phải từ 0 đến 23"),
    ("valid_from: 1995-10-28", "valid_from: 1995-10-32", "units[0].valid_from: cần một ngày có thật"),
    ("capacity: 300", "capacity: 30000000000000000000", "conferences[1].capacity: cần một số nguyên từ 1 đến"),
    (
        "capacity: 300",
        "capacity: 300\n    capacity: 250",
        "conferences[1].capacity: cần mỗi khoá chỉ xuất hiện một lần",
    ),
    ("capacity: 300", "capacity: [300", "dòng 113: cần YAML hợp lệ"),
    ("code: tay-ho-2020", "- code: tay-ho-2020", "dòng "),
]


@pytest.mark.sqlite_only
async def test_every_typed_mistake_is_one_line_naming_the_field_and_changes_nothing(monkeypatch, tmp_path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    assert await _in_thread(cli.main, ["plan", "load", str(SEED_PLAN)]) == 0
    capsys.readouterr()
    seed = SEED_PLAN.read_text(encoding="utf-8")
    not_a_plan = tmp_path / "list.yaml"
    not_a_plan.write_text("- tay-ho-2020\n- 2027-02-29\n", encoding="utf-8")

    refusals: dict[str, list[str]] = {}
    for number, (old, new, problem) in enumerate(TYPED_MISTAKES):
        assert old in seed
        typed = tmp_path / f"typed-{number}.yaml"
        typed.write_text(seed.replace(old, new, 1), encoding="utf-8")
        assert await _in_thread(cli.main, ["plan", "load", str(typed)]) == 2, new
        refusals[problem] = capsys.readouterr().err.strip().splitlines()
    assert await _in_thread(cli.main, ["plan", "load", str(not_a_plan)]) == 2
    refusals["giá trị ở cấp ngoài cùng"] = capsys.readouterr().err.strip().splitlines()

    for problem, lines in refusals.items():
        assert len(lines) == 1, lines
        assert lines[0].startswith("Chưa nạp được kế hoạch, dữ liệu không thay đổi."), lines
        assert ".yaml: " in lines[0] and problem in lines[0], lines
    database = Database(url)
    async with database.transaction() as db:
        district = await db.scalar(select(Conference).where(Conference.code == "district"))
    await database.dispose()
    assert district is not None and district.capacity == 300
    assert district.nomination_deadline is not None and district.nomination_deadline.year == 2020


async def _in_thread(function, *args):
    import asyncio

    return await asyncio.to_thread(function, *args)


@pytest.mark.sqlite_only
async def test_plan_load_and_db_status_speak_vietnamese(monkeypatch, tmp_path, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)

    # Before: "campaign tay-ho-2020 (version …): created", "conference district: capacity 300; exemplar 210 seats".
    assert await _in_thread(cli.main, ["db", "status"]) == 2
    missing = capsys.readouterr().err
    assert await _in_thread(cli.main, ["plan", "load", str(SEED_PLAN)]) == 0
    loaded = capsys.readouterr().out
    assert await _in_thread(cli.main, ["plan", "load", str(SEED_PLAN)]) == 0
    again = capsys.readouterr().out
    assert await _in_thread(cli.main, ["db", "status"]) == 0
    status = capsys.readouterr().out

    assert missing.startswith("Cơ sở dữ liệu chưa được cập nhật: cơ sở dữ liệu chưa có cấu trúc (phiên bản: chưa có)")
    assert "hãy chạy: dienhinh db upgrade" in missing
    assert "đợt thi đua tay-ho-2020 (phiên bản " in loaded and "): tạo mới" in loaded
    assert (
        "  hội nghị district: tối đa 300 đại biểu; Đại biểu điển hình tiên tiến: 210 chỗ, "
        "Đại biểu khách mời và lãnh đạo các cấp, các ngành: 90 chỗ"
    ) in loaded
    assert "hội nghị grassroots: không giới hạn số chỗ; Đại biểu điển hình tiên tiến: chỉ theo tỉ lệ" in loaded
    assert "  đơn vị: " in loaded and " tạo mới, 0 cập nhật)" in loaded
    assert "): không thay đổi" in again
    assert status.startswith("Cơ sở dữ liệu đã ở phiên bản lược đồ hiện hành")
    for english in ("campaign", "version", "capacity", "seats", "units", "created", "updated", "schema yet", "run:"):
        assert english not in missing + loaded + again + status, english
