"""`fleetwatch serve` stopped the way a service manager stops it (SIGTERM): a clean exit that keeps everything."""
from __future__ import annotations

import sqlite3
import time

from tests.support.hubproc import HubProcess, host_entry, write_inventory


def test_sigterm_flushes_rolls_up_and_exits_zero(sshd, tmp_path):
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "term-host")])
    hub = HubProcess(inventory, tmp_path / "term.db").start()
    try:
        deadline = time.monotonic() + 30
        while hub.get("/api/servers/term-host/latest")["sample"] is None:
            assert time.monotonic() < deadline, hub.log()
            time.sleep(0.2)
    finally:
        code = hub.stop()  # SIGTERM
    log = hub.log()
    assert code == 0, log
    assert "Traceback" not in log, log
    with sqlite3.connect(tmp_path / "term.db") as db:
        samples = db.execute("SELECT count(*) FROM samples WHERE host_id = 'term-host'").fetchone()[0]
        rolled = db.execute("SELECT coalesce(sum(sample_count), 0) FROM samples_hourly "
                            "WHERE host_id = 'term-host'").fetchone()[0]
    assert samples >= 1 and rolled == samples, "the stop wrote every sample and rolled them all up"
