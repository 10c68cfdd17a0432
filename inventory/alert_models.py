"""Pydantic models of one alert rule of the inventory (SPEC sections 2 and 4), and the checks and
wording they share with :mod:`inventory.notifier_config`.

An alert rule is a :class:`MetricRule` or an :class:`EventRule`, told apart by which of ``metric:``
and ``event:`` it has (:data:`RuleEntry`, a discriminated union); ``AlertRule(...)`` builds the
right one of the two.  Each check raises an error worded for the person who edits the file;
:mod:`inventory.alerting` turns them into problems with file, line and field, and holds the
decisions about the inventory as a whole (duplicate names, ``notify`` references).

Every question about a metric (is it known, its scope and unit, the names for a "did you mean")
goes through :func:`_metric_scope_unit` and :func:`_known_metrics`.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationInfo,
                      field_validator)
from pydantic_core import PydanticCustomError

from .durations import parse_duration, say_duration
from .fields import LabelValue
from collector.metrics.catalogue import CATALOGUE

from .patterns import _shown, validate_label_key

Severity = Literal["info", "warning", "critical"]
Op = Literal[">", ">=", "<", "<=", "==", "!="]
SEVERITIES: tuple[str, ...] = get_args(Severity)
OPS: tuple[str, ...] = get_args(Op)

# metric name -> (scope, unit): the alertable metrics of the catalogue (collector/metrics/catalogue.py);
# scope "host" | "disk" (item = mount point) | "gpu" (item = str(GPU index)) | "interface" | "service"
METRICS: dict[str, tuple[str, str]] = {
    name: (m.scope, "" if m.unit in ("load", "count") else m.unit) for name, m in CATALOGUE.alertable().items()}

# event rule type -> the event type that resolves it (None: one-shot, fires and resolves at once)
EVENTS: dict[str, str | None] = {
    "host_down": "host_up",
    "service_failed": "service_recovered",
    "proxy_down": "proxy_up",
    "auth_failed": None,
    "host_key_mismatch": None,
    "host_rebooted": None,
    "gpu_hot": None,
    "gpu_lost": None,
    "gpu_ecc_error": None,
    "gpu_throttled": None,
}

# the keys a rule may have (``for``: the attribute is for_s)
RULE_KEYS = ("name", "metric", "event", "op", "threshold", "for", "hosts", "labels", "items", "severity", "notify")

NAME_HINT = "letters, digits and _.- (at most 64)"
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_DURATION_USE = "use 30s, 5m, 1h"


# --------------------------------------------------------------------------- metrics
def _metric_scope_unit(name: object) -> tuple[str, str] | None:
    """(scope, unit) of a known metric; None for anything else (not a string, unknown)."""
    return METRICS.get(name) if isinstance(name, str) else None


def _known_metrics() -> list[str]:
    """The names a rule's ``metric:`` may have, in the order they are listed to the user."""
    return list(METRICS)


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


def describe(value: Any) -> str:
    """A YAML value in words, for "got ..." (strings shortened)."""
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


