"""Code that runs on monitored hosts: the bundled POSIX sh probe."""
from __future__ import annotations

import shlex
from functools import cache
from importlib import resources

PROBE_NAME = "probe.sh"


def probe_source() -> str:
    """Return the text of probe.sh as shipped with the package."""
    return resources.files(__name__).joinpath(PROBE_NAME).read_text(encoding="utf-8")


@cache
def probe_minified() -> str:
    """probe.sh without comments, blank lines and indentation.

    Sent on every probe to every host, so it is worth halving; the script
    keeps no here-documents or indented string content for this to break
    (tests run both forms and compare their sections).
    """
    lines = []
    for line in probe_source().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(stripped)
    return "\n".join(lines) + "\n"


def probe_command(args: list[str]) -> str:
    """The exec request: set the probe's arguments, then the script itself.

    The user's login shell (a POSIX sh) runs it directly, so no extra process
    is started just to read the script. Every argument is single-quoted here;
    the caller has already validated units and mount points against strict
    patterns (inventory.patterns).
    """
    quoted = " ".join(shlex.quote(a) for a in args)
    return f"set -- {quoted}\n{probe_minified()}" if args else probe_minified()
