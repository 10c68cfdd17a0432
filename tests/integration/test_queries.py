"""Query functions of schema/: hourly history and CSV, time series, compare, events (real SQLite and PostgreSQL)."""
from __future__ import annotations

import csv
import io
import json

import pytest

from schema import history
from schema.event_queries import query_events, recent_events
from schema.history import CSV_COLUMNS, HISTORY_COLUMNS, iter_hourly_csv, query_hourly
from schema.models import Event, Sample, SampleHourly
from schema.timeseries import METRICS, compare, pick_resolution, timeseries
from schema.timeutil import iso, parse_time

H = 1795255200  # 2026-11-21T10:00:00Z
HOUR = 3600


# ------------------------------------------------------------------------------ history
HOSTS = ("a", "b", 'c,"quoted"')


@pytest.fixture
def hourly(session):
    """3 hosts x 5 hours; cpu_pct_max = 10*hour_index + host_index, None for host b at hour 2."""
    for hi, host in enumerate(HOSTS):
        for k in range(5):
            cpu = None if (host, k) == ("b", 2) else float(10 * k + hi)
            session.add(SampleHourly(host_id=host, hour=H + k * HOUR, sample_count=720, cpu_pct_max=cpu,
                                     cpu_pct_avg=cpu, gpus=json.dumps([{"index": 0, "util_avg": 1.5}]),
                                     disks=json.dumps([{"mount": "/", "used_pct": 3.0}])))
    session.commit()
    return session


