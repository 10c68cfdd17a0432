"""Host key trust: known_hosts files and keys pinned in the inventory.

Verification is never switched off: a host whose key is not in known_hosts
(or does not equal the pinned key) is refused, and `fleetwatch hosts trust`
is the explicit way to add it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import asyncssh

from inventory import HostSpec


def known_hosts_pattern(address: str, port: int) -> str:
    """The known_hosts host field OpenSSH uses for this address and port."""
    return address if port == 22 else f"[{address}]:{port}"


def trusted_keys(spec: HostSpec) -> Any:
    """What asyncssh should trust for this host (its `known_hosts` argument)."""
    if spec.host_key:
        return ([asyncssh.import_public_key(spec.host_key)], [], [])
    path = Path(spec.known_hosts)
    if path.is_file():
        return asyncssh.read_known_hosts(str(path))
    return asyncssh.import_known_hosts("")  # no file: nothing is trusted


def known_keys(spec: HostSpec, addr: str | None = None) -> list[asyncssh.SSHKey]:
    """Keys on record for this host (pinned or in known_hosts); empty if none."""
    trusted = trusted_keys(spec)
    if isinstance(trusted, tuple):
        return list(trusted[0])
    # as asyncssh does when it connects: port 22 is looked up as the bare address only
    keys = trusted.match(spec.address, addr or spec.address, None if spec.port == 22 else spec.port)[0]
    return list({fingerprint(k): k for k in keys}.values())  # a line can match by name and by address


def fingerprint(key: asyncssh.SSHKey) -> str:
    """SHA256 fingerprint as OpenSSH prints it."""
    return key.get_fingerprint("sha256")


def public_key_line(key: asyncssh.SSHKey) -> str:
    """'ssh-ed25519 AAAA...' without comment."""
    fields = key.export_public_key("openssh").decode("ascii").split()
    return " ".join(fields[:2])


async def fetch_host_key(address: str, port: int, timeout: float) -> asyncssh.SSHKey:
    """Ask the server for its host key (no login, nothing trusted yet)."""
    key = await asyncssh.get_server_host_key(
        address, port, config=None, options=asyncssh.SSHClientConnectionOptions(connect_timeout=timeout)
    )
    if key is None:
        raise ValueError(f"{address}:{port} presented no host key")
    return key


def _line_matches(line: str, address: str, port: int) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return False
    try:
        entry = asyncssh.import_known_hosts(stripped + "\n")
    except (ValueError, asyncssh.KeyImportError):
        return False
    return bool(entry.match(address, address, port)[0])


def pin_host_key(path: Path, address: str, port: int, key: asyncssh.SSHKey, *, replace: bool = False) -> None:
    """Add the key to a known_hosts file; with replace, drop other keys of this host first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
    if replace:
        lines = [ln for ln in lines if not _line_matches(ln, address, port)]
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.append(f"{known_hosts_pattern(address, port)} {public_key_line(key)}\n")
    tmp = path.with_name(path.name + ".fleetwatch-tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    if os.name == "posix":
        tmp.chmod(0o600)
    os.replace(tmp, path)  # atomic: a crash never leaves half a known_hosts
