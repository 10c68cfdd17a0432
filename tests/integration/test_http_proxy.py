"""The built-in HTTP proxy (collector/http_proxy.py) over real sockets on 127.0.0.1.

The proxy is served by asyncio.start_server: the same (reader, writer) streams API as
the SSH channels of a reverse forward. Targets are local HTTP, HTTPS and echo servers
that count their connections; curl is the real client where it matters.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import ssl

import pytest

from collector import http_proxy
from collector.http_proxy import Allowlist, ProxyStats, parse_allowlist, serve_proxy_connection
from tests.support.proxy_helpers import self_signed

def _curl() -> str:
    path = shutil.which("curl")
    if not path:
        pytest.fail("curl is missing: install the Debian package 'curl' (apt-get install curl)")
    return path


class Target:
    """A tiny HTTP/1.1 server (optionally TLS) counting connections and keeping each request."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body)
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self, ssl_ctx: ssl.SSLContext | None = None) -> Target:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ssl_ctx)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next((int(l.split(":", 1)[1]) for l in lines if l.lower().startswith("content-length:")), 0)
            body = await reader.readexactly(length)
            self.requests.append((head, body))
            path = lines[0].split(" ")[1]
            out = body if path == "/echo" else b"hello from " + path.encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(out) + out)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        assert self.server is not None
        self.server.close()


class Proxy:
    def __init__(self, **kw) -> None:
        self.stats = ProxyStats()
        # every target here is on loopback, which the default LocalGuard refuses (tests/integration/test_proxy_deny.py);
        # these tests are about HTTP, so the allowlist alone decides
        self.kw = {"guard": None, **kw}

    async def start(self) -> Proxy:
        self.server = await asyncio.start_server(
            lambda r, w: serve_proxy_connection(r, w, stats=self.stats, label="test", **self.kw), "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def idle(self) -> None:
        """Wait until every handler has finished (its byte counts are final)."""
        for _ in range(200):
            if self.stats.active == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"proxy still has {self.stats.active} active connections")

    async def stop(self) -> None:
        """Stop accepting, and check that every handler ended by itself (none left hanging)."""
        self.server.close()
        await self.idle()


async def raw(port: int, data: bytes) -> bytes:
    """Send data to the proxy and read its whole answer (it closes after one request)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(data)  # not drained on purpose: a huge head is sent while we read the answer
    out = await asyncio.wait_for(r.read(), 10)
    w.close()
    return out


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def body(answer: bytes) -> bytes:
    return answer.partition(b"\r\n\r\n")[2]


async def run_curl(*args: str) -> bytes:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    proc = await asyncio.create_subprocess_exec(_curl(), "-sS", "--max-time", "10", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out


@pytest.fixture
async def target():
    t = await Target().start()
    yield t
    t.close()


@pytest.fixture
async def proxy():
    p = await Proxy().start()
    yield p
    await p.stop()


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert.pem, key.pem)."""
    cert_path, key_path = self_signed(tmp_path_factory.mktemp("tls"))
    return str(cert_path), str(key_path)


async def test_get_through_proxy_rewrites_to_origin_form(target, proxy):
    ans = await raw(proxy.port, f"GET http://127.0.0.1:{target.port}/hello?x=1 HTTP/1.1\r\nHost: wrong\r\n"
                                "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\n"
                                "Connection: keep-alive, X-Drop\r\nX-Drop: 1\r\nX-Keep: 2\r\n\r\n".encode())
    assert status(ans) == 200 and body(ans) == b"hello from /hello?x=1"
    head = target.requests[0][0].decode()
    lines = head.split("\r\n")
    assert lines[0] == "GET /hello?x=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{target.port}" in lines and "X-Keep: 2" in lines and "Connection: close" in lines
    for gone in ("Proxy-Connection", "Proxy-Authorization", "X-Drop", "keep-alive", "Host: wrong"):
        assert gone not in head


