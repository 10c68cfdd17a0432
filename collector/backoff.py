"""Exponential reconnect backoff with jitter (pure: the caller supplies randomness)."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays 1 s, 2 s, 4 s ... capped at 60 s, each jittered into [d/2, d].

    Jitter keeps a fleet that lost its network at once from reconnecting in
    lockstep; the lower bound d/2 keeps the growth visible.
    """

    base: float = 1.0
    cap: float = 60.0
    factor: float = 2.0
    rng: Callable[[], float] = field(default=random.random, repr=False)
    attempt: int = 0

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay for the given (0-based) attempt."""
        return min(self.cap, self.base * self.factor ** min(attempt, 64))

    def next_delay(self) -> float:
        """Delay before the next try; each call counts one failed attempt."""
        d = self.ceiling(self.attempt)
        self.attempt += 1
        return d / 2 + self.rng() * d / 2

    def reset(self) -> None:
        """Forget past failures (after a successful connect)."""
        self.attempt = 0
