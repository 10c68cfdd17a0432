"""Database backups: before every migration and on a schedule.

SQLite is copied with the sqlite3 online backup API, which reads one
consistent snapshot while the hub goes on writing (WAL mode) and never
copies a half-written page. PostgreSQL is dumped with `pg_dump
--format=custom` (restore with `pg_restore -d URL FILE`); the password goes
to pg_dump in $PGPASSWORD, never on its command line.

Files are named `fleetwatch-20261121T101500Z[-label].db` (`.dump` for
PostgreSQL); only the newest `keep` of the same label and kind are kept.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from sqlalchemy.engine import make_url

from schema.atomic_file import replacing
from schema.db import DatabaseError, data_dir, normalize_url, redact, sqlite_path
from schema.timeutil import utc_stamp

PREFIX = "fleetwatch-"
_STAMP = r"\d{8}T\d{6}Z"
PG_DUMP_TIMEOUT_S = 6 * 3600
# libpq settings that may arrive as URL query parameters, passed to pg_dump as environment
_PG_QUERY_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                 "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT", "options": "PGOPTIONS",
                 "application_name": "PGAPPNAME", "target_session_attrs": "PGTARGETSESSIONATTRS"}


def _clean_label(label: str) -> str:
    """A label safe in a file name: letters, digits, '.', '-' (underscores and the rest become '-')."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", label).strip("-.")


def _kind_pattern(label: str, ext: str) -> re.Pattern[str]:
    tail = re.escape(f"-{label}" if label else "") + re.escape(ext)
    return re.compile(rf"^{re.escape(PREFIX)}(?P<stamp>{_STAMP})(?:_(?P<n>\d+))?{tail}$")


def _new_path(dest: Path, label: str, ext: str) -> Path:
    """`fleetwatch-<UTC stamp>[-label]<ext>`; later backups in the same second get `_2`, `_3`, ..."""
    stamp = utc_stamp(time.time())
    tail = (f"-{label}" if label else "") + ext
    pattern = _kind_pattern(label, ext)
    taken = [int(m["n"] or 1) for p in dest.iterdir() if (m := pattern.match(p.name)) and m["stamp"] == stamp]
    n = max(taken, default=0) + 1  # above every earlier one, even if the first was pruned already
    path = dest / (f"{PREFIX}{stamp}{tail}" if n == 1 else f"{PREFIX}{stamp}_{n}{tail}")
    while path.exists():
        n += 1
        path = dest / f"{PREFIX}{stamp}_{n}{tail}"
    return path


def list_backups(dest_dir: Path, label: str = "", ext: str = ".db") -> list[Path]:
    """Backups of one label and kind in `dest_dir`, oldest first."""
    pattern = _kind_pattern(_clean_label(label), ext)
    found = []
    for entry in dest_dir.iterdir() if dest_dir.is_dir() else ():
        m = pattern.match(entry.name)
        if m and entry.is_file():
            found.append(((m["stamp"], int(m["n"] or 1)), entry))
    return [path for _key, path in sorted(found)]


def prune_backups(dest_dir: Path, keep: int, label: str = "", ext: str = ".db") -> list[Path]:
    """Delete all but the newest `keep` backups of that label and kind; returns the deleted paths."""
    old = list_backups(dest_dir, label, ext)[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def default_backup_dir(url: str) -> Path:
    """`backups/` next to a SQLite file; `<data dir>/backups` for other databases."""
    path = sqlite_path(url)
    return path.parent / "backups" if path is not None else data_dir() / "backups"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _backup_sqlite(db_file: Path, target: Path) -> None:
    if not db_file.is_file():
        raise DatabaseError(f"cannot back up {db_file}: no such file; check the --db URL")
    # read-only URI: a backup never creates or changes the source database
    src = sqlite3.connect(f"{db_file.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        finally:
            dst.close()
    finally:
        src.close()


def _pg_dump_command(url: str, target: Path) -> tuple[list[str], dict[str, str]]:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise DatabaseError("pg_dump not found on PATH: install postgresql-client "
                            "(apt-get install postgresql-client) to back up a PostgreSQL database")
    u = make_url(url)
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", "10")
    if u.password is not None:
        env["PGPASSWORD"] = str(u.password)
    for key, value in u.query.items():
        if key in _PG_QUERY_ENV:
            env[_PG_QUERY_ENV[key]] = value if isinstance(value, str) else value[-1]
    host = u.host or u.query.get("host")
    cmd = [pg_dump, "--format=custom", "--no-password", f"--file={target}"]
    if host:
        cmd.append(f"--host={host if isinstance(host, str) else host[-1]}")
    if u.port:
        cmd.append(f"--port={u.port}")
    if u.username:
        cmd.append(f"--username={u.username}")
    cmd.append(f"--dbname={u.database or ''}")  # a plain name here is never parsed as a conninfo with secrets
    return cmd, env


def _backup_postgres(url: str, target: Path) -> None:
    cmd, env = _pg_dump_command(url, target)
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=PG_DUMP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise DatabaseError(f"pg_dump of {redact(url)} took more than {PG_DUMP_TIMEOUT_S} s; "
                            "run it by hand or check the server") from None
    except OSError as exc:
        raise DatabaseError(f"cannot run {cmd[0]}: {exc}; reinstall postgresql-client") from None
    if proc.returncode != 0:
        raise DatabaseError(f"pg_dump of {redact(url)} failed: {_one_line(proc.stderr) or proc.returncode}; "
                            "check the URL, that the server is up, and that pg_dump is not older than the server")


def backup_database(url: str, dest_dir: Path | None = None, *, keep: int = 7, label: str = "") -> Path:
    """Back up the database at `url` into `dest_dir`; returns the new file's path.

    Raises DatabaseError (nothing half-written is left behind) when it cannot.
    Afterwards only the newest `keep` backups with the same label and kind stay.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    url = normalize_url(url)  # DatabaseError naming the supported URLs
    try:
        backend = make_url(url).get_backend_name()
    except Exception as exc:  # sqlalchemy.exc.ArgumentError and the like
        raise DatabaseError(f"bad database URL {redact(url)}: {_one_line(exc)}; "
                            "expected sqlite:///PATH, a file path or postgresql://USER@HOST:PORT/DB") from None
    db_file = sqlite_path(url)
    if backend == "sqlite" and db_file is None:
        raise DatabaseError("an in-memory SQLite database cannot be backed up")
    if backend not in ("sqlite", "postgresql"):
        raise DatabaseError(f"backups of {backend} databases are not supported (SQLite and PostgreSQL are)")
    ext = ".db" if backend == "sqlite" else ".dump"
    label = _clean_label(label)
    dest = Path(dest_dir).expanduser() if dest_dir is not None else default_backup_dir(url)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"cannot create the backup folder {dest}: {exc.strerror or exc}; "
                            "choose another folder or fix its permissions") from None
    target = _new_path(dest, label, ext)
    try:
        with replacing(target, suffix=".partial") as partial:  # private (0600): a backup holds the secrets too
            if db_file is not None:
                _backup_sqlite(db_file, partial)
            else:
                _backup_postgres(url, partial)
    except sqlite3.Error as exc:
        raise DatabaseError(f"backup of {db_file} failed: {exc}; check the file and free disk space") from None
    except OSError as exc:
        raise DatabaseError(f"cannot write the backup {target}: {exc.strerror or exc}; "
                            "free disk space or choose another folder") from None
    prune_backups(dest, keep, label, ext)
    return target
