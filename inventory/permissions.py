"""Files that other users of the hub's machine should not read (SPEC section 6).

The inventory names every host, user and key file; the private keys it points
at open those hosts. On POSIX both should be private to the hub's user:
- the inventory file warns when it is readable by other users (``o+r``);
- a private key (``identity_file``) warns when its group or other users have
  any access: OpenSSH's ``ssh`` refuses such a key ("UNPROTECTED PRIVATE KEY
  FILE"), asyncssh uses it anyway, so the hub would not notice on its own.
Windows has ACLs instead of mode bits: no warnings there.
A file that does not exist or cannot be examined gives no warning (the loader
and the SSH connection report those).
"""

from __future__ import annotations

import os
import shlex
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import HostSpec, Inventory

__all__ = [
    "file_warnings",
    "identity_file_hosts",
    "identity_file_warnings",
    "inventory_warnings",
    "world_readable_warning",
]

_SHOW_HOSTS = 5  # hosts named in one key's warning; the rest are counted


def _mode(path: str | os.PathLike[str]) -> int | None:
    """The permission bits of ``path`` (following links), or None on Windows or when it cannot be examined."""
    if os.name == "nt":
        return None
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except (OSError, ValueError):  # missing, no access, a NUL in the name
        return None


def world_readable_warning(path: str | os.PathLike[str]) -> str | None:
    """A warning when the inventory file at ``path`` is readable by other users (POSIX), else None."""
    mode = _mode(path)
    if mode is None or not mode & stat.S_IROTH:
        return None
    return (f"the inventory file {path} is readable by other users (mode {mode:04o}): it names every host, "
            f"user and key file; run `chmod o-rwx {shlex.quote(os.fspath(path))}`")


def identity_file_hosts(hosts: Iterable[HostSpec]) -> dict[Path, list[str]]:
    """Each private key file the hosts use, with the ids of the hosts using it (inventory order)."""
    out: dict[Path, list[str]] = {}
    for spec in hosts:
        out.setdefault(spec.identity_file, []).append(spec.id)
    return out


def identity_file_warnings(files: Mapping[Path, list[str]]) -> list[str]:
    """One warning per private key file that its group or other users may access (POSIX)."""
    out = []
    for path, host_ids in files.items():
        mode = _mode(path)
        if mode is None or not mode & 0o077:
            continue
        shown = ", ".join(repr(h) for h in host_ids[:_SHOW_HOSTS])
        more = f" and {len(host_ids) - _SHOW_HOSTS} more" if len(host_ids) > _SHOW_HOSTS else ""
        who = f"host {shown}" if len(host_ids) == 1 else f"hosts {shown}{more}"
        what = "readable" if mode & 0o044 else "writable"
        out.append(f"{who}: identity_file {path} is {what} by other users (mode {mode:04o}); "
                   f"ssh refuses such a private key: run `chmod 600 {shlex.quote(os.fspath(path))}`")
    return out


def inventory_warnings(path: str | os.PathLike[str], inventory: Inventory | None) -> list[str]:
    """The inventory file's warning and its keys' warnings (none for the keys without an inventory)."""
    out = []
    own = world_readable_warning(path)
    if own is not None:
        out.append(own)
    if inventory is not None:
        out.extend(identity_file_warnings(identity_file_hosts(inventory.resolved_hosts())))
    return out


def file_warnings(path: str | os.PathLike[str] | None = None) -> list[str]:
    """:func:`inventory_warnings` for the inventory file at ``path`` (default: the default inventory),
    read here; an invalid file gives only its own warning (its problems are reported elsewhere)."""
    from .errors import InventoryError
    from .loader import default_inventory_path, load_inventory

    path = default_inventory_path() if path is None else Path(path)
    try:
        inventory = load_inventory(path)
    except InventoryError:
        inventory = None
    return inventory_warnings(path, inventory)
