"""Alert rules and notifiers from the inventory's ``alerts:`` and ``notifiers:`` (SPEC sections 2 and 4).

``parse_alerting(alerts, notifiers)`` turns the raw YAML values into frozen
:class:`AlertRule` and :class:`NotifierConfig` objects plus a list of
:class:`~inventory.errors.Problem` (file, line, field, message) for everything
that is wrong.  It never raises: a bad rule or notifier is left out and
reported, every other rule keeps working, and the hosts still load.

Decisions, for the people who code against this module:

* **Rules and notifiers are independent.**  A rule whose ``notify`` names an
  undefined notifier, or a notifier that is itself invalid, is still loaded
  (its alerts still show in the UI and the history) *without* that notifier,
  and the reference is reported as a problem on the rule's ``notify`` field.
  Any other problem in a rule (unknown key, bad metric, op, threshold,
  duration, ...) leaves the whole rule out: a typo such as ``fro: 5m`` must not
  turn into a rule that fires on the first sample.
* **Duplicate names:** the first rule with a name wins; later ones are reported
  and left out.
* **Globs** (``hosts:`` on the host id, ``items:`` on the mount point or GPU
  index, or on an event's subject such as a systemd unit) are
  case-sensitive :func:`fnmatch.fnmatchcase` patterns on every platform;
  ``*`` matches ``/`` too, so ``items: "/data*"`` covers ``/data/scratch``.
  An event without a subject (``host_down``) matches only ``items: "*"``.
  ``items`` is refused on host-wide metrics (``cpu_pct`` has no items).
* **Labels** on a rule must all be equal to the host's labels; values are
  compared as strings the way host labels are stored (``8`` -> ``"8"``,
  ``true`` -> ``"true"``).
* **No secrets in messages.**  Problems never show a notifier's URL beyond
  ``scheme://host/...`` (a Slack or WeCom URL *is* the credential), its
  ``secret`` or its header values.  ``repr()`` of a :class:`NotifierConfig`
  hides them too.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .durations import parse_duration, say_duration
from .errors import Problem
from .patterns import _shown, validate_label_key, validate_label_value

__all__ = [
    "SEVERITIES",
    "OPS",
    "NOTIFIER_TYPES",
    "METRICS",
    "EVENTS",
    "RULE_KEYS",
    "NOTIFIER_KEYS",
    "AlertRule",
    "NotifierConfig",
    "Alerting",
    "parse_alerting",
    "describe_duration",
    "format_value",
    "shown_url",
]

SEVERITIES = ("info", "warning", "critical")
OPS = (">", ">=", "<", "<=", "==", "!=")
NOTIFIER_TYPES = ("webhook", "slack", "dingtalk", "wecom")

# metric name -> (scope, unit); scope "host" | "disk" (item = mount point) | "gpu" (item = str(GPU index))
METRICS: dict[str, tuple[str, str]] = {
    "cpu_pct": ("host", "%"),
    "mem_used_pct": ("host", "%"),
    "mem_used_bytes": ("host", "bytes"),
    "mem_available_bytes": ("host", "bytes"),
    "swap_used_pct": ("host", "%"),
    "load1": ("host", ""),
    "load5": ("host", ""),
    "load15": ("host", ""),
    "disk_read_bps": ("host", "bytes/s"),
    "disk_write_bps": ("host", "bytes/s"),
    "net_rx_bps": ("host", "bytes/s"),
    "net_tx_bps": ("host", "bytes/s"),
    "gpu_count": ("host", ""),
    "disk_used_pct": ("disk", "%"),
    "disk_avail_bytes": ("disk", "bytes"),
    "gpu_util_pct": ("gpu", "%"),
    "gpu_temperature_c": ("gpu", "°C"),
    "gpu_mem_used_pct": ("gpu", "%"),
    "gpu_power_w": ("gpu", "W"),
}

# event rule type -> the event type that resolves it (None: one-shot, fires and resolves at once)
EVENTS: dict[str, str | None] = {
    "host_down": "host_up",
    "service_failed": "service_recovered",
    "proxy_down": "proxy_up",
    "auth_failed": None,
    "host_key_mismatch": None,
    "host_rebooted": None,
    "gpu_hot": None,
}

RULE_KEYS = ("name", "metric", "event", "op", "threshold", "for", "hosts", "labels", "items", "severity", "notify")
NOTIFIER_KEYS = ("type", "url", "secret", "timeout", "max_attempts", "headers")

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NAME_HINT = "letters, digits and _.- (at most 64)"
_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_DURATION_USE = "use 30s, 5m, 1h"
_MAX_TIMEOUT_S = 300.0
_MAX_URL = 2048


# --------------------------------------------------------------------------- formatting helpers
describe_duration = say_duration  # the wording of event messages


def format_value(value: float, unit: str) -> str:
    """A metric value with its unit: "85 °C", "93.5 %", "1.5 GiB", "12 MiB/s", "0.42"."""
    if unit in ("bytes", "bytes/s"):
        scaled, prefix = float(value), ""
        for prefix in ("", "Ki", "Mi", "Gi", "Ti", "Pi"):
            if abs(scaled) < 1024 or prefix == "Pi":
                break
            scaled /= 1024
        suffix = "B" if unit == "bytes" else "B/s"
        return f"{round(scaled, 1):g} {prefix}{suffix}"
    text = f"{round(float(value), 2):g}"
    return f"{text} {unit}" if unit else text


def shown_url(url: str) -> str:
    """What may be shown of a notifier URL: ``https://hooks.slack.com/…`` (never path, query or userinfo)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
    except ValueError:
        return "(unparsable URL)"
    scheme = parts.scheme.lower() if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,15}", parts.scheme or "") else "?"
    return f"{scheme}://{host}/…"


