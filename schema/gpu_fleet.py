"""Every GPU of the fleet in one table, and GPU-hours per user: what the GPU page and its API both read.

The cards come from each host's newest report (`schema.fleet.HostNow`): values, the processes read every
30 s (collector/gpu_usage.py) and since when a card has held memory without working. The per-user hours come
from `gpu_user_hourly`, summed by UTC day.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from collector.gpu_usage import HELD_IDLE_AFTER_S, HELD_MIB, IDLE_UTIL_PCT, is_held_idle
from schema.models import GpuUserHourly
from schema.timeutil import utc_format

DAY = 86400
__all__ = ["GpuCard", "UserDay", "HELD_IDLE_AFTER_S", "HELD_MIB", "IDLE_UTIL_PCT", "fleet_cards", "user_days",
           "user_days_csv", "CARD_SORTS"]


@dataclass(frozen=True)
class GpuCard:
    """One card as the fleet's GPU table shows it; None where the card did not say."""

    host_id: str
    host_state: str
    labels: dict[str, str]
    index: int
    name: str | None
    uuid: str | None
    vendor: str
    util_pct: float | None
    mem_used_mb: float | None
    mem_total_mb: float | None
    mem_used_pct: float | None
    temperature_c: float | None
    power_w: float | None
    power_limit_w: float | None
    users: tuple[str, ...]  # owners of the processes on the card, sorted
    processes: tuple[dict[str, Any], ...]  # {pid, name, user, used_mem_mb, elapsed_s, command}
    busy_since: float | None  # when the card's oldest process started (hub clock), None without processes
    held_idle: bool  # memory held > 1 GiB and utilisation < 5 % for 30 min
    held_idle_since: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _card(host_id: str, state: str, labels: dict[str, str], g: dict[str, Any], procs: list[dict[str, Any]],
          now: float, read_at: float | None = None) -> GpuCard:
    mine = [p for p in procs if p.get("gpu_index") == g["index"] or (g.get("uuid") and p.get("gpu_uuid") == g["uuid"])]
    # elapsed_s is as of the read of the processes (every 30 s), not of this page
    started = [(read_at or now) - p["elapsed_s"] for p in mine if p.get("elapsed_s") is not None]
    since = g.get("held_idle_since")
    return GpuCard(
        host_id=host_id, host_state=state, labels=labels, index=g["index"], name=g.get("name"), uuid=g.get("uuid"),
        vendor=g.get("vendor") or "nvidia", util_pct=g.get("util_pct"), mem_used_mb=g.get("mem_used_mb"),
        mem_total_mb=g.get("mem_total_mb"), mem_used_pct=g.get("mem_used_pct"),
        temperature_c=g.get("temperature_c"), power_w=g.get("power_w"), power_limit_w=g.get("power_limit_w"),
        users=tuple(sorted({p.get("user") or "?" for p in mine})),
        processes=tuple({k: p.get(k) for k in ("pid", "name", "user", "used_mem_mb", "elapsed_s", "command")}
                        for p in mine),
        busy_since=min(started) if started else None,
        held_idle=is_held_idle(since, now), held_idle_since=since)


# sort keys of the table: name -> (key, descending first)
CARD_SORTS = {
    "host": (lambda c: (c.host_id, c.index), False),
    "util": (lambda c: (c.util_pct is None, c.util_pct or 0.0), False),
    "memory": (lambda c: (c.mem_used_pct is None, -(c.mem_used_pct or 0.0)), False),
    "temperature": (lambda c: (c.temperature_c is None, -(c.temperature_c or 0.0)), False),
    "user": (lambda c: (not c.users, c.users), False),
    "since": (lambda c: (c.busy_since is None, c.busy_since or 0.0), False),
}


def fleet_cards(hosts: Iterable[Any], labels: Mapping[str, Mapping[str, str]], now: float, *,
                query: str = "", sort: str = "host") -> list[GpuCard]:
    """Every card of these hosts (`schema.fleet.HostNow`s): "held, idle" cards first, then by `sort`;
    `query` keeps the cards whose host, labels, model, users or process names hold every word."""
    if sort not in CARD_SORTS:
        raise ValueError(f"unknown sort {sort!r}; allowed: {', '.join(CARD_SORTS)}")
    cards = []
    for h in hosts:
        report = h.report or {}
        procs = report.get("gpu_processes") or []
        own = dict(labels.get(h.id) or {})
        read_at = report.get("gpu_processes_at")
        cards += [_card(h.id, h.state, own, g, procs, now, read_at) for g in report.get("gpus") or ()]
    words = query.lower().split()
    if words:
        cards = [c for c in cards if all(w in _text(c) for w in words)]
    key = CARD_SORTS[sort][0]
    return sorted(cards, key=lambda c: (not c.held_idle, key(c)))


def _text(c: GpuCard) -> str:
    return " ".join([c.host_id, c.name or "", c.vendor, *c.users, *(f"{k}={v}" for k, v in c.labels.items()),
                     *(str(p.get("name") or "") for p in c.processes)]).lower()


@dataclass(frozen=True)
class UserDay:
    """GPU use of one user on one host on one UTC day."""

    day: str  # YYYY-MM-DD (UTC)
    host_id: str
    user: str
    gpu_hours: float
    gpu_mem_gib_hours: float
    hours_seen: int  # hours of the day with at least one of the user's processes


def user_days(session: Session, start: float, end: float, *, host_id: str | None = None,
              user: str | None = None) -> list[UserDay]:
    """Per-user GPU-hours and GPU-memory-GiB-hours by UTC day over the hours starting in [start, end), newest day
    first, then most GPU-hours."""
    t = GpuUserHourly
    day = (t.hour - t.hour % DAY).label("day")
    q = (select(day, t.host_id, t.username, func.sum(t.gpu_seconds), func.sum(t.gpu_mem_mib_seconds),
                func.count()).where(t.hour >= start - start % 3600, t.hour < end)
         .group_by(day, t.host_id, t.username))
    if host_id is not None:
        q = q.where(t.host_id == host_id)
    if user is not None:
        q = q.where(t.username == user)
    rows = sorted(session.execute(q), key=lambda r: (-r[0], -r[3], r[1], r[2]))
    return [UserDay(utc_format(d, "%Y-%m-%d"), h, u, round(s / 3600, 6), round(m / 1024 / 3600, 6), n)
            for d, h, u, s, m, n in rows]


def user_days_csv(rows: Iterable[UserDay]) -> str:
    """The per-user table as CSV, units in the header."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["day_utc", "host", "user", "gpu_hours", "gpu_memory_gib_hours", "hours_seen"])
    for r in rows:
        w.writerow([r.day, r.host_id, r.user, r.gpu_hours, r.gpu_mem_gib_hours, r.hours_seen])
    return out.getvalue()
