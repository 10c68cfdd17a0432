"""CPU iowait % and steal % (catalogue: cpu_iowait_pct, cpu_steal_pct) between two /proc/stat readings.

CPU busy excludes iowait and includes steal, as it always has: the three add up with idle to 100 %.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from collector import rates
from collector.host_report import HostReport
from collector.metrics.catalogue import CATALOGUE
from collector.parsers import stat

PROC = Path(__file__).parent.parent / "fixtures" / "proc"
IOWAIT, STEAL = CATALOGUE.get("cpu_iowait_pct"), CATALOGUE.get("cpu_steal_pct")
VM = (PROC / "stat_debian12_vm.txt").read_text()  # cpu  5360 0 4029 96255 312 0 44 211 0 0
# 1,000 ticks later: 300 user, 100 system, 400 idle, 150 iowait, 50 steal
VM_NEXT = "cpu  5660 0 4129 96655 462 0 44 261 0 0\n"
OLD = (PROC / "stat_kernel2.6.9_7fields.txt").read_text()  # no steal field (before 2.6.11)


def _values(first: str, second: str) -> tuple[float | None, float | None]:
    report = HostReport("h", "up", 0.0, {}, sections={"stat": stat.parse(second)},
                        previous={"stat": stat.parse(first)})
    return IOWAIT.value(report), STEAL.value(report)


def _bump(text: str, n: int) -> str:
    fields = text.split("\n")[0].split()
    return " ".join([fields[0], *(str(int(f) + n) for f in fields[1:])]) + "\n"


@pytest.mark.parametrize("case, first, second, expected", [
    ("valid: real VM counters", VM, VM_NEXT, (15.0, 5.0)),
    ("valid: kernel 2.6.9 has iowait, not steal", OLD, _bump(OLD, 10), (pytest.approx(100 / 7, abs=0.01), None)),
    ("counter went back (reboot)", VM_NEXT, VM, (None, None)),
    ("no tick passed", VM, VM, (None, None)),
])
def test_iowait_and_steal_shares(case, first, second, expected):
    assert _values(first, second) == expected, case


def test_empty_previous_reading_gives_no_value():
    report = HostReport("h", "up", 0.0, {}, sections={"stat": stat.parse(VM)})
    assert (IOWAIT.value(report), STEAL.value(report)) == (None, None)


def test_busy_excludes_iowait_and_includes_steal():
    busy = rates.cpu_pct(stat.parse(VM), stat.parse(VM_NEXT))
    iowait, steal = _values(VM, VM_NEXT)
    assert busy == 45.0  # user 300 + system 100 + steal 50 of 1,000 ticks
    assert busy + iowait + 40.0 == 100.0  # + idle 400


def test_stored_rolled_up_alertable_exported():
    for m in (IOWAIT, STEAL):
        assert m.column == "float" and m.rollup == ("avg", "max") and m.alert
    assert (IOWAIT.prom_name, STEAL.prom_name) == ("fleetwatch_cpu_iowait_percent", "fleetwatch_cpu_steal_percent")