def _glob_ok(pattern: str, value: str | None) -> bool:
    if value is None:
        return pattern == "*"
    return fnmatch.fnmatchcase(value, pattern)


_OP_FUNCS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


# --------------------------------------------------------------------------- models
@dataclass(frozen=True)
class AlertRule:
    """One valid rule of ``alerts:``: a metric condition, or an event to fire on."""

    name: str
    metric: str | None = None
    event: str | None = None
    op: str | None = None
    threshold: float | None = None
    for_s: float = 0.0
    hosts: str = "*"
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    items: str = "*"
    severity: str = "warning"
    notify: tuple[str, ...] = ()
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if (self.metric is None) == (self.event is None):
            raise ValueError("an alert rule has exactly one of metric and event")
        if self.metric is not None:
            if self.metric not in METRICS:
                raise ValueError(f"unknown metric {self.metric!r}")
            if self.op not in OPS or self.threshold is None:
                raise ValueError("a metric rule needs op and threshold")
        elif self.event not in EVENTS:
            raise ValueError(f"unknown event {self.event!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.threshold is not None:
            object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "for_s", float(self.for_s))
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "notify", tuple(self.notify))

    def selects(self, host_id: str, labels: Mapping[str, str]) -> bool:
        """True when the host id matches ``hosts`` and the host has every label of the rule."""
        if not fnmatch.fnmatchcase(host_id, self.hosts):
            return False
        return all(labels.get(k) == v for k, v in self.labels.items())

    def selects_item(self, item: str | None) -> bool:
        """True when ``item`` (mount point, GPU index, event subject; None: none) matches ``items``."""
        return _glob_ok(self.items, item)

    def test(self, value: float) -> bool:
        """``value OP threshold`` (False for an event rule and for NaN)."""
        if self.op is None or self.threshold is None:
            return False
        return _OP_FUNCS[self.op](float(value), self.threshold)

    @property
    def scope(self) -> str:
        """"host", "disk" or "gpu" for metric rules, "event" for event rules."""
        return METRICS[self.metric][0] if self.metric is not None else "event"

    @property
    def unit(self) -> str:
        return METRICS[self.metric][1] if self.metric is not None else ""

    @property
    def resolves_on(self) -> str | None:
        """The event type that resolves an event rule's alerts (None: one-shot or metric rule)."""
        return EVENTS.get(self.event) if self.event is not None else None

    @property
    def one_shot(self) -> bool:
        """An event rule whose alerts fire and resolve at once (host_rebooted, auth_failed, ...)."""
        return self.event is not None and EVENTS.get(self.event) is None

    @property
    def signature(self) -> tuple[Any, ...]:
        """What the rule *means* for its existing alerts: a change here starts them afresh."""
        return (self.metric, self.op, self.threshold, self.event, self.items)

    def describe(self) -> str:
        """"gpu_temperature_c > 80 °C for 5 min", "cpu_pct > 80 %", "on host_down"."""
        if self.event is not None:
            return f"on {self.event}"
        assert self.threshold is not None
        text = f"{self.metric} {self.op} {format_value(self.threshold, self.unit)}"
        return text + (f" for {describe_duration(self.for_s)}" if self.for_s > 0 else "")


