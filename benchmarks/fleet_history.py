"""Old raw samples for the fleet benchmark's `--history H`: work for the hub's retention inside the window.

A fresh database has nothing older than the raw retention (48 h), so a
retention run in a short benchmark would delete nothing. `seed` writes H hours
of 5 s samples per host (and 4 disk rows with each) ending one hour before
the raw-retention cutoff, before the hub starts: the hub's first retention run
(a minute after its start) has those hours to check for rollups and their rows
to delete, in batches, while the fleet is being polled.
"""
from __future__ import annotations

import random
import time

from schema.timeutil import HOUR, hour_floor

RAW_KEEP_S = 48 * HOUR  # serve's default --raw-retention
STEP_S = 5.0
MOUNTS = ("/", "/boot", "/data", "/var/lib/docker")


def seed(url: str, host_ids: list[str], hours: float, now: float | None = None) -> dict[str, float]:
    """Insert the rows (Core executemany, 20,000 a statement); returns {rows, seconds, first_ts, last_ts}."""
    from sqlalchemy import insert

    from schema.db import make_engine
    from schema.models import DiskSample, Sample

    now = time.time() if now is None else now
    end = hour_floor(now - RAW_KEEP_S) - HOUR  # whole hours, all of them before the cutoff
    start = end - hours * HOUR
    rnd = random.Random(7)
    engine = make_engine(url)
    started = time.perf_counter()
    rows = 0
    samples: list[dict] = []
    disks: list[dict] = []
    with engine.begin() as conn:
        def flush() -> None:
            nonlocal rows
            if samples:
                conn.execute(insert(Sample), samples)
                conn.execute(insert(DiskSample), disks)
                rows += len(samples) + len(disks)
                samples.clear()
                disks.clear()
        ts = start
        while ts < end:
            for host in host_ids:
                t = ts + rnd.random()
                samples.append({"host_id": host, "ts": t, "cpu_pct": rnd.uniform(0, 100), "load1": rnd.uniform(0, 8),
                                "mem_used_pct": rnd.uniform(20, 90), "mem_used_bytes": rnd.randrange(1 << 30, 1 << 36),
                                "disk_read_bps": rnd.uniform(0, 1e8), "disk_write_bps": rnd.uniform(0, 1e8),
                                "net_rx_bps": rnd.uniform(0, 1e9), "net_tx_bps": rnd.uniform(0, 1e9),
                                "disk_used_pct_max": rnd.uniform(10, 95)})
                for mount in MOUNTS:
                    disks.append({"host_id": host, "ts": t, "mount": mount, "used_bytes": rnd.randrange(1 << 40),
                                  "total_bytes": 1 << 40, "used_pct": rnd.uniform(0, 100)})
            if len(samples) >= 4000:
                flush()
            ts += STEP_S
        flush()
    engine.dispose()
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 1), "first_ts": start, "last_ts": end}
