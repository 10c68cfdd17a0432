"""Which known_hosts lines count for a host: the same ones asyncssh (and OpenSSH) use when connecting."""
from __future__ import annotations

import asyncssh
import pytest

from collector import hostkeys
from inventory import load_inventory


@pytest.mark.parametrize(("port", "field", "matches"), [
    (22, "10.0.0.5", True),
    (22, "[10.0.0.5]:22", False),  # asyncssh looks port 22 up as the bare address: this line trusts nothing
    (2222, "[10.0.0.5]:2222", True),
    (2222, "10.0.0.5", True),  # asyncssh falls back to the bare address for other ports
])
def test_known_keys_match_what_the_connection_trusts(tmp_path, port, field, matches):
    key = asyncssh.generate_private_key("ssh-ed25519")
    known = tmp_path / "known_hosts"
    known.write_text(f"{field} {hostkeys.public_key_line(key)}\n")
    inv = tmp_path / "hosts.yaml"
    inv.write_text(f"hosts:\n  - id: h\n    address: 10.0.0.5\n    port: {port}\n    known_hosts: {known}\n")
    spec = load_inventory(inv).host("h")
    on_record = hostkeys.known_keys(spec)
    assert [hostkeys.fingerprint(k) for k in on_record] == ([hostkeys.fingerprint(key)] if matches else [])
    assert hostkeys.known_hosts_pattern("10.0.0.5", port) == ("10.0.0.5" if port == 22 else f"[10.0.0.5]:{port}")


def _windows_text_layer(monkeypatch) -> None:
    """Make text-mode writes translate `\\n` as on Windows: the pure-Python io, whose writer uses
    os.linesep (the C io fixes it when Python is built), with os.linesep = "\\r\\n"."""
    import _pyio
    import io
    import os

    monkeypatch.setattr(os, "linesep", "\r\n")
    monkeypatch.setattr(io, "open", _pyio.open)


def test_the_windows_text_layer_of_this_test_translates(tmp_path, monkeypatch):
    _windows_text_layer(monkeypatch)
    (tmp_path / "f").write_text("a\nb\n")  # without newline="\n", as on a Windows hub
    assert (tmp_path / "f").read_bytes() == b"a\r\nb\r\n"


@pytest.mark.parametrize("replace", [False, True])
def test_pinned_known_hosts_has_lf_line_ends_even_on_windows(tmp_path, monkeypatch, replace):
    known = tmp_path / "known_hosts"
    old = asyncssh.generate_private_key("ssh-ed25519")
    known.write_bytes(f"10.0.0.9 {hostkeys.public_key_line(old)}\r\n".encode())  # a CRLF file stays readable
    key = asyncssh.generate_private_key("ssh-ed25519")
    _windows_text_layer(monkeypatch)
    hostkeys.pin_host_key(known, "10.0.0.5", 2222, key, replace=replace)
    data = known.read_bytes()
    assert b"\r" not in data, data
    assert data.decode().splitlines() == [f"10.0.0.9 {hostkeys.public_key_line(old)}",
                                          f"[10.0.0.5]:2222 {hostkeys.public_key_line(key)}"]


@pytest.mark.parametrize(("content", "line"), [
    (b"SECRET=hunter2\n", 1),
    (b"# comment\n\n10.0.0.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\n@hunter2 a b\n", 4),  # bad marker
    (b"# ok\n\xffhunter2\n", 2),  # not UTF-8
])
def test_not_a_known_hosts_file_names_the_line_never_its_text(tmp_path, content, line):
    path = tmp_path / "kh"
    path.write_bytes(content)
    with pytest.raises(hostkeys.KnownHostsError) as info:
        hostkeys.read_known_hosts(path)
    message = str(info.value)
    assert f"known_hosts {path} is not a known_hosts file: line {line} is not `host keytype key`" in message
    assert "hunter2" not in message and "\n" not in message


