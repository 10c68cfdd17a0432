"""Schema migrations (Alembic, configured in code), with a backup first.

`upgrade()` is safe to call at every hub start: at the head revision it does
nothing (no backup, one log line). Behind it, on a database that holds
tables, it first backs the database up (schema/backup.py) and only then
migrates; if the backup fails nothing is changed. A fresh, empty database is
migrated straight away. A database made by `SQLModel.metadata.create_all`
(tables, no alembic_version) is adopted: stamped at the revision its tables
match, after the backup.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from schema.backup import backup_database
from schema.db import DatabaseError, default_db_url, make_engine, normalize_url, redact

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
# tables each revision adds, to recognise a database made without migrations
_TABLES_BY_REVISION = {
    "0001": {"hosts", "samples", "gpu_samples", "disk_samples", "service_samples", "events"},
    "0002": {"samples_hourly"},
    "0003": {"users", "api_tokens", "web_sessions"},
    "0004": {"alerts", "alert_notifications", "alert_silences"},
    "0005": {"host_latest", "hub_processes", "hub_leases", "inventory_docs", "inventory_edits"},
}


@dataclass(frozen=True)
class UpgradeResult:
    from_rev: str | None  # None: the database had no schema
    to_rev: str | None
    backup_path: Path | None  # None: no backup was needed (fresh database, or already at the target)


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at schema/migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this fleetwatch knows."""
    head = _script().get_current_head()
    assert head is not None, f"no migrations in {MIGRATIONS_DIR}"
    return head


def current_revision(engine: Engine | Connection) -> str | None:
    """The database's revision (None when it was never migrated)."""
    if isinstance(engine, Connection):
        return MigrationContext.configure(engine).get_current_revision()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # the driver's own message, without SQLAlchemy's SQL and links
    return " ".join(str(orig if orig is not None else exc).split())


def _resolve(revision: str) -> str | None:
    """A revision id for "head", "base", an id or a unique prefix; DatabaseError if unknown."""
    if revision == "base":
        return None
    try:
        script = _script().get_revision(head_revision() if revision == "head" else revision)
    except CommandError as exc:
        raise DatabaseError(f"unknown revision {revision!r} ({exc}); known: "
                            + ", ".join(r.revision for r in _script().walk_revisions())) from None
    return script.revision if script else None


def _ancestors(revision: str | None) -> list[str]:
    """`revision` and every revision below it, oldest first."""
    if revision is None:
        return []
    return [r.revision for r in _script().iterate_revisions(revision, "base")][::-1]


def _inspect(engine: Engine, url: str) -> tuple[str | None, set[str]]:
    try:
        with engine.connect() as conn:
            return current_revision(conn), set(inspect(conn).get_table_names()) - {VERSION_TABLE}
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot connect to {redact(url)}: {_one_line(exc)}; check the URL "
                            "(--db or $FLEETWATCH_DB) and that the database server is running") from None


def _adopt(tables: set[str]) -> str | None:
    """The newest revision whose tables (and all earlier ones') are all present."""
    found = None
    for rev in _ancestors(head_revision()):
        if not _TABLES_BY_REVISION.get(rev, set()) <= tables:
            break
        found = rev
    return found


def _backup(url: str, backup_dir: Path | None, label: str, log: Callable[[str], None]) -> Path:
    log(f"backing up {redact(url)} before migrating ...")
    try:
        path = backup_database(url, backup_dir, label=label)
    except DatabaseError as exc:
        raise DatabaseError(f"{exc} (the database was NOT migrated)") from None
    log(f"backup written to {path}")
    return path


