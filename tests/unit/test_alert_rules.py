"""Alert rules and notifiers in the inventory (SPEC sections 2 and 4, issue "alert rules").

Invalid rules and notifiers are reported with file, line and field and never stop
the other rules, nor the hosts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.cli import main as cli_main
from inventory import Inventory, check_inventory, load_inventory, load_inventory_text
from inventory.alerting import (
    EVENTS,
    METRICS,
    NOTIFIER_TYPES,
    OPS,
    SEVERITIES,
    Alerting,
    AlertRule,
    NotifierConfig,
    parse_alerting,
)

EXAMPLE = Path(__file__).parent.parent.parent / "inventory" / "hosts.example.yaml"

HOSTS = """\
hosts:
  - id: gpu-01
    address: 10.0.0.11
    labels: {env: prod, gpus: 8}
  - id: web-01
    address: 10.0.0.12
"""

NOTIFIERS = """\
notifiers:
  ops: {type: webhook, url: "https://hooks.example.com/fleet", headers: {Authorization: "Bearer t0p-s3cret"}}
  chat: {type: slack, url: "https://hooks.slack.com/services/T0/B0/sl4ck-s3cret"}
"""

# line 1 of each rule is the "- name:" line (HOSTS is 6 lines, "alerts:" is line 7)
VALID_RULES = """\
alerts:
  - name: high-cpu
    hosts: "prod-*"
    metric: cpu_pct
    op: ">"
    threshold: 80
    for: 5m
    notify: [ops]
  - name: gpu-hot
    hosts: "gpu-*"
    labels: {gpus: 8}
    metric: gpu_temperature_c
    op: ">="
    threshold: 80.5
    for: 2m
    severity: critical
    notify: [ops, chat]
  - name: data-full
    metric: disk_used_pct
    op: ">"
    threshold: 90
    items: "/data*"
  - name: down
    event: host_down
    notify: chat
