"""SPEC §6: the inventory file and the private keys it names should be private to the hub's user.

Real files in tmp_path with real modes; the CLI and the watcher as a user meets them."""
from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import yaml

from collector.cli import main as cli_main
from inventory import InventoryWatcher, load_inventory
from inventory.permissions import (
    file_warnings,
    identity_file_hosts,
    identity_file_warnings,
    inventory_warnings,
    world_readable_warning,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")


def _key(tmp_path: Path, name: str, mode: int) -> Path:
    path = tmp_path / name
    path.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
    path.chmod(mode)
    return path


def _inventory(tmp_path: Path, hosts: list[dict], mode: int = 0o600, **defaults) -> Path:
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump({"defaults": defaults, "hosts": hosts}, sort_keys=False))
    path.chmod(mode)
    return path


# ------------------------------------------------------------------ the inventory file
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o660, 0o400, 0o700, 0o750])
def test_private_or_group_readable_inventory_gives_no_warning(tmp_path, mode):
    path = _inventory(tmp_path, [], mode=mode)
    assert world_readable_warning(path) is None


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o666, 0o755, 0o444])
def test_world_readable_inventory_warns_with_the_command_that_fixes_it(tmp_path, mode):
    path = _inventory(tmp_path, [], mode=mode)
    warning = world_readable_warning(path)
    assert warning is not None
    assert str(path) in warning and f"{mode:04o}" in warning and "other users" in warning
    assert f"chmod o-rwx {path}" in warning
    path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o007)  # what the message says to run
    assert world_readable_warning(path) is None


def test_the_command_in_the_warning_quotes_an_odd_path(tmp_path):
    path = tmp_path / "my hosts.yaml"
    path.write_text("hosts: []\n")
    path.chmod(0o644)
    assert f"chmod o-rwx '{path}'" in world_readable_warning(path)


def test_missing_inventory_gives_no_warning(tmp_path):
    assert world_readable_warning(tmp_path / "nope.yaml") is None
    assert file_warnings(tmp_path / "nope.yaml") == []


def test_no_warning_on_windows(tmp_path, monkeypatch):
    path = _inventory(tmp_path, [{"id": "a", "address": "a.lan", "identity_file": str(_key(tmp_path, "k", 0o644))}],
                      mode=0o644)
    monkeypatch.setattr(os, "name", "nt")
    assert world_readable_warning(path) is None
    assert identity_file_warnings({tmp_path / "k": ["a"]}) == []


# ------------------------------------------------------------------ private keys
def test_key_readable_by_others_names_host_and_file(tmp_path):
    good = _key(tmp_path, "good_key", 0o600)
    group = _key(tmp_path, "group_key", 0o640)
    world = _key(tmp_path, "world_key", 0o604)
    path = _inventory(tmp_path, [
        {"id": "web-1", "address": "web-1.lan", "identity_file": str(good)},
        {"id": "gpu-1", "address": "gpu-1.lan", "identity_file": str(group)},
        {"id": "db-1", "address": "db-1.lan", "identity_file": str(world)},
        {"id": "gone-1", "address": "gone-1.lan", "identity_file": str(tmp_path / "missing_key")},
    ])
    warnings = inventory_warnings(path, load_inventory(path))
    assert len(warnings) == 2, warnings
    by_file = {w.split("identity_file ", 1)[1].split(" ", 1)[0]: w for w in warnings}
    assert set(by_file) == {str(group), str(world)}
    assert "host 'gpu-1'" in by_file[str(group)] and "0640" in by_file[str(group)]
    assert "host 'db-1'" in by_file[str(world)] and "0604" in by_file[str(world)]
    for file, warning in by_file.items():
        assert "ssh refuses" in warning and f"chmod 600 {file}" in warning
    assert not any("web-1" in w or "gone-1" in w for w in warnings)


def test_group_writable_key_warns_too(tmp_path):
    key = _key(tmp_path, "key", 0o620)
    warnings = identity_file_warnings({key: ["a"]})
    assert len(warnings) == 1 and "writable" in warnings[0] and "0620" in warnings[0]