def _run(engine: Engine, url: str, func: Callable[[Config], None]) -> None:
    """Run an Alembic command in one transaction: all of it or, on an error, none of it."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                # pysqlite would run DDL outside any transaction; SQLite itself can roll DDL back
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            func(alembic_config(url, conn))
    except (SQLAlchemyError, CommandError) as exc:
        raise DatabaseError(f"migration of {redact(url)} failed and was rolled back: {_one_line(exc)}; "
                            "the database is unchanged (a backup was taken if it held data)") from exc


def _migrate(url: str | None, target: str, backup_dir: Path | None, log: Callable[[str], None],
             direction: str) -> UpgradeResult:
    url = url or default_db_url()
    target_rev = _resolve(target)
    try:
        url = normalize_url(url)
        engine = make_engine(url)
    except (SQLAlchemyError, ValueError, OSError) as exc:
        raise DatabaseError(f"bad database URL {redact(url)}: {_one_line(exc)}; "
                            "expected sqlite:///PATH, a file path or postgresql://USER@HOST:PORT/DB") from None
    lock = _migration_lock(engine, url)
    try:
        current, tables = _inspect(engine, url)
        known = _ancestors(head_revision())
        if current is not None and current not in known:
            raise DatabaseError(f"{redact(url)} is at revision {current}, which this fleetwatch does not know "
                                "(made by a newer version?): upgrade fleetwatch, or restore a backup")
        chain = _ancestors(target_rev)
        if direction == "up" and current is not None and current not in chain and current != target_rev:
            raise DatabaseError(f"{redact(url)} is at {current}, above {target_rev}: use downgrade")
        if direction == "down" and target_rev is not None and target_rev not in _ancestors(current):
            raise DatabaseError(f"{redact(url)} is at {current or 'no revision'}, below {target_rev}: use upgrade")
        if current == target_rev:
            log(f"database {redact(url)} is at revision {current or 'base'}: nothing to do")
            return UpgradeResult(current, current, None)
        backup_path = None
        if tables:
            label = f"pre-{target_rev or 'base'}"
            backup_path = _backup(url, backup_dir, label, log)
        if current is None and tables & set().union(*_TABLES_BY_REVISION.values()):
            adopted = _adopt(tables)
            if adopted is None:
                raise DatabaseError(f"{redact(url)} has some fleetwatch tables but not all of any revision "
                                    "and no migration history: restore a backup or start with an empty database")
            log(f"database has no migration history; its tables match revision {adopted}: stamping it")
            _run(engine, url, lambda cfg: command.stamp(cfg, adopted))
            current = adopted
            if current == target_rev or (direction == "up" and current not in chain):
                return UpgradeResult(current, current, backup_path)
        verb = "upgrading" if direction == "up" else "downgrading"
        log(f"{verb} {redact(url)} from {current or 'empty'} to {target_rev or 'base'} ...")
        started = time.monotonic()
        step = command.upgrade if direction == "up" else command.downgrade
        _run(engine, url, lambda cfg: step(cfg, target_rev or "base"))
        log(f"done in {time.monotonic() - started:.2f} s")
        return UpgradeResult(current, target_rev, backup_path)
    finally:
        if lock is not None:
            lock.close()  # ends the session, and with it the advisory lock
        engine.dispose()


def _migration_lock(engine: Engine, url: str):
    """PostgreSQL: one migration at a time, whoever runs it (several `serve` members starting together on one
    database used to race: the second died with UniqueViolation). A session advisory lock on a connection of
    its own, held until the caller closes it. SQLite needs none: `BEGIN IMMEDIATE` serialises writers, and
    Alembic reads the version inside that transaction, so the second upgrade finds nothing left to do."""
    if engine.dialect.name != "postgresql":
        return None
    try:
        conn = engine.connect()
        conn.exec_driver_sql("SELECT pg_advisory_lock(7316082001)")  # any constant: fleetwatch's migrations
        conn.commit()
    except SQLAlchemyError as exc:
        raise DatabaseError(f"cannot connect to {redact(url)}: {_one_line(exc)}; check the URL "
                            "(--db or $FLEETWATCH_DB) and that the database server is running") from None
    return conn


def upgrade(url: str | None = None, *, backup_dir: Path | None = None, revision: str = "head",
            log: Callable[[str], None] = print) -> UpgradeResult:
    """Bring the database at `url` (default: $FLEETWATCH_DB / data folder) up to `revision`.

    Backs up first when the database holds tables and is behind; raises
    DatabaseError with a message saying what to do when it cannot connect,
    the backup fails (then nothing is migrated) or the migration fails.
    """
    return _migrate(url, revision, backup_dir, log, "up")


def downgrade(url: str | None = None, revision: str = "0001", *, backup_dir: Path | None = None,
              log: Callable[[str], None] = print) -> UpgradeResult:
    """Take the database back to `revision` ("base" drops everything), after a backup."""
    return _migrate(url, revision, backup_dir, log, "down")
