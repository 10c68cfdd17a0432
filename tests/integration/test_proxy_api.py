"""The hub holds each host's reverse forward: status, start/stop, config through the API, events, page card."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

import pytest_asyncio
import yaml
from bs4 import BeautifulSoup

from tests.support.apphub import served_hub
from tests.support.hubproc import host_entry, write_inventory
from tests.support.sshd import free_port
from tests.integration.test_proxy import PAGE, _get, _web_server


async def _until(what, check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def hub_with_proxy(sshd, tmp_path):
    server, target_port = await _web_server()
    listen = free_port()
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(
        sshd, "tunnel", proxy={"enabled": True, "remote_listen": f"127.0.0.1:{listen}",
                               "target": f"127.0.0.1:{target_port}"})])
    try:
        async with served_hub(inventory, f"sqlite:///{tmp_path / 'p.db'}") as served:
            yield served, listen, inventory
    finally:
        server.close()


async def _state(client) -> str:
    return (await client.get("/api/servers/tunnel/proxy")).json()["status"]["state"]


async def test_the_hub_starts_the_forward_and_it_can_be_stopped_and_started(hub_with_proxy):
    served, listen, _inventory = hub_with_proxy
    client = served.client

    async def up():
        return await _state(client) == "up"

    await _until("auto start", up)
    assert (await _get(listen)).endswith(PAGE)
    body = (await client.get("/api/servers/tunnel/proxy")).json()
    assert body["config"]["remote_listen"] == f"127.0.0.1:{listen}" and body["status"]["connections"] == 1

    stopped = (await client.post("/api/servers/tunnel/proxy/stop")).json()
    assert stopped["status"]["state"] == "stopped"
    try:
        await _get(listen)
        raise AssertionError("the listener is still there after stop")
    except OSError:
        pass
    assert (await client.post("/api/servers/tunnel/proxy/start")).status_code == 200
    await _until("started again", up)

    await served.hub.writer.flush()
    events = (await client.get("/api/events", params={"server_id": "tunnel"})).json()["rows"]
    kinds = [e["type"] for e in events]
    assert "proxy_up" in kinds and "proxy_down" in kinds

    async def card():
        page = BeautifulSoup((await client.get("/hosts/tunnel", headers={"Accept": "text/html"})).text,
                             "html.parser")
        return page.select_one("#proxy")

    async def card_up():  # the page shows what the collector last wrote (within POKE_DELAY_S of a change)
        return (await card())["data-proxy-state"] == "up"
    await _until("the card shows the forward up", card_up)
    card = await card()
    assert card["data-proxy-state"] == "up" and f"127.0.0.1:{listen}" in card.text
    assert card.select_one("#proxy-stop") is not None


async def test_proxy_config_is_written_to_the_inventory(hub_with_proxy):
    served, listen, inventory = hub_with_proxy
    client = served.client
    resp = await client.put("/api/servers/tunnel/proxy", json={"enabled": False, "remote_listen": f"127.0.0.1:{listen}"})
    assert resp.status_code == 200 and resp.json()["status"]["state"] == "stopped"
    host = yaml.safe_load(inventory.read_text())["hosts"][0]
    assert host["proxy"]["enabled"] is False
    assert (await client.post("/api/servers/tunnel/proxy/start")).status_code == 409
    bad = await client.put("/api/servers/tunnel/proxy", json={"enabled": True, "remote_listen": "nowhere"})
    assert bad.status_code == 422
    assert (await client.get("/api/servers/nope/proxy")).status_code == 404


async def test_the_allowlist_is_set_through_the_api_and_shown_on_the_card(hub_with_proxy):
    served, listen, inventory = hub_with_proxy
    client = served.client
    wrong = await client.put("/api/servers/tunnel/proxy", json={
        "enabled": True, "remote_listen": f"127.0.0.1:{listen}", "target": "127.0.0.1:7879", "allow": ["pypi.org:443"]})
    assert wrong.status_code == 422 and 'only to target "builtin"' in str(wrong.json()["detail"])
    resp = await client.put("/api/servers/tunnel/proxy", json={
        "enabled": True, "remote_listen": f"127.0.0.1:{listen}", "target": "builtin", "allow": ["PyPI.org:443", "*:80"]})
    assert resp.status_code == 200, resp.text
    assert resp.json()["config"]["allow"] == ["pypi.org:443", "*:80"]
    host = yaml.safe_load(inventory.read_text())["hosts"][0]
    assert host["proxy"]["allow"] == ["PyPI.org:443", "*:80"] and host["proxy"]["target"] == "builtin"
    page = BeautifulSoup((await client.get("/hosts/tunnel", headers={"Accept": "text/html"})).text, "html.parser")
    assert page.select_one('[data-fact="proxy-allow"]').text == "pypi.org:443, *:80"
    assert "HTTP proxy" in page.select_one("#proxy").text


# ------------------------------------------------------------------ fleetwatch proxy status|start|stop
async def _cli(*argv: str) -> int:
    from collector.cli import main as cli_main

    return await asyncio.to_thread(cli_main, ["proxy", *argv])


async def test_the_proxy_cli_shows_stops_and_starts_the_forward(hub_with_proxy, capsys, monkeypatch):
    served, listen, _inventory = hub_with_proxy
    monkeypatch.setenv("FLEETWATCH_TOKEN", served.token)
    monkeypatch.setenv("FLEETWATCH_HUB", served.base)
    await _until("auto start", _is(served, "up"))

    assert await _cli("status", "tunnel") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"tunnel: up, 127.0.0.1:{listen} on the host -> 127.0.0.1:") and "up since" in out
    assert "0 retries" in out and " B from the host" in out

    assert await _cli("stop", "tunnel") == 0
    captured = capsys.readouterr()
    assert "tunnel: stopped" in captured.out and f"released 127.0.0.1:{listen}" in captured.err
    with pytest.raises(OSError):
        await _get(listen)
    assert await _cli("status", "--json") == 3  # every forward, and one is not up
    assert json.loads(capsys.readouterr().out)["status"]["state"] == "stopped"

    assert await _cli("start", "tunnel") == 0
    captured = capsys.readouterr()
    assert "waiting up to 30 s" in captured.err and "tunnel: up" in captured.out
    assert (await _get(listen)).endswith(PAGE)


async def test_the_proxy_cli_start_reports_a_port_in_use_and_gives_up_waiting(hub_with_proxy, capsys, monkeypatch):
    served, listen, _inventory = hub_with_proxy
    monkeypatch.setenv("FLEETWATCH_TOKEN", served.token)
    await _until("auto start", _is(served, "up"))
    assert await _cli("stop", "tunnel", "--hub", served.base) == 0
    squatter = socket.socket()
    try:
        squatter.bind(("127.0.0.1", listen))
        squatter.listen()
        capsys.readouterr()
        assert await _cli("start", "tunnel", "--hub", served.base, "--wait", "2") == 1
        captured = capsys.readouterr()
        assert "retrying (PORT_IN_USE: the host refused to listen" in captured.err
        assert "not up after 2 s; the hub keeps retrying" in captured.err and "tunnel: retrying" in captured.out
    finally:
        squatter.close()


async def test_the_proxy_cli_explains_what_is_wrong(hub_with_proxy, capsys, monkeypatch):
    served, _listen, _inventory = hub_with_proxy
    monkeypatch.delenv("FLEETWATCH_TOKEN", raising=False)
    assert await _cli("status", "tunnel", "--hub", served.base) == 1
    err = capsys.readouterr().err
    assert "401" in err and "FLEETWATCH_TOKEN" in err
    monkeypatch.setenv("FLEETWATCH_TOKEN", served.token)
    assert await _cli("stop", "nope", "--hub", served.base) == 2
    assert "nope: the hub answered 404: unknown server 'nope'" in capsys.readouterr().err
    assert await _cli("status", "--hub", f"http://127.0.0.1:{free_port()}") == 1
    assert "cannot reach the hub" in capsys.readouterr().err
    assert await _cli("status", "--hub", "ftp://x") == 2
    assert "expects the hub's URL" in capsys.readouterr().err
    with pytest.raises(SystemExit) as bad_wait:  # argparse: usage error, exit 2
        await _cli("start", "tunnel", "--wait", "-1")
    assert bad_wait.value.code == 2 and "between 0 and 3600" in capsys.readouterr().err


def _is(served, state: str):
    async def check():
        return await _state(served.client) == state
    return check
