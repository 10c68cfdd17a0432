"""What a metric is, and the catalogue that holds them all (pure: no I/O, no hub).

A `Metric` says everything the hub does with one value: where it is read in a
`HostReport`, its unit and kind, whether and how it is stored and rolled up,
whether rules may alert on it, how it is shown and how Prometheus calls it.
Storage, rollups, alerts, the APIs' metric lists, CSV columns, the host page,
`probe`'s text and `/metrics` all iterate the catalogue instead of naming
metrics, so a new metric is one entry (collector/metrics/catalogue.py).

Names are unique within a scope; a name may exist in two scopes where the API
has always used it twice (`gpu_util_pct`: the host's mean in charts and
history, one card in alert rules). Among alertable metrics names are unique.
"""
from __future__ import annotations

import difflib
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["host", "disk", "gpu", "interface", "service"]
Kind = Literal["gauge", "rate", "counter", "state"]
Column = Literal["float", "bigint", "int", "text"]
Aggregate = Literal["avg", "max", "last"]

SCOPES: tuple[str, ...] = ("host", "disk", "gpu", "interface", "service")
KINDS: tuple[str, ...] = ("gauge", "rate", "counter", "state")
AGGREGATES: tuple[str, ...] = ("avg", "max", "last")
# the key naming an item of each scope in the report and in alert instances
ITEM_KEY = {"host": None, "disk": "mount", "gpu": "index", "interface": "name", "service": "name"}
# units the hub shows; Prometheus wants base units (bytes, seconds) and says so in the name
UNITS = ("%", "bytes", "bytes/s", "MiB", "°C", "W", "MHz", "s", "load", "count", "state")


@dataclass(frozen=True)
class Metric:
    """One value the hub reads from every probe (see the module docstring)."""

    name: str
    scope: Scope
    unit: str
    kind: Kind
    description: str  # one line, for the API, the docs and Prometheus's HELP
    label: str  # a few words standing alone: a table header, a chart legend, a History column
    read: Callable[..., Any] | None = None  # host: f(report); other scopes: f(report, item); None: attribute `key`
    key: str = ""  # the attribute of the report (host) or of its item record, its JSON key and its column
    column: Column | None = None  # stored in the scope's raw table (samples, disk_samples, gpu_samples, ...)
    rollup: tuple[Aggregate, ...] = ()  # host: samples_hourly columns <key>_<agg>; disk / GPU: keys in the hour's JSON
    hourly: tuple[tuple[str, str], ...] = ()  # (aggregate, column or JSON key) where the name is not <key>_<agg>
    alert: bool = False
    prom: str | None = None  # Prometheus name after "fleetwatch_" (None: not exported)
    prom_scale: float = 1.0  # to Prometheus's base unit (MiB -> bytes)
    short: str = ""  # beside its tile's first value ("of 16 GiB"); default: the label
    table: bool = False  # a column of its scope's table (disks, GPUs) on the host page and in `probe`'s text
    history: tuple[Aggregate, ...] | None = None  # columns of the History page (None: all its rollups but max)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)
        if not self.short:
            object.__setattr__(self, "short", self.label)
        if self.scope not in SCOPES or self.kind not in KINDS or self.unit not in UNITS:
            raise ValueError(f"metric {self.name}: scope, kind or unit not known")
        if any(a not in AGGREGATES for a in self.rollup) or (self.rollup and not self.column):
            raise ValueError(f"metric {self.name}: only a stored metric rolls up (avg, max, last)")
        reader = self.read
        if reader is None:
            get = operator.attrgetter(self.key)
            reader = get if self.scope == "host" else (lambda _report, item: get(item))
        object.__setattr__(self, "reader", reader)

    def value(self, report: Any, item: Any = None) -> Any:
        """This metric's value in `report` (and `item`, for disk, GPU, interface and service metrics); the hot
        path calls `reader` (f(report) or f(report, item)) directly."""
        if self.scope == "host":
            return self.reader(report)  # type: ignore[attr-defined]
        return self.reader(report, item)  # type: ignore[attr-defined]

    def hourly_name(self, aggregate: str) -> str:
        """Its samples_hourly column (host) or its key in the hour's per-disk / per-GPU JSON."""
        return dict(self.hourly).get(aggregate, f"{self.key}_{aggregate}")

    @property
    def hourly_count(self) -> str | None:
        """A host metric rolled up as "avg": its samples_hourly column `<key>_n`, how many of the hour's samples
        had a value (the weight of its hourly average: sample_count also counts samples without one)."""
        return f"{self.key}_n" if self.scope == "host" and "avg" in self.rollup else None

    @property
    def prom_name(self) -> str | None:
        return None if self.prom is None else f"fleetwatch_{self.prom}"


