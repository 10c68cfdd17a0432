"""Alert notifiers (SPEC §4 Alerts): generic JSON webhook, Slack, DingTalk and WeCom robots.

`build_request` is pure: it turns one `Notification` into (url, headers, body) for one notifier
type. `Dispatcher` delivers off the polling path: one bounded queue and one worker task per
notifier, in order, with retries and exponential backoff; a hung or failing receiver holds only
its own worker. Webhook URLs are secrets (tokens live in their paths and queries): they never
appear in an `Attempt`, in our log lines, or in httpx's own "HTTP Request:" log line (redacted by
a filter on the `httpx` logger, for requests sent by a notifier worker only).
"""
from __future__ import annotations

import asyncio
import base64
import contextvars
import dataclasses
import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote_plus, unquote, urlsplit, urlunsplit


from collector.backoff import Backoff

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

TYPES = ("webhook", "slack", "dingtalk", "wecom")
CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "fleetwatch-notifier/1"
MAX_RESPONSE = 64 * 1024   # bytes of a receiver's answer we read at most
RECENT = 20                # attempts kept per notifier for stats()
WECOM_MAX = 4096           # WeCom markdown content limit, in UTF-8 bytes
SLACK_MAX = 3000           # Slack section text limit, in characters
RETRY_4XX = (408, 425, 429)  # the 4xx answers worth another try; any other 4xx is final


@dataclass(frozen=True)
class NotifierSpec:
    """One entry of the inventory's `notifiers:` (inventory.alerting.NotifierConfig mirrors it)."""
    name: str
    type: str  # "webhook" | "slack" | "dingtalk" | "wecom"
    url: str
    secret: str | None = None
    timeout_s: float = 10.0
    max_attempts: int = 8
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    alert_id: int | None
    rule: str
    host_id: str
    item: str | None
    state: str                # "firing" | "resolved"
    severity: str             # "info" | "warning" | "critical"
    summary: str
    value: float | None
    threshold: float | None
    metric: str | None
    event: str | None
    started_at: float
    at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None


@dataclass(frozen=True)
class Attempt:
    notifier: str
    alert_id: int | None
    state: str
    rule: str
    host_id: str
    attempt: int              # 1-based
    at: float                 # epoch s when it started
    ok: bool
    status_code: int | None
    error: str | None         # short and secret-free
    duration_s: float
    final: bool               # delivered, or gave up
    next_retry_s: float | None


# ---------------------------------------------------------------- formatting (pure)

