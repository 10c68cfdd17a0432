"""schema/atomic_file.py: the one atomic replace of the inventory writer, host-key pinning and backups."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from schema import atomic_file
from schema.atomic_file import atomic_write, replace_retrying, replacing


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_write_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path):
    path = tmp_path / "f.txt"
    path.write_bytes(b"old")
    atomic_write(path, b"new")
    assert path.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_permission_bits_kept_given_or_private(tmp_path: Path):
    kept = tmp_path / "kept"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    atomic_write(kept, b"new")
    assert _mode(kept) == 0o640  # the replaced file's bits
    new = tmp_path / "new"
    atomic_write(new, b"x")
    assert _mode(new) == 0o600  # nothing to keep: private
    given = tmp_path / "given"
    atomic_write(given, b"x", mode=0o644)
    assert _mode(given) == 0o644
    like = tmp_path / "like"
    atomic_write(like, b"x", like=kept)
    assert _mode(like) == 0o640


def test_replacing_lets_another_program_fill_the_file_by_name(tmp_path: Path):
    target = tmp_path / "backup.db"
    with replacing(target, suffix=".partial") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".partial") and not target.exists()
        tmp.write_bytes(b"dump")  # as pg_dump --file=tmp would
    assert target.read_bytes() == b"dump" and not tmp.exists()


def test_a_failure_leaves_the_target_untouched_and_no_temporary_file(tmp_path: Path):
    target = tmp_path / "known_hosts"
    target.write_bytes(b"old\n")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known_hosts"]


def test_replace_is_retried_on_windows_while_a_reader_holds_the_file(tmp_path: Path, monkeypatch):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    real, failures, pauses = os.replace, [PermissionError(13, "in use")] * 2, []

    def flaky(a, b):
        if failures:
            raise failures.pop()
        real(a, b)

    monkeypatch.setattr(atomic_file.os, "replace", flaky)
    monkeypatch.setattr(atomic_file.time, "sleep", pauses.append)
    monkeypatch.setattr(atomic_file.os, "name", "nt")
    replace_retrying(src, dst)
    monkeypatch.undo()
    assert dst.read_bytes() == b"new" and pauses == [0.05, 0.1]


def test_replace_is_not_retried_on_posix(tmp_path: Path, monkeypatch):
    def refused(a, b):
        raise PermissionError(13, "denied")

    monkeypatch.setattr(atomic_file.os, "replace", refused)
    monkeypatch.setattr(atomic_file.os, "name", "posix")
    with pytest.raises(PermissionError):
        replace_retrying(tmp_path / "a", tmp_path / "b")


def test_known_hosts_backups_and_inventory_edits_all_go_through_it(tmp_path: Path, monkeypatch):
    import sqlite3

    import asyncssh

    from collector.hostkeys import pin_host_key
    from inventory import InventoryWriter
    from schema.backup import backup_database

    moved: list[str] = []
    real = atomic_file.replace_retrying
    monkeypatch.setattr(atomic_file, "replace_retrying", lambda src, dst: (moved.append(Path(dst).name), real(src, dst)))

    pin_host_key(tmp_path / "known_hosts", "10.0.0.5", 22, asyncssh.generate_private_key("ssh-ed25519"))
    sqlite3.connect(tmp_path / "f.db").close()
    backup = backup_database(f"sqlite:///{tmp_path / 'f.db'}", tmp_path / "bk")
    (tmp_path / "hosts.yaml").write_text("hosts:\n  - id: a\n    address: 10.0.0.1\n")
    InventoryWriter(tmp_path / "hosts.yaml").add_host({"id": "b", "address": "10.0.0.2"})
    assert moved == ["known_hosts", backup.name, "hosts.yaml.bak"]
    if os.name == "posix":
        assert _mode(tmp_path / "known_hosts") == 0o600 and _mode(backup) == 0o600
