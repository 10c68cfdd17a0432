"""The short fleet benchmark CI runs (issue 15): 300 simulated hosts, 30 s of steady state (1,800 probes), 2 collector
workers, no probe missed (a minute until the suite neared its 15 minutes; benchmarks/fleet.py runs longer by hand).

It runs `benchmarks/fleet.py` as anyone would (a real `fleetwatch serve` and the
simulator in processes of their own) and fails when any probe of the steady
state was missed or the hub did not stop cleanly.
"""
from __future__ import annotations

import json
import subprocess
import sys

from tests.support.hubproc import ROOT


def test_300_hosts_for_30_s_on_2_workers_miss_no_probe(tmp_path):
    keep = tmp_path / "fleet"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fleet.py"), "--hosts", "300", "--minutes", "0.5",
                           "--workers", "2", "--json", "--keep", str(keep)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    probes = result["probes"]
    summary = (f"warm-up {result['warmup']['seconds']} s, {probes['done']} of {probes['expected']} probes, "
               f"gap p99 {probes['gaps']['p99_s']:.3f} s, hub CPU {result['hub']['cpu_pct']} %")
    print(f"\nfleet benchmark: {summary}")
    assert proc.returncode == 0 and probes["missed"] == 0, f"{summary}\n{proc.stderr[-3000:]}"
    assert result["stop"]["exit_code"] == 0, result["stop"]
    log = (keep / "hub.log").read_text(errors="replace")
    alive = [p["name"] for p in result["hub"]["processes"] if p["alive_at_end"]]
    assert sorted(alive) == ["collector.cli.web", "collector.worker", "collector.worker", "serve"], \
        f"supervisor, two workers and the web: {result['hub']['processes']}\n{log[-3000:]}"
    assert "restarting" not in log and "Traceback" not in log, log[-3000:]
