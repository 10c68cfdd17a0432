"""schema/units_format.py: the one wording of sizes, rates and durations (pages, terminal, events, alerts)."""
from __future__ import annotations

import pytest

from collector.render_text import render
from inventory.durations import say_duration
from schema.units_format import MISSING, format_bytes, format_duration, format_rate


@pytest.mark.parametrize("n, text", [(0, "0 B"), (512, "512 B"), (1023, "1023 B"), (1024, "1.0 KiB"),
                                     (1536, "1.5 KiB"), (3 * 2**30, "3.0 GiB"), (5 * 2**40, "5.0 TiB"),
                                     (3 * 2**50, "3072.0 TiB"), (-2048, "-2.0 KiB"), (None, MISSING)])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("bps, text", [(0, "0.00 MB/s"), (2_500_000, "2.50 MB/s"), (1.25e9, "1250.00 MB/s"),
                                       (None, MISSING)])
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
    assert "up 2 h 5 min" in text and "1.0 GiB used of 2.0 GiB" in text and "n/a available" in text
    assert "read 2.50 MB/s" in text and "rx n/a" in text
