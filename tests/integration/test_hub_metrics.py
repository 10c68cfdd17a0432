"""The hub's own metrics: the accumulators (collector.hub_metrics), what a worker puts in its status row,
and the Prometheus families the web makes of the rows (webapp.prometheus_hub)."""
from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.errors import Failure, HostError
from collector.host_report import HostReport
from collector.hub_metrics import DB_WRITE_BUCKETS, FAILURE_CLASSES, PROBE_BUCKETS, Counter, Histogram, HubMetrics
from schema.fleet import SILENT_AFTER_S, ProcessNow
from webapp.prometheus_hub import hub_families

# ---------------------------------------------------------------- the accumulators


def test_histogram_buckets_are_le_and_cumulative():
    h = Histogram((1.0, 0.1, 0.5))  # sorted on the way in
    for v in (0.05, 0.1, 0.2, 0.5, 0.7, 1.0, 3.0, 0.0):
        h.observe(v)
    snap = h.snapshot()
    assert snap["bounds"] == [0.1, 0.5, 1.0]
    assert snap["counts"] == [3, 5, 7, 8]  # <= 0.1: 0.05 0.1 0.0; <= 0.5: +0.2 0.5; <= 1: +0.7 1.0; +Inf: +3.0
    assert snap["sum"] == pytest.approx(5.55) and h.count == 8
    assert orjson.loads(orjson.dumps(snap)) == snap  # plain JSON numbers
    assert Histogram(PROBE_BUCKETS).snapshot() == {"bounds": list(PROBE_BUCKETS), "counts": [0] * 10, "sum": 0.0}


def test_counter_starts_its_known_values_at_zero():
    c = Counter(("ok", "failed"))
    c.inc("ok")
    c.inc("ok", 2)
    c.inc("other")
    assert c.snapshot() == {"ok": 3, "failed": 0, "other": 1}
    snap = c.snapshot()
    snap["ok"] = 99
    assert c.values["ok"] == 3  # a copy


def test_hub_metrics_snapshot():
    m = HubMetrics()
    m.probe(0.03, "ok")
    m.probe(0.2, "degraded")
    m.probe(6.0, "failed", "timeout")
    m.probe(None, "failed", "unreachable")  # no duration known: counted, not observed
    m.probe(-0.5, "ok")  # a wall clock that stepped back: the first bucket, not a negative sum
    db = Histogram(DB_WRITE_BUCKETS)
    db.observe(0.004)
    snap = m.snapshot(ssh_connections_open=3, db_write=db, db_pending_rows=17,
                      notifiers={"ops": {"type": "slack", "delivered": 4, "failed": 1, "dropped": 2, "recent": []},
                                 "new": {"delivered": 0, "failed": None}})
    assert snap["probes_total"] == {"ok": 2, "degraded": 1, "failed": 2}
    assert snap["probe_failures_total"] == {**dict.fromkeys(FAILURE_CLASSES, 0), "timeout": 1, "unreachable": 1}
    hist = snap["probe_duration_seconds"]
    assert hist["counts"][-1] == 4 and hist["counts"][:2] == [1, 2]  # <= 0.025: the 0.0; <= 0.05: the 0.03 too
    assert hist["counts"][PROBE_BUCKETS.index(5.0)] == 3 and hist["sum"] == pytest.approx(6.23)
    assert snap["ssh_connections_open"] == 3 and snap["db_pending_rows"] == 17
    assert snap["db_write_seconds"]["counts"][-1] == 1
    assert snap["notifications_total"] == {"ops": {"delivered": 4, "failed": 1}, "new": {"delivered": 0, "failed": 0}}
    assert orjson.loads(orjson.dumps(snap)) == snap
    assert set(FAILURE_CLASSES) == {"timeout", "unreachable", "auth_failed", "host_key_mismatch", "probe_failed"}


def test_observing_is_cheap():
    """The docstring's figure, with a wide margin for a busy machine: well under 5 us a probe."""
    import timeit

    m = HubMetrics()
    n = 20_000
    per_call = min(timeit.repeat(lambda: m.probe(0.137, "ok"), number=n, repeat=3)) / n
    assert per_call < 5e-6, per_call


# ---------------------------------------------------------------- the hub counts its probes


