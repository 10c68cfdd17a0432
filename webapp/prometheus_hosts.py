"""Every host's newest values as Prometheus families, from the metric catalogue (what `/metrics` serves).

Each catalogue metric with a Prometheus name becomes one gauge family
(`fleetwatch_cpu_busy_percent`), with a `host` label, the host's inventory
labels, and for per-item metrics `mount` (filesystems), `gpu` and `uuid`
(GPUs), `interface` or `unit` (systemd units). A systemd state is exported as
node_exporter does: one series per state, 1 for the unit's current one.
`fleetwatch_host_up` is 1 for a host the hub reaches (up or degraded), else 0;
a host it does not reach has no other series (nothing absent is shown as 0),
and neither has a value its host did not report.

Inventory label keys become Prometheus label names: characters outside
`[a-zA-Z0-9_]` turn into `_`, and a key that would clash with one of ours
(`host`, `mount`, ...) or Prometheus's own (`job`, `instance`) is exported as
`label_<key>`. Every series of a family carries the same label names (the
union over the fleet; a host without a label has it empty, which Prometheus
treats as absent).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric

from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import Metric as CatalogueMetric

UP_STATES = frozenset({"up", "degraded"})
SERVICE_STATES = ("active", "reloading", "inactive", "failed", "activating", "deactivating")
# per-item labels: scope -> (report list key, [(label, item key)])
_ITEM_LABELS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "disk": ("disks", (("mount", "mount"),)),
    "gpu": ("gpus", (("gpu", "index"), ("uuid", "uuid"))),
    "interface": ("net_interfaces", (("interface", "name"),)),
    "service": ("services", (("unit", "name"),)),
}
RESERVED = frozenset({"host", "job", "instance", "state", "le", "quantile", "process"}
                     | {label for _, labels in _ITEM_LABELS.values() for label, _ in labels})
_BAD = re.compile(r"[^a-zA-Z0-9_]")


def label_name(key: str) -> str:
    """An inventory label key as a Prometheus label name (see the module docstring)."""
    name = _BAD.sub("_", key)
    if not name or name[0].isdigit() or name.startswith("__") or name in RESERVED:
        name = f"label_{name.lstrip('_')}"
    return name


def _number(value: Any, scale: float) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value) * scale
    return value if math.isfinite(value) else None


def _exported(scope: str) -> list[CatalogueMetric]:
    return [m for m in CATALOGUE.scope(scope) if m.prom]


def host_families(hosts: Iterable[tuple[str, str, Mapping[str, Any] | None, Mapping[str, str]]]) -> list[Metric]:
    """Families for hosts given as (host id, state, newest report in its JSON shape or None, inventory labels)."""
    hosts = list(hosts)
    keys = sorted({k for *_, labels in hosts for k in labels})
    names = [label_name(k) for k in keys]
    base = ["host", *names]
    up = GaugeMetricFamily("fleetwatch_host_up", "1 when the hub reaches the host (up or degraded), else 0",
                           labels=base)
    host_fams = [(m, GaugeMetricFamily(m.prom_name, _help(m), labels=base)) for m in _exported("host")]
    item_fams = {scope: [(m, _family(m, base, labels)) for m in _exported(scope)]
                 for scope, (_, labels) in _ITEM_LABELS.items()}
    for host_id, state, report, labels in hosts:
        own = [host_id, *(str(labels.get(k, "")) for k in keys)]
        reached = state in UP_STATES and report is not None
        up.add_metric(own, 1.0 if reached else 0.0)
        if not reached:
            continue
        for m, fam in host_fams:
            v = _number(report.get(m.key), m.prom_scale)
            if v is not None:
                fam.add_metric(own, v)
        for scope, (list_key, labels) in _ITEM_LABELS.items():
            fams = item_fams[scope]
            if not fams:
                continue
            for item in report.get(list_key) or ():
                item_labels = own + ["" if item.get(key) is None else str(item.get(key)) for _, key in labels]
                for m, fam in fams:
                    _add(fam, m, item_labels, item.get(m.key))
    return [up, *(fam for _, fam in host_fams), *(fam for fams in item_fams.values() for _, fam in fams)]


def _help(m: CatalogueMetric) -> str:
    return f"{m.description} ({m.unit})" if m.prom_scale == 1 and m.unit not in ("state", "count", "load") \
        else m.description


def _family(m: CatalogueMetric, base: list[str], item_labels: tuple[tuple[str, str], ...]) -> GaugeMetricFamily:
    labels = [*base, *(label for label, _ in item_labels)]
    if m.kind == "state":
        labels.append("state")
    return GaugeMetricFamily(m.prom_name, _help(m), labels=labels)


def _add(fam: GaugeMetricFamily, m: CatalogueMetric, labels: list[str], value: Any) -> None:
    if m.kind == "state":
        if isinstance(value, str) and value:
            for state in SERVICE_STATES:
                fam.add_metric([*labels, state], 1.0 if value == state else 0.0)
        return
    v = _number(value, m.prom_scale)
    if v is not None:
        fam.add_metric(labels, v)
