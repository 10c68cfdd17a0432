"""Rates over two readings: real consecutive probes and counter resets."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from collector import rates
from collector.parsers import diskstats, netdev, stat, uptime
from collector.sections import split_sections

FIXTURES = Path(__file__).parent.parent / "fixtures"
PREV = split_sections((FIXTURES / "probe/debian12_vm.txt").read_text())
CUR = split_sections((FIXTURES / "probe/debian12_vm_next.txt").read_text())
SECONDS = 531.71 - 528.97  # host-side, from the two readings' /proc/uptime


def disks(*rows: tuple[str, int, int]) -> diskstats.DiskStats:
    """DiskStats from (name, sectors_read, sectors_written) in the 14-column format."""
    text = "\n".join(f"8 {i} {n} 1 0 {r} 0 1 0 {w} 0 0 0 0" for i, (n, r, w) in enumerate(rows))
    return diskstats.parse(text)


def nets(*rows: tuple[str, int, int]) -> netdev.NetDevs:
    """NetDevs from (name, rx_bytes, tx_bytes)."""
    return netdev.parse("\n".join(f"{n}: {rx} 1 0 0 0 0 0 0 {tx} 1 0 0 0 0 0 0" for n, rx, tx in rows))


# --- elapsed ----------------------------------------------------------------

def test_elapsed_real_readings():
    dt = rates.elapsed(uptime.parse(PREV["uptime"]), uptime.parse(CUR["uptime"]))
    assert dt == pytest.approx(SECONDS)


@pytest.mark.parametrize("prev,cur", [(528.97, 12.3), (100.0, 100.0)], ids=["reboot", "no_time"])
def test_elapsed_backwards_or_zero_is_none(prev, cur):
    assert rates.elapsed(uptime.Uptime(prev, None), uptime.Uptime(cur, None)) is None


# --- cpu --------------------------------------------------------------------

def test_cpu_pct_real_consecutive_readings():
    prev, cur = stat.parse(PREV["stat"]), stat.parse(CUR["stat"])
    pct = rates.cpu_pct(prev, cur)
    assert pct is not None and 0.0 <= pct <= 100.0
    expected = 100 * (cur.busy - prev.busy) / (cur.total - prev.total)
    assert pct == pytest.approx(expected)
    assert pct > 5  # a busy loop ran between the two probes


def test_cpu_pct_full_proc_stat_against_probe_line():
    prev = stat.parse(PREV["stat"])
    cur = stat.parse((FIXTURES / "proc/stat_debian12_vm.txt").read_text())
    pct = rates.cpu_pct(prev, cur)
    assert pct is not None and 0.0 <= pct <= 100.0


@pytest.mark.parametrize("prev,cur", [
    ("cpu 100 0 100 1000 10 0 0 0 0 0", "cpu 5 0 5 50 1 0 0 0 0 0"),  # reboot
    ("cpu 100 0 100 1000 10 0 0 0 0 0", "cpu 100 0 100 1000 10 0 0 0 0 0"),  # no ticks
    ("cpu 100 0 100 1000 10 0 0 0 0 0", "cpu 200 0 200 1100 5 0 0 0 0 0"),  # iowait back
    ("cpu 100 0 100 1000", "cpu 200 0 200 1100 5 0 0 0 0 0"),  # another kernel
], ids=["all_back", "no_ticks", "one_back", "fields_changed"])
def test_cpu_pct_none(prev, cur):
    assert rates.cpu_pct(stat.parse(prev), stat.parse(cur)) is None


def test_cpu_pct_bounds():
    idle = rates.cpu_pct(stat.parse("cpu 0 0 0 0 0"), stat.parse("cpu 0 0 0 100 0"))
    busy = rates.cpu_pct(stat.parse("cpu 0 0 0 0 0"), stat.parse("cpu 60 0 40 0 0"))
    assert (idle, busy) == (0.0, 100.0)
    # iowait is not busy time
    assert rates.cpu_pct(stat.parse("cpu 0 0 0 0 0"), stat.parse("cpu 25 0 0 25 50")) == 25.0


# --- counter_rate -----------------------------------------------------------

@pytest.mark.parametrize("prev,cur,seconds,rate", [
    (100, 300, 2.0, 100.0),
    (100, 100, 5.0, 0.0),
    (2**32 - 10, 5, 5.0, None),  # 32-bit wrap
    (10**12, 10, 5.0, None),  # reset by reboot
    (100, 300, 0.0, None),
    (100, 300, -1.0, None),
    (100, 300, float("nan"), None),
], ids=["normal", "idle", "wrap", "reset", "zero_time", "negative_time", "nan_time"])
def test_counter_rate(prev, cur, seconds, rate):
    assert rates.counter_rate(prev, cur, seconds) == rate


# --- disks ------------------------------------------------------------------

def test_disk_rates_real_readings():
    r = rates.disk_rates(diskstats.parse(PREV["diskstats"]), diskstats.parse(CUR["diskstats"]), SECONDS)
    assert [name for name, _, _ in r.per_disk] == ["vda"]  # no loop*, no zram0
    assert r.write_bps == pytest.approx((525376 - 422960) * 512 / SECONDS)
    assert r.read_bps == pytest.approx((1617482 - 1617306) * 512 / SECONDS)
    assert r.write_bps > 10 * 2**20  # 50 MiB written with fsync between the probes


def test_disk_rates_partitions_not_double_counted():
    prev = disks(("sda", 0, 0), ("sda1", 0, 0), ("sda2", 0, 0), ("dm-0", 0, 0), ("md0", 0, 0))
    cur = disks(("sda", 1000, 2000), ("sda1", 400, 0), ("sda2", 600, 2000), ("dm-0", 600, 2000),
                ("md0", 600, 2000))
    r = rates.disk_rates(prev, cur, 10.0)
    assert (r.read_bps, r.write_bps) == (1000 * 512 / 10, 2000 * 512 / 10)
    assert r.per_disk == (("sda", 51200.0, 102400.0),)


def test_disk_rates_per_disk_and_totals():
    prev = disks(("sda", 0, 0), ("nvme0n1", 100, 100), ("nvme0n1p1", 100, 100))
    cur = disks(("sda", 20, 10), ("nvme0n1", 120, 140), ("nvme0n1p1", 120, 140))
    r = rates.disk_rates(prev, cur, 2.0)
    assert r.per_disk == (("sda", 5120.0, 2560.0), ("nvme0n1", 5120.0, 10240.0))
    assert (r.read_bps, r.write_bps) == (10240.0, 12800.0)


def test_disk_rates_counter_back_gives_no_total():
    prev = disks(("sda", 1000, 1000), ("sdb", 10, 10))
    cur = disks(("sda", 5, 1100), ("sdb", 20, 20))
    r = rates.disk_rates(prev, cur, 1.0)
    assert r.read_bps is None and r.write_bps == (100 + 10) * 512
    assert r.per_disk[0] == ("sda", None, 100 * 512.0)


def test_disk_rates_new_device_not_counted():
    prev = disks(("sda", 0, 0))
    cur = disks(("sda", 10, 10), ("sdb", 10**9, 10**9))  # hot-plugged with old counters
    r = rates.disk_rates(prev, cur, 1.0)
    assert [n for n, _, _ in r.per_disk] == ["sda"] and r.read_bps == 5120.0


def test_disk_rates_no_time_is_none():
    d = disks(("sda", 0, 0))
    r = rates.disk_rates(d, d, 0.0)
    assert (r.read_bps, r.write_bps) == (None, None)


# --- network ----------------------------------------------------------------

def test_net_rates_real_readings():
    r = rates.net_rates(netdev.parse(PREV["net"]), netdev.parse(CUR["net"]), SECONDS)
    assert [(name, counted) for name, _, _, counted in r.per_interface] == [
        ("lo", False), ("ifb0", False), ("ifb1", False), ("eth0", True)]  # by name: lo, ifb* not counted
    assert r.rx_bps is not None and r.rx_bps >= 0 and r.tx_bps is not None and r.tx_bps >= 0


def test_net_rates_virtual_excluded_and_chosen():
    prev = nets(("lo", 0, 0), ("eth0", 0, 0), ("docker0", 0, 0), ("veth1234", 0, 0), ("br-abc", 0, 0))
    cur = nets(("lo", 999, 999), ("eth0", 100, 200), ("docker0", 50, 50), ("veth1234", 50, 50),
               ("br-abc", 50, 50))
    r = rates.net_rates(prev, cur, 10.0)
    assert (r.rx_bps, r.tx_bps) == (10.0, 20.0)
    r = rates.net_rates(prev, cur, 10.0, counted={"eth0", "docker0", "br-abc"})
    assert (r.rx_bps, r.tx_bps) == (20.0, 30.0)


def test_net_rates_reset_and_new_interface():
    prev = nets(("eth0", 10**10, 100), ("eth1", 0, 0))
    cur = nets(("eth0", 50, 200), ("eth1", 10, 10), ("wg0", 10**9, 10**9))
    r = rates.net_rates(prev, cur, 1.0)
    assert r.rx_bps is None and r.tx_bps == 110.0  # eth0 rx reset: no total, never negative
    assert [n for n, *_ in r.per_interface] == ["eth0", "eth1"]


def test_rate_records_are_frozen():
    r = rates.net_rates(nets(("eth0", 0, 0)), nets(("eth0", 1, 1)), 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.rx_bps = 0.0  # type: ignore[misc]
