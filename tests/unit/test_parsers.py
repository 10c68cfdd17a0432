"""Table tests for the section parsers over real and hand-written fixtures."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Callable

import pytest

from collector.parsers import ParseError, df, diskstats, epoch, loadavg, meminfo, netdev
from collector.parsers import nvidia, os_info, ps, rc, stat, systemd, uptime
from collector.sections import split_sections

FIXTURES = Path(__file__).parent.parent / "fixtures"


def fx(name: str) -> str:
    return (FIXTURES / name).read_text()


PROBE = split_sections(fx("probe/debian12_vm.txt"))
ERR = ParseError  # expected outcome: the parser raises ParseError


def get(obj: Any, path: str) -> Any:
    """Follow "a.0.b" through attributes and indexes; "#a" is len(a)."""
    if path.startswith("#"):
        return len(get(obj, path[1:]))
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def check(parse: Callable[[str], Any], text: str, expected: Any) -> Any:
    if expected is ERR:
        with pytest.raises(ParseError):
            parse(text)
        return None
    result = parse(text)
    assert dataclasses.is_dataclass(result)
    for path, value in expected.items():
        assert get(result, path) == value, path
    return result


def cases(table: dict[str, tuple[str, Any]]):
    """parametrize(table) with the table's keys as test ids."""
    return pytest.mark.parametrize("text,expected", list(table.values()), ids=list(table))


# --- epoch ------------------------------------------------------------------

@cases({
    "empty": ("", {"seconds": None}),  # dash: no builtin clock
    "truncated": ("17953", {"seconds": 17953}),
    "malformed": ("17953019x4\n", ERR),
    "valid": ("1795301964\n", {"seconds": 1795301964}),
    "probe_dash": (PROBE["epoch"], {"seconds": None}),
    "negative": ("-5", ERR),
    "unicode_digits": ("١٢٣", ERR),
})
def test_epoch(text, expected):
    check(epoch.parse, text, expected)


# --- uptime -----------------------------------------------------------------

@cases({
    "empty": ("", ERR),
    "truncated": ("363.08", {"seconds": 363.08, "idle_seconds": None}),
    "malformed": ("abc def", ERR),
    "valid": ("363.08 673.26\n", {"seconds": 363.08, "idle_seconds": 673.26}),
    "probe": (PROBE["uptime"], {"seconds": 528.97, "idle_seconds": 958.83}),
    "bad_idle": ("363.08 x", ERR),
    "extra_fields": ("1 2 3", ERR),
    "nan": ("nan 1", ERR),
})
def test_uptime(text, expected):
    check(uptime.parse, text, expected)


# --- stat -------------------------------------------------------------------

@cases({
    "empty": ("", ERR),
    "truncated": ("cpu  3303 0 14", ERR),
    "malformed": ("cpu  3303 x 1464 67326", ERR),
    "valid": ("cpu  3303 0 1464 67326 291 0 42 100 0 0\n", {
        "user": 3303, "system": 1464, "idle": 67326, "iowait": 291, "steal": 100,
        "guest_nice": 0, "btime": None, "cpu_count": None,
        "total": 3303 + 1464 + 67326 + 291 + 42 + 100, "busy": 3303 + 1464 + 42 + 100,
    }),
    "probe": (PROBE["stat"], {"user": 5202, "idle": 95883, "cpu_count": None}),
    "full_proc_stat": (fx("proc/stat_debian12_vm.txt"), {
        "user": 5360, "idle": 96255, "btime": 1795301435, "cpu_count": 2, "guest": 0,
    }),
    "kernel_2_6_9": (fx("proc/stat_kernel2.6.9_7fields.txt"), {
        "user": 2255, "iowait": 6290, "softirq": 456, "steal": None, "guest": None,
        "guest_nice": None, "cpu_count": 2, "btime": 1062191376,
        "total": 2255 + 34 + 2290 + 22625563 + 6290 + 127 + 456,
    }),
    "kernel_2_4": ("cpu 1 2 3 4", {"iowait": None, "total": 10, "busy": 6}),
    "no_aggregate": ("cpu0 1 2 3 4\nbtime 5", ERR),
})
def test_stat(text, expected):
    check(stat.parse, text, expected)


# --- loadavg ----------------------------------------------------------------

@cases({
    "empty": ("", ERR),
    "truncated": ("0.01 0.05", ERR),
    "malformed": ("0.01 high 0.01 1/77 14306", ERR),
    "valid": ("0.01 0.05 0.01 1/77 14306\n", {
        "load1": 0.01, "load5": 0.05, "load15": 0.01, "running": 1, "total": 77, "last_pid": 14306,
    }),
    "loads_only": ("1.5 2.5 3.5", {"running": None, "total": None, "last_pid": None}),
    "probe": (PROBE["loadavg"], {"load1": 0.08, "running": 3, "total": 82, "last_pid": 16662}),
})
def test_loadavg(text, expected):
    check(loadavg.parse, text, expected)


