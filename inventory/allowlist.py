"""Destination allowlist of the builtin HTTP proxy (inventory `proxy.allow`).

Parsed here so that a bad rule is an inventory error with its line, not a
runtime surprise; collector.http_proxy applies it to each request.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Allowlist:
    """Destinations the proxy may reach: (host glob, port or None for any port) rules.

    Hosts are matched as the client wrote them (no DNS), case-insensitively.
    An empty Allowlist allows nothing; pass ``allow=None`` to allow everything.
    """
    rules: tuple[tuple[str, int | None], ...] = field(default_factory=tuple)

    def allows(self, host: str, port: int) -> bool:
        h = host.strip("[]").rstrip(".").lower()
        return any(fnmatch.fnmatchcase(h, g) and (p is None or p == port) for g, p in self.rules)


def _port(text: str, where: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{where}: port must be a number 1-65535, got {text!r}")
    return int(text)


def _parse_rule(item: object) -> tuple[str, int | None]:
    if not isinstance(item, str):
        raise ValueError(f"allowlist item {item!r}: expected a string like 'example.com:443'")
    s, where = item.strip().lower(), f"allowlist item {item!r}"
    if not s:
        raise ValueError(f"{where}: empty")
    if "://" in s or any(c in s for c in " \t/@?#"):
        raise ValueError(f"{where}: expected HOST, HOST:PORT or *:PORT (no scheme, path or spaces)")
    port: int | None = None
    if s.startswith("["):  # [v6] or [v6]:port
        host, sep, rest = s[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"{where}: bad bracketed IPv6 address")
        if rest:
            port = None if rest[1:] == "*" else _port(rest[1:], where)
    elif s.count(":") == 1:
        host, _, p = s.partition(":")
        port = None if p == "*" else _port(p, where)
    else:  # a bare name, or a bare IPv6 address (no port)
        host = s
    host = host.rstrip(".")
    if not host:
        raise ValueError(f"{where}: missing host (use '*' for any host)")
    return host, port


def parse_allowlist(items: Iterable[str]) -> Allowlist:
    """Parse ``["example.com:443", "*.example.com", "10.0.0.5", "*:80"]``; ValueError on bad items."""
    if isinstance(items, (str, bytes)):
        raise ValueError("allowlist must be a list of strings, not a single string")
    return Allowlist(tuple(_parse_rule(i) for i in items))
