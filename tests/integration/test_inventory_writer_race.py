"""The API's inventory writes against a person editing the same file (issue 14, item 5).

The writer reads, edits and atomically replaces the file; a hand edit that lands in between
must not vanish: the writer notices (the file's bytes are no longer what it read), redoes its
edit on the new content, or says it cannot (InventoryConflict, 409 from the API).
"""
from __future__ import annotations

import random
import subprocess
import threading
import time
from pathlib import Path

import pytest

from inventory import InventoryError, InventoryWriter, load_inventory
from inventory.errors import InventoryConflict
from webapp import inventory_edits as edits

BASE = """\
# fleet -- hand-maintained
defaults:
  user: monitor

hosts:
  - id: base-1
    address: 10.0.0.1
"""

N = 36


def _hand_append(path: Path, host_id: str, address: str) -> None:
    """Append a host as a person does from a shell (`cat >> hosts.yaml`): another process.

    Not a write from this process: a thread of the writer's own process can be held on the GIL
    between its open() and its write() for up to 5 ms, which would widen the window that no
    writer can close (guarded_write.py) a thousandfold."""
    subprocess.run(["sh", "-c", 'printf "%s" "$1" >> "$2"', "sh",
                    f"  - id: {host_id}\n    address: {address}\n", str(path)], check=True)


def test_hosts_appended_by_hand_while_the_api_adds_hosts_all_survive(tmp_path: Path):
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    conflicts: list[str] = []

    def api() -> None:
        start.wait()
        for i in range(N):
            for _ in range(200):  # a refused edit says so; its user reloads and tries again
                try:  # what POST /api/servers and the Servers page run, off the event loop
                    edits.add_host({"id": f"api-{i}", "address": f"10.1.0.{i}"})(InventoryWriter(path))
                    break
                except InventoryConflict as exc:
                    conflicts.append(str(exc))
                except BaseException as exc:  # reported below
                    errors.append(exc)
                    break

    def hand() -> None:
        rng = random.Random(14)
        start.wait()
        for i in range(N):
            time.sleep(rng.uniform(0, 0.004))
            _hand_append(path, f"hand-{i}", f"10.2.0.{i}")

    threads = [threading.Thread(target=api), threading.Thread(target=hand)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ids = set(load_inventory(path).host_ids)
    lost_hand = sorted({f"hand-{i}" for i in range(N)} - ids)
    lost_api = sorted({f"api-{i}" for i in range(N)} - ids)
    assert not lost_hand, f"{len(lost_hand)} of {N} hand-appended hosts lost: {lost_hand}"
    assert not lost_api, f"{len(lost_api)} of {N} API-added hosts lost: {lost_api}"
    assert "base-1" in ids
    assert all("reload and try again" in c and "\n" not in c for c in conflicts)


# --------------------------------------------------------------------------- one hand edit at a chosen instant
# The race above hits the writer's windows by chance; these put a person's save at one exact point,
# through a hook on the writer's own calls (the files and the edits are real).

def _save_by_hand_once(monkeypatch, name: str, save) -> None:
    """Run `save()` once, just before the writer's next call of `inventory.writer.<name>`."""
    import inventory.writer as writer_module

    real = getattr(writer_module.os if name == "replace" else writer_module, name)
    done = []

    def hooked(*args, **kwargs):
        if not done:
            done.append(True)
            save()
        return real(*args, **kwargs)

    if name == "replace":
        monkeypatch.setattr(writer_module.os, "replace", hooked)
    else:
        monkeypatch.setattr(writer_module, name, hooked)


def test_a_hand_edit_made_while_the_edit_renders_is_kept_and_the_edit_redone(tmp_path: Path, monkeypatch):
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    _save_by_hand_once(monkeypatch, "load_inventory_text", lambda: _hand_append(path, "hand-1", "10.2.0.1"))
    InventoryWriter(path).update_host("base-1", {"port": 2222})
    inv = load_inventory(path)
    assert inv.host_ids == ["base-1", "hand-1"]
    assert inv.host("base-1").port == 2222
    assert Path(str(path) + ".bak").read_text() == BASE + "  - id: hand-1\n    address: 10.2.0.1\n"


def test_an_append_that_lands_during_the_replace_is_merged(tmp_path: Path, monkeypatch):
    # The editor wrote to the file in place after the writer's last check, before its rename: on
    # POSIX the write went to the file being replaced; the writer reads that file once more.
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    _save_by_hand_once(monkeypatch, "replace", lambda: _hand_append(path, "hand-1", "10.2.0.1"))
    inventory = InventoryWriter(path).add_host({"id": "api-1", "address": "10.1.0.1"})
    assert load_inventory(path).host_ids == ["base-1", "api-1", "hand-1"]  # appended again, at the end
    assert inventory.host_ids == ["base-1", "api-1", "hand-1"]  # what the hub applies: the whole file


def test_a_rewrite_in_place_during_the_replace_is_kept_aside_and_reported(tmp_path: Path, monkeypatch):
    # An editor truncating and rewriting the file after the writer's last check, before its rename:
    # not an append, so it cannot be merged; it must not vanish either.
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    by_hand = BASE.replace("address: 10.0.0.1", "address: 10.0.0.99")
    _save_by_hand_once(monkeypatch, "replace", lambda: path.write_text(by_hand))
    with pytest.raises(InventoryConflict) as caught:  # else: a rewrite that could not be merged went unreported
        InventoryWriter(path).add_host({"id": "api-1", "address": "10.1.0.1"})
    message = caught.value.problems[0].message
    aside = tmp_path / "hosts.yaml.conflict"
    assert message == (f"the edit was saved, but another program rewrote the inventory file at the same moment "
                       f"and its version could not be merged; it is kept in {aside}: merge it by hand")
    assert aside.read_text() == by_hand
    assert load_inventory(path).host_ids == ["base-1", "api-1"]


def test_host_deleted_by_hand_meanwhile_is_a_conflict_and_the_hand_edit_stays(tmp_path: Path, monkeypatch):
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE + "  - id: other\n    address: 10.0.0.2\n")
    by_hand = BASE.replace("  - id: base-1\n    address: 10.0.0.1\n", "  - id: other\n    address: 10.0.0.2\n")
    _save_by_hand_once(monkeypatch, "load_inventory_text", lambda: path.write_text(by_hand))
    with pytest.raises(InventoryConflict) as caught:  # else: the edit of a host deleted meanwhile was not refused
        InventoryWriter(path).update_host("base-1", {"port": 2222})
    message = caught.value.problems[0].message
    assert message.startswith("the inventory file changed while saving and the edit no longer applies: ")
    assert "unknown host 'base-1'" in message and message.endswith("; reload and try again")
    assert "\n" not in message
    assert path.read_text() == by_hand