# --- meminfo ----------------------------------------------------------------

KB = 1024


@cases({
    "empty": ("", ERR),
    "truncated": ("MemTotal:       24731708 kB\nMemFr", ERR),
    "malformed": ("MemTotal: lots\nMemFree: 1 kB", ERR),
    "valid": (fx("proc/meminfo_debian12_vm.txt"), {
        "total_bytes": 24731708 * KB, "swap_total_bytes": 0, "shmem_bytes": 8856 * KB,
    }),
    "probe": (PROBE["meminfo"], {
        "total_bytes": 24731708 * KB, "free_bytes": 23568504 * KB,
        "available_bytes": 24396156 * KB, "buffers_bytes": 47460 * KB,
        "cached_bytes": 965380 * KB, "sreclaimable_bytes": 59528 * KB,
        "used_bytes": (24731708 - 24396156) * KB,
    }),
    "kernel_4_9": (fx("proc/meminfo_kernel4.9_partial.txt"), {
        "available_bytes": 1423560 * KB, "used_bytes": (2049452 - 1423560) * KB,
    }),
    "no_memavailable": (fx("proc/meminfo_kernel2.6.18_no_memavailable.txt"), {
        "available_bytes": None, "shmem_bytes": None, "sreclaimable_bytes": None,
        "used_bytes": (8174452 - 2371712 - 339672 - 4519872) * KB,
    }),
    "no_buffers_no_available": ("MemTotal: 100 kB\nMemFree: 10 kB\nCached: 5 kB", {
        "used_bytes": None, "buffers_bytes": None,
    }),
    "head_error_line": ("MemTotal: 100 kB\nMemFree: 10 kB\nhead: cannot open '/proc/x' for reading", {
        "total_bytes": 100 * KB,
    }),
    "no_memfree": ("MemTotal: 100 kB", ERR),
})
def test_meminfo(text, expected):
    check(meminfo.parse, text, expected)


# --- diskstats --------------------------------------------------------------

@cases({
    "empty": ("", {"#disks": 0}),  # a host without block devices
    "truncated": (" 254       0 vda 27281 5784 1617306 5371 3890 5938 4229", ERR),
    "malformed": ("   8 0 sda 1 2 x 4 5 6 7 8 9 10 11", ERR),
    "valid": (PROBE["diskstats"], {
        "#disks": 10, "disks.8.name": "vda", "disks.8.sectors_read": 1617306,
        "disks.8.read_bytes": 1617306 * 512, "disks.8.written_bytes": 422960 * 512,
        "disks.8.io_ms": 3260, "disks.8.discards": 3518, "disks.8.flushes": 259,
    }),
    "server_20col": (fx("proc/diskstats_server_kernel5.15_20col.txt"), {
        "#disks": 8, "disks.5.name": "nvme0n1", "disks.5.sectors_discarded": 123456789,
        "disks.5.flushes": 345678, "disks.5.in_flight": 2,
    }),
    "kernel_4_19_18col": (fx("proc/diskstats_kernel4.19_18col.txt"), {
        "#disks": 3, "disks.1.discards": 123, "disks.1.sectors_discarded": 456789,
        "disks.1.flushes": None,
    }),
    "kernel_2_6_14col_7col": (fx("proc/diskstats_kernel2.6.18_14col_7col_partitions.txt"), {
        "#disks": 7, "disks.2.io_ms": 503389, "disks.2.discards": None,
        "disks.3.name": "sda1", "disks.3.sectors_read": 194, "disks.3.writes": 4,
        "disks.3.sectors_written": 8, "disks.3.reads_merged": None, "disks.3.io_ms": None,
    }),
})
def test_diskstats(text, expected):
    check(diskstats.parse, text, expected)


def names(disks) -> list[str]:
    return [d.name for d in disks]


@pytest.mark.parametrize("fixture,expected", [
    ("proc/diskstats_server_kernel5.15_20col.txt", ["sda", "nvme0n1"]),
    ("proc/diskstats_kernel4.19_18col.txt", ["vda"]),
    ("proc/diskstats_kernel2.6.18_14col_7col_partitions.txt", ["sda"]),
    ("proc/diskstats_debian12_vm.txt", ["vda"]),
], ids=["server", "kernel_4_19", "kernel_2_6", "debian12_vm"])
def test_whole_disks_no_partitions_no_virtual(fixture, expected):
    assert names(diskstats.whole_disks(diskstats.parse(fx(fixture)).disks)) == expected


