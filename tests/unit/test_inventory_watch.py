"""Live reload of the inventory file (SPEC section 2): real files, real polling."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import datetime
from pathlib import Path

import pytest

from inventory import Inventory, InventoryError, InventoryWatcher, InventoryWriter


def hosts_yaml(*ids: str) -> str:
    return "hosts:\n" + "".join(f"  - id: {i}\n    address: {i}.lan\n" for i in ids)


class Recorder:
    """on_change target that remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[Inventory] = []

    async def __call__(self, inventory: Inventory) -> None:
        self.calls.append(inventory)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    p = tmp_path / "hosts.yaml"
    p.write_text(hosts_yaml("a", "b"))
    return p


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


async def test_valid_edit_is_picked_up(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    first = watcher.load_initial()
    assert first.host_ids == ["a", "b"] and watcher.status.ok and watcher.status.hosts == 2
    assert await watcher.check() is False  # nothing changed
    path.write_text(hosts_yaml("a", "b", "c"))
    assert await watcher.check() is True
    assert [inv.host_ids for inv in rec.calls] == [["a", "b", "c"]]
    assert watcher.inventory is rec.calls[0]
    assert watcher.status.ok and watcher.status.hosts == 3 and watcher.status.error is None


async def test_plain_function_callback(path: Path):
    seen: list[list[str]] = []
    watcher = InventoryWatcher(path, lambda inv: seen.append(inv.host_ids))
    watcher.load_initial()
    path.write_text(hosts_yaml("z"))
    assert await watcher.check() is True
    assert seen == [["z"]]


async def test_invalid_edit_keeps_old_inventory_and_reports(path: Path, rec: Recorder, caplog):
    watcher = InventoryWatcher(path, rec, clock=lambda: 1_700_000_000.0)
    good = watcher.load_initial()
    path.write_text(hosts_yaml("a", "b") + "    port: 99999\n")
    with caplog.at_level(logging.WARNING, logger="inventory.watch"):
        assert await watcher.check() is False
        assert await watcher.check() is False  # same bad content: warned once only
    assert watcher.inventory is good and rec.calls == []
    status = watcher.status
    assert not status.ok and status.hosts == 2
    [problem] = status.problems
    assert (problem.file, problem.line, problem.host, problem.field) == (str(path), 6, "b", "port")
    assert status.error.startswith("hosts.yaml:6: host 'b': field 'port': ")
    when = datetime.fromtimestamp(1_700_000_000).astimezone().isoformat(timespec="seconds")
    assert status.error.endswith(f"; keeping the inventory loaded at {when}")
    assert sum("port" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING) == 1
    data = json.loads(json.dumps(status.to_dict()))
    assert data["ok"] is False and data["problems"][0]["line"] == 6 and data["problems"][0]["field"] == "port"
    assert data["loaded_at"] == 1_700_000_000.0 and data["loaded_at_iso"] == when
    assert data["checked_at_iso"] is not None

    path.write_text(hosts_yaml("a", "c"))  # fixed
    assert await watcher.check() is True
    assert watcher.status.ok and watcher.status.problems == [] and watcher.status.error is None
    assert rec.calls[-1].host_ids == ["a", "c"]


async def test_two_problems_summary(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    watcher.load_initial()
    path.write_text(hosts_yaml("a", "b") + "    port: 0\n    colour: red\n")
    assert await watcher.check() is False
    assert watcher.status.error.startswith("hosts.yaml: 2 problems; keeping the inventory loaded at ")
    assert [p.field for p in watcher.status.problems] == ["port", "colour"]


async def test_reverting_to_the_loaded_content_does_not_reapply(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    watcher.load_initial()
    good = path.read_text()
    path.write_text("hosts: [\n")
    assert await watcher.check() is False and not watcher.status.ok
    path.write_text(good)
    assert await watcher.check() is False  # same inventory as before: nothing to apply
    assert watcher.status.ok and rec.calls == []


async def test_deleted_file_keeps_old_inventory(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    good = watcher.load_initial()
    path.unlink()
    assert await watcher.check() is False
    assert watcher.inventory is good
    assert not watcher.status.ok and "file not found" in watcher.status.error
    assert watcher.status.problems[0].message == "file not found"
    path.write_text(hosts_yaml("x"))
    assert await watcher.check() is True and rec.calls[-1].host_ids == ["x"]


async def test_missing_file_at_start_gives_empty_inventory_and_waits(tmp_path: Path, rec: Recorder):
    path = tmp_path / "hosts.yaml"
    watcher = InventoryWatcher(path, rec)
    inv = watcher.load_initial()
    assert inv.hosts == [] and watcher.status.ok
    assert watcher.status.error == "file not found; waiting for it"
    assert await watcher.check() is False and watcher.status.ok
    path.write_text(hosts_yaml("a"))
    assert await watcher.check() is True and rec.calls[-1].host_ids == ["a"]


def test_invalid_file_at_start_raises(path: Path, rec: Recorder):
    path.write_text("hosts:\n  - id: a\n")
    watcher = InventoryWatcher(path, rec)
    with pytest.raises(InventoryError):
        watcher.load_initial()
    assert watcher.inventory is None and not watcher.status.ok
    assert watcher.status.problems[0].field == "address"


async def test_touch_without_change_does_not_reload(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    watcher.load_initial()
    st = path.stat()
    os.utime(path, (st.st_atime + 10, st.st_mtime + 10))
    path.write_bytes(path.read_bytes())
    assert await watcher.check() is False
    assert rec.calls == []


async def test_non_utf8_file_is_reported(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    watcher.load_initial()
    path.write_bytes(b"hosts:\n  - id: \xff\n")
    assert await watcher.check() is False
    assert watcher.status.problems[0].line == 2 and "UTF-8" in watcher.status.problems[0].message


async def test_run_picks_up_edit_within_two_intervals(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec, interval_s=0.1)
    watcher.load_initial()
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.sleep(0.05)
        path.write_text(hosts_yaml("a", "b", "c"))
        for _ in range(25):  # 2 intervals plus slack for a slow machine
            await asyncio.sleep(0.01)
            if rec.calls:
                break
        assert [inv.host_ids for inv in rec.calls] == [["a", "b", "c"]]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_survives_a_failing_callback(path: Path, caplog):
    calls: list[int] = []

    def boom(inventory: Inventory) -> None:
        calls.append(len(inventory.hosts))
        raise RuntimeError("hub exploded")

    watcher = InventoryWatcher(path, boom, interval_s=0.05)
    watcher.load_initial()
    task = asyncio.create_task(watcher.run())
    try:
        path.write_text(hosts_yaml("a"))
        await asyncio.sleep(0.2)
        path.write_text(hosts_yaml("a", "b", "c"))
        await asyncio.sleep(0.2)
        assert calls == [1, 3]
        assert not task.done()
        assert "hub exploded" in caplog.text
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_note_written_prevents_duplicate_on_change(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec, clock=iter(range(100, 200)).__next__)
    watcher.load_initial()
    new = InventoryWriter(path).add_host({"id": "c", "address": "c.lan"})
    watcher.note_written(new)
    assert watcher.inventory is new and watcher.status.hosts == 3 and watcher.status.ok
    assert watcher.status.loaded_at == 101
    assert await watcher.check() is False
    assert rec.calls == []


async def test_note_written_during_a_check_wins(path: Path, rec: Recorder):
    watcher = InventoryWatcher(path, rec)
    watcher.load_initial()
    path.write_text(hosts_yaml("user-edit"))
    task = asyncio.create_task(watcher.check())
    await asyncio.sleep(0)  # the check has read the file and is parsing it in a thread
    new = InventoryWriter(path).add_host({"id": "api", "address": "api.lan"})
    watcher.note_written(new)
    assert await task is False
    assert watcher.inventory is new and rec.calls == []
    assert await watcher.check() is False


async def test_a_hand_edit_saved_between_the_write_and_note_written_is_loaded(path: Path, rec: Recorder):
    """The hub adopts the bytes its writer wrote, not what the file holds a moment later."""
    watcher = InventoryWatcher(path, rec)
    watcher.load_initial()
    writer = InventoryWriter(path)
    new = writer.add_host({"id": "api", "address": "api.lan"})
    with path.open("a", encoding="utf-8") as f:  # saved by hand right after the API's write
        f.write("  - id: by-hand\n    address: by-hand.lan\n")
    watcher.note_written(new, writer.last_written)
    assert watcher.inventory is new
    assert await watcher.check() is True, "the hand edit was taken for the hub's own write"
    assert rec.calls[-1].host_ids == ["a", "b", "api", "by-hand"]
