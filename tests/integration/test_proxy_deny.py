"""The builtin proxy refuses the hub's own loopback, link-local addresses and its web port (issue 14, item 6).

As in test_proxy_builtin.py, "the host" and "the hub" share this machine: a program on the
host (curl, a raw socket) reaches the listener sshd opened for the hub, and its CONNECT is
served by the hub's builtin proxy. Every destination is on 127.0.0.0/8, or is refused
before any connection is made.
"""
from __future__ import annotations

import asyncio
import logging

import pytest

from collector import http_proxy
from collector.http_proxy import LocalGuard, ProxyStats, parse_allowlist, serve_proxy_connection
from collector.hub import Hub, HubOptions
from tests.support.proxy_helpers import PAGE
from tests.support.proxy_helpers import builtin_proxy as _builtin
from tests.support.proxy_helpers import curl as _curl
from tests.support.proxy_helpers import until as _until
from tests.support.sshd import free_port

LOOPBACK_MSG = b"is the hub's own loopback: forwarded hosts may not reach it unless proxy.allow names it"


class CountingServer:
    """An HTTP server on 127.0.0.1 that answers PAGE and counts the connections it gets."""

    def __init__(self) -> None:
        self.connections = 0

    async def start(self) -> "CountingServer":
        async def handle(reader, writer):
            self.connections += 1
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                             % (len(PAGE), PAGE))
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()
        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def close(self) -> None:
        self.server.close()


