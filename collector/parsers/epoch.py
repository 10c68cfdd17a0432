"""Parse the ``epoch`` section: the host's clock in seconds, or empty."""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clip, to_int


@dataclass(frozen=True, slots=True)
class Epoch:
    """Host epoch seconds; None when the host shell has no builtin clock (dash)."""

    seconds: int | None


def parse(text: str) -> Epoch:
    """Parse one integer line; empty text is valid and gives ``seconds=None``."""
    s = text.strip()
    if not s:
        return Epoch(None)
    seconds = to_int(s)
    if seconds is None:
        raise ParseError(f"epoch: not an integer: {clip(s)}")
    return Epoch(seconds)
