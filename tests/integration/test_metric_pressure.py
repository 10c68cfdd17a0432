"""Pressure stall information (catalogue: psi_*_avg10) from /proc/pressure/{cpu,memory,io}, read by the probe
with shell builtins under dash, bash and busybox ash; absent on old kernels: None, never 0."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collector.host_report import HostReport
from collector.metrics.catalogue import CATALOGUE
from collector.parsers import ParseError, pressure
from collector.reading import parse_output

PROBE = Path(__file__).parent.parent.parent / "remote_scripts" / "probe.sh"
NAMES = ("cpu_some_avg10", "memory_some_avg10", "memory_full_avg10", "io_some_avg10", "io_full_avg10")
# as the probe prints it on kernel 6.18 (this machine): each file's lines prefixed with the file's name
REAL = """cpu some avg10=5.61 avg60=9.41 avg300=7.58 total=3693980511
cpu full avg10=0.00 avg60=0.00 avg300=0.00 total=0
memory some avg10=0.12 avg60=0.00 avg300=0.00 total=86309139
memory full avg10=0.05 avg60=0.00 avg300=0.00 total=53133217
io some avg10=1.50 avg60=0.00 avg300=0.00 total=0
io full avg10=0.75 avg60=0.00 avg300=0.00 total=0
"""


def _values(text: str) -> tuple:
    report = HostReport("h", "up", 0.0, {}, sections={"pressure": pressure.parse(text)})
    return tuple(CATALOGUE.get(f"psi_{n}").value(report) for n in NAMES)


@pytest.mark.parametrize("case, text, expected", [
    ("valid: kernel 6.18", REAL, (5.61, 0.12, 0.05, 1.5, 0.75)),
    ("valid: kernel 5.4, no cpu full line", REAL.replace("cpu full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", ""),
     (5.61, 0.12, 0.05, 1.5, 0.75)),
    ("empty: kernel before 4.20 or psi=0", "", (None,) * 5),
    ("truncated: only the cpu file", REAL.splitlines()[0], (5.61, None, None, None, None)),
])
def test_pressure_values(case, text, expected):
    assert _values(text) == expected, case


@pytest.mark.parametrize("line", ["disk some avg10=1.00", "cpu most avg10=1.00", "cpu some avg10=lots",
                                  "cpu some avg10=101.00", "cpu some", "cpu some total=5"])
def test_malformed_pressure_is_a_section_error(line):
    with pytest.raises(ParseError, match="pressure"):
        pressure.parse(line)


def test_a_probe_without_the_section_is_not_an_error():
    """Simulated hosts and older captured outputs have no pressure section: no value, no degraded host."""
    out = (Path(__file__).parent.parent / "fixtures" / "probe" / "debian12_vm.txt").read_bytes()
    reading = parse_output(out, 0, 1.0)
    assert "pressure" not in reading.errors and reading.get("pressure") is None


@pytest.mark.parametrize("shell", [["/bin/dash", "-c"], ["/bin/bash", "--posix", "-c"], ["/bin/busybox", "sh", "-c"]])
def test_probe_reads_pressure_with_builtins(shell):
    script = f"FLEETWATCH_PROBE_LIB=1 . {PROBE}; fw_pressure"
    out = subprocess.run([*shell, script], capture_output=True, text=True, timeout=10, env={"PATH": "/nonexistent"})
    assert out.returncode == 0 and out.stderr == ""  # no process: PATH finds nothing, and nothing was needed
    assert out.stdout.startswith("<<<pressure>>>\n")
    record = pressure.parse(out.stdout.split("\n", 1)[1])
    if Path("/proc/pressure/cpu").exists():
        assert record.cpu_some_avg10 is not None and record.io_full_avg10 is not None


def test_stored_rolled_up_alertable_exported():
    for n in NAMES:
        m = CATALOGUE.get(f"psi_{n}")
        assert m.column == "float" and m.rollup == ("avg", "max") and m.alert and m.unit == "%"
        assert m.prom_name == f"fleetwatch_pressure_{n}_percent"