@dataclass(frozen=True)
class Tile:
    """A box of the host page (and a line of `probe`'s text): host metrics shown together, the first largest."""

    id: str
    title: str
    metrics: tuple[str, ...]
    shown_if: str | None = None  # a host metric: the tile shows only where its value is not None or 0 (gpu_count)

    def shown(self, values: Any) -> bool:
        """Whether the tile belongs on a host whose values (the report's JSON shape) are `values`."""
        return self.shown_if is None or bool(values.get(self.shown_if))


@dataclass(frozen=True)
class Chart:
    """A chart of the host page: stored host metrics drawn together (one unit)."""

    id: str
    title: str
    metrics: tuple[str, ...]
    max: float | None = None  # a fixed top (100 for percentages)


@dataclass(frozen=True)
class Catalogue:
    """Every metric, in the order pages and exports show them."""

    metrics: tuple[Metric, ...]
    tiles: tuple[Tile, ...] = ()
    charts: tuple[Chart, ...] = ()
    _by_scope: dict[str, dict[str, Metric]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        by_scope: dict[str, dict[str, Metric]] = {s: {} for s in SCOPES}
        alertable: set[str] = set()
        for m in self.metrics:
            if m.name in by_scope[m.scope]:
                raise ValueError(f"metric {m.name} twice in scope {m.scope}")
            if m.alert and m.name in alertable:
                raise ValueError(f"alertable metric {m.name} twice")
            by_scope[m.scope][m.name] = m
            alertable.update([m.name] if m.alert else [])
        for tile in self.tiles:
            if any(name not in by_scope["host"] for name in (*tile.metrics, *filter(None, [tile.shown_if]))):
                raise ValueError(f"tile {tile.id}: {tile.metrics} are not all host metrics")
        for chart in self.charts:
            units = {by_scope["host"][n].unit if n in by_scope["host"] and by_scope["host"][n].column else None
                     for n in chart.metrics}
            if None in units or len(units) != 1:
                raise ValueError(f"chart {chart.id}: {chart.metrics} must be stored host metrics of one unit")
        self._by_scope.update(by_scope)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self.metrics)

    def scope(self, scope: str) -> tuple[Metric, ...]:
        return tuple(self._by_scope[scope].values())

    def get(self, name: str, scope: str = "host") -> Metric | None:
        return self._by_scope[scope].get(name)

    def stored(self, scope: str) -> tuple[Metric, ...]:
        """The metrics with a column in `scope`'s raw table, in catalogue order."""
        return tuple(m for m in self._by_scope[scope].values() if m.column)

    def rolled_up(self, scope: str, aggregate: str | None = None) -> tuple[Metric, ...]:
        return tuple(m for m in self.stored(scope) if m.rollup and (aggregate is None or aggregate in m.rollup))

    def history_columns(self) -> tuple[tuple[Metric, str], ...]:
        """(metric, aggregate) of the History page's columns, in catalogue order."""
        out = []
        for m in self.rolled_up("host"):
            shown = m.history if m.history is not None else tuple(a for a in m.rollup if a != "max")
            out += [(m, a) for a in shown]
        return tuple(out)

    def alertable(self) -> dict[str, Metric]:
        return {m.name: m for m in self.metrics if m.alert}

    def chartable(self) -> dict[str, Metric]:
        """Stored host metrics: what the timeseries and compare APIs draw."""
        return {m.name: m for m in self.stored("host")}

    def members(self, group: Tile | Chart) -> tuple[Metric, ...]:
        """A tile's or chart's metrics, in its order."""
        return tuple(self._by_scope["host"][n] for n in group.metrics)

    def table(self, scope: str) -> tuple[Metric, ...]:
        """The columns of an item table (disks, GPUs) in catalogue order."""
        return tuple(m for m in self._by_scope[scope].values() if m.table)


def did_you_mean(name: object, known: Iterable[str]) -> str:
    """'did you mean cpu_pct? allowed: cpu_pct, ...' for a near miss, else the list of known names."""
    names = list(known)
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"{hint}allowed: {', '.join(names)}"


def unknown_metric(name: object, known: Iterable[str], what: str = "metric") -> str:
    """The one-line message for a name that is not in the catalogue."""
    return f"unknown {what} {name!r}; {did_you_mean(name, known)}"
