"""Parse the ``nvidia`` section: ``nvidia-smi --query-gpu=... --format=csv,noheader,nounits``."""
from __future__ import annotations

import string
from dataclasses import dataclass

from . import NAME_MAX, clean, to_float, to_int

# The order of the probe's --query-gpu list (remote_scripts/probe.sh prints it; a unit test checks the two match).
# A row of only the first BASE_FIELDS (the list before issue 17) still parses, with the later values None.
QUERY_FIELDS = (
    "index", "uuid", "name", "pci.bus_id", "utilization.gpu", "utilization.memory",
    "memory.used", "memory.total", "temperature.gpu", "power.draw", "power.limit", "fan.speed",
    "clocks.sm", "clocks.mem", "pstate", "pcie.link.gen.current", "pcie.link.width.current",
    "persistence_mode", "mig.mode.current", "clocks_event_reasons.active",
    "ecc.errors.corrected.volatile.total", "ecc.errors.uncorrected.volatile.total",
    "ecc.errors.corrected.aggregate.total", "ecc.errors.uncorrected.aggregate.total",
    "retired_pages.pending", "remapped_rows.pending",
)
BASE_FIELDS = 12

# NVML's nvmlClocksEventReason* bits (clocks_event_reasons.active; clocks_throttle_reasons before driver 535)
REASON_GPU_IDLE = 0x1
REASON_APPLICATIONS_CLOCKS = 0x2
REASON_SW_POWER_CAP = 0x4
REASON_HW_SLOWDOWN = 0x8
REASON_SYNC_BOOST = 0x10
REASON_SW_THERMAL = 0x20
REASON_HW_THERMAL = 0x40
REASON_HW_POWER_BRAKE = 0x80


@dataclass(frozen=True, slots=True)
class Gpu:
    """One GPU; None where nvidia-smi said N/A, [Not Supported] and the like (or the row had only the base
    fields). `lost`: the card said "GPU is lost", or [Unknown Error] for every metric. `vendor`: "nvidia", or
    "amd" for a card read from the amdgpu driver's sysfs files (collector/parsers/amdgpu.py)."""

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
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    pstate: int | None = None  # P0 (fastest) .. P15
    pcie_gen: int | None = None
    pcie_width: int | None = None
    persistence_mode: bool | None = None
    mig_mode: bool | None = None
    # clocks event reasons, decoded (None: not reported)
    reason_idle: bool | None = None
    reason_power_cap: bool | None = None  # SW power cap
    reason_hw_slowdown: bool | None = None
    reason_sync_boost: bool | None = None
    reason_thermal: bool | None = None  # SW or HW thermal slowdown
    ecc_corrected_volatile: int | None = None
    ecc_uncorrected_volatile: int | None = None
    ecc_corrected_aggregate: int | None = None
    ecc_uncorrected_aggregate: int | None = None
    retired_pages_pending: bool | None = None
    remapped_rows_pending: bool | None = None
    lost: bool = False
    vendor: str = "nvidia"


@dataclass(frozen=True, slots=True)
class NvidiaResult:
    """GPUs, or absent (no nvidia-smi), plus lines that were not GPU rows."""

    absent: bool
    gpus: tuple[Gpu, ...]
    errors: tuple[str, ...]


MAX_INDEX = 65535  # nvidia-smi numbers the GPUs of one host from 0
UNKNOWN_ERROR = "[Unknown Error]"


def _text(v: str, limit: int = NAME_MAX) -> str | None:
    # "N/A" and any bracketed value ("[N/A]", "[Not Supported]", "[GPU requires reset]").
    if not v or v == "N/A" or (v.startswith("[") and v.endswith("]")):
        return None
    return clean(v, limit)


def _num(v: str) -> float | None:
    t = _text(v)
    return None if t is None else to_float(t)


def _int(v: str) -> int | None:
    t = _text(v)
    return None if t is None else to_int(t)


def _pstate(v: str) -> int | None:
    n = to_int(v[1:]) if v[:1] == "P" and len(v) <= 3 else None
    return n if n is not None and n <= 15 else None


_BOOLS = {"Enabled": True, "Disabled": False, "Yes": True, "No": False}


def _flag(v: str) -> bool | None:
    return _BOOLS.get(v)


def _mask(v: str) -> int | None:
    digits = v[2:]
    if v[:2] not in ("0x", "0X") or not 0 < len(digits) <= 16 or digits.strip(string.hexdigits):
        return None
    return int(digits, 16)


def _reasons(v: str) -> tuple[bool | None, ...]:
    m = _mask(v)
    if m is None:
        return (None,) * 5
    return (bool(m & REASON_GPU_IDLE), bool(m & REASON_SW_POWER_CAP), bool(m & REASON_HW_SLOWDOWN),
            bool(m & REASON_SYNC_BOOST), bool(m & (REASON_SW_THERMAL | REASON_HW_THERMAL)))


def _gpu(index: int, f: list[str]) -> Gpu:
    metrics = f[4:]
    lost = any("GPU is lost" in v for v in f) or all(v == UNKNOWN_ERROR for v in metrics)
    base = (index, _text(f[1], 128), _text(f[2]), _text(f[3], 64), *map(_num, f[4:BASE_FIELDS]))
    if len(f) == BASE_FIELDS:
        return Gpu(*base, lost=lost)  # type: ignore[arg-type]
    return Gpu(*base, _num(f[12]), _num(f[13]), _pstate(f[14]), _int(f[15]), _int(f[16]),  # type: ignore[arg-type]
               _flag(f[17]), _flag(f[18]), *_reasons(f[19]), _int(f[20]), _int(f[21]), _int(f[22]), _int(f[23]),
               _flag(f[24]), _flag(f[25]), lost)


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
        if len(f) not in (BASE_FIELDS, len(QUERY_FIELDS)) or index is None or index > MAX_INDEX:
            errors.append(clean(line.strip(), 300))
            continue
        gpus.append(_gpu(index, f))
    return NvidiaResult(False, tuple(gpus), tuple(errors))