def test_whole_disks_partition_naming_rules():
    lines = [f"1 {i} {n} 1 0 2 0 3 0 4 0 0 0 0" for i, n in enumerate(
        ["mmcblk0", "mmcblk0p1", "nvme0n1", "nvme0n10", "nvme0n1p2", "sdaa", "sda", "sda15",
         "xvda", "xvda1", "md127", "nbd0", "sr0", "ram0", "zram0", "fd0", "dm-3", "md_d0"]
    )]
    kept = names(diskstats.whole_disks(diskstats.parse("\n".join(lines)).disks))
    # nvme0n10 is a namespace, not a partition: a disk ending in a digit takes "p".
    assert kept == ["mmcblk0", "nvme0n1", "nvme0n10", "sdaa", "sda", "xvda"]


# --- net --------------------------------------------------------------------

@cases({
    "empty": ("", ERR),
    "truncated": (PROBE["net"][:-40], ERR),
    "malformed": ("eth0: 1 2 3 x 5 6 7 8 9 10 11 12 13 14 15 16", ERR),
    "valid": (PROBE["net"], {
        "#interfaces": 4, "interfaces.3.name": "eth0", "interfaces.3.rx_bytes": 17553470,
        "interfaces.3.rx_packets": 842, "interfaces.3.tx_bytes": 64913, "interfaces.3.tx_packets": 780,
    }),
    "header_only": ("\n".join(PROBE["net"].splitlines()[:2]), {"#interfaces": 0}),
    "glued_colon": (fx("proc/net_dev_docker_host_old_format.txt"), {
        "#interfaces": 5, "interfaces.1.name": "eth0", "interfaces.1.rx_bytes": 1234567890123,
        "interfaces.1.rx_drop": 12, "interfaces.1.tx_bytes": 98765432109,
        "interfaces.3.name": "veth1234", "interfaces.3.rx_bytes": 998877665,
    }),
    "no_name": (": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16", ERR),
})
def test_netdev(text, expected):
    check(netdev.parse, text, expected)


def test_virtual_interfaces_not_counted():
    ifaces = netdev.parse(fx("proc/net_dev_docker_host_old_format.txt")).interfaces
    assert [i.name for i in ifaces if netdev.is_counted(i.name)] == ["eth0"]
    assert [i.name for i in ifaces if netdev.is_counted(i.name, excluded=("lo",))] == [
        "eth0", "docker0", "veth1234", "br-abc",
    ]
    real = netdev.parse(fx("proc/net_dev_debian12_vm.txt")).interfaces
    assert [i.name for i in real if netdev.is_counted(i.name)] == ["eth0"]  # lo, ifb0, ifb1 out


# --- df ---------------------------------------------------------------------

@cases({
    "empty": ("", {"#filesystems": 0, "#errors": 0}),  # df timed out before printing
    "truncated": ("Filesystem Type 1024-blocks Used Available Capacity Mounted on\n/dev/vda ext4 2642", {
        "#filesystems": 0, "errors": ("/dev/vda ext4 2642",),
    }),
    "malformed": ("garbage line\n", {"#filesystems": 0, "errors": ("garbage line",)}),
    "valid": (fx("df/df_PTk_root_debian12_vm.txt"), {
        "#filesystems": 1, "filesystems.0.source": "/dev/vda", "filesystems.0.fstype": "ext4",
        "filesystems.0.total_bytes": 264212084 * KB, "filesystems.0.used_bytes": 22660788 * KB,
        "filesystems.0.avail_bytes": 83730124 * KB, "filesystems.0.mount": "/",
        # used / (used + available), to one decimal; df's Capacity rounds 21.30 up to 22
        "filesystems.0.used_pct": 21.3, "filesystems.0.capacity_pct": 22.0,
    }),
    "probe_all": (PROBE["df"], {"#filesystems": 5, "filesystems.1.mount": "/dev/shm"}),
    "missing_mount": (fx("df/df_PTk_missing_mount_debian12_vm.txt"), {
        "#filesystems": 1, "errors": ("df: /nonexistent: No such file or directory",),
    }),
    "spaces_and_dash": (fx("df/df_PTk_spaces_and_dash.txt"), {
        "#filesystems": 5,
        "filesystems.1.mount": "/mnt/my disk", "filesystems.1.used_pct": 45.2, "filesystems.1.capacity_pct": 46.0,
        "filesystems.2.source": "//nas/backup share", "filesystems.2.fstype": "cifs",
        "filesystems.2.mount": "/mnt/nas  backup", "filesystems.2.total_bytes": 3906885632 * KB,
        "filesystems.3.total_bytes": 0, "filesystems.3.used_pct": None, "filesystems.3.capacity_pct": None,
        "filesystems.4.total_bytes": None, "filesystems.4.used_bytes": None,
        "filesystems.4.avail_bytes": None, "filesystems.4.fstype": "fuse.rclone", "filesystems.4.used_pct": None,
        "errors": ("df: /mnt/stale: Stale file handle",),
    }),
})
def test_df(text, expected):
    check(df.parse, text, expected)


