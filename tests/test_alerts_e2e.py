"""Alerts end to end: a real sshd host whose fake nvidia-smi runs hot, the hub's rules, a real webhook receiver."""
from __future__ import annotations

import asyncio
import time

import pytest_asyncio

from tests.apphub import served_hub
from tests.http_receiver import Receiver
from tests.hubproc import host_entry, write_inventory


async def _until(what, check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def hot_hub(sshd, tmp_path):
    receiver = await Receiver().start()
    temp = sshd.fakebin / "gpu0_temp"
    temp.write_text("85\n")  # GPU 0 runs hot (the fake nvidia-smi reads this file)
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "hot", labels={"env": "prod"})],
                                interval="1s")
    doc = inventory.read_text() + f"""
alerts:
  - {{name: gpu-hot, metric: gpu_temperature_c, op: ">", threshold: 80, for: 2s, hosts: "h*", notify: [hook]}}
  - {{name: typo, metric: gpu_temp, op: ">", threshold: 80}}
  - {{name: cool-gpu1, metric: gpu_temperature_c, op: ">", threshold: 80, items: "1", notify: [hook]}}
notifiers:
  hook: {{type: webhook, url: "{receiver.url('/hook/s3cret-token')}", timeout: 5s}}
"""
    inventory.write_text(doc)
    try:
        async with served_hub(inventory, f"sqlite:///{tmp_path / 'a.db'}") as served:
            yield served, receiver, temp
    finally:
        temp.unlink(missing_ok=True)
        await receiver.close()


async def test_a_hot_gpu_fires_notifies_and_resolves(hot_hub):
    served, receiver, temp = hot_hub
    client = served.client

    rules = (await client.get("/api/alerts/rules")).json()
    assert [r["name"] for r in rules["rules"]] == ["gpu-hot", "cool-gpu1"]  # the bad rule does not stop the others
    problem = rules["problems"][0]
    assert problem["field"] == "alerts[1].metric" and problem["line"] and "gpu_temp" in problem["message"]
    assert rules["notifiers"][0]["url"] == "http://127.0.0.1/…"  # the token in the URL is not shown

    async def pending():
        return (await client.get("/api/alerts", params={"state": "pending"})).json()["pending"]
    first = await _until("pending", pending)
    assert first[0]["rule"] == "gpu-hot" and first[0]["item"] == "0"

    async def firing_sent():
        return [r.json() for r in receiver.requests if r.json()["status"] == "firing"]
    sent = await _until("firing delivered", firing_sent)
    alert = sent[0]["alert"]
    assert (alert["rule"], alert["host_id"], alert["item"], alert["value"]) == ("gpu-hot", "hot", "0", 85.0)
    assert alert["labels"] == {"env": "prod"} and "85 °C > 80 °C" in alert["summary"]
    assert len(sent) == 1  # GPU 1 (31 °C) stays quiet; one instance per card

    async def recorded():
        rows = (await client.get("/api/alerts", params={"state": "firing"})).json()["rows"]
        return rows if rows and rows[0]["notifications"] else None
    rows = await _until("attempt recorded", recorded)
    assert rows[0]["notifications"][0]["ok"] is True and rows[0]["notifications"][0]["notifier"] == "hook"
    page = await client.get("/", headers={"Accept": "text/html"})
    assert 'data-total="alerts_firing"><a href="/alerts">1</a>' in page.text

    temp.write_text("60\n")  # it cools down

    async def resolved_sent():
        return [r.json() for r in receiver.requests if r.json()["status"] == "resolved"]
    resolved = await _until("resolved delivered", resolved_sent)
    assert resolved[0]["alert"]["value"] == 60.0
    rows = (await client.get("/api/alerts")).json()["rows"]
    assert rows[0]["state"] == "resolved" and rows[0]["resolved_at"] >= rows[0]["fired_at"]
    alerts_page = await client.get("/alerts", headers={"Accept": "text/html"})
    assert alerts_page.status_code == 200 and 'data-state="resolved"' in alerts_page.text
    assert "gpu_temp" in alerts_page.text  # the rule problem is shown on the page


async def test_silences_are_validated_and_listed(hot_hub):
    served, _receiver, _temp = hot_hub
    client = served.client
    assert (await client.post("/api/alerts/silences", json={"duration": "1h"})).status_code == 400
    assert (await client.post("/api/alerts/silences", json={"rule": "gpu-hot", "duration": "1y"})).status_code == 400
    made = await client.post("/api/alerts/silences", json={"rule": "gpu-hot", "duration": "2h", "reason": "swap"})
    assert made.status_code == 201 and made.json()["created_by"]
    listed = (await client.get("/api/alerts/silences")).json()
    assert [s["id"] for s in listed] == [made.json()["id"]]
    lifted = await client.delete(f"/api/alerts/silences/{made.json()['id']}")
    assert lifted.status_code == 200 and lifted.json()["ended_at"] is not None
    assert (await client.get("/api/alerts/silences")).json() == []
    assert (await client.delete("/api/alerts/silences/999999")).status_code == 404
