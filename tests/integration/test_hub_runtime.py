"""The hub in-process: live inventory reload, upkeep jobs, PostgreSQL storage."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlmodel import Session

from collector.hub import Hub, HubOptions
from schema import samples as store
from schema.db import make_engine, sqlite_path
from schema.history import query_hourly
from schema.migrate import upgrade
from tests.support.hubproc import host_entry, write_inventory
from tests.support.waiting import until


_until = until



def _report(hub, host_id: str):
    """The host's newest report as the hub stored it (host_latest, written in each flush)."""
    from schema import fleet

    with Session(hub.engine) as s:
        return fleet.host_now(s, host_id).report

def _hub(inventory: Path, url: str, **options) -> Hub:
    upgrade(url, log=lambda _m: None)
    opts = {"backup_every_s": 0, "inventory_check_s": 0.2, **options}
    return Hub(inventory, make_engine(url), HubOptions(**opts))


async def test_inventory_edits_apply_live(sshd, tmp_path):
    """New hosts connect, removed ones disconnect, changed ones reconnect, unchanged ones keep theirs."""
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "keep"), host_entry(sshd, "change"),
                                                     host_entry(sshd, "drop")])
    hub = _hub(path, f"sqlite:///{tmp_path / 'h.db'}")
    await hub.start()
    try:
        await _until("first polls", lambda: all(hub.pool.get(h).connected for h in ("keep", "change", "drop")))
        keep_conn = hub.pool.get("keep")
        change_conn = hub.pool.get("change")
        write_inventory(path, [host_entry(sshd, "keep"), host_entry(sshd, "change", timeout="7s"),
                               host_entry(sshd, "added", services=["nginx.service"])])
        edited = time.monotonic()
        await _until("the edit to apply", lambda: "added" in hub.specs and "drop" not in hub.specs)
        assert time.monotonic() - edited < 5
        assert "drop" not in hub.pool and hub.pool.get("keep") is keep_conn and keep_conn.connects == 1
        assert hub.pool.get("change") is not change_conn and not change_conn.connected
        await _until("the new host's first sample", lambda: _report(hub, "added") is not None)
        # labels or services changing keeps the connection (they only change what the probe asks)
        write_inventory(path, [host_entry(sshd, "keep", services=["nginx.service"], labels={"a": "b"}),
                               host_entry(sshd, "change", timeout="7s"),
                               host_entry(sshd, "added", services=["nginx.service"])])
        await _until("services to apply", lambda: hub.specs["keep"].services == ("nginx.service",))
        assert hub.pool.get("keep") is keep_conn
        await _until("a probe with the service",
                     lambda: (_report(hub, "keep") or {}).get("services"), timeout=12)
        with Session(hub.engine) as s:
            assert store.get_host(s, "drop").removed_at is not None  # history is kept, marked removed
    finally:
        await hub.stop()


async def test_invalid_edit_keeps_hosts_polling(sshd, tmp_path):
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "one")])
    hub = _hub(path, f"sqlite:///{tmp_path / 'h.db'}")
    await hub.start()
    try:
        path.write_text(path.read_text() + "  bogus_key: 1\n")
        await _until("the error to show", lambda: not hub.watcher.status.ok)
        polls = hub.poller.runtime("one").polls
        await _until("polling to go on", lambda: hub.poller.runtime("one").polls > polls, timeout=12)
        assert "one" in hub.specs and hub.watcher.status.problems
    finally:
        await hub.stop()


async def test_backup_and_retention_jobs(sshd, tmp_path):
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "one")])
    url = f"sqlite:///{tmp_path / 'h.db'}"
    hub = _hub(path, url, raw_keep_s=3.0, backup_dir=tmp_path / "bk")
    await hub.start()
    try:
        await _until("two samples stored", lambda: _count(hub) >= 2, timeout=15)
        backup = await hub.backup()
        assert backup is not None and backup.parent == tmp_path / "bk" and backup.stat().st_size > 0
        assert hub.last_backup["ok"] is True
        removed = await hub.retention(now=time.time() + 2 * 3600)  # two hours on: the raw window has passed
        assert removed["samples"] >= 2
        with Session(hub.engine) as s:  # what retention removed was rolled up first
            page = query_hourly(s, host_ids=["one"], start=None, end=None)
        assert page.total >= 1 and page.rows[0]["sample_count"] >= 2
    finally:
        await hub.stop()
    assert sqlite_path(url).exists()


