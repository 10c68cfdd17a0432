"""Per-GPU time series: the query (real SQLite and PostgreSQL) and GET /api/servers/{id}/gpus/timeseries."""
from __future__ import annotations

import json

import pytest
from pytest import approx

from collector.rollup import rollup_hours
from schema.gpu_timeseries import GPU_METRICS, gpu_timeseries
from schema.models import GpuSample, Sample, SampleHourly

# the running hub of the API tests (a fresh one for this module)
from tests.integration.test_api import NOW, api  # noqa: F401

H = 1795255200  # 2026-11-21T10:00:00Z
HOUR = 3600
DAY = 86400
A100 = "NVIDIA A100-SXM4-80GB"


def gpu(session, ts, index, host="g1", **values):
    values = {"name": A100, "uuid": f"GPU-{index}", "mem_total_mb": 81920.0} | values
    session.add(GpuSample(host_id=host, ts=ts, gpu_index=index, **values))


def points(result):
    return {c.index: c.points for c in result.cards}


# ------------------------------------------------------------------------------ query
@pytest.mark.parametrize("span, resolution", [(HOUR, "raw"), (24 * HOUR, "minute"), (7 * DAY, "hour")])
def test_no_rows_no_cards(session, span, resolution):
    result = gpu_timeseries(session, "g1", "util_pct", H, H + span)
    assert result.cards == [] and result.resolution == resolution and result.unit == "%"
    assert result.host_id == "g1" and result.metric == "util_pct"


def test_raw_values_per_card(session):
    for k in range(4):
        gpu(session, H + 5 * k, 1, util_pct=50.0 + k, temperature_c=40.0)
        gpu(session, H + 5 * k, 0, util_pct=10.0 * k, temperature_c=60.0 + k, power_w=None if k == 2 else 300.0)
    gpu(session, H - 1, 0, util_pct=99.0)  # before the range
    gpu(session, H + HOUR + 1, 0, util_pct=99.0)  # after it
    gpu(session, H + 5, 0, host="other", util_pct=99.0)
    session.commit()
    result = gpu_timeseries(session, "g1", "util_pct", H, H + HOUR)
    assert (result.resolution, result.step_s) == ("raw", None)
    assert [(c.index, c.name, c.uuid) for c in result.cards] == [(0, A100, "GPU-0"), (1, A100, "GPU-1")]
    assert points(result) == {0: [(H + 5.0 * k, 10.0 * k, 10.0 * k) for k in range(4)],
                              1: [(H + 5.0 * k, 50.0 + k, 50.0 + k) for k in range(4)]}
    power = gpu_timeseries(session, "g1", "power_w", H, H + HOUR)
    # no value at k=2 is left out; card 1 never reports power but stays listed (same legend for every metric)
    assert points(power) == {0: [(H + 5.0 * k, 300.0, 300.0) for k in (0, 1, 3)], 1: []}
    assert power.unit == "W"


def test_minute_buckets_avg_and_max(session):
    for off, u0, u1 in [(0, 10.0, 1.0), (30, 20.0, 2.0), (55, 60.0, 3.0), (60, 5.0, None), (125, 7.0, 9.0)]:
        gpu(session, H + off, 0, util_pct=u0, temperature_c=40.0 + off / 5)
        gpu(session, H + off, 1, util_pct=u1)
    session.commit()
    result = gpu_timeseries(session, "g1", "util_pct", H + 10, H + 12 * HOUR)  # 10 s in: its bucket, whole
    assert (result.resolution, result.step_s) == ("minute", 60)
    assert points(result) == {0: [(H, approx(30.0), 60.0), (H + 60, 5.0, 5.0), (H + 120, 7.0, 7.0)],
                              1: [(H, approx(2.0), 3.0), (H + 120, 9.0, 9.0)]}  # bucket with no value left out
    temp = gpu_timeseries(session, "g1", "temperature_c", H, H + HOUR, resolution="minute")
    assert points(temp) == {0: [(H, approx(40.0 + 85 / 15), 51.0), (H + 60, 52.0, 52.0), (H + 120, 65.0, 65.0)],
                            1: []}


def _hour_item(index, util, temp=50.0, power=250.0, used=(20480.0, 40960.0), total=81920.0, **extra):
    return {"index": index, "name": A100, "uuid": f"GPU-{index}", "util_avg": util, "util_max": util + 10,
            "mem_used_mb_avg": used[0], "mem_used_mb_max": used[1], "mem_total_mb": total,
            "temp_avg": temp, "temp_max": temp + 5, "power_avg": power, "samples": 720, **extra}


