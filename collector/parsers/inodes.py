"""Parse the ``inodes`` section: ``df -Pi`` / ``df -Pil`` over the filesystems the ``df`` section lists.

    Filesystem       Inodes   IUsed    IFree IUse% Mounted on
    /dev/vda1      16384000  612345 15771655    4% /
    /dev/vdb1             0       0        0     - /data

Use is used / (used + free) to one decimal, as the space's use is computed
(df's IUse% rounds up). A filesystem that allocates inodes as it goes (btrfs,
XFS on some kernels, vfat) prints "-" or zeros: its use is None, never 0 %. Lines that are not rows
(a df without -i, "No such file") are kept as errors and give no values; they
do not make the host degraded, the space figures come from the df section.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from . import clean, to_int
from .df import MOUNT_MAX, listing, used_pct
from .registry import Section

_ROW = re.compile(
    r"(?P<source>\S(?:.*?\S)?)\s++(?P<total>[0-9]++|-)\s++(?P<used>[0-9]++|-)\s++(?P<free>[0-9]++|-)"
    r"\s++(?P<pct>[0-9]++%|-)\s++(?P<mount>/.*)",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class InodeUse:
    total: int | None
    used: int | None
    used_pct: float | None  # used / (used + free), one decimal


@dataclass(frozen=True, slots=True)
class Inodes:
    by_mount: Mapping[str, InodeUse]
    errors: tuple[str, ...]

    def used_pct(self, mount: str) -> float | None:
        use = self.by_mount.get(mount)
        return None if use is None else use.used_pct


def parse(text: str) -> Inodes:
    """Rows by mount point (the first row of a mount wins); never raises."""
    rows: dict[str, InodeUse] = {}
    errors: list[str] = []
    for m in listing(text, _ROW, errors):
        total, used, free = (to_int(m[k]) if m[k] != "-" else None for k in ("total", "used", "free"))
        pct = used_pct(used, free) if total else None  # exact, as the space's (df's IUse% rounds up)
        rows.setdefault(clean(m["mount"], MOUNT_MAX), InodeUse(total, used, pct))
    return Inodes(MappingProxyType(rows), tuple(errors))


SECTION = Section("inodes", parse)
