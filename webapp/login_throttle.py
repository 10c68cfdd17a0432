"""Login throttling per client address: failures slow the next try, then lock for a while.

Pure and in memory: the clock is an argument, nothing is stored. A hub restart
forgets the counts, which an attacker cannot cause from outside.

An attempt is counted when it starts (`reserve`), not when argon2 has said
no, and one address has one attempt in flight at a time: 60 wrong passwords
sent in parallel used to be checked all 60, since each was counted only after
its ~50 ms check. A wrong password's answer is held back (the delay) while the
attempt still holds its slot, so parallel tries meet "one at a time" instead.
The address is the socket peer; X-Forwarded-For counts only behind a proxy
named with `serve --forwarded-allow-ips`.
"""
from __future__ import annotations

from dataclasses import dataclass

from webapp.i18n import gettext

FREE_FAILURES = 3  # tries before any delay
LOCK_AFTER = 10  # failures in a row before a lock
DELAY_STEP_S = 1.0  # the 4th failure waits 1 s before answering, the 5th 2 s, ... up to MAX_DELAY_S
MAX_DELAY_S = 5.0
LOCK_S = 15 * 60
FORGET_S = 60 * 60  # failures older than this no longer count


@dataclass(frozen=True)
class Reservation:
    """The attempt may go on; a wrong password's answer waits `delay_s` first."""

    delay_s: float


@dataclass(frozen=True)
class Refusal:
    """The attempt is refused before any password is checked."""

    wait_s: float  # 0 when refused because another attempt is in flight
    message: str


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(self, *, delay_step_s: float = DELAY_STEP_S, lock_s: float = LOCK_S) -> None:
        self._clients: dict[str, _Record] = {}
        self._in_flight: set[str] = set()
        self.delay_step_s = delay_step_s
        self.lock_s = lock_s

    def reserve(self, client: str, now: float) -> Reservation | Refusal:
        """Before checking a password: refuse (locked, or another try in flight) or count it as a failure
        now (`succeeded` forgets it); `release` when its answer is sent."""
        wait = self.locked_for(client, now)
        if wait > 0:
            return Refusal(wait, gettext("Too many failed logins from your address: try again in %(minutes)s min.")
                           % {"minutes": max(1, round(wait / 60))})
        if client in self._in_flight:
            return Refusal(0.0, gettext("Another login from your address is being checked: wait for its answer, "
                                        "then try again."))
        self._in_flight.add(client)
        return Reservation(self.failed(client, now))

    def release(self, client: str) -> None:
        self._in_flight.discard(client)

    def locked_for(self, client: str, now: float) -> float:
        """Seconds this client must still wait before it may try again (0: it may)."""
        rec = self._clients.get(client)
        return 0.0 if rec is None else max(0.0, rec.locked_until - now)

    def failed(self, client: str, now: float) -> float:
        """Count a failure; returns how long to delay the answer (seconds)."""
        rec = self._clients.get(client)
        if rec is None or now - rec.last_failure > FORGET_S:
            rec = self._clients[client] = _Record()
        rec.failures += 1
        rec.last_failure = now
        if rec.failures >= LOCK_AFTER:
            rec.locked_until = now + self.lock_s
            rec.failures = 0
        if len(self._clients) > 10_000:  # a flood of addresses must not grow memory without end
            self._forget_old(now)
        return min(MAX_DELAY_S, max(0, rec.failures - FREE_FAILURES) * self.delay_step_s)

    def succeeded(self, client: str) -> None:
        self._clients.pop(client, None)

    def failures(self, client: str) -> int:
        rec = self._clients.get(client)
        return 0 if rec is None else rec.failures

    def _forget_old(self, now: float) -> None:
        for key in [k for k, r in self._clients.items() if now - r.last_failure > FORGET_S and r.locked_until < now]:
            del self._clients[key]