"""


def alerting_of(rules: str, notifiers: str = NOTIFIERS, source: str = "hosts.yaml") -> Alerting:
    inv = load_inventory_text(HOSTS + rules + notifiers, source)
    assert inv.host_ids == ["gpu-01", "web-01"], "the hosts load whatever the rules say"
    return inv.alerting


def rule_yaml(body: str) -> str:
    """One rule (indented under `alerts:`), then a valid one named `good`."""
    lines = body.strip("\n").splitlines()
    text = "alerts:\n  - " + lines[0] + "\n" + "".join(f"    {line}\n" for line in lines[1:])
    return text + "  - {name: good, metric: load1, op: '>', threshold: 30}\n"


def only_problem(alerting: Alerting):
    assert len(alerting.problems) == 1, [str(p) for p in alerting.problems]
    return alerting.problems[0]


# --------------------------------------------------------------------------- valid
def test_valid_rules_and_notifiers():
    alerting = alerting_of(VALID_RULES)
    assert alerting.problems == ()
    assert [r.name for r in alerting.rules] == ["high-cpu", "gpu-hot", "data-full", "down"]
    cpu, gpu, data, down = alerting.rules
    assert cpu == AlertRule(name="high-cpu", metric="cpu_pct", op=">", threshold=80.0, for_s=300.0,
                            hosts="prod-*", notify=("ops",))
    assert cpu.line == 8 and cpu.scope == "host" and cpu.describe() == "cpu_pct > 80 % for 5 min"
    assert gpu.labels == {"gpus": "8"} and gpu.severity == "critical" and gpu.notify == ("ops", "chat")
    assert gpu.scope == "gpu" and gpu.describe() == "gpu_temperature_c >= 80.5 °C for 2 min"
    assert (data.scope, data.items, data.for_s, data.severity, data.notify) == ("disk", "/data*", 0.0, "warning", ())
    assert data.describe() == "disk_used_pct > 90 %"
    assert (down.scope, down.event, down.metric, down.op, down.threshold) == ("event", "host_down", None, None, None)
    assert down.notify == ("chat",) and down.describe() == "on host_down" and down.resolves_on == "host_up"
    assert alerting.rule("gpu-hot") is gpu and alerting.rule("nope") is None

    ops, chat = alerting.notifiers["ops"], alerting.notifiers["chat"]
    assert ops == NotifierConfig(name="ops", type="webhook", url="https://hooks.example.com/fleet",
                                 headers={"Authorization": "Bearer t0p-s3cret"})
    assert ops.headers["Authorization"].get_secret_value() == "Bearer t0p-s3cret"  # a SecretStr
    assert (ops.timeout_s, ops.max_attempts, ops.secret) == (10.0, 8, None)
    assert chat.type == "slack" and chat.shown_url == "https://hooks.slack.com/…"
    assert "s3cret" not in repr(chat) and "s3cret" not in repr(ops) and "s3cret" not in repr(alerting)


def test_selection_by_glob_and_labels():
    rule = AlertRule(name="r", metric="cpu_pct", op=">", threshold=1, hosts="gpu-*", labels={"env": "prod"})
    assert rule.selects("gpu-01", {"env": "prod", "role": "x"})
    assert not rule.selects("gpu-01", {"env": "lab"})
    assert not rule.selects("gpu-01", {})
    assert not rule.selects("web-01", {"env": "prod"})
    assert not rule.selects("GPU-01", {"env": "prod"})  # case-sensitive on every platform
    assert AlertRule(name="all", event="host_down").selects("anything", {})


@pytest.mark.parametrize("op, value, expected", [
    (">", 80, False), (">", 80.1, True), (">=", 80, True), ("<", 80, False), ("<=", 80, True),
    ("==", 80, True), ("!=", 80, False), ("!=", 79, True),
])
def test_operators(op, value, expected):
    assert AlertRule(name="r", metric="cpu_pct", op=op, threshold=80).test(value) is expected


def test_constants_are_consistent():
    assert SEVERITIES == ("info", "warning", "critical") and OPS == (">", ">=", "<", "<=", "==", "!=")
    assert NOTIFIER_TYPES == ("webhook", "slack", "dingtalk", "wecom")
    assert {s for s, _ in METRICS.values()} == {"host", "disk", "gpu"}
    for name in ("cpu_pct", "mem_used_pct", "load1", "net_rx_bps", "disk_used_pct", "gpu_util_pct",
                 "gpu_temperature_c", "gpu_mem_used_pct", "gpu_power_w"):
        assert name in METRICS
    assert EVENTS["host_down"] == "host_up" and EVENTS["host_rebooted"] is None


def test_rules_may_name_the_gpu_health_events():
    rules = ("alerts:\n  - {name: lost, event: gpu_lost, severity: critical, items: '0'}\n"
             "  - {name: ecc, event: gpu_ecc_error}\n  - {name: slow, event: gpu_throttled, hosts: 'gpu-*'}\n")
    alerting = alerting_of(rules)
    assert alerting.problems == ()
    assert [(r.name, r.event, r.one_shot) for r in alerting.rules] == [
        ("lost", "gpu_lost", True), ("ecc", "gpu_ecc_error", True), ("slow", "gpu_throttled", True)]
    assert alerting_of("alerts:\n  - {name: r, event: gpu_lots}\n").problems  # a misspelt type is refused


def test_every_notifier_type_and_option():
    notifiers = """\
notifiers:
  hook: {type: webhook, url: "http://127.0.0.1:9000/x", timeout: 2500ms, max_attempts: 1, headers: {X-Token: 5}}
  ding: {type: DingTalk, url: "https://oapi.dingtalk.com/robot/send?access_token=x", secret: "SECabc"}
  wx: {type: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}
