"""A real `fleetwatch serve --web-only` over a database holding 1,000 hosts' newest reports (`host_latest`, as
the collectors write them), for the overview's table in a browser. No collector runs, so the reports stay as
written; the hosts poll every hour (inventory defaults), so an hour-old report is not stale data yet.

Host i (`node-0000` ... `node-0999`): CPU (i * 37) % 100 + 0.5 % (none on every 50th host, i % 50 == 3), 4 GPUs
(none on every 10th), network in i * 997 B/s; every 100th host (i % 100 == 42) is down, and node-0517's GPU 2
is at HOT_C.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from schema import samples as store
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Host
from tests.support.gpuhub import serve_web_only
from tests.support.hubproc import HubProcess
from tests.support.sshd import free_port

HOSTS = 1000
HOT_HOST, HOT_C = "node-0517", 91.0


def host_id(i: int) -> str:
    return f"node-{i:04d}"


def report(i: int, now: float) -> dict:
    gpus = [] if i % 10 == 0 else [
        {"index": g, "name": "NVIDIA H100 80GB HBM3", "util_pct": float((i + 17 * g) % 100), "mem_used_mb": 40000.0,
         "mem_total_mb": 80000.0, "temperature_c": HOT_C if (host_id(i), g) == (HOT_HOST, 2) else 40.0 + (i + g) % 30,
         "lost": False} for g in range(4)]
    return {"host": host_id(i), "ok": True, "state": "up", "ts": now,
            "cpu_pct": None if i % 50 == 3 else float((i * 37) % 100) + 0.5,
            "mem_total_bytes": 64 * 2**30, "mem_used_bytes": (i * 13) % 80 * 2**30,
            "disks": [{"mount": "/", "used_pct": 10.0 + i % 70}], "gpus": gpus, "gpu_count": len(gpus),
            "services": [], "net_rx_bps": i * 997.0, "net_tx_bps": (HOSTS - i) * 1009.0}


@dataclass
class BigHub:
    hub: HubProcess
    now: float

    @property
    def url(self) -> str:
        return self.hub.url


def seed(db_url: str, now: float) -> None:
    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    batch = store.Batch()
    for i in range(HOSTS):
        batch.latest[host_id(i)] = {"ts": now, "doc": (report(i, now), [], None, {})}
    down = {host_id(i) for i in range(HOSTS) if i % 100 == 42}
    with Session(engine) as s:
        s.execute(insert(Host), [{"id": host_id(i), "address": "127.0.0.1",
                                  "state": "down" if host_id(i) in down else "up",
                                  "last_error": "timeout: no answer in 10 s" if host_id(i) in down else None,
                                  "last_seen_at": now - (600 if host_id(i) in down else 1), "state_since": now - 600,
                                  "consecutive_failures": 3 if host_id(i) in down else 0} for i in range(HOSTS)])
        batch.write(s)
        s.commit()
    engine.dispose()


def start_big_hub(tmp: Path) -> BigHub:
    now = time.time()
    db_path = tmp / "big.db"
    seed(f"sqlite:///{db_path}", now)
    port = free_port()  # nobody listens there: a web-only hub never connects anyway
    hosts = [{"id": host_id(i), "address": "127.0.0.1", "port": port, "labels": {"rack": f"r{i % 40}"}}
             for i in range(HOSTS)]
    return BigHub(hub=serve_web_only(db_path, hosts, wait_s=60, interval="1h"), now=now)


def stop_big_hub(big: BigHub) -> None:
    big.hub.stop()
