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
