"""Times far in the future never turn into a 500 (issue 14, item 11).

On Windows `time.gmtime` raises OSError(22) past 3000-12-31 (epoch 32536799999), while
parse_time accepts times up to 9999-12-31. This module makes `time.gmtime` behave as it does on
Windows (the one stand-in for the platform) and asks a hub served on loopback, with a real
admin token, for such times.
"""
from __future__ import annotations

import math
import time

import pytest
import pytest_asyncio

from schema import timeutil
from tests.support.apphub import served_hub
from tests.support.hubproc import host_entry, write_inventory

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the served hub lives in the module's loop

WINDOWS_GMTIME_MAX = 32536799999  # 3001-01-19T07:59:59Z; the C runtime's _gmtime64 gives EINVAL past it
_real_gmtime = time.gmtime


def _windows_gmtime(secs=None):
    if secs is not None and not WINDOWS_GMTIME_MAX >= secs >= -43200:
        raise OSError(22, "Invalid argument")
    return _real_gmtime(secs)


@pytest.fixture(autouse=True)
def like_windows(monkeypatch):
    monkeypatch.setattr(time, "gmtime", _windows_gmtime)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(sshd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("far")
    inventory = write_inventory(tmp / "hosts.yaml", [host_entry(sshd, "live")])
    async with served_hub(inventory, f"sqlite:///{tmp / 'far.db'}") as served:
        yield served.client


@in_module_loop
@pytest.mark.parametrize("start, shown", [("5000-01-01", "5000-01-01T00:00:00Z"),
                                          ("0001-01-01", "0001-01-01T00:00:00Z")])  # before 1970: Windows too
async def test_the_history_page_for_dates_windows_gmtime_cannot_take_renders(client, start, shown):
    r = await client.get("/history", params={"from": start, "to": start[:8] + "02"}, headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    assert f'datetime="{shown}"' in r.text


@in_module_loop
async def test_the_history_page_up_to_the_last_day_of_9999_renders(client):
    """The typed end date is inclusive: its end is 10000-01-01T00:00:00Z, past what datetime holds."""
    r = await client.get("/history", params={"from": "9999-12-30", "to": "9999-12-31"},
                         headers={"Accept": "text/html"})
    assert r.status_code == 200, r.text[:300]
    assert 'datetime="9999-12-30T00:00:00Z"' in r.text and 'datetime="10000-01-01T00:00:00Z"' in r.text


@in_module_loop
@pytest.mark.parametrize("path, extra", [
    ("/api/history/hourly", {}), ("/api/history/hourly.csv", {}), ("/api/events", {}),
    ("/api/servers/live/timeseries", {"metric": "cpu_pct"}), ("/api/servers/live/gpus/timeseries", {}),
    ("/api/compare", {"servers": "live", "metric": "cpu_pct"})], ids=lambda v: str(v) if v else "")
@pytest.mark.parametrize("start, end", [("5000-01-01T00:00:00Z", "5000-01-02T00:00:00Z"),
                                        ("9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z"),
                                        (str(WINDOWS_GMTIME_MAX + 1), str(WINDOWS_GMTIME_MAX + 3600))])
async def test_api_ranges_after_3000_answer_without_error(client, path, extra, start, end):
    r = await client.get(path, params={"from": start, "to": end, **extra})
    assert r.status_code == 200, r.text[:300]


@in_module_loop
@pytest.mark.parametrize("value, words", [
    ("10000-01-01T00:00:00Z", "ISO 8601"),                 # no year 10000 in ISO 8601 / datetime
    ("253402300800", "between 1970-01-01 and 9999-12-31"),  # one second past 9999-12-31T23:59:59Z
    ("1e400", "finite"), ("inf", "finite"), ("-inf", "finite"), ("nan", "finite"),
    ("-1e300", "between 1970-01-01 and 9999-12-31"),
])
@pytest.mark.parametrize("param", ["from", "to"])
async def test_times_out_of_range_are_a_clear_4xx(client, value, words, param):
    r = await client.get("/api/history/hourly", params={param: value})
    assert r.status_code in (400, 422), r.text[:300]
    detail = r.json()["detail"]
    assert words in detail and "\n" not in detail, detail


@pytest.mark.parametrize("ts, text", [
    (0, "1970-01-01T00:00:00Z"),
    (1795256100.7, "2026-11-21T10:15:00Z"),
    (WINDOWS_GMTIME_MAX + 1, "3001-01-19T08:00:00Z"),
    (253402300799, "9999-12-31T23:59:59Z"),
    (253402300800, "10000-01-01T00:00:00Z"),
    (-1, "1969-12-31T23:59:59Z"),
    (-62135596800, "0001-01-01T00:00:00Z"),
])
def test_iso_formats_any_finite_time_without_the_platform_gmtime(ts, text):
    assert timeutil.iso(ts) == text


def test_utc_format_takes_strftime_fields():
    assert timeutil.utc_format(WINDOWS_GMTIME_MAX + 1, "%Y%m%dT%H%M%SZ") == "30010119T080000Z"
    assert timeutil.utc_format(1795256100, "%Y-%m-%d %H:%M:%S UTC") == "2026-11-21 10:15:00 UTC"
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError):
            timeutil.utc_format(bad, "%Y")
