"""The fleet as the web sees it: one read-only interface over what the hub's processes wrote (issue 15).

The collector workers write each host's state (`hosts`), its newest report
(`host_latest`) and their own status (`hub_processes`: heartbeat, pending
alerts, notifier and forward status, control-channel address); the web reads
them here and nowhere else, so it works the same whether the collectors run in
its process, in other processes or on other machines.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select
from sqlmodel import Session

from schema.models import Host
from schema.runtime_models import HostLatest, HubProcess

FACTS = ("hostname", "os_pretty_name", "kernel", "arch", "cpu_count", "mem_total_bytes", "gpu_count")
HEARTBEAT_S = 2.0  # how often a process writes its row
SILENT_AFTER_S = 15.0  # a process whose row is older than this is gone (crashed, cut off)


@dataclass(frozen=True)
class HostNow:
    """One host as the hub knows it now: its state and its newest report."""

    id: str
    state: str = "connecting"
    last_error: str | None = None
    last_seen_at: float | None = None
    state_since: float | None = None
    consecutive_failures: int = 0
    facts: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None  # the newest report (None before the first probe)
    top_processes: list[dict[str, Any]] = field(default_factory=list)
    os: dict[str, Any] | None = None  # os-release facts, asked once per connection


def latest_doc(report: Any, top_processes: list, os_info: dict | None, facts: dict) -> bytes:
    """What a worker stores in `host_latest.doc` (JSON); `report` is a dict or has `to_dict()` (a HostReport)."""
    if not isinstance(report, dict):
        report = report.to_dict()
    return orjson.dumps({"report": report, "top_processes": top_processes, "os": os_info, "facts": facts})


_ROW = (Host.id, Host.state, Host.last_error, Host.last_seen_at, Host.state_since, Host.consecutive_failures,
        *(getattr(Host, name) for name in FACTS))


def _host_now(row: Any, host_id: str, parsed: dict[str, Any]) -> HostNow:
    facts = {name: row[6 + i] for i, name in enumerate(FACTS) if row is not None and row[6 + i] is not None}
    facts.update({k: v for k, v in (parsed.get("facts") or {}).items() if v is not None})
    common = {"facts": facts, "report": parsed.get("report"), "top_processes": parsed.get("top_processes") or [],
              "os": parsed.get("os")}
    if row is None:
        return HostNow(id=host_id, **common)
    return HostNow(id=host_id, state=row[1], last_error=row[2], last_seen_at=row[3], state_since=row[4],
                   consecutive_failures=row[5] or 0, **common)


class DocCache:
    """Newest reports, decoded once per new report and shared by the web's threads.

    A page of 2,000 hosts decoded 12 MB of JSON per view, and 16 threads rendering the overview at
    once held 640 MB; now a view reads each host's timestamp and decodes only what changed since any
    thread last looked. The decoded documents are shared: callers read them, never change them.
    """

    CHUNK = 500  # ids per IN (...)

    def __init__(self) -> None:
        self._docs: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def docs(self, session: Session, stamps: dict[str, float]) -> dict[str, dict[str, Any]]:
        with self._lock:
            stale = [h for h, ts in stamps.items() if self._docs.get(h, (None, None))[0] != ts]
        fresh: dict[str, tuple[float, dict[str, Any]]] = {}
        for i in range(0, len(stale), self.CHUNK):
            query = select(HostLatest.host_id, HostLatest.ts, HostLatest.doc).where(
                HostLatest.host_id.in_(stale[i:i + self.CHUNK]))
            for host_id, ts, doc in session.execute(query):
                fresh[host_id] = (ts, orjson.loads(doc))
        with self._lock:
            self._docs.update(fresh)
            if len(self._docs) > 2 * max(len(stamps), 1000):  # hosts removed long ago
                self._docs = {h: d for h, d in self._docs.items() if h in stamps}
            return {h: self._docs[h][1] for h in stamps if h in self._docs}


def hosts_now(session: Session, host_ids: Iterable[str] | None = None, *,
              cache: DocCache | None = None) -> dict[str, HostNow]:
    """Every host (or those named) with its state and newest report, by id (`cache`: decode only what changed)."""
    wanted = None if host_ids is None else list(host_ids)
    rows_q = select(*_ROW)
    stamps_q = select(HostLatest.host_id, HostLatest.ts)
    if wanted is not None:
        if not wanted:
            return {}
        if len(wanted) <= DocCache.CHUNK:
            rows_q = rows_q.where(Host.id.in_(wanted))
            stamps_q = stamps_q.where(HostLatest.host_id.in_(wanted))
    rows = {r[0]: r for r in session.execute(rows_q)}
    stamps = dict(session.execute(stamps_q).all())
    ids = wanted if wanted is not None else sorted(set(rows) | set(stamps))
    stamps = {h: stamps[h] for h in ids if h in stamps}
    if cache is not None:
        docs = cache.docs(session, stamps)
    else:
        docs = {h: orjson.loads(d) for h, d in session.execute(
            select(HostLatest.host_id, HostLatest.doc).where(HostLatest.host_id.in_(list(stamps))))} if stamps else {}
    return {h: _host_now(rows.get(h), h, docs.get(h) or {}) for h in ids}


def host_now(session: Session, host_id: str, *, cache: DocCache | None = None) -> HostNow:
    """One host (a host never seen yet is `connecting` with no report)."""
    return hosts_now(session, [host_id], cache=cache)[host_id]


# --------------------------------------------------------------------------- the hub's processes
@dataclass(frozen=True)
class ProcessNow:
    """One process of a hub member and the status it last wrote."""

    id: str
    member: str
    role: str
    slot: int | None
    workers: int | None
    pid: int
    machine: str
    started_at: float
    heartbeat_at: float
    restarts: int
    control_url: str | None
    control_secret: str | None
    status: dict[str, Any]

    def alive(self, now: float) -> bool:
        return now - self.heartbeat_at <= SILENT_AFTER_S


def processes(session: Session) -> list[ProcessNow]:
    """Every process row, newest heartbeat first (dead ones too: the caller decides with `alive`)."""
    rows = session.execute(select(HubProcess).order_by(HubProcess.heartbeat_at.desc())).scalars()
    return [ProcessNow(id=r.id, member=r.member, role=r.role, slot=r.slot, workers=r.workers, pid=r.pid,
                       machine=r.machine, started_at=r.started_at, heartbeat_at=r.heartbeat_at, restarts=r.restarts,
                       control_url=r.control_url, control_secret=r.control_secret,
                       status=orjson.loads(r.status) if r.status else {}) for r in rows]


def collectors(session: Session, now: float) -> list[ProcessNow]:
    """The live processes that poll hosts (workers, or a hub running everything in one process)."""
    return [p for p in processes(session) if p.role in ("worker", "hub") and p.alive(now)]


def metric_sources(session: Session, now: float) -> list[ProcessNow]:
    """The live collectors whose status carries the hub's own metrics ("metrics", `collector.hub_metrics`),
    by process id: what /metrics turns into the fleetwatch_* families (`webapp.prometheus_hub`)."""
    return sorted((p for p in collectors(session, now) if isinstance(p.status.get("metrics"), dict)),
                  key=lambda p: p.id)


def owner_of(session: Session, host_id: str, now: float) -> ProcessNow | None:
    """The live collector that says it polls this host."""
    for proc in collectors(session, now):
        if host_id in (proc.status.get("hosts") or ()):
            return proc
    return None


def pending_alerts(session: Session, now: float) -> list[dict[str, Any]]:
    """Alert instances waiting for their `for` (they live in the collectors' memory), oldest first."""
    found = [p for proc in collectors(session, now) for p in proc.status.get("pending_alerts") or ()]
    return sorted(found, key=lambda r: r["started_at"])


def proxy_statuses(session: Session, now: float) -> dict[str, dict[str, Any]]:
    """Each forwarded host's live status, as its collector last reported it."""
    out: dict[str, dict[str, Any]] = {}
    for proc in collectors(session, now):
        out.update(proc.status.get("proxies") or {})
    return out


def notifier_stats(session: Session, now: float) -> dict[str, dict[str, Any]]:
    """Delivery counts of each notifier, summed over the collectors that send; the newest attempt."""
    merged: dict[str, dict[str, Any]] = {}
    for proc in collectors(session, now):
        for name, st in (proc.status.get("notifiers") or {}).items():
            into = merged.setdefault(name, {"type": st.get("type"), "queued": 0, "delivered": 0, "failed": 0,
                                            "dropped": 0, "attempts": 0, "last": None, "recent": []})
            for key in ("queued", "delivered", "failed", "dropped", "attempts"):
                into[key] += st.get(key) or 0
            into["recent"] = sorted(into["recent"] + list(st.get("recent") or ()), key=lambda a: a["at"])[-20:]
            last = st.get("last")
            if last is not None and (into["last"] is None or last["at"] >= into["last"]["at"]):
                into["last"] = last
    return merged


def health_summary(procs: list[ProcessNow], now: float) -> tuple[bool, dict[str, Any]]:
    """Whether the hub is healthy, and what /healthz shows: every process of every member, and the
    collectors' totals (hosts, states, rows waiting, database errors)."""
    live = [p for p in procs if p.alive(now)]
    collecting = [p for p in live if p.role in ("hub", "worker")]
    states: dict[str, int] = {}
    for p in collecting:
        for state, n in (p.status.get("states") or {}).items():
            states[state] = states.get(state, 0) + n
    db_errors = [p.status.get("db_last_error") for p in collecting if p.status.get("db_last_error")]
    silent = [p for p in procs if not p.alive(now) and any(s.member == p.member and s.role == "supervisor"
                                                                for s in live)]
    doc = {
        "scheduler_running": bool(collecting) and all(p.status.get("scheduler_running") for p in collecting),
        "hosts": sum(len(p.status.get("hosts") or ()) for p in collecting),
        "states": states,
        "pending_rows": sum(p.status.get("pending_rows") or 0 for p in collecting),
        "db_last_error": db_errors[0] if db_errors else None,
        "inventory_ok": all(p.status.get("inventory_ok", True) for p in collecting),
        "uptime_s": max((round(now - p.started_at, 1) for p in collecting), default=None),
        "processes": [_process_view(p, now) for p in procs],
        "housekeeping": next(({"by": p.id, **{k: p.status.get(k) for k in ("last_rollup", "last_retention",
                                                                             "last_backup")}}
                              for p in live if p.status.get("housekeeping")), None),
    }
    # a supervisor with a child down (restart pending) is not healthy until the child is back
    child_down = any(not c.get("running") for p in live if p.role == "supervisor"
                     for c in (p.status.get("children") or {}).values())
    ok = doc["scheduler_running"] and doc["db_last_error"] is None and not silent and not child_down
    return ok, doc


def _process_view(p: ProcessNow, now: float) -> dict[str, Any]:
    view = {"id": p.id, "role": p.role, "member": p.member, "machine": p.machine, "pid": p.pid,
            "alive": p.alive(now), "heartbeat_age_s": round(now - p.heartbeat_at, 1), "restarts": p.restarts,
            "uptime_s": round(now - p.started_at, 1)}
    if p.role == "supervisor":
        view["children"] = p.status.get("children") or {}
        view["housekeeping"] = bool(p.status.get("housekeeping"))
    elif p.role in ("hub", "worker"):
        view["hosts"] = len(p.status.get("hosts") or ())
    return view