class _Poller:
    """Stands in for the hub's poller: hands out scripted outcomes."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.rt = SimpleNamespace(last_poll_seconds=None, last_failure=None)

    async def poll(self, conn, **_wants):
        seconds, report, failure = self.outcomes.pop(0)
        self.rt.last_poll_seconds = seconds
        if failure is not None:
            self.rt.last_failure = failure
        return report

    def runtime(self, _host_id):
        return self.rt


async def test_the_hub_counts_each_probe_by_result_and_failure_class(tmp_path):
    from collector.hub import Hub
    from schema.db import make_engine

    hub = Hub(tmp_path / "hosts.yaml", make_engine(f"sqlite:///{tmp_path / 'h.db'}"))
    try:
        hub.poller = _Poller([(0.04, HostReport("h", "up", 0.0, {}), None),
                              (0.3, HostReport("h", "degraded", 0.0, {"gpu": "nvidia-smi failed"}), None),
                              (7.0, None, HostError(Failure.TIMEOUT, "slow")),
                              (0.001, None, HostError(Failure.AUTH_FAILED, "key refused"))])
        conn = SimpleNamespace(spec=SimpleNamespace(id="h"))
        for _ in range(4):
            await hub._poll(conn)
        doc = hub.status_doc()["metrics"]
        assert doc["probes_total"] == {"ok": 1, "degraded": 1, "failed": 2}
        assert doc["probe_failures_total"]["timeout"] == 1 and doc["probe_failures_total"]["auth_failed"] == 1
        assert doc["probe_duration_seconds"]["counts"][-1] == 4
        assert doc["probe_duration_seconds"]["sum"] == pytest.approx(7.341)
        assert doc["ssh_connections_open"] == 0 and doc["db_pending_rows"] == 0
        assert doc["notifications_total"] == {}
    finally:
        hub.writer.close()


async def test_the_hub_reports_its_dispatchers_deliveries(tmp_path):
    """notifications_total is the dispatcher's own count: delivered, or failed for good (a 404 is final)."""
    from collector.hub import Hub
    from collector.notifiers import Notification
    from inventory.alerting import NotifierConfig
    from schema.db import make_engine
    from tests.support.http_receiver import Receiver

    good, bad = await Receiver(default=(200, b"")).start(), await Receiver(default=(404, b"no")).start()
    hub = Hub(tmp_path / "hosts.yaml", make_engine(f"sqlite:///{tmp_path / 'h.db'}"))
    try:
        hub.dispatcher.configure({"ok-hook": NotifierConfig(name="ok-hook", type="webhook", url=good.url()),
                                  "bad-hook": NotifierConfig(name="bad-hook", type="webhook", url=bad.url())})
        note = Notification(alert_id=None, rule="r", host_id="h", item=None, state="firing", severity="warning",
                            summary="s", value=1.0, threshold=0.5, metric="cpu_pct", event=None,
                            started_at=time.time(), at=time.time())
        for name in ("ok-hook", "ok-hook", "bad-hook"):
            assert hub.dispatcher.submit(name, note)
        assert await hub.dispatcher.drain(10)
        assert hub.status_doc()["metrics"]["notifications_total"] == {
            "ok-hook": {"delivered": 2, "failed": 0}, "bad-hook": {"delivered": 0, "failed": 1}}
    finally:
        await hub.dispatcher.stop()
        hub.writer.close()
        await good.close()
        await bad.close()


async def test_the_batch_writer_times_the_flushes_that_write(tmp_path):
    from sqlmodel import SQLModel

    from collector.events import EventDraft
    from collector.recorder import BatchWriter
    from schema.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    SQLModel.metadata.create_all(engine)
    writer = BatchWriter(engine)
    try:
        assert await writer.flush() == 0
        assert writer.write_seconds.count == 0  # nothing to write: no observation
        writer.add_events([EventDraft(ts=time.time(), host_id="h", type="host_up", subject=None, message="up")])
        assert await writer.flush() == 1
        snap = writer.write_seconds.snapshot()
        assert snap["counts"][-1] == 1 and 0 < snap["sum"] < 10
    finally:
        writer.close()
        engine.dispose()


# ---------------------------------------------------------------- the web's families

NOW = 1_800_000_000.0


def _proc(pid: str, metrics: dict | None, *, role: str = "worker", age: float = 1.0) -> ProcessNow:
    status = {"hosts": []} if metrics is None else {"hosts": [], "metrics": orjson.loads(orjson.dumps(metrics))}
    member, _, _name = pid.partition("/")
    return ProcessNow(id=pid, member=member, role=role, slot=0, workers=2, pid=1234, machine="m",
                      started_at=NOW - 100, heartbeat_at=NOW - age, restarts=0, control_url=None,
                      control_secret=None, status=status)


def _doc(ok: int, failed: int = 0, *, notifiers=None) -> dict:
    m = HubMetrics()
    for i in range(ok):
        m.probe(0.02 if i % 2 else 0.3, "ok")
    for _ in range(failed):
        m.probe(5.5, "failed", "timeout")
    db = Histogram(DB_WRITE_BUCKETS)
    db.observe(0.002)
    db.observe(0.02)
    return m.snapshot(ssh_connections_open=ok, db_write=db, db_pending_rows=5, notifiers=notifiers or {})


