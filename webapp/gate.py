"""The gate in front of every request: login before the body, a cap on bodies, 503 when saturated.

A pure ASGI middleware, so that nothing of a request is read before its
sender is known:
- **Who.** The session cookie or bearer token is looked up in a worker thread
  (never on the event loop: a blocking lookup there once froze polling for 18
  minutes under 50 clients). No principal: 401 (API) or the login page,
  without reading a byte of the body (an anonymous 200 MiB POST used to be
  parsed first and kept 400 MiB of RSS). `webapp.auth.guard`, a dependency of
  every route, then checks the role and the CSRF token.
- **Bodies.** At most `MAX_BODY` bytes (1 MiB, forms and JSON alike): a larger
  Content-Length is refused at once, a chunked body once it passes the limit
  (413).
- **Saturation.** At most `MAX_IN_FLIGHT` requests are admitted at a time;
  one more gets 503 with Retry-After at once instead of queueing behind the
  others. Sync handlers run on `WEB_THREADS` threads, each with a database
  connection of the web's own pool (`webapp.database`), so a busy web never
  takes a connection the collector writes with.
- **Streams.** `/stream/...` (server-sent events, webapp/pages/stream.py) stay open for minutes: they
  are admitted like a request (the same login check) but counted apart, at most `MAX_STREAMS`, so that
  open pages never take the slots requests need; one more gets a one-line 503 and its page polls.
`/healthz` and the static files pass straight through (the health check must
answer under load); `/login` passes without a principal.
"""
from __future__ import annotations

import logging

import anyio
from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schema import db_health

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_IN_FLIGHT = 64  # 4 per web thread: a queue of at most ~4 handler times, then 503
PASS_PATHS = frozenset({"/healthz"})
PASS_PREFIXES = ("/static/",)
ANONYMOUS_PATHS = frozenset({"/login"})  # the body is still capped
STREAM_PREFIX = "/stream/"
MAX_STREAMS = 200  # open live pages; each costs a task and a share of the tick's fan-out, no thread
METRICS_PATH = "/metrics"  # Prometheus's: a token like the API, or open with `serve --metrics-public`


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body over {limit // 1024} KiB: send less (one host or rule at a time)")


def public_metrics(scope: Scope) -> bool:
    """/metrics opened to anyone who reaches the web (`serve --metrics-public`)."""
    return scope["path"] == METRICS_PATH and getattr(scope["app"].state, "metrics_public", False)


def _is_api(path: str) -> bool:
    return path.startswith(("/api/", "/openapi")) or path == METRICS_PATH


def _plain(scope: Scope, status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """A short answer the gate gives itself (it sits outside the app's exception handlers)."""
    if _is_api(scope["path"]):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    return PlainTextResponse(detail, status_code=status, headers=headers)


def unavailable_response(scope: Scope, error: BaseException, health: db_health.DatabaseHealth) -> Response:
    health.failed(error)
    return _plain(scope, 503, health.message(), {"Retry-After": "5"})


def capped(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge (413) once the body passes `limit` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message
    return wrapped


class GateCounts:
    """What the gate counts, shared with `/metrics` (webapp/api/metrics.py: `fleetwatch_web_*`)."""

    def __init__(self) -> None:
        self.in_flight = 0  # requests admitted and not yet answered
        self.streams = 0  # live pages' streams open
        self.refused_busy = 0  # requests refused with 503: MAX_IN_FLIGHT reached
        self.refused_streams = 0  # streams refused with 503: MAX_STREAMS reached (the page polls)


class WebGate:
    """See the module docstring."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY, max_in_flight: int = MAX_IN_FLIGHT,
                 max_streams: int = MAX_STREAMS, counts: GateCounts | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.max_in_flight = max_in_flight
        self.max_streams = max_streams
        self.counts = counts if counts is not None else GateCounts()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in PASS_PATHS or path.startswith(PASS_PREFIXES) or public_metrics(scope):
            await self.app(scope, capped(receive, self.max_body), send)
            return
        if path.startswith(STREAM_PREFIX):
            await self._stream(scope, receive, send)
            return
        if self.counts.in_flight >= self.max_in_flight:
            self.counts.refused_busy += 1
            busy = _plain(scope, 503, f"the hub is busy ({self.counts.in_flight} requests in progress): try again "
                                      "in a moment", {"Retry-After": "2"})
            await busy(scope, receive, send)
            return
        self.counts.in_flight += 1
        try:
            await self._admitted(scope, receive, send)
        finally:
            self.counts.in_flight -= 1

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = await self._admit(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, capped(receive, self.max_body), send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A live page's stream: admitted like a request, counted apart (see the module docstring)."""
        if self.counts.streams >= self.max_streams:
            self.counts.refused_streams += 1
            busy = _plain(scope, 503, f"too many live pages ({self.counts.streams} streams open): this page "
                                      "polls instead", {"Retry-After": "30"})
            await busy(scope, receive, send)
            return
        self.counts.streams += 1
        try:
            await self._admitted(scope, receive, send)
        finally:
            self.counts.streams -= 1

    async def _admit(self, scope: Scope) -> Response | None:
        """None when the request may go on (its principal in scope["state"]), else the answer to send."""
        from webapp import errors
        from webapp.auth import LoginRequired, bearer, lookup_principal

        request = Request(scope)
        if scope["path"] not in ANONYMOUS_PATHS:
            engine = scope["app"].state.engine
            try:
                who = await anyio.to_thread.run_sync(lookup_principal, request, engine)
            except Exception as exc:
                if db_health.unavailable(exc):
                    return unavailable_response(scope, exc, db_health.tracker(engine))
                raise
            if who is None:
                message = ("the token is not valid (revoked, or mistyped)" if bearer(request) is not None else
                           "log in first, or send an API token as `Authorization: Bearer ...`")
                return errors.login_required(request, LoginRequired(message))
            scope.setdefault("state", {})["principal"] = who
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            return _plain(scope, 413, BodyTooLarge(self.max_body).detail)
        return None
