"""Writes of raw samples and host state; reads of the latest state of a host."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from schema.copy_rows import copy_rows
from schema.fleet import latest_doc
from schema.models import DiskSample, Event, GpuSample, GpuUserHourly, Host, Sample, ServiceSample
from schema.runtime_models import HostLatest
from schema.upsert import insert_new, upsert


@dataclass
class Batch:
    """Rows gathered between two flushes (plain dicts, inserted with executemany)."""

    samples: list[dict[str, Any]] = field(default_factory=list)
    gpus: list[dict[str, Any]] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    latest: dict[str, dict[str, Any]] = field(default_factory=dict)  # host id -> {ts, doc}: the newest only
    gpu_users: dict[tuple[str, int, str], dict[str, Any]] = field(default_factory=dict)  # (host, hour, user): sums

    @property
    def size(self) -> int:
        return (len(self.samples) + len(self.gpus) + len(self.disks) + len(self.services)
                + len(self.events) + len(self.hosts) + len(self.latest) + len(self.gpu_users))

    def add_gpu_users(self, rows: list[dict[str, Any]]) -> None:
        """Additions to gpu_user_hourly, summed per (host, hour, user) here: one row per key reaches the
        database (an upsert may not touch a row twice in one PostgreSQL statement)."""
        for row in rows:
            key = (row["host_id"], row["hour"], row["username"])
            have = self.gpu_users.get(key)
            if have is None:
                self.gpu_users[key] = dict(row)
            else:
                have["gpu_seconds"] += row["gpu_seconds"]
                have["gpu_mem_mib_seconds"] += row["gpu_mem_mib_seconds"]
                have["reads"] += row["reads"]
                have["max_processes"] = max(have["max_processes"], row["max_processes"])

    def write(self, session: Session) -> int:
        """Insert everything in the caller's transaction; returns rows written.

        Core executemany, one statement per table (host updates: one per set of columns),
        not one UPDATE per host: at 2,000 hosts those UPDATEs were 23 % of the hub's CPU.
        """
        for model, rows in ((Sample, self.samples), (GpuSample, self.gpus), (DiskSample, self.disks),
                            (ServiceSample, self.services), (Event, self.events)):
            insert_many(session, model.__table__, rows)
        update_hosts(session, self.hosts)
        upsert(session, HostLatest.__table__, self._latest_rows(), ("host_id",))
        add_gpu_use(session, list(self.gpu_users.values()))
        return self.size

    def _latest_rows(self) -> list[dict[str, Any]]:
        return [{"host_id": h, "ts": v["ts"], "doc": _doc(v["doc"])} for h, v in self.latest.items()]

    def write_each(self, session: Session) -> tuple[int, list[str]]:
        """Insert row by row, each in its own transaction; rows the database refuses are skipped.

        For a batch that failed as a whole on a value (not a connection) problem:
        one bad row must not hold back every host's samples. Returns the rows
        written and a description of each row skipped.
        """
        written, skipped = 0, []
        steps = [(model, [row]) for model, rows in ((Sample, self.samples), (GpuSample, self.gpus),
                                                     (DiskSample, self.disks), (ServiceSample, self.services),
                                                     (Event, self.events)) for row in rows]
        for model, rows in steps:
            try:
                session.execute(insert(model), rows)
                session.commit()
                written += 1
            except Exception as exc:  # noqa: BLE001 - the reason is reported, the row skipped
                session.rollback()
                skipped.append(f"{model.__tablename__} row of {rows[0].get('host_id')}: {type(exc).__name__}")
        for host_id, values in self.hosts.items():
            try:
                session.execute(update(Host).where(Host.id == host_id).values(**values))
                session.commit()
                written += 1
            except Exception as exc:  # noqa: BLE001
                session.rollback()
                skipped.append(f"hosts row of {host_id}: {type(exc).__name__}")
        for row in self.gpu_users.values():
            try:
                add_gpu_use(session, [row])
                session.commit()
                written += 1
            except Exception as exc:  # noqa: BLE001
                session.rollback()
                skipped.append(f"gpu_user_hourly row of {row['host_id']}: {type(exc).__name__}")
        for row in self._latest_rows():
            host_id = row["host_id"]
            try:
                upsert(session, HostLatest.__table__, [row], ("host_id",))
                session.commit()
                written += 1
            except Exception as exc:  # noqa: BLE001
                session.rollback()
                skipped.append(f"host_latest row of {host_id}: {type(exc).__name__}")
        return written, skipped

    def merge_newer(self, newer: Batch) -> None:
        """Append rows gathered while this batch was being written (after a failed write)."""
        self.samples += newer.samples
        self.gpus += newer.gpus
        self.disks += newer.disks
        self.services += newer.services
        self.events += newer.events
        for host_id, values in newer.hosts.items():
            self.hosts.setdefault(host_id, {}).update(values)
        self.latest.update(newer.latest)
        self.add_gpu_users(list(newer.gpu_users.values()))

    def drop_oldest(self, n: int) -> int:
        """Forget the n oldest samples (and their child rows) when the database is gone for long."""
        cut = sorted(s["ts"] for s in self.samples)[n - 1]
        before = len(self.samples)
        self.samples = [s for s in self.samples if s["ts"] > cut]
        self.gpus = [r for r in self.gpus if r["ts"] > cut]
        self.disks = [r for r in self.disks if r["ts"] > cut]
        self.services = [r for r in self.services if r["ts"] > cut]
        return before - len(self.samples)


def add_gpu_use(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add to gpu_user_hourly: a new (host, hour, user) is inserted, an existing one summed into."""
    if not rows:
        return
    table = GpuUserHourly.__table__
    dialect = session.get_bind().dialect.name
    stmt = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    c, new = table.c, stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[c.host_id, c.hour, c.username],
        set_={"gpu_seconds": c.gpu_seconds + new.gpu_seconds,
              "gpu_mem_mib_seconds": c.gpu_mem_mib_seconds + new.gpu_mem_mib_seconds,
              "reads": c.reads + new.reads,
              "max_processes": func.max(c.max_processes, new.max_processes) if dialect == "sqlite"
              else func.greatest(c.max_processes, new.max_processes)})
    session.execute(stmt, rows)


