"""Event detection from state changes and samples, and the one-minute duplicate filter (pure)."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol

from collector.event_draft import EventDraft
from collector.gpu_events import Card, carry_cards, cards_from_report, gpu_health_events
from collector.host_state import FAILING_STATES, OK_STATES, HostStatus
from schema.timeutil import utc_format
from schema.units_format import format_duration as fmt_duration

if TYPE_CHECKING:
    from collector.host_report import HostReport

GPU_HOT_C = 80.0
REBOOT_SLACK_S = 120.0  # boot time (hub clock - host uptime) moves this much only on a reboot
DOWN_STATES = frozenset({"down", "unreachable"})


def fmt_time(ts: float | None) -> str:
    """UTC wall-clock time, or "unknown"."""
    if ts is None:
        return "unknown"
    try:  # one formatter for every platform: Windows' gmtime stops at the year 3000
        return utc_format(ts, "%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, ValueError):  # a host's clock or uptime can be absurd (nan, inf)
        return f"{ts!r} (not a valid time)"


def _num(v: float) -> str:
    return f"{v:g}"


def state_events(host_id: str, prev: HostStatus, cur: HostStatus, now: float) -> list[EventDraft]:
    """Events for one host state transition (host_down, host_up, auth_failed, host_key_mismatch)."""
    out: list[EventDraft] = []
    if cur.state in DOWN_STATES and prev.state not in DOWN_STATES:
        polls = cur.consecutive_failures
        out.append(EventDraft(now, host_id, "host_down", None,
                              f"{host_id} is {cur.state} after {polls} failed poll{'s' if polls != 1 else ''}: "
                              f"{cur.last_error or 'no error text'}",
                              {"state": cur.state, "failed_polls": polls, "error": cur.last_error}))
    if prev.state in FAILING_STATES and cur.state in OK_STATES:
        # Out of contact since the last good poll; a never-seen host since it went into that state.
        since = prev.last_seen_at if prev.last_seen_at is not None else prev.state_since
        down_for = None if since is None else max(0.0, now - since)
        how_long = f"after {fmt_duration(down_for)} " if down_for is not None else ""
        out.append(EventDraft(now, host_id, "host_up", None,
                              f"{host_id} is {cur.state} again {how_long}(was {prev.state}: "
                              f"{prev.last_error or 'no error text'})",
                              {"previous_state": prev.state, "down_for_s": down_for}))
    for kind in ("auth_failed", "host_key_mismatch"):
        if cur.state == kind and prev.state != kind:
            out.append(EventDraft(now, host_id, kind, None, cur.last_error or kind, {"error": cur.last_error}))
    return out


@dataclass(frozen=True)
class HostSnapshot:
    """What event detection needs from one probe of a host."""

    ts: float
    uptime_s: float | None
    boot_time: float | None
    services: Mapping[str, str] = field(default_factory=dict)  # unit -> active_state
    gpu_temps: Mapping[int, float | None] = field(default_factory=dict)
    gpus: tuple[Card, ...] | None = None  # None: nvidia-smi gave no list of cards (collector/gpu_events.py)

    @classmethod
    def from_report(cls, report: HostReport) -> HostSnapshot:
        """From a probe's report; boot_time = ts - uptime_s."""
        services = {s.name: s.active_state for s in report.services if s.name and s.active_state}
        return cls.of(report.ts, report.uptime_s, services, {g.index: g.temperature_c for g in report.gpus},
                      cards_from_report(report))

    @classmethod
    def of(cls, ts: float, uptime_s: float | None, services: Mapping[str, str],
           gpu_temps: Mapping[int, float | None], gpus: tuple[Card, ...] | None = None) -> HostSnapshot:
        """From values (a stored sample, when the hub starts again)."""
        ts = float(ts)
        return cls(ts, uptime_s, None if uptime_s is None else ts - uptime_s,
                   MappingProxyType(dict(services)), MappingProxyType(dict(gpu_temps)), gpus)


def remember_failures(prev: HostSnapshot | None, cur: HostSnapshot) -> HostSnapshot:
    """The snapshot to keep for the next poll: a failed unit stays "failed" until it is active again.

    A restart seen half-way (failed -> activating -> active) then still ends in
    `service_recovered`, and a unit that goes failed -> inactive -> failed is not
    reported as failing twice.
    """
    if prev is None:
        return cur
    carried = {u: "failed" for u, st in cur.services.items() if prev.services.get(u) == "failed" and st != "active"}
    if not carried:
        return cur
    return dataclasses.replace(cur, services=MappingProxyType({**cur.services, **carried}))


