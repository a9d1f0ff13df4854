"""No English in Vietnamese mode: every catalog message, every CLI output, the playground's lines.

What people see in chats is checked by every test that runs a playground, when it stops (``tests/vi_check.py``,
tried in ``tests/flows/test_english_check_flow.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest
from babel.messages.pofile import read_po

from bot import cli
from bot.i18n import LOCALES_DIR, load_catalogs
from bot.playground import terminal
from rules.plans import SEED_PLAN
from tests.english import POT, english_in, english_words, leaks, typed_words


class _Dummy:
    """A placeholder's value: a number, which any format spec takes and no word list holds."""

    def __format__(self, spec: str) -> str:
        return format(7, spec) if spec else "7"


class _Values(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return _Dummy()


def _catalog_texts() -> list[tuple[str, str]]:
    vi = load_catalogs(LOCALES_DIR)["vi"]
    with POT.open("rb") as handle:
        catalog = read_po(handle)
    texts = []
    for message in catalog:
        if not message.id:
            continue
        where = ", ".join(f"{path}:{line}" for path, line in message.locations[:2])
        if isinstance(message.id, tuple | list):
            singular, plural = (str(i) for i in message.id)
            for n in (1, 7):
                texts.append((vi.ngettext(singular, plural, n).format_map(_Values()), f"{singular!r} ({where})"))
        else:
            texts.append((vi.gettext(str(message.id)).format_map(_Values()), f"{message.id!r} ({where})"))
    return texts


def test_every_catalog_message_reads_in_vietnamese():
    texts = _catalog_texts()
    assert len(texts) > 1000
    # The command line's own help names its commands (import: …, verify: …), as they are typed.
    command_line = [(text, where) for text, where in texts if "bot/cli.py" in where]
    found = leaks([item for item in texts if item not in command_line], limit=1000)
    found += leaks(command_line, also_allowed=_command_line_words())
    assert not found, "\n".join(map(str, found))


def test_the_word_list_holds_the_msgids_english_and_not_what_is_typed():
    words = english_words()
    assert len(words) > 500
    assert {"nomination", "please", "review", "waiting"} <= words
    assert english_in("Vui lòng chọn: Waiting for review") == ["Waiting", "for", "review"]
    # Commands and their arguments, codes, links, files, acronyms and Vietnamese syllables are not English.
    typed = "Gõ /status DH units, /invite all, mã DH-2020-0001 tại https://t.me/x?start=the_end, tệp thu-moi.xlsx"
    assert english_in(typed + " in danh sách UBND, mã QR, Công an, do đó") == []


NOW = dt.datetime(2020, 3, 1, 3, 0, tzinfo=dt.UTC)


def _cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as finished:  # argparse's --help and usage errors
        return int(finished.code or 0)


@pytest.mark.sqlite_only
async def test_every_command_line_output_reads_in_vietnamese(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3")
    monkeypatch.setenv("LINK_SECRET", "cli-test-secret")
    monkeypatch.setattr(cli, "clock", lambda: NOW)
    guests = tmp_path / "khach.csv"
    guests.write_text("Họ và tên,Năm sinh,Giới tính,Đơn vị\nNguyễn Văn An,1968,Nam,Phường Bưởi\n,1970,Nữ,\n", "utf-8")
    outputs: list[tuple[str, str]] = []

    async def run(*argv: str) -> int:
        status = await asyncio.to_thread(_cli, list(argv))
        captured = capsys.readouterr()
        outputs.append((captured.out + captured.err, f"dienhinh {' '.join(argv)} (exit {status})"))
        return status

    assert await run("--help") == 0
    for command in ("run", "demo", "db", "plan", "invitations", "audit", "privacy"):
        assert await run(command, "--help") == 0
    assert await run("db", "sideways") == 2
    assert await run("plan") == 2
    assert await run("db", "status") == 2  # no schema yet
    assert await run("db", "upgrade") == 0
    assert await run("db", "status") == 0
    assert await run("plan", "load", str(SEED_PLAN)) == 0
    assert await run("privacy", "purge", "--dry-run") == 0
    assert await run("audit", "verify") == 0
    assert await run("audit", "verify", "--expect-head", "zz") == 2
    assert await run("invitations", "import") == 2
    assert await run("invitations", "import", "missing.xlsx") == 2
    assert await run("invitations", "import", str(guests), "--conference", "nope") == 2
    assert await run("invitations", "import", str(guests), "--conference", "district") == 0
    assert await run("invitations", "print") == 2
    monkeypatch.setenv("DEFAULT_LOCALE", "fr")
    assert await run("db", "status") == 2

    assert all(text.strip() for text, _ in outputs), outputs
    found = leaks(outputs, also_allowed=_command_line_words())
    assert not found, "\n".join(map(str, found))


def _command_line_words() -> frozenset[str]:
    """What an operator types: the commands, their actions and the values of their options."""
    words: set[str] = set()
    parsers = [cli.build_parser(cli._translator(None))]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            words.update(str(choice) for choice in action.choices or ())
            if isinstance(action.choices, dict):
                parsers.extend(action.choices.values())
    return typed_words(" ".join(words))


@pytest.mark.sqlite_only
async def test_a_plan_file_problem_reads_in_vietnamese(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3")
    broken = tmp_path / "broken.yaml"
    broken.write_text(SEED_PLAN.read_text("utf-8").replace("capacity: 300", "capacity: ba trăm"), "utf-8")

    assert await asyncio.to_thread(_cli, ["plan", "load", str(broken)]) == 2
    refusal = capsys.readouterr().err
    assert await asyncio.to_thread(_cli, ["plan", "load", "missing.yaml"]) == 2
    missing = capsys.readouterr().err

    found = leaks([(refusal, "plan load broken.yaml"), (missing, "plan load missing.yaml")])
    assert not found, "\n".join(map(str, found))


@pytest.mark.sqlite_only
async def test_the_playground_banner_help_and_status_lines_read_in_vietnamese(tmp_path):
    out = io.StringIO()
    script = ":who\n:help\n:press 1\n:press 9\n/start\n:press 9\n:as nobody\n:channel fax\n:channel zalo\n:press\n"
    script += ":doc /no/such/file.xlsx\n:restart\n:as hoa\n/help\n:quit\n"

    assert await terminal.run(stdin=io.StringIO(script), out=out, directory=tmp_path) == 0

    # What people typed is echoed with their name ("Lan> :press 9"): those lines are not the bot's.
    lines = [line for line in out.getvalue().splitlines() if "> " not in line[:20]]
    found = leaks([(line, "the playground") for line in lines], also_allowed=typed_words(script))
    assert not found, "\n".join(map(str, found))
