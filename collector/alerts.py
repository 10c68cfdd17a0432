"""Alert rule evaluation (SPEC section 4 "Alerts"): pure functions, no clock, no I/O.

The caller (collector/alert_engine.py) keeps the map of live instances and
passes ``now``; each function returns the complete new map and the state
transitions to record and notify.  One instance per rule x host x item (a mount
point, a GPU index, or an event's subject such as a systemd unit).

States: ``pending`` (condition true, ``for`` not elapsed) -> ``firing`` ->
``resolved``.  A pending instance whose condition clears is ``dropped`` (no
notification).  Resolved and dropped instances leave the map (history lives in
the database).  A sample without a value for an item leaves its instance alone:
no data is not recovery.  A one-shot event rule (``host_rebooted``, ...) gives a
``firing`` and a ``resolved`` transition at once; only the firing one notifies.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import ITEM_KEY
from inventory.alerting import AlertRule, describe_duration, format_value

if TYPE_CHECKING:
    from collector.host_report import HostReport

__all__ = ["Observation", "observations", "InstanceKey", "Instance", "Transition", "Evaluation",
           "evaluate_sample", "evaluate_event", "reconcile"]

_EPS = 1e-6  # float slack when comparing elapsed time with `for`


@dataclass(frozen=True)
class Observation:
    metric: str
    item: str | None  # mount point, str(GPU index), None for host metrics
    value: float


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = float(v)
    return v if math.isfinite(v) else None


_ALERTABLE = tuple(CATALOGUE.alertable().values())
_HOST = tuple(m for m in _ALERTABLE if m.scope == "host")
_ITEM_SCOPES = tuple((scope, ITEM_KEY[scope], tuple(m for m in _ALERTABLE if m.scope == scope))
                     for scope in ("disk", "gpu", "interface", "service"))


def observations(report: HostReport) -> list[Observation]:
    """Every alertable catalogue metric's value in a report; missing, NaN and infinite values are left out.
    The item of a disk is its mount point, of a GPU str(index), of an interface or a service its name."""
    out: list[Observation] = []
    for m in _HOST:
        v = _num(m.value(report))
        if v is not None:
            out.append(Observation(m.name, None, v))
    for scope, item_key, metrics in _ITEM_SCOPES:
        if not metrics:
            continue
        for record in report.items(scope):
            item = getattr(record, item_key)
            if item is None or item == "":
                continue
            for m in metrics:
                v = _num(m.value(report, record))
                if v is not None:
                    out.append(Observation(m.name, str(item), v))
    return out


@dataclass(frozen=True)
class InstanceKey:
    rule: str
    host_id: str
    item: str | None  # None for host-scope metrics and for events without a subject


@dataclass(frozen=True)
class Instance:
    key: InstanceKey
    state: str  # "pending" | "firing" | "resolved"
    since: float  # when the condition became true (pending start)
    fired_at: float | None
    resolved_at: float | None
    value: float | None  # last value seen (metric rules)
    # The rule as it was when last evaluated (None when rebuilt from the database): reconcile()
    # compares its meaning with the current rule's.
    rule: AlertRule | None = dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Transition:
    key: InstanceKey
    rule: AlertRule
    old: str | None  # None | "pending" | "firing"
    new: str  # "pending" | "firing" | "resolved" | "dropped"
    at: float
    value: float | None
    message: str

    @property
    def notify(self) -> bool:
        """True for firing, and for resolved after firing (not for a one-shot event's own resolve)."""
        if self.new == "firing":
            return True
        return self.new == "resolved" and self.old == "firing" and not self.rule.one_shot


class Evaluation(NamedTuple):
    instances: dict[InstanceKey, Instance]
    transitions: list[Transition]


# --------------------------------------------------------------------------- messages
def _where(key: InstanceKey, scope: str) -> str:
    if key.item is None:
        return key.host_id
    kind = {"disk": "disk", "gpu": "GPU"}.get(scope)
    return f"{key.host_id} {kind} {key.item}" if kind else f"{key.host_id} {key.item}"


def _message(rule: AlertRule, key: InstanceKey, new: str, value: float | None, why: str = "") -> str:
    # a GPU event's subject is the card's index (gpu_hot, gpu_lost, gpu_ecc_error, gpu_throttled)
    where = _where(key, "gpu" if rule.event is not None and rule.event.startswith("gpu_") else rule.scope)
    if rule.event is not None:
        text = f"{where}: {rule.event}"
        if new == "resolved":
            text += f" resolved ({why or rule.resolves_on or 'one-shot'})"
        return text
    shown = format_value(value, rule.unit) if value is not None else "no value"
    if new in ("resolved", "dropped"):
        return f"{where}: {rule.metric} {new} ({why or shown})"
    assert rule.threshold is not None
    text = f"{where}: {rule.metric} {shown} {rule.op} {format_value(rule.threshold, rule.unit)}"
    if new == "firing" and rule.for_s > 0:
        text += f" for {describe_duration(rule.for_s)}"
    elif new == "pending":
        text += f" (pending, fires after {describe_duration(rule.for_s)})"
    return text


def _transition(rule: AlertRule, inst: Instance | None, key: InstanceKey, new: str, now: float,
                value: float | None, why: str = "") -> Transition:
    return Transition(key, rule, inst.state if inst is not None else None, new, now, value,
                      _message(rule, key, new, value, why))


# --------------------------------------------------------------------------- evaluation
def evaluate_sample(rules: Iterable[AlertRule], host_id: str, labels: Mapping[str, str], obs: list[Observation],
                    instances: Mapping[InstanceKey, Instance], now: float) -> Evaluation:
    """Apply one poll's observations of ``host_id`` to every metric rule that selects it."""
    new = dict(instances)
    out: list[Transition] = []
    for rule in rules:
        if rule.metric is None or not rule.selects(host_id, labels):
            continue
        host_scope = rule.scope == "host"
        seen: dict[str | None, float] = {}
        for o in obs:  # the last value of an item wins should a report repeat it
            if o.metric == rule.metric and (host_scope or rule.selects_item(o.item)):
                seen[None if host_scope else o.item] = o.value
        for item, value in seen.items():
            key = InstanceKey(rule.name, host_id, item)
            inst = new.get(key)
            if rule.test(value):
                if inst is None:
                    inst = Instance(key, "pending", now, None, None, value, rule)
                    if rule.for_s <= 0:
                        new[key] = dataclasses.replace(inst, state="firing", fired_at=now)
                        out.append(_transition(rule, None, key, "firing", now, value))
                    else:
                        new[key] = inst
                        out.append(_transition(rule, None, key, "pending", now, value))
                elif inst.state == "pending" and now - inst.since >= rule.for_s - _EPS:
                    new[key] = dataclasses.replace(inst, state="firing", fired_at=now, value=value, rule=rule)
                    out.append(_transition(rule, inst, key, "firing", now, value))
                else:
                    new[key] = dataclasses.replace(inst, value=value, rule=rule)
            elif inst is not None:
                del new[key]
                state = "resolved" if inst.state == "firing" else "dropped"
                out.append(_transition(rule, inst, key, state, now, value))
    return Evaluation(new, out)


def evaluate_event(rules: Iterable[AlertRule], host_id: str, labels: Mapping[str, str], event_type: str,
                   subject: str | None, instances: Mapping[InstanceKey, Instance], now: float) -> Evaluation:
    """Fire the event rules on ``event_type`` for this host, and resolve those it ends (host_up -> host_down)."""
    new = dict(instances)
    out: list[Transition] = []
    for rule in rules:
        if rule.event is None:
            continue
        if rule.event == event_type and rule.selects(host_id, labels) and rule.selects_item(subject):
            key = InstanceKey(rule.name, host_id, subject)
            if rule.one_shot:
                fired = Instance(key, "firing", now, now, None, None, rule)
                out.append(_transition(rule, None, key, "firing", now, None))
                out.append(_transition(rule, fired, key, "resolved", now, None))
            elif key not in new:
                new[key] = Instance(key, "firing", now, now, None, None, rule)
                out.append(_transition(rule, None, key, "firing", now, None))
        elif rule.resolves_on == event_type:
            # Resolve even when the rule no longer selects the host: the condition it fired on is over.
            for key, inst in list(new.items()):
                if key.rule == rule.name and key.host_id == host_id and (subject is None or key.item == subject):
                    del new[key]
                    out.append(_transition(rule, inst, key, "resolved", now, None, event_type))
    return Evaluation(new, out)


def reconcile(rules: Iterable[AlertRule], hosts: Mapping[str, Mapping[str, str]],
              instances: Mapping[InstanceKey, Instance], now: float) -> Evaluation:
    """After an inventory reload: end the instances whose rule is gone or means something else now
    (metric, op, threshold, event or items changed), or whose host is gone or no longer selected.
    The others adopt the current rule (severity, notify, `for` and the like may have changed).

    An instance rebuilt from the database (``rule`` None) whose rule is gone ends with a stand-in
    ``AlertRule`` of that name and no notifiers: recorded, not sent."""
    by_name = {rule.name: rule for rule in rules}
    new: dict[InstanceKey, Instance] = {}
    out: list[Transition] = []
    for key, inst in instances.items():
        rule = by_name.get(key.rule)
        old_rule = inst.rule or rule
        if rule is None:
            why = "rule removed"
        elif inst.rule is not None and inst.rule.signature != rule.signature:
            why = "rule changed"
        elif key.host_id not in hosts:
            why = "host removed"
        elif not rule.selects(key.host_id, hosts[key.host_id]):
            why = "host no longer selected"
        elif rule.scope != "host" and not rule.selects_item(key.item):
            why = "item no longer selected"
        else:
            new[key] = inst if inst.rule is rule else dataclasses.replace(inst, rule=rule)
            continue
        state = "resolved" if inst.state == "firing" else "dropped"
        if old_rule is None:
            # Rebuilt from the database and its rule is gone: nothing is known of it but the name.
            # The stand-in rule has no notifiers, so this resolve is recorded but sent nowhere.
            stand_in = AlertRule(name=key.rule, event="host_down")
            where = key.host_id if key.item is None else f"{key.host_id} {key.item}"
            out.append(Transition(key, stand_in, inst.state, state, now, inst.value,
                                  f"{where}: {key.rule} {state} ({why})"))
        else:
            out.append(_transition(old_rule, inst, key, state, now, inst.value, why))
    return Evaluation(new, out)
