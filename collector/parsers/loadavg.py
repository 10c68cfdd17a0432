"""Parse the ``loadavg`` section: the line of /proc/loadavg."""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clip, to_float, to_int


@dataclass(frozen=True, slots=True)
class LoadAvg:
    """Load averages and the scheduler counts printed next to them."""

    load1: float
    load5: float
    load15: float
    running: int | None
    total: int | None
    last_pid: int | None


def parse(text: str) -> LoadAvg:
    """Parse "0.01 0.05 0.01 1/77 14306"; the last two fields are optional."""
    fields = text.strip().split()
    loads = [to_float(f) for f in fields[:3]]
    if len(loads) < 3 or None in loads or len(fields) > 5:
        raise ParseError(f"loadavg: expected three load averages, got {clip(text.strip())}")
    running = total = last_pid = None
    if len(fields) > 3:
        run, sep, tot = fields[3].partition("/")
        if sep:
            running, total = to_int(run), to_int(tot)
    if len(fields) > 4:
        last_pid = to_int(fields[4])
    return LoadAvg(loads[0], loads[1], loads[2], running, total, last_pid)  # type: ignore[arg-type]
