"""The web's own database connections, sized for its threads.

Sync route handlers run on `WEB_THREADS` worker threads (anyio's default
limiter, set when the app starts), and each holds at most one connection, for
as long as the handler runs (`deps.get_session` closes it before the response
is sent). The web's pool has that many connections and is apart from the
collector's, so page load can never take the connection the batch writer needs:
with one shared pool of 5+10, 50 clients once held every connection while the
writer waited its 30 s pool timeout, and no sample was stored. A connection
that does not come free within `POOL_WAIT_S` is a 503, not a 30 s wait.
"""
from __future__ import annotations

from sqlalchemy.engine import Engine

from schema.db import make_engine

WEB_THREADS = 16  # page renders hold the GIL; more threads only queue behind it and starve the event loop
POOL_WAIT_S = 3.0


def web_engine(url: str) -> Engine:
    """The web's engine on the hub's database, with a pool of the web's size (its own, apart from the
    collectors'); 4 more connections for /healthz, which has threads of its own."""
    return make_engine(url, pool_size=WEB_THREADS, max_overflow=4, pool_timeout=POOL_WAIT_S)


def size_thread_pool() -> None:
    """Sync handlers, dependencies and the gate's lookups share anyio's default limiter: WEB_THREADS of them."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = WEB_THREADS
