"""The simulated fleet of benchmarks/fleet.py answers the hub's real probe as a real server would.

A fleetsim process serves 5 hosts on loopback; the hub's own connection
(`HostConnection`, strict host key checking through the generated OpenSSH
known_hosts) runs the hub's own probe (`probe_once`, as `fleetwatch probe`
does) and the hub's parsers and `build_report` judge the output. A few
seconds in all.
"""
from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.errors import Failure, HostError
from collector.parsers.diskstats import whole_disks
from collector.prober import probe_once
from collector.report import build_report
from collector.ssh_pool import HostConnection
from inventory import load_inventory

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from fleetsim_output import HostProfile

HOSTS = 5


def _gpu_seed() -> int:
    """The first seed whose 5 hosts include a GPU server and a plain one (the draw is deterministic)."""
    for seed in range(1, 100):
        counts = [HostProfile(seed, i).gpu_count for i in range(HOSTS)]
        if any(counts) and not all(counts):
            return seed
    raise AssertionError("no seed gives a GPU host among 5")


def _free_ports(n: int) -> int:
    """A first port with n free ports after it (below the ephemeral range)."""
    for _ in range(50):
        base = random.randrange(21000, 32000)
        socks = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory) -> Iterator[tuple[Path, int]]:
    out = tmp_path_factory.mktemp("fleetsim")
    seed = _gpu_seed()
    cmd = [sys.executable, str(ROOT / "benchmarks" / "fleetsim.py"), "--hosts", str(HOSTS), "--first-port",
           str(_free_ports(HOSTS)), "--seed", str(seed), "--out", str(out), "--drop-pct", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        lines = [proc.stdout.readline().decode() for _ in range(2)]  # inventory ..., READY ...
        assert lines[1].startswith("READY"), lines
        yield out, seed
    finally:
        proc.terminate()
        proc.wait(timeout=15)


async def test_probes_parse_cleanly_and_counters_advance(fleet) -> None:
    out, seed = fleet
    specs = load_inventory(out / "hosts.yaml").resolved_hosts()
    assert len(specs) == HOSTS
    gpu_hosts = 0
    for spec in specs:
        profile = HostProfile(seed, int(spec.id.split("-")[1]))
        conn = HostConnection(spec)
        try:
            first = await probe_once(conn, want_os=True, want_ps=True)
            await asyncio.sleep(1.1)
            second = await probe_once(conn)
        finally:
            await conn.close()
        report = build_report(spec.id, (first, second), disks=spec.disks)
        assert first.errors == {} and second.errors == {}, (spec.id, first.errors, second.errors)
        assert report.errors == {} and report.state == "up"
        # realistic sizes: disks and interfaces like servers, output within probe.sh's budget
        disks = whole_disks(second.get("diskstats").disks)
        assert 2 <= len(disks) <= 12 and len(disks) == profile.whole_disks
        assert 2 <= len(second.get("net").interfaces) <= 10
        assert 1 <= len(report.disks)
        assert 2_000 <= report.probe_bytes <= 16 * 1024
        assert first.get("os").hostname == profile.hostname and report.cpu_count == profile.cpus
        assert len(report.top_processes) == 15
        assert [s.name for s in report.services] == list(spec.services)
        # counters advance between two probes; rates come out
        assert second.get("uptime").seconds > first.get("uptime").seconds
        assert second.get("stat").total > first.get("stat").total
        assert sum(n.rx_bytes for n in second.get("net").interfaces) > sum(
            n.rx_bytes for n in first.get("net").interfaces)
        assert report.cpu_pct is not None and 0 <= report.cpu_pct <= 100
        assert report.disk_write_bps > 0 and report.net_rx_bps > 0
        assert report.host_epoch is not None
        assert report.gpu_count == profile.gpu_count
        if profile.gpu_count:
            gpu_hosts += 1
            assert all(g.util_pct is not None and g.temperature_c is not None for g in report.gpus)
    assert gpu_hosts >= 1


async def test_only_known_host_keys_pass(fleet, tmp_path) -> None:
    """Strict host key checking goes through the ordinary known_hosts: a wrong key there refuses."""
    out, _ = fleet
    specs = load_inventory(out / "hosts.yaml").resolved_hosts()
    lines = (out / "known_hosts").read_text().splitlines()
    hashed = [ln for ln in lines if ln.startswith("|1|")]
    assert hashed and len(hashed) < len(lines)  # both forms, as ssh-keygen -H leaves a file
    # host 0's line names host 0's port with host 1's key
    wrong = tmp_path / "known_hosts"
    wrong.write_text(lines[0].split()[0] + " " + " ".join(lines[1].split()[1:]) + "\n")
    conn = HostConnection(specs[0].model_copy(update={"known_hosts": wrong}))
    try:
        with pytest.raises(HostError) as err:
            await conn.run("true")
        assert err.value.failure is Failure.HOST_KEY_MISMATCH
    finally:
        await conn.close()
    conn = HostConnection(specs[1])
    try:
        result = await conn.run("uptime")  # not the probe: answered as a shell without it would
        assert result.exit_status == 127 and b"not found" in result.stdout
    finally:
        await conn.close()
