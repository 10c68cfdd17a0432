"""How long the overview takes to answer for a big fleet (issue: 1,000 hosts in under 150 ms).

A real hub object (not started: no SSH) is given N hosts, and the database the
rows its collectors would write for them (state, and newest reports that look
like real ones (8 GPUs, 3 disks, 4 services; 1 host in 20 down, 1 in 25 with a failed
service)), then a real uvicorn server on loopback, in its own process as `serve`
runs, answers GET / (the whole page) and the htmx refresh of the #fleet section.
Times are wall-clock per request as an HTTP client in this process sees them,
after 3 warm-up requests.

    python3 benchmarks/overview_render.py [--hosts 1000] [--requests 30]
"""
from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.hub import Hub, HubOptions, tune_gc  # noqa: E402
from inventory import load_inventory  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session  # noqa: E402

from schema.db import make_engine  # noqa: E402
from schema.fleet import latest_doc  # noqa: E402
from schema.models import Host  # noqa: E402
from schema.runtime_models import HostLatest  # noqa: E402
from schema.migrate import upgrade  # noqa: E402
from tests.support.sshd import free_port  # noqa: E402
from webapp.app import create_app  # noqa: E402
from webapp.auth import SESSION_COOKIE  # noqa: E402


def fleet_report(i: int, now: float) -> dict:
    gpus = [{"index": g, "name": "NVIDIA H100 80GB HBM3", "util_pct": float((i * 7 + g * 13) % 100),
             "mem_used_mb": 40000.0, "mem_total_mb": 81559.0, "temperature_c": 50.0 + (i + g) % 40,
             "power_w": 300.0} for g in range(8)]
    disks = [{"mount": m, "fstype": "ext4", "used_bytes": 10**11, "total_bytes": 4 * 10**11, "used_pct": 25.0 + k}
             for k, m in enumerate(("/", "/data", "/scratch"))]
    services = [{"name": f"svc{k}.service", "active_state": "failed" if (i % 25 == 0 and k == 0) else "active",
                 "sub_state": "running", "load_state": "loaded"} for k in range(4)]
    return {"host": f"gpu-{i:04d}", "ok": True, "state": "up", "ts": now, "cpu_pct": float(i % 100),
            "mem_total_bytes": 512 * 2**30, "mem_used_bytes": (i % 400) * 2**30, "disks": disks, "gpus": gpus,
            "gpu_count": 8, "services": services}


def build_hub(tmp: Path, hosts: int) -> Hub:
    lines = ["defaults:\n  user: monitor\n  interval: 1h\nhosts:\n"]  # reports written once: not stale for an hour
    lines += [f"  - id: gpu-{i:04d}\n    address: 10.{i // 65536}.{i // 256 % 256}.{i % 256}\n    labels: {{rack: r{i % 40}}}\n"
              for i in range(hosts)]
    inventory_path = tmp / "hosts.yaml"
    inventory_path.write_text("".join(lines))
    db_url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade(db_url, log=lambda _m: None)
    hub = Hub(inventory_path, make_engine(db_url), HubOptions(backup_every_s=0))
    tune_gc()  # as Hub.start() does; the benchmark does not start the hub (no SSH)
    inventory = load_inventory(inventory_path)
    hub.specs = {spec.id: spec for spec in inventory.resolved_hosts()}
    hub.watcher.inventory = inventory
    now = time.time()
    hosts_rows, latest_rows = [], []
    for i, host_id in enumerate(hub.specs):  # what the collectors would have written (schema.fleet reads it)
        down = i % 20 == 7
        hosts_rows.append({"id": host_id, "address": hub.specs[host_id].address,
                           "state": "down" if down else "up",
                           "last_error": "timeout: no answer in 10 s" if down else None,
                           "consecutive_failures": 3 if down else 0,
                           "last_seen_at": now - 60 if down else now - i % 5,
                           "state_since": now - 40 if down else now - 3600})
        latest_rows.append({"host_id": host_id, "ts": now,
                            "doc": latest_doc(fleet_report(i, now), [], None, {}).decode()})
    with Session(hub.engine) as session:
        session.execute(insert(Host.__table__), hosts_rows)
        session.execute(insert(HostLatest.__table__), latest_rows)
        session.commit()
    return hub


def serve(hosts: int, port: int, tmp: str) -> None:
    """The server process: a hub of `hosts` fake hosts behind uvicorn."""
    hub = build_hub(Path(tmp), hosts)
    uvicorn.run(create_app(hub, manage_hub=False), host="127.0.0.1", port=port, log_level="warning",
                lifespan="off")


def login_cookie(tmp: str) -> str:
    """A user and a login session in the benchmark's database, as the login page makes them."""
    from sqlmodel import Session

    from schema import auth

    engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
    with Session(engine) as session:
        user = auth.add_user(session, "bench", "viewer", "bench password", time.time())
        cookie = auth.start_session(session, user, time.time(), 3600)
    engine.dispose()
    return cookie


def wait_ready(client: httpx.Client, proc: multiprocessing.Process) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise SystemExit("the server process died; run with a smaller --hosts to see why")
        try:
            client.get("/healthz")
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 120 s")


def timed(client: httpx.Client, path: str, headers: dict, n: int) -> tuple[list[float], int]:
    for _ in range(3):
        client.get(path, headers=headers)
    times, size = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append((time.perf_counter() - t0) * 1000)
        resp.raise_for_status()
        size = len(resp.content)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="fw-overview-bench-")
    proc = multiprocessing.Process(target=serve, args=(args.hosts, port, tmp), daemon=True)
    proc.start()
    cases = [("GET / (whole page)", "/", {}),
             ("htmx refresh of #fleet", "/", {"HX-Request": "true", "HX-Target": "fleet"}),
             ("GET /?state=problems", "/?state=problems", {}),
             ("GET /?view=table", "/?view=table", {}),
             ("htmx refresh, table view", "/?view=table", {"HX-Request": "true", "HX-Target": "fleet"}),
             ("table sorted by net in", "/?view=table&sort=net_in", {"HX-Request": "true", "HX-Target": "fleet"})]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_ready(client, proc)
            client.cookies.set(SESSION_COOKIE, login_cookie(tmp))  # a logged-in browser, as in real use
            print(f"overview, {args.hosts} hosts x 8 GPUs, {args.requests} requests each (after 3 warm-up):")
            for label, path, headers in cases:
                times, size = timed(client, path, headers, args.requests)
                times.sort()
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                print(f"  {label:28s} median {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms  "
                      f"{size / 1024:7.1f} KiB")
    finally:
        proc.terminate()
        proc.join(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
