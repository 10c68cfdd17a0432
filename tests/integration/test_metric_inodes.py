"""Filesystem inode use % per mount (catalogue: disk_inodes_used_pct, used / (used + free)) from `df -Pi`, as GNU coreutils and busybox
print it; a filesystem without fixed inodes (btrfs, vfat) has no value, never 0 %."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from collector.metrics.catalogue import CATALOGUE
from collector.parsers import inodes
from collector.reading import parse_output
from collector.recorder import rows_from_report
from collector.report import build_report
from remote_scripts import probe_command

INODES = CATALOGUE.get("disk_inodes_used_pct", "disk")
FIXTURES = Path(__file__).parent.parent / "fixtures" / "probe"
# GNU coreutils 9.1 on Debian 12 (df -Pil), and a btrfs volume, which allocates inodes as it goes
REAL = """Filesystem                Inodes  IUsed    IFree IUse% Mounted on
devtmpfs                 3083706    113  3083593    1% /dev
/dev/vda                16777216 493977 16283239    3% /
/dev/sdb1                      0      0        0     - /data
//nas/share with space   1000000 900000   100000   90% /mnt/nas share
"""


@pytest.mark.parametrize("case, text, expected", [
    ("valid: coreutils, btrfs and a CIFS share", REAL,
     {"/dev": 0.0, "/": 2.9, "/data": None, "/mnt/nas share": 90.0}),  # exact: df rounds up to 1 % and 3 %
    ("empty: disks: []", "", {}),
    ("truncated: df cut off mid-row", REAL.splitlines()[0] + "\n" + REAL.splitlines()[1] + "\n/dev/vda  1677",
     {"/dev": 0.0}),
    ("malformed: a df without -i", "df: invalid option -- 'i'\nBusyBox v1.35.0 multi-call binary.\n", {}),
])
def test_inode_use_by_mount(case, text, expected):
    record = inodes.parse(text)
    assert {m: record.used_pct(m) for m in record.by_mount} == expected, case
    if case.startswith("malformed"):
        assert record.errors and "invalid option" in record.errors[0]


def test_probe_reports_inode_use_per_watched_disk():
    """The real probe on this machine (dash, GNU df): every watched mount gets its inode use; a probe without the
    section (an older capture) is still fine, with no inode values."""
    out = subprocess.run(["/bin/dash", "-c", probe_command(["-m", "/"])], capture_output=True, timeout=30).stdout
    report = build_report("h", (parse_output(out, 0, 1.0),))
    assert report.errors == {}, report.errors
    (root,) = report.disks
    value = INODES.value(report, root)
    assert value is not None and 0 <= value <= 100
    assert report.to_dict()["disks"][0]["inode_used_pct"] == value
    assert rows_from_report(report).disks[0]["inode_used_pct"] == value
    old = build_report("h", (parse_output((FIXTURES / "debian12_vm.txt").read_bytes(), 0, 1.0),))
    assert old.errors == {} and all(INODES.value(old, d) is None for d in old.disks)


@pytest.mark.parametrize("shell", [["/bin/dash", "-c"], ["/bin/busybox", "sh", "-c"]])
def test_probe_section_under_each_shell(shell):
    out = subprocess.run([*shell, probe_command(["-m", "/"])], capture_output=True, timeout=30).stdout.decode()
    section = out.split("<<<inodes>>>\n", 1)[1].split("<<<", 1)[0]
    assert inodes.parse(section).used_pct("/") is not None


def test_stored_rolled_up_alertable_exported():
    assert INODES.column == "float" and INODES.rollup == ("last",) and INODES.alert and INODES.table
    assert INODES.hourly_name("last") == "inode_used_pct"
    assert INODES.prom_name == "fleetwatch_filesystem_inodes_used_percent"
