"""schema/units_format.py: the one wording of sizes, rates and durations (pages, terminal, events, alerts)."""
from __future__ import annotations

import pytest

from collector.render_text import render
from inventory.durations import say_duration
from schema.units_format import MISSING, format_bytes, format_duration, format_rate, format_value


@pytest.mark.parametrize("n, text", [(0, "0 B"), (512, "512 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                     (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB"), (5 * 2**40, "5.0 TiB"),
                                     (3 * 2**50, "3072.0 TiB"), (-2048, "-2.0 KiB"), (None, MISSING)])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("bps, text", [(0, "0 B/s"), (999, "999 B/s"), (12_500, "12.5 kB/s"),
                                       (2_500_000, "2.5 MB/s"), (1.25e9, "1.2 GB/s"), (None, MISSING)])
def test_format_rate(bps, text):
    assert format_rate(bps) == text


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (59.4, "59 s"), (60, "1 min"), (200, "3 min 20 s"),
                                           (3600, "1 h"), (7500, "2 h 5 min"), (90000, "1 d 1 h"), (-5, "0 s"),
                                           (None, MISSING)])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_unknown_is_said_as_the_caller_asks():
    assert [f(None, "n/a") for f in (format_bytes, format_rate, format_duration)] == ["n/a"] * 3


def test_events_alerts_and_the_terminal_use_the_same_wording():
    assert say_duration is format_duration  # what inventory/alerting.py words rules' durations with
    text = render({"host": "h", "state": "ok", "uptime_s": 7500, "mem_total_bytes": 2**31, "mem_used_bytes": 2**30,
                   "mem_available_bytes": None, "disk_read_bps": 2_500_000, "net_rx_bps": None})
    assert "Uptime" in text and "2 h 5 min" in text and "1.0 GiB · of 2.0 GiB" in text
    assert "2.5 MB/s" in text and "Network in / out" in text and "n/a · out n/a" in text


@pytest.mark.parametrize("value, unit, text", [
    (12.34, "%", "12.3 %"), (1536, "bytes", "1.5 KiB"), (2_500_000, "bytes/s", "2.5 MB/s"), (2345, "MiB", "2.3 GiB"),
    (85.4, "°C", "85 °C"), (112.45, "W", "112 W"), (7500, "s", "2 h 5 min"), (0.4212, "load", "0.42"),
    (8, "count", "8"), ("failed", "state", "failed"), (None, "%", MISSING)])
def test_format_value_by_unit(value, unit, text):
    assert format_value(value, unit) == text
