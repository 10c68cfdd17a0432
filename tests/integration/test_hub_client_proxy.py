"""`probe --via` and `proxy ...` talk to the hub itself, never through a proxy that would see the token
(issue 14, item 11: on Windows urllib takes the system proxy from the registry; on Linux the same
happens with $http_proxy / $HTTP_PROXY).

Both the "hub" and the "corporate proxy" are real HTTP servers on 127.0.0.1 (tests.support.http_receiver).
"""
from __future__ import annotations

import asyncio
import json

import pytest

from collector.cli import hub_client
from collector.cli import main as cli_main
from tests.support.http_receiver import Receiver

TOKEN = "fw_test-token-never-for-a-proxy"
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
              "no_proxy", "NO_PROXY")


@pytest.fixture
async def servers(monkeypatch):
    """(hub, corporate proxy): the environment sends every http request to the proxy."""
    hub = await Receiver(default=(200, b"[]")).start()
    corporate = await Receiver(default=(407, b"proxy authentication required")).start()
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{corporate.port}")
    monkeypatch.setenv("FLEETWATCH_TOKEN", TOKEN)
    yield hub, corporate
    await hub.close()
    await corporate.close()


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_a_loopback_hub_is_asked_directly_not_through_the_environments_proxy(servers, capsys, name):
    hub, corporate = servers
    code = await asyncio.to_thread(cli_main, ["proxy", "status", "--hub", f"http://{name}:{hub.port}", "--json"])
    assert corporate.requests == [], [(r.target, r.headers) for r in corporate.requests]
    assert code == 0 and json.loads(capsys.readouterr().out) == []
    assert [(r.method, r.target) for r in hub.requests] == [("GET", "/api/proxies")]
    assert hub.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_plain_http_hub_elsewhere_is_not_asked_through_a_proxy_either(servers):
    """An http:// hub on another machine: a proxy would read the token in clear, so it is bypassed too.

    `127.1` stands in for another machine: to the URL check it is a name, not a loopback address,
    while the resolver makes it 127.0.0.1, so no traffic leaves loopback."""
    hub, corporate = servers
    assert hub_client.uses_proxy(f"http://127.1:{hub.port}") is False
    answer = await asyncio.to_thread(hub_client.call, f"http://127.1:{hub.port}", "GET", "/api/proxies")
    assert answer == [] and corporate.requests == []
    assert hub.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


def test_only_an_https_hub_off_loopback_keeps_the_environments_proxy():
    """https:// through a proxy is a CONNECT tunnel: the proxy sees the hub's name, never the token."""
    proxied = {"http://127.0.0.1:8080": False, "http://localhost:8080": False, "http://[::1]:8080": False,
               "https://127.0.0.1:8443": False, "https://127.9.9.9": False, "https://LOCALHOST.:8443": False,
               "https://[::ffff:127.0.0.1]": False, "https://[::1]:8443": False,
               "http://hub.example.com:8080": False, "https://hub.example.com": True, "https://10.0.0.5": True}
    for base, uses_proxy in proxied.items():
        assert hub_client.uses_proxy(base) is uses_proxy, base
