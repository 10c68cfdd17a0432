"""Waiting in async tests for something the hub does on its own schedule."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def until(what: str, check: Callable[[], T], timeout: float = 10.0, every: float = 0.1) -> T:
    """Call `check` every `every` seconds until it returns something true, and return that; fail after
    `timeout` seconds, naming `what` was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
