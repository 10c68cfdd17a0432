"""Reverse forward over the polling connection (issue 6), against a real sshd on 127.0.0.1.

The sshd and the hub share this machine, so "on the host" and "on the hub"
are the same loopback: the listener sshd opens for the hub is reached at
127.0.0.1:<remote port>, and the target runs on 127.0.0.1 as well.
"""
from __future__ import annotations

import asyncio
import socket

import pytest

from collector.backoff import Backoff
from collector.proxy import HostProxy
from collector.ssh_pool import HostConnection
from inventory import load_inventory
from inventory.models import ProxyConfig
from tests.support.proxy_helpers import PAGE
from tests.support.proxy_helpers import last_status as _last_status
from tests.support.proxy_helpers import until as _until
from tests.support.proxy_helpers import web_server as _web_server
from tests.support.sshd import free_port


async def _get(port: int) -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout=5)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    await writer.drain()
    body = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    return body


def _proxy(inventory_file, listen_port: int, target: str, changes: list | None = None,
           allow: list[str] | None = None) -> HostProxy:
    spec = load_inventory(inventory_file()).host("test-host")
    config = ProxyConfig(enabled=True, remote_listen=f"127.0.0.1:{listen_port}", target=target, allow=allow)
    on_change = (lambda host, status, previous: changes.append((previous, status.state))) if changes is not None else None
    proxy = HostProxy("test-host", config, HostConnection(spec), on_change=on_change,
                      backoff=Backoff(base=0.2, cap=1.0))
    _last_status[:] = [proxy.status]  # shown when a wait fails
    return proxy


async def test_a_host_reaches_the_target_through_the_tunnel(inventory_file):
    server, target_port = await _web_server()
    listen = free_port()
    changes: list = []
    proxy = _proxy(inventory_file, listen, f"127.0.0.1:{target_port}", changes)
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        assert proxy.status.connected_since is not None and proxy.status.error_code is None
        body = await _get(listen)
        assert body.endswith(PAGE)
        assert proxy.status.connections == 1 and proxy.status.bytes_in > 0 and proxy.status.bytes_out >= len(PAGE)
    finally:
        await proxy.stop()
        server.close()
    assert proxy.status.state == "stopped"
    with pytest.raises(OSError):  # stop waited for sshd to release the port
        await _get(listen)
    assert ("starting", "up") in changes and changes[-1] == ("up", "stopped")


async def test_the_listener_comes_back_after_the_connection_dies(inventory_file):
    server, target_port = await _web_server()
    listen = free_port()
    proxy = _proxy(inventory_file, listen, f"127.0.0.1:{target_port}")
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        first = proxy.conn.connects
        proxy.conn._conn.abort()  # the connection drops (as when the network path dies)
        await _until("proxy noticed", lambda: proxy.status.retry_count >= 1)
        assert "connection was lost" in proxy.status.last_error
        await _until("proxy up again", lambda: proxy.status.state == "up" and proxy.conn.connects > first)
        assert (await _get(listen)).endswith(PAGE)
    finally:
        await proxy.stop()
        server.close()


async def test_port_in_use_is_retried_until_it_frees(inventory_file):
    server, target_port = await _web_server()
    listen = free_port()
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", listen))
    squatter.listen()
    proxy = _proxy(inventory_file, listen, f"127.0.0.1:{target_port}")
    try:
        proxy.start()
        await _until("retrying", lambda: proxy.status.state == "retrying" and proxy.status.retry_count >= 2)
        assert proxy.status.error_code == "PORT_IN_USE" and str(listen) in proxy.status.last_error
        squatter.close()
        await _until("up once the port is free", lambda: proxy.status.state == "up", timeout=5)
        assert (await _get(listen)).endswith(PAGE)
    finally:
        squatter.close()
        await proxy.stop()
        server.close()


async def test_unreachable_target_is_reported(inventory_file):
    listen = free_port()
    proxy = _proxy(inventory_file, listen, f"127.0.0.1:{free_port()}")
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        await _get(listen)  # the host's client sees the connection closed
        await _until("reported", lambda: proxy.status.error_code == "TARGET_UNREACHABLE")
        assert "cannot reach the target" in proxy.status.last_error
    finally:
        await proxy.stop()


async def test_a_host_that_cannot_be_reached_is_retried(inventory_file):
    listen = free_port()
    spec_file = inventory_file(port=free_port())
    spec = load_inventory(spec_file).host("test-host")
    proxy = HostProxy("test-host", ProxyConfig(enabled=True, remote_listen=f"127.0.0.1:{listen}"),
                      HostConnection(spec, backoff=Backoff(base=0.1, cap=0.2)), backoff=Backoff(base=0.1, cap=0.2))
    try:
        proxy.start()
        await _until("retrying", lambda: proxy.status.retry_count >= 2)
        assert proxy.status.state == "retrying" and proxy.status.error_code == "NETWORK_UNREACHABLE"
    finally:
        await proxy.stop()


async def test_builtin_target_serves_curl_on_the_host_through_the_hub(inventory_file):
    """SPEC §4 acceptance: on the host, `curl -x http://127.0.0.1:<listen> http://URL` goes through the hub."""
    import os
    import shutil

    curl = shutil.which("curl")
    assert curl, "curl is needed for this test: apt-get install curl"
    server, web_port = await _web_server()
    listen = free_port()
    proxy = _proxy(inventory_file, listen, "builtin", allow=[f"127.0.0.1:{web_port}"])  # loopback needs a rule
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        run = await asyncio.create_subprocess_exec(
            curl, "-s", "--max-time", "10", "-x", f"http://127.0.0.1:{listen}", f"http://127.0.0.1:{web_port}/page",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
        out, err = await run.communicate()
        assert run.returncode == 0 and out == PAGE, (run.returncode, out, err)
        await _until("byte counts", lambda: proxy.status.bytes_out >= len(PAGE))
        assert proxy.status.connections == 1
    finally:
        await proxy.stop()
        server.close()