"""
    alerting = alerting_of("alerts: []\n", notifiers)
    assert alerting.problems == ()
    hook, ding, wx = alerting.notifiers.values()
    assert (hook.timeout_s, hook.max_attempts, hook.headers["X-Token"].get_secret_value()) == (2.5, 1, "5")
    assert (ding.type, ding.secret.get_secret_value()) == ("dingtalk", "SECabc")
    assert wx.type == "wecom"


def test_empty_sections():
    for text in ("alerts:\nnotifiers:\n", "alerts: []\nnotifiers: {}\n", ""):
        alerting = load_inventory_text(HOSTS + text).alerting
        assert alerting == Alerting((), {}, ())


# --------------------------------------------------------------------------- malformed
# (rule body, field, line relative to the rule's first line, words in the message)
MALFORMED_RULES = {
    "unknown metric": ("name: r\nmetric: cpu\nop: '>'\nthreshold: 1", "alerts[0].metric", 1,
                       ["unknown metric 'cpu'", "did you mean 'cpu_pct'?", "known: cpu_pct, "]),
    "unknown event": ("name: r\nevent: host_dwn", "alerts[0].event", 1,
                      ["unknown event 'host_dwn'", "did you mean 'host_down'?"]),
    "bad duration": ("name: r\nmetric: cpu_pct\nop: '>'\nthreshold: 1\nfor: 5 minutes", "alerts[0].for", 4,
                     ["bad duration '5 minutes': use 30s, 5m, 1h"]),
    "bad op": ("name: r\nmetric: cpu_pct\nop: '=>'\nthreshold: 1", "alerts[0].op", 2,
               ["op must be one of > >= < <= == !="]),
    "missing op": ("name: r\nmetric: cpu_pct\nthreshold: 1", "alerts[0].op", 0,
                   ["required with metric", "> >= < <= == !="]),
    "threshold with unit": ("name: r\nmetric: cpu_pct\nop: '>'\nthreshold: 80%", "alerts[0].threshold", 3,
                            ["must be a number", "cpu_pct is in %", "'80%'"]),
    "missing threshold": ("name: r\nmetric: cpu_pct\nop: '>'", "alerts[0].threshold", 0, ["required with metric"]),
    "threshold on event": ("name: r\nevent: host_down\nthreshold: 3", "alerts[0].threshold", 2,
                           ["threshold applies only to metric rules"]),
    "for on event": ("name: r\nevent: host_down\nfor: 5m", "alerts[0].for", 2, ["for applies only to metric rules"]),
    "missing name": ("metric: cpu_pct\nop: '>'\nthreshold: 1", "alerts[0].name", 0, ["required", "name"]),
    "bad name": ("name: 'a b'\nevent: host_down", "alerts[0].name", 0, ["invalid rule name 'a b'", "letters"]),
    "neither metric nor event": ("name: r\nop: '>'", "alerts[0]", 0, ["either metric", "or event"]),
    "metric and event": ("name: r\nmetric: cpu_pct\nevent: host_down\nop: '>'\nthreshold: 1", "alerts[0].event", 2,
                         ["either metric or event, not both"]),
    "unknown key": ("name: r\nevent: host_down\nsevrity: critical", "alerts[0].sevrity", 2,
                    ["unknown key 'sevrity'", "did you mean 'severity'?", "allowed keys are: name, metric"]),
    "bad severity": ("name: r\nevent: host_down\nseverity: urgent", "alerts[0].severity", 2,
                     ["unknown severity 'urgent'", "allowed: info, warning, critical"]),
    "items on a host metric": ("name: r\nmetric: cpu_pct\nop: '>'\nthreshold: 1\nitems: '/'", "alerts[0].items", 4,
                               ["items applies only to per-disk and per-GPU metrics"]),
    "hosts not a string": ("name: r\nevent: host_down\nhosts: [a, b]", "alerts[0].hosts", 2, ["glob pattern"]),
    "labels not a mapping": ("name: r\nevent: host_down\nlabels: prod", "alerts[0].labels", 2,
                             ["labels must be a mapping"]),
    "bad label key": ("name: r\nevent: host_down\nlabels: {'bad key': x}", "alerts[0].labels.bad key", 2,
                      ["invalid label key"]),
    "duplicate key": ("name: r\nevent: host_down\nevent: host_up", "alerts[0].event", 2, ["duplicate key 'event'"]),
}


@pytest.mark.parametrize("case", MALFORMED_RULES, ids=list(MALFORMED_RULES))
def test_malformed_rule_is_reported_and_the_others_load(case):
    body, field, offset, words = MALFORMED_RULES[case]
    alerting = alerting_of(rule_yaml(body), source="/etc/fleet/hosts.yaml")
    problem = only_problem(alerting)
    assert (problem.file, problem.host, problem.field) == ("/etc/fleet/hosts.yaml", None, field)
    assert problem.line == 8 + offset, str(problem)
    for word in words:
        assert word in problem.message, problem.message
    assert [r.name for r in alerting.rules] == ["good"]  # the bad one out, the other one in
    assert str(problem).startswith(f"/etc/fleet/hosts.yaml:{8 + offset}: field '{field}': ")


def test_several_problems_in_one_rule_are_all_reported():
    alerting = alerting_of(rule_yaml("name: r\nmetric: cpu\nop: '=>'\nthreshold: high\nfor: soon"))
    assert [(p.field, p.line) for p in alerting.problems] == [
        ("alerts[0].metric", 9), ("alerts[0].op", 10), ("alerts[0].threshold", 11), ("alerts[0].for", 12)]
    assert [r.name for r in alerting.rules] == ["good"]


def test_duplicate_rule_name_second_one_is_invalid():
    rules = ("alerts:\n"
             "  - {name: r, metric: cpu_pct, op: '>', threshold: 1}\n"
             "  - {name: r, event: host_down}\n")
    alerting = alerting_of(rules)
    problem = only_problem(alerting)
    assert (problem.field, problem.line) == ("alerts[1].name", 9)
    assert "duplicate rule name 'r': first defined on line 8" in problem.message
    assert [(r.name, r.metric) for r in alerting.rules] == [("r", "cpu_pct")]


@pytest.mark.parametrize("alerts, notifiers, field", [
    ("alerts: 5\n", "", "alerts"),
    ("alerts: {name: r}\n", "", "alerts"),
    ("alerts: [5, [1]]\n", "", "alerts[0]"),
    ("", "notifiers: [ops]\n", "notifiers"),
    ("", "notifiers: {ops: 5}\n", "notifiers.ops"),
], ids=["number", "mapping", "items-not-mappings", "notifiers-list", "notifier-not-mapping"])
def test_structural_garbage_is_a_problem_not_a_load_failure(alerts, notifiers, field):
    inv = load_inventory_text(HOSTS + alerts + notifiers, "hosts.yaml")
    assert inv.host_ids == ["gpu-01", "web-01"]
    assert inv.alerting.rules == () and inv.alerting.notifiers == {}
    assert inv.alerting.problems[0].field == field and inv.alerting.problems[0].line is not None


# --------------------------------------------------------------------------- notifiers
MALFORMED_NOTIFIERS = {
    "unknown type": ("{type: teams, url: 'https://x.example/h'}", "notifiers.n.type",
                     ["unknown notifier type 'teams'", "allowed: webhook, slack, dingtalk, wecom"]),
    "missing type": ("{url: 'https://x.example/h'}", "notifiers.n.type", ["required"]),
    "missing url": ("{type: webhook}", "notifiers.n.url", ["required", "http"]),
    "ftp url": ("{type: webhook, url: 'ftp://x.example/secret-path'}", "notifiers.n.url",
                ["http:// or https://", "'ftp'"]),
    "url without host": ("{type: slack, url: 'https:///services/zz'}", "notifiers.n.url", ["no host"]),
    "url with a space": ("{type: slack, url: 'https://x.example/a b'}", "notifiers.n.url", ["spaces"]),
    "secret on slack": ("{type: slack, url: 'https://x.example/h', secret: SECx}", "notifiers.n.secret",
                        ["only to type dingtalk"]),
    "headers on slack": ("{type: slack, url: 'https://x.example/h', headers: {A: b}}", "notifiers.n.headers",
                         ["only to type webhook"]),
    "bad header name": ("{type: webhook, url: 'https://x.example/h', headers: {'A b': c}}", "notifiers.n.headers.A b",
                        ["invalid header name"]),
    "bad timeout": ("{type: webhook, url: 'https://x.example/h', timeout: forever}", "notifiers.n.timeout",
                    ["bad duration 'forever'"]),
    "zero timeout": ("{type: webhook, url: 'https://x.example/h', timeout: 0}", "notifiers.n.timeout",
                     ["more than 0"]),
    "max_attempts": ("{type: webhook, url: 'https://x.example/h', max_attempts: 0}", "notifiers.n.max_attempts",
                     ["1 to 20"]),
    "unknown key": ("{type: webhook, url: 'https://x.example/h', retries: 3}", "notifiers.n.retries",
                    ["unknown key 'retries'", "allowed keys are: type, url"]),
}


@pytest.mark.parametrize("case", MALFORMED_NOTIFIERS, ids=list(MALFORMED_NOTIFIERS))
def test_malformed_notifier_is_reported_and_rules_keep_loading(case):
    entry, field, words = MALFORMED_NOTIFIERS[case]
    rules = "alerts:\n  - {name: r, event: host_down, notify: [n, ok]}\n"
    notifiers = f"notifiers:\n  ok: {{type: wecom, url: 'https://qyapi.example/send?key=k'}}\n  n: {entry}\n"
    alerting = alerting_of(rules, notifiers)
    bad = [p for p in alerting.problems if p.field.startswith("notifiers.")]
    assert len(bad) == 1, [str(p) for p in alerting.problems]
    assert (bad[0].field, bad[0].line) == (field, 11)
    for word in words:
        assert word in bad[0].message, bad[0].message
    assert list(alerting.notifiers) == ["ok"]
    # the rule still loads, without the invalid notifier, and says why
    ref = [p for p in alerting.problems if p.field.startswith("alerts")]
    assert [(p.field, p.line) for p in ref] == [("alerts[0].notify[0]", 8)]
    assert "notifier 'n' is invalid" in ref[0].message and "loaded without it" in ref[0].message
    assert alerting.rule("r").notify == ("ok",)


def test_unknown_notifier_reference_keeps_the_rule():
    rules = "alerts:\n  - name: r\n    event: host_down\n    notify:\n      - chat\n      - opz\n"
    alerting = alerting_of(rules)
    problem = only_problem(alerting)
    assert (problem.field, problem.line) == ("alerts[0].notify[1]", 12)
    assert problem.message.startswith("unknown notifier 'opz' (did you mean 'ops'?); defined: chat, ops")
    assert alerting.rule("r").notify == ("chat",)


def test_secrets_never_appear_in_messages():
    notifiers = (
        "notifiers:\n"
        "  a: {type: slack, url: 'gopher://hooks.slack.com/services/T0/B0/SLACKSECRET?token=QUERYSECRET'}\n"
        "  b: {type: webhook, url: 'https://user:PASSSECRET@hooks.example.com/x', secret: DINGSECRET}\n"
        "  c: {type: webhook, url: 'https://h.example/x', headers: {Authorization: \"Bearer HDRSECRET\\n\"}}\n"
        "  d: {type: dingtalk, url: 'https://h.example/x?access_token=TOKSECRET', secret: [LISTSECRET]}\n"
        "  e: {type: slack, url: 'https://h.example/PATHSECRET x', token: KEYSECRET}\n"
    )
    alerting = alerting_of("alerts: []\n", notifiers)
    assert len(alerting.problems) >= 6
    text = "\n".join(str(p) for p in alerting.problems)
    assert "SECRET" not in text, text
    assert "h.example/…" in text  # what may be shown of a URL


# --------------------------------------------------------------------------- the inventory and the CLI
def test_inventory_without_the_loader_parses_lazily():
    inv = Inventory.model_validate({"hosts": [], "alerts": [{"name": "d", "event": "host_down"}, {"name": 5}]})
    assert [r.name for r in inv.alerting.rules] == ["d"]
    assert inv.alerting.problems[0].line is None and inv.alerting.problems[0].field == "alerts[1].name"
    assert Inventory().alerting == Alerting()
    # the parsed alerting takes no part in equality or dumps
    loaded = load_inventory_text("hosts: []\nalerts: [{name: d, event: host_down}]\n")
    assert loaded == Inventory.model_validate({"hosts": [], "alerts": [{"name": "d", "event": "host_down"}]})
    assert "alerting" not in loaded.model_dump()


def test_parse_alerting_directly():
    alerting = parse_alerting([{"name": "x", "metric": "gpu_util_pct", "op": "<", "threshold": 5, "for": "1h"}],
                              None, source="api")
    assert alerting.problems == () and alerting.rules[0].for_s == 3600.0 and alerting.rules[0].line is None
    lines = {("alerts", 0): 3, ("alerts", 0, "metric"): 4}
    alerting = parse_alerting([{"name": "x", "metric": "gpu"}], {}, source="f.yaml", line_of=lines.get)
    assert [(p.file, p.line, p.field) for p in alerting.problems] == [
        ("f.yaml", 3, "alerts[0].op"), ("f.yaml", 3, "alerts[0].threshold"), ("f.yaml", 4, "alerts[0].metric")]


def test_values_of_any_shape_are_problems_not_exceptions():
    """A list or a mapping where a name is expected (metric, event, notify) once raised TypeError."""
    alerting = parse_alerting([{"name": "a", "metric": ["cpu_pct"]}, {"name": "b", "event": {"x": 1}},
                               {"name": "c", "event": "host_down", "notify": [["ops"]]}], {})
    assert [(p.field, p.message.split(";")[0]) for p in alerting.problems] == [
        ("alerts[0].metric", "unknown metric a list"), ("alerts[0].op", "required with metric: op must be one of "
                                                                        "> >= < <= == !="),
        ("alerts[0].threshold", "required with metric: the number to compare with"),
        ("alerts[1].event", "unknown event a mapping"), ("alerts[2].notify[0]", "unknown notifier a list")]
    assert [r.name for r in alerting.rules] == ["c"]


def test_notifier_secrets_are_secret_str():
    notifier = parse_alerting([], {"d": {"type": "dingtalk", "url": "https://h.example/r?access_token=TOKSECRET",
                                         "secret": "SECSECRET"}}).notifiers["d"]
    assert notifier.url.get_secret_value().endswith("TOKSECRET") and notifier.secret.get_secret_value() == "SECSECRET"
    assert "SECRET" not in repr(notifier) + str(notifier) and notifier.shown_url == "https://h.example/…"
    with pytest.raises(ValueError) as caught:
        NotifierConfig(name="w", type="slack", url="https://h.example/PATHSECRET", secret="SECSECRET")
    assert "SECRET" not in str(caught.value) and "only to type dingtalk" in str(caught.value)


def test_check_inventory_lists_alerting_problems_with_the_host_problems(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text(HOSTS + rule_yaml("name: r\nmetric: cpu\nop: '>'\nthreshold: 1") + NOTIFIERS)
    problems = check_inventory(path)
    assert [(p.file, p.line, p.field) for p in problems] == [(str(path), 9, "alerts[0].metric")]
    assert load_inventory(path).alerting.problems == tuple(problems)

    path.write_text(HOSTS.replace("address: 10.0.0.12", "port: 0") + rule_yaml("name: r\nevent: host_dwn"))
    fields = [p.field for p in check_inventory(path)]
    assert "alerts[0].event" in fields and "address" in fields and "port" in fields


def test_cli_inventory_check_prints_alerting_problems_and_fails(tmp_path, capsys):
    path = tmp_path / "hosts.yaml"
    path.write_text(HOSTS + rule_yaml("name: r\nmetric: cpu_pct\nop: '>'\nthreshold: 1\nfor: 5 minutes") + NOTIFIERS)
    path.chmod(0o600)
    assert cli_main(["inventory", "check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert f"{path}:12: field 'alerts[0].for': bad duration '5 minutes': use 30s, 5m, 1h" in out
    assert "1 problem(s) in alert rules or notifiers" in err and "2 host(s) load" in err

    path.write_text(HOSTS + VALID_RULES + NOTIFIERS)
    assert cli_main(["inventory", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: OK, 2 host(s), 4 alert rule(s), 2 notifier(s)" in out


def test_example_inventory_has_every_kind_of_rule_and_notifier(capsys):
    assert check_inventory(EXAMPLE) == []
    alerting = load_inventory(EXAMPLE).alerting
    assert alerting.problems == ()
    gpu = alerting.rule("gpu-hot")
    assert (gpu.metric, gpu.op, gpu.threshold, gpu.for_s, gpu.hosts) == ("gpu_temperature_c", ">", 80, 120, "gpu-*")
    assert {r.scope for r in alerting.rules} >= {"host", "disk", "gpu", "event"}
    assert any(r.event == "host_down" for r in alerting.rules)
    assert {n.type for n in alerting.notifiers.values()} == set(NOTIFIER_TYPES)
    assert any(n.headers for n in alerting.notifiers.values() if n.type == "webhook")
    assert any(n.secret for n in alerting.notifiers.values() if n.type == "dingtalk")
    assert cli_main(["inventory", "check", str(EXAMPLE)]) == 0
    assert "OK, 4 host(s)" in capsys.readouterr().out


def test_empty_values_mean_the_default():
    rules = "alerts:\n  - name: r\n    event: host_down\n    severity:\n    hosts:\n    notify:\n    for:\n"
    rule = alerting_of(rules).rule("r")
    assert alerting_of(rules).problems == ()
    assert (rule.severity, rule.hosts, rule.notify, rule.for_s) == ("warning", "*", (), 0.0)


def test_duplicate_notifier_name_first_stands_and_duplicate_key_spoils_the_notifier():
    notifiers = ("notifiers:\n"
                 "  ops: {type: webhook, url: 'https://a.example/1'}\n"
                 "  ops: {type: slack, url: 'https://b.example/2'}\n"
                 "  chat: {type: slack, url: 'https://c.example/3', url: 'https://c.example/4'}\n")
    alerting = alerting_of("alerts: [{name: r, event: host_down, notify: [ops, chat]}]\n", notifiers)
    assert [(p.field, p.line) for p in alerting.problems] == [
        ("alerts[0].notify[1]", 7), ("notifiers.ops", 10), ("notifiers.chat.url", 11)]
    assert "duplicate key 'ops'" in alerting.problems[1].message
    assert list(alerting.notifiers) == ["ops"] and alerting.notifiers["ops"].type == "webhook"
    assert alerting.rule("r").notify == ("ops",)
