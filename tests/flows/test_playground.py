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
    assert "(now you are Hoà)" in text
    assert "/outbox" in text  # the organiser's help
    assert "(playground: no buttons to press" in text
    assert "(no person 'nobody'" in text
    assert "(playground: [Errno 2]" in text
    assert "🤖 Done: I will use English from now on." in text
