"""Parse the ``nvidia`` section: ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits``."""
from __future__ import annotations

from dataclasses import dataclass

from . import NAME_MAX, clean, to_float, to_int

# The order of the probe's --query-gpu list.
QUERY_FIELDS = (
    "index", "uuid", "name", "pci.bus_id", "utilization.gpu", "utilization.memory",
    "memory.used", "memory.total", "temperature.gpu", "power.draw", "power.limit", "fan.speed",
)


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU; None where nvidia-smi said N/A, [Not Supported] and the like."""

    index: int
    uuid: str | None
    name: str | None
    pci_bus_id: str | None
    util_pct: float | None
    mem_util_pct: float | None
    mem_used_mb: float | None  # MiB
    mem_total_mb: float | None  # MiB
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None
    fan_pct: float | None


@dataclass(frozen=True, slots=True)
class NvidiaResult:
    """GPUs, or absent (no nvidia-smi), plus lines that were not GPU rows."""

    absent: bool
    gpus: tuple[Gpu, ...]
    errors: tuple[str, ...]


MAX_INDEX = 65535  # nvidia-smi numbers the GPUs of one host from 0


def _text(v: str, limit: int = NAME_MAX) -> str | None:
    # "N/A" and any bracketed value ("[N/A]", "[Not Supported]", "[GPU requires reset]").
    if not v or v == "N/A" or (v.startswith("[") and v.endswith("]")):
        return None
    return clean(v, limit)


def _num(v: str) -> float | None:
    t = _text(v)
    return None if t is None else to_float(t)


def parse(text: str) -> NvidiaResult:
    """Parse the CSV rows; never raises: other lines (driver errors) go to ``errors``."""
    if text.strip() == "absent":
        return NvidiaResult(True, (), ())
    gpus: list[Gpu] = []
    errors: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        f = [x.strip() for x in line.split(",")]
        index = to_int(f[0])
        if len(f) != len(QUERY_FIELDS) or index is None or index > MAX_INDEX:
            errors.append(clean(line.strip(), 300))
            continue
        gpus.append(Gpu(index, _text(f[1], 128), _text(f[2]), _text(f[3], 64), *map(_num, f[4:])))
    return NvidiaResult(False, tuple(gpus), tuple(errors))
