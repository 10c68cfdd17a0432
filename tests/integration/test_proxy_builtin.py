"""The builtin target through a real sshd tunnel: https via CONNECT, and the inventory's allowlist.

As in test_proxy.py, "the host" and "the hub" share this machine's loopback:
curl runs here as a program on the host would, against the listener sshd
opened for the hub.
"""
from __future__ import annotations

import asyncio
import os
import ssl
from pathlib import Path


from tests.support.sshd import free_port
from tests.support.proxy_helpers import PAGE, self_signed
from tests.support.proxy_helpers import builtin_proxy as _builtin
from tests.support.proxy_helpers import curl as _curl
from tests.support.proxy_helpers import until as _until
from tests.support.proxy_helpers import web_server as _web_server

SECRET = b"served over TLS\n"


async def _tls_server(cert: Path, key: Path) -> tuple[asyncio.AbstractServer, int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    async def handle(reader, writer):
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (len(SECRET), SECRET))
            await writer.drain()
        finally:
            writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ctx)
    return server, server.sockets[0].getsockname()[1]


async def test_connect_through_the_tunnel_reaches_a_tls_server(inventory_file, tmp_path):
    cert, key = self_signed(tmp_path)
    server, tls_port = await _tls_server(cert, key)
    listen = free_port()
    proxy = _builtin(inventory_file, listen, allow=[f"localhost:{tls_port}"])  # loopback needs a rule naming it
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        rc, out, err = await _curl("--cacert", str(cert), "-x", f"http://127.0.0.1:{listen}",
                                   f"https://localhost:{tls_port}/secret")
        assert rc == 0 and out == SECRET, (rc, out, err)
        # the hub only relayed ciphertext: more bytes than the page went each way
        await _until("byte counts", lambda: proxy.status.bytes_out > len(SECRET) and proxy.status.bytes_in > 0)
    finally:
        await proxy.stop()
        server.close()


async def test_the_allowlist_from_the_inventory_refuses_other_destinations(inventory_file, tmp_path):
    allowed_server, allowed_port = await _web_server()
    other_server, other_port = await _web_server()
    cert, key = self_signed(tmp_path)
    tls_server, tls_port = await _tls_server(cert, key)
    listen = free_port()
    proxy = _builtin(inventory_file, listen, allow=[f"127.0.0.1:{allowed_port}"])
    via = ("-x", f"http://127.0.0.1:{listen}")
    try:
        proxy.start()
        await _until("proxy up", lambda: proxy.status.state == "up")
        rc, out, err = await _curl(*via, f"http://127.0.0.1:{allowed_port}/ok")
        assert rc == 0 and out == PAGE, (rc, out, err)

        rc, out, err = await _curl(*via, "-w", "%{http_code}", "-o", os.devnull, f"http://127.0.0.1:{other_port}/no")
        assert rc == 0 and out == b"403", (rc, out, err)
        rc, out, err = await _curl(*via, "--cacert", str(cert), f"https://localhost:{tls_port}/no")
        assert rc != 0 and b"403" in err, (rc, out, err)  # curl: CONNECT tunnel failed, response 403
    finally:
        await proxy.stop()
        for server in (allowed_server, other_server, tls_server):
            server.close()