async def _ask(port: int, request: str) -> bytes:
    """Send one request to the listener on the "host" and read the whole answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request.encode())
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def test_a_host_cannot_connect_to_the_hubs_loopback_without_allow(inventory_file):
    web = await CountingServer().start()
    listen = free_port()
    proxy = _builtin(inventory_file, listen)
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        answer = await _ask(listen, f"CONNECT 127.0.0.1:{web.port} HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 403 "), answer
        assert (b"127.0.0.1 is the hub's own loopback: forwarded hosts may not reach it unless proxy.allow names it"
                in answer), answer
        assert web.connections == 0
    finally:
        await proxy.stop()
        web.close()


async def test_names_resolving_to_loopback_are_refused_too(inventory_file):
    """`localhost` and other spellings of 127.0.0.1 are judged by the address they resolve to."""
    web = await CountingServer().start()
    listen = free_port()
    proxy = _builtin(inventory_file, listen)
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        rc, out, err = await _curl("-x", f"http://127.0.0.1:{listen}", f"http://localhost:{web.port}/")
        assert rc == 0 and b"localhost (127.0.0.1) " + LOOPBACK_MSG in out, (rc, out, err)
        for spelling in ("127.1", "2130706433", "0x7f.0.0.1", "LocalHost"):
            answer = await _ask(listen, f"CONNECT {spelling}:{web.port} HTTP/1.1\r\n\r\n")
            assert status_of(answer) == 403 and LOOPBACK_MSG in answer, (spelling, answer)
        assert web.connections == 0
    finally:
        await proxy.stop()
        web.close()


async def test_an_explicit_rule_opens_exactly_that_loopback_destination(inventory_file):
    web, other = await CountingServer().start(), await CountingServer().start()
    listen = free_port()
    proxy = _builtin(inventory_file, listen, allow=[f"localhost:{web.port}", f"127.0.0.1:{other.port}"])
    via = ("-x", f"http://127.0.0.1:{listen}")
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        rc, out, err = await _curl(*via, f"http://localhost:{web.port}/")
        assert rc == 0 and out == PAGE, (rc, out, err)
        answer = await _ask(listen, f"CONNECT 127.0.0.1:{other.port} HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK") and \
            answer.endswith(PAGE), answer
        # the rule names a host as the client writes it: the other spelling of the same server is refused
        answer = await _ask(listen, f"CONNECT 127.0.0.1:{web.port} HTTP/1.1\r\n\r\n")
        assert status_of(answer) == 403 and b"not allowed" in answer, answer
        assert (web.connections, other.connections) == (1, 1)
    finally:
        await proxy.stop()
        web.close()
        other.close()


@pytest.mark.parametrize("rules", [["*"], ["*:{port}"], ["127.0.0.*"], ["127.0.0.[0-9]:{port}"], ["localhost*:*"]])
async def test_wildcard_rules_never_open_loopback(rules):
    web = await CountingServer().start()
    allow = parse_allowlist([r.format(port=web.port) for r in rules])
    matched = [h for h in ("127.0.0.1", "localhost") if allow.allows(h, web.port)]
    assert matched  # the wildcard rule itself lets the destination past the allowlist
    server = await asyncio.start_server(lambda r, w: serve_proxy_connection(r, w, allow=allow), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        for host in matched:
            answer = await _ask(port, f"CONNECT {host}:{web.port} HTTP/1.1\r\n\r\n")
            assert status_of(answer) == 403 and LOOPBACK_MSG in answer, answer
        assert web.connections == 0
    finally:
        server.close()
        web.close()


@pytest.mark.parametrize("target, words", [
    ("[::1]:{port}", "::1 is the hub's own loopback"),
    ("[::ffff:127.0.0.1]:{port}", "is the hub's own loopback"),
    ("127.200.0.9:{port}", "127.200.0.9 is the hub's own loopback"),
    ("169.254.169.254:80", "169.254.169.254 is a link-local address"),
    ("[fe80::1]:80", "fe80::1 is a link-local address"),
    ("[::ffff:169.254.169.254]:80", "is a link-local address"),
    ("0.0.0.0:{port}", "0.0.0.0 is the unspecified address"),
    ("[::]:{port}", ":: is the unspecified address"),
    ("0:{port}", "the unspecified address"),
])
@pytest.mark.parametrize("form", ["connect", "absolute"])
async def test_loopback_link_local_and_unspecified_are_refused_before_connecting(target, words, form):
    web = await CountingServer().start()
    stats = ProxyStats()
    server = await asyncio.start_server(lambda r, w: serve_proxy_connection(r, w, stats=stats), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    dest = target.format(port=web.port)
    request = f"CONNECT {dest} HTTP/1.1\r\n\r\n" if form == "connect" else f"GET http://{dest}/ HTTP/1.1\r\n\r\n"
    try:
        answer = await _ask(port, request)
        assert status_of(answer) == 403 and words.encode() in answer, answer
        assert f'add "{dest}" to allow'.encode() in answer and answer.count(b"\n") == 6, answer  # one line
        assert web.connections == 0 and stats.bytes_up == 0
    finally:
        server.close()
        web.close()


async def test_the_hubs_web_port_needs_a_rule_with_that_port(sshd, inventory_file, tmp_path):
    """Through the hub itself: `serve --listen` gives HubOptions.listen, which reaches the builtin proxy."""
    from schema.db import make_engine
    from schema.migrate import upgrade

    web, other = await CountingServer().start(), await CountingServer().start()  # web stands in for the UI
    listen = free_port()
    proxy_cfg = {"enabled": True, "remote_listen": f"127.0.0.1:{listen}", "target": "builtin",
                 "allow": ["127.0.0.1", "localhost:*"]}
    inventory = inventory_file(proxy=proxy_cfg)
    db_url = f"sqlite:///{tmp_path / 'hub.db'}"
    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    hub = Hub(inventory, engine, HubOptions(backup_every_s=0, inventory_check_s=0.2, listen=("0.0.0.0", web.port)))
    await hub.start()
    try:
        await _until("proxy up", lambda: (p := hub.proxies.get("test-host")) is not None and p.status.state == "up")
        for host in ("127.0.0.1", "localhost"):
            answer = await _ask(listen, f"CONNECT {host}:{web.port} HTTP/1.1\r\n\r\n")
            assert status_of(answer) == 403 and b"is the hub's own web port" in answer, answer
            assert f'names it with its port (add "{host}:{web.port}" to allow)'.encode() in answer, answer
        # the same host-only rule opens the hub's other loopback ports
        answer = await _ask(listen, f"GET http://127.0.0.1:{other.port}/ HTTP/1.1\r\n\r\n")
        assert status_of(answer) == 200 and answer.endswith(PAGE), answer
        assert web.connections == 0 and other.connections == 1

        text = inventory.read_text().replace("- localhost:*", f"- localhost:{web.port}")
        inventory.write_text(text)
        await _until("inventory reloaded", lambda: (p := hub.proxies.get("test-host")) is not None
                     and p.config.allow == ("127.0.0.1", f"localhost:{web.port}") and p.status.state == "up")
        answer = await _ask(listen, f"GET http://localhost:{web.port}/ HTTP/1.1\r\n\r\n")
        assert status_of(answer) == 200 and web.connections == 1, answer
    finally:
        await hub.stop()
        engine.dispose()
        web.close()
        other.close()


async def test_this_machines_own_addresses_are_refused_on_the_web_port():
    """With `--listen 0.0.0.0:PORT` the UI answers on every address of the machine, not only loopback."""
    import socket

    guard = LocalGuard(hub_listen=("0.0.0.0", 8080))
    own = await guard.own_addresses()
    names = {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    assert names and names <= own and "0.0.0.0" in own
    assert guard._own is own and await guard.own_addresses() is own  # resolved once
    for address in sorted(names):
        why = await guard.refusal(address, 8080, [address], parse_allowlist(["*", address]))
        assert why and "is the hub's own web port" in why, (address, why)
        assert await guard.refusal(address, 8080, [address], parse_allowlist([f"[{address}]:8080" if ":" in address
                                                                              else f"{address}:8080"])) is None
    # another port of the same address is not the hub's business when a rule names the host
    some = sorted(names)[0]
    assert await guard.refusal(some, 8081, [some], parse_allowlist([some])) is None


async def test_a_refusal_is_logged_once_at_info_without_the_request_head(caplog):
    web = await CountingServer().start()
    server = await asyncio.start_server(lambda r, w: serve_proxy_connection(r, w, label="gpu-01"), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with caplog.at_level(logging.INFO, logger=http_proxy.log.name):
            answer = await _ask(port, f"CONNECT 127.0.0.1:{web.port} HTTP/1.1\r\n"
                                      "Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n\r\n")
            for _ in range(100):
                if caplog.records:
                    break
                await asyncio.sleep(0.01)
        assert status_of(answer) == 403
        lines = [r for r in caplog.records if r.name == http_proxy.log.name]
        assert len(lines) == 1 and lines[0].levelno == logging.INFO, [r.getMessage() for r in lines]
        text = lines[0].getMessage()
        assert f"gpu-01 127.0.0.1:{web.port}: 403 127.0.0.1 is the hub's own loopback" in text
        assert "c2VjcmV0" not in text and "Proxy-Authorization" not in text
    finally:
        server.close()
        web.close()


def test_allowlist_names_only_explicit_hosts():
    allow = parse_allowlist(["localhost:7000", "127.0.0.1", "[::1]:*", "*:80", "127.0.0.*", "*.corp:443"])
    assert allow.names("localhost", 7000) and allow.names("LOCALHOST.", 7000) and not allow.names("localhost", 7001)
    assert allow.names("127.0.0.1", 5) and not allow.names("127.0.0.1", 5, exact_port=True)
    assert allow.names("localhost", 7000, exact_port=True) and allow.names("[::1]", 9)
    assert not allow.names("127.0.0.2", 80) and not allow.names("x.corp", 443) and not allow.names("h", 80)
