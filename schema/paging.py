"""One page of query results, and the paging limits every list endpoint shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    """One page of rows plus the total number of matching rows."""

    total: int
    limit: int
    offset: int
    rows: list[dict[str, Any]]


def check_paging(limit: object, offset: object) -> None:
    """ValueError unless 1 <= limit <= MAX_LIMIT and offset >= 0."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be 0 or more, got {offset!r}")
