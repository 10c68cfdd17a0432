"""Code that runs on monitored hosts: the bundled POSIX sh probe."""
from __future__ import annotations

import re
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


# What only some probes run: the option that asks for it -> its functions and the settings only they read.
# A probe is sent without the others (probe_for): the host's shell parses every byte at every probe.
OPTIONAL_PARTS = {
    "-g": ("fw_nvidia", "fw_gpu_query", "FW_GPU_BASE", "FW_GPU_STATE", "FW_GPU_HEALTH", "fw_amdgpu", "fw_kv",
           "FW_AMD_HWMON"),
    "-c": ("fw_gpu_apps",),
    "-o": ("fw_os",),
    "-p": ("fw_ps",),
    "-U": ("fw_catalog",),
}
_DEFINES = re.compile(r"^(?:([a-z_]+)\(\) \{|([A-Z_]+)=)")


@cache
def _parts() -> tuple[tuple[str | None, str], ...]:
    """probe.sh minified, in top-level parts: (the function or setting a part defines, or None; its text).

    A function starts with `name() {` at the start of a line and ends at the first `}` alone at the start of
    a line (the script's own layout; a test checks that every function is found)."""
    parts: list[tuple[str | None, list[str]]] = []
    inside = False
    for line in probe_source().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = None if inside else _DEFINES.match(line)
        if m:
            parts.append((m.group(1) or m.group(2), []))
            inside = m.group(1) is not None
        elif not inside and (not parts or parts[-1][0] is not None):
            parts.append((None, []))
        parts[-1][1].append(stripped)
        if inside and line == "}":
            inside = False
    return tuple((name, "\n".join(lines) + "\n") for name, lines in parts)


@cache
def probe_for(options: frozenset[str]) -> str:
    """The minified probe without the parts no option in `options` asks for (a default 5 s probe: 3 kB of 7)."""
    dropped = {name for opt, names in OPTIONAL_PARTS.items() if opt not in options for name in names}
    return "".join(text for name, text in _parts() if name not in dropped)


def _options(args: list[str]) -> frozenset[str]:
    found = set()
    it = iter(args)
    for a in it:
        if a == "--":
            break
        if a == "-m":
            next(it, None)  # its mount list
        elif a.startswith("-"):
            found.add(a)
    return frozenset(found)


def probe_command(args: list[str]) -> str:
    """The exec request: set the probe's arguments, then the script itself (only the parts these arguments use).

    The user's login shell (a POSIX sh) runs it directly, so no extra process
    is started just to read the script. Every argument is single-quoted here;
    the caller has already validated units and mount points against strict
    patterns (inventory.patterns).
    """
    script = probe_for(_options(args))
    quoted = " ".join(shlex.quote(a) for a in args)
    return f"set -- {quoted}\n{script}" if args else script
