"""Housekeeping of one database: hourly rollups, retention, the daily backup, the hosts table (SPEC §4, §7).

However many processes and machines share the database, one of them does it:
the holder of the `housekeeping` lease (`schema.runtime.take_lease`), renewed
every `LEASE_RENEW_S`. A process that loses the lease (its database
connection was cut, another member took over) skips the jobs until it wins the
lease again; the jobs are idempotent (rollups are upserts, retention deletes
what is old), so a run just after a takeover does no harm.
"""
from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from collector import rollup
from collector.rollup_partial import Partial
from schema import runtime
from schema import samples as store
from schema.timeutil import HOUR

log = logging.getLogger(__name__)

LEASE = "housekeeping"
LEASE_TTL_S = 30.0
LEASE_RENEW_S = 10.0
RETENTION_PAUSE_S = 0.05  # between delete batches: the collectors' flushes get their turn
ROLLUP_LAG_S = 20.0  # a sample reaches the database within a flush (1 s); a rollup reads up to this long ago
ROLLUP_ROWS_PER_WRITE = 1000  # upserted rows a transaction (1,000: ~30 ms on SQLite here)
ROLLUP_HOSTS_PER_READ = 500  # hosts a rollup step reads (and writes) at a time
ROLLUP_PAUSE_S = 0.05  # at least this between two steps of a run; after a read, as long as it took


def background_thread() -> None:
    """Housekeeping reads yield the CPU to the collectors: on a busy machine a rollup may take longer,
    a probe may not. A lower priority for this thread where the OS has per-thread niceness (Linux);
    elsewhere (Windows, macOS) the pauses between steps are what spreads the work."""
    if sys.platform.startswith("linux"):
        try:
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
        except OSError:
            pass


