"""Database URL, engine and sessions.

SQLite (the default) runs in WAL mode so the web pages read while the poller
writes; `synchronous=NORMAL` is safe under WAL (a power cut may lose the last
transactions, never corrupt the file). A `postgresql://` URL selects
PostgreSQL through psycopg 3.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

ENV_DB = "FLEETWATCH_DB"
SUPPORTED_URLS = "sqlite:///PATH (or a plain file path) or postgresql://USER:PASSWORD@HOST:PORT/DB"
ENV_DATA = "FLEETWATCH_DATA"
DB_FILE = "fleetwatch.db"


def data_dir() -> Path:
    """Where the hub keeps its database and backups ($FLEETWATCH_DATA overrides)."""
    if os.environ.get(ENV_DATA):
        return Path(os.environ[ENV_DATA]).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "fleetwatch"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "fleetwatch"


def default_db_url() -> str:
    """$FLEETWATCH_DB, else a SQLite file in the data folder."""
    return os.environ.get(ENV_DB) or f"sqlite:///{(data_dir() / DB_FILE).as_posix()}"


class DatabaseError(Exception):
    """A database problem to report in one line (the message says what to do)."""


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and a bare file path; pick the psycopg 3 driver.

    Any other kind of database is a DatabaseError that names the supported
    URLs (a `mysql://` URL used to end in a ModuleNotFoundError traceback).
    """
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve().as_posix()}"
    try:
        parsed = make_url(url)
    except Exception:  # sqlalchemy.exc.ArgumentError and friends: the URL does not parse
        raise DatabaseError(f"cannot read the database URL {redact(url)}: use {SUPPORTED_URLS}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite" and driver in ("", "pysqlite"):
        return url
    raise DatabaseError(f"unsupported database URL {redact(url)}: fleetwatch stores its data in SQLite or "
                        f"PostgreSQL; use {SUPPORTED_URLS}")


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other databases and :memory:)."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def redact(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # a malformed URL: show nothing of it that could be a secret
        return "<unparsable database URL>"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str | None = None, *, pool_size: int = 5, max_overflow: int = 5,
                pool_timeout: float = 30.0) -> Engine:
    """An engine for `url` (default: `default_db_url()`); creates the SQLite folder.

    Every engine reports its outages to the URL's `db_health` tracker, which
    logs one line when the database stops answering and one when it is back.
    """
    from schema import db_health

    url = normalize_url(url or default_db_url())
    path = sqlite_path(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if make_url(url).get_backend_name() == "sqlite":
        if path is None:  # in memory: one connection per thread (SingletonThreadPool), no pool to size
            pool = {}
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, **pool)
    db_health.watch(engine)
    return engine
