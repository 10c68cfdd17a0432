"""The host state machine: table tests over sequences of probe outcomes."""
from __future__ import annotations

import pytest

from collector.errors import Failure
from collector.host_state import FAILS_BEFORE_DOWN, HostStatus, on_failure, on_success

OK = ("ok",)
DEG = ("degraded",)
AUTH = ("fail", Failure.AUTH_FAILED)
KEY = ("fail", Failure.HOST_KEY_MISMATCH)
UNR = ("fail", Failure.UNREACHABLE)
TMO = ("fail", Failure.TIMEOUT)
PRB = ("fail", Failure.PROBE_FAILED)


def run(steps, start: HostStatus | None = None) -> list[HostStatus]:
    """Apply steps at t = 10, 20, 30 ...; return every status after each step."""
    status = start or HostStatus()
    seen = []
    for i, step in enumerate(steps, 1):
        now = 10.0 * i
        if step[0] == "ok":
            status = on_success(status, degraded=False, error_text=None, now=now)
        elif step[0] == "degraded":
            status = on_success(status, degraded=True, error_text="df timed out", now=now)
        else:
            status = on_failure(status, step[1], f"{step[1].value} #{i}", now)
        seen.append(status)
    return seen


UP = HostStatus(state="up", last_seen_at=0.0, state_since=0.0)

TABLE = {
    # name: (start, steps, states after each step)
    "first_success": (None, [OK], ["up"]),
    "first_degraded": (None, [DEG], ["degraded"]),
    "connecting_stays_connecting_until_3rd": (None, [UNR, UNR, UNR], ["connecting", "connecting", "unreachable"]),
    "up_stays_up_for_two_failures": (UP, [TMO, TMO], ["up", "up"]),
    "third_timeout_is_down": (UP, [TMO, TMO, TMO], ["up", "up", "down"]),
    "third_probe_failure_is_down": (UP, [PRB, PRB, PRB], ["up", "up", "down"]),
    "mixed_failures_count_together": (UP, [UNR, TMO, UNR], ["up", "up", "unreachable"]),
    "class_of_3rd_failure_decides": (UP, [UNR, UNR, TMO], ["up", "up", "down"]),
    "success_resets_the_count": (UP, [TMO, TMO, OK, TMO, TMO], ["up", "up", "up", "up", "up"]),
    "auth_at_once": (UP, [AUTH], ["auth_failed"]),
    "host_key_at_once": (None, [KEY], ["host_key_mismatch"]),
    "auth_after_a_timeout": (UP, [TMO, AUTH], ["up", "auth_failed"]),
    "failing_moves_between_failing_states": (UP, [TMO, TMO, TMO, UNR, AUTH, TMO],
                                             ["up", "up", "down", "unreachable", "auth_failed", "down"]),
    "recovery_from_down": (UP, [TMO, TMO, TMO, OK], ["up", "up", "down", "up"]),
    "recovery_from_auth_to_degraded": (UP, [AUTH, DEG], ["auth_failed", "degraded"]),
    "degraded_then_up": (UP, [DEG, OK], ["degraded", "up"]),
}


@pytest.mark.parametrize("start,steps,states", list(TABLE.values()), ids=list(TABLE))
def test_transitions(start, steps, states):
    assert [s.state for s in run(steps, start)] == states


def test_three_failures_before_down():
    assert FAILS_BEFORE_DOWN == 3


def test_failures_keep_the_error_and_count_but_not_last_seen():
    a, b, c = run([TMO, TMO, TMO], UP)
    assert (a.state, a.last_error, a.consecutive_failures, a.last_seen_at) == ("up", "timeout #1", 1, 0.0)
    assert (b.last_error, b.consecutive_failures) == ("timeout #2", 2)
    assert (c.state, c.last_error, c.consecutive_failures, c.last_seen_at) == ("down", "timeout #3", 3, 0.0)


def test_success_clears_error_and_count_and_sets_last_seen():
    *_, ok = run([TMO, TMO, TMO, OK], UP)
    assert (ok.state, ok.last_error, ok.consecutive_failures, ok.last_seen_at) == ("up", None, 0, 40.0)


def test_degraded_keeps_the_section_error():
    (deg,) = run([DEG], UP)
    assert (deg.state, deg.last_error, deg.last_seen_at) == ("degraded", "df timed out", 10.0)


def test_auth_counts_failures_too():
    a, b = run([AUTH, AUTH], UP)
    assert (a.consecutive_failures, b.consecutive_failures) == (1, 2)
    assert b.last_error == "auth_failed #2"


@pytest.mark.parametrize("steps,since", [
    ([TMO, TMO], [0.0, 0.0]),                      # state kept: since unchanged
    ([TMO, TMO, TMO, TMO], [0.0, 0.0, 30.0, 30.0]),  # down at 30 and stays down
    ([OK, OK], [0.0, 0.0]),                        # up -> up is no change
    ([DEG, DEG, OK], [10.0, 10.0, 30.0]),
    ([AUTH, UNR, UNR], [10.0, 20.0, 20.0]),
])
def test_state_since_changes_only_with_the_state(steps, since):
    assert [s.state_since for s in run(steps, UP)] == since


def test_new_host_gets_state_since_on_first_change():
    first, = run([OK])
    assert HostStatus().state_since is None and first.state_since == 10.0


def test_status_is_immutable():
    with pytest.raises(AttributeError):
        HostStatus().state = "up"  # type: ignore[misc]
