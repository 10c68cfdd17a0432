"""Every host's poll on its interval: one asyncio task a host, sleeping until its next slot.

APScheduler ran the polls until issue 15: at 2,000 hosts its own wake-ups and
job bookkeeping (datetimes, locks, a future and a log record per run) were
~8 % of a worker's CPU (py-spy, docs/benchmarks.md). The rules are the ones it
was given: the first run a stable stagger after scheduling, then every
interval on the same grid; never two runs of one host at once (a run that
overruns its slot moves the next to the next free slot of the grid: late
runs coalesce, none is made up); removing or rescheduling a host never cancels
a poll in flight (it finishes, then that loop ends); `stop()` cancels all.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PollSchedule:
    """`run(host_id)` for each scheduled host every interval seconds (the event loop's monotonic clock)."""

    def __init__(self, run: Callable[[str], Awaitable[object]]) -> None:
        self._run = run
        self._tasks: dict[str, asyncio.Task] = {}
        self._running: set[asyncio.Task] = set()  # the loops whose poll is in flight right now

    def __contains__(self, host_id: str) -> bool:
        return host_id in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)

    def schedule(self, host_id: str, interval_s: float, first_in_s: float) -> None:
        """(Re)schedule a host: its first run `first_in_s` from now, then every `interval_s`."""
        self.unschedule(host_id)
        self._tasks[host_id] = asyncio.get_running_loop().create_task(
            self._every(host_id, interval_s, first_in_s), name=f"poll:{host_id}")

    def unschedule(self, host_id: str) -> None:
        task = self._tasks.pop(host_id, None)
        if task is not None and task not in self._running:
            task.cancel()  # asleep between runs; a poll in flight finishes and its loop then ends

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _every(self, host_id: str, interval_s: float, first_in_s: float) -> None:
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        assert me is not None
        due = loop.time() + first_in_s
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            if self._tasks.get(host_id) is not me:
                return
            self._running.add(me)
            try:
                await self._run(host_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a poll records its own failures; anything else is a bug worth a traceback
                log.exception("poll of %s failed", host_id)
            finally:
                self._running.discard(me)
            if self._tasks.get(host_id) is not me:
                return
            due += interval_s
            late = loop.time() - due
            if late > 0:  # overran: the next free slot on the same grid
                due += math.ceil(late / interval_s) * interval_s
