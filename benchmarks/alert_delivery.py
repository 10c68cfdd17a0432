"""Alert delivery latency, and the polling cadence while a notifier's receiver hangs.

Run as root from the repository root:  python3 benchmarks/alert_delivery.py [--hosts N] [--seconds S] [--json]

A real hub (collector.hub.Hub, SQLite) polls N hosts every 5 s; every host is the
real test sshd (tests/support/sshd.py) whose fake nvidia-smi reports GPU 0 at 85 °C. One
rule, `gpu_temperature_c > 80` with `for: 0s`, fires one alert per host at its
first poll; at 60 % of the run the GPU cools to 60 °C and every alert resolves.
Receivers are real HTTP servers on 127.0.0.1 (tests/support/http_receiver.py).

Two runs, one hub each:
  baseline  one notifier, a receiver that answers 200 at once
  hung      the same, plus a second notifier whose receiver never answers
            (10 s timeout per attempt, retried with backoff the whole run)

Per run:
  poll gap        seconds between consecutive samples of one host, over all hosts
                  (median / p99 / max); 5.000 is the schedule
  firing latency  the good receiver's arrival time minus the alert's fired_at
                  (the poll that saw the condition), median / max over hosts
  resolve latency the same for resolved (resolved_at to arrival)
  hub CPU         CPU seconds of this process over the run
  hung attempts   tries the hung notifier made (each held a connection 10 s)
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

INTERVAL_S = 5.0


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def run_once(mode: str, hosts: int, seconds: float, sshd, tmp: Path) -> dict:
    from sqlalchemy import select

    from collector.hub import Hub, HubOptions
    from schema.alert_models import Alert
    from schema.db import make_engine
    from schema.migrate import upgrade
    from schema.models import Sample
    from tests.support.http_receiver import Receiver
    from tests.support.hubproc import host_entry, write_inventory

    good = await Receiver().start()
    stuck = await Receiver(default="hang").start()
    temp = sshd.fakebin / "gpu0_temp"
    temp.write_text("85\n")
    inventory = write_inventory(tmp / f"{mode}.yaml", [host_entry(sshd, f"h{i:03d}") for i in range(hosts)],
                                interval=f"{INTERVAL_S:g}s")
    notify = "[good, stuck]" if mode == "hung" else "[good]"
    inventory.write_text(inventory.read_text() + f"""
alerts:
  - {{name: gpu-hot, metric: gpu_temperature_c, op: ">", threshold: 80, for: 0s, items: "0", notify: {notify}}}
notifiers:
  good: {{type: webhook, url: "{good.url('/good')}"}}
  stuck: {{type: webhook, url: "{stuck.url('/stuck')}", timeout: 10s}}
""")
    db_url = f"sqlite:///{tmp / f'{mode}.db'}"
    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    hub = Hub(inventory, engine, HubOptions(backup_every_s=0))
    cpu0, t0 = time.process_time(), time.time()
    await hub.start()
    try:
        await asyncio.sleep(seconds * 0.6)
        temp.write_text("60\n")
        await asyncio.sleep(seconds * 0.4)
        await hub.alerts.idle(30)
    finally:
        cpu = time.process_time() - cpu0
        await hub.stop()
        temp.unlink(missing_ok=True)
        await good.close()
        await stuck.close()
    with engine.connect() as conn:
        samples = conn.execute(select(Sample.host_id, Sample.ts).where(Sample.ts >= t0)
                               .order_by(Sample.host_id, Sample.ts)).all()
        alerts = {r.id: r for r in conn.execute(select(Alert.id, Alert.fired_at, Alert.resolved_at))}
    engine.dispose()
    gaps, last = [], {}
    for host_id, ts in samples:
        if host_id in last:
            gaps.append(ts - last[host_id])
        last[host_id] = ts
    fire_lat, resolve_lat = [], []
    for r in good.requests:
        doc = r.json()
        row = alerts.get(doc["alert"]["alert_id"])
        if row is None:
            continue
        if doc["status"] == "firing":
            fire_lat.append(r.wall - row.fired_at)
        elif row.resolved_at is not None:
            resolve_lat.append(r.wall - row.resolved_at)
    return {
        "mode": mode, "hosts": hosts, "seconds": seconds, "samples": len(samples), "alerts": len(alerts),
        "poll_gap_s": {"median": statistics.median(gaps), "p99": _pct(gaps, 0.99), "max": max(gaps),
                       "min": min(gaps), "count": len(gaps)},
        "firing_latency_s": {"median": statistics.median(fire_lat), "max": max(fire_lat), "count": len(fire_lat)},
        "resolve_latency_s": {"median": statistics.median(resolve_lat), "max": max(resolve_lat),
                              "count": len(resolve_lat)},
        "hub_cpu_s": cpu, "hung_attempts": len(stuck.requests),
    }


async def bench(args) -> dict:
    from tests.support.sshd import start_sshd

    sshd = start_sshd()
    try:
        with tempfile.TemporaryDirectory(prefix="fw-alert-bench-") as d:
            runs = []
            for mode in ("baseline", "hung"):
                print(f"{mode}: {args.hosts} hosts for {args.seconds:g} s ...", file=sys.stderr, flush=True)
                runs.append(await run_once(mode, args.hosts, args.seconds, sshd, Path(d)))
            return {"runs": runs}
    finally:
        sshd.stop()


def print_table(result: dict) -> None:
    print("| run | hosts | poll gap median / p99 / max | firing latency median / max | "
          "resolve latency median / max | hub CPU | hung tries |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in result["runs"]:
        g, f, s = r["poll_gap_s"], r["firing_latency_s"], r["resolve_latency_s"]
        print(f"| {r['mode']} | {r['hosts']} | {g['median']:.3f} / {g['p99']:.3f} / {g['max']:.3f} s | "
              f"{f['median'] * 1000:.0f} / {f['max'] * 1000:.0f} ms | {s['median'] * 1000:.0f} / "
              f"{s['max'] * 1000:.0f} ms | {r['hub_cpu_s']:.1f} s | {r['hung_attempts']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20, help="hosts polled (all the same test sshd; default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run (default 60)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parser.parse_args()
    result = asyncio.run(bench(args))
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_table(result)


if __name__ == "__main__":
    main()
