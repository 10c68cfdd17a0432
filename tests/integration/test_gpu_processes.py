"""Who uses which GPU, for real: the probe over a real sshd with the fake nvidia-smi naming real processes,
ps's owners, the hub's per-user GPU hours on SQLite and PostgreSQL."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from collector import gpu_usage
from collector.host_report import GpuProcess
from collector.hub import Hub, HubOptions
from schema import samples as store
from schema.db import make_engine
from schema.gpu_fleet import fleet_cards, user_days, user_days_csv
from schema.migrate import upgrade
from tests.support.hubproc import host_entry, write_inventory
from tests.support.sshd import TEST_USER
from tests.support.waiting import until

UUID0 = "GPU-5a3c1e0b-8e1f-4f5e-9d4b-2f6a7c8d9e01"
UUID1 = "GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10"


def _proc(uuid: str, user: str, mem: float, pid: int = 1) -> GpuProcess:
    return GpuProcess(0, uuid, pid, "python3", mem, user, 10, "python3 train.py")


def test_gpu_hours_add_up_per_user_hour_and_day(session: Session) -> None:
    """Two flushes into the same hour add up; the day table sums the hours; the CSV has units in its header."""
    day = 20 * 86400  # 1970-01-21
    b = store.Batch()
    b.add_gpu_users(gpu_usage.user_rows("h1", [_proc(UUID0, "alice", 2048), _proc(UUID1, "alice", 1024, 2)],
                                        day + 100, 1800.0))
    b.add_gpu_users(gpu_usage.user_rows("h1", [_proc(UUID0, "bob", 1024)], day + 100, 1800.0))
    b.write(session)
    session.commit()
    b = store.Batch()
    b.add_gpu_users(gpu_usage.user_rows("h1", [_proc(UUID0, "alice", 2048)], day + 200, 1800.0))  # same hour
    b.add_gpu_users(gpu_usage.user_rows("h1", [_proc(UUID0, "alice", 2048)], day + 7300, 3600.0))  # 2 h later
    b.add_gpu_users(gpu_usage.user_rows("h1", [_proc(UUID0, "alice", 2048)], day + 86400 + 5, 3600.0))  # next day
    b.write(session)
    session.commit()
    rows = user_days(session, day, day + 2 * 86400)
    assert [(r.day, r.host_id, r.user, r.gpu_hours, r.gpu_mem_gib_hours, r.hours_seen) for r in rows] == [
        ("1970-01-22", "h1", "alice", 1.0, 2.0, 1),
        # alice: 2 cards x 0.5 h + 0.5 h + 1 h; memory (3 GiB x 0.5 h) + (2 GiB x 0.5 h) + (2 GiB x 1 h)
        ("1970-01-21", "h1", "alice", 2.5, 4.5, 2),
        ("1970-01-21", "h1", "bob", 0.5, 0.5, 1),
    ]
    assert [r.user for r in user_days(session, day, day + 86400, user="bob")] == ["bob"]
    assert user_days(session, day, day + 86400, host_id="other") == []
    text = user_days_csv(rows)
    assert text.splitlines()[0] == "day_utc,host,user,gpu_hours,gpu_memory_gib_hours,hours_seen"
    assert text.splitlines()[1] == "1970-01-22,h1,alice,1.0,2.0,1"


def _report(hub: Hub, host_id: str):
    from schema import fleet

    with Session(hub.engine) as s:
        return fleet.host_now(s, host_id)




@pytest.fixture
def two_jobs():
    """Two real processes on the 'GPUs': one of root's (this test's user) and one of the test login user's."""
    mine = subprocess.Popen(["sleep", "300"])
    theirs = subprocess.Popen(["sleep", "301"], user=TEST_USER)
    try:
        yield mine.pid, theirs.pid
    finally:
        for p in (mine, theirs):
            p.kill()
            p.wait(timeout=10)


async def test_processes_users_and_hours_through_the_hub(sshd, tmp_path: Path, two_jobs) -> None:
    mine, theirs = two_jobs
    apps = sshd.fakebin / "apps"
    # card 0: root's job with 20000 MiB; card 1: the test user's job with 2048 MiB
    apps.write_text(f"0 {mine} 20000 python3\n1 {theirs} 2048 torchrun\n")
    path = write_inventory(tmp_path / "hosts.yaml",
                           [host_entry(sshd, "gpu-box", gpu="nvidia", gpu_processes="5s", interval="1s")])
    url = f"sqlite:///{tmp_path / 'h.db'}"
    upgrade(url, log=lambda _m: None)
    hub = Hub(path, make_engine(url), HubOptions(backup_every_s=0))
    await hub.start()
    try:
        host = await until("the processes in the newest report", lambda: (
            (h := _report(hub, "gpu-box")).report and len(h.report.get("gpu_processes") or []) == 2 and h))
        procs = {p["pid"]: p for p in host.report["gpu_processes"]}
        assert procs[mine]["user"] == "root" and procs[mine]["gpu_index"] == 0
        assert procs[mine]["command"] == "sleep 300" and procs[mine]["used_mem_mb"] == 20000
        assert procs[theirs]["user"] == TEST_USER and procs[theirs]["gpu_index"] == 1
        assert 0 <= procs[theirs]["elapsed_s"] < 120
        cards = fleet_cards([host], {"gpu-box": {"room": "b1"}}, time.time())
        assert [(c.index, c.users) for c in cards] == [(0, ("root",)), (1, (TEST_USER,))]
        assert cards[0].busy_since is not None and cards[0].labels == {"room": "b1"}

        def hours():
            with Session(hub.engine) as s:
                return {r.user: r for r in user_days(s, time.time() - 86400, time.time() + 3600)}
        # at least two reads (5 s apart) reached the database
        got = await until("two reads of GPU hours", lambda: (
            (h := hours()) and all(r.gpu_hours * 3600 >= 9 for r in h.values()) and h), timeout=30)
        assert set(got) == {"root", TEST_USER}
        root, other = got["root"], got[TEST_USER]
        assert root.gpu_hours == other.gpu_hours  # one card each, read together
        assert root.gpu_mem_gib_hours == pytest.approx(root.gpu_hours * 20000 / 1024, rel=0.01)
        # read every 5 s, not at every 1 s probe: a few seconds in, fewer reads than probes
        with Session(hub.engine) as s:
            from sqlalchemy import func, select

            from schema.models import GpuUserHourly, Sample
            reads = s.exec(select(func.max(GpuUserHourly.reads))).one()[0]
            probes = s.exec(select(func.count()).select_from(Sample).where(Sample.host_id == "gpu-box")).one()[0]
        assert reads * 3 <= probes, (reads, probes)
    finally:
        apps.unlink(missing_ok=True)
        await hub.stop()
