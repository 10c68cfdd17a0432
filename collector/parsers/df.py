"""Parse the ``df`` section: ``df -PTk`` / ``df -PTkl`` with stderr merged in."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from . import MAX_VALUE, NAME_MAX, clean, to_float, to_int

# Source may hold spaces (CIFS shares) and so may the mount point; the lazy
# source and a mount point starting with "/" settle where each ends.
# Possessive \s++ and a source ending in \S keep matching linear on hostile lines.
_ROW = re.compile(
    r"(?P<source>\S(?:.*?\S)?)\s++(?P<fstype>\S++)\s++(?P<total>[0-9]++|-)\s++(?P<used>[0-9]++|-)"
    r"\s++(?P<avail>[0-9]++|-)\s++(?P<pct>[0-9]++%|-)\s++(?P<mount>/.*)",
    re.ASCII,
)

# Filesystems that hold no disk data; "/" is kept whatever it is (overlay in containers).
PSEUDO_FSTYPES = frozenset({
    "tmpfs", "devtmpfs", "squashfs", "overlay", "aufs", "efivarfs", "proc", "sysfs",
    "ramfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "bpf", "tracefs",
    "debugfs", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc",
    "nsfs", "rpc_pipefs", "selinuxfs", "fuse.lxcfs", "fuse.gvfsd-fuse", "nfsd",
})


FSTYPE_MAX = 64
MOUNT_MAX = 1024  # as inventory.patterns allows


@dataclass(frozen=True, slots=True)
class Filesystem:
    """One df row; sizes in bytes, None where df printed "-".

    `used_pct` is what the hub shows (`used_pct()` below); `capacity_pct` is df's own Capacity column,
    the same share rounded up to a whole number."""

    source: str
    fstype: str
    total_bytes: int | None
    used_bytes: int | None
    avail_bytes: int | None
    used_pct: float | None
    mount: str
    capacity_pct: float | None


@dataclass(frozen=True, slots=True)
class DfResult:
    """df's rows and the lines it printed that are not rows (its error messages)."""

    filesystems: tuple[Filesystem, ...]
    errors: tuple[str, ...]


def used_pct(used: int | None, avail: int | None) -> float | None:
    """Space used, in % of the space users can have: used / (used + available), as df computes its Use%
    (the blocks reserved for root are in neither, so Size is more than Used + Available), but to one
    decimal where df rounds up to a whole number (df says 24 % when 23.31 % is used).
    None where a size is unknown ("-") or the filesystem has no space (df prints "-" then too)."""
    if used is None or avail is None or used + avail <= 0:
        return None
    return round(100.0 * used / (used + avail), 1)


def _kb(s: str) -> int | None:
    v = to_int(s)
    return None if v is None or v > MAX_VALUE // 1024 else v * 1024


def listing(text: str, row: re.Pattern[str], errors: list[str]) -> Iterator[re.Match[str]]:
    """The rows of a df listing (`df -PTk`, `df -Pi`) that `row` matches; blank and header lines are skipped,
    every other line ("df: /x: No such file or directory", a cut line) goes to `errors`."""
    for line in text.splitlines():
        if not line.strip() or (line.startswith("Filesystem") and "Mounted on" in line):
            continue
        m = row.fullmatch(line)
        if m is None:
            errors.append(clean(line.strip(), 300))
            continue
        yield m


def parse(text: str) -> DfResult:
    """Parse df output; never raises: a timed-out df is an empty result."""
    rows: list[Filesystem] = []
    errors: list[str] = []
    for m in listing(text, _ROW, errors):
        line = m.string
        pct = m["pct"]
        sizes = [(m[k], _kb(m[k])) for k in ("total", "used", "avail")]
        if any(text != "-" and value is None for text, value in sizes):
            errors.append(clean(f"size out of range: {line.strip()}", 300))  # no disk holds 8 EiB
            continue
        total, used, avail = (value for _, value in sizes)
        rows.append(Filesystem(
            clean(m["source"], NAME_MAX), clean(m["fstype"], FSTYPE_MAX), total, used, avail,
            used_pct(used, avail), clean(m["mount"], MOUNT_MAX), to_float(pct[:-1]) if pct != "-" else None,
        ))
    return DfResult(tuple(rows), tuple(errors))


def local_disks(result: DfResult, *, tmpfs: bool = False) -> tuple[Filesystem, ...]:
    """The filesystems of `disks: all` (`df -PTkl`), each once, in df's order.

    Pseudo filesystems are dropped, except "/" (an overlay in containers) and, with `tmpfs`
    (`disks: all+tmpfs`), tmpfs: /dev/shm, /run. A filesystem df lists more than once (GNU df
    before 8.21 lists every bind mount, later ones elide most) is kept once:
    rows with one mount point are one (the last: mounted on top, its figures are df's), and
    rows of one filesystem (`_same_filesystem`) are one at the shortest mount point.
    """
    dropped = PSEUDO_FSTYPES - {"tmpfs"} if tmpfs else PSEUDO_FSTYPES
    by_mount: dict[str, Filesystem] = {}
    for f in result.filesystems:
        if f.mount == "/" or f.fstype not in dropped:
            by_mount[f.mount] = f  # keeps the first row's place, the last row's figures
    kept: list[Filesystem] = []
    where: dict[tuple, int] = {}
    for f in by_mount.values():
        i = where.setdefault(_same_filesystem(f), len(kept))
        if i == len(kept):
            kept.append(f)
        elif len(f.mount) < len(kept[i].mount):
            kept[i] = f
    return tuple(kept)


def _same_filesystem(f: Filesystem) -> tuple:
    """What df's rows of one filesystem share: the source, the type and the size; used and available
    too where the source does not name it. A device or dataset ("/dev/sda1", "tank/home") is one
    filesystem wherever it is mounted (what was written between df's statfs calls may differ); a
    source every such filesystem has ("tmpfs", "overlay", "none") names none, and two of them with
    the same figures are what df's numbers cannot tell apart. Unknown sizes: the mount point decides."""
    if "/" in f.source:
        return (f.source, f.fstype, f.total_bytes)
    if None in (f.total_bytes, f.used_bytes, f.avail_bytes):
        return (f.source, f.fstype, f.mount)
    return (f.source, f.fstype, f.total_bytes, f.used_bytes, f.avail_bytes)