@pytest.mark.parametrize("used,avail,pct", [
    (0, 0, None),  # no space at all (gvfsd-fuse): df prints "-", not 0 %
    (None, 83730124, None),  # df printed "-" for a size
    (22660788, None, None),
    (2331, 7669, 23.3),  # df says 24 %: it rounds up to a whole number
    (22660788, 83730124, 21.3),  # the real root above: root's reserved blocks are in neither (Size is 264212084)
    (1, 99_999, 0.0),  # df says 1 %
    (99_951, 49, 100.0),  # nearest, like every other percentage the hub shows
    (100, 0, 100.0),
])
def test_df_used_pct_is_used_of_used_plus_available_to_one_decimal(used, avail, pct):
    assert df.used_pct(used, avail) == pct


def test_df_local_disks_drops_pseudo_keeps_root():
    assert [f.mount for f in df.local_disks(df.parse(PROBE["df"]))] == ["/"]
    overlay_root = df.parse("overlay overlay 100 50 50 50% /\ntmpfs tmpfs 10 0 10 0% /dev")
    assert [f.mount for f in df.local_disks(overlay_root)] == ["/"]


# df -PTkl of Debian 7 (coreutils 8.13 over /proc/mounts; GNU df elides bind mounts itself since 8.21,
# busybox never): rootfs and the root device both at "/", /home bound into a chroot, the root device
# bound at the chroot's /tmp (written to between df's statfs calls), /run/shm bound into it, and the
# chroot's own /dev/shm (a tmpfs of the same size, 4 KiB used)
BIND = "df/df_PTkl_bind_mounts_debian7.txt"
WHEEZY_ROOT = "/dev/disk/by-uuid/5d6e4b48-3d4f-4d0c-9a5e-0c8a8b6d7e2f"


@pytest.mark.parametrize("text,tmpfs,mounts", [
    ("", False, []),  # empty: df timed out
    ("", True, []),
    (fx(BIND)[:fx(BIND).index("/dev/sda6") + 40], True, ["/", "/run", "/run/lock", "/run/shm"]),  # truncated
    ("garbage line\ntmpfs tmpfs 10 0 10 0%", True, []),  # malformed
    (fx("df/df_PTkl_debian12_vm.txt"), False, ["/"]),
    (fx("df/df_PTkl_debian12_vm.txt"), True, ["/dev/shm", "/", "/run/user/1000", "/sys/fs/cgroup"]),
    (PROBE["df"], True, ["/dev/shm", "/", "/run/user/1000", "/sys/fs/cgroup"]),  # devtmpfs is not tmpfs
    (fx(BIND), False, ["/", "/home"]),
    (fx(BIND), True, ["/", "/run", "/run/lock", "/run/shm", "/home", "/srv/chroot/wheezy-amd64/dev/shm"]),
], ids=["empty", "empty-tmpfs", "truncated", "malformed", "debian12", "debian12-tmpfs", "probe-tmpfs",
        "bind", "bind-tmpfs"])
def test_df_local_disks_table(text, tmpfs, mounts):
    assert [f.mount for f in df.local_disks(df.parse(text), tmpfs=tmpfs)] == mounts


def test_df_local_disks_keeps_each_filesystem_once_with_its_own_figures():
    rows = {f.mount: f for f in df.local_disks(df.parse(fx(BIND)), tmpfs=True)}
    # "/" twice: the last row is mounted on top, and df's figures are its
    assert (rows["/"].source, rows["/"].fstype, rows["/"].used_bytes) == (WHEEZY_ROOT, "ext4", 6135828 * KB)
    assert rows["/home"].source == "/dev/sda6"
    assert rows["/run/shm"].used_bytes == 0 and rows["/srv/chroot/wheezy-amd64/dev/shm"].used_bytes == 4 * KB