def job(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A scheduled coroutine. The scheduler's shutdown cancels the ones in flight: that is the hub
    stopping, not an error worth a traceback (a write the database thread started still finishes,
    and stop() flushes after it)."""
    @functools.wraps(fn)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except asyncio.CancelledError:
            log.debug("%s cancelled by the hub's stop", getattr(fn, "__qualname__", fn))
            return None
    return run


class Housekeeping:
    """Rollups, retention and backups of the database behind `engine`; `run_db(fn)` commits `fn(session)`
    on the process's database thread (the batch writer's, where there is one)."""

    def __init__(self, engine: Engine, options, run_db: Callable[..., Any], *, holder: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.options = options
        self.run_db = run_db
        self.holder = holder  # this process's id in hub_processes
        self._clock = clock
        self.holding = False
        self.last_rollup: dict[str, Any] = {}
        self.last_retention: dict[str, Any] = {}
        self.last_backup: dict[str, Any] = {}
        self._partials: dict[tuple[str, int], Partial] = {}  # (host, hour) -> running rollup of hours not ended
        self._mark: float | None = None  # raw samples before this are in _partials (or in settled hours)
        self._longest_write = 0.0
        self._reader: ThreadPoolExecutor | None = None

    # ----------------------------------------------------------------- the lease
    async def renew(self) -> bool:
        """Take or keep the lease; True while this process does the housekeeping."""
        now = self._clock()
        try:
            held = await self.run_db(lambda s: runtime.take_lease(s, LEASE, self.holder, now, LEASE_TTL_S))
        except Exception as exc:  # the database is away: whoever can reach it takes over
            log.debug("housekeeping lease not renewed: %s", exc)
            held = False
        if held != self.holding:
            self._reset_rollups()  # whoever held the lease meanwhile rolled up: start from the database
            log.info("housekeeping (rollups, retention, backups): %s", "this process" if held else "another process")
        self.holding = held
        return held

    def add_jobs(self, scheduler) -> None:
        o, common = self.options, {"max_instances": 1, "coalesce": True, "replace_existing": True}
        scheduler.add_job(job(self.renew), "interval", seconds=LEASE_RENEW_S, id="lease", **common)
        scheduler.add_job(job(self._if_holding(self.fill_rollups)), "interval", seconds=o.rollup_every_s,
                          id="rollup", **common)
        # and just past every hour (past the lag), so the hour just ended is settled at once
        scheduler.add_job(job(self._if_holding(self.fill_rollups)), "cron", minute=0, second=int(ROLLUP_LAG_S) + 10,
                          id="rollup-hourly", **common)
        if o.first_rollup_s is not None:  # once, soon after start, up to that moment (`fleetwatch demo`)
            scheduler.add_job(job(self._if_holding(functools.partial(self.fill_rollups, complete=True))), "date",
                              run_date=datetime.now(timezone.utc) + timedelta(seconds=o.first_rollup_s),
                              id="first-rollup", misfire_grace_time=None, **common)
        # the first retention a minute after start (not an hour): a hub restarted often still trims
        scheduler.add_job(job(self._if_holding(self.retention)), "interval", seconds=o.retention_every_s,
                          id="retention", next_run_time=datetime.now(timezone.utc) + timedelta(seconds=60),
                          **common)
        if o.backup_every_s:
            scheduler.add_job(job(self._if_holding(self.backup)), "interval", seconds=o.backup_every_s,
                              id="backup", **common)

    def _if_holding(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        async def run() -> Any:
            return await fn() if self.holding else None
        return run

    # ----------------------------------------------------------------- the jobs
    def _read_now(self, fn):
        with Session(self.engine) as session:
            return fn(session)

    async def _read(self, fn):
        """`fn(session)` on the housekeeping's own reader thread (low CPU priority where the OS allows)."""
        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="housekeeping-read", initializer=background_thread)
        return await asyncio.get_running_loop().run_in_executor(self._reader, self._read_now, fn)

    async def fill_rollups(self, *, complete: bool = False) -> int:
        """Bring samples_hourly up to date; returns the rows written. Incremental (collector.rollup_partial):
        a run reads only the raw samples that arrived since the last one, up to ROLLUP_LAG_S ago (`complete`:
        up to now, for the hub's stop once its workers have flushed), adds them to the running aggregates of
        their host-hours and upserts the hosts that changed; an hour that has ended is checked once against
        the raw table (collector.rollup.stale_hosts) and recomputed for the hosts that got late samples.
        The first run after this process takes the lease has no running aggregates: it checks the hours
        since the newest rollup and reads the hour in progress whole.

        Reads run on their own session beside the writer (WAL lets them; they hold no lock), on a reader
        thread of low CPU priority, ROLLUP_HOSTS_PER_READ hosts a step with a pause after each as long as
        the step took: at 5,000 hosts on a busy 2-core machine one read of a whole minute for every host
        (2 s) made the probes of the next seconds late. Only the upserts queue on the database thread.
        """
        now = self._clock()
        cut = now if complete else now - ROLLUP_LAG_S
        started = time.perf_counter()
        self._longest_write = 0.0
        try:
            total = await self._roll_forward(cut, pause=not complete)
        except BaseException:
            self._reset_rollups()  # half-merged aggregates must not count twice: the next run starts over
            raise
        self.last_rollup = {"at": now, "rows": total, "seconds": round(time.perf_counter() - started, 3),
                            "longest_write_s": round(self._longest_write, 3)}
        log.log(logging.INFO if self.last_rollup["seconds"] >= 1.0 else logging.DEBUG,
                "rollup: %d hourly row(s) in %.2f s (longest write %.3f s)", total, self.last_rollup["seconds"],
                self._longest_write)
        return total

    def _reset_rollups(self) -> None:
        self._partials.clear()
        self._mark = None

    async def _roll_forward(self, cut: float, *, pause: bool) -> int:
        total = 0
        if self._mark is None:  # nothing in memory: settle what may be stale, then read the open hour whole
            span = await self._read(lambda s: rollup.hours_to_fill(s, cut))
            if span is None:
                self._mark = cut
                return 0
            for hour in range(span[0], span[1], HOUR):
                total += await self._settle(hour)
            start = span[1]
        elif cut <= self._mark:
            return 0
        else:
            start = self._mark
        hosts = await self._read(lambda s: rollup.hosts_between(s, start, cut))
        for i in range(0, len(hosts), ROLLUP_HOSTS_PER_READ):  # a share of the hosts a step, with pauses
            some = hosts[i:i + ROLLUP_HOSTS_PER_READ]
            took = time.perf_counter()
            window = await self._read(lambda s, h=some: rollup.partials(s, start, cut, h))
            for key, part in window.items():
                mine = self._partials.get(key)
                if mine is None:
                    self._partials[key] = part
                else:
                    mine.merge(part)
            total += await self._write([self._partials[key].row() for key in window])
            if pause:
                await asyncio.sleep(max(ROLLUP_PAUSE_S, time.perf_counter() - took))
        self._mark = cut
        for hour in sorted({h for _host, h in self._partials if h + HOUR <= cut}):  # ended: check once, forget
            total += await self._settle(hour)
            for key in [k for k in self._partials if k[1] == hour]:
                del self._partials[key]
        return total

    async def _settle(self, hour: int) -> int:
        """An ended hour: recompute the hosts whose rollup misses raw samples (usually none), in steps."""
        stale = await self._read(lambda s: rollup.stale_hosts(s, hour))
        total = 0
        for i in range(0, len(stale), ROLLUP_HOSTS_PER_READ):
            hosts = stale[i:i + ROLLUP_HOSTS_PER_READ]
            rows = await self._read(lambda s, h=hosts: rollup.rollup_rows(s, hour, hour + HOUR, h))
            total += await self._write(rows)
        return total

    async def _write(self, rows: list[dict[str, Any]]) -> int:
        for i in range(0, len(rows), ROLLUP_ROWS_PER_WRITE):
            if i:
                await asyncio.sleep(ROLLUP_PAUSE_S)  # the collectors' flushes get the database in between
            part = rows[i:i + ROLLUP_ROWS_PER_WRITE]
            step = time.perf_counter()
            await self.run_db(lambda s, r=part: rollup.upsert_hourly(s, r))
            self._longest_write = max(self._longest_write, time.perf_counter() - step)
        return len(rows)

    async def retention(self, now: float | None = None) -> dict[str, int]:
        """Delete raw samples older than the raw window (whole hours, rolled up first) and old rollups.

        One batch of `rollup.DELETE_BATCH` rows per transaction, with a pause between: the collectors'
        flushes get the database in between (deleting an hour of raw rows at 1,000 hosts used to hold the
        database thread for 29 s in one go).
        """
        now, o = self._clock() if now is None else now, self.options
        started = time.perf_counter()
        longest = 0.0
        leaving = await self._read(lambda s: rollup.hours_leaving(s, now, o.raw_keep_s))
        for hour in leaving:  # rolled up before they go: usually already, so a count per hour is all it costs
            await self._settle(hour)
        removed: dict[str, int] = {}
        for name, model, condition in rollup.retention_steps(now, o.raw_keep_s, o.hourly_keep_s):
            removed[name] = 0
            while True:
                step = time.perf_counter()
                n = await self.run_db(lambda s, m=model, c=condition: rollup.delete_batch(s, m, c))
                longest = max(longest, time.perf_counter() - step)
                removed[name] += n
                if n < rollup.DELETE_BATCH:
                    break
                await asyncio.sleep(RETENTION_PAUSE_S)
        if any(removed.values()):
            log.info("retention: deleted %s in %.2f s (longest batch %.3f s)", removed,
                     time.perf_counter() - started, longest)
        self.last_retention = {"at": now, "deleted": sum(removed.values()), "longest_batch_s": round(longest, 3),
                               "seconds": round(time.perf_counter() - started, 3)}
        return removed

    async def backup(self) -> Path | None:
        """The daily backup (SQLite online backup, or pg_dump)."""
        from schema.backup import backup_database
        from schema.db import DatabaseError

        url = self.options.db_url or str(self.engine.url.render_as_string(hide_password=False))
        try:
            path = await asyncio.to_thread(backup_database, url, self.options.backup_dir, label="daily")
        except (DatabaseError, OSError) as exc:
            self.last_backup = {"at": self._clock(), "ok": False, "error": str(exc)}
            log.warning("daily backup failed: %s", exc)
            return None
        self.last_backup = {"at": self._clock(), "ok": True, "path": str(path)}
        return path

    async def sync_hosts(self, hosts: list[tuple[str, str]]) -> None:
        """A row for every inventory host (id, address); the others marked removed (their history stays)."""
        now = self._clock()
        await self.run_db(lambda s: store.sync_hosts(s, hosts, now))

    def status(self) -> dict[str, Any]:
        return {"housekeeping": self.holding, "last_rollup": self.last_rollup, "last_retention": self.last_retention,
                "last_backup": self.last_backup}
