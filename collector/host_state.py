"""The host state machine (SPEC §4 host states): pure transitions on probe outcomes."""
from __future__ import annotations

from dataclasses import dataclass, replace

from collector.errors import Failure

FAILS_BEFORE_DOWN = 3  # consecutive failed polls before a flaky host is shown down

STATES = ("connecting", "up", "degraded", "down", "auth_failed", "host_key_mismatch", "unreachable")
OK_STATES = frozenset({"up", "degraded"})
FAILING_STATES = frozenset({"down", "unreachable", "auth_failed", "host_key_mismatch"})

# Failures that retrying will not heal: entered on the first one.
_IMMEDIATE = {Failure.AUTH_FAILED: "auth_failed", Failure.HOST_KEY_MISMATCH: "host_key_mismatch"}


@dataclass(frozen=True)
class HostStatus:
    """What the hub shows for a host: its state, why, and since when."""

    state: str = "connecting"
    last_error: str | None = None
    last_seen_at: float | None = None  # last successful probe
    state_since: float | None = None
    consecutive_failures: int = 0


def _enter(prev: HostStatus, state: str, now: float, **changes: object) -> HostStatus:
    """prev with `changes`; state_since moves only when the state does."""
    since = prev.state_since if state == prev.state else now
    return replace(prev, state=state, state_since=since, **changes)


def on_success(prev: HostStatus, *, degraded: bool, error_text: str | None, now: float) -> HostStatus:
    """A probe came back: up, or degraded (some section failed) with its error text."""
    state = "degraded" if degraded else "up"
    return _enter(prev, state, now, last_error=error_text if degraded else None,
                  last_seen_at=now, consecutive_failures=0)


def failing_state(failure: Failure) -> str:
    """The failing state a failure class leads to."""
    if failure in _IMMEDIATE:
        return _IMMEDIATE[failure]
    return "unreachable" if failure is Failure.UNREACHABLE else "down"


def on_failure(prev: HostStatus, failure: Failure, message: str, now: float) -> HostStatus:
    """A probe failed: auth and host key problems at once, others after FAILS_BEFORE_DOWN in a row."""
    failures = prev.consecutive_failures + 1
    target = failing_state(failure)
    if failure in _IMMEDIATE or prev.state in FAILING_STATES or failures >= FAILS_BEFORE_DOWN:
        state = target
    else:
        state = prev.state  # one or two misses: keep showing what we had, with the error
    return _enter(prev, state, now, last_error=message, consecutive_failures=failures)
