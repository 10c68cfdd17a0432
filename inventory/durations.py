"""Durations as written in the inventory: ``5s``, ``500ms``, ``2m``, ``1h``, ``1d``, ``1m30s``, ``5``."""

from __future__ import annotations

import math
import re

from schema.units_format import format_duration

__all__ = ["DURATION_HINT", "duration_literal", "parse_duration", "say_duration"]

DURATION_HINT = 'expected a duration like "5s", "500ms", "2m"'

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = r"(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)"
_PART_RE = re.compile(_PART)
_FULL_RE = re.compile(rf"(?:{_PART}\s*)+")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?|\.\d+")


def parse_duration(value: object) -> float:
    """Return the duration in seconds.

    Accepts a number (seconds: ``5``, ``2.5``) or a string made of one or more
    ``<number><unit>`` parts with unit ``ms``, ``s``, ``m``, ``h`` or ``d``
    (``"1m30s"``, ``"1.5h"``); a bare numeric string is seconds too.
    Negative, infinite and NaN values are refused; zero is returned as 0.0
    (callers that need a positive duration check that themselves).
    """
    if isinstance(value, bool):
        raise ValueError(f"{DURATION_HINT}, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _NUMBER_RE.fullmatch(text):
            seconds = float(text)
        elif text.startswith("-"):
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        elif _FULL_RE.fullmatch(text):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART_RE.findall(text))
        else:
            raise ValueError(f"{DURATION_HINT}, got {value[:40]!r}")
    else:
        raise ValueError(f"{DURATION_HINT}, got {type(value).__name__}")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(f"{DURATION_HINT}, got {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {value!r}")
    return seconds


def duration_literal(seconds: float) -> str:
    """Inverse of :func:`parse_duration`, as the inventory writes it: 5.0 -> "5s", 90 -> "1m30s", 0.5 -> "500ms".

    Not for display: people read durations as :func:`schema.units_format.format_duration` words them.
    """
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    out = []
    rest = seconds
    for unit in ("d", "h", "m"):
        n = int(rest // _UNITS[unit])
        if n:
            out.append(f"{n}{unit}")
            rest -= n * _UNITS[unit]
    if rest or not out:
        out.append(f"{rest:g}s")
    return "".join(out)


say_duration = format_duration  # the name inventory/alerting.py imports ("3 min 20 s")
