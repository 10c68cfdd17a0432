"""A host snapshot as a typed, frozen record (what `build_report` returns), and its JSON shape.

The hub reads attributes (`report.cpu_pct`, `disk.used_pct`); `to_dict()` gives
the JSON that `probe --json`, the API and the stored latest report have always
had (same keys), plus every catalogue metric under its key, so a metric added to
the catalogue shows in all of them. `sections` and `previous` hold the parsed
probe sections of this reading and of the one before (for rates): a metric
reads any section from there without a field here. They are not serialised.
"""
from __future__ import annotations

from collections.abc import Mapping
import operator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from collector.metrics.catalogue import CATALOGUE
from collector.parsers.nvidia import Gpu  # one card as nvidia-smi (or amdgpu's sysfs) reports it: the parser's record

__all__ = ["Disk", "DiskIo", "Gpu", "GpuProcess", "HostReport", "Interface", "OsInfo", "Process", "Service"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Disk:
    mount: str
    fstype: str | None
    device: str | None
    used_bytes: int | None
    total_bytes: int | None
    avail_bytes: int | None
    used_pct: float | None


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    load_state: str | None
    active_state: str | None
    sub_state: str | None


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    rx_bps: float | None
    tx_bps: float | None
    counted: bool = True  # towards the host's net_rx_bps / net_tx_bps (collector/net_counting.py)


@dataclass(frozen=True, slots=True)
class DiskIo:
    name: str
    read_bps: float | None
    write_bps: float | None


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    name: str
    cpu_pct: float | None
    rss_bytes: int | None


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process on a GPU (nvidia-smi's compute apps) with its owner from ps; gpu_index None for a MIG instance
    or a card the GPU query did not list; user, elapsed_s and command None where ps did not answer for the pid."""

    gpu_index: int | None
    gpu_uuid: str
    pid: int
    name: str
    used_mem_mb: float | None  # MiB
    user: str | None
    elapsed_s: int | None
    command: str | None


@dataclass(frozen=True, slots=True)
class OsInfo:
    hostname: str | None = None
    pretty_name: str | None = None
    kernel: str | None = None
    arch: str | None = None


# item records of each scope, in the report's JSON: (list key, record type)
_ITEMS = {"disk": "disks", "gpu": "gpus", "service": "services", "interface": "net_interfaces"}


@dataclass(frozen=True)
class HostReport:
    """One host at one probe: values, item records, section errors; rates over the interval since the last."""

    host: str
    state: str  # "up" or "degraded" (the poller sets the host state it decided on)
    ts: float
    errors: Mapping[str, str]
    host_epoch: int | None = None
    cpu_count: int | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    mem_total_bytes: int | None = None
    mem_used_bytes: int | None = None
    mem_available_bytes: int | None = None
    swap_total_bytes: int | None = None
    swap_free_bytes: int | None = None
    uptime_s: float | None = None
    disks: tuple[Disk, ...] = ()
    gpus: tuple[Gpu, ...] = ()
    services: tuple[Service, ...] = ()
    os: OsInfo = field(default_factory=OsInfo)
    top_processes: tuple[Process, ...] = ()
    gpu_processes: tuple[GpuProcess, ...] = ()
    gpu_processes_at: float | None = None  # when they were read (every 30 s by default; the poller fills it)
    # per card index: since when it holds memory but does no work (collector/gpu_usage.py; the poller fills it)
    gpu_held_idle_since: Mapping[int, float] = field(default_factory=lambda: _EMPTY)
    probe_bytes: int = 0
    cpu_pct: float | None = None
    disk_read_bps: float | None = None
    disk_write_bps: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None
    interval_s: float | None = None
    disk_io: tuple[DiskIo, ...] = ()
    net_interfaces: tuple[Interface, ...] = ()
    net_counting: str | None = None  # the rule that chose the counted interfaces (collector/net_counting.RULES)
    sections: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)
    previous: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    def section(self, name: str) -> Any:
        """The parsed probe section `name` of this reading (None when absent)."""
        return self.sections.get(name)

    def items(self, scope: str) -> tuple[Any, ...]:
        """The records of a scope: disks, GPUs, services or interfaces."""
        return getattr(self, _ITEMS[scope])

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape: every field as `probe --json` has always printed it, plus each catalogue metric."""
        d: dict[str, Any] = {
            "host": self.host, "ok": self.ok, "state": self.state, "ts": self.ts, "host_epoch": self.host_epoch,
            "cpu_count": self.cpu_count, "load1": self.load1, "load5": self.load5, "load15": self.load15,
            "mem_total_bytes": self.mem_total_bytes, "mem_used_bytes": self.mem_used_bytes,
            "mem_available_bytes": self.mem_available_bytes, "swap_total_bytes": self.swap_total_bytes,
            "swap_free_bytes": self.swap_free_bytes, "uptime_s": self.uptime_s,
            "disks": [_record(d) for d in self.disks],
            "gpus": [_record(g) for g in self.gpus],
            "gpu_count": self.gpu_count,
            "services": [_record(s) for s in self.services],
            "os": _record(self.os),
            "top_processes": [_record(p) for p in self.top_processes],
            "gpu_processes": [_record(p) for p in self.gpu_processes],
            "gpu_processes_at": self.gpu_processes_at,
            "probe_bytes": self.probe_bytes,
            "errors": dict(self.errors),
            "cpu_pct": self.cpu_pct, "disk_read_bps": self.disk_read_bps, "disk_write_bps": self.disk_write_bps,
            "net_rx_bps": self.net_rx_bps, "net_tx_bps": self.net_tx_bps, "interval_s": self.interval_s,
            "disk_io": [_record(i) for i in self.disk_io],
            "net_interfaces": [_record(i) for i in self.net_interfaces],
            "net_counting": self.net_counting,
        }
        for key, reader in _HOST_EXTRA:
            d[key] = reader(self)
        for scope, key, extra in _ITEM_EXTRA:
            for record, out in zip(self.items(scope), d[key]):
                for k, reader in extra:
                    out[k] = reader(self, record)
        for out in d["gpus"]:
            out["held_idle_since"] = self.gpu_held_idle_since.get(out["index"])
        return d


_TYPES = {"disk": Disk, "gpu": Gpu, "service": Service, "interface": Interface}


_FIELDS: dict[type, tuple[tuple[str, ...], Any]] = {}


def _record(r: Any) -> dict[str, Any]:
    """A record as a dict of its fields (one attrgetter per type: this runs for every disk and GPU of every poll)."""
    fields = _FIELDS.get(type(r))
    if fields is None:
        names = tuple(r.__slots__)
        fields = _FIELDS[type(r)] = (names, operator.attrgetter(*names))
    values = fields[1](r)
    return dict(zip(fields[0], values if len(fields[0]) > 1 else (values,)))


# catalogue metrics that are not fields of the JSON already: added by to_dict (host: beside the fields; per item)
_BASE_KEYS = frozenset({"host", "ok", "state", "ts", "host_epoch", "cpu_count", "load1", "load5", "load15",
                        "mem_total_bytes", "mem_used_bytes", "mem_available_bytes", "swap_total_bytes",
                        "swap_free_bytes", "uptime_s", "disks", "gpus", "gpu_count", "services", "os",
                        "top_processes", "gpu_processes", "gpu_processes_at", "probe_bytes", "errors", "cpu_pct",
                        "disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps", "interval_s", "disk_io", "net_interfaces",
                        "net_counting"})
_HOST_EXTRA = tuple((m.key, m.reader) for m in CATALOGUE.scope("host") if m.key not in _BASE_KEYS)
_ITEM_EXTRA = tuple((scope, key, extra) for scope, key in _ITEMS.items()
                    if (extra := tuple((m.key, m.reader) for m in CATALOGUE.scope(scope)
                                       if not hasattr(_TYPES[scope], m.key))))
