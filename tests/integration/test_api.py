"""REST API (SPEC §5) against a running hub: real sshd, real SQLite, real HTTP on loopback."""
from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import insert
from sqlmodel import Session

from collector.cli import main as cli_main
from schema.models import Event, Host, SampleHourly
from tests.support.apphub import served_hub
from tests.support.hubproc import host_entry, write_inventory
from tests.support.sshd import free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

NOW = time.time()
HOUR = 3600
THIS_HOUR = int(NOW) // HOUR * HOUR
PAST_HOSTS = ("old-1", "old-2", "old-3")  # hosts with history only (since removed from the inventory)


def _prefill(engine) -> None:
    """72 hours of hourly rows for three hosts and some events, as a long-running hub leaves them."""
    rows = []
    for i, host in enumerate(PAST_HOSTS):
        for h in range(72):
            hour = THIS_HOUR - (h + 2) * HOUR
            rows.append({"host_id": host, "hour": hour, "sample_count": 720, "cpu_pct_avg": 10.0 + i + h % 5,
                         "cpu_pct_max": 50.0 + i * 10 + h % 7, "mem_used_pct_avg": 40.0, "mem_used_pct_max": 60.0,
                         "gpus": json.dumps([{"index": 0, "util_avg": 5.0}])})
    events = [{"ts": NOW - 100 * (k + 1), "host_id": PAST_HOSTS[k % 3], "type": "host_down" if k % 2 else "gpu_hot",
               "subject": None if k % 2 else "0", "message": f"event {k}", "details": None} for k in range(30)]
    with Session(engine) as s:
        s.execute(insert(Host), [{"id": h, "address": "10.0.0.9", "state": "up", "removed_at": NOW - HOUR,
                                  "consecutive_failures": 0} for h in PAST_HOSTS])
        s.execute(insert(SampleHourly), rows)
        s.execute(insert(Event), events)
        s.commit()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def api(sshd, tmp_path_factory):
    """A hub with one live host and one that cannot be reached, served by uvicorn on loopback."""
    tmp = tmp_path_factory.mktemp("api")
    inventory = write_inventory(tmp / "hosts.yaml", [
        host_entry(sshd, "live", services=["nginx.service", "broken.service"], labels={"env": "test"}),
        host_entry(sshd, "ghost", port=free_port(), timeout="2s"),
    ])
    db_url = f"sqlite:///{tmp / 'api.db'}"
    async with served_hub(inventory, db_url, prefill=_prefill) as served:
        client, hub, base, token, engine = served.client, served.hub, served.base, served.token, served.engine
        # wait for the first poll of the live host to be stored (rows are written once a second)
        for _ in range(100):
            if (await client.get("/api/servers/live/latest")).json()["sample"] is not None:
                break
            await asyncio.sleep(0.1)
        yield {"client": client, "hub": hub, "inventory": inventory, "base": base, "engine": engine,
               "token": token, "db_url": db_url}


# ------------------------------------------------------------------ servers
async def test_list_servers_shows_state_and_system_facts(api):
    r = await api["client"].get("/api/servers")
    assert r.status_code == 200
    by_id = {s["id"]: s for s in r.json()}
    assert set(by_id) >= {"live", "ghost"}
    live = by_id["live"]
    assert live["state"] == "up" and live["last_seen_iso"].endswith("Z")
    assert live["labels"] == {"env": "test"} and live["services"] == ["nginx.service", "broken.service"]
    assert live["cpu_count"] and live["mem_total_bytes"] > 0 and live["hostname"]
    assert "identity_file" not in live  # key paths stay on the hub


async def test_unknown_server_is_404(api):
    for path in ("/api/servers/nope", "/api/servers/nope/latest", "/api/servers/nope/timeseries?metric=cpu_pct"):
        r = await api["client"].get(path)
        assert r.status_code == 404 and "nope" in r.json()["detail"], path
    r = await api["client"].post("/api/servers/nope/probe")
    assert r.status_code == 404


async def test_latest_has_gpus_disks_and_services(api):
    r = await api["client"].get("/api/servers/live/latest")
    assert r.status_code == 200
    body = r.json()
    sample = body["sample"]
    assert sample["mem_used_bytes"] > 0 and sample["ts_iso"].endswith("Z")
    assert [g["gpu_index"] for g in sample["gpus"]] == [0, 1]  # the fake nvidia-smi's two A100s
    assert any(d["mount"] == "/" for d in sample["disks"])
    assert {s["unit"]: s["active_state"] for s in sample["services"]} == {"nginx.service": "active",
                                                                          "broken.service": "failed"}