def test_default_key_shared_by_many_hosts_is_one_warning(tmp_path):
    key = _key(tmp_path, "shared", 0o644)
    hosts = [{"id": f"h{i}", "address": f"h{i}.lan"} for i in range(8)]
    path = _inventory(tmp_path, hosts, identity_file=str(key))
    files = identity_file_hosts(load_inventory(path).resolved_hosts())
    assert files == {key: [f"h{i}" for i in range(8)]}
    [warning] = identity_file_warnings(files)
    assert "hosts 'h0', 'h1', 'h2', 'h3', 'h4' and 3 more" in warning and str(key) in warning


def test_file_warnings_reads_the_inventory_and_survives_a_broken_one(tmp_path):
    key = _key(tmp_path, "key", 0o644)
    path = _inventory(tmp_path, [{"id": "a", "address": "a.lan", "identity_file": str(key)}], mode=0o644)
    warnings = file_warnings(path)
    assert len(warnings) == 2 and "inventory file" in warnings[0] and "host 'a'" in warnings[1]
    path.write_text("hosts: [\n")  # invalid YAML: its problems are reported elsewhere
    assert len(file_warnings(path)) == 1


# ------------------------------------------------------------------ fleetwatch inventory check
def test_inventory_check_prints_the_warnings_and_still_passes(tmp_path, capsys):
    key = _key(tmp_path, "key", 0o640)
    path = _inventory(tmp_path, [{"id": "a", "address": "a.lan", "identity_file": str(key)}], mode=0o644)
    assert cli_main(["inventory", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"chmod o-rwx {path}" in out and f"chmod 600 {key}" in out and "host 'a'" in out
    assert f"{path}: OK, 1 host(s)" in out

    path.chmod(0o600)
    key.chmod(0o600)
    assert cli_main(["inventory", "check", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_inventory_check_of_a_bad_file_warns_about_its_mode_too(tmp_path, capsys):
    path = tmp_path / "hosts.yaml"
    path.write_text("hosts:\n  - id: a\n")  # no address
    path.chmod(0o644)
    assert cli_main(["inventory", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert "address" in captured.out and f"chmod o-rwx {path}" in captured.out


# ------------------------------------------------------------------ /api/inventory/status (the watcher)
async def test_watcher_status_lists_the_warnings_and_follows_chmod(tmp_path, caplog):
    key = _key(tmp_path, "key", 0o600)
    path = _inventory(tmp_path, [{"id": "a", "address": "a.lan", "identity_file": str(key)}])
    watcher = InventoryWatcher(path, lambda _inv: None)
    watcher.load_initial()
    assert watcher.status.to_dict()["warnings"] == []

    caplog.set_level(logging.WARNING, logger="inventory.watch")
    path.chmod(0o644)  # no byte of the file changes: the next check still sees it
    key.chmod(0o640)
    assert await watcher.check() is False
    warnings = watcher.status.to_dict()["warnings"]
    assert len(warnings) == 2 and f"chmod o-rwx {path}" in warnings[0] and "host 'a'" in warnings[1]
    assert sum("inventory:" in r.getMessage() for r in caplog.records) == 2  # logged once each ...
    await watcher.check()
    assert sum("inventory:" in r.getMessage() for r in caplog.records) == 2  # ... not at every check

    other = _key(tmp_path, "other", 0o644)  # an edit that adds a host with an open key
    _inventory(tmp_path, [{"id": "a", "address": "a.lan", "identity_file": str(key)},
                          {"id": "b", "address": "b.lan", "identity_file": str(other)}], mode=0o644)
    assert await watcher.check() is True
    warnings = watcher.status.to_dict()["warnings"]
    assert any("host 'b'" in w and str(other) in w for w in warnings) and len(warnings) == 3

    for f in (path, key, other):
        f.chmod(0o600)
    await watcher.check()
    assert watcher.status.to_dict()["warnings"] == []


async def test_watcher_warns_about_a_world_readable_file_that_does_not_load(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text("hosts: [\n")
    path.chmod(0o604)
    watcher = InventoryWatcher(path, lambda _inv: None)
    with pytest.raises(Exception):
        watcher.load_initial()
    status = watcher.status.to_dict()
    assert status["ok"] is False and len(status["warnings"]) == 1 and "0604" in status["warnings"][0]
