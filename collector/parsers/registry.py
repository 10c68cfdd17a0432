"""Sections that register themselves: a parser module with `SECTION = Section(...)` is found here.

The first sections are listed in collector/reading.py (with their order and
which of them are printed at every probe). A section added later declares
itself in its own module, so adding one is its parser and its probe lines:
the hub parses it at every probe, and a probe output without it (a simulated
host, an older fixture) is not an error: its values are None.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Section:
    """A probe section and its parser; `keep`: the next poll needs it (rates over the interval)."""

    name: str
    parse: Callable[[str], Any]
    keep: bool = False


@cache
def registered() -> tuple[Section, ...]:
    """Every `SECTION` of the modules of collector.parsers, by module name."""
    package = importlib.import_module("collector.parsers")
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"collector.parsers.{info.name}")
        section = getattr(module, "SECTION", None)
        if isinstance(section, Section):
            found.append(section)
    return tuple(found)
