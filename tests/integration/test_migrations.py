"""Migrations keep data, match the models, back up first; on SQLite and a real PostgreSQL."""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, func, inspect, select
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

import schema.backup
from collector.cli import main
from schema.backup import backup_database, list_backups
from schema.db import DatabaseError, make_engine
from schema.migrate import current_revision, downgrade, head_revision, upgrade

BIG = 3 * 2**40 + 12345  # > 2**31: needs BIGINT on PostgreSQL
TABLES_0001 = ("hosts", "samples", "gpu_samples", "disk_samples", "service_samples", "events")
ROWS: dict[str, list[dict]] = {
    "hosts": [
        {"id": "gpu-01", "address": "10.0.0.1", "state": "up", "last_error": None, "last_seen_at": 1763700000.25,
         "state_since": 1763690000.5, "hostname": "gpu-01", "os_pretty_name": "Debian GNU/Linux 12 (bookworm)",
         "kernel": "6.1.0-26-amd64", "arch": "x86_64", "cpu_count": 128, "mem_total_bytes": BIG, "gpu_count": 8,
         "boot_time": 1763000000.0, "removed_at": None, "consecutive_failures": 0},
        {"id": "web-02", "address": "web-02.example", "state": "auth_failed", "last_error": "Permission denied",
         "last_seen_at": None, "state_since": 1763700001.0, "hostname": None, "os_pretty_name": None,
         "kernel": None, "arch": None, "cpu_count": None, "mem_total_bytes": 2**31, "gpu_count": None,
         "boot_time": None, "removed_at": 1763700100.0, "consecutive_failures": 7},
    ],
    "samples": [
        {"id": i, "host_id": "gpu-01", "ts": 1763700000.0 + 5 * i, "state": "up" if i % 2 else "degraded",
         "uptime_s": 86400.5 + i, "cpu_pct": 12.5 * i, "load1": 0.5, "load5": 0.25, "load15": 0.125,
         "mem_total_bytes": BIG, "mem_used_bytes": BIG // 2 + i, "mem_available_bytes": 2**33 + i,
         "mem_used_pct": 50.0, "swap_total_bytes": 2**34, "swap_free_bytes": 2**34 - i, "disk_read_bps": 1e6,
         "disk_write_bps": 2.5e6, "net_rx_bps": 1.25e9, "net_tx_bps": 3e8, "gpu_count": 8, "gpu_util_pct": 99.5,
         "gpu_mem_used_pct": 80.0, "gpu_temp_max_c": 71.0, "disk_used_pct_max": 91.5,
         "errors": '{"gpu": "nvidia-smi timed out"}' if i == 3 else None}
        for i in range(1, 4)
    ],
    "gpu_samples": [
        {"id": i + 1, "host_id": "gpu-01", "ts": 1763700005.0, "gpu_index": i,
         "uuid": f"GPU-{i:08d}-aaaa-bbbb", "name": "NVIDIA H100 80GB HBM3", "util_pct": 10.0 * i,
         "mem_util_pct": 5.0, "mem_used_mb": 40960.0, "mem_total_mb": 81559.0, "temperature_c": 60.0 + i,
         "power_w": 350.5}
        for i in range(3)
    ],
    "disk_samples": [
        {"id": 1, "host_id": "gpu-01", "ts": 1763700005.0, "mount": "/", "fstype": "ext4", "used_bytes": BIG,
         "total_bytes": 4 * BIG, "avail_bytes": 3 * BIG - 1, "used_pct": 25.0},
        {"id": 2, "host_id": "gpu-01", "ts": 1763700005.0, "mount": "/data/" + "x" * 900, "fstype": "xfs",
         "used_bytes": 2**50, "total_bytes": 2**51, "avail_bytes": 2**50, "used_pct": 50.0},
    ],
    "service_samples": [
        {"id": 1, "host_id": "gpu-01", "ts": 1763700005.0, "unit": "nginx.service", "load_state": "loaded",
         "active_state": "active", "sub_state": "running"},
        {"id": 2, "host_id": "gpu-01", "ts": 1763700005.0, "unit": "docker.service", "load_state": "loaded",
         "active_state": "failed", "sub_state": "failed"},
    ],
    "events": [
        {"id": 1, "ts": 1763700010.0, "host_id": "gpu-01", "type": "gpu_hot", "subject": "3",
         "message": "GPU 3 at 85 °C", "details": '{"temperature_c": 85}'},
        {"id": 2, "ts": 1763700020.0, "host_id": "web-02", "type": "auth_failed", "subject": None,
         "message": "", "details": None},
    ],
}


