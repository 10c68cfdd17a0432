"""Strict patterns for inventory strings.

Unit names and mount points end up on a remote shell command line (quoted by the
collector as well); host ids end up in URLs, file names and metric labels.  Every
check here is an allow-list: a value either matches a small, documented grammar
or is refused with a message that says what is allowed.  All functions raise
``ValueError`` and return the (possibly normalised) value.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re

__all__ = [
    "validate_unit",
    "validate_mount",
    "validate_interface",
    "validate_host_id",
    "validate_address",
    "validate_user",
    "validate_label_key",
    "validate_label_value",
    "validate_host_key",
    "parse_host_port",
]

UNIT_MAX = 255
MOUNT_MAX = 1024

_UNIT_RE = re.compile(r"(?:[A-Za-z0-9:_.@]|\\x[0-9A-Fa-f]{2})(?:[A-Za-z0-9:_.@-]|\\x[0-9A-Fa-f]{2})*")
_MOUNT_CHARS_RE = re.compile(r"[A-Za-z0-9._@+=:,%~ /-]+")
_INTERFACE_RE = re.compile(r"[A-Za-z0-9_.@*?\[\]!-]+")
INTERFACE_GLOB_MAX = 64
_HOST_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_USER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_LABEL_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,62}")
_HOSTNAME_LABEL_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_KEY_TYPE_RE = re.compile(r"(?:ssh|ecdsa|sk)-[A-Za-z0-9@.-]+")
_B64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _shown(value: object, limit: int = 60) -> str:
    """repr() of a value, shortened so that a 10 kB string does not flood a log."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "...'"


def _require_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__} {_shown(value)}")
    return value


def validate_unit(name: object) -> str:
    """A systemd unit name, e.g. ``nginx.service``, ``getty@tty1.service``, ``docker``."""
    name = _require_str(name, "systemd unit name")
    allowed = "allowed are letters, digits and :_.@- (and \\xNN escapes)"
    if not name:
        raise ValueError(f"empty systemd unit name: {allowed}")
    if len(name) > UNIT_MAX:
        raise ValueError(f"systemd unit name is {len(name)} characters long; at most {UNIT_MAX} are allowed")
    if name.startswith("-"):
        raise ValueError(f"invalid systemd unit name {_shown(name)}: it must not start with '-'; {allowed}")
    if not _UNIT_RE.fullmatch(name):
        raise ValueError(f"invalid systemd unit name {_shown(name)}: {allowed}")
    return name


def validate_mount(path: object) -> str:
    """An absolute mount point such as ``/``, ``/data`` or ``/mnt/my disk``.

    A trailing ``/`` is removed (``/data/`` -> ``/data``) so that the value
    compares equal to what ``df`` prints.
    """
    path = _require_str(path, "mount point")
    allowed = "allowed is an absolute path made of letters, digits, spaces and ._@+=:,%~-/"
    if not path.startswith("/"):
        raise ValueError(f"invalid mount point {_shown(path)}: it must start with '/'; {allowed}")
    if len(path) > MOUNT_MAX:
        raise ValueError(f"mount point is {len(path)} characters long; at most {MOUNT_MAX} are allowed")
    if not _MOUNT_CHARS_RE.fullmatch(path):
        raise ValueError(f"invalid mount point {_shown(path)}: {allowed}")
    if "//" in path:
        raise ValueError(f"invalid mount point {_shown(path)}: '//' is not allowed")
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    if path.endswith(" "):
        raise ValueError(f"invalid mount point {_shown(path)}: it must not end with a space")
    if any(seg in (".", "..") for seg in path.split("/")):
        raise ValueError(f"invalid mount point {_shown(path)}: '.' and '..' segments are not allowed")
    return path


def validate_interface(name: object) -> str:
    """A network interface name (``eth0``, ``bond0``, ``eno1.100``) or a glob of them (``en*``, ``eth[0-3]``).

    Only compared with the names in /proc/net/dev on the hub (fnmatch), never sent to a host.
    """
    name = _require_str(name, "interface name")
    allowed = "allowed are letters, digits, ._@- and the glob characters *?[]!"
    if not _INTERFACE_RE.fullmatch(name) or name in (".", ".."):
        raise ValueError(f"invalid interface name or glob {_shown(name)}: {allowed}")
    if not any(c in name for c in "*?[") and len(name) > 15:
        raise ValueError(f"interface name {_shown(name)} is {len(name)} characters long; "
                         "the kernel allows at most 15")
    if len(name) > INTERFACE_GLOB_MAX:
        raise ValueError(f"interface glob is {len(name)} characters long; at most {INTERFACE_GLOB_MAX} are allowed")
    return name


