"""`dienhinh invitations import FILE`: the row report in Vietnamese; --yes invites the good rows, once."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from bot import cli
from rules.plans import SEED_PLAN
from storage.db import Database
from storage.models import Invitation

NOW = dt.datetime(2020, 3, 1, 3, 0, tzinfo=dt.UTC)
ROWS = [
    ["STT", "Họ và tên", "Năm sinh", "Giới tính", "Đơn vị", "Chức vụ"],
    [1, "Nguyễn Văn An", 1968, "Nam", "Phường Bưởi", "Bí thư Đảng ủy phường"],
    [2, None, 1970, "Nữ", "Phường Bưởi", "Chủ tịch Hội Phụ nữ"],
    [3, "Trần Văn Cường", 1850, "Nam", "Phường Nhật Tân", ""],
    [4, "Lê Thị Dung", 1980, "Nữ", "Phường Không Có", ""],
    [5, "nguyễn văn an", 1968, "Nam", "buoi", ""],
    [6, "Phạm Thu Hà", 1990, "Nữ", "tu_lien", "Giám đốc"],
]


def _workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in ROWS:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


async def _run(*args: str) -> int:
    # cli.main runs its own event loop, as it does from the shell.
    return await asyncio.to_thread(cli.main, list(args))


async def _invited(url: str) -> list[str]:
    database = Database(url)
    async with database.transaction() as db:
        names = list((await db.scalars(select(Invitation.full_name).order_by(Invitation.id))).all())
    await database.dispose()
    return names


@pytest.fixture
def cli_database(monkeypatch, tmp_path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LINK_SECRET", "cli-test-secret")
    # 10:00 on 1/3/2020 in Hà Nội: both conferences of the seed plan still take guest lists.
    monkeypatch.setattr(cli, "clock", lambda: NOW)
    return url


@pytest.mark.sqlite_only
async def test_a_guest_list_is_checked_then_imported_with_yes_and_only_once(cli_database, tmp_path, capsys):
    file = _workbook(tmp_path / "khach-moi.xlsx")
    assert await _run("plan", "load", str(SEED_PLAN)) == 0
    capsys.readouterr()

    assert await _run("invitations", "import", str(file)) == 2
    several = capsys.readouterr().err.strip()
    assert several == "Có nhiều hội nghị đang nhận thư mời: grassroots, district. Vui lòng chọn bằng --conference MÃ."

    assert await _run("invitations", "import", str(file), "--conference", "district") == 0
    checked = capsys.readouterr().out
    assert "Danh sách khách mời “khach-moi.xlsx” cho Hội nghị Điển hình tiên tiến: đã đọc 6 dòng." in checked
    assert "Dòng 3: thiếu họ và tên." in checked
    assert "Dòng 4: năm sinh “1850” không hợp lệ" in checked
    assert "Dòng 5: kế hoạch không có đơn vị nào tên là “Phường Không Có”" in checked
    assert "Dòng 6: nguyễn văn an đã có ở dòng 2; dòng này được bỏ qua." in checked
    assert checked.strip().endswith("Chưa nhập gì. Để mời 2 người hợp lệ, vui lòng chạy lại lệnh với --yes.")
    assert await _invited(cli_database) == []

    assert await _run("invitations", "import", str(file), "--conference", "district", "--yes") == 0
    assert capsys.readouterr().out.strip().endswith("Đã tạo thư mời cho 2 người trong danh sách khách mời.")
    assert await _invited(cli_database) == ["Nguyễn Văn An", "Phạm Thu Hà"]

    assert await _run("invitations", "import", str(file), "--conference", "district", "--yes") == 0
    again = capsys.readouterr().out
    assert "Tệp này đã được nhập ngày" in again
    assert "ℹ️ Đã được mời, bỏ qua (2):" in again
    assert again.strip().endswith("Tệp này không có dòng nào nhập được. Vui lòng sửa tệp rồi chạy lại lệnh.")
    assert await _invited(cli_database) == ["Nguyễn Văn An", "Phạm Thu Hà"]


@pytest.mark.sqlite_only
async def test_an_unreadable_file_or_an_unknown_conference_ends_with_status_2(cli_database, tmp_path, capsys):
    assert await _run("plan", "load", str(SEED_PLAN)) == 0
    capsys.readouterr()
    garbage = tmp_path / "khach-moi.xlsx"
    garbage.write_bytes(b"PK\x03\x04 not a workbook")

    assert await _run("invitations", "import", str(garbage), "--conference", "district") == 2
    refusal = capsys.readouterr().err.strip().splitlines()
    assert refusal == [
        f"{garbage}: Xin lỗi, tôi không đọc được tệp này dưới dạng bảng tính. Vui lòng gửi tệp Excel (.xlsx) hoặc tệp CSV."
    ]
    assert await _run("invitations", "import", str(tmp_path / "missing.xlsx")) == 2
    assert capsys.readouterr().err.strip().startswith("Không")
    good = _workbook(tmp_path / "good.xlsx")
    assert await _run("invitations", "import", str(good), "--conference", "city") == 2
    assert capsys.readouterr().err.strip() == "Không có hội nghị city. Các hội nghị: grassroots, district."
    assert await _invited(cli_database) == []


@pytest.mark.sqlite_only
async def test_a_zip_bomb_is_refused_naming_the_limit(cli_database, tmp_path, capsys):
    from bench.hostile_spreadsheets import zip_bomb

    assert await _run("plan", "load", str(SEED_PLAN)) == 0
    capsys.readouterr()
    bomb = tmp_path / "khach-moi.xlsx"
    bomb.write_bytes(zip_bomb(30 * 1024 * 1024))

    assert await _run("invitations", "import", str(bomb), "--conference", "district", "--yes") == 2
    assert capsys.readouterr().err.strip() == (
        f"{bomb}: Khi giải nén, một thành phần của tệp có dung lượng 30.0 MB, vượt quá giới hạn 25 MB. "
        "Vui lòng chỉ gửi danh sách khách mời."
    )
    assert await _invited(cli_database) == []


@pytest.mark.sqlite_only
async def test_invitations_print_writes_a_pdf_per_unit_or_per_person_with_names_and_codes(
    cli_database, tmp_path, capsys
):
    import unicodedata

    from pypdf import PdfReader

    from rules.invitations import invitation_code

    file = _workbook(tmp_path / "khach-moi.xlsx")
    assert await _run("plan", "load", str(SEED_PLAN)) == 0
    assert await _run("invitations", "import", str(file), "--conference", "district", "--yes") == 0
    capsys.readouterr()

    assert await _run("invitations", "print", "--conference", "district") == 2
    assert capsys.readouterr().err.strip() == (
        "Vui lòng cho biết tên Telegram của bot bằng --bot TÊN: mã QR trên giấy mời mở bot này."
    )

    by_unit = tmp_path / "theo-don-vi"
    assert (
        await _run("invitations", "print", "--conference", "district", "--bot", "@dienhinh_bot", "--out", str(by_unit))
        == 0
    )
    said = capsys.readouterr().out.splitlines()
    assert said[0] == f"Đã ghi 2 tệp PDF giấy mời của 2 người vào thư mục {by_unit}:"
    assert sorted(path.name for path in by_unit.iterdir()) == [
        "Giấy mời – Phường Bưởi.pdf",
        "Giấy mời – Phường Tứ Liên.pdf",
    ]

    database = Database(cli_database)
    async with database.transaction() as db:
        invitations = {i.full_name: i for i in (await db.scalars(select(Invitation))).all()}
    await database.dispose()
    page = PdfReader(by_unit / "Giấy mời – Phường Bưởi.pdf").pages[0].extract_text()
    text = " ".join(unicodedata.normalize("NFC", page).split())
    assert "Kính gửi: Ông Nguyễn Văn An" in text
    assert f"Mã mời: {invitation_code(invitations['Nguyễn Văn An'], b'cli-test-secret')}" in text

    assert (
        await _run("invitations", "print", "--per", "person", "--conference", "district", "--bot", "dienhinh_bot") == 0
    )
    capsys.readouterr()
    assert sorted(path.name for path in (tmp_path / "giay-moi-district").iterdir()) == [
        "Giấy mời – Nguyễn Văn An.pdf",
        "Giấy mời – Phạm Thu Hà.pdf",
    ]


async def test_in_may_an_ended_conference_takes_no_guest_list(cli_database, tmp_path, capsys, monkeypatch):
    assert await _run("plan", "load", str(SEED_PLAN)) == 0
    capsys.readouterr()
    file = _workbook(tmp_path / "khach-moi.xlsx")
    monkeypatch.setattr(cli, "clock", lambda: dt.datetime(2020, 5, 20, 3, 0, tzinfo=dt.UTC))

    assert await _run("invitations", "import", str(file), "--conference", "grassroots", "--yes") == 2
    assert capsys.readouterr().err.strip() == (
        "Hội nghị tuyên dương điển hình tiên tiến, người tốt - việc tốt đã kết thúc ngày 14/3/2020, "
        "không nhận danh sách khách mời nữa."
    )
    assert await _invited(cli_database) == []
    # Without --conference the one still ahead is taken: there is nothing to choose between.
    assert await _run("invitations", "import", str(file)) == 0
    assert "cho Hội nghị Điển hình tiên tiến: đã đọc 6 dòng." in capsys.readouterr().out