def test_hourly_reads_the_gpus_json(session):
    for k in range(4):
        gpus = [_hour_item(1, 50.0 + k), _hour_item(0, 10.0 * k, temp=60.0, power=None if k == 1 else 300.0)]
        session.add(SampleHourly(host_id="g1", hour=H + k * HOUR, sample_count=720, gpus=json.dumps(gpus)))
    session.add(SampleHourly(host_id="g1", hour=H + 4 * HOUR, sample_count=720, gpus=None))
    session.add(SampleHourly(host_id="g1", hour=H + 5 * HOUR, sample_count=720, gpus="[]"))
    session.add(SampleHourly(host_id="g1", hour=H + 9 * DAY, gpus=json.dumps([_hour_item(0, 99.0)])))  # out of range
    session.add(SampleHourly(host_id="other", hour=H, gpus=json.dumps([_hour_item(0, 99.0)])))
    session.commit()
    # starts mid-hour 0: that hour is in (as in schema.timeseries' hourly path); hour 3 starts before `end`
    result = gpu_timeseries(session, "g1", "util_pct", H + 1800, H + 7 * DAY)
    assert (result.resolution, result.step_s) == ("hour", 3600)
    assert [c.index for c in result.cards] == [0, 1] and result.cards[0].name == A100
    assert points(result) == {0: [(float(H + k * HOUR), 10.0 * k, 10.0 * k + 10) for k in range(4)],
                              1: [(float(H + k * HOUR), 50.0 + k, 60.0 + k) for k in range(4)]}
    assert points(gpu_timeseries(session, "g1", "temperature_c", H, H + 3 * DAY))[0][0] == (H, 60.0, 65.0)
    power = points(gpu_timeseries(session, "g1", "power_w", H, H + 3 * DAY))  # no max kept: avg twice
    assert power[0] == [(float(H + k * HOUR), 300.0, 300.0) for k in (0, 2, 3)]
    assert points(gpu_timeseries(session, "g1", "mem_used_pct", H, H + 3 * DAY))[1][0] == (H, 25.0, 50.0)