def validate_host_id(host_id: object) -> str:
    """A host id: 1-63 characters, letters, digits and ``._-``, starting with a letter or digit."""
    host_id = _require_str(host_id, "host id")
    if not _HOST_ID_RE.fullmatch(host_id):
        raise ValueError(
            f"invalid host id {_shown(host_id)}: allowed are 1-63 letters, digits and ._- "
            "starting with a letter or digit"
        )
    return host_id


def validate_address(address: object) -> str:
    """A DNS host name or an IPv4/IPv6 literal (``[::1]`` brackets are removed)."""
    address = _require_str(address, "address")
    allowed = "allowed is a host name (letters, digits, '-', '_', '.') or an IPv4/IPv6 address"
    if not address:
        raise ValueError(f"empty address: {allowed}")
    literal = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    if ":" in literal:
        try:
            return str(ipaddress.IPv6Address(literal))
        except ValueError:
            raise ValueError(f"invalid IPv6 address {_shown(address)}") from None
    if re.fullmatch(r"[0-9.]+", address):
        try:
            return str(ipaddress.IPv4Address(address))
        except ValueError:
            raise ValueError(f"invalid IPv4 address {_shown(address)}") from None
    name = address[:-1] if address.endswith(".") else address
    if len(name) > 253 or not all(_HOSTNAME_LABEL_RE.fullmatch(p) for p in name.split(".")):
        raise ValueError(f"invalid address {_shown(address)}: {allowed}")
    return address


def validate_user(user: object) -> str:
    """A POSIX-style login name (upper case letters are accepted too)."""
    user = _require_str(user, "user")
    if not _USER_RE.fullmatch(user):
        raise ValueError(
            f"invalid user name {_shown(user)}: allowed are 1-32 letters, digits and _.- "
            "starting with a letter or '_'"
        )
    return user


def validate_label_key(key: object) -> str:
    key = _require_str(key, "label key")
    if not _LABEL_KEY_RE.fullmatch(key):
        raise ValueError(
            f"invalid label key {_shown(key)}: allowed are letters, digits and _.- "
            "starting with a letter or '_' (at most 63)"
        )
    return key


def validate_label_value(value: object) -> str:
    """Label values are strings; numbers are converted (``8`` -> ``"8"``, ``true`` -> ``"true"``)."""
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"label value must be a string or a number, got {type(value).__name__}")
    if len(value) > 256:
        raise ValueError("label value is longer than 256 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"label value {_shown(value)} contains control characters (newline, tab, ...)")
    return value


def validate_host_key(line: object) -> str:
    """An OpenSSH public key line: ``TYPE BASE64 [comment]`` (e.g. from ``ssh-keyscan`` or a .pub file)."""
    line = _require_str(line, "host_key").strip()
    example = 'expected an OpenSSH public key line like "ssh-ed25519 AAAAC3Nza..."'
    parts = line.split(None, 2)
    if len(parts) < 2 or not _KEY_TYPE_RE.fullmatch(parts[0]) or not _B64_RE.fullmatch(parts[1]):
        raise ValueError(f"invalid host_key {_shown(line)}: {example}")
    if any(ord(c) < 32 for c in line):
        raise ValueError("invalid host_key: it must be a single line")
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"invalid host_key: the key data is not valid base64; {example}") from None
    n = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if n < 0 or blob[4 : 4 + n].decode("ascii", "replace") != parts[0]:
        raise ValueError(f"invalid host_key: the key data does not match the key type {parts[0]!r}")
    return line


def parse_host_port(value: object, what: str = "address") -> tuple[str, int]:
    """Split ``"HOST:PORT"`` (or ``"[IPV6]:PORT"``) and check both halves."""
    value = _require_str(value, what)
    example = 'expected "HOST:PORT" such as "127.0.0.1:8080" or "[::1]:8080"'
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
    else:
        host, sep, port = value.rpartition(":")
        if ":" in host:
            raise ValueError(f"invalid {what} {_shown(value)}: write IPv6 addresses in brackets, {example}")
    if not sep or not host or not port:
        raise ValueError(f"invalid {what} {_shown(value)}: {example}")
    if not port.isascii() or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"invalid {what} {_shown(value)}: the port must be a number from 1 to 65535")
    try:
        host = validate_address(("[" + host + "]") if value.startswith("[") else host)
    except ValueError as exc:
        raise ValueError(f"invalid {what} {_shown(value)}: {exc}") from None
    return host, int(port)
