"""Time `schema.history.query_hourly` on 1,000 hosts x 30 days of hourly rows (720,000 rows).

Run from the repository root:

    python benchmarks/history_query.py /tmp/fw-history-bench.db [--runs 20]

The database is built on the first run (about a minute) and reused while it
holds the expected rows; a PostgreSQL URL works too (`postgresql://...`).
Each case asks for a 1000-row page (limit=1000) and includes the `total`
count, as the API does. Rows look like a real fleet's: two disks on every
host, eight GPUs on every fourth. Prints a Markdown table of the median and
95th percentile in ms (target: median under 100 ms; the exit status is 1 when
one of the three main cases misses it), then the query plans.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402
from sqlmodel import Session, SQLModel  # noqa: E402

from schema import history  # noqa: E402
from schema.db import make_engine  # noqa: E402
from schema.history import query_hourly  # noqa: E402
from schema.models import SampleHourly  # noqa: E402

END_HOUR = 1795255200  # 2026-11-21T10:00:00Z: the newest hour in the data set
HOUR = 3600
TARGET_MS = 100.0


def host_name(i: int) -> str:
    return f"gpu{i:04d}" if i % 4 == 0 else f"node{i:04d}"


def make_row(rng: random.Random, host_i: int, hour: int) -> dict:
    cpu = rng.uniform(0, 100)
    gpus = None
    if host_i % 4 == 0:
        gpus = json.dumps([{"index": g, "name": "NVIDIA H100 80GB HBM3", "uuid": f"GPU-{host_i:04d}-{g}",
                            "util_avg": round(rng.uniform(0, 100), 3), "util_max": 100.0, "mem_used_mb_avg": 40000.5,
                            "mem_used_mb_max": 79000.0, "mem_total_mb": 81559.0, "temp_avg": 61.2,
                            "temp_max": 74.0, "power_avg": 402.7, "samples": 720} for g in range(8)],
                          separators=(",", ":"))
    disks = json.dumps([{"mount": "/", "used_bytes": 41_000_000_000, "total_bytes": 100_000_000_000, "used_pct": 41.0},
                        {"mount": "/data", "used_bytes": 3_100_000_000_000, "total_bytes": 7_600_000_000_000,
                         "used_pct": 40.8}], separators=(",", ":"))
    return {
        "host_id": host_name(host_i), "hour": hour, "sample_count": 720,
        "cpu_pct_avg": cpu, "cpu_pct_max": min(100.0, cpu + rng.uniform(0, 30)),
        "mem_used_pct_avg": 55.0, "mem_used_pct_max": 61.0, "mem_used_bytes_avg": 7.1e10,
        "mem_used_bytes_max": 78_000_000_000, "gpu_util_pct_avg": 50.0 if gpus else None,
        "gpu_util_pct_max": 99.0 if gpus else None, "gpu_mem_used_pct_avg": 48.0 if gpus else None,
        "gpu_mem_used_pct_max": 97.0 if gpus else None, "disk_read_bps_avg": 1.2e6, "disk_read_bps_max": 9.9e7,
        "disk_write_bps_avg": 3.4e6, "disk_write_bps_max": 2.1e8, "net_rx_bps_avg": 5.5e6,
        "net_rx_bps_max": 1.1e9, "net_tx_bps_avg": 4.4e6, "net_tx_bps_max": 9.8e8,
        "disk_used_pct_last": 41.0, "disks": disks, "gpus": gpus,
    }


def build(engine, hosts: int, days: int) -> None:
    """Fill samples_hourly with hosts x days x 24 rows in one transaction."""
    rng = random.Random(7)
    hours = [END_HOUR - k * HOUR for k in range(days * 24)]
    table = SampleHourly.__table__
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":  # build only: nothing to lose if it crashes
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        conn.execute(table.delete())
        batch: list[dict] = []
        for hour in reversed(hours):  # in time order, as rollups arrive
            for i in range(hosts):
                batch.append(make_row(rng, i, hour))
            if len(batch) >= 20_000:
                conn.execute(table.insert(), batch)
                batch.clear()
        if batch:
            conn.execute(table.insert(), batch)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE samples_hourly")


def ensure_data(engine, hosts: int, days: int) -> float | None:
    """Reuse the data when it has the expected rows; else build it. Returns build seconds or None."""
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        count = s.execute(select(func.count()).select_from(SampleHourly)).scalar_one()
        newest = s.execute(select(func.max(SampleHourly.hour))).scalar()
    if count == hosts * days * 24 and newest == END_HOUR:
        return None
    started = time.perf_counter()
    build(engine, hosts, days)
    return time.perf_counter() - started


def cases(hosts: int) -> list[tuple[str, dict]]:
    start_30d = END_HOUR - 30 * 86400
    # every 20th host: all of them have 8 GPUs, the worst case for decoding the `gpus` JSON
    fifty = [host_name(i) for i in range(0, hosts, max(1, hosts // 50))][:50]
    return [
        ("everything, sort -hour (default)", {}),
        ("1 host, 30 days, sort -hour", {"host_ids": [host_name(hosts // 2)], "start": start_30d,
                                         "end": END_HOUR + HOUR}),
        ("50 hosts, 7 days, sort -cpu_pct_max", {"host_ids": fifty, "start": END_HOUR - 7 * 86400,
                                                 "end": END_HOUR + HOUR, "sort": "-cpu_pct_max"}),
        # extras, not held to the target: a deep offset, and the page without the JSON details
        ("extra: everything, sort host_id,-hour, offset 100000", {"sort": "host_id,-hour", "offset": 100_000}),
        ("extra: 50 hosts, 7 days, sort -cpu_pct_max, details=False", {"host_ids": fifty, "start": END_HOUR - 7 * 86400,
                                                                "end": END_HOUR + HOUR, "sort": "-cpu_pct_max",
                                                                "details": False}),
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))  # nearest rank
    return ordered[k]


def time_case(engine, kwargs: dict, runs: int) -> tuple[list[float], int, int]:
    times = []
    page = None
    with Session(engine) as s:
        query_hourly(s, limit=1000, **kwargs)  # warm-up: the page cache, SQLAlchemy's statement cache
        for _ in range(runs):
            started = time.perf_counter()
            page = query_hourly(s, limit=1000, **kwargs)
            times.append((time.perf_counter() - started) * 1000)
    return times, page.total, len(page.rows)


def api_cases(hosts: int) -> list[tuple[str, dict]]:
    fifty = [host_name(i) for i in range(0, hosts, max(1, hosts // 50))][:50]
    return [
        ("GET /api/history/hourly?limit=1000 (30 days, -hour)", {"limit": 1000, "from": END_HOUR - 30 * 86400,
                                                                 "to": END_HOUR + HOUR}),
        ("GET ... 50 hosts, 7 days, sort=-cpu_pct_max", {"limit": 1000, "server_id": ",".join(fifty),
                                                         "from": END_HOUR - 7 * 86400, "to": END_HOUR + HOUR,
                                                         "sort": "-cpu_pct_max"}),
    ]


def time_api_case(engine, params: dict, runs: int) -> tuple[list[float], int, int]:
    """The whole endpoint in-process: routing, validation, query, JSON encoding (no network)."""
    from types import SimpleNamespace

    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)  # starlette's note about httpx in its test client
    from fastapi.testclient import TestClient

    from webapp.app import create_app

    import secrets

    from sqlmodel import Session

    from schema import auth
    from schema.auth_models import ApiToken

    ApiToken.__table__.create(engine, checkfirst=True)  # a database built before tokens existed
    with Session(engine) as session:  # the API needs a token, as every client's request has
        token = auth.create_token(session, f"bench-{secrets.token_hex(4)}", "viewer", time.time())
    client = TestClient(create_app(SimpleNamespace(engine=engine), manage_hub=False),
                        headers={"Authorization": f"Bearer {token}"})
    client.get("/api/history/hourly", params=params)  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        resp = client.get("/api/history/hourly", params=params)
        times.append((time.perf_counter() - started) * 1000)
    if resp.status_code != 200:
        raise SystemExit(f"GET /api/history/hourly -> {resp.status_code}: {resp.text[:300]}")
    body = json.loads(resp.content)
    return times, body["total"], len(body["rows"])


def explain(engine, kwargs: dict) -> list[str]:
    """The database's plan for the page query of one case."""
    conditions = history._filters(kwargs.get("host_ids"), kwargs.get("start"), kwargs.get("end"))
    query = history._page_query(conditions, kwargs.get("sort", "-hour"), 1000, kwargs.get("offset", 0),
                                kwargs.get("details", True))
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(prefix + str(compiled)).all()
    return [str(r[-1]) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", help="SQLite file (built if missing or incomplete) or a database URL")
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-plans", action="store_true", help="do not print the query plans")
    args = parser.parse_args(argv)
    engine = make_engine(args.db)
    built = ensure_data(engine, args.hosts, args.days)
    rows = args.hosts * args.days * 24
    print(f"data: {args.hosts} hosts x {args.days} days = {rows:,} rows, "
          + (f"built in {built:.0f} s" if built is not None else "reused"), f"({engine.dialect.name})\n")
    print("| case | rows returned | total | median ms | p95 ms | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    slow = False
    for name, kwargs in cases(args.hosts):
        times, total, returned = time_case(engine, kwargs, args.runs)
        median, p95 = statistics.median(times), percentile(times, 95)
        ok = median < TARGET_MS
        slow |= not ok and not name.startswith("extra")
        print(f"| {name} | {returned} | {total:,} | {median:.1f} | {p95:.1f} | {'ok' if ok else 'missed'} |")
    for name, params in api_cases(args.hosts):
        times, total, returned = time_api_case(engine, params, args.runs)
        median, p95 = statistics.median(times), percentile(times, 95)
        ok = median < TARGET_MS
        slow |= not ok
        print(f"| {name} | {returned} | {total:,} | {median:.1f} | {p95:.1f} | {'ok' if ok else 'missed'} |")
    if not args.no_plans:
        for name, kwargs in cases(args.hosts):
            print(f"\nplan, {name}:")
            for line in explain(engine, kwargs):
                print(f"    {line}")
    engine.dispose()
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
