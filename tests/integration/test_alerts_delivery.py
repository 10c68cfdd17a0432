"""Alert delivery through a running hub: a real sshd host whose fake nvidia-smi runs hot, one real
HTTP receiver per notifier (webhook, Slack, DingTalk signed, WeCom, one that fails three times, one
that hangs), polled every 2.5 s (twice the default pace: the same polls in half the time).

One scenario, one hub (about 20 s): GPU 0 at 85 °C fires `gpu_temperature_c > 80`; every receiver
gets the firing message in its own format; the flaky one on its fourth try; the hung one holds only
its own notifier, and samples keep their cadence while it hangs; cooling to 60 °C sends resolved.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import urllib.parse

import pytest_asyncio
from sqlalchemy import select

from schema.models import Sample
from tests.support.apphub import served_hub
from tests.support.http_receiver import Receiver
from tests.support.hubproc import host_entry, write_inventory

INTERVAL_S = 2.5
SECRET = "SEC-test-signing-secret"
ERRCODE_OK = b'{"errcode":0,"errmsg":"ok"}'
PATHS = {"hook": "/hook/t0ken", "slack": "/services/T000/B000/XXXX", "ding": "/robot/send?access_token=tok",
         "wecom": "/cgi-bin/webhook/send?key=k3y", "flaky": "/flaky", "stuck": "/stuck"}


def dingtalk_sign(secret: str, ts_ms: int) -> str:
    """DingTalk's documented signature, computed here independently of collector.notifiers."""
    digest = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode())


async def until(what, check, timeout=40.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await check() if asyncio.iscoroutinefunction(check) else check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.1)


def bodies(rx: Receiver) -> list[dict]:
    return [r.json() for r in rx.requests]


@pytest_asyncio.fixture
async def delivery_hub(sshd, tmp_path):
    rx = {
        "hook": Receiver(), "slack": Receiver(default=(200, b"ok")), "ding": Receiver(default=(200, ERRCODE_OK)),
        "wecom": Receiver(default=(200, ERRCODE_OK)), "flaky": Receiver(script=[(500, b"boom")] * 3),
        "stuck": Receiver(default="hang"),
    }
    for r in rx.values():
        await r.start()
    temp = sshd.fakebin / "gpu0_temp"
    temp.write_text("85\n")
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "gpu-a", labels={"rack": "r7"})],
                                interval=f"{INTERVAL_S:g}s")
    types = {"hook": "webhook", "slack": "slack", "ding": "dingtalk", "wecom": "wecom", "flaky": "webhook",
             "stuck": "webhook"}
    lines = [f'  {name}: {{type: {kind}, url: "{rx[name].url(PATHS[name])}"'
             + (f', secret: "{SECRET}"' if name == "ding" else "")
             + (", timeout: 2s" if name == "stuck" else "") + "}" for name, kind in types.items()]
    inventory.write_text(inventory.read_text() + f"""
alerts:
  - {{name: gpu-hot, metric: gpu_temperature_c, op: ">", threshold: 80, for: 5s, severity: critical,
     notify: [{", ".join(types)}]}}
notifiers:
""" + "\n".join(lines) + "\n")
    try:
        async with served_hub(inventory, f"sqlite:///{tmp_path / 'd.db'}") as served:
            yield served, rx, temp
    finally:
        temp.unlink(missing_ok=True)
        for r in rx.values():
            await r.close()