def _fill(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for name, rows in ROWS.items():
                conn.execute(SQLModel.metadata.tables[name].insert(), rows)
    finally:
        engine.dispose()


def _dump(url: str, tables=TABLES_0001) -> dict[str, list[dict]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for name in tables:
                table = Table(name, MetaData(), autoload_with=conn)  # the columns the database has
                rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
                out[name] = [dict(r) for r in rows]
            return out
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _expected(url: str) -> dict[str, list[dict]]:
    """The rows written at 0001, with NULL in every column a later migration added to `url`'s tables (a metric
    added later has no value for old samples: NULL, never 0)."""
    out = {}
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            columns_of = {name: [c["name"] for c in inspect(conn).get_columns(name)] for name in TABLES_0001}
    finally:
        engine.dispose()
    for name in TABLES_0001:
        columns = columns_of[name]
        out[name] = sorted(({c: r.get(c) for c in columns} for r in ROWS[name]), key=lambda r: r["id"])
    return out


def _admin(url: str, sql: str) -> None:
    admin = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_db(pg_url: str, tmp_path: Path, monkeypatch) -> str:
    """A new, empty database on the session's PostgreSQL server (dropped afterwards)."""
    monkeypatch.setenv("FLEETWATCH_DATA", str(tmp_path / "data"))  # default backup folder stays in tmp
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(pg_url, f'CREATE DATABASE "{name}"')
    yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    _admin(pg_url, f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleetwatch.db'}"
    return request.getfixturevalue("pg_db")


def _restore_pg(dump: Path, pg_url: str) -> str:
    """Restore a pg_dump file into a new database; returns its URL."""
    name = f"r_{uuid.uuid4().hex[:12]}"
    _admin(pg_url, f'CREATE DATABASE "{name}"')
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    subprocess.run([shutil.which("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={url}", str(dump)],
                   check=True, capture_output=True)
    return url


# ------------------------------------------------------------------ (a) (b) data kept, backup first
def test_upgrade_keeps_every_row_and_backs_up_first(db_url: str, tmp_path: Path, request) -> None:
    logged: list[str] = []
    first = upgrade(db_url, revision="0001", log=logged.append)
    assert (first.from_rev, first.to_rev, first.backup_path) == (None, "0001", None)
    _fill(db_url)
    assert _tables(db_url) >= set(TABLES_0001) and "samples_hourly" not in _tables(db_url)

    logged.clear()
    result = upgrade(db_url, backup_dir=tmp_path / "bk", log=logged.append)
    assert (result.from_rev, result.to_rev) == ("0001", head_revision())
    assert _revision(db_url) == head_revision() >= "0005"
    assert _dump(db_url) == _expected(db_url)
    assert "samples_hourly" in _tables(db_url)
    assert _dump(db_url, ["samples_hourly"]) == {"samples_hourly": []}

    # the backup came first, is logged, and holds the 0001 schema with its data
    backup = result.backup_path
    assert backup is not None and backup.parent == tmp_path / "bk" and backup.stat().st_size > 0
    assert logged.index(f"backup written to {backup}") < next(i for i, line in enumerate(logged)
                                                                if line.startswith("upgrading "))
    assert any(line.startswith("done in ") and line.endswith(" s") for line in logged)
    if db_url.startswith("sqlite"):
        assert backup.name.startswith("fleetwatch-") and backup.name.endswith(f"-pre-{head_revision()}.db")
        copy_url = f"sqlite:///{backup}"
    else:
        assert backup.suffix == ".dump"
        copy_url = _restore_pg(backup, request.getfixturevalue("pg_url"))
    assert _revision(copy_url) == "0001"
    assert "samples_hourly" not in _tables(copy_url)
    assert _dump(copy_url) == _expected(copy_url)


# ------------------------------------------------------------------ (c) migrations == models
def test_head_schema_matches_the_models(db_url: str) -> None:
    upgrade(db_url, log=lambda _line: None)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(ctx, SQLModel.metadata) == []
            cols = {c["name"]: c for c in inspect(conn).get_columns("samples")}
            assert "BIGINT" in str(cols["mem_total_bytes"]["type"]).upper()
            uniques = inspect(conn).get_unique_constraints("samples_hourly")
            assert [(u["name"], u["column_names"]) for u in uniques] == [
                ("uq_samples_hourly_host_hour", ["host_id", "hour"])]
    finally:
        engine.dispose()


# ------------------------------------------------------------------ (d) fresh database, no-op at head
def test_fresh_database_needs_no_backup_and_second_call_is_a_noop(db_url: str, tmp_path: Path) -> None:
    bk = tmp_path / "bk"
    logged: list[str] = []
    result = upgrade(db_url, backup_dir=bk, log=logged.append)
    assert (result.from_rev, result.to_rev, result.backup_path) == (None, head_revision(), None)
    assert not bk.exists()
    assert any(line.startswith("upgrading ") for line in logged)
    logged.clear()
    again = upgrade(db_url, backup_dir=bk, log=logged.append)
    assert (again.from_rev, again.to_rev, again.backup_path) == (head_revision(), head_revision(), None)
    assert not bk.exists()
    assert len(logged) == 1 and "nothing to do" in logged[0]


# ------------------------------------------------------------------ (g) downgrade and back
def test_downgrade_to_0001_then_upgrade_again(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url, revision="0001", log=lambda _line: None)
    _fill(db_url)
    upgrade(db_url, backup_dir=tmp_path / "bk", log=lambda _line: None)
    down = downgrade(db_url, "0001", backup_dir=tmp_path / "bk", log=lambda _line: None)
    assert (down.from_rev, down.to_rev) == (head_revision(), "0001") and down.backup_path is not None
    assert _revision(db_url) == "0001" and "samples_hourly" not in _tables(db_url)
    assert _dump(db_url) == _expected(db_url)
    up = upgrade(db_url, backup_dir=tmp_path / "bk", log=lambda _line: None)
    assert (up.from_rev, up.to_rev) == ("0001", head_revision())
    assert _dump(db_url) == _expected(db_url) and {"samples_hourly", "users", "api_tokens", "alerts",
                                             "alert_notifications", "alert_silences"} <= _tables(db_url)


def test_database_made_by_create_all_is_adopted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    SQLModel.metadata.create_all(engine)
    engine.dispose()
    _fill(url)
    result = upgrade(url, log=lambda _line: None)
    assert result.to_rev == head_revision() and result.backup_path is not None
    assert _revision(url) == head_revision() and _dump(url) == _expected(url)


def test_failed_backup_means_no_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleetwatch.db'}"
    upgrade(url, revision="0001", log=lambda _line: None)
    _fill(url)
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(DatabaseError, match="NOT migrated"):
        upgrade(url, backup_dir=not_a_dir, log=lambda _line: None)
    assert _revision(url) == "0001" and _dump(url) == _expected(url)


def test_failed_migration_is_rolled_back_whole(db_url: str, tmp_path: Path) -> None:
    upgrade(db_url, revision="0001", log=lambda _line: None)
    _fill(db_url)
    engine = make_engine(db_url)
    with engine.begin() as conn:  # 0002 creates its table, then trips over this index name
        conn.exec_driver_sql("CREATE INDEX ix_samples_hourly_hour_host ON events (ts)")
    engine.dispose()
    with pytest.raises(DatabaseError, match="rolled back"):
        upgrade(db_url, backup_dir=tmp_path / "bk", log=lambda _line: None)
    assert _revision(db_url) == "0001" and "samples_hourly" not in _tables(db_url)
    assert _dump(db_url) == _expected(db_url)


def test_unreachable_database_is_a_database_error() -> None:
    with pytest.raises(DatabaseError, match="cannot connect") as info:
        upgrade("postgresql://nobody:secret@127.0.0.1:1/x", log=lambda _line: None)
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


# ------------------------------------------------------------------ PostgreSQL specifics
def test_postgres_0001_samples_take_batched_bigint_inserts(pg_db: str) -> None:
    upgrade(pg_db, revision="0001", log=lambda _line: None)
    table = SQLModel.metadata.tables["samples"]
    rows = [{"host_id": f"h{i % 7}", "ts": 1763700000.0 + i, "state": "up", "mem_total_bytes": BIG + i,
             "mem_used_bytes": 2**40 + i, "swap_total_bytes": 2**35} for i in range(2000)]
    engine = make_engine(pg_db)
    try:
        with engine.begin() as conn:
            for start in range(0, len(rows), 500):
                conn.execute(table.insert(), rows[start:start + 500])
        with engine.connect() as conn:
            count, top, ids = conn.execute(
                select(func.count(), func.max(table.c.mem_total_bytes), func.count(table.c.id.distinct()))).one()
    finally:
        engine.dispose()
    assert (count, top, ids) == (2000, BIG + 1999, 2000)


def test_pg_dump_gets_the_password_in_the_environment(pg_db: str, tmp_path: Path, monkeypatch) -> None:
    role, password = f"r_{uuid.uuid4().hex[:8]}", "s3cr3t-p@ss"
    _admin(pg_db, f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    _admin(pg_db, f'GRANT ALL ON DATABASE "{make_url(pg_db).database}" TO {role}')
    url = make_url(pg_db).set(username=role, password=password).render_as_string(hide_password=False)
    calls = []
    real_run = subprocess.run

    def spy(cmd, **kw):
        calls.append((cmd, kw.get("env", {})))
        return real_run(cmd, **kw)

    monkeypatch.setattr(schema.backup.subprocess, "run", spy)
    path = backup_database(url, tmp_path / "bk")
    assert path.suffix == ".dump" and path.stat().st_size > 0
    (cmd, env), = calls
    assert "--format=custom" in cmd and not any(password in arg for arg in cmd)
    assert env["PGPASSWORD"] == password
    _admin(pg_db, f"DROP OWNED BY {role}; DROP ROLE {role}")


def test_missing_pg_dump_says_what_to_install(pg_db: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(schema.backup.shutil, "which", lambda _name: None)
    with pytest.raises(DatabaseError, match="install postgresql-client"):
        backup_database(pg_db, tmp_path)


# ------------------------------------------------------------------ (e) backups
def test_backup_keeps_only_the_newest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleetwatch.db'}"
    upgrade(url, log=lambda _line: None)
    other = backup_database(url, keep=3, label="nightly")
    made = [backup_database(url, keep=3) for _ in range(5)]
    assert made[0].parent == tmp_path / "backups"  # next to the database file by default
    assert list_backups(tmp_path / "backups") == made[-3:]
    assert not any(p.exists() for p in made[:2])
    assert other.exists()  # another label is another kind
    assert sorted(p.name for p in (tmp_path / "backups").iterdir()) == sorted(p.name for p in [*made[-3:], other])


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])
def test_backup_while_another_connection_is_writing(tmp_path: Path, journal_mode: str) -> None:
    db = tmp_path / "fleetwatch.db"
    url = f"sqlite:///{db}"
    upgrade(url, revision="0001", log=lambda _line: None)
    _fill(url)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute(f"PRAGMA journal_mode={journal_mode}")
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO events (ts, host_id, type, message) VALUES (1, 'x', 'host_up', 'uncommitted')")
        started = time.monotonic()
        path = backup_database(url, tmp_path / "bk")
        assert time.monotonic() - started < 5
        writer.execute("COMMIT")  # the backup held no lock that blocks the writer
    finally:
        writer.close()
    assert _dump(f"sqlite:///{path}") == _expected(f"sqlite:///{path}")  # committed data, not the open transaction
    assert not list(path.parent.glob("*-wal")) and not list(path.parent.glob(".*partial"))


# ------------------------------------------------------------------ (f) command line
def test_cli_db_upgrade_and_backup(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'fleetwatch.db'}"
    upgrade(url, revision="0001", log=lambda _line: None)
    _fill(url)
    assert main(["db", "upgrade", "--db", url]) == 0
    out = capsys.readouterr().out
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and str(backups[0]) in out and "upgrading" in out
    assert _revision(url) == head_revision()

    assert main(["db", "upgrade", "--db", url]) == 0
    assert "nothing to do" in capsys.readouterr().out

    assert main(["db", "backup", "--db", url, "--to", str(tmp_path / "elsewhere")]) == 0
    out = capsys.readouterr().out
    (made,) = (tmp_path / "elsewhere").iterdir()
    assert str(made) in out and _dump(f"sqlite:///{made}") == _expected(f"sqlite:///{made}")


@pytest.mark.parametrize("command", ["upgrade", "backup"])
def test_cli_bad_database_is_one_line_exit_2(command: str, capsys) -> None:
    assert main(["db", command, "--db", "postgresql://nobody@127.0.0.1:1/x"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("fleetwatch: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err + captured.out


# ------------------------------------------------------------------ the fast check serve uses
def test_at_head_knows_the_newest_migration_without_alembic(db_url: str) -> None:
    """schema.revision answers "is it current?" for serve without Alembic: its HEAD_REVISION is the newest
    migration's, and it says False on an empty database, True after the upgrade, False one revision behind."""
    from schema.revision import HEAD_REVISION, at_head

    assert HEAD_REVISION == head_revision()
    assert at_head(db_url) is False
    upgrade(db_url, log=lambda _m: None)
    assert at_head(db_url) is True
    downgrade(db_url, "0004", log=lambda _m: None)
    assert at_head(db_url) is False
    assert at_head("postgresql://nobody@127.0.0.1:1/none") is False  # cannot say: upgrade() explains


def test_serve_on_a_current_database_does_not_load_alembic(tmp_path: Path) -> None:
    """The supervisor lives as long as the hub: on a database at the head it never imports Alembic."""
    import sys

    url = f"sqlite:///{tmp_path / 'f.db'}"
    upgrade(url, log=lambda _m: None)
    code = ("import sys; from schema.revision import at_head; assert at_head(sys.argv[1]); "
            "import collector.cli.serve, collector.supervisor, collector.housekeeping, collector.hub_options; "
            "print(sorted(m for m in ('alembic', 'asyncssh', 'fastapi') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
