"""Time series of one metric for charts and comparisons (SPEC section 5, timeseries and compare).

Resolution follows the range: raw 5 s samples up to 6 h, one-minute buckets
(avg and max of the raw samples) up to 48 h, hourly rows from samples_hourly
beyond. The metrics are the catalogue's stored host metrics. Those with no
samples_hourly column (load1, gpu_temp_max_c; see METRICS) are bucketed by hour from the raw samples instead, so at hourly
resolution they only have points inside the raw retention window (48 h by
default). disk_used_pct_max reads samples_hourly.disk_used_pct_last for
both avg and max. Points are (ts, avg, max) with ts the bucket start; raw
rows and buckets without a value are left out. Ranges are [start, end].
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import Metric as CatalogueMetric
from collector.metrics.model import unknown_metric
from schema.models import Sample, SampleHourly
from schema.timeutil import HOUR, MINUTE, hour_floor, time_bucket


@dataclass(frozen=True)
class Metric:
    """A chartable column of `samples` and where its hourly values live."""

    description: str
    unit: str
    hourly_avg: str | None = None  # samples_hourly column, None: bucket raw samples by hour
    hourly_max: str | None = None
    hourly_n: str | None = None  # samples_hourly column: how many samples hourly_avg is the mean of


def _hourly(m: CatalogueMetric) -> Metric:
    """Where the hourly values of a stored host metric live: its _avg / _max / _n columns, or its _last for both."""
    if "last" in m.rollup and not {"avg", "max"} & set(m.rollup):
        last = m.hourly_name("last")
        return Metric(m.description, m.unit, last, last)
    if not {"avg", "max"} <= set(m.rollup):
        return Metric(m.description + " (no hourly rollup)", m.unit)
    return Metric(m.description, m.unit, m.hourly_name("avg"), m.hourly_name("max"), m.hourly_count)


# every stored host metric of the catalogue (collector/metrics/catalogue.py)
METRICS: dict[str, Metric] = {name: _hourly(m) for name, m in CATALOGUE.chartable().items()}
RESOLUTIONS = ("raw", "minute", "hour")
STEPS: dict[str, int | None] = {"raw": None, "minute": MINUTE, "hour": HOUR}
RAW_MAX_S = 6 * HOUR  # automatic choice
MINUTE_MAX_S = 48 * HOUR
EXPLICIT_MAX_S = {"raw": 48 * HOUR, "minute": 7 * 24 * HOUR}  # explicit choice: beyond, too many points

Point = tuple[float, float | None, float | None]


@dataclass(frozen=True)
class Series:
    """One host's points (ts, avg, max) for one metric."""

    host_id: str
    metric: str
    unit: str
    resolution: str
    step_s: int | None
    points: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class SeriesWithStats(Series):
    """A series plus the average and the peak over the whole range."""

    avg: float | None = None
    peak: float | None = None


def pick_resolution(start: float, end: float) -> str:
    """"raw" for a range up to 6 h, "minute" up to 48 h, else "hour"."""
    span = end - start
    if span <= RAW_MAX_S:
        return "raw"
    if span <= MINUTE_MAX_S:
        return "minute"
    return "hour"


def _check(metric: str, start: float, end: float, resolution: str | None) -> str:
    """Validate the arguments and return the resolution to use."""
    if metric not in METRICS:
        raise ValueError(unknown_metric(metric, METRICS))
    return check_range(start, end, resolution)


def check_range(start: float, end: float, resolution: str | None) -> str:
    """Validate a range and a resolution (or pick one); the resolution to use. Shared with per-GPU series."""
    if start >= end:
        raise ValueError(f"start ({start}) must be before end ({end})")
    if resolution is None:
        return pick_resolution(start, end)
    if resolution not in RESOLUTIONS:
        raise ValueError(f"unknown resolution {resolution!r}; allowed: {', '.join(RESOLUTIONS)}")
    limit = EXPLICIT_MAX_S.get(resolution)
    if limit is not None and end - start > limit:
        raise ValueError(f"resolution {resolution!r} is limited to ranges of {limit // HOUR} h "
                         f"(asked {(end - start) / HOUR:.1f} h): too many points; use a coarser one")
    return resolution


def timeseries(session: Session, host_id: str, metric: str, start: float, end: float,
               resolution: str | None = None) -> Series:
    """Points of `metric` for one host over [start, end] at the given or chosen resolution."""
    resolution = _check(metric, start, end, resolution)
    points = _points(session, host_id, metric, start, end, resolution)
    return Series(host_id=host_id, metric=metric, unit=METRICS[metric].unit, resolution=resolution,
                  step_s=STEPS[resolution], points=points)


