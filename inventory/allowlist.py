"""Destination allowlist of the builtin HTTP proxy (inventory `proxy.allow`).

Parsed here so that a bad rule is an inventory error with its line, not a
runtime surprise; collector.http_proxy applies it to each request.

Some addresses are refused even when the list (or its absence) would allow them:
the hub's own loopback, link-local addresses (cloud metadata at 169.254.169.254)
and the unspecified address. `restricted_kind` names them; only a rule that names
the destination's host without wildcards opens one (`Allowlist.names`).
"""
from __future__ import annotations

import fnmatch
import ipaddress
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
        h = _norm(host)
        return any(fnmatch.fnmatchcase(h, g) and (p is None or p == port) for g, p in self.rules)

    def names(self, host: str, port: int, *, exact_port: bool = False) -> bool:
        """Whether a rule names this host as written, with no wildcard (`localhost:7000`, `127.0.0.1`);
        with exact_port, the rule must name this very port too (`host` and `host:*` do not)."""
        h = _norm(host)
        return any(g == h and not _WILDCARDS & set(g) and (p == port if exact_port else p in (None, port))
                   for g, p in self.rules)


_WILDCARDS = set("*?[")


def _norm(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def restricted_kind(address: str) -> str | None:
    """What a resolved address is, if the builtin proxy refuses it by default: "loopback",
    "link-local" or "unspecified"; None for any other address (or text that is no address).

    IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) count as their IPv4 address; 0.0.0.0/8 as a
    whole is "unspecified" (Linux connects 0.0.0.0 to this machine).
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_unspecified or ip in _THIS_NETWORK:
        return "unspecified"
    return None


_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


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
