"""Alerts end to end: a real sshd host whose fake nvidia-smi runs hot, the hub's rules, a real webhook receiver.

Polled every second so each test takes seconds; tests/integration/test_alerts_delivery.py runs the default 5 s
interval with every notifier type."""
from __future__ import annotations

import asyncio
import time

import pytest_asyncio

from tests.support.apphub import served_hub
from tests.support.http_receiver import Receiver
from tests.support.hubproc import host_entry, write_inventory
from tests.support.sshd import free_port


async def _until(what, check, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()  # a coroutine function, or a lambda returning an awaitable
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


RULES = """
alerts:
  - {{name: gpu-hot, metric: gpu_temperature_c, op: ">", threshold: {threshold}, for: 1s, notify: [hook]}}
notifiers:
  hook: {{type: webhook, url: "{url}", timeout: 5s}}
"""


def _inventory(sshd, path, receiver, threshold=80):
    inventory = write_inventory(path, [host_entry(sshd, "hot")], interval="1s")
    inventory.write_text(inventory.read_text() + RULES.format(threshold=threshold, url=receiver.url("/hook")))
    return inventory


def _states(receiver) -> list[str]:
    return [r.json()["status"] for r in receiver.requests]


async def _firing_rows(client):
    return await _rows(client, "firing")


@pytest_asyncio.fixture
async def receiver(sshd):
    rx = await Receiver().start()
    temp = sshd.fakebin / "gpu0_temp"
    temp.write_text("85\n")
    try:
        yield rx, temp
    finally:
        temp.unlink(missing_ok=True)
        await rx.close()


async def test_a_restarted_hub_takes_over_a_firing_alert_without_notifying_again(sshd, tmp_path, receiver):
    rx, temp = receiver
    inventory, db = _inventory(sshd, tmp_path / "hosts.yaml", rx), f"sqlite:///{tmp_path / 'r.db'}"
    async with served_hub(inventory, db) as served:
        await _until("firing sent", lambda: _async(_states(rx) == ["firing"]))
        (before,) = await _firing_rows(served.client)
    async with served_hub(inventory, db) as served:
        assert served.hub.alerts.firing_count() == 1  # taken over from the database at start
        await _polls(served.client, 3)
        assert _states(rx) == ["firing"]  # still hot: no second firing message
        (after,) = await _firing_rows(served.client)
        assert after["id"] == before["id"] and after["fired_at"] == before["fired_at"]
        temp.write_text("60\n")
        await _until("resolved sent", lambda: _async(_states(rx) == ["firing", "resolved"]))
        assert rx.requests[1].json()["alert"]["alert_id"] == before["id"]  # the same instance resolves
        assert await _firing_rows(served.client) == []


async def test_a_silenced_alert_fires_but_sends_nothing_until_the_silence_is_lifted(sshd, tmp_path, receiver):
    rx, temp = receiver
    temp.write_text("60\n")  # cool while the silence is set up
    async with served_hub(_inventory(sshd, tmp_path / "hosts.yaml", rx), f"sqlite:///{tmp_path / 's.db'}") as served:
        client = served.client
        made = await client.post("/api/alerts/silences", json={"rule": "gpu-hot", "server_id": "hot",
                                                                "duration": "10m", "reason": "fan swap"})
        assert made.status_code == 201
        silence = made.json()

        # 1. it fires while silenced: recorded and shown, nothing sent, no attempt
        temp.write_text("85\n")
        rows = await _until("firing recorded", lambda: _firing_rows(client))
        assert rows[0]["silenced_until"] == silence["until"]
        await _polls(client, 2)
        await served.hub.alerts.idle()
        assert rx.requests == [] and (await _firing_rows(client))[0]["notifications"] == []
        page = await client.get("/alerts", headers={"Accept": "text/html"})
        assert f'data-silenced-until="{silence["until"]}"' in page.text

        # 2. it resolves while still silenced: the receiver never hears of it (no lone "resolved")
        temp.write_text("60\n")
        await _until("resolved recorded", lambda: _rows(client, "resolved"))
        await _polls(client, 1)
        await served.hub.alerts.idle()
        assert rx.requests == []

        # 3. it fires again; lifting the silence sends the held-back firing at once, then resolved
        temp.write_text("85\n")
        await _until("firing again", lambda: _firing_rows(client))
        await served.hub.alerts.idle()
        assert rx.requests == []
        assert (await client.delete(f"/api/alerts/silences/{silence['id']}")).status_code == 200
        await _until("held-back firing sent", lambda: _async(_states(rx) == ["firing"]), timeout=5)
        temp.write_text("60\n")
        await _until("resolved sent", lambda: _async(_states(rx) == ["firing", "resolved"]))

        # 4. a silence that runs out while the alert fires: the next poll sends the firing
        short = await client.post("/api/alerts/silences", json={"rule": "gpu-hot", "duration": 5})
        temp.write_text("85\n")
        fired = await _until("firing while briefly silenced", lambda: _firing_rows(client))
        assert fired[0]["fired_at"] < short.json()["until"] and _states(rx) == ["firing", "resolved"]
        await _until("sent after the silence ran out", lambda: _async(len(rx.requests) == 3), timeout=10)
        assert _states(rx)[2] == "firing" and rx.requests[2].wall >= short.json()["until"]

        # 5. silenced after its firing went out: the resolve is still sent (nobody is left thinking it burns)
        assert (await client.post("/api/alerts/silences", json={"rule": "gpu-hot", "duration": "1h"})).status_code == 201
        temp.write_text("60\n")
        await _until("resolve sent despite the silence", lambda: _async(len(rx.requests) == 4))
        assert _states(rx) == ["firing", "resolved", "firing", "resolved"]


async def test_editing_a_rule_resolves_its_instances_live(sshd, tmp_path, receiver):
    rx, _temp = receiver
    inventory = _inventory(sshd, tmp_path / "hosts.yaml", rx)
    async with served_hub(inventory, f"sqlite:///{tmp_path / 'e.db'}") as served:
        await _until("firing sent", lambda: _async(_states(rx) == ["firing"]))
        inventory.write_text(inventory.read_text().replace("threshold: 80", "threshold: 90"))
        await _until("resolved sent", lambda: _async(_states(rx) == ["firing", "resolved"]))
        assert "rule changed" in rx.requests[1].json()["alert"]["summary"]
        rules = (await served.client.get("/api/alerts/rules")).json()["rules"]
        assert rules[0]["threshold"] == 90
        await _polls(served.client, 2)
        assert _states(rx) == ["firing", "resolved"]  # 85 °C is below the new threshold: stays quiet
        # a broken edit keeps the last good rules and says where the problem is
        inventory.write_text(inventory.read_text().replace("for: 1s", "for: soon"))
        status = await _until("problem reported", lambda: _problems(served.client))
        assert status[0]["field"] == "alerts[0].for" and status[0]["line"]


async def _async(value):
    return value


async def _newer(client, ts: float) -> bool:
    sample = (await client.get("/api/servers/hot/latest")).json()["sample"]
    return bool(sample and sample["ts"] >= ts)


async def _rows(client, state: str):
    return (await client.get("/api/alerts", params={"state": state})).json()["rows"]


async def _polls(client, n: int) -> None:
    """Wait until the host has been polled n more times (1 s interval)."""
    polled = (await client.get("/api/servers/hot/latest")).json()["sample"]["ts"]
    await _until(f"{n} more polls", lambda: _newer(client, polled + n - 0.5))


async def _problems(client):
    return (await client.get("/api/inventory/status")).json()["alerting_problems"]


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


async def test_an_event_rule_fires_on_host_down_and_resolves_on_host_up(sshd, tmp_path, receiver):
    rx, _temp = receiver
    port = free_port()  # nothing listens here yet: every poll fails
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "flaky", port=port, timeout="1s")],
                                interval="1s")
    inventory.write_text(inventory.read_text() + f"""
alerts:
  - {{name: down, event: host_down, severity: critical, notify: [hook]}}
notifiers:
  hook: {{type: webhook, url: "{rx.url('/hook')}"}}
""")
    async with served_hub(inventory, f"sqlite:///{tmp_path / 'ev.db'}") as served:
        await _until("host_down sent", lambda: _async(_states(rx) == ["firing"]))
        alert = rx.requests[0].json()["alert"]
        assert (alert["rule"], alert["host_id"], alert["event"], alert["severity"]) == (
            "down", "flaky", "host_down", "critical")
        rows = await _firing_rows(served.client)
        assert rows[0]["event"] == "host_down" and rows[0]["id"] == alert["alert_id"]
        # the host comes back: point it at the live sshd (inventory reload), host_up resolves the alert
        inventory.write_text(inventory.read_text().replace(f"port: {port}", f"port: {sshd.port}"))
        await _until("host_up resolves", lambda: _async(_states(rx) == ["firing", "resolved"]))
        assert rx.requests[1].json()["alert"]["summary"] == "flaky: host_down resolved (host_up)"
        assert await _firing_rows(served.client) == []
