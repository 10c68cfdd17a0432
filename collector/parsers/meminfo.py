"""Parse the ``meminfo`` section: /proc/meminfo."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import MAX_VALUE, ParseError, clip, to_int

# "Key:   123 kB"; lines without a unit (HugePages_*) are counts, not sizes.
_LINE = re.compile(r"([A-Za-z0-9_()]+):\s*([0-9]+)\s*kB", re.ASCII)

_FIELDS = {
    "MemTotal": "total_bytes",
    "MemFree": "free_bytes",
    "MemAvailable": "available_bytes",  # 3.14+
    "Buffers": "buffers_bytes",
    "Cached": "cached_bytes",
    "SwapTotal": "swap_total_bytes",
    "SwapFree": "swap_free_bytes",
    "Shmem": "shmem_bytes",  # 2.6.32+
    "SReclaimable": "sreclaimable_bytes",  # 2.6.19+
}


@dataclass(frozen=True, slots=True)
class MemInfo:
    """Memory sizes in bytes; None where this kernel does not report the field."""

    total_bytes: int
    free_bytes: int
    available_bytes: int | None
    buffers_bytes: int | None
    cached_bytes: int | None
    swap_total_bytes: int | None
    swap_free_bytes: int | None
    shmem_bytes: int | None
    sreclaimable_bytes: int | None

    @property
    def used_bytes(self) -> int | None:
        """Memory in use: total - available, else total - free - buffers - cached."""
        if self.available_bytes is not None:
            used = self.total_bytes - self.available_bytes
        elif self.buffers_bytes is not None and self.cached_bytes is not None:
            # Pre-3.14 estimate, as `free` computed it before MemAvailable.
            used = self.total_bytes - self.free_bytes - self.buffers_bytes - self.cached_bytes
        else:
            return None
        return used if used >= 0 else None  # inconsistent numbers: no value rather than a wrong one


def parse(text: str) -> MemInfo:
    """Parse "Key: value kB" lines; MemTotal and MemFree are mandatory."""
    values: dict[str, int | None] = {}
    for line in text.splitlines():
        # Lines of other fields (40 of about 50) are skipped before the regex; unknown or unparsable
        # lines (a merged "head: ..." error) are skipped too.
        if line.partition(":")[0].strip() not in _FIELDS:
            continue
        m = _LINE.fullmatch(line.strip())
        if m and m.group(1) in _FIELDS and _FIELDS[m.group(1)] not in values:
            kb = to_int(m.group(2))
            if kb is None or kb > MAX_VALUE // 1024:
                raise ParseError(f"meminfo: {m.group(1)} of {clip(m.group(2), 30)} kB is out of range")
            values[_FIELDS[m.group(1)]] = kb * 1024
    for key in ("total_bytes", "free_bytes"):
        if values.get(key) is None:
            raise ParseError(f"meminfo: no {'MemTotal' if key == 'total_bytes' else 'MemFree'}")
    return MemInfo(**{f: values.get(f) for f in _FIELDS.values()})  # type: ignore[arg-type]