@dataclass(frozen=True)
class NotifierConfig:
    """One valid entry of ``notifiers:``, as collector.notifiers delivers with it.  ``repr()`` hides the URL,
    secret and header values."""

    name: str
    type: str
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0
    max_attempts: int = 8
    headers: Mapping[str, str] = field(default_factory=dict, hash=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "headers", dict(self.headers))

    @property
    def shown_url(self) -> str:
        """``https://hooks.slack.com/…``: what logs and the UI may show of the URL."""
        return shown_url(self.url)


@dataclass(frozen=True)
class Alerting:
    """The valid rules and notifiers of an inventory, and the problems of the others."""

    rules: tuple[AlertRule, ...] = ()
    notifiers: Mapping[str, NotifierConfig] = field(default_factory=dict, hash=False)
    problems: tuple[Problem, ...] = ()

    def rule(self, name: str) -> AlertRule | None:
        for rule in self.rules:
            if rule.name == name:
                return rule
        return None


# --------------------------------------------------------------------------- parsing
class _Report:
    """Collects problems; knows the file and the lines."""

    def __init__(self, source: str, line_of: Callable[[tuple], int | None]):
        self.source, self.line_of, self.problems = source, line_of, []  # type: ignore[var-annotated]

    def line(self, path: tuple) -> int | None:
        try:
            return self.line_of(path)
        except Exception:  # a line is a courtesy; never fail on it
            return None

    def add(self, path: tuple, message: str, fallback: int | None = None) -> None:
        line = self.line(path)
        self.problems.append(Problem(self.source, line if line is not None else fallback, None,
                                     _format_path(path), message))


