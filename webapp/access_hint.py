"""What to do about a host the hub cannot log in to: one line, shared by its overview card and its host page.

A host added with the default key fails with auth_failed (the key is not in its authorized_keys) or
host_key_mismatch (its host key is unknown, changed, or not the one pinned): the page says the fix,
with the real command (`fleetwatch hosts trust`, collector/cli/entry.py).
"""
from __future__ import annotations

import shlex

ACCESS_STATES = frozenset({"auth_failed", "host_key_mismatch"})


def access_hint(spec, state: str | None, last_error: str | None = None) -> str | None:
    """The one-line fix for a host in state auth_failed or host_key_mismatch; None in any other state.

    `spec`: the host's HostSpec (id, user, address, port, identity_file, host_key).
    """
    if state == "auth_failed":
        port = f"-p {spec.port} " if spec.port != 22 else ""
        key = shlex.quote(f"{spec.identity_file}.pub")
        return (f"Install the hub's public key on the host (ssh-copy-id -i {key} {port}{spec.user}@{spec.address}) "
                f"or set identity_file to a key it accepts.")
    if state != "host_key_mismatch":
        return None
    error = last_error or ""
    if error.startswith("cannot read host keys"):
        return f"The hub cannot read known_hosts ({spec.known_hosts}): fix the file or set known_hosts."
    if spec.host_key:
        return ("The host's key is not the one pinned in the inventory: check it on the host's console "
                "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and correct host_key.")
    if "HOST KEY CHANGED" in error:
        return ("Its host key changed: check the new fingerprint on the host's console, then trust it: "
                f"fleetwatch hosts trust {spec.id} --replace")
    return f"Trust its host key: fleetwatch hosts trust {spec.id}"