def compare(session: Session, host_ids: Sequence[str], metric: str, start: float, end: float,
            resolution: str | None = None) -> list[SeriesWithStats]:
    """One series per host (in the order given, duplicates dropped) with its average and peak over the range."""
    resolution = _check(metric, start, end, resolution)
    hosts = list(dict.fromkeys(host_ids))
    stats = _stats(session, hosts, metric, start, end, resolution) if hosts else {}
    out = []
    for host in hosts:
        avg, peak = stats.get(host, (None, None))
        out.append(SeriesWithStats(host_id=host, metric=metric, unit=METRICS[metric].unit, resolution=resolution,
                                   step_s=STEPS[resolution],
                                   points=_points(session, host, metric, start, end, resolution),
                                   avg=avg, peak=peak))
    return out


# ----------------------------------------------------------------------------- internals
def _uses_hourly(metric: str, resolution: str) -> bool:
    return resolution == "hour" and METRICS[metric].hourly_avg is not None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _points(session: Session, host_id: str, metric: str, start: float, end: float, resolution: str) -> list[Point]:
    if _uses_hourly(metric, resolution):
        info = METRICS[metric]
        avg_col, max_col = getattr(SampleHourly, info.hourly_avg), getattr(SampleHourly, info.hourly_max)
        query = (select(SampleHourly.hour, avg_col, max_col)
                 .where(SampleHourly.host_id == host_id, SampleHourly.hour >= hour_floor(start),
                        SampleHourly.hour <= end, avg_col.is_not(None))
                 .order_by(SampleHourly.hour))
        return [(float(h), _float(a), _float(m)) for h, a, m in session.execute(query)]
    column = getattr(Sample, metric)
    window = [Sample.host_id == host_id, Sample.ts <= end, column.is_not(None)]
    if resolution == "raw":
        query = select(Sample.ts, column).where(Sample.ts >= start, *window).order_by(Sample.ts)
        return [(float(ts), float(v), float(v)) for ts, v in session.execute(query)]
    step = STEPS[resolution]
    bucket = time_bucket(Sample.ts, step)
    first = (start // step) * step  # the bucket holding `start`, whole
    query = (select(bucket.label("bucket"), cast(func.avg(column), Float), func.max(column))
             .where(Sample.ts >= first, *window).group_by(bucket).order_by(bucket))
    return [(float(b), _float(a), _float(m)) for b, a, m in session.execute(query)]


def _stats(session: Session, hosts: list[str], metric: str, start: float, end: float,
           resolution: str) -> dict[str, tuple[float | None, float | None]]:
    """{host: (avg, peak)} over the range, from the same data the points come from.

    Raw and minute resolutions average the raw values (NULLs left out): the mean of the samples that had the
    metric. At hourly resolution each hour's average weighs as many samples as it is the mean of (its `<key>_n`
    column), so the result is that same mean: a GPU that answered in 2 of an hour's 12 samples counts twice,
    not 12 times. Rows rolled up before `<key>_n` existed (NULL there) weigh their sample_count instead, as
    before: exact where the metric was in every sample of those hours, else those hours weigh too much.
    Metrics rolled up as "last" (disk_used_pct_max) weigh by sample_count."""
    if _uses_hourly(metric, resolution):
        info = METRICS[metric]
        avg_col, max_col = getattr(SampleHourly, info.hourly_avg), getattr(SampleHourly, info.hourly_max)
        weight = SampleHourly.sample_count
        if info.hourly_n is not None:
            weight = func.coalesce(getattr(SampleHourly, info.hourly_n), weight)
        # the mean of hourly means weighted by how many values each is the mean of is the mean of the values
        weighted = func.sum(avg_col * weight) / func.nullif(func.sum(func.coalesce(weight, 0)), 0)
        query = (select(SampleHourly.host_id, cast(weighted, Float), func.max(max_col))
                 .where(SampleHourly.host_id.in_(hosts), SampleHourly.hour >= hour_floor(start),
                        SampleHourly.hour <= end, avg_col.is_not(None))
                 .group_by(SampleHourly.host_id))
    else:
        column = getattr(Sample, metric)
        first = start if resolution == "raw" else (start // STEPS[resolution]) * STEPS[resolution]
        query = (select(Sample.host_id, cast(func.avg(column), Float), func.max(column))
                 .where(Sample.host_id.in_(hosts), Sample.ts >= first, Sample.ts <= end)
                 .group_by(Sample.host_id))
    return {host: (_float(a), _float(m)) for host, a, m in session.execute(query)}
