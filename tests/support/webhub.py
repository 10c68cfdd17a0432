"""A real `fleetwatch serve` for the page and browser tests: two live sshd hosts, one unreachable,
and a database prefilled with an hour of samples, three days of hourly rows and some events."""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert
from sqlmodel import Session

from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Event, GpuSample, Host, Sample, SampleHourly
from tests.support.hubproc import HubProcess, host_entry, make_user, write_inventory
from tests.support.sshd import SSHDServer, free_port, start_sshd

HOUR = 3600
HOT_GPU_C = 85  # GPU 0 of alpha reports this (the fake nvidia-smi reads gpu0_temp); beta has `gpu: off`
LIVE = ("alpha", "beta")
USERS = {"ada": ("admin", "correct horse battery"), "vic": ("viewer", "viewer password 1")}  # name: (role, password)
HISTORY_HOURS = 72
# alpha's GPU 0 (HOT_GPU_C) fires this at its first poll; no notifiers: the page says nobody is told
# live streams (webapp/pages/stream.py) end after 12 s and beat every 3 s here, so that tests see both soon
STREAM_ENV = {"FLEETWATCH_STREAM_MAX_S": "12", "FLEETWATCH_STREAM_HEARTBEAT_S": "3"}
ALERTS = """
alerts:
  - {name: gpu-hot, metric: gpu_temperature_c, op: ">", threshold: 80, for: 0s, hosts: alpha, severity: critical}
"""


@dataclass
class WebHub:
    hub: HubProcess
    sshd: SSHDServer
    inventory: Path
    tmp: Path

    @property
    def url(self) -> str:
        return self.hub.url


def _prefill(db_url: str, now: float) -> None:
    """What a hub that has run for days leaves behind; the hub adds live samples on top."""
    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    this_hour = int(now) // HOUR * HOUR
    hourly, samples, gpus, events = [], [], [], []
    for i, host in enumerate(LIVE):
        for h in range(2, HISTORY_HOURS + 2):
            hourly.append({"host_id": host, "hour": this_hour - h * HOUR, "sample_count": 720,
                           "cpu_pct_avg": 10.0 + 5 * i + h % 5, "cpu_pct_max": 40.0 + i * 10 + h % 7,
                           "mem_used_pct_avg": 30.0 + i, "mem_used_pct_max": 45.0 + i,
                           "net_rx_bps_avg": 1.5e6 * (i + 1), "gpus": json.dumps([{"index": 0, "util_avg": 5.0}])})
        for m in range(60, 2, -1):  # one sample a minute over the last hour
            ts = now - m * 60
            samples.append({"host_id": host, "ts": ts, "state": "up", "cpu_pct": 20.0 + (m % 10) * 3,
                            "mem_used_pct": 40.0 + i, "mem_total_bytes": 8 * 2**30, "mem_used_bytes": 3 * 2**30,
                            "disk_read_bps": 2e6, "disk_write_bps": 1e6, "net_rx_bps": 3e6, "net_tx_bps": 1e6,
                            "gpu_count": 2, "gpu_util_pct": 30.0})
            for g in range(2):
                gpus.append({"host_id": host, "ts": ts, "gpu_index": g, "name": "NVIDIA A100-SXM4-80GB",
                             "util_pct": 10.0 + 20 * g + m % 5, "mem_used_mb": 1000.0, "mem_total_mb": 81920.0,
                             "temperature_c": 50.0 + 5 * g, "power_w": 90.0 + 100 * g})
    for k in range(60):  # more than one page of events (50 a page)
        events.append({"ts": now - 600 - 60 * k, "host_id": LIVE[k % 2], "type": "host_down" if k % 3 else "gpu_hot",
                       "subject": "0" if k % 3 == 0 else None, "message": f"prefilled event {k}", "details": None})
    with Session(engine) as s:
        s.execute(insert(Host), [{"id": h, "address": "127.0.0.1", "state": "up", "consecutive_failures": 0}
                                 for h in LIVE])
        for table, rows in ((SampleHourly, hourly), (Sample, samples), (GpuSample, gpus), (Event, events)):
            s.execute(insert(table), rows)
        s.commit()
    engine.dispose()


def start_web_hub(tmp: Path) -> WebHub:
    sshd = start_sshd()
    (sshd.fakebin / "gpu0_temp").write_text(f"{HOT_GPU_C}\n")
    inventory = write_inventory(tmp / "hosts.yaml", [
        host_entry(sshd, "alpha", services=["nginx.service", "broken.service"], labels={"rack": "a1"}),
        host_entry(sshd, "beta", services=["nginx.service"], gpu="off"),
        host_entry(sshd, "ghost", port=free_port(), timeout="2s"),
    ])
    inventory.write_text(inventory.read_text() + ALERTS)
    db_path = tmp / "web.db"
    started = time.time()
    _prefill(f"sqlite:///{db_path}", started)
    for name, (role, password) in USERS.items():
        make_user(f"sqlite:///{db_path}", name, role, password)
    hub = HubProcess(inventory, db_path, env=STREAM_ENV).start()
    web = WebHub(hub=hub, sshd=sshd, inventory=inventory, tmp=tmp)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # both live hosts probed twice since start (CPU % needs two)
        latest = [hub.get(f"/api/servers/{h}/latest")["sample"] for h in LIVE]
        if all(s and s["ts"] > started and s["cpu_pct"] is not None for s in latest):
            return web
        time.sleep(0.2)
    stop_web_hub(web)
    raise RuntimeError(f"live hosts did not come up:\n{hub.log()[-3000:]}")


def stop_web_hub(web: WebHub) -> None:
    web.hub.stop()
    web.sshd.stop()
    shutil.rmtree(web.sshd.root, ignore_errors=True)
