"""Round-trip writer for API edits of the inventory file (SPEC section 2)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from inventory import (
    HostExists,
    HostNotFound,
    Inventory,
    InventoryError,
    InventoryWriter,
    load_inventory,
)

EXAMPLE = Path(__file__).parent.parent.parent / "inventory" / "hosts.example.yaml"

BASE = """\
# fleet inventory -- top comment
defaults:
  user: monitor   # login name
  interval: 5s

x-web: &web
  services: [nginx.service, ssh.service]
  labels: {env: prod, role: web}

hosts:
  # the GPU box
  - id: gpu-01
    address: 10.0.0.11   # rack 3
    port: 2222
    labels: {env: prod, role: train}
    proxy:
      enabled: true
      remote_listen: "127.0.0.1:8080"  # loopback only
      target: '127.0.0.1:7879'

  # web servers share x-web
  - <<: *web
    id: web-01
    address: web01.example.com
  - id: nas
    address: nas.lan
    gpu: off

# alert rules below
alerts: []
"""


@pytest.fixture
def inv(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.yaml"
    path.write_text(BASE)
    return path


def text_of(path: Path) -> str:
    return path.read_text()


def entry_of(inventory: Inventory, host_id: str):
    return next(h for h in inventory.hosts if h.id == host_id)


# --------------------------------------------------------------------------- add
def test_add_appends_in_block_style_and_keeps_everything_else(inv: Path):
    entry = {
        "id": "new-01",
        "address": "10.0.0.50",
        "labels": {"env": "lab", "answer": "yes"},
        "services": ["docker.service", "getty@tty1.service"],
        "proxy": {"enabled": True, "remote_listen": "127.0.0.1:8081"},
        "port": 2200,
    }
    result = InventoryWriter(inv).add_host(entry)
    text = text_of(inv)
    head, tail = BASE.split("\n# alert rules below\n")
    assert text.startswith(head.rstrip("\n") + "\n")  # every existing line untouched, in order
    assert text.endswith("\n# alert rules below\nalerts: []\n")
    added = text[len(head.rstrip("\n")) + 1 :].split("\n\n# alert rules")[0]
    assert added.splitlines()[0] == "  - id: new-01"  # id first, block style, same indent
    assert [line.split(":")[0].strip() for line in added.splitlines()] == [
        "- id", "address", "labels", "services", "proxy", "port"
    ]
    new = entry_of(result, "new-01")
    assert new.labels == {"env": "lab", "answer": "yes"}  # "yes" stays a string
    assert new.services == ["docker.service", "getty@tty1.service"]
    assert new.proxy.enabled and new.proxy.remote_listen == "127.0.0.1:8081"
    assert new.port == 2200
    assert load_inventory(inv) == result
    assert (inv.parent / "hosts.yaml.bak").read_text() == BASE


def test_add_existing_id_raises_and_writes_nothing(inv: Path):
    with pytest.raises(HostExists, match="nas"):
        InventoryWriter(inv).add_host({"id": "nas", "address": "x.lan"})
    assert text_of(inv) == BASE
    assert not (inv.parent / "hosts.yaml.bak").exists()


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"id": "bad-1", "address": "h.lan", "services": ["x;rm -rf /"]}, "services[0]"),
        ({"id": "bad-2", "address": "h.lan", "port": 70000}, "port"),
        ({"id": "bad-3", "address": "h.lan", "colour": "blue"}, "colour"),
        ({"id": "bad-4", "address": "h.lan", "password": "hunter2"}, "password"),
    ],
)
def test_add_invalid_entry_raises_with_problem_and_leaves_files(inv: Path, entry: dict, field: str):
    writer = InventoryWriter(inv)
    writer.update_host("nas", {"gpu": "auto"})  # make a .bak exist
    before, bak = text_of(inv), (inv.parent / "hosts.yaml.bak").read_text()
    with pytest.raises(InventoryError) as info:
        writer.add_host(entry)
    problem = info.value.problems[0]
    assert (problem.file, problem.host, problem.field) == (str(inv), entry["id"], field)
    assert problem.line is not None
    assert text_of(inv) == before
    assert (inv.parent / "hosts.yaml.bak").read_text() == bak


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (["gpu-01"], "must be a mapping"),
        ({"address": "h.lan"}, "required"),
        ({"id": 7, "address": "h.lan"}, "non-empty string"),
        ({"id": "x", "address": "h.lan", "labels": {"k": object()}}, "unsupported value"),
    ],
)
def test_add_clearly_bad_input_raises_inventory_error(inv: Path, entry, message: str):
    with pytest.raises(InventoryError, match=message) as info:
        InventoryWriter(inv).add_host(entry)
    assert info.value.problems[0].to_dict()["file"] == str(inv)
    assert text_of(inv) == BASE


def test_add_creates_missing_file_without_backup(tmp_path: Path):
    path = tmp_path / "sub" / "hosts.yaml"
    result = InventoryWriter(path).add_host({"id": "a-1", "address": "10.1.1.1", "labels": {"x": "1"}})
    assert result.host_ids == ["a-1"]
    assert load_inventory(path).host("a-1").labels == {"x": "1"}
    assert not (tmp_path / "sub" / "hosts.yaml.bak").exists()
    assert text_of(path).startswith("hosts:\n")
    assert [p.name for p in path.parent.iterdir()] == ["hosts.yaml"]  # no temp files left


def test_values_that_yaml_11_would_misread_round_trip(inv: Path):
    labels = {"a": "yes", "b": "off", "c": "12:30", "d": "1.0", "e": "null", "f": "~", "g": "0x1F", "h": "-x", "i": "a #b"}
    result = InventoryWriter(inv).add_host({"id": "q", "address": "q.lan", "labels": labels})
    assert entry_of(result, "q").labels == labels
    assert load_inventory(inv).host("q").labels == labels


# --------------------------------------------------------------------------- update
def test_update_changes_only_the_edited_lines(inv: Path):
    result = InventoryWriter(inv).update_host("gpu-01", {"port": 2022, "user": "ops"})
    assert text_of(inv) == BASE.replace("    port: 2222\n", "    port: 2022\n").replace(
        "      target: '127.0.0.1:7879'\n", "      target: '127.0.0.1:7879'\n    user: ops\n"
    )
    assert result.host("gpu-01").port == 2022 and result.host("gpu-01").user == "ops"
    assert (inv.parent / "hosts.yaml.bak").read_text() == BASE


def test_update_nested_mapping_in_place_keeps_its_comments(inv: Path):
    InventoryWriter(inv).update_host(
        "gpu-01", {"proxy": {"enabled": False, "remote_listen": "127.0.0.1:8080", "target": "127.0.0.1:7879"}}
    )
    assert text_of(inv) == BASE.replace("      enabled: true\n", "      enabled: false\n")


def test_update_none_removes_key_and_host_inherits_default(inv: Path):
    writer = InventoryWriter(inv)
    result = writer.update_host("gpu-01", {"port": None, "proxy": None})
    assert result.host("gpu-01").port == 22
    assert not result.host("gpu-01").proxy.enabled
    text = text_of(inv)
    assert "port: 2222" not in text and "proxy:" not in text
    assert "  # web servers share x-web\n  - <<: *web\n" in text  # the next host's comment stays put


def test_update_none_masks_a_key_inherited_through_a_merge(inv: Path):
    result = InventoryWriter(inv).update_host("web-01", {"services": None})
    assert result.host("web-01").services == ()
    assert result.host("web-01").labels == {"env": "prod", "role": "web"}  # rest of the anchor still applies
    assert "x-web: &web\n  services: [nginx.service, ssh.service]\n" in text_of(inv)


def test_update_rename(inv: Path):
    writer = InventoryWriter(inv)
    result = writer.update_host("gpu-01", {"id": "gpu-02"})
    assert result.host_ids == ["gpu-02", "web-01", "nas"]
    assert text_of(inv) == BASE.replace("  - id: gpu-01\n", "  - id: gpu-02\n")
    with pytest.raises(HostExists, match="nas"):
        writer.update_host("gpu-02", {"id": "nas"})


def test_update_unknown_host_suggests_close_match(inv: Path):
    with pytest.raises(HostNotFound) as info:
        InventoryWriter(inv).update_host("gpu-1", {"port": 22})
    assert isinstance(info.value, KeyError)
    assert "unknown host 'gpu-1'" in str(info.value) and "did you mean 'gpu-01'" in str(info.value)
    assert "known hosts: gpu-01, web-01, nas" in str(info.value)


def test_update_invalid_value_raises_and_leaves_file(inv: Path):
    with pytest.raises(InventoryError) as info:
        InventoryWriter(inv).update_host("nas", {"disks": ["relative/path"]})
    assert info.value.problems[0].host == "nas"
    assert info.value.problems[0].field.startswith("disks")
    assert text_of(inv) == BASE
    assert not (inv.parent / "hosts.yaml.bak").exists()


def test_update_anchored_host_keeps_merge(inv: Path):
    result = InventoryWriter(inv).update_host("web-01", {"labels": {"env": "staging"}})
    assert result.host("web-01").labels == {"env": "staging"}
    assert result.host("web-01").services == ("nginx.service", "ssh.service")
    assert "  - <<: *web\n    id: web-01\n" in text_of(inv)


def test_anchors_survive_edits_of_other_hosts(inv: Path):
    writer = InventoryWriter(inv)
    writer.update_host("nas", {"gpu": "nvidia"})
    writer.add_host({"id": "z", "address": "z.lan"})
    result = writer.delete_host("gpu-01")
    text = text_of(inv)
    assert "x-web: &web\n" in text and "  - <<: *web\n    id: web-01\n" in text
    assert result.host("web-01").services == ("nginx.service", "ssh.service")


# --------------------------------------------------------------------------- delete
def test_delete_removes_host_with_its_comment(inv: Path):
    result = InventoryWriter(inv).delete_host("gpu-01")
    start, end = BASE.index("  # the GPU box\n"), BASE.index("  # web servers share x-web\n")
    assert text_of(inv) == BASE[:start] + BASE[end:]
    assert result.host_ids == ["web-01", "nas"]


def test_delete_middle_and_last_hosts(inv: Path):
    writer = InventoryWriter(inv)
    writer.delete_host("web-01")  # goes with its comment and the blank line above it
    start, end = BASE.index("\n  # web servers"), BASE.index("  - id: nas\n")
    after_first = BASE[:start] + BASE[end:]
    assert text_of(inv) == after_first
    writer.delete_host("nas")
    assert text_of(inv) == BASE[:start] + "\n# alert rules below\nalerts: []\n"
    assert (inv.parent / "hosts.yaml.bak").read_text() == after_first  # one backup: the previous version


def test_delete_every_host_leaves_a_loadable_file(inv: Path):
    writer = InventoryWriter(inv)
    for host_id in ("gpu-01", "web-01", "nas"):
        result = writer.delete_host(host_id)
    assert result.hosts == []
    assert load_inventory(inv).hosts == []
    assert "# fleet inventory -- top comment\n" in text_of(inv)
    assert "hosts: []\n# alert rules below\nalerts: []\n" in text_of(inv)
    with pytest.raises(HostNotFound, match=r"known hosts: \(none\)"):
        writer.delete_host("nas")


# --------------------------------------------------------------------------- files
def test_example_file_round_trips_edits(tmp_path: Path):
    path = tmp_path / "hosts.yaml"
    original = EXAMPLE.read_text()
    path.write_text(original)
    writer = InventoryWriter(path)
    writer.update_host("nas", {"labels": {"env": "lab", "rack": "r2"}})
    assert text_of(path) == original.replace("labels: {env: lab}", "labels: {env: lab, rack: r2}")
    writer.delete_host("prod-web-02")
    assert "prod-web-02" not in text_of(path)
    assert ("# A small box: all local filesystems, no GPU probing; Net in / out counts the\n"
            "  # bridge br0 alone (a list here overrides the hub's own choice of interfaces).\n  - id: nas\n"
            in text_of(path))
    assert 'remote_listen: "127.0.0.1:8080"  # on the host; loopback unless you say otherwise' in text_of(path)
    assert load_inventory(path).host_ids == ["gpu-01", "prod-web-01", "nas"]


def test_crlf_and_bom_are_kept(tmp_path: Path):
    path = tmp_path / "hosts.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.replace("\n", "\r\n").encode())
    InventoryWriter(path).update_host("nas", {"gpu": "auto"})
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.decode("utf-8-sig").replace("\r\n", "\n") == BASE.replace("    gpu: off\n", "    gpu: auto\n")


def test_offset_zero_sequences_keep_their_style(tmp_path: Path):
    path = tmp_path / "hosts.yaml"
    original = "hosts:\n- id: a\n  address: a.lan\n  labels:\n    k: v\n"
    path.write_text(original)
    InventoryWriter(path).add_host({"id": "b", "address": "b.lan"})
    assert text_of(path) == original + "- id: b\n  address: b.lan\n"


def test_broken_file_reports_its_problems(inv: Path):
    inv.write_text("hosts:\n  - id: a\n    address: [unclosed\n")
    with pytest.raises(InventoryError) as info:
        InventoryWriter(inv).add_host({"id": "b", "address": "b.lan"})
    assert info.value.problems[0].file == str(inv)
    assert "YAML" in info.value.problems[0].message


def test_concurrent_writers_do_not_lose_edits(inv: Path):
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            InventoryWriter(inv).add_host({"id": f"t-{i}", "address": f"10.9.0.{i}"})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(load_inventory(inv).host_ids) == sorted(["gpu-01", "web-01", "nas", *(f"t-{i}" for i in range(8))])
