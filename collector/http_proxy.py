"""The hub's built-in HTTP proxy (the `builtin` reverse-forward target, SPEC §4).

It is served directly on a pair of asyncio-style byte streams: an SSH channel
from a host's remote listener (asyncssh SSHReader/SSHWriter, encoding=None) or,
in tests, an ``asyncio.start_server`` connection. So the hub opens no listening
port of its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from http import HTTPStatus
from dataclasses import dataclass
from urllib.parse import urlsplit

from inventory.allowlist import Allowlist, parse_allowlist  # noqa: F401 - re-exported for callers

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_VERSION = re.compile(r"HTTP/1\.[0-9]\Z")
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

MAX_HEAD = 64 * 1024
CHUNK = 64 * 1024
LINGER = 30.0  # once one direction ended, the other may idle this long before we close
HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "connection", "keep-alive",
              "te", "trailer", "upgrade"}
HEAD_TIMEOUT = 60.0  # a client that never finishes its request must not hold a channel forever


@dataclass
class ProxyStats:
    """Counters a caller can show; updated in place by every handler that shares it."""
    connections: int = 0
    active: int = 0
    bytes_up: int = 0    # client -> destination (rewritten head included)
    bytes_down: int = 0  # destination -> client
    errors: int = 0


class _Reject(Exception):
    """Answer this status with this text, then close."""
    status = property(lambda self: self.args[0])


async def _read_head(reader) -> tuple[bytes, bytes]:
    """(head without the blank line, bytes already read past it); our own loop so the
    64 KiB limit holds whatever the stream's own limit (SSHReader.readuntil has none)."""
    buf = b""
    while True:
        ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := buf.find(sep)) >= 0]
        if ends and (end := min(ends))[0] <= MAX_HEAD:  # the earliest blank line ends the head
            return buf[:end[0]], buf[sum(end):]
        if len(buf) > MAX_HEAD:
            raise _Reject(431, f"request head larger than {MAX_HEAD} bytes")
        data = await reader.read(CHUNK)
        if not data:
            raise _Reject(400, "connection closed before the end of the request head") if buf.strip() else EOFError()
        buf += data


def _parse_head(head: bytes) -> tuple[str, str, str, list[tuple[str, str]]]:
    try:
        lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        raise _Reject(400, "malformed request line") from None
    if not _TOKEN.match(method) or not _VERSION.match(version) or not target:
        raise _Reject(400, "malformed request line")
    headers = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or any(ord(c) < 33 or ord(c) > 126 for c in name):
            raise _Reject(400, "malformed header line")
        headers.append((name, value.strip()))
    return method.upper(), target, version, headers


def _split_authority(auth: str, default_port: int | None) -> tuple[str, int]:
    u = urlsplit("//" + auth)
    try:
        host, port = u.hostname, u.port
    except ValueError:
        raise _Reject(400, f"bad port in {auth!r}") from None
    port = port if port is not None else default_port
    if not host or port is None or port == 0 or u.path or u.username is not None:
        raise _Reject(400, f"bad destination {auth!r}, expected host:port")
    return host, port


def _rewrite(method: str, target: str, version: str, headers) -> tuple[str, int, bytes]:
    """Absolute-URI request -> (host, port, origin-form head with hop-by-hop headers dropped)."""
    u = urlsplit(target)
    if u.scheme.lower() != "http":
        raise _Reject(400, "only http:// URLs can be proxied; use CONNECT for https")
    host, port = _split_authority(u.netloc, 80)
    path = (u.path or "/") + (f"?{u.query}" if u.query else "")
    named = {t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",")}
    drop = HOP_BY_HOP | named | {"host"}
    authority = u.netloc.rpartition("@")[2]
    out = [f"{method} {path} {version}", f"Host: {authority}"]
    out += [f"{n}: {v}" for n, v in headers if n.lower() not in drop]
    out.append("Connection: close")
    return host, port, ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")


async def _close(writer) -> None:
    with contextlib.suppress(Exception):
        writer.close()
        await asyncio.wait_for(writer.wait_closed(), 2.0)


def _write_eof(writer) -> None:
    with contextlib.suppress(Exception):
        if writer.can_write_eof():
            writer.write_eof()


