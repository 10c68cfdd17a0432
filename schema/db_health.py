"""Database outages, told once: one log line when the database stops answering, one when it is back.

With PostgreSQL stopped for 60 s the hub used to log a warning at every flush
(once a second) and a 330-line traceback for every web request. Now whoever
meets the outage first (the batch writer, a web request) logs it, the rest
stay quiet, and the first success afterwards (a new connection, a flush) logs
how long it lasted. The web answers 503 meanwhile (`webapp/errors.py`); the
writer keeps its rows in memory and writes them when the database is back.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import event, exc as sa_exc
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def unavailable(error: BaseException) -> bool:
    """True when `error` means the database does not answer (not that a query or a row is wrong)."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sa_exc.OperationalError)


def one_line(error: BaseException) -> str:
    """The first line of the driver's message, short: enough to tell a refused connection from a full disk."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()
    return (text[0] if text else type(original).__name__)[:200]


class DatabaseHealth:
    """Whether one database answers; thread-safe (the writer's thread and the web's threads report)."""

    def __init__(self, name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.last_error: str | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, error: BaseException) -> bool:
        """Note a failure; True (and one warning in the log) when it starts an outage."""
        with self._lock:
            self.last_error = one_line(error)
            if self.down_since is not None:
                return False
            self.down_since = self._clock()
        log.warning("database %s is not answering: %s; the hub keeps polling and holds new samples in memory "
                    "until it is back (web requests answer 503 meanwhile)", self.name, self.last_error)
        return True

    def message(self) -> str:
        """What a web request is told during an outage (one line, no traceback)."""
        return (f"the database is not answering ({self.last_error}); the hub keeps polling and stores what it "
                "holds once the database is back: try again in a few seconds")

    def ok(self) -> None:
        """Note a success; ends an outage with one line in the log."""
        if self.down_since is None:  # the common case, without the lock
            return
        with self._lock:
            if self.down_since is None:
                return
            lasted, self.down_since = self._clock() - self.down_since, None
        log.warning("database %s answers again after %.0f s", self.name, lasted)


_trackers: dict[str, DatabaseHealth] = {}
_trackers_lock = threading.Lock()


def tracker(engine: Engine) -> DatabaseHealth:
    """The one tracker of the database behind `engine` (engines on the same URL share it)."""
    name = engine.url.render_as_string(hide_password=True)
    with _trackers_lock:
        found = _trackers.get(name)
        if found is None:
            found = _trackers[name] = DatabaseHealth(name)
        return found


def watch(engine: Engine) -> None:
    """A new connection to the database is the first sign it is back (PostgreSQL: pre-ping reconnects)."""
    health = tracker(engine)
    event.listen(engine, "connect", lambda _dbapi, _record: health.ok())
