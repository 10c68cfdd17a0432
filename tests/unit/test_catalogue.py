"""The metric catalogue: its rules, and that storage, report JSON, alerts and APIs follow it."""
from __future__ import annotations

from pathlib import Path

import pytest

from collector.alerts import observations
from collector.host_report import HostReport
from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import Catalogue, Chart, Metric, Tile, unknown_metric
from collector.reading import parse_output
from collector.recorder import rows_from_report
from collector.report import build_report
from schema.history import HISTORY_COLUMNS
from schema.models import DiskSample, GpuSample, Sample, SampleHourly
from schema.timeseries import METRICS as TIMESERIES

PROBE = Path(__file__).parent.parent / "fixtures" / "probe"


def _report() -> HostReport:
    first = parse_output((PROBE / "debian12_vm.txt").read_bytes(), 0, 1.0, asked=frozenset({"os", "ps"}))
    second = parse_output((PROBE / "debian12_vm_next.txt").read_bytes(), 0, 6.0)
    return build_report("vm", (first, second))


def test_names_are_unique_in_a_scope_and_among_alertable():
    x = Metric("x", "host", "%", "gauge", "d", "X", column="float")
    with pytest.raises(ValueError, match="metric x twice in scope host"):
        Catalogue((x, x))
    Catalogue((x, Metric("x", "disk", "%", "gauge", "d", "X")))  # another scope: fine
    with pytest.raises(ValueError, match="alertable metric y twice"):
        Catalogue((Metric("y", "host", "%", "gauge", "d", "Y", alert=True),
                   Metric("y", "gpu", "%", "gauge", "d", "Y", alert=True)))


def test_entries_are_checked():
    with pytest.raises(ValueError, match="scope, kind or unit"):
        Metric("x", "host", "furlongs", "gauge", "d", "X")
    with pytest.raises(ValueError, match="only a stored metric rolls up"):
        Metric("x", "host", "%", "gauge", "d", "X", rollup=("avg",))
    a = Metric("a", "host", "%", "gauge", "d", "A", column="float")
    b = Metric("b", "host", "bytes", "gauge", "d", "B", column="bigint")
    with pytest.raises(ValueError, match="not all host metrics"):
        Catalogue((a,), tiles=(Tile("t", "T", ("a", "nope")),))
    with pytest.raises(ValueError, match="not all host metrics"):
        Catalogue((a,), tiles=(Tile("t", "T", ("a",), shown_if="nope"),))
    with pytest.raises(ValueError, match="one unit"):
        Catalogue((a, b), charts=(Chart("c", "C", ("a", "b")),))


def test_did_you_mean():
    assert unknown_metric("cpu_pc", ["cpu_pct", "load1"]) == (
        "unknown metric 'cpu_pc'; did you mean cpu_pct? allowed: cpu_pct, load1")
    assert unknown_metric("zzz", ["cpu_pct"]) == "unknown metric 'zzz'; allowed: cpu_pct"


def test_every_stored_metric_is_a_column_and_every_rollup_a_history_column():
    for scope, model in (("host", Sample), ("gpu", GpuSample), ("disk", DiskSample)):
        columns = set(model.__table__.columns.keys())
        assert {m.key for m in CATALOGUE.stored(scope)} <= columns, scope
    hourly = set(SampleHourly.__table__.columns.keys())
    for m in CATALOGUE.rolled_up("host"):
        for agg in m.rollup:
            assert m.hourly_name(agg) in hourly and m.hourly_name(agg) in HISTORY_COLUMNS
    assert set(TIMESERIES) == {m.name for m in CATALOGUE.stored("host")}


def test_report_json_and_rows_carry_every_catalogue_metric():
    report = _report()
    doc = report.to_dict()
    for m in CATALOGUE.scope("host"):
        assert m.key in doc and doc[m.key] == m.value(report), m.name
    for m in CATALOGUE.scope("disk"):
        assert all(m.key in d for d in doc["disks"]), m.name
    rows = rows_from_report(report)
    assert {m.key for m in CATALOGUE.stored("host")} <= set(rows.sample)
    assert doc["mem_used_pct"] == rows.sample["mem_used_pct"] == round(
        100 * report.mem_used_bytes / report.mem_total_bytes, 2)


def test_disk_table_shows_available_space_and_used_pct_of_the_space_users_have():
    from collector.render_text import render
    from schema.units_format import format_bytes

    assert [m.name for m in CATALOGUE.table("disk")] == [
        "disk_used_bytes", "disk_total_bytes", "disk_avail_bytes", "disk_used_pct", "disk_inodes_used_pct"]
    report = _report()
    root = next(d for d in report.disks if d.mount == "/")  # 22660772 KiB used, 83730140 KiB available
    assert root.used_pct == 21.3  # df's Capacity says 22 %: rounded up, and Size counts root's reserved blocks
    lines = render(report.to_dict()).splitlines()
    header = lines[lines.index("Disks") + 1].split()
    assert header == ["MOUNT", "TYPE", "USED", "SIZE", "AVAILABLE", "USED", "%", "INODES", "USED", "%"]
    row = next(line for line in lines if line.startswith("  / "))
    assert format_bytes(root.avail_bytes) in row and "21.3 %" in row


def test_observations_are_the_alertable_metrics_only():
    names = {o.metric for o in observations(_report())}
    assert names and names <= set(CATALOGUE.alertable())


def test_every_alertable_metric_is_accepted_by_alert_rules_and_others_are_not():
    from inventory.alerting import parse_alerting

    names = list(CATALOGUE.alertable())
    rules = [{"name": f"r{i}", "metric": n, "op": ">", "threshold": 1} for i, n in enumerate(names)]
    alerting = parse_alerting(rules, {})
    assert not alerting.problems and [r.metric for r in alerting.rules] == names
    refused = parse_alerting([{"name": "x", "metric": "psi_io_some", "op": ">", "threshold": 1}], {})
    assert not refused.rules and "did you mean 'psi_io_some_avg10'?" in refused.problems[0].message


def test_new_metrics_reach_history_csv_and_prometheus():
    from schema.history import CSV_COLUMNS
    for name in ("swap_used_bytes", "cpu_iowait_pct", "cpu_steal_pct", "psi_memory_full_avg10"):
        m = CATALOGUE.get(name)
        assert m.hourly_name("avg") in CSV_COLUMNS and m.prom_name and m.alert
    inodes = CATALOGUE.get("disk_inodes_used_pct", "disk")
    assert inodes.prom_name and inodes.alert and inodes.table
