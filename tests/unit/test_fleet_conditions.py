"""The overview's "trouble first": each host's conditions worst first (`webapp.fleet_view.conditions`), and the
sorts of the cards and the table (`sort_cards`)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from schema.fleet import HostNow
from webapp import fleet_view as fv
from webapp.fleet_view import Condition, conditions

NOW = 1_000_000.0
GPU = {"index": 0, "util_pct": 10.0, "mem_used_mb": 100.0, "mem_total_mb": 1000.0, "temperature_c": 40.0}


def gpu(**kw):
    return {**GPU, **kw}


# name: (state, report, keyword arguments, the conditions expected in order as (severity, text))
CASES = {
    "healthy": ("up", {"gpus": [gpu()], "disks": [{"mount": "/", "used_pct": 89.9}],
                       "mem_used_bytes": 89, "mem_total_bytes": 100}, {}, []),
    "no report": ("up", None, {}, []),
    "down": ("down", None, {"last_error": "timeout"}, [("bad", "down")]),
    "unreachable": ("unreachable", None, {}, [("bad", "unreachable")]),
    "auth failed": ("auth_failed", None, {}, [("bad", "auth failed")]),
    "host key": ("host_key_mismatch", None, {}, [("bad", "host key mismatch")]),
    "alert critical": ("up", None, {"firing": [("gpu-hot", "critical")]}, [("bad", "alert firing: gpu-hot")]),
    "alert warning": ("up", None, {"firing": [("disk", "warning")]}, [("warn", "alert firing: disk")]),
    "alert twice": ("up", None, {"firing": [("gpu-hot", "critical")] * 2}, [("bad", "alert firing: gpu-hot")]),
    "failed service": ("up", {"services": [{"name": "nginx.service", "active_state": "failed"},
                                           {"name": "cron.service", "active_state": "active"}]}, {},
                       [("bad", "failed service: nginx")]),
    "gpu hot": ("up", {"gpus": [gpu(temperature_c=85.0)]}, {}, [("bad", "GPU 0 hot 85 °C")]),
    "gpu hot at the threshold": ("up", {"gpus": [gpu(temperature_c=80.0)]}, {}, [("bad", "GPU 0 hot 80 °C")]),
    "gpu just below": ("up", {"gpus": [gpu(temperature_c=79.9)]}, {}, []),
    "gpu throttled": ("up", {"gpus": [gpu(index=1, reason_thermal=True)]}, {}, [("warn", "GPU 1 throttled")]),
    "gpu hw slowdown": ("up", {"gpus": [gpu(index=1, reason_hw_slowdown=True, reason_thermal=False)]}, {},
                        [("warn", "GPU 1 throttled")]),
    "gpu ecc": ("up", {"gpus": [gpu(index=2, ecc_uncorrected_volatile=3)]}, {}, [("bad", "GPU 2 ECC errors")]),
    "gpu ecc zero": ("up", {"gpus": [gpu(ecc_uncorrected_volatile=0)]}, {}, []),
    "gpu lost": ("up", {"gpus": [gpu(lost=True, temperature_c=None, util_pct=None, ecc_uncorrected_volatile=1,
                                     reason_thermal=True)]}, {}, [("bad", "GPU 0 lost")]),
    "disk full": ("up", {"disks": [{"mount": "/", "used_pct": 93.2}, {"mount": "/data", "used_pct": 50.0}]}, {},
                  [("warn", "disk / 93 %")]),
    "memory full": ("up", {"mem_used_bytes": 95, "mem_total_bytes": 100}, {}, [("warn", "memory 95 %")]),
    "degraded": ("degraded", None, {"last_error": "gpu: nvidia-smi failed"}, [("warn", "degraded")]),
    "stale": ("up", None, {"last_seen_at": NOW - 120, "interval_s": 5.0, "now": NOW},
              [("warn", "stale data: last seen 2 min ago")]),
    "fresh": ("up", None, {"last_seen_at": NOW - 14, "interval_s": 5.0, "now": NOW}, []),
    "stale after 3 intervals": ("up", None, {"last_seen_at": NOW - 31, "interval_s": 10.0, "now": NOW},
                                [("warn", "stale data: last seen 31 s ago")]),
    "not stale within 3 intervals": ("up", None, {"last_seen_at": NOW - 29, "interval_s": 10.0, "now": NOW}, []),
    "down is not also stale": ("down", None, {"last_seen_at": NOW - 600, "interval_s": 5.0, "now": NOW},
                               [("bad", "down")]),
    "one missed poll": ("up", None, {"last_error": "timeout"}, [("warn", "last poll failed, retrying")]),
    "connecting": ("connecting", None, {}, [("wait", "connecting")]),
    "connecting, failing": ("connecting", None, {"last_error": "refused"},
                            [("warn", "last poll failed, retrying"), ("wait", "connecting")]),
}


@pytest.mark.parametrize("case", CASES)
def test_each_condition(case):
    state, report, kw, expected = CASES[case]
    assert [(c.severity, c.text) for c in conditions(state, report, **kw)] == expected


def test_none_values_are_never_a_condition_nor_zero():
    report = {"cpu_pct": None, "mem_used_bytes": None, "mem_total_bytes": 100,
              "disks": [{"mount": "/", "used_pct": None}],
              "gpus": [{"index": 0, "util_pct": None, "mem_used_mb": None, "mem_total_mb": None,
                        "temperature_c": None, "reason_thermal": None, "ecc_uncorrected_volatile": None}]}
    assert conditions("up", report, last_seen_at=None, interval_s=5.0, now=NOW) == ()
    card = fv.host_card(SimpleNamespace(id="h", address="a", labels={}, interval_s=5.0),
                        HostNow(id="h", state="up", report=report), now=NOW)
    assert (card.mem_pct, card.disk_pct, card.gpu_util_mean, card.gpu_temp_max) == (None, None, None, None)
    assert card.gpus[0][1:4] == (None, None, None) and card.severity == "ok" and card.worst.text == "up"


def test_worst_first_bad_before_warn_then_the_listed_order():
    report = {"mem_used_bytes": 99, "mem_total_bytes": 100, "disks": [{"mount": "/", "used_pct": 95.0}],
              "services": [{"name": "nginx.service", "active_state": "failed"}],
              "gpus": [gpu(index=0, temperature_c=85.0), gpu(index=1, reason_thermal=True),
                       gpu(index=2, ecc_uncorrected_volatile=1), gpu(index=3, lost=True)]}
    found = conditions("degraded", report, firing=[("disk-full", "warning"), ("gpu-hot", "critical")],
                       last_seen_at=NOW - 100, interval_s=5.0, now=NOW, last_error="sensors failed")
    assert [c.text for c in found] == [
        "alert firing: gpu-hot", "failed service: nginx", "GPU 3 lost", "GPU 2 ECC errors", "GPU 0 hot 85 °C",
        "alert firing: disk-full", "degraded", "GPU 1 throttled", "disk / 95 %", "memory 99 %",
        "stale data: last seen 1 min 40 s ago"]
    assert [c.severity for c in found] == ["bad"] * 5 + ["warn"] * 6
    assert found[6].title == "sensors failed" and found[3].title == "1 uncorrected ECC errors"


def test_ties_hottest_and_fullest_first_then_by_index_and_mount():
    report = {"gpus": [gpu(index=0, temperature_c=82.0), gpu(index=1, temperature_c=90.0),
                       gpu(index=2, temperature_c=82.0)],
              "disks": [{"mount": "/z", "used_pct": 91.0}, {"mount": "/a", "used_pct": 91.0},
                        {"mount": "/m", "used_pct": 99.0}]}
    assert [c.text for c in conditions("up", report)] == [
        "GPU 1 hot 90 °C", "GPU 0 hot 82 °C", "GPU 2 hot 82 °C", "disk /m 99 %", "disk /a 91 %", "disk /z 91 %"]


def test_a_failing_host_is_bad_with_its_error_as_the_title():
    (down,) = conditions("down", {"gpus": []}, last_error="ssh: connection refused")
    assert down == Condition("bad", "down", "ssh: connection refused")


# --------------------------------------------------------------------------- sorts
def _card(host_id: str, state: str = "up", **report) -> fv.HostCard:
    spec = SimpleNamespace(id=host_id, address="10.0.0.1", labels=report.pop("labels", {}), interval_s=5.0)
    return fv.host_card(spec, HostNow(id=host_id, state=state, report=report, last_seen_at=report.pop("seen", None)))


def _fleet():
    return [
        _card("a-ok", cpu_pct=50.0, net_rx_bps=10.0, seen=NOW - 1, labels={"rack": "b"}),
        _card("b-hot", cpu_pct=None, gpus=[gpu(temperature_c=88.0, util_pct=90.0)], seen=NOW - 2),
        _card("c-down", "down", labels={"rack": "a"}),
        _card("d-disk", cpu_pct=5.0, disks=[{"mount": "/", "used_pct": 95.0}], net_rx_bps=30.0, seen=NOW - 3),
        _card("e-ok", cpu_pct=50.0, gpus=[gpu(), gpu(index=1, util_pct=30.0)], seen=NOW - 1),
    ]


@pytest.mark.parametrize("sort, order", [
    ("state", ["b-hot", "c-down", "d-disk", "a-ok", "e-ok"]),  # bad, warn, ok; ties by name
    ("-state", ["a-ok", "e-ok", "d-disk", "b-hot", "c-down"]),
    ("name", ["a-ok", "b-hot", "c-down", "d-disk", "e-ok"]),
    ("-name", ["e-ok", "d-disk", "c-down", "b-hot", "a-ok"]),
    ("cpu", ["a-ok", "e-ok", "d-disk", "b-hot", "c-down"]),  # busiest first; no CPU value: last, by name
    ("-cpu", ["d-disk", "a-ok", "e-ok", "b-hot", "c-down"]),
    ("labels", ["c-down", "a-ok", "b-hot", "d-disk", "e-ok"]),
    ("disk", ["d-disk", "a-ok", "b-hot", "c-down", "e-ok"]),
    ("gpus", ["e-ok", "b-hot", "a-ok", "c-down", "d-disk"]),
    ("gpu_util", ["b-hot", "e-ok", "a-ok", "c-down", "d-disk"]),  # 90 %, mean of 10 and 30 %
    ("gpu_temp", ["b-hot", "e-ok", "a-ok", "c-down", "d-disk"]),
    ("net_in", ["d-disk", "a-ok", "b-hot", "c-down", "e-ok"]),
    ("seen", ["d-disk", "b-hot", "a-ok", "e-ok", "c-down"]),  # longest unseen first; never seen: last
])
def test_sorts(sort, order):
    assert [c.id for c in fv.sort_cards(_fleet(), sort)] == order


def test_every_column_sorts_and_unknown_sorts_are_refused():
    for key in fv.SORT_COLUMNS:
        assert len(fv.sort_cards(_fleet(), key)) == len(fv.sort_cards(_fleet(), "-" + key)) == 5
    for bad in ("", "-", "bogus", "--cpu", "cpu "):
        with pytest.raises(ValueError, match="unknown sort"):
            fv.check_sort(bad)


def test_problems_first_is_the_default_and_the_problems_filter_uses_the_conditions():
    specs = {h: SimpleNamespace(id=h, address="a", labels={}, interval_s=5.0) for h in ("a", "b", "c")}
    now = {"a": HostNow(id="a", state="up", report={}), "b": HostNow(id="b", state="up", report={}),
           "c": HostNow(id="c", state="up", report={"gpus": [gpu(temperature_c=85.0)]})}
    _, cards = fv.fleet(specs, now, firing={"b": [("load", "warning")]})
    assert [c.id for c in cards] == ["c", "b", "a"]
    _, cards = fv.fleet(specs, now, state="problems", firing={"b": [("load", "warning")]})
    assert [c.id for c in cards] == ["c", "b"]
    with pytest.raises(ValueError):
        fv.fleet(specs, now, sort="bogus")
