"""Incremental rollups (collector.rollup_partial, Housekeeping.fill_rollups) against real SQLite and PostgreSQL:
each run reads only the samples since the last one, and the rows always equal a full recompute."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlmodel import Session

from collector import housekeeping as hk
from collector import rollup
from collector.housekeeping import ROLLUP_LAG_S, Housekeeping
from schema.models import DiskSample, GpuSample, Sample, SampleHourly
from tests.integration.test_rollup import HOUR, H, fill_hour


def add(s, host, ts, cpu=None, gpu_util=None, disk_pct=None):
    """One sample (cpu may be None: a failed section), a GPU and a disk row with it."""
    s.add(Sample(host_id=host, ts=ts, cpu_pct=cpu, mem_used_bytes=None if cpu is None else int(cpu * 1e9),
                 disk_used_pct_max=disk_pct))
    if gpu_util is not None:
        s.add(GpuSample(host_id=host, ts=ts, gpu_index=0, name="NVIDIA A100", uuid="GPU-a", util_pct=gpu_util,
                        mem_used_mb=1000.0, mem_total_mb=40960.0, temperature_c=40.0 + gpu_util / 10, power_w=None))
    if disk_pct is not None:
        s.add(DiskSample(host_id=host, ts=ts, mount="/", used_bytes=int(disk_pct), total_bytes=100, used_pct=disk_pct))


def stored(s) -> dict[tuple[str, int], dict]:
    s.expire_all()
    return {(r.host_id, r.hour): r.model_dump(exclude={"id"}) for r in s.scalars(select(SampleHourly)).all()}


def full(s, start: float, end: float) -> dict[tuple[str, int], dict]:
    """What a full recompute of [start, end) gives (the reference)."""
    return {(r["host_id"], r["hour"]): r for r in rollup.rollup_rows(s, int(start), int(end), None)}


def same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        for col, value in a[key].items():
            if isinstance(value, float):
                assert b[key][col] == pytest.approx(value, rel=1e-9), (key, col)
            else:
                assert b[key][col] == value, (key, col)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def keeper_of(session, clock) -> tuple[Housekeeping, None]:
    """A Housekeeping on the test's database, its writes committed on a thread as the hub's database thread does."""
    engine = session.get_bind()

    async def run_db(fn):
        def work():
            with Session(engine) as s:
                out = fn(s)
                s.commit()
                return out
        return await asyncio.to_thread(work)

    return Housekeeping(engine, None, run_db, holder="test", clock=clock), None


@pytest.fixture
def spied(monkeypatch):
    writes: list[int] = []
    original = rollup.upsert_hourly

    def counting(s, rows):
        writes.append(len(rows))
        original(s, rows)
    monkeypatch.setattr(rollup, "upsert_hourly", counting)
    return writes


def test_merged_windows_equal_the_whole_hour(session):
    """Partials of disjoint windows, merged in any order, give exactly the full recompute's row."""
    fill_hour(session, "gpu1")
    for i in range(12):  # a host with failed sections: NULLs that must not count in the averages
        add(session, "patchy", H + 300 * i + 7, cpu=None if i % 3 == 0 else 10.0 * i,
            gpu_util=None if i % 4 == 0 else float(i), disk_pct=None if i % 5 == 0 else 50.0 + i)
    session.commit()
    whole = full(session, H, H + HOUR)
    for cuts in ([H + 1], [H + 1200], [H + 1000, H + 2000, H + 3000], [H + 300 * k + 7 for k in range(1, 12)]):
        edges = [H, *cuts, H + HOUR]
        merged: dict = {}
        for a, b in reversed(list(zip(edges, edges[1:]))):  # latest window first: order does not matter
            for key, part in rollup.partials(session, a, b, None).items():
                if key in merged:
                    merged[key].merge(part)
                else:
                    merged[key] = part
        same(whole, {k: p.row() for k, p in merged.items()})


def test_each_run_reads_only_what_arrived_and_matches_a_full_recompute(session, spied):
    """Three hosts; runs a minute apart write only the hosts with new samples, and the table always equals
    a full recompute of everything up to the lag."""
    clock = Clock(H + 600 + ROLLUP_LAG_S)
    for i in range(0, 120):  # the first 10 minutes, every 5 s
        for host, cpu in (("a", 10.0), ("b", 20.0), ("c", 30.0)):
            add(session, host, H + 5 * i + 0.5, cpu=cpu + i % 7, gpu_util=float(i % 100) if host == "a" else None,
                disk_pct=40.0 + i / 100)
    session.commit()
    keeper, _ = keeper_of(session, clock)
    assert asyncio.run(keeper.fill_rollups()) == 3
    same(full(session, H, H + 600), stored(session))

    for i in range(120, 132):  # a minute more, for host "a" only
        add(session, "a", H + 5 * i + 0.5, cpu=99.0, gpu_util=50.0, disk_pct=41.0)
    session.commit()
    clock.t = H + 660 + ROLLUP_LAG_S
    spied.clear()
    assert asyncio.run(keeper.fill_rollups()) == 1  # "a" only: b and c saw nothing new
    assert spied == [1]
    same(full(session, H, clock.t - ROLLUP_LAG_S), stored(session))
    assert keeper.last_rollup["rows"] == 1 and keeper.last_rollup["longest_write_s"] >= 0


