"""Bridged traffic counted once (issue 17 item 6), on a real host: a network namespace with a Linux bridge.

The "host" is a namespace `fwnh-<random>` created here: a real OpenSSH sshd on
a veth pair to this (root) namespace (`mgmt0`), and a bridge `br0` whose one
port `up0` is a veth pair to a second namespace `fwnp-<random>` (`peer0`), the
"rest of the network". up0 plays the physical NIC and is deliberately not named
veth*: the old name rule counted up0, br0 and mgmt0, so traffic received
through the bridge was reported twice.

The namespace has no physical device (/sys/class/net/*/device), so the hub's
rule is `virtual` (collector/net_counting.py): loopback and the bridge left
out, up0 and mgmt0 counted. A known amount of TCP payload goes from peer0 to
br0's address; the host is probed with the real probe over sshd before and
after, and the reported total is compared with node_exporter's count for up0
(Debian's prometheus-node-exporter, run inside the namespace on its own
loopback and scraped from inside it; never a packaged daemon).

Every process is started here and stopped by its PID; both namespaces and the
veth pair to this namespace are removed at the end. Traffic stays inside the
test's namespaces.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from collector import rates
from collector.prober import probe_once
from collector.report import build_report
from collector.ssh_pool import HostConnection
from inventory import load_inventory
from tests.integration.test_proxy_halfopen import _cannot, _in, _ip, _kill_everything_in, _pick_subnet
from tests.support.sshd import start_sshd

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
PAYLOAD = 80 * 10**6  # bytes of TCP payload sent through the bridge
BR_ADDR, PEER_ADDR, DATA_PORT = "10.77.0.1", "10.77.0.2", 5001  # inside the test's namespaces only
EXPORTER_PORT = 9100  # on the fresh namespace's own loopback, where nothing else listens

RECEIVER = f"""
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("{BR_ADDR}", {DATA_PORT}))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
total = 0
while True:
    d = c.recv(1 << 20)
    if not d:
        break
    total += len(d)
print(total, flush=True)
"""

SENDER = f"""
import socket
s = socket.create_connection(("{BR_ADDR}", {DATA_PORT}), timeout=30)
chunk = bytes(1 << 16)
left = {PAYLOAD}
while left:
    left -= s.send(chunk[:min(left, len(chunk))])
