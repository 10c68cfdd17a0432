"""Property tests: on any text a parser returns a record or raises ParseError, nothing else.

Every parser of collector/parsers is here (a test fails when a new one is not),
fed arbitrary text, arbitrary bytes decoded as the hub decodes probe output
(UTF-8, errors="replace"), and realistic fragments. Parsers documented to never
raise must not raise even ParseError; every number in a record is finite,
non-negative and fits a 64-bit column; the names the hub stores hold no control
character. Whole probe outputs go through parse_output and build_report too.
"""
from __future__ import annotations

import dataclasses
import importlib
import json
import math
import pkgutil
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import collector.parsers
from collector.errors import Failure, HostError
from collector.parsers import MAX_VALUE, ParseError, df, diskstats, epoch, loadavg, meminfo, netdev
from collector.parsers import nvidia, os_info, ps, rc, stat, systemd, units, uptime
from collector.parsers.registry import registered
from collector.prober import catalog_from_output
from collector.reading import parse_output
from collector.recorder import rows_from_report
from collector.report import build_report

FIXTURES = Path(__file__).parent.parent / "fixtures"

PARSERS = {
    "epoch": epoch.parse, "uptime": uptime.parse, "stat": stat.parse, "loadavg": loadavg.parse,
    "meminfo": meminfo.parse, "diskstats": diskstats.parse, "net": netdev.parse, "df": df.parse,
    "os": os_info.parse, "nvidia": nvidia.parse, "systemd": systemd.parse, "ps": ps.parse,
    "rc": rc.parse,
}
# PARSERS and the service catalog's two (also in test_parsers_units_fuzz.py, with catalog rows)
ALL_PARSERS = {**PARSERS, "units": units.parse, "unit_files": units.parse_files,
               "diskstats_counted": diskstats.parse_counted,  # what the hub keeps of every probe
               **{s.name: s.parse for s in registered()}}  # sections added later are fuzzed as they register
# Their docstrings promise more than "ParseError only": these never raise at all.
NEVER_RAISE = frozenset({"df", "nvidia", "os", "ps", "systemd", "units", "unit_files"})
# Their text reaches the database or the pages: names and error lines (clean() in collector/parsers).
CLEAN_TEXT = frozenset({"amdgpu", "df", "nvidia", "os", "ps", "systemd"})


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

# Bytes as a host may send them, decoded as the hub does: random bytes, and fixture lines with bytes spliced in.
DECODED_BYTES = st.binary(max_size=500).map(lambda b: b.decode("utf-8", errors="replace"))
BYTE_SOUP = st.lists(st.one_of(st.sampled_from(LINES + EDGES).map(str.encode), st.binary(max_size=40)),
                     max_size=20).map(lambda parts: b"\n".join(parts).decode("utf-8", errors="replace"))


def _check(parse, text: str) -> None:
    try:
        record = parse(text)
    except ParseError:
        return
    assert dataclasses.is_dataclass(record) and not isinstance(record, type)


def _numbers_and_text(value, path="record"):
    """(path, value) of every number and string inside a record (dataclasses, tuples)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _numbers_and_text(getattr(value, f.name), f"{path}.{f.name}")
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _numbers_and_text(v, f"{path}[{i}]")
    elif isinstance(value, (int, float, str)) and not isinstance(value, bool):
        yield path, value


def _check_contract(name: str, text: str) -> None:
    """The parser's own contract, and records fit to store and show."""
    parse = ALL_PARSERS[name]
    if name in NEVER_RAISE:
        record = parse(text)
    else:
        try:
            record = parse(text)
        except ParseError as exc:
            assert len(str(exc)) < 1000  # clip()ped: a 10 kB line is not echoed whole
            return
    assert dataclasses.is_dataclass(record) and not isinstance(record, type)
    for path, v in _numbers_and_text(record):
        if isinstance(v, str):
            if name in CLEAN_TEXT:
                assert not any(ord(c) < 32 or ord(c) == 127 for c in v), f"{path} = {v[:80]!r}"
                assert len(v) <= 1024, f"{path}: {len(v)} characters"
        elif isinstance(v, float):
            assert math.isfinite(v) and 0 <= v <= MAX_VALUE, f"{path} = {v}"
        else:
            assert 0 <= v <= MAX_VALUE, f"{path} = {v}"


