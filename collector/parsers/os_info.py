"""Parse the ``os`` section: date, /proc/uptime, then ``head -v`` over identity files."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import NAME_MAX, clean, split_head_files, to_float, to_int
from .uptime import MAX_UPTIME_S

_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class OsInfo:
    """Host identity; every field None when the host could not tell."""

    epoch: int | None
    uptime_s: float | None
    hostname: str | None
    pretty_name: str | None
    os_id: str | None
    version_id: str | None
    kernel: str | None
    ostype: str | None
    arch: str | None
    cpu_count: int | None


def unquote(value: str) -> str:
    """Unquote an os-release value (shell-like: quotes, backslash escapes)."""
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        if v[0] == "'":
            return v[1:-1]  # no escapes inside single quotes
        v = v[1:-1]
    return _ESCAPE.sub(r"\1", v)


def os_release(text: str) -> dict[str, str]:
    """KEY=value pairs of an os-release file; comments and junk lines skipped."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _ASSIGN.fullmatch(line.strip())
        if m and m.group(1) not in out:
            out[m.group(1)] = unquote(m.group(2))
    return out


ARCH_MAX = 64
MAX_CPUS = 1 << 20  # Linux builds for at most 8,192 (NR_CPUS); more is a misbehaving host


def cpu_list_count(cpus: str) -> int | None:
    """Count the CPUs in a kernel range list: "0-3,8-11" -> 8."""
    total = 0
    for part in cpus.strip().split(","):
        lo, sep, hi = part.partition("-")
        a = to_int(lo)
        b = to_int(hi) if sep else a
        if a is None or b is None or b < a:
            return None
        total += b - a + 1
    return total if 0 < total <= MAX_CPUS else None


def _lines(text: str) -> list[str]:
    # A file head cannot open prints "head: cannot open ..." on stderr, merged
    # anywhere into the output (stdout is buffered): drop those lines.
    return [x.strip() for x in text.splitlines() if x.strip() and not x.startswith("head: ")]


def _first(files: dict[str, str], path: str, limit: int = NAME_MAX) -> str | None:
    lines = _lines(files.get(path, ""))
    return clean(lines[0], limit) if lines else None


def _value(rel: dict[str, str], key: str) -> str | None:
    return clean(rel[key]) if rel.get(key) else None


def parse(text: str) -> OsInfo:
    """Parse the section; never raises: what is missing is None."""
    files = split_head_files(text)
    pre = _lines(files.get("", ""))
    epoch = to_int(pre[0]) if pre else None
    uptime = to_float(pre[1].split()[0]) if len(pre) > 1 else None
    if uptime is not None and uptime > MAX_UPTIME_S:
        uptime = None
    rel = os_release("\n".join(_lines(files.get("/etc/os-release", ""))))
    online = _first(files, "/sys/devices/system/cpu/online")
    return OsInfo(
        epoch=epoch,
        uptime_s=uptime,
        hostname=_first(files, "/proc/sys/kernel/hostname"),
        pretty_name=_value(rel, "PRETTY_NAME"),
        os_id=_value(rel, "ID"),
        version_id=_value(rel, "VERSION_ID"),
        kernel=_first(files, "/proc/sys/kernel/osrelease"),
        ostype=_first(files, "/proc/sys/kernel/ostype"),
        arch=_first(files, "/proc/sys/kernel/arch", ARCH_MAX),
        cpu_count=cpu_list_count(online) if online else None,
    )
