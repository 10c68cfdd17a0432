"""One host-hour's rollup as running aggregates that merge: what makes rollups incremental (pure, no database).

A `Partial` holds sums, counts of non-null values and maxima rather than
averages, so the aggregates of two disjoint time windows of the same
host-hour merge exactly: (a + b).row() equals the rollup of both windows read
at once. The hub's housekeeping keeps one Partial per host for the hour in
progress and adds only the samples that arrived since its last run
(collector.housekeeping); a full recompute (collector.rollup.rollup_rows)
builds the same Partials from the whole hour.
"""
from __future__ import annotations

import json
from typing import Any

from collector.metrics.catalogue import CATALOGUE

# from the metric catalogue: samples columns rolled up as avg and / or max (host scope) ...
_HOST = tuple(m for m in CATALOGUE.rolled_up("host") if {"avg", "max"} & set(m.rollup))
ROLLUP_METRICS = tuple(m.key for m in _HOST)
_OUT = tuple((m.hourly_name("avg") if "avg" in m.rollup else None, m.hourly_count,
              m.hourly_name("max") if "max" in m.rollup else None, m.column in ("bigint", "int")) for m in _HOST)
# ... samples columns whose hourly value is the hour's last one -> its samples_hourly column
LAST_METRICS = {m.key: m.hourly_name("last") for m in CATALOGUE.rolled_up("host", "last")}
# gpu_samples column -> (name of its average in the JSON, name of its maximum or None)
GPU_METRICS = {m.key: (m.hourly_name("avg"), m.hourly_name("max") if "max" in m.rollup else None)
               for m in CATALOGUE.rolled_up("gpu", "avg")}
# disk_samples columns whose last value of the hour goes in the hour's per-disk JSON, under these keys
DISK_LAST = {m.key: m.hourly_name("last") for m in CATALOGUE.rolled_up("disk", "last")}
_N = len(ROLLUP_METRICS)
GPU_KEEP_MAX = ("name", "uuid", "mem_total_mb")  # SQL max() over the hour, as the full recompute has always done
_GPU_ORDER = ("index", "name", "uuid", *(k for m in CATALOGUE.scope("gpu") for k in (
    (GPU_METRICS[m.key][0], *GPU_METRICS[m.key][1:2]) if m.key in GPU_METRICS
    else (m.key,) if m.key in GPU_KEEP_MAX else ()) if k), "samples")