@pytest.mark.parametrize("lines,tmpfs,mounts", [
    # one device is one filesystem wherever it is mounted, even with other used bytes; the shortest mount wins
    (["/dev/sdb1 ext4 100 40 60 40% /srv/data/www", "/dev/sdb1 ext4 100 41 59 41% /srv/data"], False,
     ["/srv/data"]),
    (["/dev/sdb1 ext4 100 40 60 40% /a", "/dev/sdc1 ext4 100 40 60 40% /b"], False, ["/a", "/b"]),  # two disks
    (["/dev/sdb1 ext4 100 40 60 40% /a", "/dev/sdb1 xfs 100 40 60 40% /b"], False, ["/a", "/b"]),
    (["tank/home zfs 100 40 60 40% /home", "tank/home zfs 100 40 60 40% /srv/home"], False, ["/home"]),
    # "tmpfs" names no filesystem: the same figures are one, other figures are two
    (["tmpfs tmpfs 100 10 90 10% /run/user/1000", "tmpfs tmpfs 100 10 90 10% /run/user/0"], True,
     ["/run/user/0"]),
    (["tmpfs tmpfs 100 10 90 10% /run/user/1000", "tmpfs tmpfs 100 11 89 11% /run/user/0"], True,
     ["/run/user/1000", "/run/user/0"]),
    (["tmpfs tmpfs 100 10 90 10% /run", "tmpfs tmpfs 200 10 190 5% /dev/shm"], True, ["/run", "/dev/shm"]),
    (["tmpfs tmpfs 100 10 90 10% /run", "shm tmpfs 100 10 90 10% /dev/shm"], True, ["/run", "/dev/shm"]),
    (["tmpfs tmpfs 100 10 90 10% /run"], False, []),  # `all` leaves tmpfs out
    # overlay: "/" is kept whatever it is, every other overlay is left out, with tmpfs or without
    (["overlay overlay 100 40 60 40% /", "overlay overlay 100 40 60 40% /var/lib/docker/overlay2/a/merged"], True,
     ["/"]),
    (["overlay overlay 100 40 60 40% /", "/dev/sda1 ext4 100 40 60 40% /etc/hosts",
      "/dev/sda1 ext4 100 40 60 40% /etc/hostname", "/dev/sda1 ext4 100 40 60 40% /etc/resolv.conf"], False,
     ["/", "/etc/hosts"]),  # a container: three files bound from the host's disk
    # unknown sizes: a source that names nothing cannot be matched, a device still can
    (["none fuse.x - - - - /a", "none fuse.x - - - - /b"], False, ["/a", "/b"]),
    (["/dev/sdb1 ext4 - - - - /a", "/dev/sdb1 ext4 - - - - /bb"], False, ["/a"]),
])
def test_df_local_disks_bind_mounts(lines, tmpfs, mounts):
    assert [f.mount for f in df.local_disks(df.parse("\n".join(lines)), tmpfs=tmpfs)] == mounts


# --- os ---------------------------------------------------------------------

OS_NO_ARCH = """1795301964
528.97 958.83
==> /etc/os-release <==
NAME='Ubuntu'
PRETTY_NAME="Ubuntu 20.04.6 LTS \\"focal\\""
ID=ubuntu
# a comment
VERSION_ID="20.04"

==> /proc/sys/kernel/hostname <==
gpu-node-7
head: cannot open '/proc/sys/kernel/arch' for reading: No such file or directory

==> /proc/sys/kernel/ostype <==
Linux

==> /proc/sys/kernel/osrelease <==
5.4.0-150-generic

==> /sys/devices/system/cpu/online <==
0-3,8-11
"""


@cases({
    "empty": ("", {"epoch": None, "hostname": None, "cpu_count": None, "pretty_name": None}),
    "truncated": ("1795301964\n528.9", {"epoch": 1795301964, "uptime_s": 528.9, "hostname": None}),
    "malformed": ("no\nidea\n==> /sys/devices/system/cpu/online <==\n0-x", {
        "epoch": None, "uptime_s": None, "cpu_count": None,
    }),
    "valid": (PROBE["os"], {
        "epoch": 1795301964, "uptime_s": 528.97, "hostname": "vm",
        "pretty_name": "Debian GNU/Linux 12 (bookworm)", "os_id": "debian", "version_id": "12",
        "kernel": "6.18.44-fc-v657", "ostype": "Linux", "arch": "x86_64", "cpu_count": 2,
    }),
    "missing_file_and_escapes": (OS_NO_ARCH, {
        "hostname": "gpu-node-7", "arch": None, "pretty_name": 'Ubuntu 20.04.6 LTS "focal"',
        "os_id": "ubuntu", "version_id": "20.04", "kernel": "5.4.0-150-generic", "cpu_count": 8,
    }),
})
def test_os_info(text, expected):
    check(os_info.parse, text, expected)


