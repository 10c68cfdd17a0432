"""Hourly rollups of raw samples into `samples_hourly`, and retention (SPEC section 4, storage).

A rollup row is upserted on (host_id, hour), so running it twice, or again
after a crash or for an hour that was still in progress, leaves one complete
row. `rollup_rows` recomputes host-hours from every raw sample; the hub's
housekeeping keeps the hour in progress up to date incrementally from the
same aggregates (`partials`, collector.rollup_partial) and, once an hour has
ended, recomputes only the hosts whose row counts fewer samples than the raw
table holds (`stale_hosts`): the late ones. Work goes in chunks, each
committed on its own: memory and write-lock time stay bounded.

Retention deletes raw rows only before the start of the hour holding the
cutoff (`now - raw_keep_s`), so an hour never loses part of its raw samples:
any hour that still has raw samples can be rolled up again correctly.
"""
from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from collector.rollup_partial import (
    DISK_LAST,
    GPU_KEEP_MAX,
    GPU_METRICS,
    LAST_METRICS,
    ROLLUP_METRICS,
    GpuPartial,
    Partial,
)
from schema.models import (
    DiskSample,
    Event,
    GpuSample,
    GpuUserHourly,
    Sample,
    SampleHourly,
    ServiceSample,
)
from schema.timeutil import HOUR, hour_floor, time_bucket
from schema.upsert import upsert

log = logging.getLogger(__name__)

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
    """Make sure the hours whose raw rows are about to go are rolled up (whole hours, see the module docstring):
    recompute the hosts whose rollup of such an hour is missing or stale."""
    for hour in hours_leaving(session, now, raw_keep_s):
        stale = stale_hosts(session, hour)
        if stale:
            upsert_hourly(session, rollup_rows(session, hour, hour + HOUR, stale))
            session.commit()


def hours_leaving(session: Session, now: float, raw_keep_s: float) -> list[int]:
    """The hours that still have raw samples and lose them at retention `now`."""
    raw_cutoff = hour_floor(now - raw_keep_s)
    oldest = session.execute(select(func.min(Sample.ts))).scalar()
    if oldest is None or oldest >= raw_cutoff:
        return []
    return list(range(hour_floor(oldest), raw_cutoff, HOUR))


def retention_steps(now: float, raw_keep_s: float, hourly_keep_s: float) -> list[tuple[str, Any, Any]]:
    """(table, model, condition) of what retention deletes."""
    raw_cutoff = hour_floor(now - raw_keep_s)
    old = now - hourly_keep_s
    steps = [(m.__tablename__, m, m.ts < raw_cutoff) for m in RAW_TABLES]
    steps.append((SampleHourly.__tablename__, SampleHourly, SampleHourly.hour < old))
    steps.append((GpuUserHourly.__tablename__, GpuUserHourly, GpuUserHourly.hour < old))
    steps.append((Event.__tablename__, Event, Event.ts < old))
    return steps


# ------------------------------ building blocks (rollup_rows reads, upsert_hourly writes) and internals
def delete_batch(session: Session, model: Any, condition: Any, batch: int = DELETE_BATCH) -> int:
    """DELETE ... WHERE id IN (first `batch` matching ids), committed: one short transaction."""
    ids = select(model.id).where(condition).limit(batch).scalar_subquery()
    result = session.execute(delete(model).where(model.id.in_(ids)), execution_options={"synchronize_session": False})
    session.commit()
    return result.rowcount or 0


def _in_range(model: Any, start: float, end: float, hosts: list[str] | None) -> list[Any]:
    conditions = [model.ts >= start, model.ts < end]
    if hosts is not None:
        conditions.append(model.host_id.in_(hosts))
    return conditions


def rollup_rows(session: Session, start: int, end: int, hosts: list[str] | None) -> list[dict[str, Any]]:
    """Rollup rows for hours [start, end) (end exclusive) as dicts keyed by samples_hourly columns; reads only."""
    return [p.row() for p in partials(session, start, end, hosts).values()]


def partials(session: Session, start: float, end: float, hosts: list[str] | None) -> dict[tuple[str, int], Partial]:
    """The running aggregates of the raw samples with start <= ts < end, one Partial per host-hour they touch
    (a window inside an hour gives that hour's share; merging the shares of disjoint windows gives the whole)."""
    bucket = time_bucket(Sample.ts, HOUR)
    aggregates = [func.count().label("sample_count")]
    for name in ROLLUP_METRICS:
        column = getattr(Sample, name)
        aggregates += [func.sum(column).label(f"{name}_sum"), func.count(column).label(f"{name}_n"),
                       func.max(column).label(f"{name}_max")]
    query = (select(Sample.host_id, bucket.label("hour"), *aggregates)
             .where(*_in_range(Sample, start, end, hosts))
             .group_by(Sample.host_id, bucket))
    found: dict[tuple[str, int], Partial] = {}
    for row in session.execute(query).all():  # positional: host, hour, then Partial.from_aggregates' values
        part = Partial.from_aggregates(row[0], int(row[1]), row[2:])
        found[(part.host_id, part.hour)] = part
    if not found:
        return found
    for key in LAST_METRICS:
        for host, hour, ts, value in _last_values(session, key, start, end, hosts):
            if (host, hour) in found:
                found[(host, hour)].see_last(key, ts, value)
    for host, hour, ts, mount, figures in _disks_last(session, start, end, hosts):
        if (host, hour) in found:
            found[(host, hour)].see_disk(ts, mount, figures)
    for row in _gpus(session, start, end, hosts):
        key = (row["host_id"], int(row["hour"]))
        if key in found:
            found[key].add_gpu(row["gpu_index"], GpuPartial.from_row(row))
    return found


