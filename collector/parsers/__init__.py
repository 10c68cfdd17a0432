"""One parser per probe section: pure functions text -> frozen dataclass.

Every module exposes ``parse(text: str)``; it never does I/O, never reads the
clock, and raises nothing but :class:`ParseError` whatever the input (a host's
output is not trusted). Values a kernel or tool may not provide are ``None``,
never a silent 0.
"""
from __future__ import annotations

import math
import re

__all__ = ["ParseError", "to_int", "to_float", "clip"]

# ASCII only: int() and float() also accept "1_000", "٣" and "nan", none of
# which a kernel or coreutils ever prints.
_INT_RE = re.compile(r"[0-9]+", re.ASCII)
_FLOAT_RE = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


class ParseError(ValueError):
    """Section text that cannot be interpreted; the only exception parsers raise."""


def to_int(s: str) -> int | None:
    """Non-negative decimal integer, or None."""
    s = s.strip()
    if not _INT_RE.fullmatch(s):
        return None
    try:
        return int(s)
    except ValueError:  # more digits than int() accepts (sys.int_info)
        return None


def to_float(s: str) -> float | None:
    """Non-negative finite decimal number, or None."""
    s = s.strip()
    if not _FLOAT_RE.fullmatch(s):
        return None
    v = float(s)
    return v if math.isfinite(v) else None


def clip(text: str, n: int = 60) -> str:
    """Short repr of untrusted text for error messages."""
    return repr(text[:n] + ("..." if len(text) > n else ""))
