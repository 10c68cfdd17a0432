"""Parse the ``diskstats`` section: /proc/diskstats."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, clip, to_int, to_ints

SECTOR_BYTES = 512  # diskstats counts 512-byte sectors whatever the device's block size

# Not disks, or stacked on disks already counted (would double count).
_VIRTUAL = re.compile(r"(?:loop|ram|zram|dm-|md|sr|fd|nbd)[0-9_]", re.ASCII)
_ASCII_DIGITS = "0123456789"


@dataclass(frozen=True, slots=True)
class DiskStat:
    """One /proc/diskstats line; fields the kernel's format lacks are None."""

    major: int
    minor: int
    name: str
    reads: int
    reads_merged: int | None
    sectors_read: int
    read_ms: int | None
    writes: int
    writes_merged: int | None
    sectors_written: int
    write_ms: int | None
    in_flight: int | None
    io_ms: int | None
    weighted_io_ms: int | None
    discards: int | None  # 4.18+
    sectors_discarded: int | None  # 4.18+
    flushes: int | None  # 5.5+

    @property
    def read_bytes(self) -> int:
        return self.sectors_read * SECTOR_BYTES

    @property
    def written_bytes(self) -> int:
        return self.sectors_written * SECTOR_BYTES


@dataclass(frozen=True, slots=True)
class DiskStats:
    """All block devices listed by the kernel, in its order."""

    disks: tuple[DiskStat, ...]


def _line(line: str) -> DiskStat:
    fields = line.split()
    nums = to_ints(fields[3:])
    if len(fields) < 7 or None in nums or to_int(fields[0]) is None or to_int(fields[1]) is None:
        raise ParseError(f"diskstats: malformed line {clip(line)}")
    major, minor, name = int(fields[0]), int(fields[1]), fields[2]
    if len(nums) == 4:
        # 2.6.0-2.6.24 partition lines: reads, sectors read, writes, sectors written.
        r, sr, w, sw = nums
        rest = (None,) * 7
        return DiskStat(major, minor, name, r, None, sr, None, w, None, sw, *rest)  # type: ignore[arg-type]
    if len(nums) < 11:
        raise ParseError(f"diskstats: {len(nums)} counters in {clip(line)}")
    # 11 counters (2.6+), 15 (4.18+: discards), 17 (5.5+: flushes); later ones ignored.
    n = (nums + [None] * 6)[:17]
    # Skipped: discards merged (12), ms discarding (14), ms flushing (16).
    return DiskStat(major, minor, name, *n[:11], n[11], n[13], n[15])  # type: ignore[arg-type]


def parse(text: str) -> DiskStats:
    """Parse every line; empty text is valid (a host without block devices)."""
    return DiskStats(tuple(_line(line) for line in text.splitlines() if line.strip()))


def parse_counted(text: str) -> DiskStats:
    """`parse`, keeping only the devices that count towards totals (`whole_disks`): partitions, loop,
    dm- and other virtual devices are dropped by name before their 11 to 17 counters are converted.
    What the hub keeps of every probe; on a server with partitioned disks most lines are partitions."""
    lines = [line for line in text.splitlines() if line.strip()]
    names = set()
    for line in lines:
        fields = line.split(None, 3)
        if len(fields) >= 3:
            names.add(fields[2])
    kept = []
    for line in lines:
        fields = line.split(None, 3)
        if len(fields) >= 3 and (_VIRTUAL.match(fields[2]) or _is_partition(fields[2], names)):
            continue
        kept.append(_line(line))
    return DiskStats(tuple(kept))


def _is_partition(name: str, names: set[str]) -> bool:
    # The kernel names partitions disk+N, or disk+"p"+N when the disk name ends
    # in a digit (nvme0n1p2, mmcblk0p1); N is always the whole trailing digit run.
    head = name.rstrip(_ASCII_DIGITS)
    if not head or head == name:
        return False
    if head in names:
        return True  # head ends in a non-digit here: sda1 of sda
    return len(head) > 1 and head[-1] == "p" and head[-2] in _ASCII_DIGITS and head[:-1] in names


def whole_disks(disks: tuple[DiskStat, ...]) -> tuple[DiskStat, ...]:
    """The devices that count towards totals: no partitions, no virtual or stacked devices."""
    names = {d.name for d in disks}
    return tuple(d for d in disks if not _VIRTUAL.match(d.name) and not _is_partition(d.name, names))
