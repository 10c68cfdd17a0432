"""Parse the ``rc`` section: "name exit-status" per command the probe ran behind timeout."""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clip, to_int

TIMED_OUT = 124  # timeout(1)'s status when it had to stop the command
NOT_FOUND = 127


@dataclass(frozen=True, slots=True)
class ExitCodes:
    """Exit status per command name, in the probe's order."""

    codes: tuple[tuple[str, int], ...]

    def get(self, name: str) -> int | None:
        """The status of ``name``, or None when it did not run."""
        return next((code for n, code in self.codes if n == name), None)


def parse(text: str) -> ExitCodes:
    """Parse "name status" lines; empty text is valid (nothing ran behind timeout)."""
    codes: list[tuple[str, int]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        f = line.split()
        code = to_int(f[1]) if len(f) == 2 else None
        if code is None:
            raise ParseError(f"rc: expected 'NAME STATUS', got {clip(line)}")
        codes.append((f[0], code))
    return ExitCodes(tuple(codes))
