"""Parse the ``pressure`` section: /proc/pressure/{cpu,memory,io} (kernel 4.20+), each line prefixed with its file.

    cpu some avg10=5.61 avg60=9.41 avg300=7.58 total=3693980511
    memory full avg10=0.00 avg60=0.00 avg300=0.00 total=53133217

`avg10` is the share of the last 10 s in which some (or all, "full") non-idle
tasks were stalled on the resource, in percent. A kernel without PSI prints
an empty section: every value is None, never 0. The cpu file has a "full"
line only since 5.13 (and it means nothing system-wide); the hub reads
cpu some, memory some and full, io some and full.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clip, to_float
from .registry import Section

_KEYS = {("cpu", "some"): "cpu_some_avg10", ("memory", "some"): "memory_some_avg10",
         ("memory", "full"): "memory_full_avg10", ("io", "some"): "io_some_avg10", ("io", "full"): "io_full_avg10"}


@dataclass(frozen=True, slots=True)
class Pressure:
    """avg10 of each resource's stall, in percent; None where the kernel does not say."""

    cpu_some_avg10: float | None = None
    memory_some_avg10: float | None = None
    memory_full_avg10: float | None = None
    io_some_avg10: float | None = None
    io_full_avg10: float | None = None


def parse(text: str) -> Pressure:
    """One value per (resource, some|full) line; a line that does not read as PSI is a ParseError."""
    values: dict[str, float | None] = {}
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3 or fields[0] not in ("cpu", "memory", "io") or fields[1] not in ("some", "full"):
            raise ParseError(f"pressure: malformed line {clip(line)}")
        pairs = dict(f.partition("=")[::2] for f in fields[2:])
        avg10 = to_float(pairs.get("avg10", ""))
        if avg10 is None or avg10 > 100:
            raise ParseError(f"pressure: no avg10 percentage in {clip(line)}")
        key = _KEYS.get((fields[0], fields[1]))
        if key is not None and key not in values:
            values[key] = avg10
    return Pressure(**values)


SECTION = Section("pressure", parse)