def _max(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b


class GpuPartial:
    """One card of one host-hour: samples, and per metric the sum and count of non-null values and the max."""

    __slots__ = ("samples", "sums", "counts", "maxes", "kept")

    def __init__(self) -> None:
        self.samples = 0
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.maxes: dict[str, Any] = {}
        self.kept: dict[str, Any] = {}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> GpuPartial:
        """From the aggregate query's row: samples, <col>_sum, <col>_n, <col>_max for GPU_METRICS, and GPU_KEEP_MAX."""
        g = cls()
        g.samples = int(row["samples"])
        for col in GPU_METRICS:
            g.sums[col] = float(row[f"{col}_sum"] or 0)  # PostgreSQL sums integers as numeric
            g.counts[col] = int(row[f"{col}_n"] or 0)
            g.maxes[col] = row[f"{col}_max"]
        g.kept = {k: row[k] for k in GPU_KEEP_MAX}
        return g

    def merge(self, other: GpuPartial) -> None:
        self.samples += other.samples
        for col in GPU_METRICS:
            self.sums[col] = self.sums.get(col, 0.0) + other.sums.get(col, 0.0)
            self.counts[col] = self.counts.get(col, 0) + other.counts.get(col, 0)
            self.maxes[col] = _max(self.maxes.get(col), other.maxes.get(col))
        for k in GPU_KEEP_MAX:
            self.kept[k] = _max(self.kept.get(k), other.kept.get(k))

    def item(self, index: int) -> dict[str, Any]:
        out: dict[str, Any] = {"index": index, "name": self.kept.get("name"), "uuid": self.kept.get("uuid")}
        for col, (avg_key, max_key) in GPU_METRICS.items():
            n = self.counts.get(col, 0)
            out[avg_key] = round(self.sums[col] / n, 3) if n else None  # short JSON, quick to decode
            if max_key:
                out[max_key] = self.maxes.get(col)
        out["mem_total_mb"] = self.kept.get("mem_total_mb")
        out["samples"] = self.samples
        return {k: out[k] for k in _GPU_ORDER}


class Partial:
    """One host-hour: sample count; per metric (ROLLUP_METRICS order) sum, count of non-null values and max;
    the last value of each of LAST_METRICS and the last disk figures (by sample time), and one GpuPartial per
    card index. Lists, not dicts: a run at 5,000 hosts builds and merges 5,000 of these."""

    __slots__ = ("host_id", "hour", "count", "sums", "counts", "maxes", "last", "disks", "gpus")

    def __init__(self, host_id: str, hour: int) -> None:
        self.host_id, self.hour = host_id, hour
        self.count = 0
        self.sums: list[float] = [0.0] * _N
        self.counts: list[int] = [0] * _N
        self.maxes: list[Any] = [None] * _N
        self.last: dict[str, tuple[float, Any]] = {}  # samples column -> (ts, value) of LAST_METRICS
        self.disks: dict[str, tuple[float, dict[str, Any]]] = {}  # mount -> (ts, figures)
        self.gpus: dict[int, GpuPartial] = {}

    @classmethod
    def from_aggregates(cls, host_id: str, hour: int, values) -> Partial:
        """From the samples aggregate query's values after host and hour: sample_count, then sum, count and
        max of each of ROLLUP_METRICS (collector.rollup.partials)."""
        part = cls(host_id, hour)
        part.count = int(values[0])
        part.sums = [float(v or 0) for v in values[1::3]]  # numeric on PostgreSQL
        part.counts = [int(v or 0) for v in values[2::3]]
        part.maxes = list(values[3::3])
        return part

    def see_last(self, key: str, ts: float, value: Any) -> None:
        known = self.last.get(key)
        if known is None or ts >= known[0]:
            self.last[key] = (ts, value)

    def see_disk(self, ts: float, mount: str, figures: dict[str, Any]) -> None:
        known = self.disks.get(mount)
        if known is None or ts >= known[0]:
            self.disks[mount] = (ts, figures)

    def add_gpu(self, index: int, gpu: GpuPartial) -> None:
        mine = self.gpus.get(index)
        if mine is None:
            self.gpus[index] = gpu
        else:
            mine.merge(gpu)

    def merge(self, other: Partial) -> None:
        """Add a later (or earlier: order does not matter) disjoint window of the same host-hour."""
        self.count += other.count
        self.sums = [a + b for a, b in zip(self.sums, other.sums)]
        self.counts = [a + b for a, b in zip(self.counts, other.counts)]
        self.maxes = [_max(a, b) for a, b in zip(self.maxes, other.maxes)]
        for key, (ts, value) in other.last.items():
            self.see_last(key, ts, value)
        for mount, (ts, figures) in other.disks.items():
            self.see_disk(ts, mount, figures)
        for index, gpu in other.gpus.items():
            self.add_gpu(index, gpu)

    def row(self) -> dict[str, Any]:
        """The samples_hourly row (columns as in schema.models.SampleHourlyBase)."""
        out: dict[str, Any] = {"host_id": self.host_id, "hour": self.hour, "sample_count": self.count}
        for (avg, count, top_name, integer), total, n, top in zip(_OUT, self.sums, self.counts, self.maxes):
            if avg:
                out[avg] = total / n if n else None
                out[count] = n  # the weight of the average over hours (schema.timeseries)
            if top_name:
                out[top_name] = int(top) if integer and top is not None else top
        for key, column in LAST_METRICS.items():
            known = self.last.get(key)
            out[column] = known[1] if known else None
        out["disks"] = json.dumps([self.disks[m][1] for m in sorted(self.disks)], separators=(",", ":"))
        out["gpus"] = json.dumps([self.gpus[i].item(i) for i in sorted(self.gpus)], separators=(",", ":"))
        return out