def hosts_between(session: Session, start: float, end: float) -> list[str]:
    """The hosts with raw samples in [start, end) (a range of the ts index: cheap for a run's window)."""
    return sorted(session.scalars(select(Sample.host_id).where(Sample.ts >= start, Sample.ts < end).distinct()).all())


def sample_counts(session: Session, hour: int) -> dict[str, int]:
    """host_id -> raw samples in the hour (the index on (host_id, ts) answers it without reading rows)."""
    query = (select(Sample.host_id, func.count()).where(Sample.ts >= hour, Sample.ts < hour + HOUR)
             .group_by(Sample.host_id))
    return {host: int(n) for host, n in session.execute(query)}


def stale_hosts(session: Session, hour: int) -> list[str]:
    """Hosts whose rollup of `hour` is missing or was made from a different number of raw samples than the
    table holds now (samples are only ever inserted, so an equal count is the same set)."""
    raw = sample_counts(session, hour)
    rolled = dict(session.execute(select(SampleHourly.host_id, SampleHourly.sample_count)
                                  .where(SampleHourly.hour == hour)).all())
    return sorted(h for h, n in raw.items() if rolled.get(h) != n)


def _last_values(session: Session, key: str, start: float, end: float, hosts: list[str] | None) -> list[tuple]:
    """(host, hour, ts, value) of each host-hour's last sample that has a value of samples column `key`
    (a failed df leaves disk_used_pct_max NULL: the hour's last known value stands)."""
    column = Sample.__table__.c[key]
    bucket = time_bucket(Sample.ts, HOUR)
    last = (select(Sample.host_id, bucket.label("hour"), func.max(Sample.ts).label("ts"))
            .where(*_in_range(Sample, start, end, hosts), column.is_not(None))
            .group_by(Sample.host_id, bucket).subquery())
    query = (select(last.c.host_id, last.c.hour, last.c.ts, column)
             .join(Sample, and_(Sample.host_id == last.c.host_id, Sample.ts == last.c.ts))
             .where(column.is_not(None)))
    return [(host, int(hour), ts, value) for host, hour, ts, value in session.execute(query)]


def _disks_last(session: Session, start: float, end: float, hosts: list[str] | None) -> list[tuple]:
    """(host, hour, ts, mount, figures) of the last disk_samples row of each mount in each host-hour; the
    figures are the disk metrics rolled up as "last" (DISK_LAST), under their JSON keys."""
    bucket = time_bucket(DiskSample.ts, HOUR)
    last = (select(DiskSample.host_id, DiskSample.mount, bucket.label("hour"), func.max(DiskSample.ts).label("ts"))
            .where(*_in_range(DiskSample, start, end, hosts))
            .group_by(DiskSample.host_id, DiskSample.mount, bucket).subquery())
    columns = [DiskSample.__table__.c[key] for key in DISK_LAST]
    query = (select(last.c.host_id, last.c.hour, last.c.ts, DiskSample.mount, *columns)
             .join(DiskSample, and_(DiskSample.host_id == last.c.host_id, DiskSample.mount == last.c.mount,
                                    DiskSample.ts == last.c.ts)))
    names = tuple(DISK_LAST.values())
    return [(host, int(hour), ts, mount, {"mount": mount, **dict(zip(names, values))})
            for host, hour, ts, mount, *values in session.execute(query)]


def _gpus(session: Session, start: float, end: float, hosts: list[str] | None) -> list[dict[str, Any]]:
    """Per host-hour and gpu_index: samples, and per GPU metric its sum, count of values and max."""
    bucket = time_bucket(GpuSample.ts, HOUR)
    g = GpuSample
    aggregates = [func.count().label("samples")] + [func.max(getattr(g, k)).label(k) for k in GPU_KEEP_MAX]
    for col in GPU_METRICS:
        column = getattr(g, col)
        aggregates += [func.sum(column).label(f"{col}_sum"), func.count(column).label(f"{col}_n"),
                       func.max(column).label(f"{col}_max")]
    query = (select(g.host_id, bucket.label("hour"), g.gpu_index, *aggregates)
             .where(*_in_range(g, start, end, hosts))
             .group_by(g.host_id, bucket, g.gpu_index))
    return [dict(row) for row in session.execute(query).mappings()]


def upsert_hourly(session: Session, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT (host_id, hour) DO UPDATE."""
    upsert(session, SampleHourly.__table__, rows, ("host_id", "hour"), _UPSERT_COLUMNS)