class _Families:
    """A prometheus_client collector of hub_families (what the /metrics route will register)."""

    def __init__(self, rows, now: float | None = None) -> None:
        self.rows, self.now = rows, now

    def collect(self):
        return hub_families(self.rows, self.now)


def _exposition(rows, now: float = NOW) -> dict:
    """Families as Prometheus's text format gives them back: {name: family}."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(rows, now))
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _samples(family, name: str | None = None) -> dict:
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples if name is None or s.name == name}


def test_hub_families_names_types_and_labels():
    rows = [_proc("a/worker-0", _doc(4, 1, notifiers={"ops": {"delivered": 3, "failed": 1}})),
            _proc("a/worker-1", _doc(2)),
            _proc("b/hub", _doc(1), role="hub")]
    fams = _exposition(rows)
    assert {name: f.type for name, f in fams.items()} == {
        "fleetwatch_probe_duration_seconds": "histogram",
        "fleetwatch_probes": "counter",
        "fleetwatch_probe_failures": "counter",
        "fleetwatch_ssh_connections_open": "gauge",
        "fleetwatch_db_write_seconds": "histogram",
        "fleetwatch_db_pending_rows": "gauge",
        "fleetwatch_notifications": "counter",
    }
    probes = _samples(fams["fleetwatch_probes"], "fleetwatch_probes_total")
    assert probes[(("process", "a/worker-0"), ("result", "ok"))] == 4
    assert probes[(("process", "a/worker-0"), ("result", "failed"))] == 1
    assert probes[(("process", "a/worker-1"), ("result", "degraded"))] == 0
    assert probes[(("process", "b/hub"), ("result", "ok"))] == 1
    assert len(probes) == 9  # three results for each process, never summed
    failures = _samples(fams["fleetwatch_probe_failures"], "fleetwatch_probe_failures_total")
    assert failures[(("class", "timeout"), ("process", "a/worker-0"))] == 1
    assert {dict(k)["class"] for k in failures} == set(FAILURE_CLASSES)
    # the histogram: one bucket per bound and +Inf, cumulative, with _count and _sum
    hist = fams["fleetwatch_probe_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in hist.samples
               if s.name.endswith("_bucket") and s.labels["process"] == "a/worker-0"}
    assert list(buckets) == ["0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]
    assert buckets["0.025"] == 2 and buckets["0.25"] == 2 and buckets["0.5"] == 4 and buckets["5.0"] == 4
    assert buckets["10.0"] == 5 and buckets["+Inf"] == 5
    count = _samples(hist, "fleetwatch_probe_duration_seconds_count")
    total = _samples(hist, "fleetwatch_probe_duration_seconds_sum")
    assert count[(("process", "a/worker-0"),)] == 5 and total[(("process", "a/worker-0"),)] == pytest.approx(6.14)
    db = [s for s in fams["fleetwatch_db_write_seconds"].samples
          if s.name.endswith("_bucket") and s.labels["process"] == "a/worker-1"]
    assert [s.labels["le"] for s in db][:3] == ["0.001", "0.0025", "0.005"]
    assert [s.value for s in db][:5] == [0, 1, 1, 1, 2] and db[-1].labels["le"] == "+Inf" and db[-1].value == 2
    assert _samples(fams["fleetwatch_ssh_connections_open"]) == {(("process", "a/worker-0"),): 4,
                                                                 (("process", "a/worker-1"),): 2,
                                                                 (("process", "b/hub"),): 1}
    assert _samples(fams["fleetwatch_db_pending_rows"])[(("process", "b/hub"),)] == 5
    notes = _samples(fams["fleetwatch_notifications"], "fleetwatch_notifications_total")
    assert notes == {(("notifier", "ops"), ("process", "a/worker-0"), ("result", "delivered")): 3,
                     (("notifier", "ops"), ("process", "a/worker-0"), ("result", "failed")): 1}


def test_hub_families_only_from_live_collectors():
    rows = [_proc("a/worker-0", _doc(3)),
            _proc("a/worker-1", _doc(7), age=SILENT_AFTER_S + 1),  # silent: crashed or cut off
            _proc("a/web", _doc(9), role="web"),  # not a collector
            _proc("a/supervisor", None, role="supervisor"),
            _proc("a/worker-2", None)]  # an older worker: no metrics in its status
    fams = _exposition(rows)
    processes = {s.labels["process"] for f in fams.values() for s in f.samples}
    assert processes == {"a/worker-0"}


def test_hub_families_without_processes_still_describe_themselves():
    families = hub_families([], NOW)
    assert len(families) == 7 and all(not f.samples for f in families)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([], NOW))
    text = generate_latest(registry).decode()
    assert "# TYPE fleetwatch_probes_total counter" in text
    assert "# TYPE fleetwatch_probe_duration_seconds histogram" in text


def test_a_broken_document_costs_only_its_own_series():
    good = _doc(2)
    bad = _doc(3)
    bad["probe_duration_seconds"]["counts"] = [1, 2]  # not one count per bound and +Inf
    bad["probes_total"] = "many"
    bad["db_write_seconds"] = None
    fams = _exposition([_proc("a/worker-0", good), _proc("a/worker-1", bad)])
    assert {s.labels["process"] for s in fams["fleetwatch_probe_duration_seconds"].samples} == {"a/worker-0"}
    assert {s.labels["process"] for s in fams["fleetwatch_probes"].samples} == {"a/worker-0"}
    assert {s.labels["process"] for s in fams["fleetwatch_ssh_connections_open"].samples} == {"a/worker-0",
                                                                                            "a/worker-1"}


def test_prometheus_takes_the_families(prometheus):
    """A real Prometheus scrapes hub_families' exposition: histogram_quantile and rate work on it."""
    from tests.support.prometheus_server import Exporter

    rows = [_proc("a/worker-0", _doc(6, 2, notifiers={"ops": {"delivered": 1, "failed": 0}})),
            _proc("a/worker-1", _doc(3))]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([replace(r, heartbeat_at=time.time()) for r in rows]))
    with Exporter(registry) as endpoint:
        prom = prometheus([endpoint.target])
        got = prom.wait_for_samples('fleetwatch_probes_total{result="ok"}', 2)
        assert {labels["process"]: v for labels, v in got} == {"a/worker-0": 6, "a/worker-1": 3}
        [(labels, failed)] = prom.query('fleetwatch_probe_failures_total{class="timeout",process="a/worker-0"}')
        assert failed == 2
        quantiles = prom.query("histogram_quantile(0.5, fleetwatch_probe_duration_seconds_bucket)")
        assert {labels["process"] for labels, _ in quantiles} == {"a/worker-0", "a/worker-1"}
        assert all(0 < v <= 10 for _, v in quantiles)
        assert prom.query("sum(fleetwatch_probe_duration_seconds_count)")[0][1] == 11
        assert prom.query('fleetwatch_notifications_total{result="delivered"}')[0][0]["notifier"] == "ops"


