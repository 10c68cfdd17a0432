"""Swap used and total bytes (catalogue: swap_used_bytes, swap_total_bytes) from /proc/meminfo as kernels print it."""
from __future__ import annotations

from pathlib import Path

import pytest

from collector.host_report import HostReport
from collector.metrics.catalogue import CATALOGUE
from collector.parsers import meminfo

PROC = Path(__file__).parent.parent / "fixtures" / "proc"
USED = CATALOGUE.get("swap_used_bytes")
TOTAL = CATALOGUE.get("swap_total_bytes")


def _report(text: str) -> HostReport:
    mem = meminfo.parse(text)
    return HostReport("h", "up", 0.0, {}, swap_total_bytes=mem.swap_total_bytes, swap_free_bytes=mem.swap_free_bytes)


@pytest.mark.parametrize("case, text, used, total", [
    ("valid: 4.9 kernel, swap in use", (PROC / "meminfo_kernel4.9_partial.txt").read_text(),
     (1046524 - 1001468) * 1024, 1046524 * 1024),
    ("valid: 2.6.18 kernel, swap unused", (PROC / "meminfo_kernel2.6.18_no_memavailable.txt").read_text(),
     0, 10223608 * 1024),
    ("valid: no swap at all", (PROC / "meminfo_debian12_vm.txt").read_text(), 0, 0),
    ("truncated: no SwapFree line", "MemTotal: 100 kB\nMemFree: 50 kB\nSwapTotal: 8 kB\n", None, 8 * 1024),
    ("malformed: free above total", "MemTotal: 100 kB\nMemFree: 50 kB\nSwapTotal: 8 kB\nSwapFree: 9 kB\n",
     None, 8 * 1024),
    ("empty: no swap lines", "MemTotal: 100 kB\nMemFree: 50 kB\n", None, None),
])
def test_swap_used_and_total(case, text, used, total):
    report = _report(text)
    assert (USED.value(report), TOTAL.value(report)) == (used, total), case


def test_swap_is_stored_rolled_up_alertable_and_exported():
    assert USED.column == "bigint" and USED.rollup == ("avg", "max") and USED.alert
    assert (USED.prom_name, TOTAL.prom_name) == ("fleetwatch_swap_used_bytes", "fleetwatch_swap_total_bytes")
    doc = _report((PROC / "meminfo_kernel4.9_partial.txt").read_text()).to_dict()
    assert doc["swap_used_bytes"] == 45056 * 1024 and doc["swap_total_bytes"] == 1046524 * 1024
