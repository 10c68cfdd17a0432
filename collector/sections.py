"""Split the probe's output into named sections (pure, no I/O).

The probe prints ``<<<name>>>`` headers followed by raw text. To save a
process per file on the host, /proc/meminfo, /proc/diskstats and /proc/net/dev
come from one ``head -v`` under a ``<<<proc>>>`` header; ``head`` separates the
files with ``==> FILE <==`` lines, which are expanded here into the sections
``meminfo``, ``diskstats`` and ``net``.
"""
from __future__ import annotations

import re

from collector.parsers import split_head_files

SECTION_RE = re.compile(r"^<<<([a-z][a-z0-9_.-]{0,31})>>>$")

# head's file headers inside <<<proc>>> -> section names
PROC_FILES = {
    "/proc/meminfo": "meminfo",
    "/proc/diskstats": "diskstats",
    "/proc/net/dev": "net",
}


def split_sections(output: str) -> dict[str, str]:
    """Return {section name: raw text}. Unknown sections are kept as they are.

    A section that appears twice keeps its first occurrence (a host's output is
    not trusted; repeating a section must not override what came first).
    """
    raw: dict[str, list[str]] = {}
    order: list[str] = []
    current: str | None = None
    for line in output.splitlines():
        m = SECTION_RE.match(line) if line.startswith("<<<") else None  # the regex only where it can match
        if m:
            name = m.group(1)
            if name in raw:
                current = None  # ignore a repeated section
                continue
            current = name
            raw[name] = []
            order.append(name)
            continue
        if current is not None:
            raw[current].append(line)
    sections: dict[str, str] = {}
    for name in order:
        text = "\n".join(raw[name])
        if name == "proc":
            for path, content in split_head_files(text).items():
                target = PROC_FILES.get(path)
                if target and target not in sections:
                    sections[target] = content
            continue
        sections[name] = text
    return sections
