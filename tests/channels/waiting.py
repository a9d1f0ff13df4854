"""Waiting for what another task does, without measuring time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# A guard against a hang, not a measurement: nothing here should take more than a fraction of it.
GIVE_UP_SECONDS = 10.0


async def eventually(condition: Callable[[], bool]) -> None:
    """Let the event loop run until ``condition()`` holds; fail when it still does not after a long while."""
    async with asyncio.timeout(GIVE_UP_SECONDS):
        for _ in iter(condition, True):
            await asyncio.sleep(0.01)