def keys(page):
    return [(r["host_id"], (r["hour"] - H) // HOUR) for r in page.rows]


@pytest.mark.parametrize("kwargs, expected_total", [
    ({}, 15),
    ({"host_ids": ["a"]}, 5),
    ({"host_ids": ["a", "b", "a"]}, 10),
    ({"host_ids": []}, 15),  # empty = all hosts
    ({"start": H + HOUR, "end": H + 3 * HOUR}, 6),  # hours 1 and 2
    ({"start": H + HOUR + 1800, "end": H + 3 * HOUR + 1}, 9),  # overlapping hours 1, 2, 3
    ({"host_ids": ["b"], "start": H + 4 * HOUR}, 1),
    ({"end": H}, 0),
])
def test_history_filters(hourly, kwargs, expected_total):
    page = query_hourly(hourly, **kwargs, limit=1000)
    assert page.total == expected_total == len(page.rows)
    if kwargs.get("host_ids"):
        assert {r["host_id"] for r in page.rows} == set(kwargs["host_ids"])


def test_history_default_sort_and_row_shape(hourly):
    page = query_hourly(hourly, limit=4)
    assert keys(page) == [("a", 4), ("b", 4), ('c,"quoted"', 4), ("a", 3)]  # -hour, then host_id
    row = page.rows[0]
    assert row["hour_iso"] == iso(H + 4 * HOUR) == "2026-11-21T14:00:00Z"
    assert row["gpus"] == [{"index": 0, "util_avg": 1.5}] and row["disks"] == [{"mount": "/", "used_pct": 3.0}]
    assert set(HISTORY_COLUMNS) <= set(row) and "id" not in row


def test_history_without_details(hourly):
    row = query_hourly(hourly, limit=1, details=False).rows[0]
    assert "gpus" not in row and "disks" not in row and row["hour_iso"] == "2026-11-21T14:00:00Z"


@pytest.mark.parametrize("sort, first", [
    ("host_id,-hour", [("a", 4), ("a", 3), ("a", 2)]),
    ("-host_id,hour", [('c,"quoted"', 0), ('c,"quoted"', 1), ('c,"quoted"', 2)]),
    ("-cpu_pct_max", [('c,"quoted"', 4), ("b", 4), ("a", 4)]),
    ("cpu_pct_max", [("a", 0), ("b", 0), ('c,"quoted"', 0)]),
    (" hour , host_id ", [("a", 0), ("b", 0), ('c,"quoted"', 0)]),
])
def test_history_sort(hourly, sort, first):
    page = query_hourly(hourly, sort=sort, limit=15)
    assert keys(page)[:3] == first


@pytest.mark.parametrize("sort", ["cpu_pct_max", "-cpu_pct_max"])
def test_history_nulls_sort_last_both_ways(hourly, sort):
    assert keys(query_hourly(hourly, sort=sort, limit=15))[-1] == ("b", 2)


@pytest.mark.parametrize("sort", ["-hour", "sample_count", "-sample_count,host_id", "cpu_pct_max"])
def test_history_paging_is_stable(hourly, sort):
    seen = []
    for offset in range(0, 15, 4):
        page = query_hourly(hourly, sort=sort, limit=4, offset=offset)
        assert page.total == 15 and page.offset == offset and page.limit == 4
        seen += keys(page)
    assert len(seen) == 15 == len(set(seen))
    assert seen == keys(query_hourly(hourly, sort=sort, limit=15))


@pytest.mark.parametrize("kwargs, message", [
    ({"limit": 0}, "limit must be between 1 and 1000"),
    ({"limit": 1001}, "limit must be between 1 and 1000"),
    ({"offset": -1}, "offset"),
    ({"sort": "cpu"}, "unknown sort column 'cpu'; allowed: host_id, hour, sample_count"),
    ({"sort": "-hour,gpus"}, "unknown sort column 'gpus'"),
    ({"start": H, "end": H}, "must be before"),
])
def test_history_errors(hourly, kwargs, message):
    with pytest.raises(ValueError, match=message):
        query_hourly(hourly, **kwargs)


@pytest.mark.parametrize("batch", [2, 1000])
def test_history_csv(hourly, monkeypatch, batch):
    monkeypatch.setattr(history, "_CSV_BATCH", batch)
    chunks = list(iter_hourly_csv(hourly, host_ids=["a", 'c,"quoted"'], sort="host_id,hour"))
    if batch == 2:
        assert len(chunks) > 3  # streamed in pieces
    reader = csv.DictReader(io.StringIO("".join(chunks)))
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    rows = list(reader)
    assert len(rows) == 10 == query_hourly(hourly, host_ids=["a", 'c,"quoted"']).total
    assert rows[0]["host_id"] == "a" and rows[-1]["host_id"] == 'c,"quoted"'
    assert rows[0]["hour"] == str(H) and rows[0]["hour_iso"] == "2026-11-21T10:00:00Z"
    assert float(rows[1]["cpu_pct_max"]) == 10.0 and rows[0]["mem_used_pct_avg"] == ""
    assert json.loads(rows[0]["gpus"]) == [{"index": 0, "util_avg": 1.5}]


def test_history_csv_empty_and_bad_sort(hourly):
    assert list(csv.reader(io.StringIO("".join(iter_hourly_csv(hourly, end=H))))) == [list(CSV_COLUMNS)]
    with pytest.raises(ValueError, match="unknown sort column"):
        iter_hourly_csv(hourly, sort="nope")  # raised at the call, before any chunk is sent


# --------------------------------------------------------------------------- time series
@pytest.mark.parametrize("span, expected", [
    (60, "raw"), (6 * HOUR, "raw"), (6 * HOUR + 1, "minute"), (48 * HOUR, "minute"),
    (48 * HOUR + 1, "hour"), (30 * 86400, "hour"),
])
def test_pick_resolution(span, expected):
    assert pick_resolution(H, H + span) == expected


def add_samples(s, host, points):
    for ts, value in points:
        s.add(Sample(host_id=host, ts=ts, cpu_pct=value, load1=value))
    s.commit()


def test_raw_points_drop_nulls(session):
    add_samples(session, "a", [(H + 5, 1.0), (H + 10, None), (H + 15, 3.0), (H + 7200, 9.0)])
    series = timeseries(session, "a", "cpu_pct", H, H + HOUR)
    assert (series.resolution, series.step_s, series.unit) == ("raw", None, "%")
    assert series.points == [(H + 5, 1.0, 1.0), (H + 15, 3.0, 3.0)]


def test_minute_buckets_average(session):
    add_samples(session, "a", [(H + 0, 10.0), (H + 10, 20.0), (H + 20, None), (H + 59.9, 30.0),
                               (H + 60.5, 40.0), (H + 180, None)])
    add_samples(session, "b", [(H + 1, 99.0)])
    series = timeseries(session, "a", "cpu_pct", H, H + 7 * HOUR)
    assert (series.resolution, series.step_s) == ("minute", 60)
    assert series.points == [(H, pytest.approx(20.0), 30.0), (H + 60, 40.0, 40.0)]  # the all-NULL minute is left out


def test_hourly_reads_samples_hourly(session):
    for k, (avg, peak) in enumerate([(10.0, 50.0), (None, None), (30.0, 70.0)]):
        session.add(SampleHourly(host_id="a", hour=H + k * HOUR, sample_count=720, cpu_pct_avg=avg,
                                 cpu_pct_max=peak, disk_used_pct_last=80.0 + k))
    session.commit()
    add_samples(session, "a", [(H + 1, 99.0)])  # raw data is not read at hourly resolution
    series = timeseries(session, "a", "cpu_pct", H - 86400, H + 2 * 86400)
    assert (series.resolution, series.step_s) == ("hour", 3600)
    assert series.points == [(H, 10.0, 50.0), (H + 2 * HOUR, 30.0, 70.0)]
    disk = timeseries(session, "a", "disk_used_pct_max", H - 86400, H + 2 * 86400)
    assert [p[1:] for p in disk.points] == [(80.0, 80.0), (81.0, 81.0), (82.0, 82.0)]


def test_metric_without_hourly_column_buckets_raw_by_hour(session):
    assert METRICS["load1"].hourly_avg is None and METRICS["gpu_temp_max_c"].hourly_avg is None
    add_samples(session, "a", [(H + 1, 1.0), (H + 2, 3.0), (H + HOUR + 5, 5.0)])
    series = timeseries(session, "a", "load1", H - 86400, H + 2 * 86400)
    assert series.resolution == "hour" and series.points == [(H, 2.0, 3.0), (H + HOUR, 5.0, 5.0)]


@pytest.mark.parametrize("metric, start, end, resolution, message", [
    ("cpu", H, H + 60, None, r"unknown metric 'cpu'; did you mean cpu_pct\? allowed: cpu_pct, "),
    ("cpu_pct", H, H, None, "must be before"),
    ("cpu_pct", H + 60, H, None, "must be before"),
    ("cpu_pct", H, H + 48 * HOUR + 1, "raw", "limited to ranges of 48 h"),
    ("cpu_pct", H, H + 7 * 86400 + 1, "minute", "limited to ranges of 168 h"),
    ("cpu_pct", H, H + 60, "second", "unknown resolution 'second'"),
])
def test_timeseries_errors(session, metric, start, end, resolution, message):
    with pytest.raises(ValueError, match=message):
        timeseries(session, "a", metric, start, end, resolution)


def test_explicit_resolution_within_limits(session):
    add_samples(session, "a", [(H + 5, 1.0)])
    assert timeseries(session, "a", "cpu_pct", H, H + 48 * HOUR, "raw").points == [(H + 5, 1.0, 1.0)]
    assert timeseries(session, "a", "cpu_pct", H, H + 7 * 86400, "minute").points == [(H, 1.0, 1.0)]


def test_compare_raw_stats(session):
    add_samples(session, "a", [(H + 5, 10.0), (H + 10, 30.0), (H + 15, None)])
    add_samples(session, "b", [(H + 5, 50.0)])
    result = compare(session, ["b", "a", "b", "ghost"], "cpu_pct", H, H + HOUR)
    assert [s.host_id for s in result] == ["b", "a", "ghost"]
    assert [(s.avg, s.peak) for s in result] == [(50.0, 50.0), (20.0, 30.0), (None, None)]
    assert result[1].points == [(H + 5, 10.0, 10.0), (H + 10, 30.0, 30.0)] and result[2].points == []
    assert compare(session, [], "cpu_pct", H, H + HOUR) == []


def test_compare_hourly_average_is_weighted_by_samples(session):
    session.add(SampleHourly(host_id="a", hour=H, sample_count=100, cpu_pct_avg=10.0, cpu_pct_max=20.0))
    session.add(SampleHourly(host_id="a", hour=H + HOUR, sample_count=300, cpu_pct_avg=50.0, cpu_pct_max=90.0))
    session.commit()
    [series] = compare(session, ["a"], "cpu_pct", H, H + 3 * 86400)
    assert series.resolution == "hour" and series.peak == 90.0
    assert series.avg == pytest.approx((10 * 100 + 50 * 300) / 400)


def _gpu_present_in_2_of_12_then_12_of_12(session, step):
    """Issue 17: 12 samples per bucket (`step` apart); GPU utilisation in 2 of the first 12 (100 %: the card
    answered twice) and in all 12 of the next (0 %). The mean of the 14 values is 200 / 14 = 14.29 %."""
    for bucket, present in ((0, 2), (1, 12)):
        for i in range(12):
            value = (100.0 if bucket == 0 else 0.0) if i < present else None
            session.add(Sample(host_id="g", ts=H + bucket * step + i * step / 12, gpu_util_pct=value, cpu_pct=1.0))
    session.commit()


def test_compare_hourly_average_weights_by_the_samples_that_had_the_metric(session):
    from collector.rollup import rollup_hours
    _gpu_present_in_2_of_12_then_12_of_12(session, HOUR)
    rollup_hours(session, H, H + HOUR)
    [series] = compare(session, ["g"], "gpu_util_pct", H, H + 3 * 86400)
    assert series.resolution == "hour" and series.peak == 100.0
    assert series.avg == pytest.approx(200 / 14) and round(series.avg, 2) == 14.29  # weighted by sample_count: 50.0


@pytest.mark.parametrize("resolution, span", [("raw", 6 * HOUR), ("minute", 48 * HOUR)])
def test_compare_raw_and_minute_average_is_the_mean_of_the_values(session, resolution, span):
    _gpu_present_in_2_of_12_then_12_of_12(session, 60)
    [series] = compare(session, ["g"], "gpu_util_pct", H, H + span)
    assert series.resolution == resolution and series.peak == 100.0
    assert series.avg == pytest.approx(200 / 14)


def test_compare_hourly_rows_without_counts_fall_back_to_sample_count(session):
    """Rows rolled up before the counts existed (NULL) weigh by sample_count, as before; rows with them by those."""
    session.add(SampleHourly(host_id="a", hour=H, sample_count=100, cpu_pct_avg=10.0, cpu_pct_max=20.0))
    session.add(SampleHourly(host_id="a", hour=H + HOUR, sample_count=300, cpu_pct_avg=50.0, cpu_pct_max=90.0,
                             cpu_pct_n=100))
    session.commit()
    [series] = compare(session, ["a"], "cpu_pct", H, H + 3 * 86400)
    assert series.avg == pytest.approx((10 * 100 + 50 * 100) / 200)


# ------------------------------------------------------------------------------- events
@pytest.fixture
def events(session):
    kinds = ["host_down", "host_up", "service_failed"]
    for i in range(12):
        session.add(Event(ts=H + i * 60, host_id=("a", "b")[i % 2], type=kinds[i % 3], message=f"e{i}",
                          details=json.dumps({"i": i}) if i != 5 else "not json"))
    session.add(Event(ts=H + 11 * 60, host_id="a", type="host_up", message="same-ts"))  # tie on ts: id breaks it
    session.commit()
    return session


@pytest.mark.parametrize("kwargs, messages", [
    ({}, ["same-ts", "e11", "e10", "e9", "e8", "e7", "e6", "e5", "e4", "e3", "e2", "e1", "e0"]),
    ({"types": ["host_down"]}, ["e9", "e6", "e3", "e0"]),
    ({"types": ["host_down", "host_up"], "host_ids": ["a"]}, ["same-ts", "e10", "e6", "e4", "e0"]),
    ({"host_ids": ["b"], "start": H + 5 * 60, "end": H + 9 * 60}, ["e9", "e7", "e5"]),
    ({"start": H + 12 * 60}, []),
])
def test_events_filters_newest_first(events, kwargs, messages):
    page = query_events(events, **kwargs, limit=1000)
    assert [r["message"] for r in page.rows] == messages and page.total == len(messages)


def test_events_paging_and_row_shape(events):
    pages = [query_events(events, limit=5, offset=o) for o in (0, 5, 10)]
    assert [p.total for p in pages] == [13, 13, 13] and [len(p.rows) for p in pages] == [5, 5, 3]
    ids = [r["id"] for p in pages for r in p.rows]
    assert len(set(ids)) == 13
    row = pages[0].rows[1]
    assert row["message"] == "e11" and row["details"] == {"i": 11} and row["ts_iso"] == iso(H + 660)
    assert next(r for p in pages for r in p.rows if r["message"] == "e5")["details"] == "not json"
    assert pages[0].rows[0]["details"] is None


@pytest.mark.parametrize("kwargs, message", [
    ({"limit": 0}, "limit must be between 1 and 1000"),
    ({"limit": 1001}, "limit must be between 1 and 1000"),
    ({"offset": -5}, "offset"),
    ({"types": ["host_down", "bogus"]}, "unknown event type.*bogus; allowed: host_down"),
    ({"start": H + 10, "end": H}, "must not be after"),
])
def test_events_errors(events, kwargs, message):
    with pytest.raises(ValueError, match=message):
        query_events(events, **kwargs)


def test_recent_events(events):
    recent = recent_events(events, H + 10 * 60)
    assert [e.message for e in recent] == ["e10", "e11", "same-ts"] and isinstance(recent[0], Event)


# ------------------------------------------------------------------------------- times
@pytest.mark.parametrize("text, expected", [
    ("2026-11-21T10:00:00Z", H), ("2026-11-21T10:00:00", H), ("2026-11-21T11:00:00+01:00", H),
    ("2026-11-21", H - 10 * HOUR), (str(H), H), ("1795255200.5", H + 0.5), (H, H),
])
def test_parse_time(text, expected):
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01", "nan", "inf"])
def test_parse_time_errors(text):
    with pytest.raises(ValueError, match="invalid time"):
        parse_time(text)
