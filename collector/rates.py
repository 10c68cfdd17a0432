"""Rates from two readings of host counters over host-side time (pure, no clock reads).

A counter that went backwards (reboot, wrap, device replaced) gives no rate for
that interval: None, never a negative value or a huge spike.
"""
from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

from collector.parsers.diskstats import DiskStats, whole_disks
from collector.parsers.netdev import NetDevs, is_counted
from collector.parsers.stat import CpuStat
from collector.parsers.uptime import Uptime

_TICKS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice")


@dataclass(frozen=True, slots=True)
class DiskRates:
    """Bytes/s over whole disks present in both readings; None when a counter went back."""

    read_bps: float | None
    write_bps: float | None
    per_disk: tuple[tuple[str, float | None, float | None], ...]


@dataclass(frozen=True, slots=True)
class NetRates:
    """Bytes/s over counted interfaces present in both readings; None when a counter went back.

    `per_interface`: (name, rx, tx, counted) of every interface present in both readings."""

    rx_bps: float | None
    tx_bps: float | None
    per_interface: tuple[tuple[str, float | None, float | None, bool], ...]


def cpu_pct(prev: CpuStat, cur: CpuStat) -> float | None:
    """Busy share of CPU time between two readings, 0..100; None if unknowable."""
    for name in _TICKS:
        a, b = getattr(prev, name), getattr(cur, name)
        # A field that appears or vanishes means another kernel: a reboot.
        if (a is None) != (b is None) or (a is not None and b < a):
            return None
    d_total = cur.total - prev.total
    if d_total <= 0:
        return None
    return min(100.0, max(0.0, 100.0 * (cur.busy - prev.busy) / d_total))


def counter_rate(prev: int, cur: int, seconds: float) -> float | None:
    """(cur - prev) / seconds; None when the counter went back or no time passed."""
    if cur < prev or not (seconds > 0 and math.isfinite(seconds)):
        return None
    return (cur - prev) / seconds


def _total(rates: list, i: int) -> float | None:
    values = [r[i] for r in rates]
    return None if None in values else sum(v for v in values if v is not None)


def disk_rates(prev: DiskStats, cur: DiskStats, seconds: float) -> DiskRates:
    """Read/write bytes per second of whole disks; a disk new in ``cur`` is not counted."""
    before = {d.name: d for d in prev.disks}
    per: list[tuple[str, float | None, float | None]] = []
    for d in whole_disks(cur.disks):
        p = before.get(d.name)
        if p is not None:
            per.append((
                d.name,
                counter_rate(p.read_bytes, d.read_bytes, seconds),
                counter_rate(p.written_bytes, d.written_bytes, seconds),
            ))
    return DiskRates(_total(per, 1), _total(per, 2), tuple(per))


def net_rates(prev: NetDevs, cur: NetDevs, seconds: float, counted: Collection[str] | None = None) -> NetRates:
    """Received/sent bytes per second of every interface present in both readings; the totals over those
    in `counted` (None: by name, `netdev.is_counted`; collector/net_counting.py decides)."""
    before = {i.name: i for i in prev.interfaces}
    per: list[tuple[str, float | None, float | None, bool]] = []
    for i in cur.interfaces:
        p = before.get(i.name)
        if p is not None:
            per.append((
                i.name,
                counter_rate(p.rx_bytes, i.rx_bytes, seconds),
                counter_rate(p.tx_bytes, i.tx_bytes, seconds),
                is_counted(i.name) if counted is None else i.name in counted,
            ))
    total = [r for r in per if r[3]]
    return NetRates(_total(total, 1), _total(total, 2), tuple(per))


def elapsed(prev_uptime: Uptime, cur_uptime: Uptime) -> float | None:
    """Host-side seconds between two readings; None unless uptime advanced (back = reboot)."""
    d = cur_uptime.seconds - prev_uptime.seconds
    return d if d > 0 else None
