"""Per-GPU time series of one host: one line per card for the host page's "GPU util per card" chart.

Resolution is chosen and checked as in schema.timeseries (raw up to 6 h, minute
buckets up to 48 h, hourly beyond; the same limits on an explicit choice).
Raw and minute points come from gpu_samples, hourly ones from the per-GPU
summaries in samples_hourly.gpus (collector.rollup._gpus). That JSON keeps no
peak power, so hourly power_w uses power_avg for both avg and max.
mem_used_pct is the card's own mem_used_mb / mem_total_mb * 100.

Points are (ts, avg, max) with ts the bucket start; points without a value
are left out. A card is listed when it has any row in the range, even one
with no value for the metric (power on a GPU that reports [N/A]), so the
chart legend does not change with the metric. Ranges are [start, end].
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from schema.models import GpuSample, SampleHourly
from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import unknown_metric
from schema.timeseries import STEPS, Point, check_range
from schema.timeutil import hour_floor, time_bucket


@dataclass(frozen=True)
class GpuMetric:
    """A per-card metric, as listed by GET /api/metrics (`gpu_metrics`)."""

    description: str
    unit: str


def _catalogue_metrics() -> tuple[dict[str, GpuMetric], dict[str, tuple[str, str]]]:
    """The catalogue's GPU metrics rolled up per card (collector/metrics/catalogue.py), by their gpu_samples
    column, and the card's memory used % (over mem_total_mb); with the keys of each one's hourly avg and max
    in a samples_hourly.gpus item (no max kept: the hour's average stands for it)."""
    metrics: dict[str, GpuMetric] = {}
    hourly: dict[str, tuple[str, str]] = {}
    for m in CATALOGUE.scope("gpu"):
        if m.column and "avg" in m.rollup:
            avg = m.hourly_name("avg")
            hourly[m.key] = (avg, m.hourly_name("max") if "max" in m.rollup else avg)
            metrics[m.key] = GpuMetric(m.description + ("" if "max" in m.rollup else
                                                        " (hourly: the hour's average as max too)"), m.unit)
        elif m.key == "mem_used_pct":
            metrics[m.key] = GpuMetric(m.description, m.unit)
            hourly[m.key] = hourly["mem_used_mb"]  # over the card's mem_total_mb
    return metrics, hourly


GPU_METRICS, _HOURLY_KEYS = _catalogue_metrics()


@dataclass(frozen=True)
class GpuSeries:
    """One card's points (ts, avg, max)."""

    index: int
    name: str | None
    uuid: str | None
    points: list[Point] = field(default_factory=list)


@dataclass(frozen=True)
class GpuSeriesSet:
    """One metric of every GPU of one host, cards ordered by index."""

    host_id: str
    metric: str
    unit: str
    resolution: str
    step_s: int | None
    cards: list[GpuSeries] = field(default_factory=list)


def gpu_timeseries(session: Session, host_id: str, metric: str, start: float, end: float,
                   resolution: str | None = None) -> GpuSeriesSet:
    """Points of `metric` for each GPU of one host over [start, end] at the given or chosen resolution."""
    resolution = _check(metric, start, end, resolution)
    if resolution == "hour":
        cards = _hourly(session, host_id, metric, start, end)
    else:
        cards = _from_samples(session, host_id, metric, start, end, STEPS[resolution])
    ordered = [GpuSeries(index=i, name=c["name"], uuid=c["uuid"], points=c["points"])
               for i, c in sorted(cards.items())]
    return GpuSeriesSet(host_id=host_id, metric=metric, unit=GPU_METRICS[metric].unit, resolution=resolution,
                        step_s=STEPS[resolution], cards=ordered)


# ----------------------------------------------------------------------------- internals
def _check(metric: str, start: float, end: float, resolution: str | None) -> str:
    """Validate the arguments and return the resolution to use (same rules as schema.timeseries)."""
    if metric not in GPU_METRICS:
        raise ValueError(unknown_metric(metric, GPU_METRICS, "GPU metric"))
    return check_range(start, end, resolution)


def _card(cards: dict[int, dict[str, Any]], index: int, name: str | None, uuid: str | None) -> dict[str, Any]:
    card = cards.setdefault(int(index), {"name": None, "uuid": None, "points": []})
    # rows come oldest first: the newest known name wins (a card swapped under the same index)
    card["name"] = name or card["name"]
    card["uuid"] = uuid or card["uuid"]
    return card


def _value_column(metric: str) -> Any:
    g = GpuSample
    if metric == "mem_used_pct":
        return g.mem_used_mb * 100.0 / func.nullif(g.mem_total_mb, 0)
    return getattr(g, metric)


def _from_samples(session: Session, host_id: str, metric: str, start: float, end: float,
                  step: int | None) -> dict[int, dict[str, Any]]:
    """Raw rows (step None) or step-second buckets of gpu_samples, all cards in one query."""
    g = GpuSample
    value = _value_column(metric)
    cards: dict[int, dict[str, Any]] = {}
    if step is None:
        # ordered by ts only: the (host_id, ts) index gives that order, no sort
        query = (select(g.gpu_index, g.name, g.uuid, g.ts, value)
                 .where(g.host_id == host_id, g.ts >= start, g.ts <= end).order_by(g.ts))
        for index, name, uuid, ts, v in session.execute(query):
            card = _card(cards, index, name, uuid)
            if v is not None:
                card["points"].append((float(ts), float(v), float(v)))
        return cards
    bucket = time_bucket(g.ts, step)
    first = (start // step) * step  # the bucket holding `start`, whole
    query = (select(g.gpu_index, func.max(g.name), func.max(g.uuid), bucket.label("bucket"),
                    cast(func.avg(value), Float), cast(func.max(value), Float))
             .where(g.host_id == host_id, g.ts >= first, g.ts <= end)
             .group_by(bucket, g.gpu_index).order_by(bucket, g.gpu_index))
    for index, name, uuid, b, avg, peak in session.execute(query):
        card = _card(cards, index, name, uuid)
        if avg is not None:
            card["points"].append((float(b), float(avg), float(peak)))
    return cards


def _hourly(session: Session, host_id: str, metric: str, start: float, end: float) -> dict[int, dict[str, Any]]:
    """Per-card points from samples_hourly.gpus, one row per hour."""
    query = (select(SampleHourly.hour, SampleHourly.gpus)
             .where(SampleHourly.host_id == host_id, SampleHourly.hour >= hour_floor(start),
                    SampleHourly.hour <= end, SampleHourly.gpus.is_not(None))
             .order_by(SampleHourly.hour))
    avg_key, max_key = _HOURLY_KEYS[metric]
    cards: dict[int, dict[str, Any]] = {}
    for hour, text in session.execute(query):
        try:
            items = json.loads(text)
        except ValueError:  # a damaged row costs one hour of the chart, not the whole request
            continue
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or item.get("index") is None:
                continue
            card = _card(cards, item["index"], item.get("name"), item.get("uuid"))
            avg, peak = item.get(avg_key), item.get(max_key)
            if metric == "mem_used_pct":
                total = item.get("mem_total_mb")
                avg, peak = (_pct(avg, total), _pct(peak, total))
            if avg is not None:
                card["points"].append((float(hour), float(avg), None if peak is None else float(peak)))
    return cards


def _pct(used: float | None, total: float | None) -> float | None:
    return None if used is None or not total else used * 100.0 / total
