"""Pushed page updates (issue 18 item 3): one reader per page kind in the web process, fanned out to its streams.

A `Topic` is one page kind ("fleet": the overview; "host:ID": one host's page). While it has subscribers it
reads the database once per `TICK_S` on a worker thread (never on the event loop) through its `TopicPage`
(webapp/live_pages.py), which compares the new state with the last one and remembers, per part of the
page, the version that last changed it. Every stream of the topic (webapp/pages/stream.py) then asks for
what changed since the version its client last had: 100 open overviews cost one fleet read per tick, not
100.

Versions come from one counter of the process, so a single number taken when a page request arrives (before
the page reads anything, `note_version`) orders that page against every topic: a change published later
has a higher number and is sent. Event ids are `BOOT-SEQ`; BOOT is new at every start of the web, so an id
from before a restart is unknown and the client gets a full snapshot.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

import anyio.to_thread
from fastapi import Request

from schema import db_health

log = logging.getLogger(__name__)

TICK_S = 5.0  # the overview's and the host page's REFRESH_S
LINGER_S = 300.0  # a topic nobody listens to is kept this long, so that a reload finds its versions


class TopicPage(Protocol):
    """What a page kind does each tick (in a worker thread): read, compare, remember what changed."""

    def tick(self, prev: Any, seq: int) -> Any:
        """The new state (a snapshot with `.seq` and `.started`), from `prev` (None at the first tick)."""


class Topic:
    """One page kind's reader and its subscribers (see the module docstring)."""

    def __init__(self, feed: Feed, key: str, page: TopicPage) -> None:
        self.feed, self.key, self.page = feed, key, page
        self.snapshot: Any = None
        self.subscribers = 0
        self.idle_since = time.monotonic()
        self.published = asyncio.Event()
        self.failures = 0
        self.task: asyncio.Task | None = None

    async def next_snapshot(self, after: int | None, timeout: float) -> Any:
        """The newest snapshot if it is newer than `after`, else waits up to `timeout` s for one (None: none)."""
        event = self.published
        snap = self.snapshot
        if snap is not None and (after is None or snap.seq > after):
            return snap
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return None
        snap = self.snapshot
        return snap if snap is not None and (after is None or snap.seq > after) else None

    async def run(self) -> None:
        while self.subscribers or time.monotonic() - self.idle_since < LINGER_S:
            started = time.monotonic()
            prev = self.snapshot
            try:
                snap = await anyio.to_thread.run_sync(self.page.tick, prev, self.feed.next_seq)
            except Exception as exc:  # the next tick tries again; subscribers keep their heartbeat
                self.failures += 1
                if db_health.unavailable(exc) or self.failures > 1:
                    log.debug("live feed %s: read failed: %s", self.key, exc)
                else:
                    log.warning("live feed %s: read failed: %s", self.key, db_health.one_line(exc))
                snap = prev
            else:
                self.failures = 0
            if snap is not prev:
                self.snapshot = snap
                event, self.published = self.published, asyncio.Event()
                event.set()
            await asyncio.sleep(max(0.5, TICK_S - (time.monotonic() - started)))
        self.feed.topics.pop(self.key, None)


class Feed:
    """The process's topics, created on a stream's first subscription and ended `LINGER_S` after its last."""

    def __init__(self) -> None:
        self.boot = secrets.token_hex(4)
        self.topics: dict[str, Topic] = {}
        self._seq = itertools.count(1)
        self.current = 0  # the highest version handed out
        self.bytes_sent = 0  # by every stream of this process, as sent (compressed or not): for /metrics

    def next_seq(self) -> int:
        self.current = next(self._seq)
        return self.current

    def token(self, seq: int | None) -> str:
        return f"{self.boot}-{seq}" if seq is not None else ""

    def parse(self, token: str | None) -> int | None:
        """The version of one of this process's event ids, or None (empty, garbled, or from before a restart)."""
        boot, _, seq = (token or "").strip().partition("-")
        return int(seq) if boot == self.boot and seq.isdigit() and int(seq) <= self.current else None

    def subscribe(self, key: str, make_page: Callable[[], TopicPage]) -> Topic:
        topic = self.topics.get(key)
        if topic is None:
            topic = self.topics[key] = Topic(self, key, make_page())
            topic.task = asyncio.get_running_loop().create_task(topic.run(), name=f"live feed {key}")
        topic.subscribers += 1
        return topic

    def unsubscribe(self, topic: Topic) -> None:
        topic.subscribers -= 1
        if not topic.subscribers:
            topic.idle_since = time.monotonic()

    async def close(self) -> None:
        tasks = [t.task for t in self.topics.values() if t.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.topics.clear()


def note_version(request: Request) -> None:
    """An app dependency: the version the page's data is at least as new as, for its stream's `since`."""
    feed: Feed | None = getattr(request.app.state, "live_feed", None)
    if feed is not None and request.method == "GET":
        request.state.live_token = feed.token(feed.current)


def live_token(request: Any) -> str:
    """For the templates: the version taken when the page's request arrived ("" outside a request)."""
    state = getattr(request, "state", None)
    return getattr(state, "live_token", "") if state is not None else ""
