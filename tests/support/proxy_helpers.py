"""Helpers shared by the reverse-forward and HTTP proxy tests."""
from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from collector.proxy import HostProxy

PAGE = b"hello through the tunnel\n"

# The status objects shown when a wait fails (a test puts its proxy's status here).
last_status: list = []


async def web_server() -> tuple[asyncio.AbstractServer, int]:
    """A tiny HTTP server on 127.0.0.1 (a free port) answering every request with PAGE."""
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(PAGE), PAGE))
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def until(what: str, check, timeout: float = 20.0) -> None:
    """Poll `check` every 50 ms until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s ({last_status})"
        await asyncio.sleep(0.05)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, valid for a day: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
           .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
           .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
           .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(crt.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def curl(*args: str) -> tuple[int, bytes, bytes]:
    """curl, without the environment's proxy settings; (exit code, stdout, stderr)."""
    exe = shutil.which("curl")
    assert exe, "curl is needed for this test: apt-get install curl"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    run = await asyncio.create_subprocess_exec(exe, "-sS", "--max-time", "10", *args, env=env,
                                               stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await run.communicate()
    return run.returncode, out, err


def builtin_proxy(inventory_file, listen: int, allow: list[str] | None = None) -> HostProxy:
    """A HostProxy with `target: builtin` on the test sshd's host (not started)."""
    from collector.backoff import Backoff
    from collector.proxy import HostProxy
    from collector.ssh_pool import HostConnection
    from inventory import load_inventory
    from inventory.models import ProxyConfig

    spec = load_inventory(inventory_file()).host("test-host")
    config = ProxyConfig(enabled=True, remote_listen=f"127.0.0.1:{listen}", target="builtin", allow=allow)
    return HostProxy("test-host", config, HostConnection(spec), backoff=Backoff(base=0.2, cap=1.0))
