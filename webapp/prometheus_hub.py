"""The hub's own Prometheus families, from what its collector processes report (issue 16).

Each collector (a `serve` worker, or a hub in one process) counts its probes, flushes and
deliveries (`collector.hub_metrics`) and writes the counts into its `hub_processes.status` under
"metrics" at every heartbeat; `hub_families` turns the documents of the processes whose heartbeat
is fresh (`schema.fleet.ProcessNow.alive`, the rule /healthz uses) into metric families. Every
series has a `process` label (the row's id, "member/worker-N"): counters are never summed across
processes, so a restarted worker reads as a counter reset of its own series, which `rate()` handles.

    fleetwatch_probe_duration_seconds{process}             histogram
    fleetwatch_probes_total{process, result}               counter   ok | degraded | failed
    fleetwatch_probe_failures_total{process, class}        counter   collector.errors.Failure values
    fleetwatch_ssh_connections_open{process}               gauge
    fleetwatch_db_write_seconds{process}                   histogram
    fleetwatch_db_pending_rows{process}                    gauge
    fleetwatch_notifications_total{process, notifier, result}  counter   delivered | failed

Read the rows with `schema.fleet.metric_sources(session, now)`; serve the families with a
`prometheus_client` collector whose `collect()` returns them.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from schema.fleet import ProcessNow

log = logging.getLogger(__name__)

PREFIX = "fleetwatch_"
COLLECTOR_ROLES = ("hub", "worker")


def _histogram(name: str, doc: str, docs: list[tuple[str, dict[str, Any]]], key: str) -> HistogramMetricFamily:
    family = HistogramMetricFamily(PREFIX + name, doc, labels=["process"])
    for process, metrics in docs:
        h = metrics.get(key)
        try:
            bounds, counts, total = list(h["bounds"]), [float(c) for c in h["counts"]], float(h["sum"])
            if len(counts) != len(bounds) + 1:
                raise ValueError(f"{len(counts)} counts for {len(bounds)} bounds")
            buckets = [(floatToGoString(b), c) for b, c in zip(bounds, counts)] + [("+Inf", counts[-1])]
        except (KeyError, TypeError, ValueError) as exc:
            log.debug("process %s: no %s histogram (%s)", process, key, exc)
            continue
        family.add_metric([process], buckets, total)
    return family


def _counter(name: str, doc: str, label: str, docs: list[tuple[str, dict[str, Any]]],
             key: str) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + name, doc, labels=["process", label])
    for process, metrics in docs:
        values = metrics.get(key)
        if isinstance(values, dict):
            for value, n in sorted(values.items()):
                if isinstance(n, (int, float)):
                    family.add_metric([process, str(value)], n)
    return family


def _gauge(name: str, doc: str, docs: list[tuple[str, dict[str, Any]]], key: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, doc, labels=["process"])
    for process, metrics in docs:
        n = metrics.get(key)
        if isinstance(n, (int, float)):
            family.add_metric([process], n)
    return family


def _notifications(docs: list[tuple[str, dict[str, Any]]]) -> CounterMetricFamily:
    family = CounterMetricFamily(PREFIX + "notifications_total",
                                 "Alert notifications by notifier: delivered, or given up after the last attempt",
                                 labels=["process", "notifier", "result"])
    for process, metrics in docs:
        by_notifier = metrics.get("notifications_total")
        if not isinstance(by_notifier, dict):
            continue
        for notifier, results in sorted(by_notifier.items()):
            for result, n in sorted((results or {}).items()):
                if isinstance(n, (int, float)):
                    family.add_metric([process, str(notifier), str(result)], n)
    return family


def hub_families(rows: Iterable[ProcessNow], now: float | None = None) -> list[Metric]:
    """The fleetwatch_* families of the collectors among `rows` whose heartbeat is fresh at `now`.

    Every family is returned, with no samples when no live process reports it (so its HELP and
    TYPE are always there); a process whose document lacks a metric (an older version) is left out
    of that family only.
    """
    now = time.time() if now is None else now
    docs = [(p.id, p.status["metrics"]) for p in sorted(rows, key=lambda p: p.id)
            if p.role in COLLECTOR_ROLES and p.alive(now) and isinstance(p.status.get("metrics"), dict)]
    return [
        _histogram("probe_duration_seconds", "Time of one probe of a host over its SSH connection, failed ones too",
                   docs, "probe_duration_seconds"),
        _counter("probes_total", "Probes by result: ok, degraded (some sections failed) or failed", "result", docs,
                 "probes_total"),
        _counter("probe_failures_total", "Failed probes by failure class", "class", docs,
                 "probe_failures_total"),
        _gauge("ssh_connections_open", "SSH connections to hosts open now", docs, "ssh_connections_open"),
        _histogram("db_write_seconds", "Time of one batch write to the database (a flush that wrote rows)", docs,
                   "db_write_seconds"),
        _gauge("db_pending_rows", "Rows gathered and not yet written to the database", docs, "db_pending_rows"),
        _notifications(docs),
    ]
