"""Who uses which GPU: the gpu_apps and gpu_ps parsers, their join, per-user GPU-seconds, "held, idle" cards."""
from __future__ import annotations

from pathlib import Path

import pytest

from collector import gpu_usage
from collector.host_report import GpuProcess
from collector.parsers import gpu_apps, gpu_ps, nvidia
from collector.reading import parse_output
from collector.report import build_report
from schema.samples import Batch

FIXTURES = Path(__file__).parent.parent / "fixtures"
APPS = (FIXTURES / "nvidia" / "compute_apps.csv").read_text()
OWNERS = (FIXTURES / "ps" / "gpu_owners.txt").read_text()
UUID0 = "GPU-5a3c1e0b-8e1f-4f5e-9d4b-2f6a7c8d9e01"
UUID1 = "GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10"


# ------------------------------------------------------------------ gpu_apps
def test_apps_valid() -> None:
    r = gpu_apps.parse_apps(APPS)
    assert r.errors == () and not r.absent
    assert [(a.gpu_uuid[:12], a.pid, a.used_mem_mb, a.name) for a in r.apps] == [
        ("GPU-5a3c1e0b", 31337, 20000.0, "python3"),
        ("GPU-5a3c1e0b", 31401, 1024.0, "/usr/bin/python3.11"),
        ("GPU-0b7d2c44", 40022, None, "torchrun, rank 3"),  # [N/A] memory is None; a comma stays in the name
        ("MIG-2f6a7c8d", 40500, 4096.0, "python3"),
    ]


@pytest.mark.parametrize(("text", "apps", "errors"), [
    ("", 0, 0),  # empty: no process on any card
    ("No running processes found\n", 0, 0),
    ("GPU-5a3c1e0b-8e1f, 31", 0, 1),  # truncated: fewer than four fields
    ("GPU-5a3c1e0b-8e1f, x, 10, python3", 0, 1),  # malformed pid
    ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", 0, 1),
    ("bogus, 12, 10, python3", 0, 1),  # not a GPU or MIG uuid
    (APPS, 4, 0),
])
def test_apps_table(text: str, apps: int, errors: int) -> None:
    r = gpu_apps.parse_apps(text)
    assert (len(r.apps), len(r.errors)) == (apps, errors)


def test_apps_absent() -> None:
    assert gpu_apps.parse_apps("absent\n").absent


# ------------------------------------------------------------------ gpu_ps
def test_owners_valid() -> None:
    r = gpu_ps.parse_owners(OWNERS)
    assert r.errors == ()
    assert r.by_pid[31337] == gpu_ps.Owner(31337, "alice", 86400, "python3 train.py --config big.yaml")
    assert r.by_pid[40022].user == "wang.xiaoming.research"  # user:32 keeps a long name whole


@pytest.mark.parametrize(("text", "pids", "errors"), [
    ("", 0, 0),
    ("31337 alice", 0, 1),  # truncated
    ("ps: unrecognized option: p\nBusyBox v1.36 multi-call binary.", 0, 2),  # busybox: usage text
    ("31337 alice 12", 1, 0),  # no command: ""
    (OWNERS, 3, 0),
])
def test_owners_table(text: str, pids: int, errors: int) -> None:
    r = gpu_ps.parse_owners(text)
    assert (len(r.by_pid), len(r.errors)) == (pids, errors)


def test_owner_elapsed_not_a_number_is_none() -> None:
    assert gpu_ps.parse_owners("7 bob 1-02:03:04 sleep 1").by_pid[7].elapsed_s is None


# ------------------------------------------------------------------ the join in the report
def _probe(apps: str | None = APPS, owners: str | None = OWNERS) -> bytes:
    gpus = (FIXTURES / "nvidia" / "a100x2_full.csv").read_text()
    text = ("<<<uptime>>>\n100.0 50.0\n<<<nvidia>>>\n" + gpus)
    if apps is not None:
        text += "<<<gpu_apps>>>\n" + apps + "<<<gpu_ps>>>\n" + (owners or "")
    return text.encode()


def test_report_joins_processes_with_cards_and_owners() -> None:
    asked = frozenset({"nvidia", "gpu_apps", "gpu_ps"})
    report = build_report("h", (parse_output(_probe(), 0, 10.0, asked=asked),))
    procs = {p.pid: p for p in report.gpu_processes}
    assert procs[31337] == GpuProcess(0, UUID0, 31337, "python3", 20000.0, "alice", 86400,
                                      "python3 train.py --config big.yaml")
    assert procs[40022].gpu_index == 1 and procs[40022].user == "wang.xiaoming.research"
    assert procs[40500].gpu_index is None and procs[40500].user is None  # a MIG instance; ps did not answer
    d = report.to_dict()
    assert d["gpu_processes"][0]["user"] == "alice"
    assert [g["held_idle_since"] for g in d["gpus"]] == [None, None]


def test_processes_are_carried_between_reads() -> None:
    """Asked every 30 s: the probes between keep showing the last read's processes."""
    first = parse_output(_probe(), 0, 10.0, asked=frozenset({"nvidia", "gpu_apps", "gpu_ps"}))
    second = parse_output(_probe(apps=None), 0, 15.0, asked=frozenset({"nvidia"}))
    report = build_report("h", (first.kept(), second))
    assert len(report.gpu_processes) == 4
    third = parse_output(_probe(apps="", owners=""), 0, 40.0, asked=frozenset({"nvidia", "gpu_apps", "gpu_ps"}))
    assert build_report("h", (second.kept(first.kept()), third)).gpu_processes == ()  # all ended


