"""Parse the ``df`` section: ``df -PTk`` / ``df -PTkl`` with stderr merged in."""
from __future__ import annotations

import re
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


def parse(text: str) -> DfResult:
    """Parse df output; never raises: a timed-out df is an empty result."""
    rows: list[Filesystem] = []
    errors: list[str] = []
    for line in text.splitlines():
        if not line.strip() or (line.startswith("Filesystem") and "Mounted on" in line):
            continue
        m = _ROW.fullmatch(line)
        if m is None:
            errors.append(clean(line.strip(), 300))  # "df: /x: No such file or directory", a cut line
            continue
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


def local_disks(result: DfResult) -> tuple[Filesystem, ...]:
    """Filesystems backed by storage: pseudo filesystems dropped, except "/"."""
    return tuple(f for f in result.filesystems if f.mount == "/" or f.fstype not in PSEUDO_FSTYPES)
