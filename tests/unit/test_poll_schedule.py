"""collector.poll_schedule: each host polled on its grid, never twice at once, removal never cuts a poll short."""
from __future__ import annotations

import asyncio
import logging

import pytest

from collector.poll_schedule import PollSchedule


class Recorder:
    def __init__(self, took: float = 0.0, fail_first: bool = False) -> None:
        self.took = took
        self.fail_first = fail_first
        self.starts: list[float] = []
        self.finished = 0
        self.running = 0
        self.most = 0

    async def __call__(self, host_id: str) -> None:
        self.starts.append(asyncio.get_running_loop().time())
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            if self.fail_first and len(self.starts) == 1:
                raise RuntimeError("boom")
            await asyncio.sleep(self.took)
            self.finished += 1
        finally:
            self.running -= 1


def test_runs_on_its_grid():
    async def main():
        rec = Recorder()
        polls = PollSchedule(rec)
        t0 = asyncio.get_running_loop().time()
        polls.schedule("a", 0.1, 0.02)
        await asyncio.sleep(0.55)
        await polls.stop()
        offsets = [t - t0 for t in rec.starts]
        assert offsets == pytest.approx([0.02, 0.12, 0.22, 0.32, 0.42, 0.52], abs=0.03)
    asyncio.run(main())


def test_an_overrunning_poll_is_never_doubled_and_the_next_takes_the_next_free_slot():
    async def main():
        rec = Recorder(took=0.25)
        polls = PollSchedule(rec)
        t0 = asyncio.get_running_loop().time()
        polls.schedule("a", 0.1, 0.0)
        await asyncio.sleep(0.85)
        await polls.stop()
        assert rec.most == 1
        offsets = [t - t0 for t in rec.starts]
        assert offsets == pytest.approx([0.0, 0.3, 0.6], abs=0.03)  # 0.1 and 0.2 coalesced, not made up
    asyncio.run(main())


def test_removing_a_host_lets_its_poll_in_flight_finish_and_stops_the_next():
    async def main():
        rec = Recorder(took=0.1)
        polls = PollSchedule(rec)
        polls.schedule("a", 0.05, 0.0)
        await asyncio.sleep(0.03)  # the first poll is in flight
        polls.unschedule("a")
        assert "a" not in polls
        await asyncio.sleep(0.3)
        assert (len(rec.starts), rec.finished) == (1, 1)
    asyncio.run(main())


def test_removing_a_sleeping_host_and_rescheduling_it():
    async def main():
        rec = Recorder()
        polls = PollSchedule(rec)
        t0 = asyncio.get_running_loop().time()
        polls.schedule("a", 0.1, 0.0)
        await asyncio.sleep(0.05)
        polls.schedule("a", 0.2, 0.1)  # a new interval: the old loop is cancelled between runs
        await asyncio.sleep(0.57)
        await polls.stop()
        assert rec.most == 1
        offsets = [t - t0 for t in rec.starts]
        assert offsets == pytest.approx([0.0, 0.15, 0.35, 0.55], abs=0.03), offsets  # the old 0.1 s loop is gone; the new one on its grid
    asyncio.run(main())


def test_stop_cancels_the_polls_in_flight():
    async def main():
        rec = Recorder(took=5.0)
        polls = PollSchedule(rec)
        for host in ("a", "b", "c"):
            polls.schedule(host, 1.0, 0.0)
        await asyncio.sleep(0.05)
        assert rec.running == 3
        await asyncio.wait_for(polls.stop(), 1.0)
        assert rec.running == 0 and rec.finished == 0 and len(polls) == 0
    asyncio.run(main())


def test_an_unexpected_error_is_logged_and_polling_goes_on(caplog):
    async def main():
        rec = Recorder(fail_first=True)
        polls = PollSchedule(rec)
        polls.schedule("a", 0.05, 0.0)
        await asyncio.sleep(0.18)
        await polls.stop()
        return rec
    with caplog.at_level(logging.ERROR, logger="collector.poll_schedule"):
        rec = asyncio.run(main())
    assert len(rec.starts) >= 3 and rec.finished >= 2
    assert [r.getMessage() for r in caplog.records] == ["poll of a failed"]
