"""Reverse port forward per host over the hub's polling connection (SPEC section 4, issue 6).

For each host with `proxy.enabled`, the hub asks the host's sshd for a remote
listener (`remote_listen`, loopback by default) on the connection it already
holds. Every connection a program on the host makes to that port comes back
to the hub as an SSH channel, which is piped to `target` (a TCP address on
the hub's side) or served by the builtin HTTP proxy (collector.http_proxy).

`HostProxy` supervises one host's listener: it re-creates it after every
reconnect and retries failures with backoff 1 s -> 60 s. A connection that died
without sshd noticing (half-open) keeps its old listener on the host until
sshd's ClientAliveInterval check drops it, so "port in use" is retried until
the port frees (docs/host-setup.md recommends the sshd settings).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import asyncssh

from collector import http_proxy
from collector.backoff import Backoff
from collector.errors import Failure, HostError
from collector.ssh_pool import HostConnection
from inventory.models import ProxyConfig
from inventory.patterns import parse_host_port

log = logging.getLogger(__name__)

STATES = ("stopped", "starting", "up", "retrying", "failed")
_FAILURE_CODES = {Failure.AUTH_FAILED: "AUTH_FAILED", Failure.HOST_KEY_MISMATCH: "AUTH_FAILED"}
_PIPE_CHUNK = 64 * 1024
# "Port in use" is mostly an old half-open session that sshd is about to drop:
# ask again at least this often, so the forward is back within seconds of it.
PORT_RETRY_CAP_S = 5.0


@dataclass
class ProxyStatus:
    """What the API, the CLI and the host page show about one host's forward."""

    state: str = "stopped"
    listen: str = ""
    target: str = ""
    connected_since: float | None = None
    last_error: str | None = None
    error_code: str | None = None  # PORT_IN_USE | AUTH_FAILED | NETWORK_UNREACHABLE | TARGET_UNREACHABLE
    retry_count: int = 0
    connections: int = 0
    active: int = 0
    bytes_in: int = 0  # host -> target
    bytes_out: int = 0  # target -> host

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def error_code_of(err: HostError) -> str:
    """The status code for a failure to reach the host at all."""
    return _FAILURE_CODES.get(err.failure, "NETWORK_UNREACHABLE")


