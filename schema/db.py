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


def normalize_url(url: str) -> str:
    """Accept `postgresql://` and a bare file path; pick the psycopg 3 driver."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve().as_posix()}"
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


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


def make_engine(url: str | None = None) -> Engine:
    """An engine for `url` (default: `default_db_url()`); creates the SQLite folder."""
    url = normalize_url(url or default_db_url())
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class DatabaseError(Exception):
    """A database problem to report in one line (the message says what to do)."""
