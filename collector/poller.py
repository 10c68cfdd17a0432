"""Probe one host over its persistent connection and hand on what came back.

One `HostRuntime` per host holds what the next poll needs: the previous
reading (rates), the previous snapshot (events), the host status and a lock,
so a scheduled probe and a "probe now" of the same host never overlap.
Judging (state machine, events) lives in `host_state` and `events`; storing
in `recorder`.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from collector import events as ev
from collector import gpu_usage
from collector.errors import Failure, HostError
from collector.host_report import HostReport
from collector.host_state import HostStatus, on_failure, on_success
from collector.prober import probe_once
from collector.reading import Reading
from collector.recorder import BatchWriter, rows_from_report
from collector.report import build_report
from collector.ssh_pool import HostConnection, classify

log = logging.getLogger(__name__)

PS_EVERY_S = 60.0  # top processes cost the host ~8 ms more; once a minute is enough for a table
GRACE_S = 2.0  # beyond the command timeout, for connect and channel setup


@dataclass
class HostRuntime:
    """What the hub remembers about one host between polls."""

    host_id: str
    status: HostStatus = field(default_factory=HostStatus)
    prev_reading: Reading | None = None
    snapshot: ev.HostSnapshot | None = None
    os_info: dict[str, Any] | None = None
    top_processes: list[dict[str, Any]] = field(default_factory=list)
    os_for_connect: int = -1  # the connection number whose os section we have
    last_ps_at: float = float("-inf")
    last_gpu_apps_at: float | None = None  # when the GPU processes were last read (gpu_usage.read_span)
    gpu_held_since: dict[int, float] = field(default_factory=dict)  # card index -> held memory, idle, since
    polls: int = 0
    last_failure: HostError | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # hostname, OS, cores...: kept once seen
    last_poll_started: float | None = None
    last_poll_seconds: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def gpu_apps_due(spec: Any, last_read_at: float | None, now: float) -> bool:
    """Whether this probe also reads the GPU processes (inventory `gpu_processes`, 30 s by default): due half an
    interval early, so that a 30 s setting at 5 s polls reads every sixth probe, not every seventh."""
    every = spec.gpu_processes_s
    if spec.gpu == "off" or not every:
        return False
    return last_read_at is None or now - last_read_at >= every - spec.interval_s / 2


class Poller:
    """Runs probes and turns their outcome into rows, status changes and events."""

    def __init__(self, writer: BatchWriter, deduper: ev.EventDeduper, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.writer = writer
        self.deduper = deduper
        self._clock = clock
        self.runtimes: dict[str, HostRuntime] = {}
        # the alert engine listens here; both must return at once (they only enqueue)
        self.on_report: Callable[[str, HostReport], None] | None = None
        self.on_events: Callable[[list[ev.EventDraft]], None] | None = None

    def runtime(self, host_id: str) -> HostRuntime:
        rt = self.runtimes.get(host_id)
        if rt is None:
            rt = self.runtimes[host_id] = HostRuntime(host_id, status=HostStatus(state_since=self._clock()))
        return rt

    def forget(self, host_id: str) -> None:
        self.runtimes.pop(host_id, None)

    async def poll(self, conn: HostConnection, *, want_ps: bool | None = None,
                   want_os: bool | None = None) -> HostReport | None:
        """One scheduled probe: store the sample, update state, record events.

        Returns the report, or None when the host could not be probed.
        """
        rt = self.runtime(conn.spec.id)
        async with rt.lock:
            return await self._poll_locked(conn, rt, want_ps, want_os)

    async def _poll_locked(self, conn: HostConnection, rt: HostRuntime, want_ps: bool | None,
                           want_os: bool | None) -> HostReport | None:
        spec = conn.spec
        started = self._clock()
        rt.last_poll_started = started
        rt.polls += 1
        if want_os is None:
            want_os = not conn.connected or rt.os_for_connect != conn.connects
        if want_ps is None:
            want_ps = started - rt.last_ps_at >= PS_EVERY_S
        # a host seen without GPUs is not asked (gpu: auto on a CPU server); asked again after a restart
        want_apps = gpu_apps_due(spec, rt.last_gpu_apps_at, started) and rt.facts.get("gpu_count") != 0
        try:
            reading = await asyncio.wait_for(
                probe_once(conn, want_os=want_os, want_ps=want_ps, want_gpu_apps=want_apps, timeout=spec.timeout_s),
                timeout=spec.timeout_s + GRACE_S,
            )
        except HostError as err:
            self._failed(rt, err)
            return None
        except (asyncio.TimeoutError, TimeoutError):
            self._failed(rt, HostError(Failure.TIMEOUT, f"probe of {spec.id} took longer than "
                                                        f"{spec.timeout_s + GRACE_S:g} s"))
            return None
        except Exception as exc:  # never let one host's surprise stop its schedule
            log.exception("host %s: unexpected error while probing", spec.id)
            self._failed(rt, classify(exc, spec))
            return None
        finally:
            rt.last_poll_seconds = self._clock() - started
        if reading.get("os") is not None:
            rt.os_for_connect = conn.connects
        if want_ps and "ps" not in reading.errors:
            rt.last_ps_at = started
        readings = (rt.prev_reading, reading) if rt.prev_reading is not None else (reading,)
        try:
            report = build_report(spec.id, readings, disks=spec.disks, interfaces=spec.interfaces)
            rt.prev_reading = reading.kept(rt.prev_reading)
            report = self._succeeded(rt, report, reading, apps_every_s=spec.gpu_processes_s if want_apps else None)
        except Exception as exc:  # output no parser foresaw must not stop this host's monitoring
            log.exception("host %s: could not interpret the probe output", spec.id)
            rt.prev_reading = None  # start the rates afresh from the next reading
            self._failed(rt, HostError(Failure.PROBE_FAILED, f"the hub could not interpret {spec.id}'s probe "
                                                             f"output ({type(exc).__name__}: {exc})"[:500]))
            return None
        return report

    def _succeeded(self, rt: HostRuntime, report: HostReport, reading: Reading, *,
                   apps_every_s: float | None = None) -> HostReport:
        now = report.ts
        errors = report.errors
        error_text = "; ".join(f"{k}: {v}" for k, v in errors.items()) or None
        prev_status = rt.status
        rt.status = on_success(prev_status, degraded=bool(errors), error_text=error_text, now=now)
        rt.gpu_held_since = gpu_usage.held_idle_since(rt.gpu_held_since, report.gpus, now)
        if apps_every_s is not None:  # the GPU processes were asked for this time
            apps = reading.get("gpu_apps")
            if apps is not None and not apps.absent and not apps.errors:
                span = gpu_usage.read_span(rt.last_gpu_apps_at, now, apps_every_s)
                self.writer.add_gpu_users(gpu_usage.user_rows(rt.host_id, report.gpu_processes, now, span))
            rt.last_gpu_apps_at = now
        report = dataclasses.replace(report, state=rt.status.state,
                                     gpu_held_idle_since=MappingProxyType(dict(rt.gpu_held_since)),
                                     gpu_processes_at=rt.last_gpu_apps_at if report.gpu_processes else None)
        snapshot = ev.HostSnapshot.from_report(report)
        drafts = ev.state_events(rt.host_id, prev_status, rt.status, now)
        drafts += ev.sample_events(rt.host_id, rt.snapshot, snapshot, now)
        rt.snapshot = ev.carry_over(rt.snapshot, snapshot)
        if report.top_processes and reading.get("ps") is not None:
            rt.top_processes = [dataclasses.asdict(p) for p in report.top_processes]
        facts: dict[str, Any] = {"cpu_count": report.cpu_count, "mem_total_bytes": report.mem_total_bytes,
                                 "gpu_count": report.gpu_count}
        os_rec = reading.get("os")
        if os_rec is not None:
            rt.os_info = dict(dataclasses.asdict(report.os), cpu_count=report.cpu_count)
            facts.update(hostname=os_rec.hostname, os_pretty_name=os_rec.pretty_name, kernel=os_rec.kernel,
                         arch=os_rec.arch)
        facts = {k: v for k, v in facts.items() if v is not None}  # a section missing this time keeps the old fact
        rt.facts.update(facts)
        self.writer.add_sample(rows_from_report(report))
        self.writer.set_latest(rt.host_id, now, (report, rt.top_processes, rt.os_info, dict(rt.facts)))
        self._emit(drafts)
        if self.on_report is not None:
            self.on_report(rt.host_id, report)
        self.writer.set_host(
            rt.host_id, state=rt.status.state, last_error=rt.status.last_error, last_seen_at=now,
            state_since=rt.status.state_since, consecutive_failures=0, boot_time=snapshot.boot_time, **facts)
        return report

    def _failed(self, rt: HostRuntime, err: HostError) -> None:
        now = self._clock()
        rt.last_failure = err
        prev_status = rt.status
        rt.status = on_failure(prev_status, err.failure, err.message, now)
        self._emit(ev.state_events(rt.host_id, prev_status, rt.status, now))
        self.writer.set_host(rt.host_id, state=rt.status.state, last_error=rt.status.last_error,
                             state_since=rt.status.state_since,
                             consecutive_failures=rt.status.consecutive_failures)

    def _emit(self, drafts: list[ev.EventDraft]) -> None:
        if drafts and self.on_events is not None:  # all of them: the minute's duplicate filter is for the timeline
            self.on_events(drafts)
        kept = [d for d in drafts if self.deduper.admit(d)]
        for d in kept:
            log.info("event %s on %s: %s", d.type, d.host_id, d.message)
        if kept:
            self.writer.add_events(kept)