async def test_post_body_arrives_intact_and_stats_count_bytes(target, proxy):
    payload = os.urandom(300 * 1024)
    ans = await raw(proxy.port, f"POST http://127.0.0.1:{target.port}/echo HTTP/1.1\r\nHost: x\r\n"
                                f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    assert status(ans) == 200 and body(ans) == payload
    assert target.requests[0][1] == payload
    await proxy.idle()
    s = proxy.stats
    assert (s.connections, s.active, s.errors) == (1, 0, 0)
    assert len(payload) < s.bytes_up < len(payload) + 1024
    assert len(payload) < s.bytes_down < len(payload) + 1024


async def test_curl_http_and_post(target, proxy):
    assert await run_curl("-x", f"http://127.0.0.1:{proxy.port}", f"http://127.0.0.1:{target.port}/hello") \
        == b"hello from /hello"
    out = await run_curl("-x", f"http://127.0.0.1:{proxy.port}", "--data-binary", "a=1&b=two",
                         f"http://127.0.0.1:{target.port}/echo")
    assert out == b"a=1&b=two" and target.requests[1][1] == b"a=1&b=two"
    await proxy.idle()
    assert proxy.stats.connections == 2 and target.connections == 2


async def test_connect_tunnel_tls_verified(cert, proxy):
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*cert)
    tls = await Target().start(server_ctx)
    try:
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        w.write(f"CONNECT localhost:{tls.port} HTTP/1.1\r\nHost: localhost:{tls.port}\r\n\r\n".encode())
        assert await r.readuntil(b"\r\n\r\n") == b"HTTP/1.1 200 Connection established\r\n\r\n"
        client_ctx = ssl.create_default_context(cafile=cert[0])  # verifies chain and hostname
        await w.start_tls(client_ctx, server_hostname="localhost")
        w.write(b"GET /secret HTTP/1.1\r\nHost: localhost\r\n\r\n")
        ans = await asyncio.wait_for(r.read(), 10)
        w.close()
        assert status(ans) == 200 and body(ans) == b"hello from /secret"

        out = await run_curl("-x", f"http://127.0.0.1:{proxy.port}", "--cacert", cert[0],
                             f"https://localhost:{tls.port}/curl")
        assert out == b"hello from /curl" and tls.connections == 2
        await proxy.idle()
        assert proxy.stats.bytes_down > 2 * len(b"hello from /curl") and proxy.stats.errors == 0
    finally:
        tls.close()


async def test_connect_half_close(proxy):
    """Client sends, shuts down its side, and still gets everything the target answers."""
    async def echo(r, w):
        w.write(await r.read())  # until the client's EOF arrives through the proxy
        await w.drain()
        w.close()
    srv = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        w.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode() + b"x" * 50_000)
        w.write_eof()
        ans = await asyncio.wait_for(r.read(), 10)
        w.close()
        assert ans == b"HTTP/1.1 200 Connection established\r\n\r\n" + b"x" * 50_000
    finally:
        srv.close()


async def test_allowlist_blocks_without_connecting(target):
    p = await Proxy(allow=parse_allowlist([f"127.0.0.1:{target.port}", "*.example.com"])).start()
    try:
        ans = await raw(p.port, f"GET http://127.0.0.1:{target.port}/ok HTTP/1.1\r\n\r\n".encode())
        assert status(ans) == 200 and target.connections == 1
        for req in (f"GET http://localhost:{target.port}/no HTTP/1.1\r\n\r\n",   # same server, other name
                    f"CONNECT 127.0.0.1:{target.port + 1} HTTP/1.1\r\n\r\n",     # other port
                    f"CONNECT localhost:{target.port} HTTP/1.1\r\n\r\n"):
            ans = await raw(p.port, req.encode())
            assert status(ans) == 403 and b"not allowed" in body(ans)
        await asyncio.sleep(0.05)
        assert target.connections == 1
        await p.idle()
        assert p.stats.errors == 3
    finally:
        await p.stop()


async def test_empty_allowlist_allows_nothing(target):
    p = await Proxy(allow=parse_allowlist([])).start()
    try:
        ans = await raw(p.port, f"GET http://127.0.0.1:{target.port}/ HTTP/1.1\r\n\r\n".encode())
        assert status(ans) == 403 and target.connections == 0
    finally:
        await p.stop()


