"""Parse the ``ps`` section: ``ps -eo pid=,pcpu=,rss=,comm= --sort=-pcpu``."""
from __future__ import annotations

from dataclasses import dataclass

from . import MAX_VALUE, clean, to_float, to_int


@dataclass(frozen=True, slots=True)
class Process:
    """One process; cpu_pct is procps' %CPU over the process lifetime."""

    pid: int
    cpu_pct: float
    rss_bytes: int
    name: str


@dataclass(frozen=True, slots=True)
class ProcessList:
    """Processes in ps's order (highest CPU first), plus lines that were not rows."""

    processes: tuple[Process, ...]
    errors: tuple[str, ...]


def parse(text: str) -> ProcessList:
    """Parse "pid pcpu rss comm" rows; never raises: other lines go to ``errors``."""
    procs: list[Process] = []
    errors: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        f = line.split(None, 3)  # comm is the rest of the line and may hold spaces
        pid = to_int(f[0])
        cpu = to_float(f[1]) if len(f) > 1 else None
        rss = to_int(f[2]) if len(f) > 2 else None
        if pid is None or cpu is None or rss is None or rss > MAX_VALUE // 1024:
            errors.append(clean(line.strip(), 300))  # "sh: ps: not found", busybox usage text
            continue
        procs.append(Process(pid, cpu, rss * 1024, clean(f[3].strip()) if len(f) > 3 else ""))
    return ProcessList(tuple(procs), tuple(errors))