@pytest.mark.parametrize("raw,value", [
    ('"Debian GNU/Linux 12 (bookworm)"', "Debian GNU/Linux 12 (bookworm)"),
    ("'single \\n kept'", "single \\n kept"),
    ('"a \\$b \\"c\\" \\\\ \\`d\\`"', 'a $b "c" \\ `d`'),
    ("plain", "plain"),
    ('"', '"'),
])
def test_os_release_unquote(raw, value):
    assert os_info.unquote(raw) == value
    assert os_info.os_release(fx("os/os-release_debian12_vm.txt"))["VERSION"] == "12 (bookworm)"


@pytest.mark.parametrize("text,count", [
    ("0", 1), ("0-1", 2), ("0-3,8-11", 8), ("0,2,4-5", 4), ("", None), ("3-1", None), ("a-b", None),
])
def test_cpu_list_count(text, count):
    assert os_info.cpu_list_count(text) == count


# --- nvidia -----------------------------------------------------------------

@cases({
    "empty": ("", {"absent": False, "#gpus": 0, "#errors": 0}),
    "truncated": ("0, GPU-8e5b3c2a, NVIDIA GeForce RTX 3090, 00000000:01:00.0, 37", {
        "#gpus": 0, "#errors": 1,
    }),
    "malformed": ("x, a, b, c, 1, 2, 3, 4, 5, 6, 7, 8", {"#gpus": 0, "#errors": 1}),
    "valid": (fx("nvidia/two_gpus_power_na.csv"), {
        "absent": False, "#gpus": 2, "#errors": 0,
        "gpus.0.index": 0, "gpus.0.uuid": "GPU-8e5b3c2a-1f4d-4b7e-9a6c-2d3e4f5a6b7c",
        "gpus.0.name": "NVIDIA GeForce RTX 3090", "gpus.0.pci_bus_id": "00000000:01:00.0",
        "gpus.0.util_pct": 37.0, "gpus.0.mem_util_pct": 12.0, "gpus.0.mem_used_mb": 2345.0,
        "gpus.0.mem_total_mb": 24576.0, "gpus.0.temperature_c": 54.0, "gpus.0.power_w": 112.45,
        "gpus.0.power_limit_w": 350.0, "gpus.0.fan_pct": 41.0,
        "gpus.1.power_w": None, "gpus.1.power_limit_w": None, "gpus.1.fan_pct": 23.0,
    }),
    "absent": ("absent\n", {"absent": True, "#gpus": 0, "#errors": 0}),
    "h100x8": (fx("nvidia/h100x8.csv"), {
        "#gpus": 8, "gpus.7.index": 7, "gpus.7.pci_bus_id": "00000000:DB:00.0",
        "gpus.7.mem_total_mb": 81559.0, "gpus.7.fan_pct": None, "gpus.2.power_w": 698.77,
    }),
    "not_supported": (fx("nvidia/not_supported.csv"), {
        "#gpus": 1, "gpus.0.util_pct": None, "gpus.0.mem_util_pct": None,
        "gpus.0.power_w": None, "gpus.0.mem_used_mb": 212.0, "gpus.0.temperature_c": 40.0,
    }),
    # the probe's full list (QUERY_FIELDS): the fake nvidia-smi's two A100s
    "valid: full list": (fx("nvidia/a100x2_full.csv"), {
        "#gpus": 2, "#errors": 0, "gpus.0.util_pct": 37.0, "gpus.0.fan_pct": None,
        "gpus.0.sm_clock_mhz": 1410.0, "gpus.0.mem_clock_mhz": 1593.0, "gpus.0.pstate": 0, "gpus.0.pcie_gen": 4,
        "gpus.0.pcie_width": 16, "gpus.0.persistence_mode": True, "gpus.0.mig_mode": False,
        "gpus.0.reason_power_cap": True, "gpus.0.reason_idle": False, "gpus.0.reason_thermal": False,
        "gpus.1.reason_idle": True, "gpus.1.reason_power_cap": False, "gpus.1.ecc_corrected_volatile": 3,
        "gpus.1.ecc_uncorrected_volatile": 0, "gpus.1.ecc_corrected_aggregate": 17,
        "gpus.1.ecc_uncorrected_aggregate": 0, "gpus.1.retired_pages_pending": None,
        "gpus.1.remapped_rows_pending": False, "gpus.0.lost": False, "gpus.1.lost": False,
    }),
    # thermal slowdown (SW 0x20 | HW 0x40), ECC errors and a remap pending; MIG; an old card; a lost card
    "valid: throttled, MIG, old card, lost": (fx("nvidia/throttled_full.csv"), {
        "#gpus": 4, "#errors": 0, "gpus.0.reason_thermal": True, "gpus.0.reason_power_cap": False,
        "gpus.0.ecc_uncorrected_volatile": 2, "gpus.0.remapped_rows_pending": True, "gpus.0.pstate": 0,
        "gpus.1.mig_mode": True, "gpus.1.util_pct": None, "gpus.1.reason_power_cap": True,
        "gpus.1.reason_hw_slowdown": True, "gpus.1.reason_sync_boost": True, "gpus.1.reason_thermal": False,
        "gpus.2.pstate": 8, "gpus.2.mig_mode": None, "gpus.2.reason_thermal": None,
        "gpus.2.ecc_uncorrected_volatile": None, "gpus.2.persistence_mode": False, "gpus.2.lost": False,
        "gpus.3.lost": True, "gpus.3.name": "NVIDIA A100-SXM4-80GB", "gpus.3.temperature_c": None,
    }),
    "valid: [Unknown Error] card is lost": (fx("nvidia/unknown_error_full.csv"), {
        "#gpus": 2, "gpus.0.lost": False, "gpus.1.lost": True, "gpus.1.uuid": "GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10",
        "gpus.1.util_pct": None, "gpus.1.pstate": None, "gpus.1.reason_thermal": None,
    }),
    "truncated: full list cut": (fx("nvidia/a100x2_full.csv").splitlines()[0][:-12], {"#gpus": 0, "#errors": 1}),
    "driver_error": (fx("nvidia/driver_error.txt"), {
        "absent": False, "#gpus": 0,
        "errors": ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
                   "Make sure that the latest NVIDIA driver is installed and running.",),
    }),
})
def test_nvidia(text, expected):
    check(nvidia.parse, text, expected)


