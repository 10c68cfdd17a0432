"""Delivery of notifications (SPEC §4 Alerts), off the polling path: one bounded queue and one
worker task per notifier, in order, with retries and exponential backoff; a hung or failing receiver
holds only its own worker. Every attempt is recorded (`Attempt`, secret-free) and counted for
`stats()`. What is sent is `formats.build_request`'s; what may be said about it, `redaction`'s.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collector.backoff import Backoff
from inventory.alerting import NotifierConfig

from .formats import TYPES, Notification, build_request
from .redaction import exception_text, install_httpx_filter, mark_notifier_task, scrub

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("collector.notifiers")  # the package's name: log settings and filters name it

MAX_RESPONSE = 64 * 1024   # bytes of a receiver's answer we read at most
RECENT = 20                # attempts kept per notifier for stats()
RETRY_4XX = (408, 425, 429)  # the 4xx answers worth another try; any other 4xx is final


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


class _Notifier:
    def __init__(self, spec: NotifierConfig, queue_size: int) -> None:
        self.spec, self.task, self.busy = spec, None, False
        self.queue: asyncio.Queue[Notification] = asyncio.Queue(maxsize=queue_size)
        self.delivered = self.failed = self.dropped = self.attempts = 0
        self.recent: deque[Attempt] = deque(maxlen=RECENT)


def _settings(spec: NotifierConfig) -> tuple:
    """What deliveries use of a notifier's configuration (its name is the key it is configured under)."""
    return (spec.type, spec.url, spec.secret, spec.timeout_s, spec.max_attempts, tuple(sorted(spec.headers.items())))


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
        install_httpx_filter()

    # -- configuration and submission (synchronous, never block)

    def configure(self, specs: Mapping[str, NotifierConfig]) -> None:
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
            elif _settings(cur.spec) != _settings(spec):
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
        mark_notifier_task()
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

    async def _send(self, spec: NotifierConfig, n: Notification) -> tuple[bool, int | None, str | None, float | None]:
        """One attempt: (ok, status code, error text, Retry-After seconds)."""
        import httpx

        url = spec.url.get_secret_value()  # for scrub(): what must not show in an error
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
            return False, None, exception_text(exc, timeout, url), None
        code = response.status_code
        text = bytes(raw).decode("utf-8", errors="replace")
        if not 200 <= code < 300:
            ra = response.headers.get("retry-after", "")
            return False, code, scrub(f"HTTP {code}: {text[:200]}", url)[:260], float(ra) if ra.isdigit() else None
        if spec.type in ("dingtalk", "wecom"):
            try:
                answer = json.loads(text)
                errcode, errmsg = answer["errcode"], answer.get("errmsg", "")
            except (ValueError, KeyError, TypeError):
                return False, code, scrub(f"unexpected answer: {text[:200]}", url)[:260], None
            if errcode != 0:
                return False, code, scrub(f"errcode {errcode}: {errmsg}", url)[:260], None
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
