"""The hub's built-in HTTP proxy (the `builtin` reverse-forward target, SPEC §4).

It is served directly on a pair of asyncio-style byte streams: an SSH channel
from a host's remote listener (asyncssh SSHReader/SSHWriter, encoding=None) or,
in tests, an ``asyncio.start_server`` connection. So the hub opens no listening
port of its own.

A forwarded host must not use the proxy to reach the hub itself: `LocalGuard`
refuses the hub's loopback, link-local and unspecified addresses and the hub's
web port unless `proxy.allow` names the destination (docs/security.md). The
destination is resolved once, checked, and then connected to by the checked
address, so a name that resolves differently the second time changes nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import time
from http import HTTPStatus
from dataclasses import dataclass
from urllib.parse import urlsplit

from inventory.allowlist import Allowlist, parse_allowlist, restricted_kind  # noqa: F401 - re-exported

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


class _Refused(_Reject):
    """A destination LocalGuard refuses (logged at info: an operator may want to know)."""


_KIND_TEXT = {"loopback": "the hub's own loopback", "link-local": "a link-local address (cloud metadata and the like)",
              "unspecified": "the unspecified address (this machine)"}


class LocalGuard:
    """What a forwarded host may not reach through the builtin proxy unless `proxy.allow` names it.

    Refused, for every address the destination resolves to:
    - loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10), unspecified (0.0.0.0/8, ::),
      IPv4-mapped forms included: opened only by a rule naming the host as the client wrote it, without
      wildcards (`localhost:7000`, `127.0.0.1`, `[::1]:*`); `*`, `*:80` or `127.0.0.*` never open them;
    - the hub's web port (`hub_listen`, from `serve --listen`) on loopback, on an unspecified address and
      on this machine's own addresses (the listen address, and what the machine's name resolves to):
      opened only by a rule naming host *and* that port (`127.0.0.1:8080`; `127.0.0.1` alone does not).
    The machine's own addresses are resolved once, the first time the web port is asked for.
    """

    def __init__(self, hub_listen: tuple[str, int] | None = None) -> None:
        self.hub_listen = hub_listen
        self._own: frozenset[str] | None = None

    async def own_addresses(self) -> frozenset[str]:
        """This machine's addresses as far as cheaply known: the listen address and its name's addresses."""
        if self._own is None:
            names = [socket.gethostname()] + ([self.hub_listen[0]] if self.hub_listen else [])
            found: set[str] = set()
            loop = asyncio.get_running_loop()
            for name in names:
                with contextlib.suppress(OSError, UnicodeError):
                    found.update(_plain(info[4][0]) for info in await loop.getaddrinfo(name, None))
            self._own = frozenset(found)
        return self._own

    async def refusal(self, host: str, port: int, addresses: list[str], allow: Allowlist | None) -> str | None:
        """Why this destination is refused (one line saying how to allow it), or None."""
        dest = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        named = allow is not None and allow.names(host, port)
        hub_port = self.hub_listen is not None and port == self.hub_listen[1]
        for address in addresses:
            kind = restricted_kind(address)
            what = address if _plain(address) == _plain(host) else f"{host} ({address})"
            if kind and not named:
                return (f"{what} is {_KIND_TEXT[kind]}: forwarded hosts may not reach it unless proxy.allow "
                        f"names it (add \"{dest}\" to allow)")
            if hub_port and not (allow is not None and allow.names(host, port, exact_port=True)) \
                    and (kind in ("loopback", "unspecified") or _plain(address) in await self.own_addresses()):
                return (f"{what} port {port} is the hub's own web port: forwarded hosts may not reach it unless "
                        f"proxy.allow names it with its port (add \"{dest}\" to allow)")
        return None


def _plain(address: str) -> str:
    """An address in one spelling: no IPv6 zone or brackets, IPv4-mapped as IPv4, lower case."""
    text = address.strip("[]").split("%", 1)[0].lower()
    if text.startswith("::ffff:") and "." in text:
        return text[7:]
    return text


DEFAULT_GUARD = LocalGuard()  # no web port known: loopback, link-local and unspecified only


async def _resolve(host: str, port: int) -> list[tuple]:
    """(family, type, proto, canonname, sockaddr) for each address of host, TCP only."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise _Reject(502, f"cannot resolve {host}: {getattr(e, 'strerror', None) or e}") from None
    if not infos:
        raise _Reject(502, f"cannot resolve {host}: no address")
    return infos


async def _connect(infos: list[tuple], dest: str):
    """Open a stream to the first of these addresses that answers (the ones checked, nothing resolved again)."""
    loop, last = asyncio.get_running_loop(), None
    for family, type_, proto, _name, sockaddr in infos:
        sock = socket.socket(family, type_, proto)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, sockaddr)
            return await asyncio.open_connection(sock=sock)
        except OSError as e:
            sock.close()
            last = e
        except BaseException:  # a time-out cancels us: the socket must not leak
            sock.close()
            raise
    raise _Reject(502, f"cannot connect to {dest}: {getattr(last, 'strerror', None) or last}")


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
                                 label: str = "", guard: LocalGuard | None = DEFAULT_GUARD) -> None:
    """Serve one proxy client on a (reader, writer) byte-stream pair; never raises (except
    on cancellation), always closes both writers.

    ``CONNECT host:port`` opens a tunnel; an absolute-URI request (``GET http://h:p/x``,
    any method, body piped as is) is forwarded in origin form with ``Connection: close``.
    One request per client connection: the destination closes after its answer, and so
    do we. Errors answer text/plain 400/403/405/408/431/502/504. ``allow=None`` allows every
    destination that ``guard`` lets through; ``guard=None`` (tests whose servers all live on
    loopback) checks nothing more than ``allow``.
    """
    stats = stats if stats is not None else ProxyStats()
    stats.connections += 1
    stats.active += 1
    started, dest, outcome, level = time.monotonic(), "-", "ok", logging.DEBUG
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
                infos = await asyncio.wait_for(_resolve(host, port), connect_timeout)
            except asyncio.TimeoutError:
                raise _Reject(504, f"timed out resolving {host}") from None
            if guard is not None and (why := await guard.refusal(host, port, [i[4][0] for i in infos], allow)):
                raise _Refused(403, why)
            try:
                ur, uw = await asyncio.wait_for(_connect(infos, dest), connect_timeout)
            except asyncio.TimeoutError:
                raise _Reject(504, f"timed out connecting to {dest}") from None
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if first + rest:
                uw.write(first + rest)
                up(len(first + rest))
            await _relay(reader, writer, ur, uw, up, down, lambda: sum(counts))
        except _Reject as r:
            outcome = f"{r.status} {r.args[1]}"
            level = logging.INFO if isinstance(r, _Refused) else level
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
            # one line per connection; never the request head (it may carry Proxy-Authorization)
            log.log(level, "proxy %s %s: %s, %d bytes up, %d down, %.3f s", label or "-", dest, outcome,
                    counts[0], counts[1], time.monotonic() - started)
