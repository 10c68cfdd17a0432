"""Hourly rollups of raw samples into `samples_hourly`, and retention (SPEC section 4, storage).

A rollup row is always recomputed from every raw sample of its host-hour and
upserted on (host_id, hour), so running it twice, or again after a crash or
for an hour that was still in progress, leaves one complete row. Work goes in
chunks of hours, each committed on its own: memory and write-lock time stay
bounded for 1,000 hosts, and a crash loses at most the chunk in progress.

Retention deletes raw rows only before the start of the hour holding the
cutoff (`now - raw_keep_s`), so an hour never loses part of its raw samples:
any hour that still has raw samples can be rolled up again correctly.
"""
from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Any

from sqlalchemy import Float, and_, cast, delete, func, select
from sqlalchemy.orm import Session

from schema.models import DiskSample, Event, GpuSample, Sample, SampleHourly, ServiceSample
from schema.upsert import upsert
from schema.timeutil import HOUR, hour_floor, time_bucket

log = logging.getLogger(__name__)

# samples column -> rolled up as <name>_avg and <name>_max
ROLLUP_METRICS = (
    "cpu_pct", "mem_used_pct", "mem_used_bytes", "gpu_util_pct", "gpu_mem_used_pct",
    "disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps",
)
CHUNK_HOURS = 4
DELETE_BATCH = 5000
RAW_TABLES = (Sample, GpuSample, DiskSample, ServiceSample)

_UPSERT_COLUMNS = [c.name for c in SampleHourly.__table__.columns if c.name not in ("id", "host_id", "hour")]


def rollup_hours(session: Session, start_hour: int, end_hour: int, host_ids: list[str] | None = None,
                 *, chunk_hours: int = CHUNK_HOURS) -> int:
    """Recompute and upsert every (host, hour) with raw samples in [start_hour, end_hour]; returns rows upserted."""
    start, end = hour_floor(start_hour), hour_floor(end_hour)
    hosts = sorted(set(host_ids)) if host_ids else None
    if host_ids is not None and not hosts:
        return 0
    total = 0
    for chunk_start in range(start, end + 1, HOUR * chunk_hours):
        chunk_end = min(end + HOUR, chunk_start + HOUR * chunk_hours)  # exclusive
        rows = rollup_rows(session, chunk_start, chunk_end, hosts)
        if rows:
            upsert_hourly(session, rows)
        session.commit()
        total += len(rows)
    return total


def hours_to_fill(session: Session, now: float) -> tuple[int, int] | None:
    """(first, last) hour to roll up: from the newest rollup (redone) or the oldest raw sample, to now's hour."""
    newest = session.execute(select(func.max(SampleHourly.hour))).scalar()
    if newest is None:
        oldest = session.execute(select(func.min(Sample.ts))).scalar()
        if oldest is None:
            return None
        first = hour_floor(oldest)
    else:
        first = int(newest)
    last = hour_floor(now)
    return (first, last) if first <= last else None


def apply_retention(session: Session, now: float, raw_keep_s: float = 48 * 3600,
                    hourly_keep_s: float = 2 * 365 * 86400, *, batch: int = DELETE_BATCH) -> dict[str, int]:
    """Roll up the hours about to lose their raw rows, then delete old raw, hourly and event rows (all in this
    call; the hub's housekeeping runs `retention_steps` one batch at a time instead, between flushes)."""
    counts: dict[str, int] = {}
    prepare_retention(session, now, raw_keep_s)
    for name, model, condition in retention_steps(now, raw_keep_s, hourly_keep_s):
        counts[name] = 0
        while True:
            n = delete_batch(session, model, condition, batch)
            counts[name] += n
            if n < batch:
                break
    log.info("retention: deleted %s", counts)
    return counts


def prepare_retention(session: Session, now: float, raw_keep_s: float) -> None:
    """Roll up the hours whose raw rows are about to go (whole hours only, see the module docstring)."""
    raw_cutoff = hour_floor(now - raw_keep_s)
    oldest = session.execute(select(func.min(Sample.ts))).scalar()
    if oldest is not None and oldest < raw_cutoff:
        rollup_hours(session, hour_floor(oldest), raw_cutoff - HOUR)


def retention_steps(now: float, raw_keep_s: float, hourly_keep_s: float) -> list[tuple[str, Any, Any]]:
    """(table, model, condition) of what retention deletes."""
    raw_cutoff = hour_floor(now - raw_keep_s)
    old = now - hourly_keep_s
    steps = [(m.__tablename__, m, m.ts < raw_cutoff) for m in RAW_TABLES]
    steps.append((SampleHourly.__tablename__, SampleHourly, SampleHourly.hour < old))
    steps.append((Event.__tablename__, Event, Event.ts < old))
    return steps


# ------------------------------ building blocks (rollup_rows reads, upsert_hourly writes) and internals
def delete_batch(session: Session, model: Any, condition: Any, batch: int = DELETE_BATCH) -> int:
    """DELETE ... WHERE id IN (first `batch` matching ids), committed: one short transaction."""
    ids = select(model.id).where(condition).limit(batch).scalar_subquery()
    result = session.execute(delete(model).where(model.id.in_(ids)), execution_options={"synchronize_session": False})
    session.commit()
    return result.rowcount or 0


def _in_range(model: Any, start: int, end: int, hosts: list[str] | None) -> list[Any]:
    conditions = [model.ts >= start, model.ts < end]
    if hosts is not None:
        conditions.append(model.host_id.in_(hosts))
    return conditions