def _count(hub: Hub) -> int:
    with Session(hub.engine) as s:
        return store.count_samples(s, "one")


async def test_hub_stores_and_rolls_up_on_postgresql(sshd, pg_url, tmp_path):
    """The database URL selects PostgreSQL: samples, child rows, events and rollups land there."""
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "pg-host", services=["broken.service"])])
    hub = _hub(path, pg_url)
    await hub.start()
    try:
        await _until("two samples in PostgreSQL", lambda: _count_pg(hub) >= 2, timeout=15)
        assert await hub.fill_rollups(complete=True) >= 1
        with Session(hub.engine) as s:
            latest = store.latest_sample(s, "pg-host")
            page = query_hourly(s, host_ids=["pg-host"], start=None, end=None)
        assert latest["mem_total_bytes"] > 2**31  # 64-bit columns
        assert [g["gpu_index"] for g in latest["gpus"]] == [0, 1]
        assert page.total == 1 and page.rows[0]["sample_count"] >= 2
    finally:
        await hub.stop()
    assert hub.engine.dialect.name == "postgresql"


def _count_pg(hub: Hub) -> int:
    with Session(hub.engine) as s:
        return store.count_samples(s, "pg-host")


@pytest.mark.parametrize("argv, needle", [
    (["serve", "--listen", "nowhere"], "listen address"),
    (["serve", "--raw-retention", "forever"], "duration"),
    (["serve", "--raw-retention", "0s"], "longer than 0"),
])
def test_serve_rejects_bad_arguments(argv, needle, capsys):
    from collector.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and needle in capsys.readouterr().err


def test_serve_refuses_an_invalid_inventory(tmp_path, capsys):
    from collector.cli import main

    bad = tmp_path / "hosts.yaml"
    bad.write_text("hosts:\n  - id: a\n    address: 10.0.0.1\n    port: seventy\n")
    code = main(["serve", "--inventory", str(bad), "--db", f"sqlite:///{tmp_path / 'x.db'}", "--listen",
                 "127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2 and "port" in err and "line 4" in err or ":4:" in err
    assert "Traceback" not in err


async def test_wrong_key_and_changed_host_key_are_recorded_at_once(sshd, tmp_path):
    """auth_failed and host_key_mismatch need no 3 polls: retrying will not fix them."""
    import asyncssh

    from schema.event_queries import query_events
    from tests.support.sshd import write_key

    stranger = write_key(asyncssh.generate_private_key("ssh-ed25519"), tmp_path / "stranger_key")
    other_known = tmp_path / "known_hosts"
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2]
    other_known.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other)}\n")
    path = write_inventory(tmp_path / "hosts.yaml", [
        host_entry(sshd, "badkey", identity_file=str(stranger)),
        host_entry(sshd, "mitm", known_hosts=str(other_known)),
    ])
    hub = _hub(path, f"sqlite:///{tmp_path / 'h.db'}")
    await hub.start()
    try:
        await _until("both failures", lambda: hub.poller.runtime("badkey").status.state == "auth_failed"
                     and hub.poller.runtime("mitm").status.state == "host_key_mismatch", timeout=12)
        assert "authorized_keys" in hub.poller.runtime("badkey").status.last_error
        assert "HOST KEY CHANGED" in hub.poller.runtime("mitm").status.last_error
        await hub.writer.flush()
        with Session(hub.engine) as s:
            types = {(e["host_id"], e["type"]) for e in query_events(s, types=None, host_ids=None).rows}
        assert {("badkey", "auth_failed"), ("mitm", "host_key_mismatch")} <= types
    finally:
        await hub.stop()


