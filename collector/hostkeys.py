"""Host key trust: known_hosts files and keys pinned in the inventory.

Verification is never switched off: a host whose key is not in known_hosts
(or does not equal the pinned key) is refused, and `fleetwatch hosts trust`
is the explicit way to add it.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh

from collector.parsed_files import ParsedFiles
from inventory import HostSpec
from schema.atomic_file import atomic_write

__all__ = ["KNOWN_HOSTS", "KnownHostsError", "fetch_host_key", "fingerprint", "known_hosts_pattern", "known_keys",
           "pin_host_key", "public_key_line", "read_known_hosts", "trusted_keys"]


class KnownHostsError(ValueError):
    """A known_hosts file (or pinned key) that cannot be used.

    The message names the file and the line number, never what the line holds: asyncssh's own
    errors quote the line ("Invalid known hosts entry: SECRET=..."), and a known_hosts pointed at
    /proc/self/environ or a private key would put that text into last_error, events kept for two
    years and the log (issue 14, item 4).
    """


def _not_known_hosts(path: Path, line: int) -> KnownHostsError:
    return KnownHostsError(f"known_hosts {path} is not a known_hosts file: line {line} is not "
                           "`host keytype key`; point known_hosts at an OpenSSH known_hosts file")


def read_known_hosts(path: Path) -> asyncssh.SSHKnownHosts:
    """Parse a known_hosts file; a missing file trusts nothing. Raises KnownHostsError.

    Parsed one line at a time (same result as asyncssh.read_known_hosts: it splits the same
    way) so that an error can name the line without quoting it.
    """
    path = Path(path)
    if not path.exists():
        return asyncssh.SSHKnownHosts()
    if not path.is_file():  # a FIFO or /dev/zero would block or never end
        raise KnownHostsError(f"known_hosts {path} is not a regular file; point known_hosts at an "
                              "OpenSSH known_hosts file")
    try:
        raw = path.read_bytes()
    except OSError as exc:  # strerror only: never the exception's repr
        raise KnownHostsError(f"cannot read known_hosts {path}: {exc.strerror or type(exc).__name__}; "
                              "check the file's permissions for the hub's user") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:  # its repr holds the whole input
        raise _not_known_hosts(path, raw.count(b"\n", 0, exc.start) + 1) from None
    known = asyncssh.SSHKnownHosts()
    for number, line in enumerate(text.splitlines(), 1):
        try:
            known.load(line)
        except Exception:  # any parse error of asyncssh's may quote the line: drop its text
            raise _not_known_hosts(path, number) from None
    return known


# Every connection used to parse the whole file and keep its own copy: 632 KB a host with 1,000
# hosts in one file (tests/unit/test_hostkeys.py), so 1,000 hosts took 1.2 GB and 2,000 never finished
# connecting. Now one parse per change, and a connection holds a bound `match` of it, which
# asyncssh calls once, as it connects, for that host's keys.
KNOWN_HOSTS: ParsedFiles[asyncssh.SSHKnownHosts] = ParsedFiles(read_known_hosts)


def known_hosts_pattern(address: str, port: int) -> str:
    """The known_hosts host field OpenSSH uses for this address and port."""
    return address if port == 22 else f"[{address}]:{port}"


def trusted_keys(spec: HostSpec) -> tuple[list[asyncssh.SSHKey], list, list] | Callable[..., Any]:
    """What asyncssh should trust for this host (its `known_hosts` argument): the pinned key, or the
    shared known_hosts parse's `match(host, addr, port)`. Raises KnownHostsError."""
    if spec.host_key:
        try:
            return ([asyncssh.import_public_key(spec.host_key)], [], [])
        except Exception:  # the loader checked it already; still, show no key material
            raise KnownHostsError(f"host_key of {spec.id} in the inventory is not a public key; set it to "
                                  "`ssh-ed25519 AAAA...` or remove it to use known_hosts") from None
    return KNOWN_HOSTS.get(Path(spec.known_hosts)).match


def known_keys(spec: HostSpec, addr: str | None = None) -> list[asyncssh.SSHKey]:
    """Keys on record for this host (pinned or in known_hosts); empty if none."""
    trusted = trusted_keys(spec)
    if isinstance(trusted, tuple):
        return list(trusted[0])
    # as asyncssh does when it connects: port 22 is looked up as the bare address only
    keys = trusted(spec.address, addr or spec.address, None if spec.port == 22 else spec.port)[0]
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
    """Add the key to a known_hosts file; with replace, drop other keys of this host first.

    A file that is not a known_hosts file is refused (KnownHostsError) rather than appended to.
    Written with `\\n` line ends on every OS (OpenSSH's format; text mode on Windows would write
    `\\r\\n`), through a temporary file and an atomic replace.
    """
    path = Path(path)
    read_known_hosts(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
    if replace:
        lines = [ln for ln in lines if not _line_matches(ln, address, port)]
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.append(f"{known_hosts_pattern(address, port)} {public_key_line(key)}\n")
    # atomic: a crash never leaves half a known_hosts
    atomic_write(path, "".join(lines).encode("utf-8"), mode=0o600 if os.name == "posix" else None)
