"""Nothing of a request is read before its sender is known, and bodies are capped (issue 14, item 3).

Against a real `fleetwatch serve`: before the fix an anonymous 200 MiB POST to
/api/servers was read and parsed (422, not 401) and the hub's RSS grew by
~400 MiB for good.
"""
from __future__ import annotations

import select
import socket
import time
from pathlib import Path

import pytest

from tests.support.hubproc import HubProcess, write_inventory

MIB = 1024 * 1024


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _post_stream(port: int, path: str, size: int, headers: dict[str, str], *, chunked: bool = False,
                 ) -> tuple[int, int]:
    """POST `size` bytes of JSON-looking junk, stopping as soon as the server answers; (status, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in {"Content-Type": "application/json", **headers}.items()]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    block, sent = b"[" + b"1," * (MIB // 2 - 1) + b"1", 0  # 1 MiB a block
    try:
        while sent < size:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered: it will not read the rest
            part = block[: min(len(block), size - sent)]
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            sent += len(part)
        if chunked and sent >= size:
            sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused and closed while we were still sending
    sock.settimeout(30)
    head = b""
    while b"\r\n" not in head:
        more = sock.recv(4096)
        if not more:
            break
        head += more
    sock.close()
    assert head.startswith(b"HTTP/1.1 "), head[:200]
    return int(head.split()[1]), sent


@pytest.fixture
def hub(tmp_path):
    hub = HubProcess(write_inventory(tmp_path / "hosts.yaml", []), tmp_path / "limits.db").start()
    yield hub
    hub.stop()


def test_anonymous_200_mib_post_is_refused_before_its_body_is_read(hub):
    before = _rss_mib(hub.proc.pid)
    status, sent = _post_stream(hub.port, "/api/servers", 200 * MIB, {})
    time.sleep(0.5)
    grown = _rss_mib(hub.proc.pid) - before
    assert status == 401, f"answered {status} after reading {sent / MIB:.0f} MiB"
    assert sent < 200 * MIB, "the hub answered before the whole body was sent"
    assert grown < 30, f"RSS grew by {grown:.0f} MiB"


def test_bodies_over_one_mib_get_413_and_smaller_ones_are_read(hub):
    auth = {"Authorization": f"Bearer {hub.token}"}
    assert _post_stream(hub.port, "/api/servers", 2 * MIB, auth)[0] == 413  # Content-Length says so
    assert _post_stream(hub.port, "/api/servers", 2 * MIB, auth, chunked=True)[0] == 413  # counted as it comes
    assert _post_stream(hub.port, "/api/servers", MIB - 1, auth)[0] == 422  # read, and not a host
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert _post_stream(hub.port, "/login", 2 * MIB, form)[0] == 413
    assert "Traceback" not in hub.log()