async def test_errors_then_keeps_serving(target, proxy):
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    dead_port = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    cases = [
        (f"GET http://127.0.0.1:{dead_port}/ HTTP/1.1\r\n\r\n".encode(), 502),
        (f"CONNECT 127.0.0.1:{dead_port} HTTP/1.1\r\n\r\n".encode(), 502),
        (b"\x00\x01\x02 garbage\r\n\r\n", 400),
        (b"GET http://127.0.0.1/ HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"CONNECT 127.0.0.1 HTTP/1.1\r\n\r\n", 400),                       # no port
        (b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405),             # origin form
        (f"GET http://127.0.0.1:{target.port}/ HTTP/1.1\r\nX-Big: ".encode() + b"a" * 100 * 1024 + b"\r\n\r\n", 431),
    ]
    for req, code in cases:
        ans = await raw(proxy.port, req)
        assert status(ans) == code, (req[:60], ans)
        assert b"Content-Type: text/plain" in ans and b"Connection: close" in ans
    assert target.connections == 0
    ans = await raw(proxy.port, f"GET http://127.0.0.1:{target.port}/still HTTP/1.1\r\n\r\n".encode())
    assert status(ans) == 200 and body(ans) == b"hello from /still"
    await proxy.idle()
    assert proxy.stats.errors == len(cases) and proxy.stats.connections == len(cases) + 1


async def test_connect_timeout_gives_504(target):
    p = await Proxy(connect_timeout=1e-9).start()  # no connect can finish within that
    try:
        ans = await raw(p.port, f"CONNECT 127.0.0.1:{target.port} HTTP/1.1\r\n\r\n".encode())
        assert status(ans) == 504
    finally:
        await p.stop()


async def test_slow_client_gets_408(proxy, monkeypatch):
    monkeypatch.setattr(http_proxy, "HEAD_TIMEOUT", 0.2)
    r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
    w.write(b"GET http://127.0.0.1/ HTTP/1.1\r\nX: never ends")
    ans = await asyncio.wait_for(r.read(), 5)
    w.close()
    assert status(ans) == 408


async def test_client_gone_before_request_is_quiet(proxy):
    r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
    w.close()
    await proxy.idle()
    assert proxy.stats.connections == 1 and proxy.stats.errors == 0


@pytest.mark.parametrize("items, host, port, ok", [
    (["example.com:443"], "example.com", 443, True),
    (["example.com:443"], "example.com", 80, False),
    (["EXAMPLE.com"], "example.COM.", 8443, True),
    (["*.example.com"], "a.b.example.com", 443, True),
    (["*.example.com"], "example.com", 443, False),
    (["10.0.0.5"], "10.0.0.5", 22, True),
    (["10.0.0.*:80"], "10.0.0.9", 80, True),
    (["*:80"], "anything.org", 80, True),
    (["*:80"], "anything.org", 443, False),
    (["[::1]:443"], "::1", 443, True),
    (["::1"], "[::1]", 8080, True),
    (["host:*"], "host", 1, True),
], ids=lambda v: str(v))
def test_parse_allowlist_valid(items, host, port, ok):
    assert parse_allowlist(items).allows(host, port) is ok


def test_parse_allowlist_empty():
    a = parse_allowlist([])
    assert a == Allowlist() and not a.allows("127.0.0.1", 80)


@pytest.mark.parametrize("items, words", [
    ([""], "empty"),
    (["   "], "empty"),
    (["example.com:0"], "1-65535"),
    (["example.com:99999"], "1-65535"),
    (["example.com:http"], "1-65535"),
    ([":443"], "missing host"),
    (["http://example.com"], "no scheme"),
    (["example.com/path"], "no scheme"),
    (["two words"], "no scheme"),
    (["[::1"], "IPv6"),
    ([443], "expected a string"),
    ("example.com", "list of strings"),
], ids=lambda v: str(v))
def test_parse_allowlist_malformed(items, words):
    with pytest.raises(ValueError, match=words):
        parse_allowlist(items)


async def test_over_asyncssh_reverse_forward(target):
    """The real use: an asyncssh remote listener whose channels (SSHReader/SSHWriter,
    encoding=None) are served by the proxy; curl, a 431 and a half-closed CONNECT go through."""
    import asyncssh

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return False  # in-process test server on loopback: no auth

        def server_requested(self, listen_host: str, listen_port: int) -> bool:
            return True

    stats = ProxyStats()
    sshd = await asyncssh.listen("127.0.0.1", 0, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
                                 server_factory=Server)
    try:
        async with asyncssh.connect("127.0.0.1", sshd.sockets[0].getsockname()[1], known_hosts=None,
                                    username="hub", client_keys=None) as conn:
            listener = await conn.start_server(
                lambda orig_host, orig_port: (lambda r, w: serve_proxy_connection(
                    r, w, stats=stats, label="ssh", allow=parse_allowlist([f"127.0.0.1:{target.port}"]))),
                "127.0.0.1", 0, encoding=None)
            lport = listener.get_port()
            assert await run_curl("-x", f"http://127.0.0.1:{lport}", f"http://127.0.0.1:{target.port}/ssh") \
                == b"hello from /ssh"
            ans = await raw(lport, f"GET http://127.0.0.1:{target.port}/ HTTP/1.1\r\nX: ".encode() + b"a" * 100_000)
            assert status(ans) == 431
            r, w = await asyncio.open_connection("127.0.0.1", lport)
            w.write(f"CONNECT 127.0.0.1:{target.port} HTTP/1.1\r\n\r\nGET /tunnel HTTP/1.1\r\n\r\n".encode())
            w.write_eof()
            ans = await asyncio.wait_for(r.read(), 10)
            w.close()
            assert ans.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK")
            assert ans.endswith(b"hello from /tunnel")
            for _ in range(200):
                if stats.active == 0:
                    break
                await asyncio.sleep(0.01)
            assert (stats.connections, stats.active, stats.errors) == (3, 0, 1) and target.connections == 2
    finally:
        sshd.close()