def test_file_made_invalid_by_hand_meanwhile_is_a_conflict_naming_the_problem(tmp_path: Path, monkeypatch):
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    broken = BASE + "  - id: half\n"  # saved with its address still to type
    _save_by_hand_once(monkeypatch, "load_inventory_text", lambda: path.write_text(broken))
    with pytest.raises(InventoryConflict) as caught:  # else: an edit on top of an invalid file was written
        InventoryWriter(path).add_host({"id": "api-1", "address": "10.1.0.1"})
    message = caught.value.problems[0].message
    assert "no longer applies" in message and "address" in message and "\n" not in message
    assert path.read_text() == broken


async def test_the_api_answers_409_with_one_line_when_the_edit_no_longer_applies(tmp_path: Path, monkeypatch):
    from tests.support.apphub import served_hub
    from tests.support.hubproc import write_inventory
    from tests.support.sshd import free_port

    path = write_inventory(tmp_path / "hosts.yaml", [{"id": "a", "address": "127.0.0.1", "port": free_port()},
                                                     {"id": "b", "address": "127.0.0.1", "port": free_port()}])
    async with served_hub(path, f"sqlite:///{tmp_path / 'h.db'}") as served:
        by_hand = path.read_text().replace("- id: a\n", "- id: a2\n")  # renamed by hand meanwhile
        _save_by_hand_once(monkeypatch, "load_inventory_text", lambda: path.write_text(by_hand))
        r = await served.client.put("/api/servers/a", json={"labels": {"rack": "b2"}})
        assert r.status_code == 409, r.text
        detail = r.json()["detail"]
        assert detail.startswith("the inventory file changed while saving and the edit no longer applies: "
                                 "unknown host 'a' (did you mean 'a2'?)")
        assert detail.endswith("; reload and try again") and "\n" not in detail
        assert path.read_text() == by_hand


def test_refused_and_conflicting_edits_leave_no_temporary_files(tmp_path: Path, monkeypatch):
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    _save_by_hand_once(monkeypatch, "load_inventory_text", lambda: path.write_text(BASE + "  - id: half\n"))
    with pytest.raises(InventoryConflict):
        InventoryWriter(path).add_host({"id": "api-1", "address": "10.1.0.1"})
    with pytest.raises(InventoryError):  # the file is invalid now: refused before anything is written
        InventoryWriter(path).add_host({"id": "api-2", "address": "10.1.0.2"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hosts.yaml"]
