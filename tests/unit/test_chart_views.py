"""The host page's chart specs (charts.js scales the units, the spec names the API's) and the empty History's
word on when the first hourly row comes."""
from __future__ import annotations

from collector.metrics.catalogue import CATALOGUE
from webapp.host_view import chart_marks, chart_specs
from webapp.pages.history import first_row

HOUR = 3600


def test_chart_specs_carry_the_apis_units_not_a_fixed_scale():
    charts = {c["id"]: c for c in chart_specs("alpha", gpu_count=2, power_limit_w=400)}
    assert charts["net"]["unit"] == "bytes/s" and charts["disk-io"]["unit"] == "bytes/s"
    assert charts["swap"]["unit"] == "bytes" and charts["cpu"]["unit"] == "%"
    assert charts["gpu-temp"]["unit"] == "°C" and charts["gpu-power"]["unit"] == "W"
    for chart in charts.values():
        assert "scale" not in chart, chart["id"]
    # the unit of a chart is its every member's (one axis)
    for chart in CATALOGUE.charts:
        assert {m.unit for m in CATALOGUE.members(chart)} == {charts[chart.id]["unit"]}


def test_every_host_chart_names_the_hosts_events_and_alerts():
    charts = chart_specs("rack 1/a", gpu_count=1)
    assert {c["marks"] for c in charts} == {"/hosts/rack%201%2Fa/marks"}
    assert chart_marks("b") == "/hosts/b/marks"
    assert all(s["url"].startswith("/api/servers/rack%201%2Fa/") for c in charts for s in c["sources"])


def test_an_empty_history_of_a_new_install_says_when_its_first_row_comes():
    now = 1_700_000_000 + 25 * 60 + 7  # 25 min 7 s into an hour
    hour = now // HOUR * HOUR
    assert first_row(False, now, now) == {"hour": hour, "complete": hour + HOUR}
    assert first_row(False, hour + 1, now) == {"hour": hour, "complete": hour + HOUR}  # the range reaches this hour


def test_an_empty_filter_of_hosts_with_rows_or_of_the_past_is_just_empty():
    now = 1_700_000_000 + 25 * 60
    assert first_row(True, now, now) is None  # rows elsewhere: this filter has none, nothing is coming
    assert first_row(False, now - 2 * HOUR, now) is None  # the range ended before the hour in progress
