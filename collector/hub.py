"""The hub's runtime: connections, the 5 s schedule, storage and upkeep jobs (SPEC §4).

Everything runs in one asyncio loop: APScheduler's AsyncIOScheduler starts one
job per host (never two at once for the same host, `max_instances=1`), and each
probe has its own timeout, so a hung host only ever delays itself. Database
work goes to one thread (`BatchWriter.executor`).

A Hub polls the hosts `owns(host_id)` accepts: all of them when it runs alone,
its share when it is one of `serve`'s collector workers (`collector.worker`,
assignment by `collector.assignment`). With `options.housekeeping` it also
competes for the housekeeping lease (rollups, retention, backups, the hosts
table: `collector.housekeeping`); a worker leaves that to its supervisor.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import timezone
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine
from sqlmodel import Session

from collector import events as ev
from collector.alert_engine import AlertEngine
from collector.gpu_events import cards_from_rows
from collector.housekeeping import Housekeeping, job
from collector.host_report import HostReport
from collector.host_state import HostStatus
from collector.hub_metrics import HubMetrics
from collector.hub_options import HubOptions
from collector.notifiers import Dispatcher
from collector.poll_schedule import PollSchedule
from collector.poller import Poller
from collector.process_status import ProcessIdentity, StatusReporter
from collector.proxy import ProxyManager
from collector.recorder import BatchWriter
from collector.ssh_pool import SSHPool
from inventory import HostSpec, Inventory
from inventory.watch import InventoryWatcher
from schema import alert_queries as aq
from schema import samples as store
from schema.event_queries import recent_events

log = logging.getLogger(__name__)

HOUR = 3600
SILENCES_EVERY_S = 5.0  # a silence set on another machine's web reaches this collector this fast
GC_THRESHOLDS = (10_000, 10, 10)


def tune_gc() -> None:
    """Collect garbage less often than Python's default (700 allocations).

    A hub of 1,000 hosts keeps some 10^5 containers alive (reports, specs, ORM
    state), and rendering the overview allocates ~2*10^5 more, so the default made
    every render run several full collections: about half of its time
    (docs/benchmarks.md, "Overview page").
    """
    gc.set_threshold(*GC_THRESHOLDS)


def _stagger(host_id: str, interval_s: float) -> float:
    """A stable offset inside the first interval, so 1,000 hosts don't all start at once."""
    return (zlib.crc32(host_id.encode()) % 1000) / 1000 * min(interval_s, 5.0)