# ------------------------------------------------------------------ per-user GPU-seconds
def _proc(uuid: str, user: str | None, mem: float | None, pid: int = 1) -> GpuProcess:
    return GpuProcess(0, uuid, pid, "python3", mem, user, 10, "python3 x.py")


def test_read_span() -> None:
    assert gpu_usage.read_span(None, 100.0, 30.0) == 30.0  # the first read after a start
    assert gpu_usage.read_span(70.0, 100.0, 30.0) == 30.0
    assert gpu_usage.read_span(65.0, 100.0, 30.0) == 35.0  # a late read stands for what it covers ...
    assert gpu_usage.read_span(0.0, 3600.0, 30.0) == 60.0  # ... but a host down for an hour charges no one
    assert gpu_usage.read_span(100.0, 100.0, 30.0) == 30.0


def test_user_rows_count_a_card_once_per_user() -> None:
    procs = [_proc(UUID0, "alice", 20000, 1), _proc(UUID0, "alice", 1024, 2), _proc(UUID1, "alice", 10, 3),
             _proc(UUID1, "bob", None, 4), _proc(UUID1, None, 5, 5)]
    rows = gpu_usage.user_rows("h", procs, 7300.0, 30.0)
    by = {r["username"]: r for r in rows}
    assert set(by) == {"alice", "bob", "?"}
    assert by["alice"]["gpu_seconds"] == 60.0  # two cards x 30 s, though three processes
    assert by["alice"]["gpu_mem_mib_seconds"] == (20000 + 1024 + 10) * 30.0
    assert by["bob"]["gpu_seconds"] == 30.0 and by["bob"]["gpu_mem_mib_seconds"] == 0.0
    assert by["alice"]["hour"] == 7200 and by["alice"]["max_processes"] == 3


def test_batch_sums_rows_of_one_user_hour() -> None:
    b = Batch()
    b.add_gpu_users(gpu_usage.user_rows("h", [_proc(UUID0, "alice", 100)], 7300.0, 30.0))
    b.add_gpu_users(gpu_usage.user_rows("h", [_proc(UUID0, "alice", 100), _proc(UUID1, "alice", 100, 2)],
                                        7330.0, 30.0))
    b.add_gpu_users(gpu_usage.user_rows("h", [_proc(UUID0, "alice", 100)], 10900.0, 30.0))  # the next hour
    rows = sorted(b.gpu_users.values(), key=lambda r: r["hour"])
    assert [(r["hour"], r["gpu_seconds"], r["reads"], r["max_processes"]) for r in rows] == [
        (7200, 90.0, 2, 2), (10800, 30.0, 1, 1)]
    assert b.size == 2


# ------------------------------------------------------------------ held, idle
def _gpu(index: int, util: float | None, mem: float | None) -> nvidia.Gpu:
    return nvidia.Gpu(index, f"GPU-{index}", "A100", None, util, None, mem, 81920.0, None, None, None, None)


def test_held_idle_since() -> None:
    first = gpu_usage.held_idle_since({}, [_gpu(0, 0, 20000), _gpu(1, 90, 20000), _gpu(2, 0, 500)], 100.0)
    assert first == {0: 100.0}  # busy card 1 and empty card 2 are not held idle
    later = gpu_usage.held_idle_since(first, [_gpu(0, 3, 20000), _gpu(1, 0, 20000)], 2000.0)
    assert later == {0: 100.0, 1: 2000.0}
    assert gpu_usage.is_held_idle(later[0], 2000.0) and not gpu_usage.is_held_idle(later[1], 2000.0)
    unanswered = gpu_usage.held_idle_since(later, [_gpu(0, None, None), _gpu(1, 50, 20000)], 2100.0)
    assert unanswered == {0: 100.0}  # a card that did not answer keeps its mark; one that worked loses it
    assert gpu_usage.held_idle_since(unanswered, [_gpu(0, 0, 1024)], 2200.0) == {}  # memory freed


def test_a_cards_busy_since_counts_from_the_read_of_its_processes() -> None:
    """elapsed_s is as of the read of the processes (up to 30 s before the page), not of the page."""
    from schema.fleet import HostNow
    from schema.gpu_fleet import fleet_cards

    report = {"gpus": [{"index": 0, "uuid": UUID0, "name": "A100", "util_pct": 50.0}],
              "gpu_processes": [{"gpu_index": 0, "gpu_uuid": UUID0, "pid": 1, "name": "python3", "user": "alice",
                                 "elapsed_s": 600, "used_mem_mb": 100.0, "command": "python3 x.py"}],
              "gpu_processes_at": 1000.0}
    (card,) = fleet_cards([HostNow("h", "up", report=report)], {}, now=1025.0)
    assert card.busy_since == 400.0 and card.users == ("alice",)
    (card,) = fleet_cards([HostNow("h", "up", report={**report, "gpu_processes_at": None})], {}, now=1025.0)
    assert card.busy_since == 425.0  # a report from before the field: the page's time
