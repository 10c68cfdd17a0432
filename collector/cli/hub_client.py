"""The CLI's side of a running hub's REST API (`probe --via`, `proxy ...`).

The token comes from $FLEETWATCH_TOKEN only: an argument would show in `ps`.
Every failure becomes a HubCallError with one line that says what to do next.

Proxies: urllib's default opener takes a proxy from $http_proxy / $HTTP_PROXY and, on
Windows, from the system (registry) settings, and would hand it every request, token
included. So a hub on loopback (127.0.0.0/8, ::1, `localhost`) and any plain http:// hub
are asked directly, never through a proxy: a proxy in the middle of plain HTTP reads the
`Authorization` header. Only an https:// hub elsewhere goes through the environment's proxy,
as a CONNECT tunnel that carries the token encrypted end to end ($no_proxy still applies).
"""
from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from collector.cli.common import EXIT_FAILED, EXIT_USAGE

DEFAULT_HUB = "http://127.0.0.1:8080"
TOKEN_HINT = "set FLEETWATCH_TOKEN to an admin token (create one on the hub: fleetwatch token create NAME --role admin)"


class HubCallError(Exception):
    """A call to the hub failed; ``lines`` are printed, ``exit_code`` is returned."""

    def __init__(self, exit_code: int, *lines: str) -> None:
        super().__init__(lines[0])
        self.exit_code = exit_code
        self.lines = lines


def hub_base(url: str | None, option: str = "--hub") -> str:
    """The hub's base URL from the option, $FLEETWATCH_HUB, or the default listen address."""
    base = (url or os.environ.get("FLEETWATCH_HUB", "").strip() or DEFAULT_HUB).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise HubCallError(EXIT_USAGE, f"{option} expects the hub's URL, like {DEFAULT_HUB} (got {base!r})")
    return base


def _is_loopback(host: str) -> bool:
    if host.rstrip(".").lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name: not resolved here, only `localhost` counts as loopback
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def uses_proxy(base: str) -> bool:
    """Whether a request to this hub may go through the environment's (or the system's) proxy."""
    parts = urllib.parse.urlsplit(base)
    return parts.scheme == "https" and not _is_loopback(parts.hostname or "")


def opener_for(base: str) -> urllib.request.OpenerDirector:
    """An opener for this hub: the default one, with proxies switched off unless `uses_proxy`."""
    # ProxyHandler() reads the environment and the registry; ProxyHandler({}) means "no proxy at all"
    return urllib.request.build_opener(urllib.request.ProxyHandler() if uses_proxy(base)
                                       else urllib.request.ProxyHandler({}))


def server_path(host_id: str, *rest: str) -> str:
    return "/".join(["/api/servers", urllib.parse.quote(host_id, safe=""), *rest])


def call(base: str, method: str, path: str, *, timeout: float = 60.0) -> Any:
    """One JSON request to the hub; the decoded answer, or HubCallError."""
    headers = {"Accept": "application/json"}
    token = os.environ.get("FLEETWATCH_TOKEN", "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(base + path, method=method, headers=headers)
    try:
        with opener_for(base).open(request, timeout=timeout) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        try:
            detail = json.load(exc).get("detail", "")
        except (ValueError, AttributeError):
            detail = exc.reason
        hint = (TOKEN_HINT,) if exc.code in (401, 403) else ()
        raise HubCallError(EXIT_USAGE if exc.code == 404 else EXIT_FAILED,
                           f"the hub answered {exc.code}: {detail}", *hint) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HubCallError(EXIT_FAILED, f"cannot reach the hub at {base}: {reason}; is `fleetwatch serve` "
                                        "running there? (point at it with --hub URL or $FLEETWATCH_HUB)") from None
