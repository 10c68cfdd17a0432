"""Event detection (state changes, samples) and the one-minute duplicate filter."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from collector.errors import Failure
from collector.events import (
    GPU_HOT_C,
    EventDeduper,
    EventDraft,
    HostSnapshot,
    remember_failures,
    sample_events,
    state_events,
)
from collector.host_report import Gpu, HostReport, Service
from collector.host_state import HostStatus, on_failure, on_success

NOW = 1_700_000_000.0


def st(state: str, err: str | None = None, fails: int = 0, seen: float | None = None,
       since: float | None = None) -> HostStatus:
    return HostStatus(state, err, seen, since, fails)


def kinds(events: list[EventDraft]) -> list[tuple[str, str | None]]:
    return [(e.type, e.subject) for e in events]


# --- state events -------------------------------------------------------------------------------

STATE_TABLE = {
    # name: (prev, cur, expected events)
    "up_to_down": (st("up"), st("down", "probe timed out", 3), [("host_down", None)]),
    "up_to_unreachable": (st("up"), st("unreachable", "connection refused", 3), [("host_down", None)]),
    "connecting_to_unreachable": (st("connecting"), st("unreachable", "no route", 3), [("host_down", None)]),
    "degraded_to_down": (st("degraded"), st("down", "x", 3), [("host_down", None)]),
    "down_to_unreachable_no_repeat": (st("down", "x", 3), st("unreachable", "y", 4), []),
    "unreachable_to_down_no_repeat": (st("unreachable", "x", 3), st("down", "y", 4), []),
    "auth_to_unreachable_is_down": (st("auth_failed", "key refused", 1), st("unreachable", "y", 2),
                                    [("host_down", None)]),
    "down_to_up": (st("down", "x", 3, seen=NOW - 200), st("up"), [("host_up", None)]),
    "unreachable_to_degraded": (st("unreachable", "x", 3), st("degraded", "df timed out"), [("host_up", None)]),
    "auth_to_up": (st("auth_failed", "x", 1), st("up"), [("host_up", None)]),
    "key_mismatch_to_up": (st("host_key_mismatch", "x", 1), st("up"), [("host_up", None)]),
    "up_to_auth": (st("up"), st("auth_failed", "key refused; add it to authorized_keys", 1), [("auth_failed", None)]),
    "connecting_to_key_mismatch": (st("connecting"), st("host_key_mismatch", "changed key; run hosts trust", 1),
                                   [("host_key_mismatch", None)]),
    "down_to_auth": (st("down", "x", 3), st("auth_failed", "y", 4), [("auth_failed", None)]),
    "auth_stays_auth": (st("auth_failed", "x", 1), st("auth_failed", "x", 2), []),
    "up_to_up": (st("up"), st("up"), []),
    "up_to_degraded": (st("up"), st("degraded", "df timed out"), []),
    "connecting_to_up": (st("connecting"), st("up"), []),
    "up_with_one_failure": (st("up"), st("up", "timeout", 1), []),
    "down_stays_down": (st("down", "x", 3), st("down", "x", 4), []),
}


@pytest.mark.parametrize("prev,cur,expected", list(STATE_TABLE.values()), ids=list(STATE_TABLE))
def test_state_events(prev, cur, expected):
    events = state_events("web-1", prev, cur, NOW)
    assert kinds(events) == expected
    assert all(e.ts == NOW and e.host_id == "web-1" for e in events)


def test_host_down_message_has_error_and_poll_count():
    (e,) = state_events("web-1", st("up"), st("down", "command on web-1 took longer than 10 s", 3), NOW)
    assert "3 failed polls" in e.message and "took longer than 10 s" in e.message and "down" in e.message
    assert e.details == {"state": "down", "failed_polls": 3, "error": "command on web-1 took longer than 10 s"}


def test_host_up_message_says_how_long():
    (e,) = state_events("web-1", st("down", "x", 3, seen=NOW - 200, since=NOW - 180), st("up"), NOW)
    assert "3 min 20 s" in e.message and e.details["down_for_s"] == 200
    (never_seen,) = state_events("web-1", st("unreachable", "x", 3, since=NOW - 45), st("up"), NOW)
    assert "45 s" in never_seen.message


def test_auth_event_message_is_the_error_text():
    (e,) = state_events("web-1", st("up"), st("auth_failed", "publickey refused: add the hub key", 1), NOW)
    assert e.message == "publickey refused: add the hub key"


def test_state_events_through_the_state_machine():
    s0 = on_success(HostStatus(), degraded=False, error_text=None, now=NOW)
    s1 = on_failure(s0, Failure.TIMEOUT, "t1", NOW + 5)
    s2 = on_failure(s1, Failure.TIMEOUT, "t2", NOW + 10)
    s3 = on_failure(s2, Failure.TIMEOUT, "t3", NOW + 15)
    s4 = on_success(s3, degraded=False, error_text=None, now=NOW + 20)
    seq = [s0, s1, s2, s3, s4]
    out = [kinds(state_events("h", a, b, NOW)) for a, b in zip(seq, seq[1:])]
    assert out == [[], [], [("host_down", None)], [("host_up", None)]]


# --- sample events ------------------------------------------------------------------------------

def snap(uptime: float | None = 1000.0, services: dict | None = None, gpus: dict | None = None,
         ts: float = NOW) -> HostSnapshot:
    return HostSnapshot(ts, uptime, None if uptime is None else ts - uptime, services or {}, gpus or {})


SAMPLE_TABLE = {
    # name: (prev, cur, expected events)
    "nothing_changed": (snap(services={"a.service": "active"}, gpus={0: 50.0}),
                        snap(1005, services={"a.service": "active"}, gpus={0: 51.0}, ts=NOW + 5), []),
    "service_failed": (snap(services={"a.service": "active"}), snap(services={"a.service": "failed"}),
                       [("service_failed", "a.service")]),
    "service_stays_failed": (snap(services={"a.service": "failed"}), snap(services={"a.service": "failed"}), []),
    "first_seen_failed": (None, snap(services={"a.service": "failed", "b.service": "active"}),
                          [("service_failed", "a.service")]),
    "new_unit_failed": (snap(services={"b.service": "active"}),
                        snap(services={"a.service": "failed", "b.service": "active"}),
                        [("service_failed", "a.service")]),
    "service_recovered": (snap(services={"a.service": "failed"}), snap(services={"a.service": "active"}),
                          [("service_recovered", "a.service")]),
    "failed_to_activating_is_nothing": (snap(services={"a.service": "failed"}),
                                        snap(services={"a.service": "activating"}), []),
    "inactive_to_active_is_nothing": (snap(services={"a.service": "inactive"}),
                                      snap(services={"a.service": "active"}), []),
    "unit_gone_is_nothing": (snap(services={"a.service": "failed"}), snap(services={}), []),
    "two_units_two_events": (snap(services={"a.service": "active", "b.service": "failed"}),
                             snap(services={"a.service": "failed", "b.service": "active"}),
                             [("service_failed", "a.service"), ("service_recovered", "b.service")]),
    "uptime_backwards": (snap(5000), snap(30, ts=NOW + 5), [("host_rebooted", None)]),
    "boot_time_forward_longer_uptime": (snap(100, ts=NOW), snap(400, ts=NOW + 3600), [("host_rebooted", None)]),
    "boot_time_jitter_121s": (snap(1000, ts=NOW), snap(1004, ts=NOW + 125), [("host_rebooted", None)]),
    "boot_time_jitter_120s_no": (snap(1000, ts=NOW), snap(1005, ts=NOW + 125), []),
    "hub_late_poll_no_reboot": (snap(1000, ts=NOW), snap(1600, ts=NOW + 600), []),
    "uptime_unknown_no_reboot": (snap(1000), snap(None, ts=NOW + 5), []),
    "first_snapshot_no_reboot": (None, snap(5), []),
    "gpu_hot": (snap(gpus={0: 79.0, 1: 85.0}), snap(gpus={0: 80.0, 1: 86.0}), [("gpu_hot", "0")]),
    "gpu_stays_hot": (snap(gpus={0: 83.0}), snap(gpus={0: 90.0}), []),
    "gpu_cools_then_hot_again": (snap(gpus={0: 79.9}), snap(gpus={0: 81.0}), [("gpu_hot", "0")]),
    "gpu_first_seen_hot": (None, snap(gpus={0: 85.0, 1: 40.0}), [("gpu_hot", "0")]),
    "gpu_new_hot": (snap(gpus={0: 40.0}), snap(gpus={0: 40.0, 1: 82.0}), [("gpu_hot", "1")]),
    "gpu_unknown_before": (snap(gpus={0: None}), snap(gpus={0: 80.0}), [("gpu_hot", "0")]),
    "gpu_unknown_now": (snap(gpus={0: 85.0}), snap(gpus={0: None}), []),
    "gpu_just_below": (snap(gpus={0: 20.0}), snap(gpus={0: 79.99}), []),
}


@pytest.mark.parametrize("prev,cur,expected", list(SAMPLE_TABLE.values()), ids=list(SAMPLE_TABLE))
def test_sample_events(prev, cur, expected):
    events = sample_events("gpu-1", prev, cur, NOW + 7)
    assert kinds(events) == expected
    assert all(e.ts == NOW + 7 and e.host_id == "gpu-1" and e.message for e in events)


def test_gpu_hot_message_has_units():
    (e,) = sample_events("gpu-1", None, snap(gpus={0: 83.0}), NOW)
    assert e.message == "GPU 0 on gpu-1 at 83 °C (≥ 80 °C)" and GPU_HOT_C == 80.0
    assert e.details["temperature_c"] == 83.0


def test_reboot_message_has_old_and_new_boot_time():
    (e,) = sample_events("h", snap(5000, ts=1_700_005_000.0), snap(60, ts=1_700_006_060.0), NOW)
    assert "2023-11-14 22:13:20 UTC" in e.message  # previous boot (1_700_000_000)
    assert "2023-11-14 23:53:20 UTC" in e.message  # new boot (1_700_006_000)
    assert e.details["old_boot_time"] == 1_700_000_000.0 and e.details["new_boot_time"] == 1_700_006_000.0


def test_service_messages():
    failed, = sample_events("h", snap(services={"nginx.service": "active"}),
                            snap(services={"nginx.service": "failed"}), NOW)
    assert failed.message == "nginx.service on h has failed (was active)"
    recovered, = sample_events("h", snap(services={"nginx.service": "failed"}),
                               snap(services={"nginx.service": "active"}), NOW)
    assert "active again" in recovered.message


def test_snapshot_from_report():
    def gpu(index: int, temp: float | None) -> Gpu:
        return Gpu(index, None, "A100", None, None, None, None, None, temp, None, None, None)
    report = HostReport("h", "up", NOW, {}, uptime_s=3600.5,
                        services=(Service("nginx.service", "loaded", "active", "running"),),
                        gpus=(gpu(0, 81.0), gpu(1, None)))
    s = HostSnapshot.from_report(report)
    assert (s.ts, s.uptime_s, s.boot_time) == (NOW, 3600.5, NOW - 3600.5)
    assert dict(s.services) == {"nginx.service": "active"}
    assert dict(s.gpu_temps) == {0: 81.0, 1: None}


def test_snapshot_from_failure_report():
    s = HostSnapshot.from_report(HostReport("h", "down", NOW, {}))
    assert (s.uptime_s, s.boot_time, dict(s.services), dict(s.gpu_temps)) == (None, None, {}, {})


# --- duplicate filter ---------------------------------------------------------------------------

def draft(ts: float, type_: str = "gpu_hot", subject: str | None = "0", host: str = "h") -> EventDraft:
    return EventDraft(ts, host, type_, subject, "m")


@pytest.mark.parametrize("gap,admitted", [(0.0, False), (30.0, False), (59.9, False), (60.0, True), (61.0, True)])
def test_dedup_window_edges(gap, admitted):
    d = EventDeduper()
    assert d.admit(draft(NOW))
    assert d.admit(draft(NOW + gap)) is admitted


@pytest.mark.parametrize("other", [
    draft(NOW + 1, subject="1"),               # another GPU
    draft(NOW + 1, subject=None),              # host-level event of the same type
    draft(NOW + 1, type_="service_failed"),    # another type
    draft(NOW + 1, host="h2"),                 # another host
])
def test_dedup_keys_are_per_host_type_and_subject(other):
    d = EventDeduper()
    assert d.admit(draft(NOW))
    assert d.admit(other)
    assert not d.admit(other)


def test_rejected_drafts_do_not_extend_the_window():
    d = EventDeduper()
    assert d.admit(draft(NOW))
    assert not d.admit(draft(NOW + 50))
    assert d.admit(draft(NOW + 60))


def test_dedup_custom_window_and_clock_stepping_back():
    d = EventDeduper(window_s=10)
    assert d.admit(draft(NOW)) and d.admit(draft(NOW + 10))
    assert not d.admit(draft(NOW + 5))  # stamped before the last admitted one, within the window


def test_seed_from_stored_events():
    stored = [SimpleNamespace(ts=NOW - 30, host_id="h", type="host_down", subject=None, message="x"),
              SimpleNamespace(ts=NOW - 90, host_id="h", type="gpu_hot", subject="0", message="x"),
              draft(NOW - 10, subject="1")]
    d = EventDeduper()
    d.seed(stored)
    assert not d.admit(draft(NOW, type_="host_down", subject=None))
    assert d.admit(draft(NOW, subject="0"))  # stored 90 s ago: outside the window
    assert not d.admit(draft(NOW, subject="1"))
    assert d.admit(draft(NOW + 30, type_="host_down", subject=None))


def test_seed_keeps_the_newest_of_several():
    d = EventDeduper()
    d.seed([draft(NOW - 100), draft(NOW - 20), draft(NOW - 200)])
    assert not d.admit(draft(NOW))


def test_dedup_memory_stays_bounded():
    d = EventDeduper()
    for i in range(20_000):
        assert d.admit(draft(NOW + i, subject=str(i)))
    assert len(d) <= 2 * EventDeduper.MIN_PRUNE + 1
    assert not d.admit(draft(NOW + 19_999, subject="19999"))  # recent entries survive pruning


# ---------------------------------------------------------------- failures carried over restarts
def _snap(ts: float, **services: str) -> HostSnapshot:
    return HostSnapshot(ts, 100.0 + ts, 0.0, {k.replace("_", "."): v for k, v in services.items()}, {})


def _run(states: list[str]) -> list[str]:
    """Feed a unit through states poll by poll, as the poller does; the event types that come out."""
    prev, out = None, []
    for i, st in enumerate(states):
        cur = _snap(float(i * 5), nginx_service=st)
        out += [e.type for e in sample_events("h", prev, cur, cur.ts)]
        prev = remember_failures(prev, cur)
    return out


@pytest.mark.parametrize("states, expected", [
    (["active", "failed", "active"], ["service_failed", "service_recovered"]),
    (["active", "failed", "activating", "active"], ["service_failed", "service_recovered"]),
    (["failed", "inactive", "failed"], ["service_failed"]),
    (["active", "failed", "deactivating", "inactive"], ["service_failed"]),
    (["active", "activating", "active"], []),
])
def test_a_failed_unit_recovers_only_when_active_again(states, expected):
    assert _run(states) == expected