class Hub:
    """Owns the pool, the poller, the writer, the schedule and the inventory watcher."""

    def __init__(self, inventory_path: Path, engine: Engine, options: HubOptions | None = None, *,
                 clock: Callable[[], float] = time.time, identity: ProcessIdentity | None = None,
                 owns: Callable[[str], bool] | None = None) -> None:
        self.options = options or HubOptions()
        self.owns = owns or (lambda _host_id: True)
        self.engine = engine
        self._clock = clock
        self.pool = SSHPool()
        self.writer = BatchWriter(engine, clock=clock)
        self.deduper = ev.EventDeduper()
        self.poller = Poller(self.writer, self.deduper, clock=clock)
        self.metrics = HubMetrics()  # the hub's own, in status_doc()["metrics"] (webapp.prometheus_hub)
        self.polls = PollSchedule(job(self.poll_host))
        self.proxies = ProxyManager(self.pool, on_event=self._proxy_event, clock=clock, listen=self.options.listen)
        self.dispatcher = Dispatcher(on_attempt=self._on_attempt, clock=clock)
        self.alerts = AlertEngine(self.writer, self.dispatcher, clock=clock, link=self._alert_link)
        self.poller.on_report = self.alerts.observe_report
        self.poller.on_events = self.alerts.observe_events
        self.public_url: str | None = None  # set by `serve` when it knows where the UI is reachable
        self.watcher = InventoryWatcher(Path(inventory_path), self.apply_inventory,
                                        interval_s=self.options.inventory_check_s)
        self.scheduler: AsyncIOScheduler | None = None
        self.specs: dict[str, HostSpec] = {}
        self.started_at: float | None = None
        self._watch_task: asyncio.Task | None = None
        self._apply_lock = asyncio.Lock()
        self._stopped = False
        # this process's row in hub_processes: what the web reads of it (schema.fleet)
        identity = identity or ProcessIdentity()
        self.status = StatusReporter(self.writer.run_db, identity, self.status_doc, clock=clock)
        self.alerts.on_change = self.status.poke
        self.housekeeping = Housekeeping(engine, self.options, self.writer.run_db, holder=identity.id, clock=clock) \
            if self.options.housekeeping else None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Load the inventory (InventoryError if invalid), seed state from the database, start jobs."""
        inventory = self.watcher.load_initial()
        tune_gc()
        self.started_at = self._clock()
        await self.writer.run_db(self._seed)
        self.alerts.start()
        if self.housekeeping is not None and await self.housekeeping.renew():
            await self.fill_rollups(complete=True)  # everything stored before this start
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self.scheduler.start()
        await self.apply_inventory(inventory)
        self._add_upkeep_jobs()
        self._watch_task = asyncio.create_task(self.watcher.run(), name="inventory-watch")
        await self.status.write()  # the web finds this process (and its hosts) at once
        self.status.start()
        log.info("hub started: %d host(s)", len(self.specs))

    async def stop(self) -> None:
        """Stop the jobs, write what is pending, close every connection; a second call does nothing."""
        if self._stopped:
            return
        self._stopped = True
        if self._watch_task is not None:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)
        await self.polls.stop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        await self.proxies.stop_all()
        await self.alerts.stop()
        await self.dispatcher.stop()
        await self.pool.close_all()
        await self.status.stop()
        await self.writer.flush()
        if self.started_at is not None and self.housekeeping is not None and self.housekeeping.holding:
            try:  # a clean stop leaves the current hour's rollup complete
                await self.fill_rollups(complete=True)
            except Exception as exc:  # the database may be what failed; the next start fills it in
                log.warning("final rollup skipped: %s", exc)
        self.writer.close()

    def _seed(self, session) -> None:
        """Carry state over a restart: host status, last snapshot, recent events (no duplicates)."""
        now = self._clock()
        self.deduper.seed(recent_events(session, now - self.deduper.window_s))
        self.alerts.seed(session)
        for host in store.list_hosts(session):
            if not self.owns(host.id):
                continue
            rt = self.poller.runtime(host.id)
            rt.status = HostStatus(state=host.state, last_error=host.last_error, last_seen_at=host.last_seen_at,
                                   state_since=host.state_since, consecutive_failures=host.consecutive_failures)
            latest = store.latest_sample(session, host.id)
            if latest is not None:
                rt.snapshot = ev.HostSnapshot.of(
                    latest["ts"], latest["uptime_s"],
                    {s["unit"]: s["active_state"] for s in latest["services"] if s["unit"] and s["active_state"]},
                    {g["gpu_index"]: g["temperature_c"] for g in latest["gpus"]}, cards_from_rows(latest["gpus"]))

    # ------------------------------------------------------------------ inventory
    async def apply_inventory(self, inventory: Inventory) -> None:
        """Connect new hosts, drop removed ones, reconnect changed ones; others keep going."""
        async with self._apply_lock:
            every = inventory.resolved_hosts()
            specs = {s.id: s for s in every if self.owns(s.id)}
            added, removed, reconnected = await self.pool.sync(list(specs.values()))
            old = self.specs
            self.specs = specs
            for host_id in removed:
                self._unschedule(host_id)
                self.poller.forget(host_id)
            for host_id, spec in specs.items():
                if host_id in added or old.get(host_id) is None or old[host_id].interval_s != spec.interval_s:
                    self._schedule(spec)
            await self.proxies.sync(specs)
            self.alerts.configure(inventory.alerting, {h: spec.labels for h, spec in specs.items()})
            if self.housekeeping is not None and self.housekeeping.holding:
                await self.housekeeping.sync_hosts([(h.id, h.address) for h in every])
            else:  # another process keeps the hosts table; our hosts need their rows for their state
                await self.writer.run_db(lambda s: store.ensure_hosts(s, [(h.id, h.address) for h in specs.values()],
                                                                      self._clock()))
            if added or removed or reconnected:
                log.info("inventory applied: %d added, %d removed, %d reconnected", len(added), len(removed),
                         len(reconnected))

    def _proxy_event(self, host_id: str, kind: str, message: str) -> None:
        self.status.poke()
        draft = ev.EventDraft(ts=self._clock(), host_id=host_id, type=kind, subject=None, message=message)
        self.alerts.observe_events([draft])
        if self.deduper.admit(draft):
            self.writer.add_events([draft])

    def _on_attempt(self, attempt) -> None:
        self.alerts.on_attempt(attempt)

    def _alert_link(self, alert_id: int) -> str | None:
        return f"{self.public_url.rstrip('/')}/alerts#alert-{alert_id}" if self.public_url else None

    def note_written(self, inventory: Inventory, written: bytes | None = None) -> None:
        """The API wrote the file (these bytes); the watcher should not reload it a second time."""
        self.watcher.note_written(inventory, written)

    # ------------------------------------------------------------------ schedule
    def _schedule(self, spec: HostSpec) -> None:
        self.polls.schedule(spec.id, spec.interval_s, _stagger(spec.id, spec.interval_s))

    def _unschedule(self, host_id: str) -> None:
        self.polls.unschedule(host_id)

    def _add_upkeep_jobs(self) -> None:
        assert self.scheduler is not None
        common = {"max_instances": 1, "coalesce": True, "replace_existing": True}
        self.scheduler.add_job(job(self.writer.flush), "interval", seconds=self.options.flush_every_s, id="flush",
                               misfire_grace_time=None, **common)
        self.scheduler.add_job(job(self.refresh_silences), "interval", seconds=SILENCES_EVERY_S, id="silences",
                               **common)
        if self.housekeeping is not None:
            self.housekeeping.add_jobs(self.scheduler)

    async def poll_host(self, host_id: str) -> dict[str, Any] | None:
        """The scheduled job for one host."""
        if host_id not in self.pool:
            return None
        return await self._poll(self.pool.get(host_id))

    async def _poll(self, conn, **wants) -> HostReport | None:
        """One probe through the poller, counted in `metrics` (its time, its outcome, its failure class)."""
        report = await self.poller.poll(conn, **wants)
        rt = self.poller.runtime(conn.spec.id)
        if report is None:
            failure = rt.last_failure.failure.value if rt.last_failure is not None else None
            self.metrics.probe(rt.last_poll_seconds, "failed", failure)
        else:
            self.metrics.probe(rt.last_poll_seconds, "degraded" if report.errors else "ok")
        return report

    # ------------------------------------------------------------------ on request
    async def probe_now(self, host_id: str) -> HostReport:
        """Probe a host now on its open connection (waits for a running probe); HostError if it fails."""
        if host_id not in self.pool:
            raise KeyError(host_id)
        conn = self.pool.get(host_id)
        report = await self._poll(conn, want_ps=True, want_os=True)
        if report is None:
            failure = self.poller.runtime(host_id).last_failure
            assert failure is not None  # poll() returns None only after recording a failure
            raise failure
        await self.writer.flush()
        return report

    async def service_catalog(self, host_id: str):
        """Systemd units found on the host (for "discover services")."""
        from collector.prober import service_catalog

        if host_id not in self.pool:
            raise KeyError(host_id)
        return await service_catalog(self.pool.get(host_id))

    # ------------------------------------------------------------------ upkeep
    async def fill_rollups(self, *, complete: bool = False) -> int:
        """Bring the hourly rollups up to date (collector.housekeeping); `complete`: up to now, not a flush ago."""
        return await self._housekeeping().fill_rollups(complete=complete)

    async def refresh_silences(self) -> None:
        """Silences are added and lifted by the web (any web process): read them again."""
        now = self._clock()
        self.alerts.set_silences(await asyncio.to_thread(self._read, lambda s: aq.active_silences(s, now)))

    def _read(self, fn):
        with Session(self.engine) as session:
            return fn(session)

    async def retention(self, now: float | None = None) -> dict[str, int]:
        """Delete raw samples older than the raw window (whole hours, rolled up first) and old rollups."""
        return await self._housekeeping().retention(now)

    async def backup(self) -> Path | None:
        """The daily backup (SQLite online backup, or pg_dump)."""
        return await self._housekeeping().backup()

    def _housekeeping(self) -> Housekeeping:
        if self.housekeeping is None:
            raise RuntimeError("this hub leaves housekeeping to its supervisor")
        return self.housekeeping

    @property
    def last_rollup(self) -> dict[str, Any]:
        return self.housekeeping.last_rollup if self.housekeeping is not None else {}

    @property
    def last_backup(self) -> dict[str, Any]:
        return self.housekeeping.last_backup if self.housekeeping is not None else {}

    # ------------------------------------------------------------------ status
    def states(self) -> Counter:
        return Counter(self.poller.runtime(h).status.state for h in self.specs)

    def status_doc(self) -> dict[str, Any]:
        """What this process's row in hub_processes says (schema.fleet reads it for the web)."""
        alerting = self.alerts.health()
        notifiers = alerting.pop("notifiers")
        return {
            **self.health(),
            "hosts": sorted(self.specs),
            "pending_alerts": self.alerts.pending(),
            "notifiers": notifiers,
            "alerts": alerting,
            "proxies": {h: p.status.to_dict() for h, p in self.proxies.proxies.items()},
            **(self.housekeeping.status() if self.housekeeping is not None else {}),
            "rows_written": self.writer.rows_written,
            "samples_dropped": self.writer.dropped,
            "metrics": self.metrics.snapshot(ssh_connections_open=self.pool.open_count(),
                                             db_write=self.writer.write_seconds,
                                             db_pending_rows=self.writer.pending, notifiers=notifiers),
        }

    def health(self) -> dict[str, Any]:
        return {
            "scheduler_running": bool(self.scheduler and self.scheduler.running),
            "hosts": len(self.specs),
            "states": dict(self.states()),
            "pending_rows": self.writer.pending,
            "db_last_error": self.writer.last_error,
            "inventory_ok": self.watcher.status.ok,
            "uptime_s": None if self.started_at is None else round(self._clock() - self.started_at, 1),
        }