def test_a_late_sample_is_caught_when_the_hour_ends(session, spied):
    """A sample stored after a run had read past its time is in the hour's row once the hour has ended."""
    clock = Clock(H + 1500 + ROLLUP_LAG_S)  # reads up to H+1500: every sample so far
    for i in range(300):
        add(session, "a", H + 5 * i + 1, cpu=10.0)
        add(session, "b", H + 5 * i + 1, cpu=20.0)
    session.commit()
    keeper, _ = keeper_of(session, clock)
    asyncio.run(keeper.fill_rollups())
    add(session, "b", H + 100.5, cpu=95.0)  # late: its time is long before the run's mark
    for i in range(300, 720):
        add(session, "a", H + 5 * i + 1, cpu=10.0)
        add(session, "b", H + 5 * i + 1, cpu=20.0)
    add(session, "a", H + HOUR + 2, cpu=50.0)  # the next hour has begun
    session.commit()
    clock.t = H + HOUR + ROLLUP_LAG_S + 10
    spied.clear()
    asyncio.run(keeper.fill_rollups())
    rows = stored(session)
    same(full(session, H, H + HOUR + 10), rows)
    assert rows[("b", H)]["sample_count"] == 721 and rows[("b", H)]["cpu_pct_max"] == 95.0
    assert spied == [3, 1]  # both hosts' hour and a's new hour, then b's recompute: a was complete
    assert all(hour > H for _h, hour in keeper._partials)  # the ended hour is no longer held


def test_first_run_settles_the_hours_since_the_newest_rollup(session):
    """A process that takes the lease over (nothing in memory) checks each hour since the newest rollup and
    reads the hour in progress whole; a run that fails half-way starts over and counts nothing twice."""
    for hour in (H, H + HOUR, H + 2 * HOUR):
        for i in range(0, 720, 10):
            add(session, "a", hour + 5 * i + 1, cpu=float(i % 50))
    session.commit()
    rollup.upsert_hourly(session, rollup.rollup_rows(session, H, H + HOUR, None))  # an older hub did H
    session.commit()
    clock = Clock(H + 2 * HOUR + 1800)
    keeper, _ = keeper_of(session, clock)
    asyncio.run(keeper.fill_rollups())
    same(full(session, H, clock.t - ROLLUP_LAG_S), stored(session))

    real = keeper.run_db
    calls = {"n": 0}

    async def failing(fn):
        calls["n"] += 1
        raise OSError("database went away")
    add(session, "a", H + 2 * HOUR + 1790, cpu=77.0)
    session.commit()
    clock.t += 60
    keeper.run_db = failing
    with pytest.raises(OSError):
        asyncio.run(keeper.fill_rollups())
    keeper.run_db = real
    clock.t += 60
    asyncio.run(keeper.fill_rollups())
    same(full(session, H, clock.t - ROLLUP_LAG_S), stored(session))


def test_writes_go_in_bounded_transactions(session, spied, monkeypatch):
    """However many hosts changed, one upsert transaction holds at most ROLLUP_ROWS_PER_WRITE rows."""
    monkeypatch.setattr(hk, "ROLLUP_ROWS_PER_WRITE", 7)
    monkeypatch.setattr(hk, "ROLLUP_HOSTS_PER_READ", 100)
    for n in range(30):
        add(session, f"h{n:02d}", H + 10, cpu=1.0)
    session.commit()
    keeper, _ = keeper_of(session, Clock(H + 100))
    assert asyncio.run(keeper.fill_rollups()) == 30
    assert spied == [7, 7, 7, 7, 2]



def test_a_run_reads_a_share_of_the_hosts_a_step_on_a_background_thread(session, monkeypatch):
    """A run reads (and writes) ROLLUP_HOSTS_PER_READ hosts a step, every host once, on a reader thread with
    a lower CPU priority (Linux: nice +10 for that thread only), so the collectors keep the CPU."""
    import os
    import sys

    monkeypatch.setattr(hk, "ROLLUP_HOSTS_PER_READ", 2)
    reads: list[tuple[float, float, tuple]] = []
    real = rollup.partials

    def spy(s, a, b, hosts):
        reads.append((a, b, None if hosts is None else tuple(hosts)))
        return real(s, a, b, hosts)
    monkeypatch.setattr(rollup, "partials", spy)
    for n in range(5):
        add(session, f"h{n}", H + 10, cpu=1.0)
    session.commit()
    clock = Clock(H + 100 + ROLLUP_LAG_S)
    keeper, _ = keeper_of(session, clock)
    asyncio.run(keeper.fill_rollups())
    for n in range(5):
        add(session, f"h{n}", H + 300, cpu=3.0)
    session.commit()
    reads.clear()
    clock.t += 600
    assert asyncio.run(keeper.fill_rollups()) == 5
    assert reads == [(H + 100, H + 700, ("h0", "h1")), (H + 100, H + 700, ("h2", "h3")), (H + 100, H + 700, ("h4",))]
    same(full(session, H, H + 700), stored(session))
    if sys.platform.startswith("linux"):
        (thread,) = keeper._reader._threads
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == os.getpriority(os.PRIO_PROCESS, 0) + 10
