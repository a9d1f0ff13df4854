"""bot.drawing: pictures drawn in a worker process, and still drawn when that process is gone."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.drawing import Drawer
from rules import charts

PROJECT = Path(__file__).resolve().parents[1]
GIVE_UP_SECONDS = 60.0


def _chart() -> charts.ChartData:
    bar = charts.Bar("Đại biểu điển hình tiên tiến", 0.5, 1.0, charts.FILLING, "105/210")
    return charts.ChartData("Hội nghị Điển hình tiên tiến", "Chỗ ngồi", (bar,), "Cơ cấu", (), "Chưa đặt mục tiêu.")


@pytest.fixture
def drawer():
    drawer = Drawer("test-chart", warm_up=charts.warm_up)
    try:
        yield drawer
    finally:
        drawer.shutdown()


async def test_a_chart_is_drawn_in_another_process_the_same_as_here(drawer):
    drawer.start()
    assert await drawer.run(os.getpid) != os.getpid()
    # Ctrl-C is the bot's to handle: the worker ignores it and is ended when the bot stops.
    assert await drawer.run(signal.getsignal, signal.SIGINT) == signal.SIG_IGN
    picture = await drawer.run(charts.draw, _chart())
    assert picture.startswith(charts.PNG_SIGNATURE)
    assert picture == charts.draw(_chart())


async def test_when_the_process_dies_the_chart_is_drawn_anyway_and_the_next_one_in_a_new_process(drawer):
    first = await drawer.run(os.getpid)
    os.kill(first, 9)

    # The drawing that finds the process dead is done in this process's thread.
    assert await drawer.run(charts.draw, _chart()) == charts.draw(_chart())
    second = await drawer.run(os.getpid)
    assert second not in (first, os.getpid())


class _Refusing:
    """A process pool whose process cannot start (as when a ``__main__`` module has no guard)."""

    submitted = 0

    def submit(self, *_args, **_kwargs):
        self.submitted += 1
        raise RuntimeError("An attempt has been made to start a new process before the current process has finished")

    def shutdown(self, **_kwargs) -> None:
        pass


async def test_a_process_that_cannot_start_leaves_every_drawing_to_the_thread(drawer):
    refusing = _Refusing()
    drawer._process = refusing

    assert await drawer.run(charts.draw, _chart()) == charts.draw(_chart())
    assert await drawer.run(os.getpid) == os.getpid()  # drawn here, in the thread
    assert refusing.submitted == 1  # the process is not tried again


KILLED_BOT = """
import asyncio, os, signal
from bot.drawing import Drawer

async def main():
    drawer = Drawer("test-chart")
    print(await drawer.run(os.getpid), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_worker_whose_bot_is_killed_ends_too_and_lets_go_of_the_bots_stderr():
    bot = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_BOT,
        cwd=PROJECT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert bot.stdout is not None and bot.stderr is not None
    # A guard against a hang, not a measurement.
    async with asyncio.timeout(GIVE_UP_SECONDS):
        worker = int((await bot.stdout.readline()).decode())
        assert await bot.wait() == -signal.SIGKILL
        # The worker inherited the bot's stderr: the pipe ends only once the worker has ended too.
        await bot.stderr.read()
    assert worker != bot.pid