async def test_gpu_hot_from_the_fake_driver(sshd, tmp_path):
    """A GPU reaching 85 °C on the host gives one gpu_hot event for that GPU."""
    from schema.event_queries import query_events

    temp_file = sshd.fakebin / "gpu0_temp"
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "gpu-box", gpu="nvidia")])
    hub = _hub(path, f"sqlite:///{tmp_path / 'h.db'}")
    await hub.start()
    try:
        await _until("a first sample", lambda: _report(hub, "gpu-box") is not None)
        temp_file.write_text("85\n")
        await _until("gpu_hot", lambda: _report(hub, "gpu-box")["gpus"][0]["temperature_c"] == 85,
                     timeout=12)
        await hub.writer.flush()
        with Session(hub.engine) as s:
            rows = query_events(s, types=["gpu_hot"], host_ids=["gpu-box"]).rows
        assert len(rows) == 1 and rows[0]["subject"] == "0" and "85" in rows[0]["message"]
    finally:
        temp_file.unlink(missing_ok=True)
        await hub.stop()


async def test_gpu_lost_from_the_fake_driver_and_no_storm_from_a_driver_failure(sshd, tmp_path):
    """A driver failure for the whole host is a degraded host, not a gpu_lost per card; a card answering
    [Unknown Error] gives one gpu_lost that names it."""
    from schema.event_queries import query_events

    mode_file = sshd.fakebin / "FAKE_NVIDIA_MODE"
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "gpu-box", gpu="nvidia")], interval="1s")
    hub = _hub(path, f"sqlite:///{tmp_path / 'h.db'}")

    async def polls_after(what: str, check, count: int = 1):
        """Wait for a report that passes `check`, then for `count` more reports."""
        report = await _until(what, lambda: (r := _report(hub, "gpu-box")) is not None and check(r) and r,
                              timeout=15)
        for _ in range(count):
            ts = report["ts"]
            report = await _until(f"another poll ({what})", lambda: (r := _report(hub, "gpu-box"))["ts"] > ts
                                  and check(r) and r, timeout=15)

    await hub.start()
    try:
        await polls_after("two cards", lambda r: len(r["gpus"]) == 2 and not r["errors"])
        mode_file.write_text("driver-error\n")
        await polls_after("the driver failure", lambda r: "NVIDIA driver" in r["errors"].get("nvidia", ""), 2)
        mode_file.unlink()
        await polls_after("the driver back", lambda r: len(r["gpus"]) == 2 and not r["errors"])
        mode_file.write_text("unknown-error\n")
        await polls_after("card 1 lost", lambda r: [g["lost"] for g in r["gpus"]] == [False, True], 2)
        await hub.writer.flush()
        with Session(hub.engine) as s:
            rows = query_events(s, types=["gpu_lost"], host_ids=["gpu-box"]).rows
        assert [r["subject"] for r in rows] == ["1"]
        assert "GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10" in rows[0]["message"] and "dmesg" in rows[0]["message"]
    finally:
        mode_file.unlink(missing_ok=True)
        await hub.stop()


async def test_stopping_while_a_flush_runs_loses_nothing_and_logs_no_error(sshd, tmp_path, caplog):
    """The scheduler cancels the jobs in flight when the hub stops: that is the stop, not an error, and the
    batch that flush was writing still reaches the database."""
    path = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "one")], interval="1s")
    hub = _hub(path, f"sqlite:///{tmp_path / 'stop.db'}", flush_every_s=0.01)
    await hub.start()
    try:
        await _until("a sample stored", lambda: _count(hub) >= 1, timeout=15)
        deadline = time.monotonic() + 15
        while not hub.writer._lock.locked():  # a flush writing a sample on the database thread right now
            assert time.monotonic() < deadline, "no flush seen in flight"
            await asyncio.sleep(0.0005)
    finally:
        await hub.stop()
    last_report = _report(hub, "one")  # the newest report, written in the same flush as its sample
    errors = [r for r in caplog.records if r.levelno >= 40]
    assert errors == [], [r.getMessage() for r in errors]
    with Session(hub.engine) as s:
        newest = store.latest_sample(s, "one")
    assert newest is not None and newest["ts"] == last_report["ts"]  # the last poll's sample was written
