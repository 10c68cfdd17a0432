"""The problems of the inventory's alerting part (`alerts:`, `notifiers:`), translated on the web side by pattern
(webapp/alert_words.py): each template matches a message inventory/alerting.py really produces, each such message
matches a template (the alerting part's own, or inventory_words' for what it shares with the rest of the file), the
Chinese leaves no English words beyond the values, English and unknown messages pass through."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from inventory.alerting import parse_alerting
from inventory.loader import load_inventory_text
from webapp import i18n
from webapp.alert_words import ALERT_PROBLEMS, TEMPLATES, problem_line, translate_alert_problem
from webapp.inventory_words import PROBLEMS as INVENTORY_PROBLEMS, VALUES

# technical words that stay as they are in Chinese: the keys of the file, the notifier types, examples, formats
KEPT = {"op", "metric", "event", "alerts", "notifiers", "notify", "ops", "type", "webhook", "slack", "dingtalk",
        "wecom", "url", "http", "https", "HOST", "hooks", "example", "com", "secret", "SEC", "timeout", "max", "attempts",
        "headers", "Authorization", "Bearer", "items", "labels", "env", "prod", "glob", "GPU"}

RULE = {"name": "r", "metric": "cpu_pct", "op": ">", "threshold": 80}
EVENT = {"name": "e", "event": "host_down"}
HOOK = {"type": "webhook", "url": "https://hooks.example.com/x"}


def _rule(**fields) -> list[str]:
    """The problems of one rule (a metric rule unless the fields say otherwise; None leaves a key out)."""
    entry = {k: v for k, v in {**RULE, **fields}.items() if v is not None}
    return [p.message for p in parse_alerting([entry], {}).problems]


def _event(**fields) -> list[str]:
    return [p.message for p in parse_alerting([{**EVENT, **fields}], {}).problems]


def _notifier(entry, name="n") -> list[str]:
    return [p.message for p in parse_alerting([], {name: entry}).problems]


def _hook(**fields) -> list[str]:
    return _notifier({**HOOK, **fields})


def _messages(alerts, notifiers, line_of=lambda path: None) -> list[str]:
    return [p.message for p in parse_alerting(alerts, notifiers, line_of=line_of).problems]


def alert_messages() -> list[str]:
    """One bad input per template, validated as the loader validates the file (inventory/alerting.py)."""
    return [
        # the sections and their entries
        *_messages("x", None), *_messages(None, [HOOK]), *_messages([5], None), *_notifier(5),
        # notify and the notifiers a rule names
        *_messages([{**RULE, "notify": 5}], {}),
        *_messages([{**RULE, "notify": ["bad"]}], {"bad": {"type": "webhook"}, "ops": HOOK}),
        *_messages([{**RULE, "notify": ["opz"]}], {"ops": HOOK}),
        *_messages([{**RULE, "notify": "x"}], {}),
        *_messages([{**RULE, "notify": ["x"]}], {"ops": HOOK}),
        # duplicate names, with and without the line of the first
        *_messages([RULE, RULE], None, line_of=lambda path: 3 + path[1] if len(path) > 1 else None),
        *_messages([RULE, RULE], None),
        # a rule's keys
        *_rule(name=None), *_rule(op=None), *_rule(threshold=None), *_rule(metric=None),
        *_rule(name="a b"), *_rule(metric="cpu_pc"), *_rule(metric="zzzz"),
        *_event(event="host_dwn"), *_event(event=5),
        *_rule(severity="crit"), *_rule(severity="bogus"), *_rule(event="host_down"),
        *_event(op=">"), *_event(threshold=5), *_event(**{"for": "5m"}),
        *_rule(op=5), *_rule(op="=>"),
        *_rule(threshold="80%"), *_rule(metric="load1", threshold="high"),
        *_rule(**{"for": "5x"}), *_rule(hosts=[1]), *_rule(hosts=""), *_rule(items="x"),
        *_rule(labels=[1]), *_rule(labels={5: "v"}),
        # a notifier's settings
        *_notifier(HOOK, name="bad name"), *_notifier({"url": "https://a/b"}), *_notifier({"type": "webhook"}),
        *_hook(type="slak"), *_hook(type="smtp"),
        *_hook(url=5), *_hook(url=" "), *_hook(url="https://a/" + "x" * 3000), *_hook(url="https://a/b c"),
        *_hook(url="http://[::1/"), *_hook(url="nohost"), *_hook(url="ftp://a/b"), *_hook(url="https:///path"),
        *_notifier({"type": "slack", "url": "https://a/b", "secret": "x"}),
        *_notifier({"type": "dingtalk", "url": "https://a/b", "secret": ""}),
        *_hook(timeout="0s"), *_hook(max_attempts=0),
        *_notifier({"type": "slack", "url": "https://a/b", "headers": {"a": "b"}}),
        *_hook(headers=[1]), *_hook(headers={"a b": "c"}), *_hook(headers={"a": "x\ny"}),
    ]


def shared_messages() -> list[str]:
    """What the alerting part shares with the rest of the inventory (inventory_words.py's templates), as the loader
    reports it under alerts: and notifiers:."""
    text = ("hosts:\n  - {id: a, address: 10.0.0.1}\n"
            "alerts:\n  - {name: x, name: y, event: host_down}\n  - {name: z, event: host_down, fro: 5m}\n"
            "  - {name: w, metric: cpu_pct, op: '>', threshold: 1, labels: {9k: v, k: [1]}}\n"
            "notifiers:\n  n: {type: webhook, url: 'https://a/b', bogus: 1}\n")
    return [p.message for p in load_inventory_text(text, "hosts.yaml").alerting.problems]


@contextmanager
def chinese() -> Iterator[None]:
    token = i18n.activate("zh")
    try:
        yield
    finally:
        i18n.deactivate(token)


def _english_left(text: str, values) -> set[str]:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, " ")
    return set(re.findall(r"[A-Za-z]{2,}", text)) - KEPT


def _leaves(values: dict[str, str]) -> list[str]:
    """The values as they stand in the Chinese: a value described in words stands for the value inside it."""
    out = []
    for name, value in values.items():
        described = VALUES.match(value) if name == "value" else None
        out += [value] if described is None else list(described[1].values())
    return out


def _check(messages) -> set[str]:
    used = set()
    with chinese():
        for message in messages:
            found = ALERT_PROBLEMS.match(message) or INVENTORY_PROBLEMS.match(message)
            assert found is not None, f"no template for {message!r}"
            template, values = found
            used.add(template)
            zh = translate_alert_problem(message)
            assert zh != message
            assert not _english_left(zh, _leaves(values)), (message, zh)
    return used


def test_every_alert_template_matches_a_real_message_and_reads_as_chinese():
    unused = set(TEMPLATES) - _check(alert_messages())
    assert unused == set(), f"templates no real message matched: {unused}"


def test_what_the_alerting_part_shares_with_the_inventory_reads_as_chinese():
    messages = shared_messages()
    assert len(messages) >= 4, messages
    used = _check(messages)
    assert used.isdisjoint(TEMPLATES)  # inventory_words' templates, not copies of them


def test_english_and_unknown_messages_pass_through():
    message = _rule(op="=>")[0]
    assert message == "op must be one of > >= < <= == !=, got the string '=>'"
    assert translate_alert_problem(message) == message  # English (the default language)
    with chinese():
        assert translate_alert_problem("something the table does not know") == "something the table does not know"
        assert translate_alert_problem(message) == "op 须为 > >= < <= == != 之一，实际为字符串 '=>'"


def test_values_described_in_words_read_as_chinese():
    with chinese():
        assert translate_alert_problem(_rule(metric=5)[0]).startswith("未知指标：数字 5；可用的指标：cpu_pct, ")
        assert translate_alert_problem(_messages([None], None)[0]) == \
            "每条告警规则须为映射，含名称以及指标或事件，实际为空值"  # describe() says "nothing", no "(an empty value)"
        assert translate_alert_problem(_rule(threshold=True)[0]) == \
            "阈值须为数字，如 80 或 0.5，不带单位（cpu_pct 的单位是 %）；实际为布尔值 true"
        assert translate_alert_problem(_rule(**{"for": [1]})[0]) == "时长无效：列表；请写成 30s、5m、1h 这样的形式"
        assert translate_alert_problem(_hook(headers=[1])[0]) == \
            'headers 须为映射，如 {Authorization: "Bearer ..."}，实际为列表'
        assert translate_alert_problem(_messages({}, None)[0]) == \
            "alerts 须为告警规则的列表（每条规则是带名称的映射），实际为映射"
        assert translate_alert_problem(_rule(op=5)[0]) == 'op 须为 > >= < <= == != 之一，实际为数字 5（请加引号：op: ">"）'


def test_a_problem_line_of_the_alerts_page():
    """As the Alerts page lists a problem: English as `Problem.__str__` words it, Chinese with the file, the line
    and the field's path as they are."""
    alerting = parse_alerting([{**RULE, "op": "=>"}], {"n": 5}, source="hosts.yaml",
                              line_of=lambda path: 7 if path[:1] == ("alerts",) else None)
    op, notifier = sorted((p.to_dict() for p in alerting.problems), key=lambda p: p["field"])
    assert problem_line(op) == "hosts.yaml:7: field 'alerts[0].op': op must be one of > >= < <= == !=, got the string '=>'"
    with chinese():
        assert problem_line(op) == "hosts.yaml:7：字段 alerts[0].op：op 须为 > >= < <= == != 之一，实际为字符串 '=>'"
        assert problem_line(notifier) == \
            'hosts.yaml：字段 notifiers.n：通知渠道须为映射，如 {type: webhook, url: "https://..."}，实际为数字 5'
        assert problem_line({**op, "field": ""}) == "hosts.yaml:7：op 须为 > >= < <= == != 之一，实际为字符串 '=>'"