def _iso(ts: float, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(fmt)


def _utc(ts: float) -> str:
    return _iso(ts, "%Y-%m-%d %H:%M:%S UTC")


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _num(v: float | None) -> str:
    return "-" if _finite(v) is None else f"{v:.6g}"


def _line(s: object) -> str:
    """One line: control characters (newlines included) become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(s)).strip()


def _md(s: object) -> str:
    """Untrusted text for DingTalk/WeCom markdown: one line, no HTML tags, <@mentions>, links or
    images ('<' and the ']' of '](' become full-width look-alikes; '>' alone is harmless)."""
    return _line(s).replace("<", "＜").replace("](", "］(")


def _slack(s: object) -> str:
    """Slack mrkdwn escaping (& < >): no injected links or <!channel> mentions."""
    return _line(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _headline(n: Notification, esc: Callable[[object], str] = _line) -> str:
    item = f" ({esc(n.item)})" if n.item else ""
    return f"[{esc(n.state).upper()}] {esc(n.severity)}: {esc(n.rule)} on {esc(n.host_id)}{item}"


def _details(n: Notification, esc: Callable[[object], str]) -> list[tuple[str, str]]:
    """(label, escaped value) rows shared by the chat formats."""
    rows = [("Host", esc(n.host_id))]
    if n.item:
        rows.append(("Item", esc(n.item)))
    what = n.metric or n.event
    rows.append(("Rule", esc(n.rule) + (f" ({esc(what)})" if what else "")))
    rows.append(("Severity", esc(n.severity)))
    if _finite(n.value) is not None or _finite(n.threshold) is not None:
        rows.append(("Value", f"{_num(n.value)} (threshold {_num(n.threshold)})"))
    rows.append(("Since", _utc(n.started_at)))
    rows.append(("Resolved" if n.state == "resolved" else "Fired", _utc(n.at)))
    if n.labels:
        rows.append(("Labels", esc(", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())))))
    return rows


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The generic webhook's JSON document (docs/notifications.md describes it field by field)."""
    alert = {
        "alert_id": n.alert_id, "rule": n.rule, "host_id": n.host_id, "item": n.item,
        "state": n.state, "severity": n.severity, "summary": n.summary,
        "value": _finite(n.value), "threshold": _finite(n.threshold),
        "metric": n.metric, "event": n.event,
        "started_at": n.started_at, "started_at_iso": _iso(n.started_at),
        "at": n.at, "at_iso": _iso(n.at),
        "labels": dict(n.labels), "link": n.link,
    }
    return {"version": 1, "source": "fleetwatch", "status": n.state, "alert": alert}


def _truncate_utf8(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit - 3].decode(errors="ignore") + "…"


def _sign_dingtalk(url: str, secret: str, now_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    parts = urlsplit(url)  # the existing query (access_token=...) is kept as it is, less a stale signature
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in ("timestamp", "sign")]
    return urlunsplit(parts._replace(query="&".join([*kept, f"timestamp={now_ms}", f"sign={sign}"])))


def build_request(spec: Any, n: Notification, *, now_ms: int) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of one delivery; pure (DingTalk's signing time is `now_ms`)."""
    kind, url = spec.type, spec.url
    if kind == "webhook":
        doc: dict[str, Any] = webhook_payload(n)
    elif kind == "slack":
        rows = "\n".join(f"*{k}:* {v}" for k, v in _details(n, _slack))
        text = f"*{_headline(n, _slack)}*\n{_slack(n.summary)}\n{rows}"
        if n.link:
            text += f"\n<{_slack(n.link).replace('|', '%7C')}|Open in fleetwatch>"
        doc = {"text": f"{_headline(n, _slack)}: {_slack(n.summary)}",
               "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_MAX]}}]}
    elif kind in ("dingtalk", "wecom"):
        rows = [f"**{k}:** {v}" for k, v in _details(n, _md)]
        link = f"[Open in fleetwatch]({_line(n.link).replace(' ', '%20').replace(')', '%29')})" if n.link else None
        if kind == "dingtalk":  # DingTalk's markdown needs blank lines to break lines
            text = "\n\n".join([f"#### {_headline(n, _md)}", _md(n.summary), *rows] + ([link] if link else []))
            doc = {"msgtype": "markdown", "markdown": {"title": _headline(n)[:100], "text": text}}
            if getattr(spec, "secret", None):
                url = _sign_dingtalk(url, spec.secret, now_ms)
        else:
            color = "info" if n.state == "resolved" else ("comment" if n.severity == "info" else "warning")
            text = "\n".join([f'### <font color="{color}">{_headline(n, _md)}</font>', _md(n.summary), *rows]
                             + ([link] if link else []))
            doc = {"msgtype": "markdown", "markdown": {"content": _truncate_utf8(text, WECOM_MAX)}}
    else:
        raise ValueError(f"unknown notifier type {kind!r} (expected one of {', '.join(TYPES)})")
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT, **dict(getattr(spec, "headers", None) or {})}
    return url, headers, json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()


# ---------------------------------------------------------------- secret hygiene

_IN_WORKER: contextvars.ContextVar[bool] = contextvars.ContextVar("fleetwatch_notifier", default=False)


class _RedactHttpxUrls(logging.Filter):
    """httpx logs 'HTTP Request: POST <full url> ...' at INFO; for notifier requests the path and
    query (the webhook's token) become '/…'. Runs in the logging caller's context, hence the
    contextvar set by the workers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _IN_WORKER.get() and isinstance(record.args, tuple) and len(record.args) >= 2:
            record.args = (record.args[0], _redact(str(record.args[1])), *record.args[2:])
        return True


def _redact(url: str) -> str:
    try:
        p = urlsplit(url)
        return f"{p.scheme}://{p.hostname or ''}{f':{p.port}' if p.port else ''}/…"
    except ValueError:
        return "<url>"


def _tokenish(piece: str) -> bool:
    """Could this path segment or query value be a secret? Plain short words ('robot', 'send',
    'services') are not: replacing them would garble receivers' error texts."""
    return len(piece) >= 4 and not (piece.isalpha() and piece.islower() and len(piece) < 16)


def _scrub(text: str, url: str) -> str:
    """Text from a receiver or an exception, one line, without the URL, its path or query, or any
    token-like path segment or query value (URL-decoded or not)."""
    text = _line(text)
    p = urlsplit(url)
    pieces = {s for s in p.path.split("/")} | {v for _, v in parse_qsl(p.query, keep_blank_values=True)}
    pieces = {x for x in pieces | {unquote(x) for x in pieces} if _tokenish(x)} | {url, p.path, p.query}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 4:
            text = text.replace(piece, "…")
    return text


def _exc_text(exc: BaseException, timeout_s: float, url: str) -> str:
    import httpx

    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return f"timed out after {timeout_s:g} s"
    detail = str(exc) or type(exc).__name__
    chain, cur = [], exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    low = " ".join(str(e).lower() for e in chain)
    if isinstance(exc, (httpx.ConnectError, OSError)):
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in low:
            return "connection refused"
        if "name or service" in low or "nodename" in low or "getaddrinfo" in low:
            return "name resolution failed"
        if "ssl" in low or "certificate" in low:
            return _scrub(f"TLS error: {detail}", url)[:200]
        return _scrub(f"connection failed: {detail}", url)[:200]
    if isinstance(exc, httpx.RemoteProtocolError):
        return _scrub(f"protocol error: {detail}", url)[:200]
    return _scrub(f"{type(exc).__name__}: {detail}", url)[:200]


# ---------------------------------------------------------------- delivery

class _Notifier:
    def __init__(self, spec: Any, queue_size: int) -> None:
        self.spec, self.task, self.busy = spec, None, False
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=queue_size)
        self.delivered = self.failed = self.dropped = self.attempts = 0
        self.recent: deque[Attempt] = deque(maxlen=RECENT)


def _spec_key(spec: Any) -> tuple:
    return (spec.type, spec.url, getattr(spec, "secret", None), spec.timeout_s, spec.max_attempts,
            tuple(sorted(dict(getattr(spec, "headers", None) or {}).items())))


class Dispatcher:
    """Delivers notifications off the polling path: one queue and one worker task per notifier.

    Queue-full policy: the newest notification is refused (`submit` returns False and logs a
    warning); what is queued keeps its order. Workers start lazily inside a running event loop.
    """

    def __init__(self, *, on_attempt: Callable[[Attempt], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 backoff_factory: Callable[[], Backoff] = lambda: Backoff(base=1.0, cap=60.0),
                 queue_size: int = 1000, client: httpx.AsyncClient | None = None) -> None:
        self._on_attempt, self._clock, self._backoff = on_attempt, clock, backoff_factory
        self._queue_size = queue_size
        # made when the first notifier is configured, not per delivery: building its TLS context blocks for
        # tens of milliseconds; and not at all without notifiers: httpx costs a worker ~15 MB
        self._client = client
        self._own_client = client is None
        self._notifiers: dict[str, _Notifier] = {}
        self._stopped = False
        httpx_log = logging.getLogger("httpx")
        if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_log.filters):
            httpx_log.addFilter(_RedactHttpxUrls())

    # -- configuration and submission (synchronous, never block)

    def configure(self, specs: Mapping[str, Any]) -> None:
        """Make the notifiers exactly `specs` (name -> spec). Unchanged and replaced ones keep their
        queue (a replaced one's next attempt uses the new spec); removed ones are stopped and their
        pending notifications dropped. Raises ValueError for an unknown type, changing nothing."""
        for name, spec in specs.items():
            if spec.type not in TYPES:
                raise ValueError(f"notifier {name!r}: unknown type {spec.type!r}")
        if specs and self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                trust_env=False, follow_redirects=False,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=32, keepalive_expiry=30))
        for name in list(self._notifiers):
            if name not in specs:
                self._remove(name)
        for name, spec in specs.items():
            cur = self._notifiers.get(name)
            if cur is None:
                self._notifiers[name] = _Notifier(spec, self._queue_size)
            elif _spec_key(cur.spec) != _spec_key(spec):
                cur.spec = spec
                log.info("notifier %s: configuration changed (%d queued kept)", name, cur.queue.qsize())
            self._ensure_worker(name)

    def _remove(self, name: str) -> None:
        state = self._notifiers.pop(name)
        if state.task is not None:
            state.task.cancel()
        dropped = 0
        while not state.queue.empty():
            state.queue.get_nowait()
            state.queue.task_done()
            dropped += 1
        log.info("notifier %s removed (%d queued notifications dropped)", name, dropped)

    def submit(self, notifier: str, n: Notification) -> bool:
        try:
            state = self._notifiers.get(notifier)
            if state is None or self._stopped:
                log.warning("notification for %s on %s (%s) not sent: %s", n.rule, n.host_id, n.state,
                            "dispatcher stopped" if self._stopped else f"no notifier named {notifier!r}")
                return False
            try:
                state.queue.put_nowait(n)
            except asyncio.QueueFull:
                state.dropped += 1
                if state.dropped % 100 == 1:  # a long outage must not flood the log
                    log.warning("notifier %s: queue full (%d), dropped %s on %s (%s); %d dropped so far",
                                notifier, self._queue_size, n.rule, n.host_id, n.state, state.dropped)
                return False
            self._ensure_worker(notifier)
            return True
        except Exception:  # never raise into the alert engine
            log.exception("notifier %s: submit failed", notifier)
            return False

    def _ensure_worker(self, name: str) -> None:
        state = self._notifiers[name]
        if self._stopped or (state.task is not None and not state.task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # started by the next submit()/drain() inside the loop
        state.task = loop.create_task(self._worker(name, state), name=f"notifier:{name}")

    # -- lifecycle

    async def drain(self, timeout: float) -> bool:
        """Wait until every queue is empty and no delivery is in flight; False on timeout."""
        for name in list(self._notifiers):
            self._ensure_worker(name)
        queues = [s.queue for s in self._notifiers.values()]
        try:
            async with asyncio.timeout(timeout):
                for q in queues:
                    await q.join()
            return True
        except TimeoutError:
            left = sum(s.queue.qsize() + s.busy for s in self._notifiers.values())
            log.warning("notifications not drained after %g s (%d left)", timeout, left)
            return False

    async def stop(self) -> None:
        """Cancel the workers (pending notifications are dropped) and close our own client."""
        self._stopped = True
        tasks = [s.task for s in self._notifiers.values() if s.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._own_client and self._client is not None:
            await self._client.aclose()

    def stats(self) -> dict[str, dict]:
        return {name: {"type": s.spec.type, "queued": s.queue.qsize() + int(s.busy),
                       "delivered": s.delivered, "failed": s.failed, "dropped": s.dropped,
                       "attempts": s.attempts,
                       "last": dataclasses.asdict(s.recent[-1]) if s.recent else None,
                       "recent": [dataclasses.asdict(a) for a in s.recent]}
                for name, s in self._notifiers.items()}

    # -- the workers

    async def _worker(self, name: str, state: _Notifier) -> None:
        _IN_WORKER.set(True)
        while True:
            n = await state.queue.get()
            state.busy = True
            try:
                await self._deliver(name, state, n)
            except Exception:
                log.exception("notifier %s: delivery of %s on %s failed unexpectedly", name, n.rule, n.host_id)
            finally:
                state.busy = False
                state.queue.task_done()

    async def _deliver(self, name: str, state: _Notifier, n: Notification) -> None:
        backoff = self._backoff()
        number = 0
        while True:
            number += 1
            spec = state.spec  # re-read: configure() may have replaced it meanwhile
            max_attempts = max(1, int(spec.max_attempts))
            started, t0 = self._clock(), time.monotonic()
            ok, code, error, retry_after = await self._send(spec, n)
            # a 4xx other than timeout / too early / too many will be refused again: give up at once
            refused = code is not None and 400 <= code < 500 and code not in RETRY_4XX
            final = ok or refused or number >= max_attempts
            delay = None if final else max(backoff.next_delay(), min(retry_after or 0.0, 300.0))
            a = Attempt(notifier=name, alert_id=n.alert_id, state=n.state, rule=n.rule, host_id=n.host_id,
                        attempt=number, at=started, ok=ok, status_code=code, error=error,
                        duration_s=time.monotonic() - t0, final=final, next_retry_s=delay)
            self._record(state, a)
            if final:
                return
            await asyncio.sleep(delay)

    async def _send(self, spec: Any, n: Notification) -> tuple[bool, int | None, str | None, float | None]:
        """One attempt: (ok, status code, error text, Retry-After seconds)."""
        import httpx

        url = spec.url
        timeout = float(spec.timeout_s)
        try:
            url, headers, body = build_request(spec, n, now_ms=int(self._clock() * 1000))
            async with asyncio.timeout(timeout):
                client = self._client
                request = client.build_request("POST", url, headers=headers, content=body,
                                               timeout=httpx.Timeout(timeout))
                response = await client.send(request, stream=True, follow_redirects=False)
                try:
                    raw = bytearray()
                    async for chunk in response.aiter_bytes():
                        raw += chunk
                        if len(raw) >= MAX_RESPONSE:
                            break
                finally:
                    await response.aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is an attempt's outcome
            return False, None, _exc_text(exc, timeout, url), None
        code = response.status_code
        text = bytes(raw).decode("utf-8", errors="replace")
        if not 200 <= code < 300:
            ra = response.headers.get("retry-after", "")
            return False, code, _scrub(f"HTTP {code}: {text[:200]}", url)[:260], float(ra) if ra.isdigit() else None
        if spec.type in ("dingtalk", "wecom"):
            try:
                answer = json.loads(text)
                errcode, errmsg = answer["errcode"], answer.get("errmsg", "")
            except (ValueError, KeyError, TypeError):
                return False, code, _scrub(f"unexpected answer: {text[:200]}", url)[:260], None
            if errcode != 0:
                return False, code, _scrub(f"errcode {errcode}: {errmsg}", url)[:260], None
        return True, code, None, None

    def _record(self, state: _Notifier, a: Attempt) -> None:
        state.attempts += 1
        state.recent.append(a)
        if a.ok:
            state.delivered += 1
        elif a.final:
            state.failed += 1
        what = f"notifier {a.notifier}: {a.state} {a.rule} on {a.host_id} attempt {a.attempt}"
        log.debug("%s: %s in %.3f s", what, "ok" if a.ok else a.error, a.duration_s)
        if not a.ok and a.final:
            log.warning("%s failed, giving up: %s", what, a.error)
        elif not a.ok:
            log.info("%s failed (%s), retry in %.1f s", what, a.error, a.next_retry_s or 0)
        if self._on_attempt is not None:
            try:
                self._on_attempt(a)
            except Exception:
                log.exception("notifier %s: on_attempt callback failed", a.notifier)