s.shutdown(socket.SHUT_WR)
s.recv(1)
"""


@dataclass
class BridgeHost:
    ns: str  # the monitored host
    peer: str  # the rest of the network, behind the bridge
    hub_if: str
    hub_addr: str
    host_addr: str  # mgmt0's address: where sshd listens


@pytest.fixture
def bridge_host() -> Iterator[BridgeHost]:
    """Two namespaces, a bridge over a veth in one; removed afterwards, whatever happened."""
    if shutil.which("ip") is None:
        _cannot("`ip` is not installed (apt-get install iproute2)")
    token = secrets.token_hex(4)
    ns, peer, hub_if = f"fwnh-{token}", f"fwnp-{token}", f"fwm-{token}"
    created = []
    try:
        for name in (ns, peer):
            result = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=30)
            if result.returncode != 0:
                _cannot(f"`ip netns add {name}` failed: {result.stderr.strip()}")
            created.append(name)
        net = _pick_subnet()
        hub_addr, host_addr = (str(a) for a in list(net.hosts())[:2])
        for name in (ns, peer):
            _in(name, "ip", "link", "set", "lo", "up")
            _in(name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        _ip("link", "add", hub_if, "type", "veth", "peer", "name", "mgmt0", "netns", ns)
        _ip("addr", "add", f"{hub_addr}/30", "dev", hub_if)
        _ip("link", "set", hub_if, "up")
        _in(ns, "ip", "addr", "add", f"{host_addr}/30", "dev", "mgmt0")
        _in(ns, "ip", "link", "set", "mgmt0", "up")
        _in(ns, "ip", "link", "add", "br0", "type", "bridge")
        _in(ns, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "peer0", "netns", peer)
        _in(ns, "ip", "link", "set", "up0", "master", "br0")
        _in(ns, "ip", "addr", "add", f"{BR_ADDR}/24", "dev", "br0")
        _in(ns, "ip", "link", "set", "up0", "up")
        _in(ns, "ip", "link", "set", "br0", "up")
        _in(peer, "ip", "addr", "add", f"{PEER_ADDR}/24", "dev", "peer0")
        _in(peer, "ip", "link", "set", "peer0", "up")
        yield BridgeHost(ns, peer, hub_if, hub_addr, host_addr)
    finally:
        subprocess.run(["ip", "link", "del", hub_if], capture_output=True, timeout=30)
        for name in created:
            _kill_everything_in(name)
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def _start(ns: str, *command: str) -> subprocess.Popen:
    """A process in the namespace (`ip netns exec` execs it: the PID is the command's own)."""
    return subprocess.Popen(["ip", "netns", "exec", ns, *command], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM by PID, SIGKILL after 5 s (Popen signals nothing once the process is reaped)."""
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    proc.kill()
    proc.wait()


def _exporter_counts(ns: str) -> dict[str, tuple[float, float]]:
    """node_exporter's (received, transmitted) bytes per device, scraped from inside the namespace."""
    text = _in(ns, "curl", "-sf", f"http://127.0.0.1:{EXPORTER_PORT}/metrics").stdout
    out: dict[str, list[float]] = {}
    for line in text.splitlines():
        for i, family in enumerate(("node_network_receive_bytes_total", "node_network_transmit_bytes_total")):
            if line.startswith(family + "{"):
                device = line.split('device="', 1)[1].split('"', 1)[0]
                out.setdefault(device, [0.0, 0.0])[i] = float(line.rsplit(" ", 1)[1])
    return {d: (rx, tx) for d, (rx, tx) in out.items()}


def _wait_exporter(ns: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"node_exporter exited ({proc.returncode}): {proc.stderr.read()[-2000:]}", pytrace=False)
        probe = subprocess.run(["ip", "netns", "exec", ns, "curl", "-sf", "-o", "/dev/null",
                                f"http://127.0.0.1:{EXPORTER_PORT}/metrics"], capture_output=True, timeout=10)
        if probe.returncode == 0:
            return
        time.sleep(0.2)
    pytest.fail("node_exporter did not answer within 20 s", pytrace=False)


async def test_traffic_through_a_bridge_is_counted_once(bridge_host: BridgeHost, tmp_path: Path) -> None:
    if not Path(NODE_EXPORTER).exists():
        pytest.fail(f"{NODE_EXPORTER} missing: apt-get install prometheus-node-exporter (.ci/install does)",
                    pytrace=False)
    host = bridge_host
    sshd = start_sshd(port=22, address=host.host_addr, netns=host.ns)
    exporter = _start(host.ns, NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{EXPORTER_PORT}",
                      "--collector.disable-defaults", "--collector.netdev")
    receiver = _start(host.ns, "python3", "-c", RECEIVER)
    conn = None
    try:
        _wait_exporter(host.ns, exporter)
        assert receiver.stdout.readline().strip() == "ready"
        inventory = tmp_path / "hosts.yaml"
        inventory.write_text(sshd.inventory_yaml("bridged"))
        conn = HostConnection(load_inventory(inventory).host("bridged"))

        before = _exporter_counts(host.ns)
        first = await probe_once(conn)
        sender = subprocess.run(["ip", "netns", "exec", host.peer, "python3", "-c", SENDER],
                                capture_output=True, text=True, timeout=120)
        assert sender.returncode == 0, sender.stderr
        assert int(receiver.communicate(timeout=60)[0].strip()) == PAYLOAD
        await asyncio.sleep(1.0)  # a poll interval's worth: uptime (10 ms steps) surely advanced
        second = await probe_once(conn)
        after = _exporter_counts(host.ns)
    finally:
        if conn is not None:
            await conn.close()
        for proc in (receiver, exporter):
            _stop(proc)
        sshd.go_down()
        shutil.rmtree(sshd.root, ignore_errors=True)

    assert not first.errors and not second.errors, (first.errors, second.errors)
    report = build_report("bridged", (first, second))
    counted = {i.name: i.counted for i in report.net_interfaces}
    assert report.net_counting == "virtual"
    assert counted == {"lo": False, "mgmt0": True, "br0": False, "up0": True}
    reported_rx = report.net_rx_bps * report.interval_s
    reported_tx = report.net_tx_bps * report.interval_s
    exporter_rx = after["up0"][0] - before["up0"][0]
    # the old rule (by name) on the same two readings: up0, br0 and mgmt0 all counted
    old = rates.net_rates(first.get("net"), second.get("net"), rates.elapsed(first.get("uptime"),
                                                                             second.get("uptime")))
    figures = {"payload": PAYLOAD, "reported_rx": round(reported_rx), "reported_tx": round(reported_tx),
               "node_exporter_up0_rx": exporter_rx, "node_exporter_up0_tx": after["up0"][1] - before["up0"][1],
               "node_exporter_br0_rx": after["br0"][0] - before["br0"][0],
               "old_rule_rx": round(old.rx_bps * report.interval_s), "interval_s": report.interval_s}
    print("\nnet figures:", json.dumps(figures))
    assert PAYLOAD <= exporter_rx < 1.1 * PAYLOAD, figures
    assert abs(reported_rx - exporter_rx) <= 0.05 * exporter_rx, figures
    assert reported_rx < 1.2 * PAYLOAD, figures  # once, not twice
    assert old.rx_bps * report.interval_s > 1.9 * PAYLOAD, figures  # what the issue reported
