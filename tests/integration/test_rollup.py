"""Hourly rollups and retention against real databases: a SQLite file and a throwaway PostgreSQL."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from collector.rollup import apply_retention, hours_to_fill, rollup_hours
from collector.rollup_partial import DISK_LAST
from schema.models import DiskSample, Event, GpuSample, GpuUserHourly, Sample, SampleHourly, ServiceSample

H = 1795255200  # 2026-11-21T10:00:00Z, an hour start
HOUR = 3600


def add_sample(s, host, ts, **metrics):
    s.add(Sample(host_id=host, ts=ts, **metrics))


def hourly_rows(s, host=None):
    query = select(SampleHourly).order_by(SampleHourly.host_id, SampleHourly.hour)
    if host:
        query = query.where(SampleHourly.host_id == host)
    return [r.model_dump(exclude={"id"}) for r in s.scalars(query).all()]


def fill_hour(s, host="gpu1", hour=H, upto=HOUR):
    """Samples every 300 s in [hour, hour+upto), 2 GPUs, 2 disks; cpu = 10, 20, ...; returns cpu values."""
    cpus = []
    for i, off in enumerate(range(0, upto, 300)):
        ts = hour + off + 0.25
        cpu = 10.0 * (i + 1)
        cpus.append(cpu)
        add_sample(s, host, ts, cpu_pct=cpu, mem_used_pct=50.0 + i, mem_used_bytes=1_000_000_000 + i,
                   gpu_util_pct=40.0, gpu_mem_used_pct=25.0, disk_read_bps=100.0 * i, disk_write_bps=5.0,
                   net_rx_bps=1e6, net_tx_bps=2e6, disk_used_pct_max=60.0 + i)
        for idx in (0, 1):
            s.add(GpuSample(host_id=host, ts=ts, gpu_index=idx, name="NVIDIA H100", uuid=f"GPU-{idx}",
                            util_pct=float(10 * idx + i), mem_used_mb=1000.0 + i, mem_total_mb=81920.0,
                            temperature_c=50.0 + i + idx, power_w=300.0))
        s.add(DiskSample(host_id=host, ts=ts, mount="/", used_bytes=100 + i, total_bytes=1000, used_pct=10.0 + i))
        s.add(DiskSample(host_id=host, ts=ts, mount="/data", used_bytes=5_000_000_000_000 + i,
                         total_bytes=8_000_000_000_000, used_pct=60.0 + i))
    s.commit()
    return cpus


def test_complete_row_with_gpus_and_disks(session):
    cpus = fill_hour(session)
    add_sample(session, "gpu1", H - 0.001, cpu_pct=99.0)  # previous hour
    add_sample(session, "gpu1", H + HOUR, cpu_pct=99.0)  # next hour
    session.commit()
    assert rollup_hours(session, H, H) == 1
    [row] = hourly_rows(session)
    n = len(cpus)
    assert row["host_id"] == "gpu1" and row["hour"] == H and row["sample_count"] == n == 12
    assert row["cpu_pct_avg"] == pytest.approx(sum(cpus) / n) and row["cpu_pct_max"] == 120.0
    assert row["mem_used_pct_max"] == 50.0 + n - 1
    assert row["mem_used_bytes_max"] == 1_000_000_000 + n - 1 and isinstance(row["mem_used_bytes_max"], int)
    assert row["mem_used_bytes_avg"] == pytest.approx(1_000_000_000 + (n - 1) / 2)
    assert row["disk_read_bps_avg"] == pytest.approx(100.0 * (n - 1) / 2) and row["disk_read_bps_max"] == 1100.0
    assert (row["net_rx_bps_avg"], row["net_tx_bps_max"]) == (1e6, 2e6)
    assert (row["gpu_util_pct_avg"], row["gpu_mem_used_pct_max"]) == (40.0, 25.0)
    assert row["disk_used_pct_last"] == 60.0 + n - 1
    disks = json.loads(row["disks"])
    assert all(set(d) == {"mount", *DISK_LAST.values()} for d in disks)  # each disk metric rolled up as "last"
    assert [{k: d[k] for k in ("mount", "used_bytes", "total_bytes", "used_pct")} for d in disks] == [
        {"mount": "/", "used_bytes": 100 + n - 1, "total_bytes": 1000, "used_pct": 10.0 + n - 1},
        {"mount": "/data", "used_bytes": 5_000_000_000_000 + n - 1, "total_bytes": 8_000_000_000_000,
         "used_pct": 60.0 + n - 1},
    ]
    gpus = json.loads(row["gpus"])
    assert [g["index"] for g in gpus] == [0, 1]
    g1 = gpus[1]
    assert g1["name"] == "NVIDIA H100" and g1["uuid"] == "GPU-1" and g1["samples"] == n
    assert g1["util_avg"] == pytest.approx(10 + (n - 1) / 2) and g1["util_max"] == 10.0 + n - 1
    assert g1["mem_used_mb_avg"] == pytest.approx(1000 + (n - 1) / 2) and g1["mem_used_mb_max"] == 1000.0 + n - 1
    assert g1["mem_total_mb"] == 81920.0 and g1["power_avg"] == 300.0
    assert g1["temp_avg"] == pytest.approx(51 + (n - 1) / 2) and g1["temp_max"] == 51.0 + n - 1


@pytest.mark.parametrize("ts, hour", [
    (H, H), (H + 0.001, H), (H + 3599.999, H), (H + 3600, H + HOUR), (H - 0.001, H - HOUR), (H + 1799.5, H),
])
def test_bucket_floors_to_the_hour(session, ts, hour):
    add_sample(session, "a", ts, cpu_pct=1.0)
    session.commit()
    assert rollup_hours(session, H - HOUR, H + HOUR) == 1
    assert [r["hour"] for r in hourly_rows(session)] == [hour]


def test_idempotent(session):
    fill_hour(session)
    fill_hour(session, host="cpu1", upto=1800)
    assert rollup_hours(session, H, H) == 2
    first = hourly_rows(session)
    assert rollup_hours(session, H, H) == 2
    assert hourly_rows(session) == first and len(first) == 2


def test_crash_mid_hour_then_complete(session):
    fill_hour(session, upto=1800)  # the hub stops half way through the hour
    rollup_hours(session, H, H)
    [partial] = hourly_rows(session)
    assert partial["sample_count"] == 6
    for i, off in enumerate(range(1800, HOUR, 300)):  # the rest of the hour arrives later
        ts = H + off + 0.25
        add_sample(session, "gpu1", ts, cpu_pct=10.0 * (i + 7), disk_used_pct_max=66.0 + i)
        session.add(GpuSample(host_id="gpu1", ts=ts, gpu_index=0, util_pct=90.0))
        session.add(DiskSample(host_id="gpu1", ts=ts, mount="/", used_pct=42.0))
    session.commit()
    rollup_hours(session, H, H)
    [row] = hourly_rows(session)
    assert row["sample_count"] == 12 and row["cpu_pct_max"] == 120.0
    assert row["cpu_pct_avg"] == pytest.approx(65.0)
    # how many samples each average is over: the later samples carry no memory figure
    assert (row["cpu_pct_n"], row["mem_used_pct_n"], row["mem_used_pct_avg"]) == (12, 6, pytest.approx(52.5))
    assert row["disk_used_pct_last"] == 71.0
    assert json.loads(row["disks"])[0]["used_pct"] == 42.0
    assert json.loads(row["gpus"])[0]["util_max"] == 90.0 and json.loads(row["gpus"])[0]["samples"] == 12


@pytest.mark.parametrize("chunk_hours", [1, 2, 5])
def test_chunks_give_the_same_rows(session, chunk_hours):
    for h in range(7):
        fill_hour(session, host=f"h{h % 3}", hour=H + h * HOUR, upto=600)
    assert rollup_hours(session, H, H + 6 * HOUR, chunk_hours=chunk_hours) == 7
    rows = hourly_rows(session)
    assert [(r["host_id"], r["hour"]) for r in rows] == sorted((f"h{h % 3}", H + h * HOUR) for h in range(7))
    assert all(r["sample_count"] == 2 for r in rows)


def test_host_filter(session):
    fill_hour(session, host="a", upto=600)
    fill_hour(session, host="b", upto=600)
    assert rollup_hours(session, H, H, host_ids=["b"]) == 1
    assert [r["host_id"] for r in hourly_rows(session)] == ["b"]
    assert rollup_hours(session, H, H, host_ids=[]) == 0


@pytest.mark.parametrize("values, avg, peak", [
    ([10.0, None, 30.0], 20.0, 30.0),  # SQL AVG ignores NULL
    ([None, None], None, None),
    ([None, 5.0], 5.0, 5.0),
])
def test_none_metrics(session, values, avg, peak):
    for i, v in enumerate(values):
        add_sample(session, "a", H + i, cpu_pct=v, gpu_util_pct=v)
    session.commit()
    rollup_hours(session, H, H)
    [row] = hourly_rows(session)
    assert row["sample_count"] == len(values)
    assert (row["cpu_pct_avg"], row["cpu_pct_max"]) == (avg, peak)
    assert (row["gpu_util_pct_avg"], row["gpu_util_pct_max"]) == (avg, peak)
    assert row["mem_used_bytes_max"] is None and row["disk_used_pct_last"] is None
    assert json.loads(row["gpus"]) == [] and json.loads(row["disks"]) == []


def test_disk_used_last_skips_a_failed_df(session):
    add_sample(session, "a", H + 10, disk_used_pct_max=70.0)
    add_sample(session, "a", H + 20, disk_used_pct_max=None)  # df failed in the last probe
    session.commit()
    rollup_hours(session, H, H)
    assert hourly_rows(session)[0]["disk_used_pct_last"] == 70.0


def test_hours_to_fill(session):
    now = H + 5 * HOUR + 1234
    assert hours_to_fill(session, now) is None  # nothing at all
    add_sample(session, "a", H + 100, cpu_pct=1.0)
    add_sample(session, "a", H + 2 * HOUR + 5, cpu_pct=1.0)
    session.commit()
    assert hours_to_fill(session, now) == (H, H + 5 * HOUR)  # no rollup yet: from the oldest raw sample
    rollup_hours(session, H, H)
    # the hub was down after H; the newest rollup is redone, the gap filled up to now's hour
    assert hours_to_fill(session, now) == (H, H + 5 * HOUR)
    rollup_hours(session, *hours_to_fill(session, now))
    assert [r["hour"] for r in hourly_rows(session)] == [H, H + 2 * HOUR]
    assert hours_to_fill(session, now) == (H + 2 * HOUR, H + 5 * HOUR)
    assert hours_to_fill(session, H + HOUR) is None  # a clock behind the newest rollup


def test_retention_rolls_up_first_and_deletes_only_old_rows(session):
    now = H + 50 * HOUR + 1800  # raw cutoff: now - 48 h = H + 2.5 h -> raw kept from H + 2 h
    for hour in (H, H + HOUR, H + 2 * HOUR, H + 49 * HOUR):
        fill_hour(session, hour=hour, upto=600)  # 2 samples an hour
        session.add(ServiceSample(host_id="gpu1", ts=hour + 1, unit="ssh.service", active_state="active"))
    session.add(SampleHourly(host_id="old", hour=H - 800 * 86400, sample_count=1))
    session.add(SampleHourly(host_id="kept", hour=H - 700 * 86400, sample_count=1))
    session.add(Event(ts=H - 800 * 86400, host_id="old", type="host_down"))
    session.add(Event(ts=H, host_id="kept", type="host_up"))
    # per-user GPU hours are kept as long as the hourly rollups
    session.add(GpuUserHourly(host_id="old", hour=H - 800 * 86400, username="alice", gpu_seconds=3600.0))
    session.add(GpuUserHourly(host_id="kept", hour=H - 700 * 86400, username="alice", gpu_seconds=3600.0))
    session.commit()

    counts = apply_retention(session, now, batch=3)  # small batches: several rounds per table
    assert counts == {"samples": 4, "gpu_samples": 8, "disk_samples": 8, "service_samples": 2,
                      "samples_hourly": 1, "gpu_user_hourly": 1, "events": 1}
    assert [r.host_id for r in session.scalars(select(GpuUserHourly)).all()] == ["kept"]
    # the two hours that lost their raw rows were rolled up first, completely
    rows = {(r["host_id"], r["hour"]): r for r in hourly_rows(session)}
    assert set(rows) == {("gpu1", H), ("gpu1", H + HOUR), ("kept", H - 700 * 86400)}
    assert rows[("gpu1", H)]["sample_count"] == 2 and len(json.loads(rows[("gpu1", H)]["gpus"])) == 2
    for model, per_hour in ((Sample, 2), (GpuSample, 4), (DiskSample, 4), (ServiceSample, 1)):
        remaining = session.execute(select(func.min(model.ts), func.count()).select_from(model)).one()
        assert remaining[0] >= H + 2 * HOUR and remaining[1] == 2 * per_hour
    assert [e.host_id for e in session.scalars(select(Event)).all()] == ["kept"]
    assert apply_retention(session, now) == dict.fromkeys(counts, 0)  # nothing more to do