def unknown(what: str, value: Any, known: list[str] | tuple[str, ...], known_word: str = "known") -> str:
    """"unknown metric 'cpu' (did you mean 'cpu_pct'?); known: cpu_pct, ..."."""
    close = difflib.get_close_matches(value, list(known), n=1) if isinstance(value, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = _shown(value) if isinstance(value, str) else describe(value)
    return f"unknown {what} {shown}{hint}; {known_word}: {', '.join(known) or '(none)'}"


def _fail(message: str, kind: str = "alerting") -> PydanticCustomError:
    """A validation error with our own wording (``ctx["message"]``, no "Value error, " prefix)."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def _refused(message: str, kind: str = "alerting") -> Callable[[Any], None]:
    """The check of a key that must not be there (it fails whatever the value)."""
    def check(value: Any) -> None:
        raise _fail(message, kind)
    return check


# --------------------------------------------------------------------------- checks of single values
def _named(what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not _NAME_RE.fullmatch(value):
            raise _fail(f"invalid {what} name {_shown(value)}: allowed are {NAME_HINT}")
        return value
    return check


def _one_of(what: str, known: tuple[str, ...]) -> Callable[[Any], str]:
    """Case and blanks do not matter (``type: DingTalk``)."""
    def check(value: Any) -> str:
        if isinstance(value, str) and value.strip().lower() in known:
            return value.strip().lower()
        raise _fail(unknown(what, value, known, "allowed"))
    return check


def _duration(value: Any) -> float:
    try:
        return parse_duration(value)
    except ValueError:
        shown = _shown(value) if isinstance(value, str) else describe(value)
        raise _fail(f"bad duration {shown}: {_DURATION_USE}") from None


def _glob(what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _fail(f"{what} must be a glob pattern string like \"prod-*\" or \"*\", got {describe(value)}")
        text = str(value)
        if not text or len(text) > 256 or any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise _fail(f"{what} must be a non-empty glob pattern without control characters "
                        f"(at most 256 characters), got {_shown(text)}")
        return text
    return check


def _known_metric(value: Any) -> str:
    if _metric_scope_unit(value) is None:
        raise _fail(unknown("metric", value, _known_metrics()))
    return value


def _known_event(value: Any) -> str:
    if not isinstance(value, str) or value not in EVENTS:
        raise _fail(unknown("event", value, list(EVENTS)))
    return value


def _only_for_metrics(key: str) -> Callable[[Any], None]:
    return _refused(f"{key} applies only to metric rules; an event rule fires (at once) when its event happens")


def _op(value: Any) -> str:
    if value not in OPS:
        hint = ' (quote it: op: ">")' if not isinstance(value, str) or not value.strip() else ""
        raise _fail(f"op must be one of {' '.join(OPS)}, got {describe(value)}{hint}")
    return value


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


def _threshold(value: Any, info: ValidationInfo) -> float:
    number = _number(value)
    if number is None:
        metric = info.data.get("metric")
        unit = (_metric_scope_unit(metric) or ("", ""))[1]
        hint = f" ({metric} is in {unit})" if unit else ""
        raise _fail(f"threshold must be a number like 80 or 0.5, without a unit{hint}; got {describe(value)}")
    return number


def _mapping(example: str) -> Callable[[Any], dict]:
    def check(value: Any) -> dict:
        if not isinstance(value, dict):
            raise _fail(f"{example}, got {describe(value)}")
        return value
    return check


# --------------------------------------------------------------------------- alert rules
_OP_FUNCS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
_Labels = dict[Annotated[str, BeforeValidator(validate_label_key)], LabelValue]


def _rule_kind(data: Any) -> str:
    """The discriminator of :data:`RuleEntry`: "metric" when a rule has a metric (its model then
    refuses an event as well), else "event" when it has an event, else "neither"."""
    get = data.get if isinstance(data, dict) else lambda key: getattr(data, key, None)
    if get("metric") is not None:
        return "metric"
    return "event" if get("event") is not None else "neither"


class AlertRule(BaseModel):
    """One valid rule of ``alerts:``: a metric condition (:class:`MetricRule`), or an event to fire
    on (:class:`EventRule`).  ``AlertRule(name=..., metric=... | event=..., ...)`` builds the one of
    the two that the arguments ask for.  ``line`` (where it was written) takes no part in ``==``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # in the order of the checks: later ones read earlier values (a threshold's unit, items' scope)
    name: Annotated[str, BeforeValidator(_named("rule"))]
    metric: str | None = None
    event: str | None = None
    op: Op | None = None
    threshold: float | None = None
    for_s: float = Field(0.0, alias="for")
    hosts: Annotated[str, BeforeValidator(_glob("hosts"))] = "*"
    items: str = "*"
    labels: Annotated[_Labels, BeforeValidator(_mapping("labels must be a mapping like {env: prod}"))] = \
        Field(default_factory=dict)
    severity: Annotated[Severity, BeforeValidator(_one_of("severity", SEVERITIES))] = "warning"
    notify: tuple[str, ...] = ()
    line: int | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> AlertRule:
        if cls is AlertRule:
            kind = _rule_kind(kwargs)
            if kind == "neither":
                raise ValueError("an alert rule has exactly one of metric and event")
            cls = MetricRule if kind == "metric" else EventRule
        return super().__new__(cls)

    @field_validator("items", mode="before")
    @classmethod
    def _items(cls, value: Any, info: ValidationInfo) -> str:
        metric = info.data.get("metric")
        if (_metric_scope_unit(metric) or ("",))[0] == "host":
            raise _fail(f"items applies only to per-disk and per-GPU metrics and to event subjects; "
                        f"{metric} is one value per host")
        return _glob("items")(value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AlertRule):
            return NotImplemented
        return type(self) is type(other) and self._meaning() == other._meaning()

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.signature))

    def _meaning(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "line"}

    def selects(self, host_id: str, labels: Mapping[str, str]) -> bool:
        """True when the host id matches ``hosts`` and the host has every label of the rule."""
        hosts, wanted = self.hosts, self.labels  # (on the polling path: "*" and no labels are the usual)
        if hosts != "*" and not fnmatch.fnmatchcase(host_id, hosts):
            return False
        return not wanted or all(labels.get(k) == v for k, v in wanted.items())

    def selects_item(self, item: str | None) -> bool:
        """True when ``item`` (mount point, GPU index, event subject; None: none) matches ``items``."""
        items = self.items
        if items == "*":
            return True
        return item is not None and fnmatch.fnmatchcase(item, items)

    def test(self, value: float) -> bool:
        """``value OP threshold`` (False for an event rule and for NaN)."""
        if self.op is None or self.threshold is None:
            return False
        return _OP_FUNCS[self.op](float(value), self.threshold)

    @property
    def scope(self) -> str:
        """"host", "disk" or "gpu" for metric rules, "event" for event rules."""
        return "event" if self.metric is None else _metric_scope_unit(self.metric)[0]

    @property
    def unit(self) -> str:
        return "" if self.metric is None else _metric_scope_unit(self.metric)[1]

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


