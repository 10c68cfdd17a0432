"""What the overview shows: a card per host from its inventory entry and what the collectors last wrote
(`schema.fleet.HostNow`: state row and newest report), and totals over the fleet."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from collector.host_state import FAILING_STATES
from webapp.access_hint import access_hint

MAX_GPU_BARS = 16
GPU_HOT_C = 80.0
STATE_CLASS = {"up": "ok", "degraded": "warn", "connecting": "wait"}  # every failing state is "bad"
SORTS = {"name": "name", "state": "problems first", "cpu": "busiest CPU first"}


class GpuBar(NamedTuple):
    """One GPU's mini bar (a tuple: 16,000 of them are built per refresh of a big fleet)."""

    index: int
    util_pct: float | None
    temperature_c: float | None
    hot: bool


def _gpu_bar(i: int, g: dict[str, Any]) -> GpuBar:
    temp = g.get("temperature_c")
    return GpuBar(g.get("index", i), g.get("util_pct"), temp, temp is not None and temp >= GPU_HOT_C)


@dataclass(frozen=True)
class HostCard:
    id: str
    state: str
    address: str
    last_seen_at: float | None
    last_error: str | None
    cpu_pct: float | None
    mem_pct: float | None
    disk_pct: float | None
    disk_mount: str | None
    gpus: tuple[GpuBar, ...]
    gpu_count: int
    gpu_unanswered: int | None  # cards without a utilisation (left out of the mean): the bars show them hatched
    gpu_mem_fullest_pct: float | None  # the fullest card's memory
    failed_services: tuple[str, ...]
    labels: dict[str, str]
    access_hint: str | None = None  # what to do when the hub cannot log in (webapp/access_hint.py)

    @property
    def state_class(self) -> str:
        return STATE_CLASS.get(self.state, "bad")

    @property
    def troubled(self) -> bool:
        """Down, degraded, a failed service, or still connecting after an error."""
        return self.state_class in ("bad", "warn") or bool(self.failed_services) or self.last_error is not None

    @property
    def gpu_more(self) -> int:
        return max(0, self.gpu_count - MAX_GPU_BARS)


@dataclass(frozen=True)
class FleetTotals:
    hosts: int
    up: int
    degraded: int
    down: int
    connecting: int
    failed_services: int
    gpus: int


def _mem_pct(report: dict[str, Any]) -> float | None:
    used, total = report.get("mem_used_bytes"), report.get("mem_total_bytes")
    return used / total * 100 if used is not None and total else None


def _fullest_disk(report: dict[str, Any]) -> tuple[float | None, str | None]:
    disks = [d for d in report.get("disks") or () if d.get("used_pct") is not None]
    if not disks:
        return None, None
    top = max(disks, key=lambda d: d["used_pct"])
    return top["used_pct"], top.get("mount")


def host_card(spec, status) -> HostCard:
    """One host's card from its inventory entry and what the hub last saw (`schema.fleet.HostNow`)."""
    report = status.report or {}
    gpus = report.get("gpus") or ()
    disk_pct, disk_mount = _fullest_disk(report)
    return HostCard(
        id=spec.id, state=status.state, address=spec.address, last_seen_at=status.last_seen_at,
        last_error=status.last_error, cpu_pct=report.get("cpu_pct"), mem_pct=_mem_pct(report),
        disk_pct=disk_pct, disk_mount=disk_mount,
        gpus=tuple(_gpu_bar(i, g) for i, g in enumerate(gpus[:MAX_GPU_BARS])),
        gpu_count=len(gpus), gpu_unanswered=report.get("gpu_unanswered"),
        gpu_mem_fullest_pct=report.get("gpu_mem_fullest_pct"),
        failed_services=tuple(s["name"] for s in report.get("services") or () if s.get("active_state") == "failed"),
        labels=dict(spec.labels),
        access_hint=access_hint(spec, status.state, status.last_error),
    )


def _matches(card: HostCard, query: str) -> bool:
    text = " ".join([card.id, card.address, *(f"{k}={v}" for k, v in card.labels.items())]).lower()
    return all(word in text for word in query.lower().split())


def _sort_key(sort: str):
    if sort == "state":
        rank = {"bad": 0, "warn": 1, "wait": 2, "ok": 3}
        return lambda c: (not c.troubled, rank[c.state_class], -len(c.failed_services), c.id)
    if sort == "cpu":
        return lambda c: (-(c.cpu_pct if c.cpu_pct is not None else -1), c.id)
    return lambda c: c.id


def fleet(specs, now, *, query: str = "", state: str = "", sort: str = "name") -> tuple[FleetTotals, list[HostCard]]:
    """Totals over the whole fleet, and the cards that match the filter, sorted (`now`: HostNow by id)."""
    cards = [host_card(spec, now[host_id]) for host_id, spec in specs.items()]
    totals = FleetTotals(
        hosts=len(cards),
        up=sum(c.state == "up" for c in cards),
        degraded=sum(c.state == "degraded" for c in cards),
        down=sum(c.state in FAILING_STATES for c in cards),
        connecting=sum(c.state == "connecting" for c in cards),
        failed_services=sum(len(c.failed_services) for c in cards),
        gpus=sum(c.gpu_count for c in cards),
    )
    if query.strip():
        cards = [c for c in cards if _matches(c, query)]
    if state == "problems":
        cards = [c for c in cards if c.troubled]
    elif state:
        cards = [c for c in cards if c.state == state]
    cards.sort(key=_sort_key(sort if sort in SORTS else "name"))
    return totals, cards