async def test_every_notifier_type_gets_firing_and_resolved_through_the_hub(delivery_hub):
    served, rx, temp = delivery_hub
    client = served.client

    # ---- firing: each receiver in its own format
    await until("firing at every good receiver", lambda: all(rx[n].requests for n in ("hook", "slack", "ding",
                                                                                       "wecom")))
    fired_at = time.monotonic()
    hook = bodies(rx["hook"])[0]
    assert hook["status"] == "firing"
    assert (hook["alert"]["rule"], hook["alert"]["host_id"], hook["alert"]["item"]) == ("gpu-hot", "gpu-a", "0")
    assert hook["alert"]["value"] == 85.0 and hook["alert"]["labels"] == {"rack": "r7"}

    slack = bodies(rx["slack"])[0]
    assert slack["text"].startswith("[FIRING]") and "gpu-a" in slack["text"]
    assert slack["blocks"][0]["type"] == "section" and slack["blocks"][0]["text"]["type"] == "mrkdwn"

    ding_req = rx["ding"].requests[0]
    ding = ding_req.json()
    assert ding["msgtype"] == "markdown" and ding["markdown"]["title"].startswith("[FIRING] critical")
    assert "85 °C" in ding["markdown"]["text"]
    query = ding_req.query()
    assert query["access_token"] == "tok"
    assert abs(int(query["timestamp"]) / 1000 - time.time()) < 60
    assert ding_req.target.split("sign=", 1)[1] == dingtalk_sign(SECRET, int(query["timestamp"]))
    assert SECRET not in ding_req.body.decode()

    wecom = bodies(rx["wecom"])[0]
    assert wecom["msgtype"] == "markdown" and wecom["markdown"]["content"].startswith(
        '### <font color="warning">[FIRING]')
    assert rx["wecom"].requests[0].query() == {"key": "k3y"}

    # ---- 500, 500, 500, then 200: delivered on the fourth try (backoff 1 s, 2 s, 4 s, each jittered to d/2..d)
    await until("flaky receiver's fourth try", lambda: len(rx["flaky"].requests) >= 4, timeout=30)
    tries = [r.t for r in rx["flaky"].requests]
    gaps = [b - a for a, b in zip(tries, tries[1:])]
    assert gaps[0] >= 0.45 and gaps[1] >= 0.9 and gaps[2] >= 1.8, gaps  # exponential backoff, not a tight loop
    assert all(b["status"] == "firing" for b in bodies(rx["flaky"])[:4])

    async def flaky_recorded():
        rows = (await client.get("/api/alerts", params={"state": "firing"})).json()["rows"]
        by = {n["notifier"]: n for n in rows[0]["notifications"]} if rows else {}
        return by if by.get("flaky", {}).get("ok") and "stuck" in by else None
    by_notifier = await until("attempts recorded", flaky_recorded, timeout=20)
    assert by_notifier["flaky"]["attempt"] == 4 and by_notifier["flaky"]["status_code"] == 200
    for name in ("hook", "slack", "ding", "wecom"):
        assert by_notifier[name]["ok"] is True and by_notifier[name]["attempt"] == 1, name
    stuck = by_notifier["stuck"]
    assert stuck["ok"] is False and "timed out" in stuck["error"] and not stuck["final"]

    # ---- the hung receiver holds nothing else: samples keep their cadence meanwhile
    hang_started = rx["stuck"].requests[0].t
    assert len(rx["stuck"].requests) >= 2  # still retrying, every try hangs
    await asyncio.sleep(max(0.0, hang_started + 3 * INTERVAL_S + 1 - time.monotonic()))

    # ---- cooling sends resolved everywhere that answers
    temp.write_text("60\n")
    for name in ("hook", "slack", "ding", "wecom", "flaky"):
        await until(f"resolved at {name}", lambda n=name: len(rx[n].requests) >= (5 if n == "flaky" else 2),
                    timeout=INTERVAL_S * 3)
    assert bodies(rx["hook"])[1]["status"] == "resolved" and bodies(rx["hook"])[1]["alert"]["value"] == 60.0
    assert bodies(rx["slack"])[1]["text"].startswith("[RESOLVED]")
    assert bodies(rx["ding"])[1]["markdown"]["title"].startswith("[RESOLVED]")
    second_ding = rx["ding"].requests[1]
    assert second_ding.target.split("sign=", 1)[1] == dingtalk_sign(SECRET, int(second_ding.query()["timestamp"]))
    assert bodies(rx["wecom"])[1]["markdown"]["content"].startswith('### <font color="info">[RESOLVED]')
    assert bodies(rx["flaky"])[4]["status"] == "resolved"
    assert all(len(rx[n].requests) == 2 for n in ("hook", "slack", "ding", "wecom"))  # exactly once each

    with served.engine.connect() as conn:
        stamps = [ts for (ts,) in conn.execute(
            select(Sample.ts).where(Sample.host_id == "gpu-a").order_by(Sample.ts))]
    wall_now, mono_now = time.time(), time.monotonic()
    window_from = wall_now - (mono_now - hang_started)  # the hung receiver's first try, in wall time
    during = [t for t in stamps if t >= window_from - INTERVAL_S]
    gaps = [b - a for a, b in zip(during, during[1:])]
    assert len(gaps) >= 3, (stamps, window_from)
    assert all(abs(g - INTERVAL_S) < 0.5 for g in gaps), f"sample gaps while a receiver hung: {gaps}"
    print(f"\nsample gaps while the 'stuck' receiver hung: {[round(g, 3) for g in gaps]} s; "
          f"flaky receiver's 4th try {tries[3] - tries[0]:.1f} s after its 1st; "
          f"firing→resolved {time.monotonic() - fired_at:.1f} s")