# ---------------------------------------------------------------- a real worker


def _worker_metrics(db: Path) -> tuple[str, dict] | None:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        row = conn.execute("SELECT id, status FROM hub_processes WHERE role='worker'").fetchone()
    if row is None or not row[1]:
        return None
    return row[0], orjson.loads(row[1]).get("metrics") or {}


def test_a_worker_reports_its_probes_in_its_status_row(sshd, tmp_path):
    """`fleetwatch serve` with one worker, two good hosts and one that is unreachable."""
    from sqlmodel import Session

    from schema import fleet
    from schema.db import make_engine
    from tests.support.hubproc import HubProcess, host_entry, write_inventory
    from tests.support.sshd import free_port

    closed = free_port()  # nothing listens there
    inventory = write_inventory(tmp_path / "hosts.yaml", [
        host_entry(sshd, "m-one"), host_entry(sshd, "m-two"), host_entry(sshd, "m-gone", port=closed)])
    db = tmp_path / "hub.db"
    hub = HubProcess(inventory, db, extra=["--workers", "1", "--no-backup"])
    hub.start()
    try:
        deadline = time.monotonic() + 40
        found = None
        while time.monotonic() < deadline:
            found = _worker_metrics(db)
            if found and found[1].get("probes_total", {}).get("ok", 0) >= 4 \
                    and found[1]["probe_failures_total"]["unreachable"] >= 1 \
                    and found[1]["db_write_seconds"]["counts"][-1] >= 1:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"worker metrics not there after 40 s: {found}\n--- hub log ---\n{hub.log()[-3000:]}")
        process, metrics = found
        assert process.endswith("/worker-0")
        assert metrics["probe_duration_seconds"]["counts"][-1] >= 5  # the failed probes are timed too
        assert metrics["probes_total"]["failed"] >= 1 and metrics["probes_total"]["degraded"] == 0
        assert metrics["ssh_connections_open"] == 2
        assert metrics["db_pending_rows"] >= 0 and metrics["notifications_total"] == {}
        # the web's side: the live rows through schema.fleet, then the families
        engine = make_engine(f"sqlite:///{db}")
        try:
            with Session(engine) as session:
                rows = fleet.metric_sources(session, time.time())
        finally:
            engine.dispose()
        assert [r.id for r in rows] == [process]
        fams = _exposition(rows, time.time())
        ok = _samples(fams["fleetwatch_probes"], "fleetwatch_probes_total")[(("process", process), ("result", "ok"))]
        assert ok >= 4
    finally:
        assert hub.stop() == 0
