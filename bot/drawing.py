"""Pictures drawn in a process of their own: the /status chart (``rules.charts.draw``) off the event loop.

A thread would take the chart off the loop but not off the GIL: while it draws, every wake-up of the loop
waits for the interpreter lock, and /status with its chart took twice as long as the two parts alone. One
worker process (started with ``spawn``, so nothing of this process's threads or connections is copied) has
an interpreter of its own; the arguments and the PNG cross as pickles (a few kilobytes). It is started on
first use, or ahead of time with :meth:`Drawer.start` (the application does at start-up), and drawings
wait their turn in it one after the other. The worker ends when the bot ends, even when the bot is killed
(it watches for its parent to go). If the process cannot be started or dies, the drawing is done
in a thread instead, and the next one tries a new process; if the process fails otherwise (it cannot start:
like every ``spawn`` process, it imports the program's ``__main__`` module, which must keep its start under
``if __name__ == "__main__"``; every entry point of this project does), the thread draws from then on.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

logger = logging.getLogger(__name__)
T = TypeVar("T")
PARENT_CHECK_SECONDS = 0.5  # how soon a worker whose bot was killed ends


def _ready() -> bool:
    return True


def _serve(bot: int) -> None:
    """The worker's start: it leaves Ctrl-C to the bot, and ends as soon as the bot is gone."""
    # Ctrl-C reaches the whole process group: the bot stops, and stopping ends this process; without this,
    # the worker would also print a KeyboardInterrupt traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with, args=(bot,), name="end-with-the-bot", daemon=True).start()


def _end_with(bot: int) -> None:
    # A bot killed with SIGKILL (a crash, a standby's takeover test) cannot stop its pool: without this the
    # worker would wait for work forever, holding the bot's stderr open.
    while os.getppid() == bot:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


class Drawer:
    """Runs picklable drawing functions in one worker process (a thread when there is no process)."""

    def __init__(self, name: str, warm_up: Callable[[], Any] | None = None) -> None:
        self.name = name
        self.warm_up = warm_up
        self._process: ProcessPoolExecutor | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._disabled = False

    def start(self) -> None:
        """Start the process now (and have it import what it draws with), without waiting for it."""
        pool = self._pool()
        if isinstance(pool, ProcessPoolExecutor):
            pool.submit(self.warm_up or _ready)

    def _pool(self) -> Executor:
        with self._lock:
            if self._disabled:
                return self._thread
            if self._process is None:
                try:
                    self._process = ProcessPoolExecutor(
                        max_workers=1,
                        mp_context=multiprocessing.get_context("spawn"),
                        initializer=_serve,
                        initargs=(os.getpid(),),
                    )
                except (OSError, ValueError) as error:  # no processes here: draw in the thread
                    logger.warning("%s: no worker process (%s); drawing in a thread", self.name, error)
                    return self._thread
            return self._process

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the worker process; in the thread if the process is gone."""
        loop = asyncio.get_running_loop()
        pool = self._pool()
        if pool is self._thread:
            return await loop.run_in_executor(pool, function, *args)
        try:
            return await loop.run_in_executor(pool, function, *args)
        except BrokenProcessPool:
            logger.warning("%s: the worker process died; drawing in a thread, a new process next time", self.name)
            with self._lock:
                if self._process is pool:
                    self._process = None
        except Exception:
            # Not the drawing's fault if the thread draws it (a process that cannot start, e.g. a __main__
            # module without its ``if __name__ == "__main__"`` guard): from now on, the thread draws.
            logger.warning("%s: the worker process failed; drawing in a thread from now on", self.name, exc_info=True)
            with self._lock:
                self._disabled = True
        return await loop.run_in_executor(self._thread, function, *args)

    def shutdown(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.shutdown(wait=False, cancel_futures=True)
