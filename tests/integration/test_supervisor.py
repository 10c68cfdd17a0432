"""`fleetwatch serve` supervises its collector workers and its web process (issue 15, item 2).

A real serve (supervisor, two workers, the web) polls two real sshd hosts; a
worker and then the web process are killed with SIGKILL: each is back within
5 s, the log and /healthz say so, and both hosts keep being sampled.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import urllib.error
import urllib.request

from tests.support.hubproc import HubProcess, host_entry, write_inventory

RESTART_WITHIN_S = 5.0


def _health(hub: HubProcess) -> dict | None:
    try:
        with urllib.request.urlopen(f"{hub.url}/healthz", timeout=5) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except OSError:
        return None  # the web process is down


def _proc(health: dict | None, name: str) -> dict | None:
    for proc in (health or {}).get("processes", ()):
        if proc["id"].endswith(f"/{name}") and proc["alive"]:
            return proc
    return None


def _wait(what: str, check, timeout: float, hub: HubProcess):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} not within {timeout} s\n{hub.log()[-3000:]}"
        time.sleep(0.1)


def _last_sample(db, host: str) -> float:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT max(ts) FROM samples WHERE host_id = ?", (host,)).fetchone()[0] or 0.0


def test_a_killed_worker_and_a_killed_web_process_are_restarted_within_5_s(sshd, tmp_path):
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "sv-a"), host_entry(sshd, "sv-b")],
                                interval="1s")
    hub = HubProcess(inventory, tmp_path / "sv.db", extra=["--workers", "2", "--no-backup"]).start()
    try:
        health = _wait("both workers up", lambda: (h := _health(hub)) and _proc(h, "worker-0") and
                       _proc(h, "worker-1") and h["hosts"] == 2 and h, 30, hub)
        old = _proc(health, "worker-0")
        os.kill(old["pid"], signal.SIGKILL)
        killed_at = time.monotonic()
        new = _wait("worker-0 back", lambda: (p := _proc(_health(hub), "worker-0")) and p["pid"] != old["pid"] and p,
                    30, hub)
        back_in = time.monotonic() - killed_at
        assert back_in <= RESTART_WITHIN_S + 1.0, f"worker-0 back after {back_in:.1f} s"
        assert new["restarts"] == 1, new
        log = hub.log()
        assert f"worker-0 (pid {old['pid']}) exited with code -9; restarting it" in log, log[-2000:]
        assert "worker-0 restarted (pid" in log

        after = time.time()
        _wait("both hosts sampled after the restart",
              lambda: all(_last_sample(tmp_path / "sv.db", h) > after + 1 for h in ("sv-a", "sv-b")), 20, hub)

        web = _proc(_health(hub), "web")
        os.kill(web["pid"], signal.SIGKILL)
        killed_at = time.monotonic()
        back = _wait("the web back", lambda: (p := _proc(_health(hub), "web")) and p["pid"] != web["pid"] and p,
                     30, hub)
        assert time.monotonic() - killed_at <= RESTART_WITHIN_S + 3.0, "the web answers again within 5 s"
        assert back["restarts"] == 1 and "web restarted (pid" in hub.log()
        sup = _proc(_health(hub), "supervisor")
        assert sup is not None and sup["children"]["web"]["restarts"] == 1 and \
            sup["children"]["worker-0"]["restarts"] == 1 and sup["children"]["worker-1"]["restarts"] == 0
    finally:
        code = hub.stop()
    assert code == 0, hub.log()[-2000:]
