"""Splitting probe output, per-section errors, the report shape, the backoff schedule."""
from __future__ import annotations

from pathlib import Path

import pytest

from collector.backoff import Backoff
from collector.errors import Failure, HostError
from collector.reading import parse_output
from collector.report import build_report, failure_report, host_epoch
from collector.sections import split_sections

PROBE = Path(__file__).parent.parent / "fixtures" / "probe"
FIRST = (PROBE / "debian12_vm.txt").read_bytes()
NEXT = (PROBE / "debian12_vm_next.txt").read_bytes()


def test_split_expands_heads_file_headers_into_sections() -> None:
    sections = split_sections(FIRST.decode())
    assert list(sections)[:4] == ["epoch", "uptime", "stat", "loadavg"]
    assert {"meminfo", "diskstats", "net", "df"} <= set(sections)
    assert sections["meminfo"].startswith("MemTotal:")
    assert "==>" not in sections["net"]


def test_a_repeated_section_cannot_override_the_first() -> None:
    out = "<<<uptime>>>\n100.0 50.0\n<<<uptime>>>\n1.0 1.0\n"
    assert split_sections(out)["uptime"] == "100.0 50.0"


@pytest.mark.parametrize("damage, section, expected", [
    (lambda t: t.replace(b"<<<df>>>", b"<<<xx>>>"), "df", "section missing"),
    (lambda t: t.replace(b"MemTotal:", b"MemTotl:"), "meminfo", "MemTotal"),
    (lambda t: t[: len(t) // 3], "df", "section missing"),
], ids=["missing", "malformed", "truncated"])
def test_a_bad_section_is_an_error_not_an_exception(damage, section, expected) -> None:
    reading = parse_output(damage(FIRST), 0, 0.0, asked=frozenset({"os", "ps"}))
    assert expected in reading.errors[section]
    assert "uptime" in reading.parsed


def test_timeouts_are_reported_per_section() -> None:
    out = FIRST.replace(b"<<<rc>>>\n", b"<<<rc>>>\nsystemd 124\n")
    reading = parse_output(out, 124, 0.0, asked=frozenset({"systemd"}))
    assert reading.errors["df"] == "df timed out"
    assert reading.errors["systemd"].endswith("timed out")


def test_empty_output_gives_errors_for_every_section() -> None:
    reading = parse_output(b"", None, 0.0)
    assert {"uptime", "stat", "meminfo", "df"} <= set(reading.errors)
    assert not reading.parsed.get("uptime")


def test_report_from_two_real_readings() -> None:
    r1 = parse_output(FIRST, 0, 1.0, asked=frozenset({"os", "ps"}))
    r2 = parse_output(NEXT, 0, 6.0)
    report = build_report("vm", (r1, r2)).to_dict()
    assert report["state"] == "up" and report["errors"] == {}
    assert 0 < report["cpu_pct"] <= 100  # a busy loop ran between the captures
    assert report["disk_write_bps"] > 0  # and a 50 MB fsync'd write
    assert report["interval_s"] > 0
    assert report["top_processes"] and report["os"]["kernel"]
    alone = build_report("vm", (r2,)).to_dict()
    assert alone["cpu_pct"] is None and alone["disk_read_bps"] is None  # one reading: no rates, not 0


@pytest.mark.parametrize("disks, mounts", [
    (("/",), ["/dev", "/dev/shm", "/", "/run/user/1000", "/sys/fs/cgroup"]),  # a list: every row df printed
    ("all", ["/"]),
    ("all+tmpfs", ["/dev/shm", "/", "/run/user/1000", "/sys/fs/cgroup"]),
])
def test_report_disks_follow_the_inventory_setting(disks, mounts) -> None:
    report = build_report("vm", (parse_output(NEXT, 0, 6.0),), disks=disks)
    assert [d.mount for d in report.disks] == mounts
    assert all(d.used_pct is not None and d.avail_bytes is not None for d in report.disks)


def test_reboot_between_readings_gives_no_rates() -> None:
    r1 = parse_output(NEXT, 0, 1.0)
    r2 = parse_output(FIRST.replace(b"<<<uptime>>>\n", b"<<<uptime>>>\n1.00 1.00\n#", 1), 0, 6.0)
    report = build_report("vm", (r1, r2))
    assert report.disk_read_bps is None and report.net_rx_bps is None and report.to_dict()["disk_read_bps"] is None


def test_host_epoch_from_os_date_plus_uptime_when_the_shell_has_no_clock() -> None:
    r1 = parse_output(FIRST, 0, 1.0, asked=frozenset({"os"}))
    r2 = parse_output(NEXT, 0, 6.0)
    os_rec = r1.get("os")
    expected = os_rec.epoch + (r2.get("uptime").seconds - os_rec.uptime_s)
    assert r2.get("epoch").seconds is None  # captured under dash
    assert host_epoch(r2, os_rec) == round(expected)


def test_failure_report_maps_classes_to_states() -> None:
    rep = failure_report("h", HostError(Failure.TIMEOUT, "slow"), 5.0)
    assert rep == {"host": "h", "ok": False, "state": "down", "failure": "timeout", "ts": 5.0,
                   "errors": {"connection": "slow"}}


def test_backoff_grows_to_the_cap_with_jitter_in_range() -> None:
    low = Backoff(rng=lambda: 0.0)
    high = Backoff(rng=lambda: 1.0)
    lows = [low.next_delay() for _ in range(9)]
    highs = [high.next_delay() for _ in range(9)]
    assert highs == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert lows == [h / 2 for h in highs]
    high.reset()
    assert high.next_delay() == 1


def test_os_asked_once_stays_for_later_polls() -> None:
    """The os section comes once per connection; the CPU count (and, under dash, the host clock) it gives must
    stay in every later report, not only the one right after connecting."""
    r1 = parse_output(FIRST, 0, 1.0, asked=frozenset({"os"}))
    r2 = parse_output(NEXT, 0, 6.0)
    r3 = parse_output(NEXT, 0, 11.0)
    kept = r1.kept()
    kept = r2.kept(kept)
    report = build_report("vm", (kept, r3))
    assert report.cpu_count == r1.get("os").cpu_count and report.host_epoch is not None
    asked_again = parse_output(NEXT, 0, 16.0, asked=frozenset({"os"}))  # asked and failed: not carried
    assert asked_again.kept(kept).get("os") is None
