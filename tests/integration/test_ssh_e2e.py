"""End to end over a real OpenSSH sshd: `fleetwatch probe`, failure classes, reuse, trust."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import asyncssh
import pytest

from collector.backoff import Backoff
from collector.errors import Failure, HostError
from collector.prober import probe_once
from collector.ssh_pool import HostConnection
from inventory import load_inventory
from tests.support.sshd import SSHDServer, free_port, write_key

SERVICES = ["nginx.service", "broken.service", "slow.service", "nope.service"]


def fleetwatch(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "collector.cli", *args], capture_output=True, text=True,
                            timeout=timeout, stdin=subprocess.DEVNULL)
    return result, time.monotonic() - started


def meminfo_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def test_probe_json_reports_this_machine(inventory_file) -> None:
    inv = inventory_file(services=SERVICES, gpu="auto")
    result, _ = fleetwatch("probe", "test-host", "--json", "--inventory", str(inv))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["state"] == "up" and report["errors"] == {}
    assert report["mem_total_bytes"] == meminfo_total_bytes()
    root = next(d for d in report["disks"] if d["mount"] == "/")
    st = os.statvfs("/")
    assert abs(root["total_bytes"] - st.f_blocks * st.f_frsize) < 1024 * 1024
    assert 0 <= report["cpu_pct"] <= 100
    assert report["cpu_count"] == os.cpu_count()
    for key in ("disk_read_bps", "disk_write_bps", "net_rx_bps", "net_tx_bps"):
        assert report[key] is not None and report[key] >= 0, key
    assert report["gpu_count"] == 2
    assert report["gpus"][0]["name"] == "NVIDIA A100-SXM4-80GB"
    assert report["gpus"][0]["power_w"] == 92.15
    assert report["gpus"][1]["power_w"] is None  # [N/A] is None, not 0
    states = {s["name"]: (s["active_state"], s["sub_state"]) for s in report["services"]}
    assert states == {"nginx.service": ("active", "running"), "broken.service": ("failed", "failed"),
                      "slow.service": ("activating", "start"), "nope.service": ("inactive", "dead")}
    assert report["os"]["hostname"] == socket.gethostname()
    assert report["os"]["kernel"] == os.uname().release
    assert report["top_processes"] and all(p["pid"] > 0 for p in report["top_processes"])
    assert abs(report["host_epoch"] - time.time()) < 5


def test_probe_prints_a_readable_table(inventory_file) -> None:
    inv = inventory_file(services=["nginx.service"])
    result, _ = fleetwatch("probe", "test-host", "--inventory", str(inv))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for expected in ("CPU busy", "cores", "Memory used", "GiB", "Disk read / write", "B/s", "GPUs      2", "°C", "nginx.service"):
        assert expected in text, expected


def test_probe_disks_all_plus_tmpfs_adds_this_machines_tmpfs(inventory_file) -> None:
    seen: dict[str, dict[str, str]] = {}
    for mode in ("all", "all+tmpfs"):
        result, _ = fleetwatch("probe", "test-host", "--json", "--inventory", str(inventory_file(disks=mode)))
        assert result.returncode == 0, result.stderr
        disks = json.loads(result.stdout)["disks"]
        seen[mode] = {d["mount"]: d["fstype"] for d in disks}
        assert "/" in seen[mode] and len(seen[mode]) == len(disks), disks  # each mount point once
        assert all(d["used_pct"] == round(100 * d["used_bytes"] / (d["used_bytes"] + d["avail_bytes"]), 1)
                   for d in disks if None not in (d["used_bytes"], d["avail_bytes"])
                   and d["used_bytes"] + d["avail_bytes"]), disks
    assert "tmpfs" not in seen["all"].values() or seen["all"]["/"] == "tmpfs"
    added = set(seen["all+tmpfs"]) - set(seen["all"])
    assert set(seen["all"]) <= set(seen["all+tmpfs"]) and {seen["all+tmpfs"][m] for m in added} <= {"tmpfs"}
    mounted = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    if any(fields[2] == "tmpfs" for fields in mounted):  # /dev/shm, /run on any Linux of this century
        assert added, seen


def _expect_failure(inv: Path, failure: str, timeout_s: float, host: str = "test-host") -> dict:
    result, took = fleetwatch("probe", host, "--json", "--inventory", str(inv))
    assert result.returncode == 1, result.stdout + result.stderr
    assert took < timeout_s + 5, f"took {took:.1f} s"
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["failure"] == failure, report
    line = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(line) == 1 and failure in line[0], result.stderr  # one line, no traceback
    return report


def test_changed_host_key_is_refused(sshd: SSHDServer, inventory_file, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519")
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd.port} " + other.export_public_key("openssh").decode())
    inv = inventory_file(known_hosts=str(kh))
    report = _expect_failure(inv, "host_key_mismatch", 5)
    assert "HOST KEY CHANGED" in report["errors"]["connection"]
    assert report["state"] == "host_key_mismatch"


def test_unknown_host_key_is_refused_with_the_way_to_trust_it(inventory_file, tmp_path: Path) -> None:
    inv = inventory_file(known_hosts=str(tmp_path / "empty_known_hosts"))
    report = _expect_failure(inv, "host_key_mismatch", 5)
    assert "fleetwatch hosts trust test-host" in report["errors"]["connection"]


def test_pinned_host_key_in_inventory(sshd: SSHDServer, inventory_file, tmp_path: Path) -> None:
    pinned = " ".join(sshd.host_key.export_public_key("openssh").decode().split()[:2])
    inv = inventory_file(host_key=pinned, known_hosts=str(tmp_path / "none"))
    result, _ = fleetwatch("probe", "test-host", "--json", "--inventory", str(inv))
    assert result.returncode == 0, result.stderr
    wrong = " ".join(asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[:2])
    _expect_failure(inventory_file(host_key=wrong), "host_key_mismatch", 5)


def test_wrong_client_key_is_auth_failed(inventory_file, tmp_path: Path) -> None:
    key = write_key(asyncssh.generate_private_key("ssh-ed25519"), tmp_path / "stranger")
    inv = inventory_file(identity_file=str(key))
    report = _expect_failure(inv, "auth_failed", 5)
    assert report["state"] == "auth_failed"


def test_closed_port_is_unreachable(inventory_file) -> None:
    inv = inventory_file(port=free_port())
    _expect_failure(inv, "unreachable", 5)


def test_silent_server_is_a_timeout(inventory_file) -> None:
    # The kernel completes the TCP handshake but nobody ever sends an SSH banner.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        inv = inventory_file(port=silent.getsockname()[1], timeout="2s")
        report = _expect_failure(inv, "timeout", 2)
        assert report["state"] == "down"


def test_hosts_trust_pins_the_key_then_probe_works(sshd: SSHDServer, inventory_file, tmp_path: Path) -> None:
    kh = tmp_path / "kh"
    inv = inventory_file(known_hosts=str(kh))
    refused, _ = fleetwatch("hosts", "trust", "test-host", "--inventory", str(inv))
    assert refused.returncode == 2 and "--yes" in refused.stderr  # no tty, no --yes: nothing pinned
    assert not kh.exists()
    result, _ = fleetwatch("hosts", "trust", "test-host", "--yes", "--inventory", str(inv))
    assert result.returncode == 0, result.stderr
    assert sshd.host_key.get_fingerprint("sha256") in result.stdout
    assert kh.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 ")
    ok, _ = fleetwatch("probe", "test-host", "--json", "--inventory", str(inv))
    assert ok.returncode == 0, ok.stderr


def test_hosts_trust_refuses_a_changed_key_without_replace(sshd: SSHDServer, inventory_file, tmp_path: Path) -> None:
    kh = tmp_path / "kh"
    kh.write_text(f"[127.0.0.1]:{sshd.port} "
                  + asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode())
    inv = inventory_file(known_hosts=str(kh))
    refused, _ = fleetwatch("hosts", "trust", "test-host", "--yes", "--inventory", str(inv))
    assert refused.returncode == 1 and "DIFFERENT" in refused.stdout
    replaced, _ = fleetwatch("hosts", "trust", "test-host", "--yes", "--replace", "--inventory", str(inv))
    assert replaced.returncode == 0, replaced.stderr
    assert len(kh.read_text().splitlines()) == 1
    ok, _ = fleetwatch("probe", "test-host", "--inventory", str(inv))
    assert ok.returncode == 0, ok.stderr


def test_unknown_host_id_and_bad_inventory_exit_2(inventory_file, tmp_path: Path) -> None:
    inv = inventory_file()
    result, _ = fleetwatch("probe", "nope", "--inventory", str(inv))
    assert result.returncode == 2 and "unknown host 'nope'" in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  - id: a\n    address: 127.0.0.1\n    services: ['x; rm -rf /']\n")
    result, _ = fleetwatch("probe", "a", "--inventory", str(bad))
    assert result.returncode == 2 and "bad.yaml:4" in result.stderr and "Traceback" not in result.stderr
    check, _ = fleetwatch("inventory", "check", str(bad))
    assert check.returncode == 2 and "services" in check.stdout
    good, _ = fleetwatch("inventory", "check", str(inv))
    assert good.returncode == 0 and "OK" in good.stdout


# --- the persistent connection, in process -------------------------------------------------

def _spec(inv: Path):
    return load_inventory(inv).host("test-host")


async def test_one_connection_is_reused_for_every_probe(inventory_file) -> None:
    conn = HostConnection(_spec(inventory_file()))
    try:
        first = await probe_once(conn)
        ssh = conn._conn
        for _ in range(4):
            reading = await probe_once(conn)
            assert not reading.errors
        assert conn.connects == 1 and conn._conn is ssh
        assert reading.get("uptime").seconds > first.get("uptime").seconds
    finally:
        await conn.close()


async def test_reconnects_after_the_connection_dies(inventory_file) -> None:
    conn = HostConnection(_spec(inventory_file()))
    try:
        await probe_once(conn)
        conn._conn.abort()  # as if the network dropped it
        await asyncio.sleep(0.1)
        assert not conn.connected
        await probe_once(conn)
        assert conn.connects == 2
    finally:
        await conn.close()


async def test_failed_connects_back_off_exponentially(inventory_file) -> None:
    now = [1000.0]
    backoff = Backoff(rng=lambda: 1.0)  # no jitter: delays 1, 2, 4 ...
    conn = HostConnection(_spec(inventory_file(port=free_port())), backoff=backoff, clock=lambda: now[0])
    delays = []
    for _ in range(4):
        with pytest.raises(HostError) as err:
            await conn.ensure_connected()
        assert err.value.failure is Failure.UNREACHABLE
        delays.append(conn.retry_at - now[0])
        with pytest.raises(HostError):  # inside the backoff window: refused without dialing
            await conn.ensure_connected()
        now[0] = conn.retry_at
    assert delays == [1.0, 2.0, 4.0, 8.0]


async def test_command_timeout_and_output_cap(inventory_file) -> None:
    conn = HostConnection(_spec(inventory_file()))
    try:
        started = time.monotonic()
        with pytest.raises(HostError) as err:
            await conn.run("sleep 30", timeout=1)
        assert err.value.failure is Failure.TIMEOUT and time.monotonic() - started < 3
        big = await conn.run("head -c 3000000 /dev/zero", max_output=1000)
        assert big.truncated and len(big.stdout) == 1000
        assert conn.connects == 1  # still the same connection
    finally:
        await conn.close()


@pytest.mark.parametrize("answer, pinned", [("y", True), ("n", False)])
def test_hosts_trust_asks_on_a_terminal(sshd: SSHDServer, inventory_file, tmp_path: Path, answer: str,
                                        pinned: bool) -> None:
    import pty

    kh = tmp_path / "kh"
    inv = inventory_file(known_hosts=str(kh))
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "hosts", "trust", "test-host",
                                 "--inventory", str(inv)], stdin=slave, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        os.write(master, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        os.close(slave)
    assert "Pin this key" in out and sshd.host_key.get_fingerprint("sha256") in out
    assert (proc.returncode == 0) is pinned, err
    assert kh.exists() is pinned
