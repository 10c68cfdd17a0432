"""Portable expansion of key and known_hosts paths (Linux and Windows hubs), and the folders
that the API and the Servers page may point them into."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KEY_FIELDS", "KeyFolders", "expand_path", "expand_vars"]

KEY_FIELDS = ("identity_file", "known_hosts")

# $VAR, ${VAR}, %VAR% -- all three are expanded on every OS so that one
# inventory works on a Linux and on a Windows hub.
_VAR_RE = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|%(?P<win>[A-Za-z_][A-Za-z0-9_()]*)%")


def _lookup(name: str, windows_style: bool) -> str | None:
    value = os.environ.get(name)
    if value is None and windows_style and os.name != "nt":
        # %VAR% names are case-insensitive on Windows; match that elsewhere.
        upper = name.upper()
        for key, val in os.environ.items():
            if key.upper() == upper:
                return val
    return value


def expand_vars(text: str) -> str:
    """Replace ``$VAR``, ``${VAR}`` and ``%VAR%`` from ``os.environ``; unknown variables are left as written."""

    def repl(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain") or match.group("win")
        value = _lookup(name, windows_style=match.group("win") is not None)
        return match.group(0) if value is None else value

    return _VAR_RE.sub(repl, text)


def _home() -> str:
    if os.name == "nt":
        home = os.environ.get("USERPROFILE") or os.environ.get("HOME")
    else:
        home = os.environ.get("HOME") or os.environ.get("USERPROFILE")
    return home or str(Path.home())


def expand_path(text: str | os.PathLike[str]) -> Path:
    """Expand environment variables and a leading ``~`` (``~/x`` or ``~\\x``).

    The file is not required to exist.  ``~user/...`` is expanded where the OS
    knows how; otherwise it is left as written.
    """
    raw = expand_vars(os.fspath(text).strip())
    if raw == "~" or raw.startswith(("~/", "~\\")):
        raw = _home() + raw[1:]
    elif raw.startswith("~"):
        raw = os.path.expanduser(raw)
    return Path(raw)


@dataclass(frozen=True)
class KeyFolders:
    """Where an inventory edit made through the API or the UI may point identity_file and known_hosts.

    The hub reads these files and reports what is wrong with them, so a path set from the web
    would let an admin make it open any file its user can read (/etc/shadow, another service's
    key). Only ``ssh`` (``~/.ssh``), ``data`` (the data folder) and the ``extra`` folders of
    ``serve --key-dir`` are allowed. The hand-edited file is trusted and never checked.
    """

    ssh: Path
    data: Path
    extra: tuple[Path, ...] = ()

    @classmethod
    def of(cls, data: Path, extra: Iterable[Path] = ()) -> KeyFolders:
        return cls(expand_path("~/.ssh"), Path(data), tuple(Path(p) for p in extra))

    def problem(self, field: str, value: object) -> str | None:
        """Why ``value`` may not be set from the web (one line), or None when it may.

        Compared after ``~`` and variables are expanded, a relative path is taken from the
        working folder (as the hub opens it) and symlinks are resolved: ``~/.ssh/x -> /etc/shadow``
        is outside. A value the loader will refuse anyway (not a string, empty, a NUL) is left to it.
        """
        if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
            return None
        given = expand_path(value)
        try:
            resolved = (given if given.is_absolute() else Path.cwd() / given).resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a name the OS refuses
            resolved = None
        folders = [self.ssh, self.data, *self.extra]
        inside = resolved is not None and any(resolved.is_relative_to(_resolved(f)) for f in folders)
        if inside:
            return None
        shown = f"{value} (resolves to {resolved})" if resolved is not None and str(resolved) != value else value
        extra = f" ({', '.join(str(p) for p in self.extra)})" if self.extra else ""
        what = "the key" if field == "identity_file" else "the file"
        return (f"{field} must lie in ~/.ssh ({self.ssh}), the data folder ({self.data}) or a --key-dir "
                f"folder{extra}: {shown} is outside them; copy {what} into ~/.ssh or start serve with "
                "--key-dir DIR")


def _resolved(folder: Path) -> Path:
    try:
        return expand_path(folder).resolve()
    except (OSError, RuntimeError, ValueError):
        return Path(folder)