def _doc(doc: Any) -> str:
    """The JSON text of a latest doc: made here, on the database thread, not in the poll."""
    return doc if isinstance(doc, str) else latest_doc(*doc).decode()


def insert_many(session: Session, table, rows: list[dict[str, Any]]) -> None:
    """Core INSERT executemany (the ORM's bulk insert cost 12.5 % of the hub's CPU at 2,000 hosts);
    rows are grouped by their keys, since one executemany takes one set of columns. On PostgreSQL
    (psycopg) the rows go through COPY instead (schema.copy_rows)."""
    if not rows:
        return
    if copy_rows(session, table, rows):
        return
    first = rows[0].keys()
    if all(r.keys() == first for r in rows):
        session.execute(insert(table), rows)
        return
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for group in groups.values():
        session.execute(insert(table), group)


def update_hosts(session: Session, hosts: dict[str, dict[str, Any]]) -> None:
    """`UPDATE hosts SET ... WHERE id = ?` for many hosts: one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for host_id, values in hosts.items():
        groups.setdefault(tuple(sorted(values)), []).append({"host_key": host_id, **values})
    table = Host.__table__
    for columns, rows in groups.items():
        stmt = update(table).where(table.c.id == bindparam("host_key")).values({c: bindparam(c) for c in columns})
        session.execute(stmt, rows)


def sync_hosts(session: Session, hosts: Iterable[tuple[str, str]], now: float) -> None:
    """Make a row for every inventory host (id, address); mark the others removed."""
    wanted = dict(hosts)
    existing = {h.id: h for h in session.execute(select(Host)).scalars()}
    insert_new(session, Host.__table__, [_new_host(h, a, now) for h, a in wanted.items() if h not in existing],
               ("id",))
    for host_id, address in wanted.items():
        row = existing.get(host_id)
        if row is not None:
            row.address = address
            row.removed_at = None
    for host_id, row in existing.items():
        if host_id not in wanted and row.removed_at is None:
            row.removed_at = now


def list_hosts(session: Session, *, include_removed: bool = False) -> list[Host]:
    stmt = select(Host).order_by(Host.id)
    if not include_removed:
        stmt = stmt.where(Host.removed_at.is_(None))
    return list(session.execute(stmt).scalars())


def get_host(session: Session, host_id: str) -> Host | None:
    return session.get(Host, host_id)


def _row(obj: Any, skip: tuple[str, ...] = ("id", "host_id", "ts")) -> dict[str, Any]:
    return {k: v for k, v in obj.model_dump().items() if k not in skip}


def latest_sample(session: Session, host_id: str) -> dict[str, Any] | None:
    """The newest sample of a host with its GPUs, disks and services; None if never probed."""
    sample = session.execute(
        select(Sample).where(Sample.host_id == host_id).order_by(Sample.ts.desc()).limit(1)
    ).scalars().first()
    if sample is None:
        return None
    ts = sample.ts
    out = sample.model_dump(exclude={"id"})
    out["errors"] = json.loads(sample.errors) if sample.errors else {}
    out["gpus"] = [_row(g) for g in session.execute(
        select(GpuSample).where(GpuSample.host_id == host_id, GpuSample.ts == ts).order_by(GpuSample.gpu_index)
    ).scalars()]
    out["disks"] = [_row(d) for d in session.execute(
        select(DiskSample).where(DiskSample.host_id == host_id, DiskSample.ts == ts).order_by(DiskSample.mount)
    ).scalars()]
    out["services"] = [_row(s) for s in session.execute(
        select(ServiceSample).where(ServiceSample.host_id == host_id, ServiceSample.ts == ts)
        .order_by(ServiceSample.unit)
    ).scalars()]
    return out


def count_samples(session: Session, host_id: str | None = None) -> int:
    stmt = select(func.count()).select_from(Sample)
    if host_id is not None:
        stmt = stmt.where(Sample.host_id == host_id)
    return int(session.execute(stmt).scalar_one())


def ensure_hosts(session: Session, hosts: Iterable[tuple[str, str]], now: float) -> None:
    """A row for each of these hosts (id, address) that has none yet; others untouched (a collector worker's
    share: the supervisor keeps the hosts table as a whole, see `sync_hosts`)."""
    wanted = dict(hosts)
    if not wanted:
        return
    existing = set(session.execute(select(Host.id).where(Host.id.in_(list(wanted)))).scalars())
    insert_new(session, Host.__table__, [_new_host(h, a, now) for h, a in wanted.items() if h not in existing],
               ("id",))


def _new_host(host_id: str, address: str, now: float) -> dict[str, Any]:
    return {"id": host_id, "address": address, "state": "connecting", "state_since": now, "consecutive_failures": 0}