def rollup_rows(session: Session, start: int, end: int, hosts: list[str] | None) -> list[dict[str, Any]]:
    """Rollup rows for hours [start, end) (end exclusive) as dicts keyed by samples_hourly columns; reads only."""
    bucket = time_bucket(Sample.ts, HOUR)
    aggregates = [func.count().label("sample_count")]
    for name in ROLLUP_METRICS:
        column = getattr(Sample, name)
        aggregates.append(cast(func.avg(column), Float).label(f"{name}_avg"))
        aggregates.append(func.max(column).label(f"{name}_max"))
    query = (select(Sample.host_id, bucket.label("hour"), *aggregates)
             .where(*_in_range(Sample, start, end, hosts))
             .group_by(Sample.host_id, bucket))
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for row in session.execute(query).mappings():
        record = dict(row)
        record["hour"] = int(record["hour"])
        if record["mem_used_bytes_max"] is not None:
            record["mem_used_bytes_max"] = int(record["mem_used_bytes_max"])
        record.update(disk_used_pct_last=None, disks="[]", gpus="[]")
        rows[(record["host_id"], record["hour"])] = record
    if not rows:
        return []
    for key, value in _disk_used_last(session, start, end, hosts).items():
        if key in rows:
            rows[key]["disk_used_pct_last"] = value
    for key, disks in _disks_last(session, start, end, hosts).items():
        if key in rows:
            rows[key]["disks"] = json.dumps(disks, separators=(",", ":"))
    for key, gpus in _gpus(session, start, end, hosts).items():
        if key in rows:
            rows[key]["gpus"] = json.dumps(gpus, separators=(",", ":"))
    return list(rows.values())


def _disk_used_last(session: Session, start: int, end: int, hosts: list[str] | None) -> dict[tuple[str, int], float]:
    """disk_used_pct_max of each host-hour's last sample that has one (a failed df leaves NULL)."""
    bucket = time_bucket(Sample.ts, HOUR)
    last = (select(Sample.host_id, bucket.label("hour"), func.max(Sample.ts).label("ts"))
            .where(*_in_range(Sample, start, end, hosts), Sample.disk_used_pct_max.is_not(None))
            .group_by(Sample.host_id, bucket).subquery())
    query = (select(last.c.host_id, last.c.hour, Sample.disk_used_pct_max)
             .join(Sample, and_(Sample.host_id == last.c.host_id, Sample.ts == last.c.ts))
             .where(Sample.disk_used_pct_max.is_not(None)))
    return {(host, int(hour)): value for host, hour, value in session.execute(query)}


def _disks_last(session: Session, start: int, end: int, hosts: list[str] | None) -> dict[tuple[str, int], list]:
    """Per host-hour, the last disk_samples row of each mount."""
    bucket = time_bucket(DiskSample.ts, HOUR)
    last = (select(DiskSample.host_id, DiskSample.mount, bucket.label("hour"), func.max(DiskSample.ts).label("ts"))
            .where(*_in_range(DiskSample, start, end, hosts))
            .group_by(DiskSample.host_id, DiskSample.mount, bucket).subquery())
    query = (select(last.c.host_id, last.c.hour, DiskSample.mount, DiskSample.used_bytes,
                    DiskSample.total_bytes, DiskSample.used_pct)
             .join(DiskSample, and_(DiskSample.host_id == last.c.host_id, DiskSample.mount == last.c.mount,
                                    DiskSample.ts == last.c.ts)))
    found: dict[tuple[str, int], dict[str, dict]] = defaultdict(dict)
    for host, hour, mount, used, total, pct in session.execute(query):
        found[(host, int(hour))][mount] = {"mount": mount, "used_bytes": used, "total_bytes": total, "used_pct": pct}
    return {key: [mounts[m] for m in sorted(mounts)] for key, mounts in found.items()}


def _gpus(session: Session, start: int, end: int, hosts: list[str] | None) -> dict[tuple[str, int], list]:
    """Per host-hour, one summary per gpu_index from gpu_samples."""
    bucket = time_bucket(GpuSample.ts, HOUR)
    g = GpuSample
    query = (select(g.host_id, bucket.label("hour"), g.gpu_index,
                    func.max(g.name).label("name"), func.max(g.uuid).label("uuid"),
                    cast(func.avg(g.util_pct), Float).label("util_avg"), func.max(g.util_pct).label("util_max"),
                    cast(func.avg(g.mem_used_mb), Float).label("mem_used_mb_avg"),
                    func.max(g.mem_used_mb).label("mem_used_mb_max"), func.max(g.mem_total_mb).label("mem_total_mb"),
                    cast(func.avg(g.temperature_c), Float).label("temp_avg"),
                    func.max(g.temperature_c).label("temp_max"),
                    cast(func.avg(g.power_w), Float).label("power_avg"), func.count().label("samples"))
             .where(*_in_range(g, start, end, hosts))
             .group_by(g.host_id, bucket, g.gpu_index)
             .order_by(g.host_id, bucket, g.gpu_index))
    found: dict[tuple[str, int], list] = defaultdict(list)
    for row in session.execute(query).mappings():
        item = {"index": row["gpu_index"]}
        item.update({k: row[k] for k in ("name", "uuid", "util_avg", "util_max", "mem_used_mb_avg", "mem_used_mb_max",
                                          "mem_total_mb", "temp_avg", "temp_max", "power_avg", "samples")})
        for key in ("util_avg", "mem_used_mb_avg", "temp_avg", "power_avg"):  # short JSON, quick to decode
            if item[key] is not None:
                item[key] = round(item[key], 3)
        found[(row["host_id"], int(row["hour"]))].append(item)
    return found


def upsert_hourly(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (host_id, hour) DO UPDATE."""
    upsert(session, SampleHourly.__table__, rows, ("host_id", "hour"), _UPSERT_COLUMNS)