def carry_over(prev: HostSnapshot | None, cur: HostSnapshot) -> HostSnapshot:
    """The snapshot to keep for the next poll: failed units (`remember_failures`) and the GPU cards with
    their throttled-poll counts, the lost ones that vanished, or the cards before when nvidia-smi did not
    answer this time (`gpu_events.carry_cards`)."""
    kept = remember_failures(prev, cur)
    gpus = carry_cards(prev.gpus if prev is not None else None, cur.gpus)
    return kept if gpus == kept.gpus else dataclasses.replace(kept, gpus=gpus)


def _service_events(host_id: str, prev: HostSnapshot | None, cur: HostSnapshot, now: float) -> list[EventDraft]:
    out = []
    for unit, state in sorted(cur.services.items()):
        before = prev.services.get(unit) if prev is not None else None
        if state == "failed" and before != "failed":
            was = f" (was {before})" if before else ""
            out.append(EventDraft(now, host_id, "service_failed", unit, f"{unit} on {host_id} has failed{was}",
                                  {"previous": before, "active_state": state}))
        elif before == "failed" and state == "active":
            out.append(EventDraft(now, host_id, "service_recovered", unit,
                                  f"{unit} on {host_id} is active again after failing",
                                  {"previous": before, "active_state": state}))
    return out


def _reboot_event(host_id: str, prev: HostSnapshot, cur: HostSnapshot, now: float) -> EventDraft | None:
    went_back = prev.uptime_s is not None and cur.uptime_s is not None and cur.uptime_s < prev.uptime_s
    moved = (prev.boot_time is not None and cur.boot_time is not None
             and cur.boot_time - prev.boot_time > REBOOT_SLACK_S)
    if not (went_back or moved):
        return None
    up = f", up {fmt_duration(cur.uptime_s)}" if cur.uptime_s is not None else ""
    return EventDraft(now, host_id, "host_rebooted", None,
                      f"{host_id} rebooted: booted at {fmt_time(cur.boot_time)}{up} "
                      f"(previous boot {fmt_time(prev.boot_time)})",
                      {"old_boot_time": prev.boot_time, "new_boot_time": cur.boot_time,
                       "old_uptime_s": prev.uptime_s, "new_uptime_s": cur.uptime_s})


def _gpu_events(host_id: str, prev: HostSnapshot | None, cur: HostSnapshot, now: float) -> list[EventDraft]:
    out = []
    for index, temp in sorted(cur.gpu_temps.items()):
        if temp is None or temp < GPU_HOT_C:
            continue
        before = prev.gpu_temps.get(index) if prev is not None else None
        if before is not None and before >= GPU_HOT_C:
            continue  # still hot: reported when it crossed
        out.append(EventDraft(now, host_id, "gpu_hot", str(index),
                              f"GPU {index} on {host_id} at {_num(temp)} °C (≥ {_num(GPU_HOT_C)} °C)",
                              {"temperature_c": temp, "threshold_c": GPU_HOT_C, "previous_c": before}))
    return out


def sample_events(host_id: str, prev: HostSnapshot | None, cur: HostSnapshot, now: float) -> list[EventDraft]:
    """Events between two consecutive snapshots (prev None: the first one after start)."""
    out = _service_events(host_id, prev, cur, now)
    reboot = _reboot_event(host_id, prev, cur, now) if prev is not None else None
    if reboot is not None:
        out.append(reboot)
    out += _gpu_events(host_id, prev, cur, now)
    out += gpu_health_events(host_id, prev.gpus if prev is not None else None, cur.gpus, now)
    return out


class _EventLike(Protocol):
    ts: float
    host_id: str
    type: str
    subject: str | None


class EventDeduper:
    """Drops an event whose (host, type, subject) was admitted less than window_s earlier."""

    MIN_PRUNE = 1024  # entries kept before old ones are swept

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._last: dict[tuple[str, str, str | None], float] = {}
        self._prune_at = self.MIN_PRUNE

    def __len__(self) -> int:
        return len(self._last)

    def seed(self, events: Iterable[_EventLike]) -> None:
        """Remember already recorded events (e.g. the last minute from the database after a restart)."""
        for e in events:
            key = (e.host_id, e.type, e.subject)
            ts = float(e.ts)
            if key not in self._last or ts > self._last[key]:
                self._last[key] = ts
        self._maybe_prune(max(self._last.values(), default=0.0))

    def admit(self, draft: _EventLike) -> bool:
        """True (and remembered) unless the same event was admitted within the window."""
        key = (draft.host_id, draft.type, draft.subject)
        last = self._last.get(key)
        # abs(): an admitted event stamped later than this draft (hub clock stepped back) counts too
        if last is not None and abs(draft.ts - last) < self.window_s:
            return False
        self._last[key] = draft.ts
        self._maybe_prune(draft.ts)
        return True

    def _maybe_prune(self, now: float) -> None:
        if len(self._last) <= self._prune_at:
            return
        cutoff = now - self.window_s
        self._last = {k: ts for k, ts in self._last.items() if ts > cutoff}
        self._prune_at = max(self.MIN_PRUNE, 2 * len(self._last))