def test_every_parser_is_fuzzed() -> None:
    """A parse function added to collector/parsers without a place in ALL_PARSERS (or a SECTION) fails here."""
    fuzzed = set(ALL_PARSERS.values())
    found = []
    for info in pkgutil.iter_modules(collector.parsers.__path__):
        module = importlib.import_module(f"collector.parsers.{info.name}")
        for attr, fn in vars(module).items():
            if attr.startswith("parse") and callable(fn) and getattr(fn, "__module__", None) == module.__name__:
                found.append(f"{info.name}.{attr}")
                assert fn in fuzzed, f"collector.parsers.{info.name}.{attr} is not fuzzed: add it to ALL_PARSERS"
    assert len(found) == len(ALL_PARSERS) >= 16


@pytest.mark.parametrize("name", sorted(ALL_PARSERS))
@FUZZ
@given(text=st.text())
def test_arbitrary_text(name, text):
    _check_contract(name, text)


@pytest.mark.parametrize("name", sorted(ALL_PARSERS))
@FUZZ
@given(text=st.one_of(DECODED_BYTES, BYTE_SOUP))
def test_arbitrary_bytes_decoded_as_the_hub_does(name, text):
    _check_contract(name, text)


@pytest.mark.parametrize("name", sorted(ALL_PARSERS))
@FUZZ
@given(text=st.one_of(FRAGMENTS, LINE_SOUP))
def test_realistic_fragments(name, text):
    _check_contract(name, text)


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
    rows = df.parse(text)
    df.local_disks(rows)
    kept = df.local_disks(rows, tmpfs=True)
    assert len({f.mount for f in kept}) == len(kept)  # each mount point once
    assert all(f.used_pct is None or 0 <= f.used_pct <= 100 for f in rows.filesystems)
    os_info.cpu_list_count(text)
    try:
        s = stat.parse(text)
        assert s.busy <= s.total
    except ParseError:
        pass


@FUZZ
@given(text=st.one_of(st.text(), DECODED_BYTES, BYTE_SOUP, LINE_SOUP))
def test_helpers_never_raise(text):
    os_info.os_release(text)
    os_info.unquote(text)
    assert os_info.cpu_list_count(text) is None or 0 < os_info.cpu_list_count(text) <= os_info.MAX_CPUS
    assert netdev.is_counted(text) in (True, False)
    for word in text.split()[:20]:
        assert collector.parsers.to_int(word) is None or 0 <= collector.parsers.to_int(word) <= MAX_VALUE
        v = collector.parsers.to_float(word)
        assert v is None or (math.isfinite(v) and 0 <= v <= MAX_VALUE)
    cleaned = collector.parsers.clean(text, 50)
    assert len(cleaned) <= 50 and not any(ord(c) < 32 or ord(c) == 127 for c in cleaned)


# ---------------------------------------------------------------- whole probe outputs
FIXTURE_PROBES = [(FIXTURES / "probe" / n).read_bytes() for n in ("debian12_vm.txt", "debian12_vm_next.txt")]
HEADERS = [f"<<<{n}>>>".encode() for n in (*PARSERS, "proc", "units", "unit_files", "error")] + [
    b"==> /proc/meminfo <==", b"==> /proc/diskstats <==", b"==> /proc/net/dev <==",
    b"==> /etc/os-release <==", b"==> /sys/devices/system/cpu/online <==", b"<<<>>>", b"<<<UPPER>>>"]
PROBE_LINES = sorted({line for probe in FIXTURE_PROBES for line in probe.splitlines()})
NUMBERS = [b"0", b"1", b"-1", b"1e308", b"nan", b"inf", str(2**63).encode(), str(10**30).encode(), b"9" * 400]


def _join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines)


def _replace_tokens(probe: bytes, changes: list[tuple[int, int, bytes]]) -> bytes:
    """The probe with the j-th word of line i replaced, for each (i, j, word)."""
    lines = probe.splitlines()
    for i, j, word in changes:
        tokens = lines[i % len(lines)].split()
        if not tokens:
            continue
        tokens[j % len(tokens)] = word
        lines[i % len(lines)] = b" ".join(tokens)
    return _join(lines)


SECTION_STARTS = [b"<<<epoch>>>", b"<<<uptime>>>", b"<<<stat>>>", b"<<<loadavg>>>", b"==> /proc/meminfo <==",
                  b"==> /proc/diskstats <==", b"==> /proc/net/dev <==", b"<<<os>>>", b"<<<ps>>>", b"<<<df>>>"]
_NUMBER = re.compile(rb"(?<![\w.])[0-9]+(?:\.[0-9]+)?(?![\w.])")