async def _pump(src, dst, count) -> None:
    try:
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
            count(len(data))
    except Exception:  # either peer went away (reset, SSH channel error): this direction ends
        pass
    _write_eof(dst)


async def _relay(cr, cw, ur, uw, up, down, moved) -> None:
    """Pipe both ways; an ended direction half-closes its destination, and the other
    runs on while it moves bytes (idle LINGER s at most), so `send; shutdown; read` works."""
    tasks = {asyncio.ensure_future(_pump(cr, uw, up)), asyncio.ensure_future(_pump(ur, cw, down))}
    try:
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            while not t.done():
                before = moved()
                await asyncio.wait({t}, timeout=LINGER)
                if not t.done() and moved() == before:
                    t.cancel()
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _respond(reader, writer, status: int, message: str) -> None:
    body = (message + "\n").encode()
    writer.write(f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.drain(), 5.0)
        _write_eof(writer)
        # Discard what the client is still sending (e.g. the rest of a huge head): closing a
        # TCP socket with unread input sends RST, which can destroy the answer in flight.
        async def discard() -> None:
            n = 0
            while n < 1 << 20 and (data := await reader.read(CHUNK)):
                n += len(data)
        await asyncio.wait_for(discard(), 1.0)


async def serve_proxy_connection(reader, writer, *, allow: Allowlist | None = None,
                                 stats: ProxyStats | None = None, connect_timeout: float = 10.0,
                                 label: str = "") -> None:
    """Serve one proxy client on a (reader, writer) byte-stream pair; never raises (except
    on cancellation), always closes both writers.

    ``CONNECT host:port`` opens a tunnel; an absolute-URI request (``GET http://h:p/x``,
    any method, body piped as is) is forwarded in origin form with ``Connection: close``.
    One request per client connection: the destination closes after its answer, and so
    do we. Errors answer text/plain 400/403/405/408/431/502/504. ``allow=None`` allows all.
    """
    stats = stats if stats is not None else ProxyStats()
    stats.connections += 1
    stats.active += 1
    started, dest, outcome = time.monotonic(), "-", "ok"
    counts = [0, 0]  # this connection's bytes up, down; stats is updated live for the caller
    uw = None

    def up(n: int) -> None:
        counts[0] += n
        stats.bytes_up += n

    def down(n: int) -> None:
        counts[1] += n
        stats.bytes_down += n
    try:
        try:
            try:
                head, rest = await asyncio.wait_for(_read_head(reader), HEAD_TIMEOUT)
            except asyncio.TimeoutError:
                raise _Reject(408, f"no complete request head within {HEAD_TIMEOUT:g} s") from None
            method, target, version, headers = _parse_head(head)
            if method == "CONNECT":
                host, port = _split_authority(target, None)
                first = b""
            elif _ABSOLUTE.match(target):
                host, port, first = _rewrite(method, target, version, headers)
            else:
                raise _Reject(405, "this is a proxy: send CONNECT host:port or an absolute http:// URL")
            dest = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            if allow is not None and not allow.allows(host, port):
                raise _Reject(403, f"destination {dest} is not allowed")
            try:
                ur, uw = await asyncio.wait_for(asyncio.open_connection(host, port), connect_timeout)
            except asyncio.TimeoutError:
                raise _Reject(504, f"timed out connecting to {dest}") from None
            except OSError as e:
                raise _Reject(502, f"cannot connect to {dest}: {e.strerror or e}") from None
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if first + rest:
                uw.write(first + rest)
                up(len(first + rest))
            await _relay(reader, writer, ur, uw, up, down, lambda: sum(counts))
        except _Reject as r:
            outcome = f"{r.status} {r.args[1]}"
            stats.errors += 1
            await _respond(reader, writer, *r.args)
    except EOFError:
        outcome = "closed before a request"
    except Exception as e:  # a handler of a long-lived hub must never take it down
        outcome = f"error: {e!r}"
        stats.errors += 1
    finally:
        try:
            if uw is not None:
                await _close(uw)
            await _close(writer)
        finally:  # only now is the connection really over (callers wait for active == 0)
            stats.active -= 1
            log.debug("proxy %s %s: %s, %d bytes up, %d down, %.3f s", label or "-", dest, outcome,
                      counts[0], counts[1], time.monotonic() - started)
