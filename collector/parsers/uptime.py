"""Parse the ``uptime`` section: the line of /proc/uptime."""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clip, to_float


# No machine has been up for 136 years: beyond this a host's clock or its output is
# broken, and a boot time that far back breaks date arithmetic (events, pages).
MAX_UPTIME_S = float(2**32)


@dataclass(frozen=True, slots=True)
class Uptime:
    """Seconds since boot and summed idle seconds of all CPUs."""

    seconds: float
    idle_seconds: float | None


def parse(text: str) -> Uptime:
    """Parse "363.08 673.26"; the idle field is optional."""
    fields = text.strip().split()
    if not fields:
        raise ParseError("uptime: empty")
    seconds = to_float(fields[0])
    if seconds is None or len(fields) > 2:
        raise ParseError(f"uptime: expected 'SECONDS [IDLE]', got {clip(text.strip())}")
    if seconds > MAX_UPTIME_S:
        raise ParseError(f"uptime: {clip(fields[0], 30)} seconds is more than {MAX_UPTIME_S:.0f} (136 years)")
    idle = to_float(fields[1]) if len(fields) == 2 else None
    if len(fields) == 2 and idle is None:
        raise ParseError(f"uptime: bad idle field {clip(fields[1])}")
    return Uptime(seconds, idle)