def test_hourly_matches_the_rollup_of_raw_samples(session):
    for off in range(0, HOUR, 300):
        gpu(session, H + off, 0, util_pct=float(off // 300), mem_used_mb=8192.0, temperature_c=50.0, power_w=200.0)
        gpu(session, H + off, 1, util_pct=100.0, mem_used_mb=0.0)
        session.add(Sample(host_id="g1", ts=H + off))  # a rollup row needs host samples
    session.commit()
    rollup_hours(session, H, H)
    expect = {"util_pct": (5.5, 11.0), "mem_used_mb": (8192.0, 8192.0), "mem_used_pct": (10.0, 10.0),
              "temperature_c": (50.0, 50.0),
              "power_w": (200.0, 200.0)}
    for metric, (avg, peak) in expect.items():
        result = gpu_timeseries(session, "g1", metric, H, H + 3 * DAY)
        assert result.resolution == "hour" and result.cards[0].points == [(H, approx(avg), approx(peak))], metric
    assert points(gpu_timeseries(session, "g1", "power_w", H, H + 3 * DAY))[1] == []


def test_mem_used_pct_is_of_the_cards_own_memory(session):
    gpu(session, H, 0, mem_used_mb=20480.0)
    gpu(session, H + 5, 0, mem_used_mb=40960.0)
    gpu(session, H, 1, mem_used_mb=1000.0, mem_total_mb=2000.0)
    gpu(session, H + 5, 1, mem_used_mb=1000.0, mem_total_mb=0.0)  # no total known: no point
    gpu(session, H + 10, 1, mem_used_mb=None)
    session.commit()
    raw = gpu_timeseries(session, "g1", "mem_used_pct", H, H + HOUR)
    assert raw.unit == "%" and points(raw) == {0: [(H, 25.0, 25.0), (H + 5, 50.0, 50.0)], 1: [(H, 50.0, 50.0)]}
    minute = gpu_timeseries(session, "g1", "mem_used_pct", H, H + HOUR, resolution="minute")
    assert points(minute) == {0: [(H, approx(37.5), 50.0)], 1: [(H, 50.0, 50.0)]}


@pytest.mark.parametrize("resolution", ["raw", "minute"])
def test_cards_ordered_by_index(session, resolution):
    for index in (10, 2, 0, 1):
        gpu(session, H, index, util_pct=float(index), name=f"card {index}")
    session.commit()
    result = gpu_timeseries(session, "g1", "util_pct", H, H + HOUR, resolution=resolution)
    assert [(c.index, c.name) for c in result.cards] == [(0, "card 0"), (1, "card 1"), (2, "card 2"),
                                                         (10, "card 10")]


@pytest.mark.parametrize("args, needles", [
    (("gpu_util_pct", H, H + HOUR, None), ["gpu_util_pct", *GPU_METRICS]),
    (("util_pct", H, H, None), ["before"]),
    (("util_pct", H, H + HOUR, "second"), ["second", "raw, minute, hour"]),
    (("util_pct", H, H + 3 * DAY, "raw"), ["'raw'", "48 h"]),
])
def test_bad_input_is_a_value_error(session, args, needles):
    with pytest.raises(ValueError) as info:
        gpu_timeseries(session, "g1", *args)
    assert all(n in str(info.value) for n in needles), str(info.value)


# ------------------------------------------------------------------------------ API
aio = pytest.mark.asyncio(loop_scope="module")


@aio
async def test_api_cards_of_the_live_host(api):  # noqa: F811
    r = await api["client"].get("/api/servers/live/gpus/timeseries")  # default: util_pct, last hour
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["metric"] == "util_pct" and body["unit"] == "%" and body["resolution"] == "raw"
    assert body["to"] - body["from"] == 3600 and body["host_id"] == "live"
    cards = body["cards"]  # the fake nvidia-smi: two A100s at 37 % and 0 %
    assert [(c["index"], c["name"]) for c in cards] == [(0, A100), (1, A100)]
    assert cards[0]["uuid"].startswith("GPU-5a3c") and cards[0]["points"] and cards[1]["points"]
    assert {p[1] for p in cards[0]["points"]} == {37.0} and {p[1] for p in cards[1]["points"]} == {0.0}
    r = await api["client"].get("/api/servers/live/gpus/timeseries", params={"metric": "mem_used_pct",
                                                                           "step": "minute"})
    assert r.status_code == 200 and r.json()["step_s"] == 60
    assert r.json()["cards"][0]["points"][0][1:] == [25.0, 25.0]  # 20480 of 81920 MiB


@aio
async def test_api_hourly_for_long_ranges(api):  # noqa: F811
    r = await api["client"].get("/api/servers/old-1/gpus/timeseries", params={"from": NOW - 3 * DAY})
    assert r.status_code == 200, r.text
    body = r.json()
    # the prefilled hourly rows hold util_avg only: no max
    assert body["resolution"] == "hour" and [c["index"] for c in body["cards"]] == [0]
    assert len(body["cards"][0]["points"]) >= 70 and body["cards"][0]["points"][0][1:] == [5.0, None]


@aio
@pytest.mark.parametrize("params, needle", [
    ({"metric": "bogus"}, "allowed: util_pct, mem_used_mb, mem_used_pct"),
    ({"metric": "cpu_pct"}, "cpu_pct"),
    ({"from": "2026-11-21T10:00:00Z", "to": "2026-11-21T09:00:00Z"}, "before"),
    ({"from": NOW - 30 * DAY, "step": "raw"}, "raw"),
])
async def test_api_bad_input_is_400(api, params, needle):  # noqa: F811
    r = await api["client"].get("/api/servers/live/gpus/timeseries", params=params)
    assert r.status_code == 400, r.text
    assert needle in r.json()["detail"]


@aio
async def test_api_unknown_host_is_404(api):  # noqa: F811
    r = await api["client"].get("/api/servers/nope/gpus/timeseries")
    assert r.status_code == 404 and "nope" in r.json()["detail"]


@aio
async def test_api_metrics_catalog_lists_gpu_metrics(api):  # noqa: F811
    body = (await api["client"].get("/api/metrics")).json()
    assert set(body["gpu_metrics"]) == {"util_pct", "mem_used_mb", "mem_used_pct", "temperature_c", "power_w",
                                        "sm_clock_mhz"}
    assert body["gpu_metrics"]["power_w"]["unit"] == "W" and "cpu_pct" in body["metrics"]
