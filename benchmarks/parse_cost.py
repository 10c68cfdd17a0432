"""Hub CPU to turn one probe's output into a report: split, parse every section, build the report.

    python3 benchmarks/parse_cost.py [--hosts 40] [--rounds 20]

The output comes from benchmarks/fleetsim_output (the fleet simulator: real
probe.sh format, disk and interface counts of real servers, 20 % of hosts with
1-8 GPUs), two readings 5 s apart per host so rates are computed as in a poll.
Prints the median and p95 of microseconds per probe over the rounds (one
round: every host once), for parse_output alone and with build_report.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import fleetsim_output as fo  # noqa: E402

from collector.prober import probe_args, probe_command  # noqa: E402
from collector.reading import parse_output  # noqa: E402
from collector.report import build_report  # noqa: E402
from inventory import load_inventory_text  # noqa: E402


def outputs(hosts: int) -> list[tuple[str, bytes, bytes, frozenset, str]]:
    spec = load_inventory_text("hosts:\n  - {id: h, address: 127.0.0.1, services: [nginx.service, "
                               "docker.service], disks: all}\n", "<bench>").resolved_hosts()[0]
    command = probe_command(probe_args(spec))
    asked = frozenset({"nvidia", "systemd"})
    found = []
    for i in range(hosts):
        state = fo.SimHostState(fo.HostProfile(1, i), 1000.0)
        first = state.answer(command, 1000.0)[0]
        second = state.answer(command, 1005.0)[0]
        found.append((f"h{i}", first, second, asked, spec.gpu))
    return found


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=40)
    p.add_argument("--rounds", type=int, default=20)
    a = p.parse_args()
    data = outputs(a.hosts)
    size = statistics.median(len(d[2]) for d in data)
    parse_us, report_us = [], []
    for _ in range(a.rounds):
        t0 = time.perf_counter()
        readings = [(parse_output(d[1], 0, 1000.0, asked=d[3], gpu_mode=d[4]),
                     parse_output(d[2], 0, 1005.0, asked=d[3], gpu_mode=d[4])) for d in data]
        t1 = time.perf_counter()
        for (host, *_), pair in zip(data, readings):
            build_report(host, pair, disks="all")
        t2 = time.perf_counter()
        parse_us.append((t1 - t0) / (2 * len(data)) * 1e6)
        report_us.append((t2 - t1) / len(data) * 1e6)
    q = lambda xs: (statistics.median(xs), sorted(xs)[int(0.95 * (len(xs) - 1))])  # noqa: E731
    print(f"{a.hosts} simulated hosts, output median {size / 1024:.1f} KiB, {a.rounds} rounds")
    print(f"parse_output  median {q(parse_us)[0]:7.0f} us  p95 {q(parse_us)[1]:7.0f} us per probe")
    print(f"build_report  median {q(report_us)[0]:7.0f} us  p95 {q(report_us)[1]:7.0f} us per probe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
