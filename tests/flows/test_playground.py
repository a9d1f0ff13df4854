"""`make demo` scripted through piped input: the real bot answers in the terminal."""

from __future__ import annotations

import io

import pytest

from bot.playground import terminal


@pytest.mark.sqlite_only
async def test_piped_session_shows_the_vietnamese_then_the_english_welcome(tmp_path):
    out = io.StringIO()

    status = await terminal.run(stdin=io.StringIO("/start\n/lang\n2\n/start\n"), out=out, directory=tmp_path)

    text = out.getvalue()
    assert status == 0
    vietnamese = text.index("🤖 Xin chào Lan!")
    choices = text.index("   [1] Tiếng Việt\n   [2] English")
    english = text.index("🤖 Hello Lan!")
    assert vietnamese < choices < english
    assert "Traceback" not in text


@pytest.mark.sqlite_only
async def test_personas_buttons_and_mistakes(tmp_path):
    script = ":as hoa\n/help\n:press 1\n:as nobody\n:photo /no/such/file.jpg\n:as lan\n/lang\n:press 2\n:quit\n"
    out = io.StringIO()

    await terminal.run(stdin=io.StringIO(script), out=out, directory=tmp_path)

    text = out.getvalue()
    assert "(bây giờ bạn là Hoà)" in text
    assert "/outbox" in text  # the organiser's help
    assert "(sân thử: không có nút nào để bấm; vui lòng gõ câu trả lời)" in text
    assert "(không có người “nobody”" in text
    assert "(sân thử: không có tệp /no/such/file.jpg; :help để xem các lệnh)" in text
    assert "🤖 Done: I will use English from now on." in text


NOMINATE_AND_APPROVE = """/nominate
2
1
Nguyễn Văn Bình
1
1978
2
công nhân
Tổ trưởng tổ dân phố số 5
phuong buoi
bỏ qua
1
văn minh đô thị
Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, trồng 300 cây xanh và giúp 12 hộ nghèo thoát nghèo.
xong
1
gửi
:as hoa
/review
1
:as lan
/mine
"""


@pytest.mark.sqlite_only
async def test_a_citizen_nominates_an_organiser_approves_and_the_citizen_hears(tmp_path):
    out = io.StringIO()

    await terminal.run(stdin=io.StringIO(NOMINATE_AND_APPROVE), out=out, directory=tmp_path)

    text = out.getvalue()
    assert "🤖 Đã gửi. Mã đề cử của bạn là DH-" in text
    assert "🤖 Đã duyệt DH-" in text
    assert "Đã được duyệt" in text.split("Lan> /mine", 1)[1]
    assert "đã được duyệt. Cảm ơn bạn đã giới thiệu gương điển hình." in text  # the outbox reached Lan
    assert "Traceback" not in text and "hệ thống gặp sự cố" not in text


ZALO_NOMINATION = (
    ":channel zalo\n/nominate\n2\n1\nNguyễn Văn Bình\n1\n1978\n1\ntay\nkhong\ncông nhân\n"
    "Tổ trưởng tổ dân phố số 5\nphuong buoi\n0912 345 678\n1\nvăn minh đô thị\n"
    "Mười năm liền vận động bà con giữ vệ sinh ngõ xóm, lập tổ tự quản môi trường, trồng 300 cây xanh.\n"
    "xong\n:press 1\n1\n1\n:who\n:channel telegram\n/mine\n"
)


async def test_a_nomination_typed_on_zalo_in_the_terminal_without_buttons(tmp_path):
    out = io.StringIO()

    status = await terminal.run(stdin=io.StringIO(ZALO_NOMINATION), out=out, directory=tmp_path, channel="telegram")

    shown = out.getvalue()
    assert status == 0
    zalo_part = shown[shown.index("Lan (Zalo)> /nominate") : shown.index("Lan> /mine")]
    # Menus are text with their hint; not one button line.
    assert "   1. Cá nhân\n   2. Tập thể\n   \n   Trả lời 1 hoặc 2." in zalo_part
    assert "[1]" not in zalo_part
    assert "(Zalo không có nút: hãy gõ số hoặc tên câu trả lời)" in zalo_part
    assert "Đã gửi. Mã đề cử của bạn là DH-" in zalo_part
    assert " * lan   Nguyễn Thị Lan — người dân — trên Zalo" in zalo_part
    assert "một tài khoản Zalo cùng tên, cùng vai trò: đó là một tài khoản riêng" in zalo_part
    # The organiser is told by the outbox, on Telegram and (her twin) on Zalo, while the session goes on.
    assert "🤖 → Hoà Đề cử mới DH-" in shown
    assert "🤖 → Hoà (Zalo) Đề cử mới DH-" in shown
    # Back on Telegram, Lan is another account: the Zalo twin's nomination is not hers.
    assert "Bạn chưa gửi đề cử nào" in shown[shown.index("Lan> /mine") :]