def _absurd_sections(probe: bytes, changes: list[tuple[bytes, bytes]]) -> bytes:
    """The probe with every number of some sections replaced, for each (section start, number)."""
    for marker, number in changes:
        start = probe.find(marker)
        if start < 0:
            continue
        ends = [e for e in (probe.find(b"\n<<<", start + 1), probe.find(b"\n==>", start + 1)) if e >= 0]
        end = min(ends, default=len(probe))
        probe = probe[:start] + _NUMBER.sub(lambda _m: number, probe[start:end]) + probe[end:]
    return probe


# a real probe with absurd numbers where the parsers expect counters, and a few words replaced
MUTATED_PROBE = st.tuples(
    st.sampled_from(FIXTURE_PROBES),
    st.lists(st.tuples(st.sampled_from(SECTION_STARTS), st.sampled_from(NUMBERS)), min_size=1, max_size=3),
    st.lists(st.tuples(st.integers(0, 140), st.integers(0, 20), st.sampled_from(NUMBERS + HEADERS[:3])),
             max_size=3),
).map(lambda t: _replace_tokens(_absurd_sections(t[0], t[1]), t[2]))

PROBE_OUTPUT = st.one_of(
    MUTATED_PROBE,
    st.binary(max_size=3000),
    st.lists(st.one_of(st.sampled_from(HEADERS + PROBE_LINES), st.binary(max_size=30)), max_size=80).map(_join),
    # a real probe with some of its lines replaced by headers, numbers, other lines or bytes
    st.tuples(st.sampled_from(FIXTURE_PROBES),
              st.lists(st.tuples(st.integers(0, 140), st.one_of(st.sampled_from(HEADERS + NUMBERS + PROBE_LINES),
                                                                st.binary(max_size=30))), max_size=8))
    .map(lambda t: _join([dict(t[1]).get(i, line) for i, line in enumerate(t[0].splitlines())])),
)


@FUZZ
@given(first=st.one_of(st.just(FIXTURE_PROBES[0]), PROBE_OUTPUT), second=PROBE_OUTPUT,
       status=st.sampled_from([0, 1, 2, 124, 127, 137, None]))
def test_any_probe_output_gives_a_reading_and_a_storable_report(first, second, status):
    asked = frozenset({"os", "ps", "nvidia", "systemd"})
    r1 = parse_output(first, 0, 1000.0, asked=asked, gpu_mode="nvidia")
    r2 = parse_output(second, status, 1005.0, asked=asked, truncated=status is None)
    report = build_report("h", (r1, r2))
    json.dumps(report.to_dict(), allow_nan=False)  # the API's JSON: no NaN, no infinity
    rows = rows_from_report(report)
    for row in [rows.sample, *rows.gpus, *rows.disks, *rows.services]:
        for key, v in row.items():
            if isinstance(v, int) and not isinstance(v, bool):
                assert -MAX_VALUE - 1 <= v <= MAX_VALUE, (key, v)
            if isinstance(v, float):
                assert math.isfinite(v), (key, v)


@FUZZ
@given(output=PROBE_OUTPUT, truncated=st.booleans())
def test_any_catalog_output_gives_a_result_or_a_probe_failure(output, truncated):
    try:
        result = catalog_from_output("h", output, truncated=truncated)
    except HostError as err:
        assert err.failure is Failure.PROBE_FAILED
        return
    assert isinstance(result.available, bool) and isinstance(result.units, list)


# --------------------------------------------------------------------------- fast paths mean the same (issue 15)
def _slow_to_ints(fields):
    from collector.parsers import to_int
    return [to_int(f) for f in fields]


@FUZZ
@given(fields=st.lists(st.one_of(st.from_regex(r"[0-9]{1,22}", fullmatch=True), st.sampled_from(WORDS + EDGES)),
                       max_size=20))
def test_to_ints_equals_to_int_field_by_field(fields):
    from collector.parsers import to_ints
    assert to_ints(fields) == _slow_to_ints(fields)


@FUZZ
@given(text=st.lists(st.sampled_from([line for line in LINES if len(line.split()) >= 7] + EDGES), max_size=30)
       .map("\n".join))
def test_counted_diskstats_are_the_whole_disks_of_every_line(text):
    """parse_counted skips partitions and virtual devices before converting: the same disks, the same
    numbers, the same ParseError (for a bad line of a device it keeps) as parse + whole_disks."""
    try:
        expected = diskstats.whole_disks(diskstats.parse(text).disks)
    except ParseError:
        expected = None
    try:
        got = diskstats.parse_counted(text).disks
    except ParseError:
        got = None
    if expected is not None:
        assert got == expected
