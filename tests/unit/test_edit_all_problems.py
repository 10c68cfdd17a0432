"""Issue 18 item 5: a host edit (the Servers form, POST/PUT /api/servers) is told every problem at once."""
from __future__ import annotations

from pathlib import Path

import pytest

from inventory import InventoryError, InventoryWriter
from inventory.edit_checks import check_changes, check_entry, entry_problems
from inventory.paths import KeyFolders
from webapp.server_form import parse_host_form

BASE = "hosts:\n  - {id: a, address: 10.0.0.1}\n"


@pytest.fixture
def writer(tmp_path: Path) -> InventoryWriter:
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    return InventoryWriter(path, key_folders=KeyFolders.of(tmp_path / "data", ()))


def _fields(info) -> list[str]:
    return [p.field for p in info.value.problems]


def test_entry_problems_lists_every_field_worded_as_the_loader_does():
    problems = entry_problems({"id": "bad id!", "address": "bad addr!", "port": 70000, "interval": "fast",
                               "colour": "red"}, "src")
    assert [p.field for p in problems] == ["id", "address", "port", "interval", "colour"]
    assert all(p.host == "bad id!" and p.file == "src" for p in problems)
    assert "65535" in problems[2].message and "unknown key 'colour'" in problems[4].message
    assert entry_problems({"id": "ok", "address": "10.0.0.2"}, "src") == []


def test_add_without_id_still_checks_the_other_fields(writer):
    with pytest.raises(InventoryError) as info:
        writer.add_host({"address": "x", "port": 0})
    assert _fields(info) == ["id", "port"]
    assert writer.path.read_text() == BASE


def test_add_with_a_key_outside_the_folders_tells_the_rest_too(writer):
    with pytest.raises(InventoryError) as info:
        writer.add_host({"id": "b", "address": "bad addr!", "port": 70000, "identity_file": "/etc/passwd",
                         "known_hosts": "/etc/kh"})
    assert sorted(_fields(info)) == ["address", "identity_file", "known_hosts", "port"]
    assert writer.path.read_text() == BASE


def test_add_model_problems_keep_their_line_numbers(writer):
    with pytest.raises(InventoryError) as info:
        writer.add_host({"id": "bad id!", "address": "bad addr!", "port": 70000})
    assert _fields(info) == ["id", "address", "port"]
    assert all(p.line is not None for p in info.value.problems)


def test_update_with_a_key_outside_the_folders_tells_the_rest_too(writer):
    with pytest.raises(InventoryError) as info:
        writer.update_host("a", {"port": 0, "identity_file": "/etc/k", "address": "bad addr!"})
    assert _fields(info) == ["identity_file", "address", "port"]
    assert writer.path.read_text() == BASE


def test_structure_checks_collect_every_bad_value():
    with pytest.raises(InventoryError) as info:
        check_entry({"address": "h", "services": [object(), "ok", b"x"], "labels": {1: "v"}}, "src")
    assert _fields(info) == ["id", "services[0]", "services[2]", "labels"]
    with pytest.raises(InventoryError) as info:
        check_changes({"id": "", "disks": [object()]}, "a", "src")
    assert _fields(info) == ["id", "disks[0]"]


def test_the_form_checks_every_field_in_one_pass():
    form = parse_host_form({"id": ["bad id!"], "address": ["bad addr!"], "port": ["70000"], "gpu": ["amd"],
                            "host_key": ["nope"], "labels": ["a\nb=1\nc"], "services_extra": ["x;y"]}, editing=False)
    assert [name for name, _label, _msg in form.summary()] == [
        "id", "address", "port", "host_key", "gpu", "labels", "services"]
    assert "65535" in form.errors["port"] and "line 1" in form.errors["labels"] and "line 3" in form.errors["labels"]
    assert form.summary()[0][1] == "Id" and not form.ok


def test_the_edit_form_checks_every_field_and_keeps_the_form_wording():
    form = parse_host_form({"address": [""], "port": ["0"], "timeout": ["-1s"]}, editing=True, host_id="a")
    assert set(form.errors) == {"address", "port", "timeout"}
    assert form.errors["address"].startswith("a host needs an address")  # the form's, not "required"
    assert parse_host_form({"address": ["h"], "timeout": ["9s"]}, editing=True, host_id="a").ok
