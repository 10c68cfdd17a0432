"""The hub holds each host's reverse forward: status, start/stop, config through the API, events, page card."""
from __future__ import annotations

import asyncio
import time

import pytest_asyncio
import yaml
from bs4 import BeautifulSoup

from tests.apphub import served_hub
from tests.hubproc import host_entry, write_inventory
from tests.sshd import free_port
from tests.test_proxy import PAGE, _get, _web_server


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

    page = BeautifulSoup((await client.get("/hosts/tunnel", headers={"Accept": "text/html"})).text, "html.parser")
    card = page.select_one("#proxy")
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
