"""Alert rules and notifiers from the inventory's ``alerts:`` and ``notifiers:`` (SPEC sections 2 and 4).

``parse_alerting(alerts, notifiers)`` turns the raw YAML values into frozen
:class:`AlertRule` and :class:`NotifierConfig` objects plus a list of
:class:`~inventory.errors.Problem` (file, line, field, message) for everything
that is wrong.  It never raises: a bad rule or notifier is left out and
reported, every other rule keeps working, and the hosts still load.

The models and their checks are in :mod:`inventory.alert_models` and
:mod:`inventory.notifier_config` (pydantic); this module maps their validation
errors to the YAML paths and lines, reports keys the inventory does not know,
and makes the decisions that need more than one entry (duplicate names,
``notify`` references).

Decisions, for the people who code against this module:

* **Rules and notifiers are independent.**  A rule whose ``notify`` names an
  undefined notifier, or a notifier that is itself invalid, is still loaded
  (its alerts still show in the UI and the history) *without* that notifier,
  and the reference is reported as a problem on the rule's ``notify`` field.
  Any other problem in a rule (unknown key, bad metric, op, threshold,
  duration, ...) leaves the whole rule out: a typo such as ``fro: 5m`` must not
  turn into a rule that fires on the first sample.
* **Duplicate names:** the first rule with a name wins; later ones are reported
  and left out (also when the first one is itself invalid).
* **A rule with neither metric nor event** is reported as such; its other keys
  are checked too, except ``op``, ``threshold`` and ``for``.
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
  ``secret`` or its header values.  They are :class:`~pydantic.SecretStr` in
  a :class:`NotifierConfig`, so its ``repr()`` and ``str()`` hide them too; code
  that sends calls ``.get_secret_value()``, code that shows uses ``shown_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .alert_models import (
    EVENTS,
    METRICS,
    NAME_HINT,
    OPS,
    RULE_ENTRY,
    RULE_KEYS,
    SEVERITIES,
    AlertRule,
    EventRule,
    MetricRule,
    _known_metrics,
    describe,
    describe_duration,
    format_value,
    unknown,
)
from .errors import Problem
from .notifier_config import NOTIFIER_KEYS, NOTIFIER_TYPES, NotifierConfig, shown_url

__all__ = [
    "SEVERITIES",
    "OPS",
    "NOTIFIER_TYPES",
    "METRICS",
    "EVENTS",
    "RULE_KEYS",
    "NOTIFIER_KEYS",
    "AlertRule",
    "MetricRule",
    "EventRule",
    "NotifierConfig",
    "Alerting",
    "parse_alerting",
    "describe_duration",
    "format_value",
    "shown_url",
]


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


# --------------------------------------------------------------------------- problems
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


# what to say when a required key is missing, by key
_MISSING = {
    "name": f"required, but missing: every rule needs a unique name ({NAME_HINT})",
    "op": f"required with metric: op must be one of {' '.join(OPS)}",
    "threshold": "required with metric: the number to compare with",
    "type": f"required, but missing: one of {', '.join(NOTIFIER_TYPES)}",
    "url": "required, but missing: the http:// or https:// URL to post to",
}


def _errors(exc: ValidationError, *, tagged: bool = False) -> Iterator[tuple[tuple, str]]:
    """(path inside the entry, message) of each error of a model; ``tagged``: errors of the rule
    union, whose locations start with the tag of the model that was chosen."""
    for err in exc.errors(include_url=False):
        kind, loc = err["type"], tuple(p for p in err["loc"] if p != "[key]")
        loc = loc[1:] if tagged else loc
        if kind == "rule_kind":  # at the rule itself
            yield (), (f"a rule needs either metric (one of {', '.join(_known_metrics())}) "
                       f"or event (one of {', '.join(EVENTS)})")
        elif kind == "alerting":
            yield loc, err["ctx"]["message"]
        elif kind == "missing":
            yield loc, _MISSING.get(str(loc[-1]), "required, but missing")
        elif kind == "header_value":
            yield loc, f"the value of header {loc[-1]!r} must be a string on one line (no control characters)"
        elif kind == "value_error":
            yield loc, str(err["ctx"]["error"])
        else:  # every check words its own errors; never show the input (it may be a secret)
            yield loc, err["msg"]


def _fields(rep: _Report, path: tuple, entry: dict, allowed: tuple[str, ...]) -> tuple[dict, bool]:
    """The entry's keys that the inventory may use, less those left empty (an empty value means the
    default); False when there were others (reported: the entry is left out)."""
    ok = True
    for key in entry:
        if key not in allowed:
            ok = False
            rep.add(path + (key,), unknown("key", key if isinstance(key, str) else str(key), allowed,
                                           "allowed keys are"))
    return {k: v for k, v in entry.items() if k in allowed and v is not None}, ok


# --------------------------------------------------------------------------- parsing
def _parse_notifier(rep: _Report, name: Any, entry: Any) -> NotifierConfig | None:
    base = ("notifiers", name)
    if not isinstance(entry, dict):
        rep.add(base, "a notifier must be a mapping like {type: webhook, url: \"https://...\"}, "
                      f"got {describe(entry)}")
        return None
    fields, ok = _fields(rep, base, entry, NOTIFIER_KEYS)
    try:
        config = NotifierConfig.model_validate({**fields, "name": name})
    except ValidationError as exc:
        for path, message in _errors(exc):
            rep.add(base + (() if path == ("name",) else path), message)  # the name is the entry's key
        return None
    return config if ok else None


def _notify(rep: _Report, base: tuple, raw: Any, notifiers: Mapping[str, NotifierConfig],
            invalid_notifiers: set[str], fallback: int | None) -> tuple[str, ...]:
    """The valid notifiers a rule names; the others are reported, and the rule loads without them."""
    refs = [raw] if isinstance(raw, str) else raw
    if refs is not None and not isinstance(refs, list):
        rep.add(base + ("notify",), f"notify must be a list of notifier names like [ops], got {describe(raw)}",
                fallback)
        refs = []
    notify: list[str] = []
    for j, ref in enumerate(refs or ()):
        path = base + (("notify", j) if isinstance(raw, list) else ("notify",))
        if isinstance(ref, str) and ref in notifiers:
            if ref not in notify:
                notify.append(ref)
        elif isinstance(ref, str) and ref in invalid_notifiers:
            rep.add(path, f"notifier {ref!r} is invalid (see the problems of notifiers.{ref}); "
                          "the rule is loaded without it", fallback)
        else:
            rep.add(path, unknown("notifier", ref, sorted({*notifiers, *invalid_notifiers}), "defined")
                    + "; the rule is loaded without it", fallback)
    return tuple(notify)


def _parse_rule(rep: _Report, index: int, entry: Any, notifiers: Mapping[str, NotifierConfig],
                invalid_notifiers: set[str], names: dict[str, int | None]) -> AlertRule | None:
    base = ("alerts", index)
    rule_line = rep.line(base)
    if not isinstance(entry, dict):
        rep.add(base, f"each rule must be a mapping with a name and a metric or an event, got {describe(entry)}",
                rule_line)
        return None
    fields, ok = _fields(rep, base, entry, RULE_KEYS)
    raw_notify = fields.pop("notify", None)
    rule: AlertRule | None = None
    errors: list[tuple[tuple, str]] = []
    try:
        rule = RULE_ENTRY.validate_python({**fields, "line": rule_line})
    except ValidationError as exc:
        errors = list(_errors(exc, tagged=True))
    name = fields.get("name")
    if isinstance(name, str) and not any(path == ("name",) for path, _ in errors):  # a valid name
        if name in names:
            first = names[name]
            where = f" on line {first}" if first is not None else ""
            errors.insert(0, (("name",), f"duplicate rule name {name!r}: first defined{where}; this rule is ignored"))
        else:  # taken even if the rule is invalid: a later one of the same name is not silently used instead
            names[name] = rep.line(base + ("name",)) or rule_line
    for path, message in errors:
        rep.add(base + path, message, rule_line)
    notify = _notify(rep, base, raw_notify, notifiers, invalid_notifiers, rule_line)
    if rule is None or errors or not ok:
        return None
    return rule.model_copy(update={"notify": notify})


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
                                f"ops: {{type: webhook, url: \"https://...\"}}, got {describe(notifiers)}")
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
        rep.add(("alerts",), f"alerts must be a list of rules (each a mapping with a name), got {describe(alerts)}")
    names: dict[str, int | None] = {}
    for index, entry in enumerate(alerts if isinstance(alerts, list) else ()):
        rule = _parse_rule(rep, index, entry, valid, invalid, names)
        if rule is not None and ("alerts", index) not in broken:
            rules.append(rule)

    problems = sorted(rep.problems, key=lambda p: (p.line is None, p.line or 0))
    return Alerting(tuple(rules), valid, tuple(problems))
