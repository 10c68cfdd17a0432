"""The one line that tells what to do about a host the hub cannot log in to (card and host page)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from webapp.access_hint import access_hint


def _spec(**kw):
    base = {"id": "gpu-07", "user": "monitor", "address": "10.0.0.7", "port": 22, "host_key": None,
            "identity_file": Path("/home/ops/.ssh/id_ed25519"), "known_hosts": Path("/home/ops/.ssh/known_hosts")}
    return SimpleNamespace(**{**base, **kw})


def test_auth_failed_says_install_the_public_key_or_set_identity_file():
    hint = access_hint(_spec(), "auth_failed", "monitor@10.0.0.7:22 refused key ...")
    assert hint == ("Install the hub's public key on the host (ssh-copy-id -i /home/ops/.ssh/id_ed25519.pub "
                    "monitor@10.0.0.7) or set identity_file to a key it accepts.")


def test_auth_failed_names_a_port_other_than_22_and_quotes_the_key_path():
    hint = access_hint(_spec(port=2222, identity_file=Path("/keys/my key")), "auth_failed")
    assert "ssh-copy-id -i '/keys/my key.pub' -p 2222 monitor@10.0.0.7" in hint


def test_unknown_host_key_says_trust_it_with_the_real_command():
    hint = access_hint(_spec(), "host_key_mismatch", "host key of 10.0.0.7:22 is not known ...")
    assert hint == "Trust its host key: fleetwatch hosts trust gpu-07"


def test_changed_or_pinned_or_unreadable_host_keys_get_their_own_fix():
    changed = access_hint(_spec(), "host_key_mismatch", "HOST KEY CHANGED for 10.0.0.7:22 ...")
    assert changed.endswith("fleetwatch hosts trust gpu-07 --replace")
    pinned = access_hint(_spec(host_key="ssh-ed25519 AAAA"), "host_key_mismatch", "host key of ... is not known")
    assert "host_key" in pinned and "hosts trust" not in pinned
    unreadable = access_hint(_spec(), "host_key_mismatch", "cannot read host keys for gpu-07: ...")
    assert "/home/ops/.ssh/known_hosts" in unreadable


@pytest.mark.parametrize("state", ["up", "degraded", "down", "unreachable", "connecting", None])
def test_other_states_have_no_hint(state):
    assert access_hint(_spec(), state, "connection refused") is None


def test_the_card_carries_the_hint():
    from schema.fleet import HostNow
    from webapp.fleet_view import host_card

    spec = _spec(labels={})
    card = host_card(spec, HostNow(id="gpu-07", state="auth_failed", last_error="refused"))
    assert card.access_hint.startswith("Install the hub's public key")
    assert host_card(spec, HostNow(id="gpu-07", state="up")).access_hint is None
