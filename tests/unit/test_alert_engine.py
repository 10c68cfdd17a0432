"""Alert rule evaluation (SPEC section 4 "Alerts"): pure functions over sample sequences with
explicit times, no sleeping."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from collector.alerts import (
    Evaluation,
    Instance,
    InstanceKey,
    Observation,
    Transition,
    evaluate_event,
    evaluate_sample,
    observations,
    reconcile,
)
from collector.reading import parse_output
from collector.host_report import Disk, Gpu, HostReport
from collector.report import build_report
from inventory.alerting import METRICS, AlertRule

FIXTURES = Path(__file__).parent.parent / "fixtures"
T0 = 1_700_000_000.0
HOST, LABELS = "gpu-01", {"env": "prod"}

CPU = AlertRule(name="high-cpu", metric="cpu_pct", op=">", threshold=80, for_s=300, notify=("ops",))
DISK = AlertRule(name="disk-full", metric="disk_used_pct", op=">=", threshold=90, for_s=60)
GPU = AlertRule(name="gpu-hot", metric="gpu_temperature_c", op=">", threshold=80, for_s=120)
DOWN = AlertRule(name="down", event="host_down", notify=("ops",))
FAILED = AlertRule(name="failed", event="service_failed")
REBOOT = AlertRule(name="reboot", event="host_rebooted")


def cpu(value: float) -> list[Observation]:
    return [Observation("cpu_pct", None, value)]


def run(rules, samples, instances=None, host=HOST, labels=LABELS) -> tuple[dict, list[Transition]]:
    """Feed (time, observations) in order; the final instances and every transition."""
    instances = dict(instances or {})
    transitions: list[Transition] = []
    for now, obs in samples:
        instances, out = evaluate_sample(rules, host, labels, obs, instances, now)
        transitions += out
    return instances, transitions


def states(transitions) -> list[tuple[float, str | None, str, str | None]]:
    return [(t.at - T0, t.old, t.new, t.key.item) for t in transitions]


# --------------------------------------------------------------------------- `for` and flapping
def test_for_5m_fires_after_exactly_the_duration():
    samples = [(T0 + i * 5, cpu(95)) for i in range(61)]  # t0 .. t0+300 every 5 s
    instances, transitions = run([CPU], samples[:60])  # up to t0+295
    assert states(transitions) == [(0, None, "pending", None)]
    key = InstanceKey("high-cpu", HOST, None)
    assert instances[key].state == "pending" and instances[key].since == T0 and instances[key].value == 95

    instances, out = evaluate_sample([CPU], HOST, LABELS, cpu(96), instances, T0 + 300)
    assert states(out) == [(300, "pending", "firing", None)]
    fired = instances[key]
    assert (fired.state, fired.since, fired.fired_at, fired.resolved_at, fired.value) == ("firing", T0, T0 + 300,
                                                                                           None, 96)
    assert out[0].notify and out[0].rule is CPU
    assert out[0].message == "gpu-01: cpu_pct 96 % > 80 % for 5 min"

    # still true: no new transition
    instances, out = evaluate_sample([CPU], HOST, LABELS, cpu(97), instances, T0 + 305)
    assert out == [] and instances[key].value == 97 and instances[key].fired_at == T0 + 300


def test_pending_does_not_notify():
    _, transitions = run([CPU], [(T0, cpu(95))])
    assert [t.notify for t in transitions] == [False]
    assert transitions[0].message == "gpu-01: cpu_pct 95 % > 80 % (pending, fires after 5 min)"


def test_flapping_below_the_duration_never_fires():
    samples = [(T0 + i * 5, cpu(95)) for i in range(48)]  # 4 min true (t0 .. t0+235)
    samples.append((T0 + 240, cpu(50)))  # one sample false
    samples += [(T0 + 245 + i * 5, cpu(95)) for i in range(48)]  # 4 min true again
    instances, transitions = run([CPU], samples)
    assert [t.new for t in transitions] == ["pending", "dropped", "pending"]
    assert not any(t.notify for t in transitions)
    assert instances[InstanceKey("high-cpu", HOST, None)].since == T0 + 245  # the clock started again


def test_resolve_after_recovery():
    samples = [(T0 + i * 5, cpu(95)) for i in range(61)] + [(T0 + 305, cpu(40))]
    instances, transitions = run([CPU], samples)
    assert states(transitions) == [(0, None, "pending", None), (300, "pending", "firing", None),
                                   (305, "firing", "resolved", None)]
    resolved = transitions[-1]
    assert resolved.notify and resolved.value == 40
    assert resolved.message == "gpu-01: cpu_pct resolved (40 %)"
    assert instances == {}  # history lives in the database

    # and it can fire again later, from scratch
    _, again = run([CPU], [(T0 + 400, cpu(90)), (T0 + 700, cpu(90))], instances)
    assert states(again) == [(400, None, "pending", None), (700, "pending", "firing", None)]


def test_for_zero_fires_on_the_first_true_sample():
    rule = AlertRule(name="now", metric="load1", op=">=", threshold=10)
    instances, transitions = run([rule], [(T0, [Observation("load1", None, 9.99)]),
                                          (T0 + 5, [Observation("load1", None, 10)])])
    assert states(transitions) == [(5, None, "firing", None)]
    assert transitions[0].notify and transitions[0].message == "gpu-01: load1 10 >= 10"
    inst = instances[InstanceKey("now", HOST, None)]
    assert (inst.state, inst.since, inst.fired_at) == ("firing", T0 + 5, T0 + 5)


def test_no_data_leaves_instances_alone():
    instances, _ = run([CPU], [(T0 + i * 5, cpu(95)) for i in range(61)])
    before = dict(instances)
    for now in (T0 + 305, T0 + 400, T0 + 900):  # the host is down, or cpu_pct is missing (first reading)
        instances, out = evaluate_sample([CPU], HOST, LABELS, [Observation("load1", None, 1)], instances, now)
        assert out == [] and instances == before
    # a pending instance is not dropped by a gap either; it fires when the condition is seen again
    pending, _ = run([CPU], [(T0, cpu(95))])
    pending, out = evaluate_sample([CPU], HOST, LABELS, [], pending, T0 + 200)
    assert out == [] and pending[InstanceKey("high-cpu", HOST, None)].state == "pending"
    _, out = evaluate_sample([CPU], HOST, LABELS, cpu(99), pending, T0 + 300)
    assert [t.new for t in out] == ["firing"]


def test_other_hosts_instances_are_kept():
    other = InstanceKey("high-cpu", "web-01", None)
    inst = Instance(other, "firing", T0, T0, None, 99.0)
    instances, _ = run([CPU], [(T0, cpu(10))], {other: inst})
    assert instances == {other: inst}


def test_a_rule_that_does_not_select_the_host_does_nothing():
    rule = AlertRule(name="r", metric="cpu_pct", op=">", threshold=1, hosts="web-*")
    assert run([rule], [(T0, cpu(99))]) == ({}, [])
    rule = AlertRule(name="r", metric="cpu_pct", op=">", threshold=1, labels={"env": "lab"})
    assert run([rule], [(T0, cpu(99))]) == ({}, [])
    event_rule_only = run([DOWN], [(T0, cpu(99))])
    assert event_rule_only == ({}, [])


# --------------------------------------------------------------------------- per item
def disks(root: float, data: float) -> list[Observation]:
    return [Observation("disk_used_pct", "/", root), Observation("disk_used_pct", "/data", data)]


def gpus(t0: float, t1: float) -> list[Observation]:
    return [Observation("gpu_temperature_c", "0", t0), Observation("gpu_temperature_c", "1", t1)]


def test_two_mounts_are_independent():
    samples = [(T0 + i * 5, disks(50, 95)) for i in range(13)]  # /data full for 60 s
    instances, transitions = run([DISK], samples)
    assert states(transitions) == [(0, None, "pending", "/data"), (60, "pending", "firing", "/data")]
    assert set(instances) == {InstanceKey("disk-full", HOST, "/data")}
    assert transitions[-1].message == "gpu-01 disk /data: disk_used_pct 95 % >= 90 % for 1 min"

    instances, out = evaluate_sample([DISK], HOST, LABELS, disks(92, 95), instances, T0 + 65)
    assert states(out) == [(65, None, "pending", "/")]  # / starts its own clock; /data keeps firing
    instances, out = evaluate_sample([DISK], HOST, LABELS, disks(92, 80), instances, T0 + 70)
    assert states(out) == [(70, "firing", "resolved", "/data")]
    assert instances[InstanceKey("disk-full", HOST, "/")].state == "pending"


def test_two_gpus_are_independent():
    samples = [(T0 + i * 5, gpus(85, 60)) for i in range(25)]  # GPU 0 hot for 120 s, GPU 1 cool
    instances, transitions = run([GPU], samples)
    assert states(transitions) == [(0, None, "pending", "0"), (120, "pending", "firing", "0")]
    assert transitions[-1].message == "gpu-01 GPU 0: gpu_temperature_c 85 °C > 80 °C for 2 min"
    assert list(instances) == [InstanceKey("gpu-hot", HOST, "0")]
    instances, out = evaluate_sample([GPU], HOST, LABELS, gpus(72, 60), instances, T0 + 125)
    assert out[0].message == "gpu-01 GPU 0: gpu_temperature_c resolved (72 °C)" and instances == {}


def test_items_glob_narrows_the_items():
    rule = AlertRule(name="data", metric="disk_used_pct", op=">", threshold=90, items="/data*")
    instances, transitions = run([rule], [(T0, disks(99, 99) + [Observation("disk_used_pct", "/data/x", 99)])])
    assert [t.key.item for t in transitions] == ["/data", "/data/x"]


# --------------------------------------------------------------------------- events
def test_host_down_fires_and_host_up_resolves():
    instances, out = evaluate_event([DOWN], HOST, LABELS, "host_down", None, {}, T0)
    key = InstanceKey("down", HOST, None)
    assert states(out) == [(0, None, "firing", None)] and out[0].notify
    assert out[0].message == "gpu-01: host_down" and instances[key].fired_at == T0

    again, out = evaluate_event([DOWN], HOST, LABELS, "host_down", None, instances, T0 + 60)
    assert out == [] and again == instances  # firing again while firing: nothing new

    instances, out = evaluate_event([DOWN], HOST, LABELS, "host_up", None, instances, T0 + 90)
    assert states(out) == [(90, "firing", "resolved", None)] and out[0].notify and instances == {}
    assert out[0].message == "gpu-01: host_down resolved (host_up)"

    # another host's host_up resolves nothing here
    instances, _ = evaluate_event([DOWN], HOST, LABELS, "host_down", None, {}, T0)
    same, out = evaluate_event([DOWN], "web-01", {}, "host_up", None, instances, T0 + 5)
    assert out == [] and same == instances


def test_service_failed_is_per_unit():
    instances, out = evaluate_event([FAILED], HOST, LABELS, "service_failed", "nginx.service", {}, T0)
    instances, out2 = evaluate_event([FAILED], HOST, LABELS, "service_failed", "docker.service", instances, T0 + 5)
    assert [t.key.item for t in out + out2] == ["nginx.service", "docker.service"]
    assert out[0].message == "gpu-01 nginx.service: service_failed"
    instances, out = evaluate_event([FAILED], HOST, LABELS, "service_recovered", "nginx.service", instances, T0 + 9)
    assert states(out) == [(9, "firing", "resolved", "nginx.service")]
    assert list(instances) == [InstanceKey("failed", HOST, "docker.service")]


def test_event_rule_items_glob_on_the_subject():
    rule = AlertRule(name="web", event="service_failed", items="nginx*")
    _, out = evaluate_event([rule], HOST, LABELS, "service_failed", "docker.service", {}, T0)
    assert out == []
    _, out = evaluate_event([rule], HOST, LABELS, "service_failed", "nginx.service", {}, T0)
    assert [t.new for t in out] == ["firing"]


def test_one_shot_event_fires_and_resolves_at_once():
    instances, out = evaluate_event([REBOOT, DOWN], HOST, LABELS, "host_rebooted", None, {}, T0)
    assert states(out) == [(0, None, "firing", None), (0, "firing", "resolved", None)]
    assert [t.notify for t in out] == [True, False]  # one message about a reboot, not two
    assert instances == {}


def test_gpu_health_event_rules_fire_per_card():
    """gpu_lost, gpu_ecc_error and gpu_throttled are one-shot rules about one GPU (the event's subject)."""
    lost = AlertRule(name="lost", event="gpu_lost", severity="critical", items="1")
    ecc = AlertRule(name="ecc", event="gpu_ecc_error")
    slow = AlertRule(name="slow", event="gpu_throttled")
    rules = [lost, ecc, slow]
    instances, out = evaluate_event(rules, HOST, LABELS, "gpu_lost", "1", {}, T0)
    assert states(out) == [(0, None, "firing", "1"), (0, "firing", "resolved", "1")] and instances == {}
    assert out[0].message == "gpu-01 GPU 1: gpu_lost" and out[0].notify
    assert evaluate_event(rules, HOST, LABELS, "gpu_lost", "0", {}, T0).transitions == []  # items: "1"
    for kind, name in (("gpu_ecc_error", "ecc"), ("gpu_throttled", "slow")):
        _, out = evaluate_event(rules, HOST, LABELS, kind, "3", {}, T0)
        assert [(t.key.rule, t.key.item, t.new) for t in out] == [(name, "3", "firing"), (name, "3", "resolved")]


def test_event_rules_ignore_other_events_and_unselected_hosts():
    rule = AlertRule(name="down", event="host_down", hosts="web-*")
    assert evaluate_event([rule, CPU], HOST, LABELS, "host_down", None, {}, T0) == Evaluation({}, [])
    assert evaluate_event([DOWN], HOST, LABELS, "proxy_down", None, {}, T0) == Evaluation({}, [])


# --------------------------------------------------------------------------- reconcile
def firing_cpu() -> dict[InstanceKey, Instance]:
    instances, _ = run([CPU], [(T0 + i * 5, cpu(95)) for i in range(61)])
    return instances


def test_reconcile_keeps_what_still_applies():
    instances = firing_cpu()
    kept, out = reconcile([CPU], {HOST: LABELS}, instances, T0 + 400)
    assert out == [] and kept == instances
    louder = AlertRule(name="high-cpu", metric="cpu_pct", op=">", threshold=80, for_s=600, severity="critical")
    kept, out = reconcile([louder], {HOST: LABELS}, instances, T0 + 400)
    assert out == [] and kept == instances  # severity, notify, `for`: the same alert
    _, later = evaluate_sample([louder], HOST, LABELS, cpu(60), kept, T0 + 405)
    assert later[0].rule is louder  # and it now carries the new rule


@pytest.mark.parametrize("rules, hosts, why", [
    ([], {HOST: LABELS}, "rule removed"),
    ([AlertRule(name="high-cpu", metric="cpu_pct", op=">", threshold=90, for_s=300)], {HOST: LABELS}, "rule changed"),
    ([AlertRule(name="high-cpu", metric="load1", op=">", threshold=80)], {HOST: LABELS}, "rule changed"),
    ([CPU], {}, "host removed"),
    ([AlertRule(name="high-cpu", metric="cpu_pct", op=">", threshold=80, for_s=300, labels={"env": "prod"})],
     {HOST: {"env": "lab"}}, "host no longer selected"),
    ([AlertRule(name="high-cpu", metric="cpu_pct", op=">", threshold=80, for_s=300, hosts="web-*")],
     {HOST: LABELS}, "host no longer selected"),
], ids=["rule-removed", "threshold-edited", "metric-edited", "host-removed", "label-changed", "glob-changed"])
def test_reconcile_resolves_what_no_longer_applies(rules, hosts, why):
    instances = firing_cpu()
    kept, out = reconcile(rules, hosts, instances, T0 + 400)
    assert kept == {}
    assert [(t.old, t.new, t.at, t.value) for t in out] == [("firing", "resolved", T0 + 400, 95)]
    assert out[0].notify and out[0].rule == CPU  # the rule that fired, not its replacement
    assert out[0].message == f"gpu-01: cpu_pct resolved ({why})"


def test_reconcile_drops_pending_and_handles_items_and_events():
    pending, _ = run([DISK], [(T0, disks(95, 95))])
    narrowed = AlertRule(name="disk-full", metric="disk_used_pct", op=">=", threshold=90, for_s=60, items="/data")
    kept, out = reconcile([narrowed], {HOST: LABELS}, pending, T0 + 10)
    assert kept == {} and [t.new for t in out] == ["dropped", "dropped"] and not any(t.notify for t in out)

    down, _ = evaluate_event([DOWN], HOST, LABELS, "host_down", None, {}, T0)
    kept, out = reconcile([DOWN], {"web-01": {}}, down, T0 + 10)
    assert kept == {} and out[0].message == "gpu-01: host_down resolved (host removed)"


def test_reconcile_of_instances_rebuilt_from_the_database():
    key = InstanceKey("gone", HOST, "/data")
    stored = {key: Instance(key, "firing", T0, T0 + 60, None, 97.0)}  # no rule: read back from the DB
    kept, out = reconcile([CPU], {HOST: LABELS}, stored, T0 + 100)
    assert kept == {} and out[0].rule.name == "gone" and out[0].rule.notify == ()
    assert out[0].message == "gpu-01 /data: gone resolved (rule removed)"
    key = InstanceKey("high-cpu", HOST, None)
    stored = {key: Instance(key, "firing", T0, T0 + 60, None, 97.0)}
    kept, out = reconcile([CPU], {HOST: LABELS}, stored, T0 + 100)
    assert out == [] and kept[key].rule is CPU


# --------------------------------------------------------------------------- observations
def real_report() -> dict:
    probe = FIXTURES / "probe"
    gpu_csv = (FIXTURES / "nvidia" / "two_gpus_power_na.csv").read_bytes()
    first = (probe / "debian12_vm.txt").read_bytes()
    second = (probe / "debian12_vm_next.txt").read_bytes().replace(b"<<<rc>>>\n", b"<<<nvidia>>>\n" + gpu_csv
                                                                  + b"<<<rc>>>\n", 1)
    asked = frozenset({"nvidia"})
    return build_report(HOST, (parse_output(first, 0, T0), parse_output(second, 0, T0 + 5, asked=asked)))


def test_observations_of_a_real_report():
    typed = real_report()
    report = typed.to_dict()
    assert len(report["gpus"]) == 2 and report["disks"]
    obs = {(o.metric, o.item): o.value for o in observations(typed)}
    assert obs[("cpu_pct", None)] == report["cpu_pct"]
    assert obs[("load1", None)] == report["load1"]
    # the value stored and charted (2 decimals) is the value alerted on
    assert obs[("mem_used_pct", None)] == round(report["mem_used_bytes"] / report["mem_total_bytes"] * 100, 2)
    if report["swap_total_bytes"]:
        assert ("swap_used_pct", None) in obs
    assert obs[("net_rx_bps", None)] == report["net_rx_bps"]
    assert obs[("gpu_count", None)] == 2
    for disk in report["disks"]:
        assert obs[("disk_used_pct", disk["mount"])] == disk["used_pct"]
    assert obs[("disk_used_pct", "/")] == pytest.approx(22, abs=1)
    assert obs[("gpu_util_pct", "0")] == 37 and obs[("gpu_temperature_c", "1")] == 38
    assert obs[("gpu_mem_used_pct", "0")] == round(2345 / 24576 * 100, 2)
    assert obs[("gpu_power_w", "0")] == 112.45 and ("gpu_power_w", "1") not in obs  # [N/A]
    assert {m for m, _ in obs} <= set(METRICS)
    for metric, item in obs:
        assert (METRICS[metric][0] == "host") == (item is None)


def test_observations_by_hand_skip_missing_and_non_finite():
    report = HostReport("h", "up", T0, {}, cpu_pct=None, load1=math.nan, load5=math.inf, load15=2,
                        mem_used_bytes=5, mem_total_bytes=0, swap_total_bytes=100, swap_free_bytes=25,
                        disks=(Disk("/", None, None, None, None, None, None), Disk("/x", None, None, None, None, None, 5)),
                        gpus=(Gpu(3, None, None, None, None, None, 1, None, 90, math.nan, None, None),))
    seen = {(o.metric, o.item): o.value for o in observations(report)}
    assert {("disk_used_pct", "/x"): 5.0, ("gpu_count", None): 1.0, ("gpu_temperature_c", "3"): 90.0,
            ("load15", None): 2.0, ("mem_used_bytes", None): 5.0, ("swap_used_pct", None): 75.0}.items() <= seen.items()
    # missing (None), NaN and infinite values are not observed; nor a percentage of a total of 0
    for gone in (("cpu_pct", None), ("load1", None), ("load5", None), ("mem_used_pct", None), ("disk_used_pct", "/"),
                 ("gpu_util_pct", "3"), ("gpu_power_w", "3"), ("gpu_mem_used_pct", "3")):
        assert gone not in seen, gone
    assert [(o.metric, o.item, o.value) for o in observations(HostReport("h", "up", T0, {}))] == [
        ("gpu_count", None, 0.0)]  # nothing else: no value is not 0


def test_report_to_alert_end_to_end():
    report = real_report()
    rule = AlertRule(name="busy-gpu", metric="gpu_util_pct", op=">", threshold=30)
    instances, out = evaluate_sample([rule], HOST, LABELS, observations(report), {}, T0 + 5)
    assert [t.key.item for t in out] == ["0"] and out[0].message == "gpu-01 GPU 0: gpu_util_pct 37 % > 30 %"
