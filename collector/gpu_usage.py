"""Who uses the GPUs, as hours: per-user GPU-seconds from the compute processes, and "held, idle" cards (pure).

The processes are read every `gpu_processes` seconds (30 by default: a second
nvidia-smi call costs a real host tens of ms of CPU). Each read stands for the
time since the read before it, capped at twice the setting so that a host that
was down for an hour does not charge that hour to whoever runs now; the first
read after a (re)start stands for one setting's worth.

A user holding a card for that span is charged one GPU-second per second per
card (several processes of one user on one card count the card once) and the
GPU memory their processes hold, in MiB-seconds. The hub adds these up per
host, hour and user (`gpu_user_hourly`); the per-day table sums the hours.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from collector.host_report import Gpu, GpuProcess

HELD_MIB = 1024.0  # a card holding more than this ...
IDLE_UTIL_PCT = 5.0  # ... while working less than this ...
HELD_IDLE_AFTER_S = 30 * 60.0  # ... for this long is "held, idle"
UNKNOWN_USER = "?"  # ps did not answer for the pid (it ended between the two calls, or no procps)
HOUR = 3600


def read_span(last_read_at: float | None, now: float, every_s: float) -> float:
    """Seconds one read of the processes stands for."""
    if last_read_at is None or now <= last_read_at:
        return every_s
    return min(now - last_read_at, 2 * every_s)


def user_rows(host_id: str, processes: Iterable[GpuProcess], now: float, span_s: float) -> list[dict[str, Any]]:
    """The additions to `gpu_user_hourly` of one read: one row per user on this host."""
    cards: dict[str, set[str]] = {}
    mem: dict[str, float] = {}
    procs: dict[str, int] = {}
    for p in processes:
        user = p.user or UNKNOWN_USER
        cards.setdefault(user, set()).add(p.gpu_uuid)
        mem[user] = mem.get(user, 0.0) + (p.used_mem_mb or 0.0)
        procs[user] = procs.get(user, 0) + 1
    hour = int(now // HOUR * HOUR)
    return [{"host_id": host_id, "hour": hour, "username": user, "gpu_seconds": len(cards[user]) * span_s,
             "gpu_mem_mib_seconds": mem[user] * span_s, "reads": 1, "max_processes": procs[user]}
            for user in sorted(cards)]


def held_idle_since(before: Mapping[int, float], gpus: Iterable[Gpu], now: float) -> dict[int, float]:
    """Cards holding memory but doing no work, and since when (a card that worked or freed its memory starts
    over; one that did not answer keeps its mark until it answers again)."""
    out: dict[int, float] = {}
    for g in gpus:
        if g.mem_used_mb is None or g.util_pct is None:
            if g.index in before:
                out[g.index] = before[g.index]
            continue
        if g.mem_used_mb > HELD_MIB and g.util_pct < IDLE_UTIL_PCT:
            out[g.index] = before.get(g.index, now)
    return out


def is_held_idle(since: float | None, now: float) -> bool:
    return since is not None and now - since >= HELD_IDLE_AFTER_S
