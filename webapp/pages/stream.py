"""`/stream/overview` and `/stream/hosts/{id}`: server-sent events that keep a page up to date (issue 18 item 3).

The pages connect with htmx's SSE extension (webapp/static/vendor/htmx-ext-sse-*.min.js) and swap what
comes out of band: `update` events carry HTML fragments (webapp/live_pages.py: the overview's cards, or its
table's rows for a stream of the table view, `view=table`), `seen` events a JSON `{host: last_seen_at}` that
fleetwatch.js applies. Every tick's events end with `id: BOOT-SEQ`; a client
that reconnects sends it back (Last-Event-ID, or `since` in the URL for a page just rendered) and gets only
what changed since then, or the whole section when that version is unknown (another web process, a restart,
a list that changed).

- A comment every `HEARTBEAT_S` keeps proxies from closing a quiet stream.
- After `STREAM_MAX_S` the server ends the stream; the browser reconnects at once with its Last-Event-ID,
  and the gate looks its session up again (a revoked login stops getting data).
- The stream is gzip-compressed when the client accepts it (a Z_SYNC_FLUSH after every tick: nothing
  waits in the compressor), as the cards (rows) repeat their markup.
- The gate (webapp/gate.py) counts streams apart from requests, at most MAX_STREAMS; the pages poll when
  their stream cannot open.
"""
from __future__ import annotations

import os
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import anyio.to_thread
import orjson
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from webapp import i18n
from webapp.live_feed import Feed, Topic
from webapp.fleet_view import DEFAULT_SORT, check_sort
from webapp.live_pages import FleetPage, HostPage, view_key

router = APIRouter(include_in_schema=False)

# a comment this often keeps proxies from closing a quiet stream; after STREAM_MAX_S the client reconnects
# (the environment may shorten both: the tests do)
HEARTBEAT_S = float(os.environ.get("FLEETWATCH_STREAM_HEARTBEAT_S", "15"))
STREAM_MAX_S = float(os.environ.get("FLEETWATCH_STREAM_MAX_S", "300"))
RETRY_MS = 2000  # how long the browser waits before it reconnects a stream that ended
COMPRESS_IN_THREAD = 64 * 1024  # bigger events are compressed on a worker thread


def event(name: str | None, data: str = "", event_id: str | None = None) -> str:
    """One server-sent event; an id-only block moves the client's Last-Event-ID without an event."""
    lines = [f"event: {name}"] if name else []
    if data:
        lines += [f"data: {line}" for line in data.split("\n")]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    return "\n".join(lines) + "\n\n"


class Encoder:
    """The stream's bytes: gzip with a sync flush per chunk, or as they are."""

    def __init__(self, gzip: bool, feed: Feed | None = None) -> None:
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
        self.raw = self.sent = 0
        self._feed = feed  # counts every stream's bytes for /metrics (fleetwatch_web_stream_bytes_total)

    def _compress(self, raw: bytes) -> bytes:
        return self._z.compress(raw) + self._z.flush(zlib.Z_SYNC_FLUSH)

    async def encode(self, text: str) -> bytes:
        raw = text.encode()
        self.raw += len(raw)
        if self._z is None:
            out = raw
        elif len(raw) > COMPRESS_IN_THREAD:
            out = await anyio.to_thread.run_sync(self._compress, raw)
        else:
            out = self._compress(raw)
        self.sent += len(out)
        if self._feed is not None:
            self._feed.bytes_sent += len(out)
        return out


Produce = Callable[[object, int | None], Awaitable[str]]
# given the topic, what the stream sends for a snapshot, and what to undo when it ends
Setup = Callable[[Topic], Awaitable[tuple[Produce, Callable[[], None]]]]


async def _events(feed: Feed, key: str, make_page: Callable[[], object], setup: Setup, since: int | None,
                  encoder: Encoder) -> AsyncIterator[bytes]:
    topic = feed.subscribe(key, make_page)  # here, not in the route: a stream never started holds nothing
    try:
        produce, on_close = await setup(topic)
        try:
            yield await encoder.encode(f"retry: {RETRY_MS}\n: fleetwatch live updates\n\n")
            deadline = time.monotonic() + STREAM_MAX_S
            quiet_since = time.monotonic()
            while (left := deadline - time.monotonic()) > 0:
                beat = max(0.0, HEARTBEAT_S - (time.monotonic() - quiet_since))
                snap = await topic.next_snapshot(since, min(left, beat))
                if snap is None:
                    if time.monotonic() - quiet_since >= HEARTBEAT_S:
                        yield await encoder.encode(": keepalive\n\n")
                        quiet_since = time.monotonic()
                    continue
                text = await produce(snap, since)
                since = snap.seq
                if text:
                    yield await encoder.encode(text)
                    quiet_since = time.monotonic()
        finally:
            on_close()
    finally:
        feed.unsubscribe(topic)


