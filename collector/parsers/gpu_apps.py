"""Parse the ``gpu_apps`` section: ``nvidia-smi --query-compute-apps=gpu_uuid,pid,used_memory,process_name
--format=csv,noheader,nounits``, the processes on each card (asked every 30 s by default).

Joined on the hub (collector/report.py), on the pid, with ``gpu_ps`` (collector/parsers/gpu_ps.py): who runs them.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import NAME_MAX, clean, to_float, to_int
from .registry import Section

@dataclass(frozen=True, slots=True)
class ComputeApp:
    """A process holding a GPU context; used_mem_mb None where the driver says [N/A] (MIG, some vGPUs)."""

    gpu_uuid: str
    pid: int
    used_mem_mb: float | None
    name: str


@dataclass(frozen=True, slots=True)
class ComputeApps:
    """The compute processes nvidia-smi listed, and the lines that were not rows (a driver error)."""

    absent: bool
    apps: tuple[ComputeApp, ...]
    errors: tuple[str, ...]


def _value(v: str) -> float | None:
    v = v.strip()
    return None if v.startswith("[") or v in ("N/A", "") else to_float(v)


def parse_apps(text: str) -> ComputeApps:
    """One row per process; never raises: other lines (nvidia-smi's own errors) go to ``errors``."""
    if text.strip() == "absent":
        return ComputeApps(True, (), ())
    apps: list[ComputeApp] = []
    errors: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("No running"):
            continue
        f = line.split(",", 3)  # the process name is last and may hold commas
        pid = to_int(f[1]) if len(f) == 4 else None
        uuid = f[0].strip()
        if pid is None or not uuid.startswith(("GPU-", "MIG-")) or len(uuid) > 128:
            errors.append(clean(line.strip(), 300))
            continue
        apps.append(ComputeApp(uuid, pid, _value(f[2]), clean(f[3].strip(), NAME_MAX)))
    return ComputeApps(False, tuple(apps), tuple(errors))


SECTION = Section("gpu_apps", parse_apps)
