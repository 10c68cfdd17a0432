"""What to do about a host the hub cannot log in to: one line, shared by its overview card and its host page.

A host added with the default key fails with auth_failed (the key is not in its authorized_keys) or
host_key_mismatch (its host key is unknown, changed, or not the one pinned): the page says the fix,
with the real command (`fleetwatch hosts trust`, collector/cli/entry.py).
"""
from __future__ import annotations

import shlex

from webapp.i18n import gettext

ACCESS_STATES = frozenset({"auth_failed", "host_key_mismatch"})


def access_hint(spec, state: str | None, last_error: str | None = None) -> str | None:
    """The one-line fix for a host in state auth_failed or host_key_mismatch; None in any other state.

    `spec`: the host's HostSpec (id, user, address, port, identity_file, host_key).
    """
    if state == "auth_failed":
        port = f"-p {spec.port} " if spec.port != 22 else ""
        key = shlex.quote(f"{spec.identity_file}.pub")
        return gettext("Install the hub's public key on the host (%(command)s) or set identity_file to a key it "
                       "accepts.") % {"command": f"ssh-copy-id -i {key} {port}{spec.user}@{spec.address}"}
    if state != "host_key_mismatch":
        return None
    error = last_error or ""
    if error.startswith("cannot read host keys"):
        return gettext("The hub cannot read known_hosts (%(path)s): fix the file or set known_hosts.") % {
            "path": spec.known_hosts}
    if spec.host_key:
        return gettext("The host's key is not the one pinned in the inventory: check it on the host's console "
                       "(%(command)s) and correct host_key.") % {
            "command": "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"}
    if "HOST KEY CHANGED" in error:
        return gettext("Its host key changed: check the new fingerprint on the host's console, then trust it: "
                       "%(command)s") % {"command": f"fleetwatch hosts trust {spec.id} --replace"}
    return gettext("Trust its host key: %(command)s") % {"command": f"fleetwatch hosts trust {spec.id}"}
