"""A real `fleetwatch serve --web-only` over a database that collectors filled: GPU hosts whose newest reports
(`host_latest`, built from real `HostReport`s) have busy, hot, "held, idle" and silent cards, processes with a
hostile name, and GPU-hours per user over the last days (`gpu_user_hourly`). No collector runs, so the reports
stay exactly as written: what the GPU page and `/api/gpus` show is known to the second.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from collector import gpu_usage
from collector.host_report import Gpu, GpuProcess, HostReport
from schema import samples as store
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Host
from tests.support.hubproc import HubProcess, make_user, write_inventory
from tests.support.sshd import free_port
from tests.support.webhub import USERS

DAY = 86400
HELD_IDLE_FOR_S = 45 * 60  # gpu-a's card 1: 8 GiB held at 0 % for this long
BUSY_FOR_S = 3 * 3600 + 12 * 60  # alice's job on gpu-a's card 0: "3 h 12 min"
HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_COMMAND = '<img src=x onerror="alert(2)"> --run & "quoted"'
LABELS = {"gpu-a": {"team": "vision"}, "gpu-b": {"team": "nlp"}, "cpu-box": {}}
UUIDS = {("gpu-a", 0): "GPU-a0", ("gpu-a", 1): "GPU-a1", ("gpu-b", 0): "GPU-b0", ("gpu-b", 1): "GPU-b1"}


@dataclass
class GpuHub:
    hub: HubProcess
    inventory: Path
    now: float  # when the reports were taken

    @property
    def url(self) -> str:
        return self.hub.url


def _gpu(host: str, index: int, name: str | None, util: float | None, used: float | None, total: float | None,
         temp: float | None, power: float | None, limit: float | None) -> Gpu:
    return Gpu(index=index, uuid=UUIDS[(host, index)], name=name, pci_bus_id=None, util_pct=util, mem_util_pct=None,
               mem_used_mb=used, mem_total_mb=total, temperature_c=temp, power_w=power, power_limit_w=limit,
               fan_pct=None)


def reports(now: float) -> dict[str, HostReport]:
    """The newest report of each host, as a collector would have stored it at `now`."""
    a100, h100 = "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3"
    gpu_a = HostReport(
        host="gpu-a", state="up", ts=now, errors={}, cpu_count=64,
        gpus=(_gpu("gpu-a", 0, a100, 93.0, 30000.0, 81920.0, 71.0, 310.0, 400.0),
              _gpu("gpu-a", 1, a100, 0.0, 8192.0, 81920.0, 34.0, 61.0, 400.0)),
        gpu_processes=(GpuProcess(0, "GPU-a0", 101, "python3", 29000.0, "alice", BUSY_FOR_S,
                                  "python3 train.py --epochs 90 --data /datasets/imagenet"),
                       GpuProcess(1, "GPU-a1", 202, "jupyter", 8000.0, "bob", 2 * 3600, "jupyter-lab --no-browser")),
        gpu_held_idle_since={1: now - HELD_IDLE_FOR_S})
    gpu_b = HostReport(
        host="gpu-b", state="up", ts=now, errors={}, cpu_count=96,
        gpus=(_gpu("gpu-b", 0, h100, 50.0, 40000.0, 81559.0, 86.0, None, 700.0),
              _gpu("gpu-b", 1, h100, None, None, None, None, None, None)),
        gpu_processes=(GpuProcess(0, "GPU-b0", 303, HOSTILE_NAME, 39000.0, "mallory", 600, HOSTILE_COMMAND),))
    cpu_box = HostReport(host="cpu-box", state="up", ts=now, errors={}, cpu_count=8)
    return {"gpu-a": gpu_a, "gpu-b": gpu_b, "cpu-box": cpu_box}


def user_hours(now: float) -> list[dict]:
    """gpu_user_hourly additions: today, yesterday and ten days ago (seen with 30 days only)."""
    today = now - now % DAY

    def used(host: str, user: str, mib: float, cards: int, at: float, span: float) -> list[dict]:
        procs = [GpuProcess(i, f"GPU-{host}-{i}", 1000 + i, "python3", mib / cards, user, 60, None)
                 for i in range(cards)]
        return gpu_usage.user_rows(host, procs, at, span)

    return [*used("gpu-a", "alice", 2048.0, 2, today + 60, 3600.0),  # 2 GPU-h, 2 GiB-h
            *used("gpu-a", "bob", 8192.0, 1, today + 120, 1800.0),  # 0.5 GPU-h, 4 GiB-h
            *used("gpu-b", "mallory", 1024.0, 1, today + 180, 3600.0),  # 1 GPU-h, 1 GiB-h
            *used("gpu-a", "alice", 1024.0, 1, today - DAY + 60, 3600.0),  # yesterday: 1 GPU-h
            *used("gpu-a", "carol", 4096.0, 1, today - 10 * DAY + 60, 3600.0)]  # 10 days ago


def seed(db_url: str, now: float) -> None:
    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    batch = store.Batch()
    for host_id, report in reports(now).items():
        batch.latest[host_id] = {"ts": now, "doc": (report, [], None, {"cpu_count": report.cpu_count})}
    batch.add_gpu_users(user_hours(now))
    with Session(engine) as s:
        s.add_all([Host(id=h, address="127.0.0.1", state="up", last_seen_at=now, state_since=now - DAY,
                        consecutive_failures=0) for h in LABELS])
        s.commit()
        batch.write(s)
        s.commit()
    engine.dispose()


def inventory_hosts() -> list[dict]:
    """The three hosts on a port nobody listens on: a web-only hub never connects anyway."""
    return [{"id": h, "address": "127.0.0.1", "port": free_port(), "labels": labels,
             **({"gpu": "off"} if h == "cpu-box" else {})} for h, labels in LABELS.items()]


def serve_web_only(db_path: Path, hosts: list[dict], wait_s: float = 30.0, **defaults) -> HubProcess:
    """`fleetwatch serve --web-only` over a seeded database, with the page tests' users (USERS) added."""
    for name, (role, password) in USERS.items():
        make_user(f"sqlite:///{db_path}", name, role, password)
    inventory = write_inventory(db_path.parent / "hosts.yaml", hosts, **defaults)
    return HubProcess(inventory, db_path, extra=["--web-only"]).start(wait_s)


def start_gpu_hub(tmp: Path) -> GpuHub:
    now = time.time()
    db_path = tmp / "gpus.db"
    seed(f"sqlite:///{db_path}", now)
    hub = serve_web_only(db_path, inventory_hosts())
    return GpuHub(hub=hub, inventory=hub.inventory, now=now)


def stop_gpu_hub(gpu_hub: GpuHub) -> None:
    gpu_hub.hub.stop()