def test_missing_known_hosts_trusts_nothing_and_a_directory_is_refused(tmp_path):
    assert hostkeys.read_known_hosts(tmp_path / "none").match("h", "10.0.0.1", None)[0] == []
    with pytest.raises(hostkeys.KnownHostsError, match="is not a regular file"):
        hostkeys.read_known_hosts(tmp_path)


def test_pin_refuses_a_file_that_is_not_known_hosts(tmp_path):
    shadow = tmp_path / "shadow"
    shadow.write_text("root:$6$hunter2:19000:0:99999:7:::\n")
    before = shadow.read_bytes()
    with pytest.raises(hostkeys.KnownHostsError) as info:
        hostkeys.pin_host_key(shadow, "10.0.0.5", 22, asyncssh.generate_private_key("ssh-ed25519"))
    assert "hunter2" not in str(info.value)
    assert shadow.read_bytes() == before


# --------------------------------------------------------------------------- one parse per file change (issue 15)
def _fleet_known_hosts(tmp_path, hosts: int):
    """A known_hosts of `hosts` entries (hashed, as `HashKnownHosts yes` writes them, and plain) and its specs."""
    import base64
    import hashlib
    import hmac
    import os

    key = asyncssh.generate_private_key("ssh-ed25519")
    line_key = hostkeys.public_key_line(key)
    lines = []
    for i in range(hosts):
        name = f"[10.{i // 65536}.{i // 256 % 256}.{i % 256}]:2222"
        if i % 2:
            salt = os.urandom(20)
            digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
            name = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
        lines.append(f"{name} {line_key}\n")
    known = tmp_path / "known_hosts"
    known.write_text("".join(lines))
    inv = tmp_path / "hosts.yaml"
    inv.write_text("defaults: {port: 2222, known_hosts: %s}\nhosts:\n" % known + "".join(
        f"  - {{id: h{i}, address: 10.{i // 65536}.{i // 256 % 256}.{i % 256}}}\n" for i in range(hosts)))
    return known, key, load_inventory(inv).resolved_hosts()


def test_a_fleet_shares_one_parse_of_known_hosts_and_each_host_holds_only_a_matcher(tmp_path):
    """Before: every connection parsed the whole file and kept its own copy, O(N^2) in CPU and memory
    (1,000 hosts: 1.2 GB; 2,000 never finished connecting)."""
    import tracemalloc

    known, key, specs = _fleet_known_hosts(tmp_path, 1000)
    hostkeys.trusted_keys(specs[0])  # the one parse
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [hostkeys.trusted_keys(spec) for spec in specs]  # what 1,000 connections keep
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert grown / len(specs) < 2048, f"{grown / len(specs):.0f} bytes per host: each holds its own known_hosts"
    assert hostkeys.KNOWN_HOSTS.loads_of(known) == 1, "parsed once for all hosts"
    # and each host still trusts exactly its own key, the way asyncssh asks for it when it connects
    for spec, trusted in zip(specs[:20], held[:20]):
        found = asyncssh.known_hosts.match_known_hosts(trusted, spec.address, spec.address, spec.port)[0]
        assert {hostkeys.fingerprint(k) for k in found} == {hostkeys.fingerprint(key)}


def test_a_changed_known_hosts_is_parsed_again(tmp_path):
    known, _key, specs = _fleet_known_hosts(tmp_path, 3)
    spec = specs[0]
    hostkeys.trusted_keys(spec)
    hostkeys.trusted_keys(spec)
    assert hostkeys.KNOWN_HOSTS.loads_of(known) == 1
    new = asyncssh.generate_private_key("ssh-ed25519")
    hostkeys.pin_host_key(known, spec.address, spec.port, new, replace=True)  # `hosts trust --replace`
    assert [hostkeys.fingerprint(k) for k in hostkeys.known_keys(spec)] == [hostkeys.fingerprint(new)]
    assert hostkeys.KNOWN_HOSTS.loads_of(known) == 2
