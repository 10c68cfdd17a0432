"""Every host's newest values as Prometheus families, from the metric catalogue (what `/metrics` serves).

Each catalogue metric with a Prometheus name becomes one gauge family
(`fleetwatch_cpu_busy_percent`), with a `host` label, the host's inventory
labels, and for per-item metrics `mount` (filesystems), `gpu`, `uuid` and
`vendor` ("nvidia" or "amd"; GPUs), `interface` and `counted` (network
interfaces: "true" when the host's network totals count it,
collector/net_counting.py) or `unit` (systemd units). A systemd state is exported as
node_exporter does: one series per state, 1 for the unit's current one.
The text is written directly in Prometheus's text format (`host_text`; see
its docstring for why). `fleetwatch_host_up` is 1 for a host the hub reaches (up or degraded), else 0;
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

from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import Metric as CatalogueMetric

UP_STATES = frozenset({"up", "degraded"})
SERVICE_STATES = ("active", "reloading", "inactive", "failed", "activating", "deactivating")
# per-item labels: scope -> (report list key, [(label, item key)])
_ITEM_LABELS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "disk": ("disks", (("mount", "mount"),)),
    "gpu": ("gpus", (("gpu", "index"), ("uuid", "uuid"), ("vendor", "vendor"))),
    "interface": ("net_interfaces", (("interface", "name"), ("counted", "counted"))),
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


def _escape(value: str) -> str:
    """A label value in the text format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_value(value: Any) -> str:
    """An item's field as a label value: None empty, a bool "true" / "false"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _escape(str(value))


def _value(value: Any, scale: float) -> str | None:
    """The sample's value as text (Go's float syntax reads Python's repr), None for no value. The exact type
    is tested first: this runs for every series of every scrape."""
    kind = type(value)
    if kind is not float and kind is not int:
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        kind = float if isinstance(value, float) else int
    if scale != 1:
        value = value * scale
        kind = type(value)
    if kind is float:
        return repr(value) if math.isfinite(value) else None
    return str(value)


def _header(name: str, help_text: str) -> str:
    return f"# HELP {name} {help_text.replace(chr(92), chr(92) * 2)}\n# TYPE {name} gauge\n"


def _exported(scope: str) -> list[CatalogueMetric]:
    return [m for m in CATALOGUE.scope(scope) if m.prom]


def _help(m: CatalogueMetric) -> str:
    unit = "" if m.prom_scale != 1 or m.unit in ("state", "count", "load") else f" ({m.unit})"
    return m.description + unit


def host_text(hosts: Iterable[tuple[str, str, Mapping[str, Any] | None, Mapping[str, str]]]) -> str:
    """The text-format families for hosts given as (host id, state, newest report in its JSON shape or None,
    inventory labels).

    Written here rather than through prometheus-client's families: at 2,000 hosts a scrape has some
    120,000 series, and building a Sample (a dict of labels) for each and formatting it again took 1.1 s
    of the 300 ms a scrape may take (docs/benchmarks.md, "Prometheus /metrics"); every label set is
    escaped once per host and per item here. tests/integration/test_metrics_endpoint.py reads it with
    prometheus-client's own parser.
    """
    hosts = list(hosts)
    keys = sorted({k for *_, labels in hosts for k in labels})
    names = [label_name(k) for k in keys]
    up_lines: list[str] = []
    host_metrics = [(m, m.key, m.prom_scale, [], m.prom_name) for m in _exported("host")]
    items = [(list_key, labels, [(m, m.key, m.prom_scale, [], m.prom_name) for m in _exported(scope)])
             for scope, (list_key, labels) in _ITEM_LABELS.items()]
    for host_id, state, report, labels in hosts:
        own = ",".join([f'host="{_escape(host_id)}"',
                        *(f'{n}="{_escape(str(labels.get(k, "")))}"' for n, k in zip(names, keys))])
        reached = state in UP_STATES and report is not None
        up_lines.append(f"fleetwatch_host_up{{{own}}} {1 if reached else 0}\n")
        if not reached:
            continue
        for m, key, scale, lines, name in host_metrics:
            v = _value(report.get(key), scale)
            if v is not None:
                lines.append(f"{name}{{{own}}} {v}\n")
        for list_key, item_labels, metrics in items:
            if not metrics:
                continue
            for item in report.get(list_key) or ():
                its = own + "".join(f',{label}="{_label_value(item.get(key))}"' for label, key in item_labels)
                for m, key, scale, lines, name in metrics:
                    value = item.get(key)
                    if m.kind == "state":
                        if isinstance(value, str) and value:
                            lines.extend(f'{name}{{{its},state="{s}"}} {1 if value == s else 0}\n'
                                         for s in SERVICE_STATES)
                        continue
                    v = _value(value, scale)
                    if v is not None:
                        lines.append(f"{name}{{{its}}} {v}\n")
    out = [_header("fleetwatch_host_up", "1 when the hub reaches the host (up or degraded), else 0"), *up_lines]
    for m, _key, _scale, lines, name in [*host_metrics, *(x for _, _, metrics in items for x in metrics)]:
        out.append(_header(name, _help(m)))
        out.extend(lines)
    return "".join(out)