@pytest.mark.sqlite_only
async def test_the_playground_speaks_vietnamese_in_its_own_lines(tmp_path):
    out = io.StringIO()

    await terminal.run(
        stdin=io.StringIO(":who\n:as hung\n:channel zalo\n:restart\n:help\n"), out=out, directory=tmp_path
    )

    text = out.getvalue()
    # Before: "Playground commands:", "(now you are Lan; try /start)", "— on Telegram", "(bot restarted)".
    assert "Lệnh của sân thử:\n  :as TÊN           đổi người (lan, minh, hoa, hung)" in text
    assert "(bây giờ bạn là Lan; hãy thử /start)" in text
    assert "(Hùng được mời dự hội nghị cấp quận: gõ `:as hung`, rồi `:link` hoặc /start inv_" in text
    assert " * lan   Nguyễn Thị Lan — người dân — trên Telegram" in text
    assert "   hung  Lê Văn Hùng — đại biểu được mời — trên Telegram" in text
    assert "(bây giờ bạn là Hùng (Zalo), tài khoản Zalo: một tài khoản riêng)" in text
    assert "(bot đã khởi động lại)" in text
    for english in ("Playground commands", "now you are", "on Telegram", "bot restarted", "is invited"):
        assert english not in text


KEPT_NOMINATION = NOMINATE_AND_APPROVE.split(":as hoa")[0]


@pytest.mark.sqlite_only
async def test_keep_goes_on_with_the_database_of_last_time(tmp_path):
    first = io.StringIO()
    await terminal.run(stdin=io.StringIO(KEPT_NOMINATION), out=first, directory=tmp_path)
    sent = first.getvalue()
    code = sent[sent.index("Mã đề cử của bạn là DH-") :].split()[5].rstrip(".")
    link = sent[sent.index("/start inv_") :].split(")")[0]

    again = io.StringIO()
    status = await terminal.run(keep=True, stdin=io.StringIO("/mine\n:as hung\n:link\n"), out=again, directory=tmp_path)

    text = again.getvalue()
    assert status == 0
    assert "Traceback" not in text and "AssertionError" not in text
    assert "(giữ nguyên cơ sở dữ liệu của lần trước:" in text
    assert code in text.split("Lan> /mine", 1)[1]  # Lan's nomination of last time is still hers
    assert link in text  # the same invitation, opened again by Hùng
    assert "Lê Văn Hùng" in text.split("Hùng> :link", 1)[1]

    fresh = io.StringIO()
    await terminal.run(stdin=io.StringIO("/mine\n"), out=fresh, directory=tmp_path)
    assert "Bạn chưa gửi đề cử nào" in fresh.getvalue()  # without --keep, a new database


@pytest.mark.sqlite_only
async def test_a_second_playground_neither_shares_nor_deletes_the_running_ones_files(tmp_path):
    running = terminal._hold(tmp_path)  # the first playground, still running
    assert running is not None
    database = tmp_path / "playground.sqlite3"
    database.write_bytes(b"the running playground's data")
    out = io.StringIO()
    try:
        status = await terminal.run(stdin=io.StringIO("/start\n"), out=out, directory=tmp_path)
        kept = await terminal.run(keep=True, stdin=io.StringIO("/start\n"), out=out, directory=tmp_path)
    finally:
        running.close()

    assert status == kept == 1
    assert out.getvalue().count("Một sân thử khác đang chạy trong") == 2
    assert "Xin chào" not in out.getvalue()
    assert database.read_bytes() == b"the running playground's data"
    # Once the first has closed, a playground starts again in that folder.
    after = io.StringIO()
    assert await terminal.run(stdin=io.StringIO("/start\n"), out=after, directory=tmp_path) == 0
    assert "🤖 Xin chào Lan!" in after.getvalue()