def _stream(request: Request, key: str, make_page: Callable[[], object], setup: Setup,
            since: str) -> StreamingResponse:
    feed: Feed = request.app.state.live_feed
    gzip = "gzip" in request.headers.get("accept-encoding", "").lower()
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    first = feed.parse(request.headers.get("last-event-id") or since)
    return StreamingResponse(_events(feed, key, make_page, setup, first, Encoder(gzip, feed)),
                             media_type="text/event-stream", headers=headers)


def topic_key(name: str, lang: str) -> str:
    """A page's topic in one language: English keeps the bare name (`fleet`, `host:ID`), others add theirs."""
    return name if lang == i18n.DEFAULT else f"{lang}|{name}"


def _texts(page, seq: int) -> dict:
    """The events built for version `seq`, shared by the streams that start from the same version."""
    memo = getattr(page, "_texts", None)
    if memo is None or memo[0] != seq:
        memo = page._texts = (seq, {})
    return memo[1]


@router.get("/stream/overview")
async def overview_stream(request: Request, q: str = "", state: str = "", sort: str = DEFAULT_SORT,
                          view: str = "cards", since: str = ""):
    """The overview's changes for the page's filter, sort and view (cards or table: an unknown one is cards, as
    the page shows then)."""
    feed: Feed = request.app.state.live_feed
    source, engine = request.app.state.fleet, request.app.state.engine
    try:
        check_sort(sort)
    except ValueError:  # the page said so and showed the default order: so does its stream
        sort = DEFAULT_SORT
    key = view_key(q, state, sort, view)
    lang = i18n.request_lang(request)

    async def setup(topic: Topic):
        page: FleetPage = topic.page  # type: ignore[assignment]
        page.hold_view(key)
        if topic.snapshot is not None:
            await anyio.to_thread.run_sync(page.ensure_view, topic.snapshot, key)

        async def produce(snap, since_seq: int | None) -> str:
            memo = _texts(page, snap.seq)
            text = memo.get((key, since_seq))
            if text is not None:
                return text
            token = feed.token(snap.seq)
            missing = page.rows_missing(snap, key, since_seq)
            if missing:  # rows of hosts that changed while no stream showed the table
                await anyio.to_thread.run_sync(page.render_rows, snap, missing)
            delta = page.delta(snap, key, since_seq)
            if delta is None:
                text = event("update", await anyio.to_thread.run_sync(page.full, snap, key, token), token)
            else:
                parts = [event("update", "\n".join(delta.swaps))] if delta.swaps else []
                if delta.seen:
                    parts.append(event("seen", orjson.dumps(delta.seen).decode()))
                text = "".join(parts) + event(None, event_id=token)
            memo[(key, since_seq)] = text
            return text
        return produce, lambda: page.drop_view(key)

    return _stream(request, topic_key("fleet", lang), lambda: FleetPage(source, engine, lang), setup, since)


@router.get("/stream/hosts/{host_id}")
async def host_stream(request: Request, host_id: str, since: str = ""):
    """The host page's live partial when it changes."""
    feed: Feed = request.app.state.live_feed
    source, engine = request.app.state.fleet, request.app.state.engine
    if host_id not in source.specs:
        raise HTTPException(404, detail=f"unknown host {host_id!r}: it is not in the inventory")
    principal = getattr(request.state, "principal", None)
    role = "admin" if principal is not None and principal.is_admin else "viewer"
    lang = i18n.request_lang(request)

    async def setup(topic: Topic):
        page: HostPage = topic.page  # type: ignore[assignment]

        async def produce(snap, since_seq: int | None) -> str:
            fragment = page.fragment(snap, role) if role in snap.rendered else \
                await anyio.to_thread.run_sync(page.fragment, snap, role)
            return event("update", fragment, feed.token(snap.seq))
        return produce, lambda: None

    return _stream(request, topic_key(f"host:{host_id}", lang), lambda: HostPage(source, engine, host_id, lang),
                   setup, since)
