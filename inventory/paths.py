"""Portable expansion of key and known_hosts paths (Linux and Windows hubs)."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["expand_path", "expand_vars"]

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