@pytest.mark.parametrize("value", [
    "N/A", "[N/A]", "[Not Supported]", "[Unknown Error]", "[GPU requires reset]",
    "[Insufficient Permissions]", "",
])
@pytest.mark.parametrize("fields", [nvidia.BASE_FIELDS, len(nvidia.QUERY_FIELDS)])
def test_nvidia_unavailable_values_are_none(value, fields):
    line = "0" + f", {value}" * (fields - 1)
    gpu = nvidia.parse(line).gpus[0]
    assert all(getattr(gpu, f.name) is None for f in dataclasses.fields(gpu)
               if f.name not in ("index", "lost", "vendor"))
    assert gpu.vendor == "nvidia"
    assert gpu.lost is (value == "[Unknown Error]")


def test_nvidia_query_fields_are_the_probes_lists():
    probe = (Path(__file__).parent.parent.parent / "remote_scripts" / "probe.sh").read_text()
    lists = dict(re.findall(r"^(FW_GPU_[A-Z]+)=(\S+)$", probe, re.M))
    base, state, health = (lists[f"FW_GPU_{n}"].split(",") for n in ("BASE", "STATE", "HEALTH"))
    assert base == list(nvidia.QUERY_FIELDS[:nvidia.BASE_FIELDS])
    assert [*base, *state, "clocks_event_reasons.active", *health] == list(nvidia.QUERY_FIELDS)
    queries = re.findall(r'fw_gpu_query "(\S+)"', probe)
    assert queries == ["$FW_GPU_BASE,$FW_GPU_STATE,clocks_event_reasons.active,$FW_GPU_HEALTH",
                       "$FW_GPU_BASE,$FW_GPU_STATE,clocks_throttle_reasons.active,$FW_GPU_HEALTH",
                       "$FW_GPU_BASE"]


@pytest.mark.parametrize("mask,reasons", [
    # (idle, power cap, HW slowdown, sync boost, thermal) from NVML's clocksEventReason bits
    ("0x0000000000000000", (False,) * 5),
    ("0x0000000000000001", (True, False, False, False, False)),
    ("0x0000000000000002", (False,) * 5),  # applications clocks setting: none of these
    ("0x0000000000000004", (False, True, False, False, False)),
    ("0x0000000000000008", (False, False, True, False, False)),
    ("0x0000000000000010", (False, False, False, True, False)),
    ("0x0000000000000020", (False, False, False, False, True)),
    ("0x0000000000000040", (False, False, False, False, True)),
    ("0x0000000000000080", (False,) * 5),  # HW power brake alone
    ("0xFFFFFFFFFFFFFFFF", (True,) * 5),
    ("[N/A]", (None,) * 5), ("[Not Supported]", (None,) * 5), ("0x", (None,) * 5), ("0x1_0", (None,) * 5),
    ("0x10000000000000000", (None,) * 5), ("12", (None,) * 5),
])
def test_nvidia_clocks_event_reasons(mask, reasons):
    row = fx("nvidia/a100x2_full.csv").splitlines()[0].split(", ")
    row[nvidia.QUERY_FIELDS.index("clocks_event_reasons.active")] = mask
    gpu = nvidia.parse(", ".join(row)).gpus[0]
    assert (gpu.reason_idle, gpu.reason_power_cap, gpu.reason_hw_slowdown, gpu.reason_sync_boost,
            gpu.reason_thermal) == reasons


