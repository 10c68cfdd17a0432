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
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from collector import rollup
from schema import runtime
from schema import samples as store
from schema.timeutil import HOUR

log = logging.getLogger(__name__)

LEASE = "housekeeping"
LEASE_TTL_S = 30.0
LEASE_RENEW_S = 10.0
RETENTION_PAUSE_S = 0.05  # between delete batches: the collectors' flushes get their turn


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
            log.info("housekeeping (rollups, retention, backups): %s", "this process" if held else "another process")
        self.holding = held
        return held

    def add_jobs(self, scheduler) -> None:
        o, common = self.options, {"max_instances": 1, "coalesce": True, "replace_existing": True}
        scheduler.add_job(job(self.renew), "interval", seconds=LEASE_RENEW_S, id="lease", **common)
        scheduler.add_job(job(self._if_holding(self.fill_rollups)), "interval", seconds=o.rollup_every_s,
                          id="rollup", **common)
        # and a few seconds past every hour, so the hour just ended is complete at once
        scheduler.add_job(job(self._if_holding(self.fill_rollups)), "cron", minute=0, second=15,
                          id="rollup-hourly", **common)
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
    def _read(self, fn):
        with Session(self.engine) as session:
            return fn(session)

    async def fill_rollups(self) -> int:
        """Roll up every hour from the last rolled-up one to now (also hours missed while down).

        The reading (the slow part: seconds for 1,000 hosts) runs on its own
        session beside the writer (WAL lets it); only the upserts queue on the
        database thread, so sample writes are not held up.
        """
        now = self._clock()
        started = time.perf_counter()
        span = await asyncio.to_thread(self._read, lambda s: rollup.hours_to_fill(s, now))
        total = 0
        if span is not None:
            step = HOUR * rollup.CHUNK_HOURS
            for chunk in range(span[0], span[1] + 1, step):
                end = min(span[1] + HOUR, chunk + step)
                rows = await asyncio.to_thread(self._read, lambda s, a=chunk, b=end: rollup.rollup_rows(s, a, b, None))
                if rows:
                    await self.run_db(lambda s, r=rows: rollup.upsert_hourly(s, r))
                total += len(rows)
        self.last_rollup = {"at": now, "rows": total, "seconds": round(time.perf_counter() - started, 3)}
        log.log(logging.INFO if self.last_rollup["seconds"] >= 1.0 else logging.DEBUG,
                "rollup: %d hourly row(s) in %.2f s", total, self.last_rollup["seconds"])
        return total

    async def retention(self, now: float | None = None) -> dict[str, int]:
        """Delete raw samples older than the raw window (whole hours, rolled up first) and old rollups.

        One batch of `rollup.DELETE_BATCH` rows per transaction, with a pause between: the collectors'
        flushes get the database in between (deleting an hour of raw rows at 1,000 hosts used to hold the
        database thread for 29 s in one go).
        """
        now, o = self._clock() if now is None else now, self.options
        started = time.perf_counter()
        longest = 0.0
        await self.run_db(lambda s: rollup.prepare_retention(s, now, o.raw_keep_s))
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
