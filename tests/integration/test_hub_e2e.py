"""`fleetwatch serve` end to end: real sshd hosts, a real hub process, a real SQLite file.

One run of about half a minute drives a small fleet through what a server room
does (a unit fails and recovers, a host goes away and comes back, a host
hangs, the hub is killed) and the tests below check what the hub recorded.
"""
from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.hubproc import HubProcess, host_entry, write_inventory
from tests.support.sshd import start_sshd

HOSTS = ("alpha", "beta", "gamma")
# the scenario runs at twice the default pace (5 s): the same polls, events and timings in half the time
INTERVAL_S = 2.5
TIMEOUT_S = 2


def _db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def _q(path: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    with _db(path) as conn:
        return conn.execute(sql, args).fetchall()


def _wait(what: str, check: Callable[[], Any], timeout: float, hub: HubProcess) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n--- hub log ---\n{hub.log()[-4000:]}")


def _events(db: Path, host: str, type_: str) -> list[sqlite3.Row]:
    return _q(db, "SELECT * FROM events WHERE host_id=? AND type=? ORDER BY ts", host, type_)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    """Run the scenario once; the tests assert on what it recorded."""
    tmp = tmp_path_factory.mktemp("fleet")
    servers = {name: start_sshd() for name in HOSTS}
    hang = start_sshd("ForceCommand sleep 30\n")  # every command on this host hangs for 30 s
    inventory = write_inventory(tmp / "hosts.yaml", [
        host_entry(servers["alpha"], "alpha"),
        host_entry(servers["beta"], "beta", services=["nginx.service"]),
        host_entry(servers["gamma"], "gamma"),
        host_entry(hang, "hung"),
    ], interval=f"{INTERVAL_S}s", timeout=f"{TIMEOUT_S}s")
    db = tmp / "fleet.db"
    hub = HubProcess(inventory, db)
    out: dict[str, Any] = {"db": db}
    hubs = [hub]
    try:
        hub.start()
        out["started"] = time.time()
        _wait("a first sample from each host",
              lambda: len(_q(db, "SELECT DISTINCT host_id FROM samples")) >= 3, 20, hub)
        # beta: a watched unit fails, then recovers
        unit_dir = servers["beta"].fakebin / "unit-state"
        unit_dir.mkdir(exist_ok=True)
        (unit_dir / "nginx.service").write_text("failed failed\n")
        _wait("service_failed on beta", lambda: _events(db, "beta", "service_failed"), 20, hub)
        (unit_dir / "nginx.service").write_text("active running\n")
        _wait("service_recovered on beta", lambda: _events(db, "beta", "service_recovered"), 20, hub)
        # gamma: goes off the network, then comes back with the same host key
        out["gamma_down_at"] = time.time()
        servers["gamma"].go_down()
        _wait("host_down on gamma", lambda: _events(db, "gamma", "host_down"), 45, hub)
        out["gamma_restart_at"] = time.time()
        servers["gamma"].restart()
        _wait("host_up on gamma", lambda: _events(db, "gamma", "host_up"), 45, hub)
        time.sleep(INTERVAL_S * 1.2)  # one more poll of every host after recovery
        out["api_servers"] = {s["id"]: s for s in hub.get("/api/servers")}
        # the hub is killed mid-run, then started again on the same database
        out["ids_before_kill"] = {r[0] for r in _q(db, "SELECT id FROM samples")}
        hub.kill()
        out["killed_at"] = time.time()
        out["restarted_at"] = time.time()
        hub2 = HubProcess(inventory, db)
        hubs.append(hub2)
        hub2.start()
        out["rollups_after_restart"] = _q(db, "SELECT * FROM samples_hourly")
        out["ids_after_restart"] = {r[0] for r in _q(db, "SELECT id FROM samples")}
        out["log"] = hub.log() + hub2.log()
        yield out
    finally:
        for h in hubs:
            h.stop()
        for s in (*servers.values(), hang):
            s.stop()
            shutil.rmtree(s.root, ignore_errors=True)


def _sample_times(db: Path, host: str, until: float) -> list[float]:
    return [r[0] for r in _q(db, "SELECT ts FROM samples WHERE host_id=? AND ts<? ORDER BY ts", host, until)]


def test_each_host_is_sampled_every_interval_while_another_hangs(fleet):
    """alpha and beta keep their cadence (2.5 s ± 0.5 s) for the whole run; hung's 30 s probes delay nobody."""
    db = fleet["db"]
    for host in ("alpha", "beta"):
        times = _sample_times(db, host, fleet["killed_at"])
        assert len(times) >= 8, f"{host}: only {len(times)} samples"
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert all(INTERVAL_S - 0.5 <= g <= INTERVAL_S + 0.5 for g in gaps), \
            f"{host}: gaps {[round(g, 2) for g in gaps]}"
    assert not _q(db, "SELECT 1 FROM samples WHERE host_id='hung'")
    hung = fleet["api_servers"]["hung"]
    assert hung["state"] == "down"
    assert f"{TIMEOUT_S} s" in hung["last_error"] or "took longer" in hung["last_error"]


def test_host_down_after_three_failed_polls_and_up_once_back(fleet):
    db = fleet["db"]
    downs, ups = _events(db, "gamma", "host_down"), _events(db, "gamma", "host_up")
    assert len(downs) == 1 and len(ups) == 1, "each recorded exactly once"
    # three polls an interval apart: the first failure comes at the next poll, the third two intervals later
    assert downs[0]["ts"] - fleet["gamma_down_at"] >= 2 * INTERVAL_S - 0.5
    assert ups[0]["ts"] > fleet["gamma_restart_at"]
    assert "3" in downs[0]["message"]
    # no sample while it was away
    gap = _q(db, "SELECT COUNT(*) FROM samples WHERE host_id='gamma' AND ts>? AND ts<?",
             fleet["gamma_down_at"] + 0.5, fleet["gamma_restart_at"])
    assert gap[0][0] == 0
    assert fleet["api_servers"]["gamma"]["state"] == "up"


def test_service_failed_then_recovered(fleet):
    db = fleet["db"]
    failed, recovered = _events(db, "beta", "service_failed"), _events(db, "beta", "service_recovered")
    assert len(failed) == 1 and len(recovered) == 1
    assert failed[0]["subject"] == "nginx.service" and recovered[0]["ts"] > failed[0]["ts"]
    states = [r[0] for r in _q(db, "SELECT active_state FROM service_samples WHERE host_id='beta' ORDER BY ts")]
    assert "failed" in states and states[-1] == "active"


def test_nothing_recorded_twice(fleet):
    db = fleet["db"]
    assert not _q(db, "SELECT host_id, ts FROM samples GROUP BY host_id, ts HAVING COUNT(*) > 1")
    assert not _q(db, "SELECT host_id, type, subject, ts FROM events GROUP BY host_id, type, subject, ts "
                      "HAVING COUNT(*) > 1")
    assert not _q(db, "SELECT host_id, hour FROM samples_hourly GROUP BY host_id, hour HAVING COUNT(*) > 1")


def test_sigkill_loses_no_committed_sample(fleet):
    assert fleet["ids_before_kill"], "samples were stored before the kill"
    assert fleet["ids_before_kill"] <= fleet["ids_after_restart"]


def test_hourly_rollup_is_complete_after_restart(fleet):
    """The restarted hub rolled up the hour of the kill from every stored sample, once."""
    db = fleet["db"]
    rows = [r for r in fleet["rollups_after_restart"] if r["host_id"] in ("alpha", "beta", "gamma")]
    kill_hour = int(fleet["killed_at"]) // 3600 * 3600
    by_host = {r["host_id"]: r for r in rows if r["hour"] == kill_hour}
    assert set(by_host) == {"alpha", "beta", "gamma"}, [tuple(r) for r in fleet["rollups_after_restart"]]
    for host, row in by_host.items():
        stored = _q(db, "SELECT COUNT(*), AVG(cpu_pct), MAX(cpu_pct) FROM samples "
                        "WHERE host_id=? AND ts>=? AND ts<?", host, kill_hour, fleet["restarted_at"])[0]
        assert row["sample_count"] == stored[0], host
        assert row["cpu_pct_avg"] == pytest.approx(stored[1])
        assert row["cpu_pct_max"] == pytest.approx(stored[2])


def test_no_traceback_in_the_hub_log(fleet):
    assert "Traceback" not in fleet["log"], fleet["log"][-4000:]