async def _pipe(src, dst, count: Callable[[int], None]) -> None:
    try:
        while True:
            data = await src.read(_PIPE_CHUNK)
            if not data:
                break
            count(len(data))
            dst.write(data)
            await dst.drain()
    except (OSError, asyncssh.Error, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            if dst.can_write_eof():
                dst.write_eof()
        except (OSError, asyncssh.Error, AttributeError):
            pass


class HostProxy:
    """One host's reverse forward: start, stop, and keep it up across reconnects."""

    def __init__(self, host_id: str, config: ProxyConfig, conn: HostConnection, *,
                 on_change: Callable[[str, ProxyStatus, str], None] | None = None,
                 backoff: Backoff | None = None, clock: Callable[[], float] = time.time,
                 guard: http_proxy.LocalGuard | None = None) -> None:
        self.host_id = host_id
        # what the builtin target refuses (the hub's loopback, its web port); ProxyManager shares one
        self.guard = guard if guard is not None else http_proxy.LocalGuard()
        self.config = config
        self.conn = conn
        self.on_change = on_change  # (host_id, status, previous state): events proxy_up / proxy_down
        self.backoff = backoff or Backoff(base=1.0, cap=60.0)
        self._clock = clock
        self.status = ProxyStatus(listen=config.remote_listen, target=config.target)
        self._task: asyncio.Task | None = None
        self._listener: asyncssh.SSHListener | None = None
        self._channels: set[asyncio.Task] = set()

    # ----------------------------------------------------------------- control
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Begin holding the listener (idempotent); returns at once, the status tells how it goes."""
        if self.running:
            return
        self.backoff.reset()
        self.status.retry_count = 0
        self._set("starting")
        self._task = asyncio.create_task(self._supervise(), name=f"proxy:{self.host_id}")

    async def stop(self) -> None:
        """Close the listener and wait until sshd has released it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._close_listener()
        for channel in list(self._channels):
            channel.cancel()
        await asyncio.gather(*self._channels, return_exceptions=True)
        self._set("stopped", connected_since=None)

    # ----------------------------------------------------------------- supervision
    async def _supervise(self) -> None:
        while True:
            try:
                ssh = await self.conn.ensure_connected()
            except HostError as err:
                await self._retry(err.message, error_code_of(err))
                continue
            await self._close_listener()
            try:
                await self._open_listener(ssh)
            except asyncssh.ChannelListenError:
                await self._retry(f"the host refused to listen on {self.config.remote_listen}: the port is in "
                                  "use (or forwarding is not allowed for this key)", "PORT_IN_USE")
                continue
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive any surprise
                log.warning("proxy %s: cannot open the listener: %s: %s", self.host_id, type(exc).__name__, exc)
                await self._retry(f"{type(exc).__name__}: {exc}", "NETWORK_UNREACHABLE")
                continue
            self.backoff.reset()
            self._set("up", connected_since=self._clock(), last_error=None, error_code=None)
            # Sleep until the polling connection ends (lost, or closed by the pool); the
            # listener ended with it. asyncssh's keepalive (ssh_pool) finds a half-open one.
            await ssh.wait_closed()
            self._listener = None
            self.status.retry_count += 1
            self._set("retrying", connected_since=None, last_error="the SSH connection was lost; reconnecting",
                      error_code="NETWORK_UNREACHABLE")

    async def _retry(self, message: str, code: str) -> None:
        self.status.retry_count += 1
        self._set("retrying", connected_since=None, last_error=message, error_code=code)
        delay = self.backoff.next_delay()
        if code == "PORT_IN_USE":  # one global request on an open connection: cheap to repeat
            delay = min(delay, PORT_RETRY_CAP_S)
        log.info("proxy %s: %s (%s); retry %d in %.1f s", self.host_id, message, code, self.status.retry_count,
                 delay)
        await asyncio.sleep(delay)

    async def _open_listener(self, ssh: asyncssh.SSHClientConnection) -> None:
        host, port = parse_host_port(self.config.remote_listen, "remote_listen")
        self._listener = await ssh.start_server(self._channel_handler, host, port, encoding=None)

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            try:  # sshd answers the cancel request once the port is free again
                await asyncio.wait_for(listener.wait_closed(), timeout=5)
            except (asyncio.TimeoutError, OSError, asyncssh.Error):
                pass

    # ----------------------------------------------------------------- one forwarded connection
    def _channel_handler(self, orig_host: str, orig_port: int):
        async def handle(reader, writer) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._channels.add(task)
            self.status.connections += 1
            self.status.active += 1
            try:
                await self._serve(reader, writer)
            finally:
                self.status.active -= 1
                if task is not None:
                    self._channels.discard(task)
                writer.close()
        return handle

    async def _serve(self, reader, writer) -> None:
        if self.config.builtin_target:
            stats = http_proxy.ProxyStats()
            try:
                await http_proxy.serve_proxy_connection(reader, writer, allow=self.config.allowlist, stats=stats,
                                                        label=self.host_id, guard=self.guard)
            finally:
                self._count_in(stats.bytes_up)
                self._count_out(stats.bytes_down)
            return
        host, port = parse_host_port(self.config.target, "target")
        try:
            t_reader, t_writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)
        except (OSError, asyncio.TimeoutError) as exc:
            self._set(self.status.state, last_error=f"cannot reach the target {self.config.target}: {exc}",
                      error_code="TARGET_UNREACHABLE")
            return
        try:
            await asyncio.gather(_pipe(reader, t_writer, self._count_in), _pipe(t_reader, writer, self._count_out))
        finally:
            t_writer.close()

    def _count_in(self, n: int) -> None:
        self.status.bytes_in += n

    def _count_out(self, n: int) -> None:
        self.status.bytes_out += n

    def _set(self, state: str, **changes: Any) -> None:
        previous = self.status.state
        self.status.state = state
        for key, value in changes.items():
            setattr(self.status, key, value)
        if self.on_change is not None and state != previous:
            self.on_change(self.host_id, self.status, previous)


class ProxyManager:
    """Every host's HostProxy, kept in step with the inventory and the connection pool."""

    def __init__(self, pool, *, on_event: Callable[[str, str, str], None] | None = None,
                 clock: Callable[[], float] = time.time, listen: tuple[str, int] | None = None) -> None:
        self.pool = pool
        self.on_event = on_event  # (host_id, "proxy_up" | "proxy_down", message)
        self._clock = clock
        # `listen` is where the hub's web UI listens: no builtin target forwards a host to it
        self.guard = http_proxy.LocalGuard(hub_listen=listen)
        self.proxies: dict[str, HostProxy] = {}

    def get(self, host_id: str) -> HostProxy | None:
        return self.proxies.get(host_id)

    async def sync(self, specs: dict) -> None:
        """Start, restart or stop forwards after an inventory change (or a reconnecting change)."""
        for host_id in list(self.proxies):
            spec = specs.get(host_id)
            proxy = self.proxies[host_id]
            if spec is None or not spec.proxy.enabled or spec.proxy != proxy.config \
                    or host_id not in self.pool or self.pool.get(host_id) is not proxy.conn:
                await proxy.stop()
                del self.proxies[host_id]
        for host_id, spec in specs.items():
            if spec.proxy.enabled and host_id not in self.proxies and host_id in self.pool:
                proxy = HostProxy(host_id, spec.proxy, self.pool.get(host_id), on_change=self._changed,
                                  clock=self._clock, guard=self.guard)
                self.proxies[host_id] = proxy
                if spec.proxy.auto_start:
                    proxy.start()

    async def stop_all(self) -> None:
        proxies, self.proxies = list(self.proxies.values()), {}
        await asyncio.gather(*(p.stop() for p in proxies), return_exceptions=True)

    def _changed(self, host_id: str, status: ProxyStatus, previous: str) -> None:
        if self.on_event is None:
            return
        if status.state == "up":
            self.on_event(host_id, "proxy_up", f"reverse forward {status.listen} -> {status.target} is up")
        elif previous == "up":
            why = "stopped" if status.state == "stopped" else (status.last_error or status.state)
            self.on_event(host_id, "proxy_down", f"reverse forward {status.listen} -> {status.target} is down: {why}")
