"""Web load against a polling hub: what the pages get, and whether polling and /healthz keep their pace.

Run as root from the repository root:
    python3 benchmarks/web_load.py [--clients 50] [--seconds 60] [--tree PATH] [--json]

A real `fleetwatch serve` (a subprocess) polls two hosts, each a real test sshd
(tests/support/sshd.py), every 5 s. After the first samples, CLIENTS threads of this
process, each on its own keep-alive connection and logged in as a viewer,
fetch `/`, `/hosts/load-a`, `/events` and `/alerts` as htmx does (HX-Request),
back to back, for SECONDS; one more client asks `/healthz` once a second on a
fresh connection. Then the hub gets SIGTERM.

--tree runs the hub from another checkout (e.g. a `git worktree` of an older
commit) to measure before and after on the same machine.

Reported:
  pages         answers by status, and per second
  latency       of the page answers: median / p99 / max (s)
  healthz       median / max (s); inf = no answer within 10 s
  sample gaps   widest gap between stored samples of a host during the load, and the number of samples
  hub CPU       CPU seconds of the hub process during the load (user + system)
  stop          seconds from SIGTERM to exit, and the exit code
"""
from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOSTS = ("load-a", "load-b")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] if ordered else float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _samples(db: Path, host: str, since: float, until: float) -> list[float]:
    with sqlite3.connect(db) as conn:
        return [t for (t,) in conn.execute("SELECT ts FROM samples WHERE host_id = ? ORDER BY ts", (host,))
                if since <= t <= until]


def run(clients: int, seconds: float, tree: Path | None) -> dict:
    from tests.support import hubproc
    from tests.support.hubproc import HubProcess, host_entry, make_user, write_inventory
    from tests.support.sshd import start_sshd
    from tests.support.webload import Load, health_latencies, login

    if tree is not None:
        hubproc.ROOT = tree  # `python -m collector.cli serve` runs from there
    tmp = Path(tempfile.mkdtemp(prefix="fleetwatch-webload-"))
    sshds = [start_sshd(), start_sshd()]
    try:
        inventory = write_inventory(tmp / "hosts.yaml", [host_entry(s, h) for s, h in zip(sshds, HOSTS)])
        hub = HubProcess(inventory, tmp / "load.db")
        make_user(hub.db_url, "loader", "viewer", "correct horse battery")
        hub.start()
        try:
            deadline = time.monotonic() + 60
            while any(hub.get(f"/api/servers/{h}/latest")["sample"] is None for h in HOSTS):
                if time.monotonic() > deadline:
                    raise RuntimeError(hub.log()[-3000:])
                time.sleep(0.2)
            cookie = login(hub.port, "loader", "correct horse battery")
            cpu0, since = _cpu_s(hub.proc.pid), time.time()
            with Load(hub.port, cookie, ["/", f"/hosts/{HOSTS[0]}", "/events", "/alerts"], clients) as load:
                health = health_latencies(hub.port, seconds)
            until, cpu = time.time(), _cpu_s(hub.proc.pid) - cpu0
            time.sleep(1.5)
            gaps = {}
            for host in HOSTS:
                edges = [since, *_samples(tmp / "load.db", host, since, until), until]
                gaps[host] = {"widest_s": round(max(b - a for a, b in zip(edges, edges[1:])), 2),
                              "samples": len(edges) - 2}
        finally:
            stop_started = time.monotonic()
            code = hub.stop()
            stop_s = time.monotonic() - stop_started
        lat = load.latencies
        return {
            "clients": clients, "seconds": round(until - since, 1),
            "pages": {str(k): v for k, v in sorted(load.statuses.items())}, "client_errors": load.errors,
            "pages_per_s": round(sum(load.statuses.values()) / (until - since), 1),
            "latency_s": {"median": round(statistics.median(lat), 3) if lat else None,
                          "p99": round(_pct(lat, 0.99), 3), "max": round(max(lat), 3) if lat else None},
            "healthz_s": {"median": round(statistics.median(health), 3), "max": round(max(health), 3)},
            "sample_gaps": gaps, "hub_cpu_s": round(cpu, 1), "stop_s": round(stop_s, 1), "exit_code": code,
        }
    finally:
        for s in sshds:
            s.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--tree", type=Path, help="run the hub from this checkout instead of this one")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    result = run(args.clients, args.seconds, args.tree.resolve() if args.tree else None)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    lat, hz = result["latency_s"], result["healthz_s"]
    print(f"{result['clients']} clients, {result['seconds']} s: pages {result['pages']} "
          f"({result['pages_per_s']}/s), {result['client_errors']} client errors")
    print(f"page latency median {lat['median']} s, p99 {lat['p99']} s, max {lat['max']} s")
    print(f"/healthz median {hz['median']} s, max {hz['max']} s")
    for host, g in result["sample_gaps"].items():
        print(f"{host}: widest sample gap {g['widest_s']} s ({g['samples']} samples)")
    print(f"hub CPU {result['hub_cpu_s']} s; SIGTERM to exit {result['stop_s']} s (exit {result['exit_code']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