async def test_latest_has_each_interface_and_whether_it_counted(api):
    """Issue 17 item 6: the rates of every interface, which ones the totals count, and the rule."""
    for _ in range(100):  # the rates need a second poll
        body = (await api["client"].get("/api/servers/live/latest")).json()
        if body["net_counting"] is not None:
            break
        await asyncio.sleep(0.1)
    assert body["net_counting"] in ("physical", "virtual")  # this machine's /sys/class/net, read by the probe
    interfaces = {i["name"]: i for i in body["net_interfaces"]}
    assert interfaces["lo"]["counted"] is False and any(i["counted"] for i in interfaces.values())
    assert all(set(i) == {"name", "rx_bps", "tx_bps", "counted"} for i in interfaces.values())


async def test_probe_now_returns_a_full_snapshot(api):
    r = await api["client"].post("/api/servers/live/probe")
    assert r.status_code == 200
    report = r.json()
    assert report["host"] == "live" and report["os"]["hostname"] and report["top_processes"]
    assert report["cpu_pct"] is not None  # the hub had the previous reading: rates are filled


async def test_probe_now_of_an_unreachable_host_is_502_with_the_reason(api):
    r = await api["client"].post("/api/servers/ghost/probe")
    assert r.status_code == 502
    assert r.json()["detail"].startswith("unreachable:")


async def test_service_catalog_marks_watched_units(api):
    r = await api["client"].get("/api/servers/live/services/catalog")
    assert r.status_code == 200
    units = {u["name"]: u for u in r.json()["units"]}
    assert units["nginx.service"]["watched"] is True and units["cron.service"]["watched"] is False
    assert r.json()["available"] is True


async def test_add_update_delete_server_writes_the_inventory(api):
    client, hub, path = api["client"], api["hub"], Path(api["inventory"])
    before = path.read_text()
    r = await client.post("/api/servers", json={"id": "new-1", "address": "127.0.0.1", "port": 2,
                                                "services": ["nginx.service"], "labels": {"role": "web"}})
    assert r.status_code == 201, r.text
    text = path.read_text()
    assert text.startswith("# test fleet\n") and "new-1" in text  # the comment survived
    assert Path(str(path) + ".bak").read_text() == before
    assert "new-1" in hub.specs
    r = await client.put("/api/servers/new-1", json={"services": ["cron.service"], "labels": None})
    assert r.status_code == 200, r.text
    assert r.json()["services"] == ["cron.service"] and r.json()["labels"] == {}
    assert hub.specs["new-1"].services == ("cron.service",)
    r = await client.put("/api/servers/new-1", json={"disks": "all+tmpfs"})
    assert r.status_code == 200 and r.json()["disks"] == "all+tmpfs", r.text
    assert hub.specs["new-1"].disks == "all+tmpfs" and "disks: all+tmpfs" in path.read_text()
    r = await client.put("/api/servers/new-1", json={"interfaces": ["en*", "bond0"]})
    assert r.status_code == 200 and r.json()["interfaces"] == ["en*", "bond0"], r.text
    assert hub.specs["new-1"].interfaces == ("en*", "bond0")
    r = await client.put("/api/servers/new-1", json={"interfaces": ["eth0 eth1"]})
    assert r.status_code == 422 and "invalid interface name or glob" in r.text, r.text
    assert hub.specs["new-1"].interfaces == ("en*", "bond0")
    r = await client.delete("/api/servers/new-1")
    assert r.status_code == 204
    assert "new-1" not in hub.specs and "new-1" not in path.read_text()
    assert (await client.get("/api/servers/new-1")).status_code == 404


@pytest.mark.parametrize("body, status, needle", [
    ({"id": "live", "address": "127.0.0.1"}, 409, "already exists"),
    ({"id": "x1", "address": "127.0.0.1", "services": ["a;touch /tmp/pwned"]}, 422, "services"),
    ({"id": "x2", "address": "127.0.0.1", "port": 70000}, 422, "port"),
    ({"id": "x3"}, 422, "address"),
    ({"id": "x4", "address": "127.0.0.1", "colour": "red"}, 422, "colour"),
    ({"id": "bad id!", "address": "127.0.0.1"}, 422, "id"),
])
async def test_add_server_rejects_bad_input_and_writes_nothing(api, body, status, needle):
    path = Path(api["inventory"])
    before = path.read_text()
    r = await api["client"].post("/api/servers", json=body)
    assert r.status_code == status, r.text
    assert needle in json.dumps(r.json()["detail"])
    assert path.read_text() == before


