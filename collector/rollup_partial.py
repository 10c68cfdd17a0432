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

# samples column -> rolled up as <name>_avg and <name>_max
ROLLUP_METRICS = (
    "cpu_pct", "mem_used_pct", "mem_used_bytes", "gpu_util_pct", "gpu_mem_used_pct",
    "disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps",
)
# gpu_samples column -> (name of its average in the JSON, name of its maximum or None)
GPU_METRICS = {
    "util_pct": ("util_avg", "util_max"),
    "mem_used_mb": ("mem_used_mb_avg", "mem_used_mb_max"),
    "temperature_c": ("temp_avg", "temp_max"),
    "power_w": ("power_avg", None),
}
_N = len(ROLLUP_METRICS)
GPU_KEEP_MAX = ("name", "uuid", "mem_total_mb")  # SQL max() over the hour, as the full recompute has always done


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
        order = ("index", "name", "uuid", "util_avg", "util_max", "mem_used_mb_avg", "mem_used_mb_max",
                 "mem_total_mb", "temp_avg", "temp_max", "power_avg", "samples")
        return {k: out[k] for k in order}


class Partial:
    """One host-hour: sample count; per metric (ROLLUP_METRICS order) sum, count of non-null values and max;
    the last disk figures (by sample time) and one GpuPartial per card index. Lists, not dicts: a run at
    5,000 hosts builds and merges 5,000 of these."""

    __slots__ = ("host_id", "hour", "count", "sums", "counts", "maxes", "disk_last", "disks", "gpus")

    def __init__(self, host_id: str, hour: int) -> None:
        self.host_id, self.hour = host_id, hour
        self.count = 0
        self.sums: list[float] = [0.0] * _N
        self.counts: list[int] = [0] * _N
        self.maxes: list[Any] = [None] * _N
        self.disk_last: tuple[float, float] | None = None  # (ts, disk_used_pct_max)
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

    def see_disk_used(self, ts: float, value: float) -> None:
        if self.disk_last is None or ts >= self.disk_last[0]:
            self.disk_last = (ts, value)

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
        if other.disk_last is not None:
            self.see_disk_used(*other.disk_last)
        for mount, (ts, figures) in other.disks.items():
            self.see_disk(ts, mount, figures)
        for index, gpu in other.gpus.items():
            self.add_gpu(index, gpu)

    def row(self) -> dict[str, Any]:
        """The samples_hourly row (columns as in schema.models.SampleHourlyBase)."""
        out: dict[str, Any] = {"host_id": self.host_id, "hour": self.hour, "sample_count": self.count}
        for m, total, n, top in zip(ROLLUP_METRICS, self.sums, self.counts, self.maxes):
            out[f"{m}_avg"] = total / n if n else None
            out[f"{m}_max"] = top
        if out["mem_used_bytes_max"] is not None:
            out["mem_used_bytes_max"] = int(out["mem_used_bytes_max"])
        out["disk_used_pct_last"] = self.disk_last[1] if self.disk_last else None
        out["disks"] = json.dumps([self.disks[m][1] for m in sorted(self.disks)], separators=(",", ":"))
        out["gpus"] = json.dumps([self.gpus[i].item(i) for i in sorted(self.gpus)], separators=(",", ":"))
        return out
