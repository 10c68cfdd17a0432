"""Parse the ``gpu_ps`` section: ``ps -o pid=,user:32=,etimes=,args=`` for the pids on the GPUs (gpu_apps)."""
from __future__ import annotations

from dataclasses import dataclass

from . import clean, to_int
from .registry import Section

COMMAND_MAX = 300  # the probe cuts ps lines there too


@dataclass(frozen=True, slots=True)
class Owner:
    """ps's view of one pid: its user, seconds since it started and its command line."""

    pid: int
    user: str
    elapsed_s: int | None
    command: str


@dataclass(frozen=True, slots=True)
class Owners:
    by_pid: dict[int, Owner]
    errors: tuple[str, ...]


def parse_owners(text: str) -> Owners:
    """"pid user etimes args" rows; never raises: other lines (busybox's ps without -p) go to ``errors``."""
    by_pid: dict[int, Owner] = {}
    errors: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        f = line.split(None, 3)
        pid = to_int(f[0])
        if pid is None or len(f) < 3:
            errors.append(clean(line.strip(), 300))
            continue
        by_pid[pid] = Owner(pid, clean(f[1], 64), to_int(f[2]), clean(f[3], COMMAND_MAX) if len(f) > 3 else "")
    return Owners(by_pid, tuple(errors))


SECTION = Section("gpu_ps", parse_owners)