async def test_an_edit_is_told_every_problem_at_once(api):
    """Issue 18 item 5: one 422 lists each problem (one line each), not the first of them."""
    client, path = api["client"], Path(api["inventory"])
    before = path.read_text()
    r = await client.post("/api/servers", json={"port": "abc", "address": "bad addr!", "colour": "red",
                                                "identity_file": "/etc/passwd"})
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert sorted(p["field"] for p in detail) == ["address", "colour", "id", "identity_file", "port"], detail
    assert all("\n" not in p["text"] and p["message"] in p["text"] for p in detail)
    r = await client.put("/api/servers/live", json={"port": 0, "timeout": "soon", "identity_file": "/etc/k"})
    assert r.status_code == 422, r.text
    assert sorted(p["field"] for p in r.json()["detail"]) == ["identity_file", "port", "timeout"], r.text
    assert path.read_text() == before


async def test_update_unknown_server_is_404(api):
    r = await api["client"].put("/api/servers/nope", json={"port": 22})
    assert r.status_code == 404


# ------------------------------------------------------------------ series
async def test_timeseries_picks_raw_for_short_ranges(api):
    r = await api["client"].get("/api/servers/live/timeseries", params={"metric": "mem_used_bytes"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resolution"] == "raw" and body["unit"] and body["points"]


async def test_timeseries_uses_hourly_rows_for_long_ranges(api):
    r = await api["client"].get("/api/servers/old-1/timeseries",
                                params={"metric": "cpu_pct", "from": NOW - 3 * 86400, "to": NOW})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["resolution"] == "hour" and len(body["points"]) >= 70


@pytest.mark.parametrize("params, needle", [
    ({"metric": "bogus"}, "bogus"),
    ({"metric": "cpu_pct", "from": "2026-11-21T10:00:00Z", "to": "2026-11-21T09:00:00Z"}, "before"),
    ({"metric": "cpu_pct", "from": "yesterday"}, "yesterday"),
    ({"metric": "cpu_pct", "from": NOW - 30 * 86400, "step": "raw"}, "raw"),
])
async def test_timeseries_bad_input_is_400(api, params, needle):
    r = await api["client"].get("/api/servers/live/timeseries", params=params)
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


async def test_compare_gives_avg_and_peak_per_host(api):
    r = await api["client"].get("/api/compare", params={"servers": "old-1,old-2", "metric": "cpu_pct",
                                                        "from": NOW - 3 * 86400})
    assert r.status_code == 200, r.text
    series = {s["host_id"]: s for s in r.json()["series"]}
    assert set(series) == {"old-1", "old-2"}
    assert series["old-2"]["peak"] > series["old-1"]["peak"]


async def test_compare_bad_input(api):
    c = api["client"]
    assert (await c.get("/api/compare", params={"metric": "cpu_pct"})).status_code == 422
    assert (await c.get("/api/compare", params={"servers": "old-1,zzz", "metric": "cpu_pct"})).status_code == 404


# ------------------------------------------------------------------ history
async def test_history_filters_sorts_and_pages(api):
    c = api["client"]
    r = await c.get("/api/history/hourly", params={"server_id": "old-1,old-2", "from": NOW - 10 * 86400,
                                                   "limit": 50, "sort": "-cpu_pct_max"})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 144 and len(page["rows"]) == 50
    peaks = [row["cpu_pct_max"] for row in page["rows"]]
    assert peaks == sorted(peaks, reverse=True)
    r2 = await c.get("/api/history/hourly", params={"server_id": ["old-1", "old-2"], "from": NOW - 10 * 86400,
                                                    "limit": 50, "offset": 50, "sort": "-cpu_pct_max"})
    keys = {(x["host_id"], x["hour"]) for x in page["rows"]}
    assert not keys & {(x["host_id"], x["hour"]) for x in r2.json()["rows"]}


@pytest.mark.parametrize("params, status", [
    ({"limit": 1001}, 422), ({"limit": 0}, 422), ({"offset": -1}, 422), ({"limit": "many"}, 422),
    ({"sort": "password"}, 400), ({"from": "2026-13-45"}, 400),
])
async def test_history_bad_input(api, params, status):
    r = await api["client"].get("/api/history/hourly", params=params)
    assert r.status_code == status, r.text
    assert "detail" in r.json()


async def test_history_csv_export_opens_as_csv(api):
    r = await api["client"].get("/api/history/hourly.csv", params={"server_id": "old-3", "from": NOW - 10 * 86400})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 72 and {"host_id", "hour", "cpu_pct_avg", "cpu_pct_max"} <= set(rows[0])
    assert {row["host_id"] for row in rows} == {"old-3"}


async def test_history_csv_bad_sort_is_400(api):
    r = await api["client"].get("/api/history/hourly.csv", params={"sort": "nope"})
    assert r.status_code == 400


# ------------------------------------------------------------------ events
async def test_events_filter_by_type_and_host_newest_first(api):
    r = await api["client"].get("/api/events", params={"type": "gpu_hot", "server_id": "old-1", "limit": 5})
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 5 and all(e["type"] == "gpu_hot" and e["host_id"] == "old-1" for e in page["rows"])
    ts = [e["ts"] for e in page["rows"]]
    assert ts == sorted(ts, reverse=True)


@pytest.mark.parametrize("params, status", [({"type": "made_up"}, 400), ({"limit": 5000}, 422),
                                            ({"from": "soon"}, 400)])
async def test_events_bad_input(api, params, status):
    assert (await api["client"].get("/api/events", params=params)).status_code == status


# ------------------------------------------------------------------ health, inventory, docs
async def test_healthz(api):
    r = await api["client"].get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok" and r.json()["hosts"] >= 2


async def test_invalid_inventory_edit_keeps_the_old_one_and_is_reported(api):
    client, path = api["client"], Path(api["inventory"])
    good = path.read_text()
    try:
        path.write_text(good.replace("hosts:", "hosts:\n- {id: broken host, address: 1.2.3.4}", 1))
        for _ in range(50):
            status = (await client.get("/api/inventory/status")).json()
            if not status["ok"]:
                break
            await asyncio.sleep(0.1)
        assert status["ok"] is False and status["problems"]
        assert status["problems"][0]["line"] and status["problems"][0]["field"] == "id"
        servers = {s["id"] for s in (await client.get("/api/servers")).json()}
        assert {"live", "ghost"} <= servers  # still the previous inventory
    finally:
        path.write_text(good)
    for _ in range(50):
        if (await client.get("/api/inventory/status")).json()["ok"]:
            break
        await asyncio.sleep(0.1)
    assert (await client.get("/api/inventory/status")).json()["ok"] is True


async def test_openapi_lists_every_endpoint(api):
    r = await api["client"].get("/openapi.json")
    paths = set(r.json()["paths"])
    assert {"/api/servers", "/api/servers/{host_id}", "/api/servers/{host_id}/latest",
            "/api/servers/{host_id}/probe", "/api/servers/{host_id}/services/catalog",
            "/api/servers/{host_id}/timeseries", "/api/history/hourly", "/api/history/hourly.csv",
            "/api/compare", "/api/events", "/healthz", "/api/inventory/status", "/api/gpus", "/api/gpus/users",
            "/api/gpus/users.csv"} <= paths
    assert (await api["client"].get("/docs")).status_code == 200


# ------------------------------------------------------------------ probe --via
async def test_probe_via_asks_the_running_hub(api, capsys, monkeypatch):
    monkeypatch.setenv("FLEETWATCH_TOKEN", api["token"])
    connects = api["hub"].pool.get("live").connects
    code = await asyncio.to_thread(cli_main, ["probe", "live", "--via", api["base"], "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["host"] == "live" and code in (0, 3)
    assert api["hub"].pool.get("live").connects == connects  # the hub's open connection was used


async def test_probe_via_needs_a_token(api, capsys, monkeypatch):
    monkeypatch.delenv("FLEETWATCH_TOKEN", raising=False)
    assert await asyncio.to_thread(cli_main, ["probe", "live", "--via", api["base"]]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "FLEETWATCH_TOKEN" in err and "Traceback" not in err


async def test_probe_via_unknown_host_and_dead_hub(api, capsys, monkeypatch):
    monkeypatch.setenv("FLEETWATCH_TOKEN", api["token"])
    assert await asyncio.to_thread(cli_main, ["probe", "nope", "--via", api["base"]]) == 2
    assert "404" in capsys.readouterr().err
    code = await asyncio.to_thread(cli_main, ["probe", "live", "--via", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 1 and "cannot reach the hub" in err and "Traceback" not in err


async def test_metrics_catalog_lists_units(api):
    r = await api["client"].get("/api/metrics")
    metrics = r.json()["metrics"]
    assert r.status_code == 200 and "cpu_pct" in metrics and "gpu_util_pct" in metrics
    assert all(m["unit"] for m in metrics.values())
