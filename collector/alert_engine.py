"""The hub's alert engine: feeds samples and events to the pure rules (collector.alerts),
writes what fires and resolves, and hands notifications to the dispatcher.

Polling only enqueues (`observe_report`, `observe_events` never wait); one task
does the judging, the database writes and the submitting, so a slow database or
notifier never holds up a probe. Pending instances live in memory only; firing
ones are in the `alerts` table and are taken over again after a restart.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from collector import alerts
from collector.notifiers import Attempt, Dispatcher, Notification
from inventory.alerting import Alerting
from schema import alert_queries as aq
from schema.alert_queries import silence_matches

if TYPE_CHECKING:
    from collector.host_report import HostReport

log = logging.getLogger(__name__)
QUEUE_SIZE = 10_000  # about two polls of 1,000 hosts plus their events


class AlertEngine:
    """Rules x samples and events -> alert instances, history and notifications."""

    def __init__(self, writer, dispatcher: Dispatcher, *, clock: Callable[[], float] = time.time,
                 link: Callable[[int], str | None] = lambda _id: None) -> None:
        self.writer = writer
        self.dispatcher = dispatcher
        self._clock = clock
        self._link = link
        self.alerting = Alerting(rules=(), notifiers={}, problems=())
        self.hosts: dict[str, Mapping[str, str]] = {}  # host id -> labels
        self.instances: dict[alerts.InstanceKey, alerts.Instance] = {}
        self.alert_ids: dict[alerts.InstanceKey, int] = {}
        self.silences: list[dict[str, Any]] = []
        # firing notifications a silence held back: sent when the silence ends while still firing,
        # dropped (with their resolve) when the instance resolves first
        self.held: dict[alerts.InstanceKey, tuple[alerts.Transition, int | None]] = {}
        self._queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._task: asyncio.Task | None = None
        self.dropped = 0  # observations lost to a full queue (shown in health)
        self.last_error: str | None = None
        self.on_change: Callable[[], None] | None = None  # an instance started, fired or resolved

    # ----------------------------------------------------------------- lifecycle
    def seed(self, session) -> None:
        """Take over the instances that were firing when the hub stopped (no second notification)."""
        now = self._clock()
        for row in aq.open_alerts(session):
            key = alerts.InstanceKey(row["rule"], row["host_id"], row["item"])
            self.instances[key] = alerts.Instance(key, "firing", row["started_at"], row["fired_at"], None,
                                                  row["value"])
            self.alert_ids[key] = row["id"]
        self.silences = aq.active_silences(session, now)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-engine")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until everything enqueued has been judged and written (tests, probe now)."""
        await asyncio.wait_for(self._queue.join(), timeout)

    # ----------------------------------------------------------------- inputs (never wait)
    def configure(self, alerting: Alerting, hosts: Mapping[str, Mapping[str, str]]) -> None:
        """New rules, notifiers or hosts (inventory applied): instances that no longer apply resolve."""
        self.dispatcher.configure(alerting.notifiers)
        self._put(("configure", alerting, {h: dict(labels) for h, labels in hosts.items()}))

    def observe_report(self, host_id: str, report: HostReport) -> None:
        if self.alerting.rules or self._queue.qsize():  # cheap when no rule exists
            self._put(("sample", host_id, alerts.observations(report), float(report.ts or self._clock())))

    def observe_events(self, drafts) -> None:
        for d in drafts:
            self._put(("event", d.host_id, d.type, d.subject, d.ts))

    def set_silences(self, silences: list[dict[str, Any]]) -> None:
        self.silences = list(silences)
        if self.held:
            self._put(("release",))  # a lifted silence lets its held-back firing through now

    def _put(self, item: tuple) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.warning("alert engine is behind: %d observations dropped so far", self.dropped)

    # ----------------------------------------------------------------- judging
    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._handle(item)
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad sample or a database hiccup must not end alerting
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("alert engine: %s", self.last_error)
            finally:
                self._queue.task_done()

    async def _handle(self, item: tuple) -> None:
        kind = item[0]
        if kind == "release":
            self._release_held()
            return
        if kind == "configure":
            _, self.alerting, self.hosts = item
            result = alerts.reconcile(self.alerting.rules, self.hosts, self.instances, self._clock())
        elif kind == "sample":
            _, host_id, obs, ts = item
            if host_id not in self.hosts:
                return
            result = alerts.evaluate_sample(self.alerting.rules, host_id, self.hosts[host_id], obs, self.instances, ts)
        else:
            _, host_id, event_type, subject, ts = item
            if host_id not in self.hosts:
                return
            result = alerts.evaluate_event(self.alerting.rules, host_id, self.hosts[host_id], event_type, subject,
                                           self.instances, ts)
        self.instances = dict(result.instances)
        for t in result.transitions:
            await self._record(t)
        if result.transitions and self.on_change is not None:
            self.on_change()
        if self.held:  # a silence that expired since the last sample
            self._release_held()

    def _release_held(self) -> None:
        now = self._clock()
        for key, (t, alert_id) in list(self.held.items()):
            inst = self.instances.get(key)
            if inst is None or inst.state != "firing":
                del self.held[key]
            elif not any(silence_matches(s, key, now) for s in self.silences):
                del self.held[key]
                log.info("silence over: alert %s on %s still firing, notifying now", key.rule, key.host_id)
                self._send(t, alert_id)

    async def _record(self, t: alerts.Transition) -> None:
        rule = t.rule
        if t.new == "firing":
            inst = self.instances.get(t.key)
            started = inst.since if inst is not None else t.at
            fields = {"rule": rule.name, "host_id": t.key.host_id, "item": t.key.item, "severity": rule.severity,
                      "state": "firing", "summary": t.message, "metric": rule.metric, "event": rule.event,
                      "value": t.value, "threshold": rule.threshold, "started_at": started, "fired_at": t.at,
                      "resolved_at": None, "updated_at": t.at}
            self.alert_ids[t.key] = await self.writer.run_db(lambda s: aq.insert_alert(s, fields))
        elif t.new == "resolved" and t.key in self.alert_ids:
            alert_id = self.alert_ids.pop(t.key)
            fields = {"state": "resolved", "resolved_at": t.at, "updated_at": t.at, "summary": t.message}
            if t.value is not None:
                fields["value"] = t.value
            await self.writer.run_db(lambda s: aq.update_alert(s, alert_id, fields))
            self._notify(t, alert_id)
            return
        if t.notify:
            self._notify(t, self.alert_ids.get(t.key))

    def _notify(self, t: alerts.Transition, alert_id: int | None) -> None:
        if not t.notify or not t.rule.notify:
            return
        now = self._clock()
        if t.new == "resolved":
            # A resolve closes what the receivers were told, silence or not; one whose firing was
            # held back is not sent either (a receiver never gets a resolve out of the blue).
            if self.held.pop(t.key, None) is not None:
                log.info("alert %s on %s resolved while silenced: neither firing nor resolved sent", t.rule.name,
                         t.key.host_id)
                return
        elif any(silence_matches(s, t.key, now) for s in self.silences):
            log.info("alert %s on %s silenced: %s held back", t.rule.name, t.key.host_id, t.new)
            if t.new == "firing":
                self.held[t.key] = (t, alert_id)
            return
        self._send(t, alert_id)

    def _send(self, t: alerts.Transition, alert_id: int | None) -> None:
        inst = self.instances.get(t.key)
        note = Notification(
            alert_id=alert_id, rule=t.rule.name, host_id=t.key.host_id, item=t.key.item, state=t.new,
            severity=t.rule.severity, summary=t.message, value=t.value, threshold=t.rule.threshold,
            metric=t.rule.metric, event=t.rule.event, started_at=inst.since if inst is not None else t.at, at=t.at,
            labels=dict(self.hosts.get(t.key.host_id, {})), link=self._link(alert_id) if alert_id else None)
        for name in t.rule.notify:
            self.dispatcher.submit(name, note)

    # ----------------------------------------------------------------- attempts
    def on_attempt(self, attempt: Attempt) -> None:
        """Dispatcher callback: every delivery attempt goes to the database."""
        row = {k: v for k, v in asdict(attempt).items()
               if k in ("alert_id", "notifier", "state", "attempt", "at", "ok", "status_code", "error",
                        "duration_s", "final")}
        task = asyncio.get_running_loop().create_task(self.writer.run_db(lambda s: aq.record_attempts(s, [row])))
        task.add_done_callback(_log_failure)

    # ----------------------------------------------------------------- views
    def pending(self) -> list[dict[str, Any]]:
        """Instances waiting for their `for` to elapse (not in the database)."""
        out = []
        for key, inst in self.instances.items():
            if inst.state != "pending":
                continue
            rule = self.alerting.rule(key.rule)
            out.append({"id": None, "rule": key.rule, "host_id": key.host_id, "item": key.item, "state": "pending",
                        "severity": rule.severity if rule else None, "value": inst.value,
                        "threshold": rule.threshold if rule else None, "metric": rule.metric if rule else None,
                        "started_at": inst.since, "for_s": rule.for_s if rule else None,
                        "summary": rule.describe() if rule else key.rule})
        return sorted(out, key=lambda r: r["started_at"])

    def mark_silenced(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add `silenced_until` (epoch s or None) to alert rows for the API and the page."""
        return aq.mark_silenced(rows, self.silences, self._clock())

    def firing_count(self) -> int:
        return sum(1 for i in self.instances.values() if i.state == "firing")

    def health(self) -> dict[str, Any]:
        return {"rules": len(self.alerting.rules), "problems": len(self.alerting.problems),
                "firing": self.firing_count(),
                "pending": sum(1 for i in self.instances.values() if i.state == "pending"),
                "queued": self._queue.qsize(), "dropped": self.dropped, "last_error": self.last_error,
                "notifiers": self.dispatcher.stats()}


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not record a notification attempt: %s", task.exception())
