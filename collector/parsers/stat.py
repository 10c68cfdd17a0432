"""Parse the ``stat`` section: /proc/stat (usually only its aggregate cpu line)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, clip, to_int

_CPU_N = re.compile(r"cpu[0-9]+", re.ASCII)


@dataclass(frozen=True, slots=True)
class CpuStat:
    """Aggregate CPU time in clock ticks; fields after idle are None on old kernels."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int | None  # 2.5.41+
    irq: int | None  # 2.6.0+
    softirq: int | None  # 2.6.0+
    steal: int | None  # 2.6.11+
    guest: int | None  # 2.6.24+, already counted in user
    guest_nice: int | None  # 2.6.33+, already counted in nice
    btime: int | None = None
    cpu_count: int | None = None

    @property
    def total(self) -> int:
        """All ticks; guest time is excluded because user/nice already hold it."""
        # An absent field adds nothing: that kernel accounts the time elsewhere.
        parts = (self.iowait, self.irq, self.softirq, self.steal)
        return self.user + self.nice + self.system + self.idle + sum(p or 0 for p in parts)

    @property
    def busy(self) -> int:
        """Ticks spent doing something (total minus idle and iowait)."""
        return self.total - self.idle - (self.iowait or 0)


def parse(text: str) -> CpuStat:
    """Parse the aggregate "cpu ..." line, plus btime and cpuN lines when present."""
    agg: list[int | None] | None = None
    btime: int | None = None
    cpus = 0
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        key = fields[0]
        if key == "cpu" and agg is None:
            agg = [to_int(f) for f in fields[1:]]
            if len(agg) < 4 or None in agg:
                raise ParseError(f"stat: bad aggregate cpu line {clip(line)}")
        elif _CPU_N.fullmatch(key):
            cpus += 1
        elif key == "btime" and len(fields) == 2:
            btime = to_int(fields[1])
    if agg is None:
        raise ParseError("stat: no aggregate 'cpu' line")
    opt = (agg[4:10] + [None] * 6)[:6]
    return CpuStat(
        *agg[:4], *opt, btime=btime, cpu_count=cpus or None  # type: ignore[misc]
    )


def share(prev: CpuStat, cur: CpuStat, field: str) -> float | None:
    """The share (0-100, 2 decimals) of CPU time spent in `field` ("iowait", "steal") between two readings.

    None when this kernel does not count it, a counter went back (a reboot) or no tick passed. CPU busy
    (collector/rates.py) is the complement of idle and iowait: iowait is not in it, steal is.
    """
    before, after = getattr(prev, field), getattr(cur, field)
    if before is None or after is None or after < before:
        return None
    ticks = cur.total - prev.total
    if ticks <= 0:
        return None
    return round(min(100.0, 100.0 * (after - before) / ticks), 2)
