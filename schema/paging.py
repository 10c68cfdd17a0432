"""One page of query results, and the paging limits every list endpoint shares."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_LIMIT = 1000
MAX_OFFSET = 2**63 - 1  # the largest OFFSET a database takes (a 64-bit signed integer); larger overflows


@dataclass(frozen=True)
class Page:
    """One page of rows plus the total number of matching rows."""

    total: int
    limit: int
    offset: int
    rows: list[dict[str, Any]]


def check_paging(limit: object, offset: object) -> None:
    """ValueError unless 1 <= limit <= MAX_LIMIT and 0 <= offset <= MAX_OFFSET."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    if not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise ValueError(f"offset must be between 0 and {MAX_OFFSET}, got {offset!r}")


def checked_choices(values: Iterable[str], allowed: Sequence[str], what: str) -> list[str]:
    """The distinct values, sorted, for an IN filter; ValueError naming the unknown ones and the allowed ones."""
    chosen = sorted(set(values))
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    return chosen