class MetricRule(AlertRule):
    """``metric OP threshold`` (for ``for`` at least), per host, disk or GPU."""

    metric: Annotated[str, BeforeValidator(_known_metric)]
    event: Annotated[None, BeforeValidator(_refused("a rule has either metric or event, not both"))] = None
    op: Annotated[Op, BeforeValidator(_op)]
    threshold: Annotated[float, BeforeValidator(_threshold)]
    for_s: Annotated[float, BeforeValidator(_duration)] = Field(0.0, alias="for")


class EventRule(AlertRule):
    """Fires when its event happens (and resolves on the event that ends it, if there is one)."""

    metric: None = None
    event: Annotated[str, BeforeValidator(_known_event)]
    op: Annotated[None, BeforeValidator(_only_for_metrics("op"))] = None
    threshold: Annotated[None, BeforeValidator(_only_for_metrics("threshold"))] = None
    for_s: Annotated[float, BeforeValidator(_only_for_metrics("for"))] = Field(0.0, alias="for")


class _NeitherRule(AlertRule):
    """An entry with neither metric nor event: never valid, but its name, hosts, labels, ... are
    checked all the same, so that one edit can fix them all (op, threshold and for are not: what
    they would mean is unknown)."""

    # worded by inventory.alerting, which lists the metrics and events, at the entry itself
    event: Annotated[None, BeforeValidator(_refused("needs metric or event", "rule_kind"))] = \
        Field(None, validate_default=True)
    op: Any = None
    threshold: Any = None
    for_s: Any = Field(0.0, alias="for")


# one entry of ``alerts:`` (without ``notify``, which inventory.alerting resolves)
RuleEntry = Annotated[Union[Annotated[MetricRule, Tag("metric")], Annotated[EventRule, Tag("event")],
                            Annotated[_NeitherRule, Tag("neither")]],
                      Discriminator(_rule_kind)]
RULE_ENTRY: TypeAdapter[AlertRule] = TypeAdapter(RuleEntry)
