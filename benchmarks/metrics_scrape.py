"""How long one Prometheus scrape of `/metrics` takes at fleet size (issue 16: under 300 ms at 2,000 hosts).

    python3 benchmarks/metrics_scrape.py [--hosts 2000] [--gpu-share 0.2] [--gpus 8] [--rounds 10] [--db URL]

Every host's newest report comes from the fleet simulator (benchmarks/fleetsim_output: real probe.sh
output, real servers' disk and interface counts; here a GPU host has `--gpus` cards), parsed and built as a
hub does, and stored in `host_latest` of a database at the newest schema (SQLite in a temporary folder, or
`--db`). Each round first marks every report as new (as 5 s polls do between two 15 s scrapes, so the web
decodes every document again), then times `webapp.api.metrics.exposition`: the hosts' query, the
decoding, the catalogue's families and prometheus-client's text. A warm round (nothing changed) is timed
too. Prints median and p95 in ms, the size of the text and the number of series.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import fleetsim_output as fo  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402
from sqlmodel import Session  # noqa: E402

from collector.prober import probe_args, probe_command  # noqa: E402
from collector.reading import parse_output  # noqa: E402
from collector.report import build_report  # noqa: E402
from inventory import load_inventory_text  # noqa: E402
from schema.db import make_engine  # noqa: E402
from schema.fleet import DocCache, latest_doc  # noqa: E402
from schema.migrate import upgrade  # noqa: E402
from schema.models import Host  # noqa: E402
from schema.runtime_models import HostLatest  # noqa: E402
from webapp.api.metrics import exposition  # noqa: E402


@dataclass
class _Spec:
    labels: dict[str, str]


@dataclass
class _Fleet:
    """What `exposition` reads of the web's FleetSource: the inventory's hosts and the shared document cache."""

    specs: dict[str, _Spec]
    docs: DocCache = field(default_factory=DocCache)


def reports(hosts: int, gpu_share: float, gpus: int) -> list[tuple[str, dict, dict]]:
    spec = load_inventory_text("hosts:\n  - {id: h, address: 127.0.0.1, services: [nginx.service, "
                               "docker.service], disks: all}\n", "<bench>").resolved_hosts()[0]
    command = probe_command(probe_args(spec))
    asked = frozenset({"nvidia", "systemd", "os", "ps"})
    out = []
    for i in range(hosts):
        profile = fo.HostProfile(1, i, gpu_share)
        if profile.gpu_count:
            profile.gpu_count = gpus
            profile._gpus(profile.rng)
        state = fo.SimHostState(profile, 1000.0)
        first = parse_output(state.answer(command, 1000.0)[0], 0, 1000.0, asked=asked, gpu_mode="auto")
        second = parse_output(state.answer(command, 1005.0)[0], 0, 1005.0, asked=asked - {"os", "ps"})
        report = build_report(f"{profile.hostname}", (first.kept(), second), disks="all")
        facts = {"cpu_count": report.cpu_count, "gpu_count": report.gpu_count}
        out.append((report.host, report.to_dict(), facts))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=2000)
    p.add_argument("--gpu-share", type=float, default=0.2)
    p.add_argument("--gpus", type=int, default=8)
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--db", help="database URL (default: SQLite in a temporary folder)")
    a = p.parse_args()
    t0 = time.perf_counter()
    data = reports(a.hosts, a.gpu_share, a.gpus)
    print(f"{a.hosts} simulated hosts, {sum(1 for _, r, _ in data if r['gpus'])} with {a.gpus} GPUs "
          f"(built in {time.perf_counter() - t0:.1f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        url = a.db or f"sqlite:///{Path(tmp) / 'scrape.db'}"
        upgrade(url, log=lambda _m: None)
        engine = make_engine(url)
        envs = ("prod", "staging", "dev")
        fleet = _Fleet({h: _Spec({"env": envs[i % 3], "rack": f"r{i // 40:02d}", "team": "ml" if r["gpus"] else "web"})
                        for i, (h, r, _) in enumerate(data)})
        with Session(engine) as s:
            s.execute(insert(Host), [{"id": h, "address": "127.0.0.1", "state": "up", "consecutive_failures": 0}
                                     for h, _, _ in data])
            s.execute(insert(HostLatest), [{"host_id": h, "ts": 1005.0, "doc": latest_doc(r, [], None, f).decode()}
                                           for h, r, f in data])
            s.commit()
        changed, warm, size, series = [], [], 0, 0
        for round_ in range(a.rounds):
            with Session(engine) as s:
                s.execute(update(HostLatest).values(ts=HostLatest.ts + 5))  # every report new since the last scrape
                s.commit()
            with Session(engine) as s:
                t = time.perf_counter()
                text = exposition(fleet, s)
                changed.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                exposition(fleet, s)
                warm.append((time.perf_counter() - t) * 1000)
            size = len(text)
            series = sum(1 for line in text.split(b"\n") if line and not line.startswith(b"#"))
        engine.dispose()
    q = lambda xs: (statistics.median(xs), sorted(xs)[int(0.95 * (len(xs) - 1))])  # noqa: E731
    print(f"text {size / 1024:.0f} KiB, {series} series, {a.rounds} rounds")
    print(f"scrape, every report new  median {q(changed)[0]:6.0f} ms  p95 {q(changed)[1]:6.0f} ms")
    print(f"scrape, nothing new       median {q(warm)[0]:6.0f} ms  p95 {q(warm)[1]:6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
