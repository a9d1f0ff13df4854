"""What every benchmark shares: its error, where results go, the database it runs on, the JSON, ``main``."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import sys
import tempfile
import warnings
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy
import telegram
from sqlalchemy.engine import make_url
from telegram.warnings import PTBUserWarning

RESULTS_DIR = Path(__file__).resolve().parent / "results"

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class Aim:
    """One aim of issue 11 as measured: ``python -m bench`` gathers each module's ``aims(result)`` into the
    closing table, so every figure is printed with "ok" or its gap beside the database it ran on."""

    figure: str
    aim: str
    measured: str
    met: bool
    gap: str = ""
    database: str = ""

    def verdict(self) -> str:
        return "ok" if self.met else f"gap {self.gap}".strip()


class BenchError(Exception):
    """A benchmark could not measure what it claims (wrong or missing replies, nothing sent, …): it fails
    rather than report a figure."""


def quiet() -> None:
    """Only warnings and errors from the libraries; no PTB advice about ConversationHandler settings."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=PTBUserWarning)


def asyncpg_url(url: str) -> str:
    """``postgresql://…`` as the asyncpg driver's URL, so a plain server URL can be passed on the command line."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


@contextmanager
def database_url(given: str | None, prefix: str, file_name: str) -> Iterator[str]:
    """``given``, or else a fresh SQLite file in a temporary directory that is removed afterwards."""
    if given:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        yield f"sqlite+aiosqlite:///{directory}/{file_name}"


def describe_database(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "sqlite (fresh file in a temporary directory)"
    return parsed.render_as_string(hide_password=True)


def machine() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python_telegram_bot": telegram.__version__,
        "sqlalchemy": sqlalchemy.__version__,
    }


def write_json(result: dict[str, Any], json_path: Path | None, file_name: str) -> None:
    """Write ``result`` to ``json_path`` (default: ``file_name`` in bench/results/) and note where in it."""
    path = json_path or RESULTS_DIR / file_name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    result["json_path"] = str(path)


def main(
    argv: Sequence[str] | None,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    options_from: Callable[[argparse.Namespace], OptionsT],
    run: Callable[[OptionsT], Coroutine[Any, Any, dict[str, Any]]],
    report: Callable[[dict[str, Any]], str],
    *,
    name: str,
    description: str,
    ok: Callable[[dict[str, Any]], bool] = lambda result: True,
) -> int:
    """One benchmark from the command line: 0 when it measured and ``ok`` accepts the figures, else 1."""
    parser = argparse.ArgumentParser(prog=f"python -m bench.{name}", description=description)
    add_arguments(parser)
    options = options_from(parser.parse_args(argv))
    quiet()
    try:
        result = asyncio.run(run(options))
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    print(report(result))
    return 0 if ok(result) else 1
