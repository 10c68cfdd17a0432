"""Property tests: on any text a parser returns a record or raises ParseError, nothing else."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.parsers import ParseError, df, diskstats, epoch, loadavg, meminfo, netdev
from collector.parsers import nvidia, os_info, ps, rc, stat, systemd, uptime

FIXTURES = Path(__file__).parent / "fixtures"

PARSERS = {
    "epoch": epoch.parse, "uptime": uptime.parse, "stat": stat.parse, "loadavg": loadavg.parse,
    "meminfo": meminfo.parse, "diskstats": diskstats.parse, "net": netdev.parse, "df": df.parse,
    "os": os_info.parse, "nvidia": nvidia.parse, "systemd": systemd.parse, "ps": ps.parse,
    "rc": rc.parse,
}


def _fixture_lines() -> list[str]:
    lines: set[str] = set()
    for path in FIXTURES.rglob("*"):
        if path.is_file() and path.suffix in (".txt", ".csv"):
            lines.update(path.read_text().splitlines())
    return sorted(lines)


# Realistic fragments: every fixture line, the words they are made of, and
# separators and values that sit on parsing edges.
LINES = _fixture_lines()
WORDS = sorted({w for line in LINES for w in line.replace(",", " , ").split()})
EDGES = [
    "", " ", "\n", "\n\n", ":", ",", ", ", "=", "/", "%", "-", "absent", "[N/A]", "N/A",
    "[Not Supported]", "cpu", "cpu0", "btime", "MemTotal:", "kB", "==> /etc/os-release <==",
    "==> /sys/devices/system/cpu/online <==", "==> /proc/sys/kernel/hostname <==",
    "head: cannot open 'x' for reading", "Filesystem Type 1024-blocks Used Available Capacity Mounted on",
    "Id=", "0", "1", "-1", "99999999999999999999999", "9" * 5000, "1e999", "nan", "inf", "1.5",
    "0-3", "3-0", "0-", "१२", "\t", "\r", "\x00", "p1", "sda", "sda1", "nvme0n1p1",
]
FRAGMENTS = st.lists(st.sampled_from(LINES + WORDS + EDGES), max_size=30).map(
    lambda xs: "".join(x if x in ("", " ", "\n", "\n\n", ":", ",", "=") else x + " " for x in xs)
)
LINE_SOUP = st.lists(st.sampled_from(LINES + EDGES), max_size=30).map("\n".join)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(parse, text: str) -> None:
    try:
        record = parse(text)
    except ParseError:
        return
    assert dataclasses.is_dataclass(record) and not isinstance(record, type)


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(text=st.text())
def test_arbitrary_text(name, text):
    _check(PARSERS[name], text)


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(text=st.one_of(FRAGMENTS, LINE_SOUP))
def test_realistic_fragments(name, text):
    _check(PARSERS[name], text)


@FUZZ
@given(text=st.one_of(st.text(), LINE_SOUP))
def test_derived_functions_never_raise(text):
    try:
        parsed = diskstats.parse(text)
        diskstats.whole_disks(parsed.disks)
    except ParseError:
        pass
    try:
        m = meminfo.parse(text)
        assert m.used_bytes is None or m.used_bytes >= 0
    except ParseError:
        pass
    df.local_disks(df.parse(text))
    os_info.cpu_list_count(text)
    try:
        s = stat.parse(text)
        assert s.busy <= s.total
    except ParseError:
        pass