def _format_path(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {_shown(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _unknown(what: str, value: Any, known: list[str] | tuple[str, ...], known_word: str = "known") -> str:
    close = difflib.get_close_matches(str(value), list(known), n=1) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = _shown(value) if isinstance(value, str) else _describe(value)
    return f"unknown {what} {shown}{hint}; {known_word}: {', '.join(known) or '(none)'}"


def _unknown_keys(rep: _Report, path: tuple, entry: dict, allowed: tuple[str, ...]) -> bool:
    bad = False
    for key in entry:
        if key not in allowed:
            bad = True
            rep.add(path + (key,), _unknown("key", key if isinstance(key, str) else str(key), allowed,
                                            "allowed keys are"))
    return bad


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        shown = _shown(value) if isinstance(value, str) else _describe(value)
        raise ValueError(f"bad duration {shown}: {_DURATION_USE}") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _glob(value: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{what} must be a glob pattern string like \"prod-*\" or \"*\", got {_describe(value)}")
    text = str(value)
    if not text or len(text) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValueError(f"{what} must be a non-empty glob pattern without control characters "
                         f"(at most 256 characters), got {_shown(text)}")
    return text


def _parse_notifier(rep: _Report, name: Any, entry: Any) -> NotifierConfig | None:
    base = ("notifiers", name)
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        rep.add(base, f"invalid notifier name {_shown(name)}: allowed are {_NAME_HINT}")
        return None
    if not isinstance(entry, dict):
        rep.add(base, "a notifier must be a mapping like {type: webhook, url: \"https://...\"}, "
                      f"got {_describe(entry)}")
        return None
    ok = not _unknown_keys(rep, base, entry, NOTIFIER_KEYS)
    entry = {k: v for k, v in entry.items() if v is not None}

    kind = entry.get("type")
    if kind is None:
        rep.add(base + ("type",), f"required, but missing: one of {', '.join(NOTIFIER_TYPES)}")
        ok = False
    elif not isinstance(kind, str) or kind.strip().lower() not in NOTIFIER_TYPES:
        rep.add(base + ("type",), _unknown("notifier type", kind, NOTIFIER_TYPES, "allowed"))
        ok = False
    else:
        kind = kind.strip().lower()

    url = entry.get("url")
    if url is None:
        rep.add(base + ("url",), "required, but missing: the http:// or https:// URL to post to")
        ok = False
    elif not isinstance(url, str):
        rep.add(base + ("url",), f"url must be a string like \"https://hooks.example.com/...\", got {_describe(url)}")
        ok = False
    else:
        url = url.strip()
        problem = _url_problem(url)
        if problem:
            rep.add(base + ("url",), problem)
            ok = False

    secret = entry.get("secret")
    if secret is not None:
        if kind != "dingtalk":
            rep.add(base + ("secret",), "secret applies only to type dingtalk (its signing secret); slack and wecom "
                                        "carry their key in the url, a webhook can send headers")
            ok = False
        elif not isinstance(secret, str) or not secret.strip() or any(ord(c) < 32 for c in secret):
            rep.add(base + ("secret",), "secret must be a non-empty string on one line (the SEC... signing secret "
                                        "of the DingTalk robot)")
            ok = False
        else:
            secret = secret.strip()

    timeout_s = 10.0
    if entry.get("timeout") is not None:
        try:
            timeout_s = _duration(entry["timeout"])
            if not 0 < timeout_s <= _MAX_TIMEOUT_S:
                raise ValueError(f"timeout must be more than 0 and at most {_MAX_TIMEOUT_S:g}s, "
                                 f"got {_shown(entry['timeout'])}")
        except ValueError as exc:
            rep.add(base + ("timeout",), str(exc))
            ok = False

    max_attempts = 8
    if "max_attempts" in entry:
        value = entry["max_attempts"]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
            rep.add(base + ("max_attempts",), f"max_attempts must be a whole number from 1 to 20, got {_shown(value)}")
            ok = False
        else:
            max_attempts = value

    headers: dict[str, str] = {}
    raw_headers = entry.get("headers")
    if raw_headers is not None:
        if kind != "webhook":
            rep.add(base + ("headers",), "headers apply only to type webhook")
            ok = False
        elif not isinstance(raw_headers, dict):
            rep.add(base + ("headers",), f"headers must be a mapping like {{Authorization: \"Bearer ...\"}}, "
                                         f"got {_describe(raw_headers)}")
            ok = False
        else:
            for key, value in raw_headers.items():
                if not isinstance(key, str) or not _HEADER_NAME_RE.fullmatch(key):
                    rep.add(base + ("headers", key), f"invalid header name {_shown(key)}: allowed are letters, "
                                                     "digits and !#$%&'*+.^_`|~-")
                    ok = False
                elif isinstance(value, bool) or not isinstance(value, (str, int, float)) or \
                        any(ord(c) < 32 or ord(c) == 127 for c in str(value)):
                    # the value is never shown: it is often a token
                    rep.add(base + ("headers", key), f"the value of header {key!r} must be a string on one line "
                                                     "(no control characters)")
                    ok = False
                else:
                    headers[key] = str(value)
    if not ok:
        return None
    return NotifierConfig(name, kind, url, secret, timeout_s, max_attempts, headers)


def _url_problem(url: str) -> str | None:
    if not url:
        return "url must not be empty: give the http:// or https:// URL to post to"
    if len(url) > _MAX_URL:
        return f"url is {len(url)} characters long; at most {_MAX_URL} are allowed"
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        return f"url must not contain spaces or control characters ({shown_url(url)})"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "url cannot be parsed: expected http://HOST/... or https://HOST/..."
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme.lower() if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,15}", parts.scheme) else ""
        got = f"a {scheme!r} URL" if scheme else "no scheme"
        return f"url must start with http:// or https://, got {got}"
    if not host:
        return f"url has no host: expected {parts.scheme.lower()}://HOST/..."
    return None


def _parse_rule(rep: _Report, index: int, entry: Any, notifiers: Mapping[str, NotifierConfig],
                invalid_notifiers: set[str], names: dict[str, int | None]) -> AlertRule | None:
    base = ("alerts", index)
    rule_line = rep.line(base)

    def add(key: str | tuple, message: str) -> None:
        rep.add(base + ((key,) if isinstance(key, str) else key), message, rule_line)

    if not isinstance(entry, dict):
        add((), f"each rule must be a mapping with a name and a metric or an event, got {_describe(entry)}")
        return None
    ok = not _unknown_keys(rep, base, entry, RULE_KEYS)
    entry = {k: v for k, v in entry.items() if v is not None}  # `severity:` left empty: the default

    name = entry.get("name")
    if name is None:
        add("name", f"required, but missing: every rule needs a unique name ({_NAME_HINT})")
        ok = False
    elif not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        add("name", f"invalid rule name {_shown(name)}: allowed are {_NAME_HINT}")
        ok = False
    elif name in names:
        first = names[name]
        where = f" on line {first}" if first is not None else ""
        add("name", f"duplicate rule name {name!r}: first defined{where}; this rule is ignored")
        ok = False
    else:
        names[name] = rep.line(base + ("name",)) or rule_line

    metric, event = entry.get("metric"), entry.get("event")
    if metric is None and event is None:
        add((), f"a rule needs either metric (one of {', '.join(METRICS)}) or event (one of {', '.join(EVENTS)})")
        ok = False
    elif metric is not None and event is not None:
        add("event", "a rule has either metric or event, not both")
        ok = False
    elif metric is not None and metric not in METRICS:
        add("metric", _unknown("metric", metric, list(METRICS)))
        ok = False
    elif event is not None and event not in EVENTS:
        add("event", _unknown("event", event, list(EVENTS)))
        ok = False
    scope = METRICS[metric][0] if metric in METRICS else ("event" if event in EVENTS else None)

    op, threshold = entry.get("op"), None
    if metric is not None:
        if op is None:
            add("op", f"required with metric: op must be one of {' '.join(OPS)}")
            ok = False
        elif op not in OPS:
            hint = ' (quote it: op: ">")' if not isinstance(op, str) or not op.strip() else ""
            add("op", f"op must be one of {' '.join(OPS)}, got {_describe(op)}{hint}")
            ok = False
        if "threshold" not in entry or entry["threshold"] is None:
            add("threshold", "required with metric: the number to compare with")
            ok = False
        else:
            threshold = _number(entry["threshold"])
            if threshold is None:
                unit = f" ({metric} is in {METRICS[metric][1]})" if metric in METRICS and METRICS[metric][1] else ""
                add("threshold", f"threshold must be a number like 80 or 0.5, without a unit{unit}; "
                                 f"got {_describe(entry['threshold'])}")
                ok = False
    elif event is not None:
        for key in ("op", "threshold", "for"):
            if key in entry:
                add(key, f"{key} applies only to metric rules; an event rule fires (at once) when its event happens")
                ok = False

    for_s = 0.0
    if metric is not None and entry.get("for") is not None:
        try:
            for_s = _duration(entry["for"])
        except ValueError as exc:
            add("for", str(exc))
            ok = False

    hosts = "*"
    if "hosts" in entry:
        try:
            hosts = _glob(entry["hosts"], "hosts")
        except ValueError as exc:
            add("hosts", str(exc))
            ok = False

    items = "*"
    if "items" in entry:
        if scope == "host":
            add("items", f"items applies only to per-disk and per-GPU metrics and to event subjects; "
                         f"{metric} is one value per host")
            ok = False
        else:
            try:
                items = _glob(entry["items"], "items")
            except ValueError as exc:
                add("items", str(exc))
                ok = False

    labels: dict[str, str] = {}
    raw_labels = entry.get("labels")
    if raw_labels is not None:
        if not isinstance(raw_labels, dict):
            add("labels", f"labels must be a mapping like {{env: prod}}, got {_describe(raw_labels)}")
            ok = False
        else:
            for key, value in raw_labels.items():
                try:
                    labels[validate_label_key(key)] = validate_label_value(value)
                except ValueError as exc:
                    add(("labels", key), str(exc))
                    ok = False

    severity = entry.get("severity", "warning")
    if not isinstance(severity, str) or severity.strip().lower() not in SEVERITIES:
        add("severity", _unknown("severity", severity, SEVERITIES, "allowed"))
        ok = False
    else:
        severity = severity.strip().lower()

    notify: list[str] = []
    raw_notify = entry.get("notify")
    if isinstance(raw_notify, str):
        raw_notify = [raw_notify]
    if raw_notify is not None and not isinstance(raw_notify, list):
        add("notify", f"notify must be a list of notifier names like [ops], got {_describe(raw_notify)}")
        raw_notify = []
    for j, ref in enumerate(raw_notify or []):
        path = ("notify", j) if isinstance(entry.get("notify"), list) else "notify"
        if ref in notifiers:
            if ref not in notify:
                notify.append(ref)
        elif isinstance(ref, str) and ref in invalid_notifiers:
            add(path, f"notifier {ref!r} is invalid (see the problems of notifiers.{ref}); "
                      "the rule is loaded without it")
        else:
            add(path, _unknown("notifier", ref, sorted({*notifiers, *invalid_notifiers}), "defined")
                + "; the rule is loaded without it")

    if not ok:
        return None
    return AlertRule(name=name, metric=metric, event=event, op=op if metric else None, threshold=threshold,
                     for_s=for_s, hosts=hosts, labels=labels, items=items, severity=severity,
                     notify=tuple(notify), line=rule_line)


def parse_alerting(alerts: Any, notifiers: Any, *, source: str = "<string>",
                   line_of: Callable[[tuple], int | None] = lambda path: None,
                   yaml_issues: Iterable[tuple[tuple, int | None, str]] = ()) -> Alerting:
    """Validate the raw ``alerts:`` list and ``notifiers:`` mapping; never raises.

    ``line_of(path)`` gives the line of a YAML path such as ``("alerts", 2, "threshold")``
    (the loader's ``_Context.line_of``); problems name ``source``, that line and the field.
    ``yaml_issues`` are ``(path, line, message)`` found while reading the YAML under
    ``alerts``/``notifiers`` (a duplicate key): reported here, and the rule or notifier
    they are in is left out.
    """
    rep = _Report(source, line_of)
    valid: dict[str, NotifierConfig] = {}
    invalid: set[str] = set()
    broken: set[tuple] = set()
    for path, line, message in yaml_issues:
        rep.problems.append(Problem(source, line, None, _format_path(path), message))
        if path[:1] == ("notifiers",) and len(path) == 2 and message.startswith("duplicate key"):
            continue  # the same notifier name twice: the first one stands, like a rule name
        if len(path) >= 2:
            broken.add(tuple(path[:2]))
    for (section, key) in broken:
        if section == "notifiers" and isinstance(key, str):
            invalid.add(key)
    if notifiers is not None and not isinstance(notifiers, dict):
        rep.add(("notifiers",), f"notifiers must be a mapping of name to settings like "
                                f"ops: {{type: webhook, url: \"https://...\"}}, got {_describe(notifiers)}")
    for name, entry in (notifiers.items() if isinstance(notifiers, dict) else ()):
        config = _parse_notifier(rep, name, entry)
        if ("notifiers", name) in broken:
            config = None
        if config is not None:
            valid[name] = config
        elif isinstance(name, str):
            invalid.add(name)

    rules: list[AlertRule] = []
    if alerts is not None and not isinstance(alerts, list):
        rep.add(("alerts",), f"alerts must be a list of rules (each a mapping with a name), got {_describe(alerts)}")
    names: dict[str, int | None] = {}
    for index, entry in enumerate(alerts if isinstance(alerts, list) else ()):
        rule = _parse_rule(rep, index, entry, valid, invalid, names)
        if rule is not None and ("alerts", index) not in broken:
            rules.append(rule)

    problems = sorted(rep.problems, key=lambda p: (p.line is None, p.line or 0))
    return Alerting(tuple(rules), valid, tuple(problems))
