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
