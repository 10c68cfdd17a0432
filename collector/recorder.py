"""Turn probe reports into table rows and write them in batches.

The poller hands every finished probe to a `BatchWriter`; one flush a second
writes everything gathered since in one transaction, on one database thread,
so 1,000 hosts cost a few transactions a second rather than thousands and the
event loop never waits on the disk. A failed flush keeps its rows for the next
one (bounded), so a locked or briefly unreachable database loses nothing.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlmodel import Session

from collector.events import EventDraft
from collector.host_report import HostReport
from collector.hub_metrics import DB_WRITE_BUCKETS, Histogram
from collector.metrics.catalogue import CATALOGUE
from schema import db_health
from schema import samples as store

log = logging.getLogger(__name__)


def refused_value(exc: BaseException) -> bool:
    """The database refused a value (too big, NUL, a constraint), as opposed to being unreachable."""
    if isinstance(exc, (DataError, IntegrityError, OverflowError, ValueError)):
        return True
    return isinstance(exc, StatementError) and isinstance(exc.orig, (OverflowError, ValueError))

MAX_PENDING_SAMPLES = 200_000  # about 3 minutes of 1,000 hosts; beyond that the oldest go


@dataclass
class SampleRows:
    """The rows of one probe: host metrics plus per-GPU, per-disk and per-service."""

    sample: dict[str, Any]
    gpus: list[dict[str, Any]] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)


# (column, reader) of each stored metric: the readers are called directly, this runs for every poll
_HOST = tuple((m.key, m.reader) for m in CATALOGUE.stored("host"))
_GPU = tuple((m.key, m.reader) for m in CATALOGUE.stored("gpu"))
_DISK = tuple((m.key, m.reader) for m in CATALOGUE.stored("disk"))
_SERVICE = tuple((m.key, m.reader) for m in CATALOGUE.stored("service"))


def rows_from_report(report: HostReport) -> SampleRows:
    """Rows for one report (pure): a column for each stored catalogue metric of each scope."""
    host, ts = report.host, report.ts
    sample = {"host_id": host, "ts": ts, "state": report.state,
              "errors": json.dumps(dict(report.errors), sort_keys=True) if report.errors else None}
    for key, read in _HOST:
        sample[key] = read(report)
    return SampleRows(
        sample=sample,
        gpus=[{"host_id": host, "ts": ts, "gpu_index": g.index, "uuid": g.uuid, "name": g.name, "vendor": g.vendor,
               **{key: read(report, g) for key, read in _GPU}} for g in report.gpus],
        disks=[{"host_id": host, "ts": ts, "mount": d.mount, "fstype": d.fstype,
                **{key: read(report, d) for key, read in _DISK}} for d in report.disks],
        services=[{"host_id": host, "ts": ts, "unit": s.name, **{key: read(report, s) for key, read in _SERVICE}}
                  for s in report.services],
    )


def event_row(draft: EventDraft) -> dict[str, Any]:
    return {"ts": draft.ts, "host_id": draft.host_id, "type": draft.type, "subject": draft.subject,
            "message": draft.message, "details": json.dumps(draft.details, sort_keys=True) if draft.details else None}


class BatchWriter:
    """Gathers rows from the poller and writes them once a tick on one DB thread."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleetwatch-db")
        self._batch = store.Batch()
        self._lock = asyncio.Lock()
        self.flushes = 0
        self.rows_written = 0
        self.rows_skipped = 0  # rows the database refused (a value it cannot store), see refused_value
        self.last_error: str | None = None
        self.dropped = 0
        self.write_seconds = Histogram(DB_WRITE_BUCKETS)  # flushes that wrote, for /metrics
        self.health = db_health.tracker(engine)

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The database thread; other writers (rollups, retention) queue here too."""
        return self._executor

    def add_sample(self, rows: SampleRows) -> None:
        b = self._batch
        b.samples.append(rows.sample)
        b.gpus.extend(rows.gpus)
        b.disks.extend(rows.disks)
        b.services.extend(rows.services)
        if len(b.samples) > MAX_PENDING_SAMPLES:
            self.dropped += b.drop_oldest(len(b.samples) - MAX_PENDING_SAMPLES)

    def add_gpu_users(self, rows: list[dict[str, Any]]) -> None:
        """Additions to the per-user GPU hours (collector.gpu_usage.user_rows)."""
        self._batch.add_gpu_users(rows)

    def add_events(self, drafts: list[EventDraft]) -> None:
        self._batch.events.extend(event_row(d) for d in drafts)

    def set_host(self, host_id: str, **fields: Any) -> None:
        self._batch.hosts.setdefault(host_id, {}).update(fields)

    def set_latest(self, host_id: str, ts: float, parts: tuple) -> None:
        """The host's newest report for `host_latest` (only the last one of a batch is written);
        `parts` are `schema.fleet.latest_doc`'s arguments, serialised on the database thread."""
        self._batch.latest[host_id] = {"ts": ts, "doc": parts}

    @property
    def pending(self) -> int:
        return self._batch.size

    async def run_db(self, fn: Callable[[Session], Any]) -> Any:
        """Run `fn(session)` on the database thread and commit."""
        def work() -> Any:
            with Session(self.engine) as session:
                result = fn(session)
                session.commit()
                return result
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def flush(self) -> int:
        """Write what has gathered in one transaction; returns rows written."""
        async with self._lock:
            batch, self._batch = self._batch, store.Batch()
            if not batch.size:
                return 0
            started = time.perf_counter()
            try:
                n = await self.run_db(batch.write)
            except Exception as exc:  # keep the rows; the next tick tries again
                if refused_value(exc):  # not the database's fault: one bad row; retrying would never succeed
                    return await self._write_each(batch, exc)
                self.last_error = f"{type(exc).__name__}: {db_health.one_line(exc)}"[:500]
                # an outage is told once (db_health); any other failure at every try
                if not db_health.unavailable(exc):
                    log.warning("database write failed, keeping %d rows for the next try: %s", batch.size,
                                self.last_error)
                elif not self.health.failed(exc):
                    log.debug("database still not answering, keeping %d rows", batch.size)
                batch.merge_newer(self._batch)
                self._batch = batch
                return 0
            self.health.ok()
            self.write_seconds.observe(time.perf_counter() - started)
            self.flushes += 1
            self.rows_written += n
            self.last_error = None
            return n

    async def _write_each(self, batch: store.Batch, exc: Exception) -> int:
        written, skipped = await self.run_db(lambda session: batch.write_each(session))
        self.rows_written += written
        self.rows_skipped += len(skipped)
        self.last_error = f"{len(skipped)} row(s) refused by the database and skipped: {'; '.join(skipped[:5])}"
        log.error("database refused %d row(s) (%s); wrote the other %d one by one: %s",
                  len(skipped), f"{type(exc).__name__}: {exc}"[:200], written, "; ".join(skipped[:5]))
        return written

    def close(self) -> None:
        self._executor.shutdown(wait=True)