# --- systemd ----------------------------------------------------------------

@cases({
    "empty": ("", {"absent": False, "#units": 0, "#errors": 0}),
    "truncated": ("Id=nginx.service\nLoadState=loaded\nActiveSt", {
        "units.0.load_state": "loaded", "units.0.active_state": None, "#errors": 1,
    }),
    "malformed": ("LoadState=loaded\nActiveState=active", {"#units": 0, "#errors": 1}),
    "valid": (fx("systemd/show_mixed_units.txt"), {
        "absent": False, "#units": 4, "#errors": 0,
        "units.0.name": "nginx.service", "units.0.active_state": "active", "units.0.sub_state": "running",
        "units.1.active_state": "failed", "units.2.active_state": "activating",
        "units.2.sub_state": "auto-restart", "units.3.name": "nosuch.service",
        "units.3.load_state": "not-found", "units.3.sub_state": "dead",
    }),
    "absent": ("absent", {"absent": True, "#units": 0}),
    "no_systemd": (fx("systemd/no_systemd_debian12_vm.txt"), {
        "#units": 0, "errors": (
            "System has not been booted with systemd as init system (PID 1). Can't operate.",
            "Failed to connect to bus: Host is down",
        ),
    }),
    "any_order": ("SubState=running\nActiveState=active\nId=a.service\nLoadState=loaded\n\n"
                  "ActiveState=inactive\nId=b.timer\nSubState=dead\nLoadState=loaded\n", {
        "units.0.name": "a.service", "units.0.sub_state": "running",
        "units.1.name": "b.timer", "units.1.active_state": "inactive",
    }),
})
def test_systemd(text, expected):
    check(systemd.parse, text, expected)


# --- ps ---------------------------------------------------------------------

@cases({
    "empty": ("", {"#processes": 0, "#errors": 0}),
    "truncated": ("16427 52.6", {"#processes": 0, "#errors": 1}),
    "malformed": ("sh: 1: ps: not found", {"#processes": 0, "errors": ("sh: 1: ps: not found",)}),
    "valid": (fx("ps/procps_debian12_vm.txt"), {"#processes": 15, "#errors": 0}),
    "probe": (PROBE["ps"], {
        "processes.0.pid": 1, "processes.0.cpu_pct": 0.3, "processes.0.rss_bytes": 11184 * KB,
        "processes.0.name": "process_api", "processes.10.name": "memfd:sealed-91",
    }),
    "spaces_in_comm": (fx("ps/procps_spaces_in_comm.txt"), {
        "processes.0.name": "Web Content", "processes.0.rss_bytes": 1843220 * KB,
        "processes.1.name": "tmux: server", "processes.1.cpu_pct": 12.5,
    }),
})
def test_ps(text, expected):
    check(ps.parse, text, expected)


# --- rc ---------------------------------------------------------------------

@cases({
    "empty": ("", {"codes": ()}),
    "truncated": ("ps", ERR),
    "malformed": ("ps zero", ERR),
    "valid": ("nvidia 124\nsystemd 0\nps 127\n", {
        "codes": (("nvidia", 124), ("systemd", 0), ("ps", 127)),
    }),
    "probe": (PROBE["rc"], {"codes": (("ps", 0),)}),
})
def test_rc(text, expected):
    result = check(rc.parse, text, expected)
    if result is not None and result.codes:
        name, code = result.codes[0]
        assert result.get(name) == code
        assert result.get("never-ran") is None


# --- all records ------------------------------------------------------------

PARSERS = {
    "epoch": epoch.parse, "uptime": uptime.parse, "stat": stat.parse, "loadavg": loadavg.parse,
    "meminfo": meminfo.parse, "diskstats": diskstats.parse, "net": netdev.parse, "df": df.parse,
    "os": os_info.parse, "ps": ps.parse, "rc": rc.parse,
}


def test_every_probe_section_parses():
    assert set(PROBE) == set(PARSERS)
    for name, parse in PARSERS.items():
        parse(PROBE[name])
    nxt = split_sections(fx("probe/debian12_vm_next.txt"))
    for name in nxt:
        PARSERS[name](nxt[name])


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_records_are_frozen_and_use_tuples(name):
    record = PARSERS[name](PROBE[name])
    assert record.__dataclass_params__.frozen
    assert not hasattr(record, "__dict__")  # slots
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, dataclasses.fields(record)[0].name, None)
    for f in dataclasses.fields(record):
        assert not isinstance(getattr(record, f.name), (list, dict))
