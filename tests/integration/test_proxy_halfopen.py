"""Reverse forward (issue 6) across a half-open SSH connection, against a real sshd in a network namespace.

The hub (this pytest process) stays in the root network namespace; the "host"
is a namespace `fwho-<random>` created here, joined to the root namespace by a
veth pair on a random 10.x.y.z/30, running a real OpenSSH sshd with
`ClientAliveInterval 2` / `ClientAliveCountMax 2`. nftables inside the
namespace drops packets silently, so neither side hears a FIN or RST: the
connection goes half-open. The remote
listener is on the namespace's own loopback; the forwarded channels come back
over SSH to a small HTTP server on the hub's 127.0.0.1.

How soon sshd gives up on a silent client is sshd's business, so the tests
watch for it (its per-connection process exits, and the listener with it)
rather than assume it. Expect about 12 s, not 2 x (2 + 1) = 6 s: OpenSSH 9.2
(Debian 12) checks `now > last_client_time + ClientAliveInterval` in whole
seconds right after a poll that waited exactly that interval, so only every
other poll counts and it probes every 4 s.

The hub's DEFAULT backoffs are used (`HostConnection(spec)`, `HostProxy(...)`
without `backoff=`), so the "within 30 s" checks hold for the real settings.

Only where a network namespace cannot be created (not root, no CAP_NET_ADMIN,
`ip` or `nft` missing) are these tests skipped, and the skip says so; any
other failure of `ip` or `nft` fails the test.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from collector.proxy import PORT_RETRY_CAP_S, HostProxy
from collector.ssh_pool import HostConnection
from inventory import load_inventory
from inventory.models import ProxyConfig
from tests.support.proxy_helpers import PAGE, last_status, until, web_server
from tests.support.sshd import SSHDServer, start_sshd

CLIENT_ALIVE = "ClientAliveInterval 2\nClientAliveCountMax 2\n"
SSHD_PORT = 22  # inside the fresh namespace nothing else listens
REMOTE_LISTEN_PORT = 8080  # on the namespace's own loopback
DROP_MIN_HOLD_S = 10.0  # the drop lasts at least this long, and until sshd has dropped the session
SSHD_GIVES_UP_WITHIN_S = 30.0  # sshd's ClientAlive check must end a silent session by then (12-14 s seen)
BACK_UP_WITHIN_S = 30.0  # the promise, counted from the moment the port can be had again
NFT_TABLE = "fwdrop"


# ----------------------------------------------------------------- the namespace

@dataclass
class Netns:
    name: str
    hub_if: str  # the veth end in the root namespace
    hub_addr: str
    host_addr: str  # the veth end in the namespace: where sshd listens


def _run(*command: str, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command; any failure fails the test, with the command and its stderr."""
    result = subprocess.run(command, capture_output=True, text=True, input=input, timeout=30)
    if result.returncode != 0:
        pytest.fail(f"`{' '.join(command)}` failed ({result.returncode}): {result.stderr.strip()}", pytrace=False)
    return result


def _ip(*args: str) -> subprocess.CompletedProcess:
    return _run("ip", *args)


def _in(ns: str, *command: str, input: str | None = None) -> subprocess.CompletedProcess:
    """Run a command inside the namespace."""
    return _run("ip", "netns", "exec", ns, *command, input=input)


def _subnets_in_use() -> list[ipaddress.IPv4Network]:
    used = []
    for what in (["-4", "-j", "route", "show", "table", "all"], ["-4", "-j", "addr", "show"]):
        for entry in json.loads(_ip(*what).stdout or "[]"):
            if "dst" in entry and entry["dst"] not in ("default", "broadcast"):
                try:
                    used.append(ipaddress.ip_network(entry["dst"], strict=False))
                except ValueError:
                    pass
            for info in entry.get("addr_info", []):
                used.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))
    return used


def _pick_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.z/30 that overlaps nothing routed here (parallel runs pick different ones)."""
    used = _subnets_in_use()
    for _ in range(100):
        a, b, c = random.randint(128, 254), random.randint(0, 255), random.randrange(0, 256, 4)
        net = ipaddress.ip_network(f"10.{a}.{b}.{c}/30")
        if not any(net.overlaps(u) for u in used):
            return net
    pytest.fail("no free 10.x.y.z/30 for the test's veth pair", pytrace=False)


def _cannot(reason: str) -> None:
    message = f"network namespaces cannot be created here: {reason}"
    print(f"\nSKIP {message}", file=sys.stderr)
    pytest.skip(message)


@pytest.fixture
def netns() -> Iterator[Netns]:
    """A namespace `fwho-<random>` joined to this one by a veth pair; removed afterwards, whatever happened."""
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            _cannot(f"`{tool}` is not installed (apt-get install iproute2 nftables)")
    token = secrets.token_hex(4)
    name, hub_if, host_if = f"fwho-{token}", f"fwh-{token}", f"fwn-{token}"
    try:
        created = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True, timeout=30)
    except OSError as exc:
        _cannot(f"`ip netns add` could not run: {exc}")
    if created.returncode != 0:
        _cannot(f"`ip netns add {name}` failed: {created.stderr.strip()}")
    try:
        net = _pick_subnet()
        hub_addr, host_addr = (str(a) for a in list(net.hosts())[:2])
        _in(name, "ip", "link", "set", "lo", "up")  # the remote listener and curl live on its loopback
        _ip("link", "add", hub_if, "type", "veth", "peer", "name", host_if, "netns", name)
        _ip("addr", "add", f"{hub_addr}/30", "dev", hub_if)
        _ip("link", "set", hub_if, "up")
        _in(name, "ip", "addr", "add", f"{host_addr}/30", "dev", host_if)
        _in(name, "ip", "link", "set", host_if, "up")
        _in(name, "nft", "list", "ruleset")  # nft must work in there: fails loudly if not
        yield Netns(name, hub_if, hub_addr, host_addr)
    finally:
        # deleting our veth end is synchronous (`ip netns del` frees the pair only later, in the kernel)
        subprocess.run(["ip", "link", "del", hub_if], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def _kill_everything_in(ns: str) -> None:
    """SIGKILL, by PID, whatever is still running in the test's own namespace (all started by this test)."""
    result = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
    for pid in result.stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


@pytest.fixture
def ns_sshd(netns: Netns) -> Iterator[SSHDServer]:
    """A real sshd in the namespace on its veth address, dropping silent clients (after ~12 s with OpenSSH 9.2)."""
    server = start_sshd(CLIENT_ALIVE, port=SSHD_PORT, address=netns.host_addr, netns=netns.name)
    # `ip netns exec` execs sshd, so the PID we hold is sshd's (what stop() and session_pids() rely on)
    assert Path(f"/proc/{server.proc.pid}/exe").resolve() == Path("/usr/sbin/sshd").resolve()
    try:
        yield server
    finally:
        server.go_down()  # the listener and every session, by PID
        _kill_everything_in(netns.name)
        shutil.rmtree(server.root, ignore_errors=True)


# ----------------------------------------------------------------- helpers

def _live_sessions(server: SSHDServer) -> int:
    """sshd's per-connection processes, zombies not counted."""
    live = 0
    for pid in server.session_pids():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        live += state != "Z"
    return live


async def _wait_sessions(server: SSHDServer, count: int, since: float, timeline: Timeline, what: str) -> float:
    """Seconds from `since` until sshd has exactly `count` live sessions."""
    while _live_sessions(server) != count:
        if time.monotonic() - since > SSHD_GIVES_UP_WITHIN_S:
            log = server.log_path.read_text()[-2000:]
            pytest.fail(f"{what}: sshd still has {_live_sessions(server)} sessions, not {count}, "
                        f"{SSHD_GIVES_UP_WITHIN_S:g} s on ({timeline}; sshd log: {log!r})")
        await asyncio.sleep(0.05)
    return time.monotonic() - since


def _nft(ns: str, script: str) -> None:
    _in(ns, "nft", "-f", "-", input=script)


def _nft_delete_table(ns: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", NFT_TABLE],
                   capture_output=True, timeout=30)


async def _curl_in(ns: str, port: int) -> tuple[int, bytes, bytes]:
    """A program on the host fetches http://127.0.0.1:<port>/ (its end of the forward)."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    run = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", f"http://127.0.0.1:{port}/",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    out, err = await run.communicate()
    return run.returncode, out, err


@dataclass
class Timeline:
    """The proxy's state changes (on_change) and a 20 ms sampling of its status, in seconds since the start."""

    t0: float = field(default_factory=time.monotonic)
    changes: list = field(default_factory=list)  # (t, previous, state, error_code)
    samples: list = field(default_factory=list)  # (t, state, error_code, connects), when one of them changes
    marks: list = field(default_factory=list)  # (t, what the test did)

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 2)

    def on_change(self, host_id: str, status, previous: str) -> None:
        self.changes.append((self.now(), previous, status.state, status.error_code))

    def mark(self, what: str) -> None:
        self.marks.append((self.now(), what))

    async def sample(self, proxy: HostProxy) -> None:
        last = None
        while True:
            current = (proxy.status.state, proxy.status.error_code, proxy.conn.connects)
            if current != last:
                self.samples.append((self.now(), *current))
                last = current
            await asyncio.sleep(0.02)

    def __str__(self) -> str:
        return f"marks={self.marks} changes={self.changes} samples={self.samples}"


def _make_proxy(server: SSHDServer, tmp_path: Path, target_port: int, timeline: Timeline) -> HostProxy:
    path = tmp_path / "hosts.yaml"
    path.write_text(server.inventory_yaml("test-host"))
    spec = load_inventory(path).host("test-host")
    assert spec.address == server.address
    config = ProxyConfig(enabled=True, remote_listen=f"127.0.0.1:{REMOTE_LISTEN_PORT}",
                         target=f"127.0.0.1:{target_port}")
    # default backoffs on purpose: the 30 s promise is about the real settings
    proxy = HostProxy("test-host", config, HostConnection(spec), on_change=timeline.on_change)
    last_status[:] = [proxy.status]
    return proxy


async def _wait_up_on_a_fresh_connection(proxy: HostProxy, connects_before: int, since: float,
                                         timeline: Timeline, server: SSHDServer, what: str) -> float:
    """Seconds from `since` until the proxy is up on a connection made after `connects_before`."""
    while not (proxy.status.state == "up" and proxy.conn.connects > connects_before):
        waited = time.monotonic() - since
        if waited > BACK_UP_WITHIN_S:
            pytest.fail(f"the proxy was not back up on a fresh connection within {BACK_UP_WITHIN_S:g} s of {what} "
                        f"(status {proxy.status}; {timeline}; sshd log: {server.log_path.read_text()[-2000:]!r})")
        await asyncio.sleep(0.02)
    return time.monotonic() - since


async def _assert_page_through_the_forward(ns: Netns) -> None:
    code, out, err = await _curl_in(ns.name, REMOTE_LISTEN_PORT)
    assert code == 0 and out == PAGE, f"curl in {ns.name} through the forward: exit {code}, out {out!r}, err {err!r}"


@contextlib.asynccontextmanager
async def _forward_up(ns: Netns, sshd: SSHDServer, tmp_path: Path):
    """A proxy up through the namespace's sshd (checked with curl in there), its timeline sampled; all torn down."""
    server, target_port = await web_server()
    timeline = Timeline()
    proxy = _make_proxy(sshd, tmp_path, target_port, timeline)
    sampler = asyncio.create_task(timeline.sample(proxy))
    try:
        proxy.start()
        await until("proxy up", lambda: proxy.status.state == "up")
        await _assert_page_through_the_forward(ns)
        yield proxy, timeline
    finally:
        _nft_delete_table(ns.name)  # a failure mid-drop must not leave stop() talking into the void
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await proxy.stop()
        await proxy.conn.close()
        server.close()


# ----------------------------------------------------------------- the tests

async def test_proxy_is_back_up_after_traffic_was_silently_dropped(netns, ns_sshd, tmp_path):
    async with _forward_up(netns, ns_sshd, tmp_path) as (proxy, timeline):
        before = proxy.conn.connects

        # every packet in or out of the namespace vanishes; its own loopback keeps working
        _nft(netns.name, f"""table inet {NFT_TABLE} {{
            chain in {{ type filter hook input priority 0; policy drop; iif "lo" accept; }}
            chain out {{ type filter hook output priority 0; policy drop; oif "lo" accept; }}
        }}""")
        dropped = time.monotonic()
        timeline.mark("drop")
        # Hold it until sshd's ClientAlive check has given up on the silent hub (its session, and the listener
        # with it, are gone there) and for at least DROP_MIN_HOLD_S: a shorter drop is not a dead connection,
        # just a slow one, which asyncssh and sshd ride out on the same connection.
        sshd_gave_up = await _wait_sessions(ns_sshd, 0, dropped, timeline, "sshd's ClientAlive check")
        timeline.mark("sshd dropped the session")
        await asyncio.sleep(max(0.0, DROP_MIN_HOLD_S - (time.monotonic() - dropped)))
        hub_state_at_lift = proxy.status.state  # the hub heard nothing: most likely still "up"
        _nft(netns.name, f"delete table inet {NFT_TABLE}")
        lifted = time.monotonic()
        timeline.mark(f"lift after {lifted - dropped:.1f} s (hub state {hub_state_at_lift})")

        seconds = await _wait_up_on_a_fresh_connection(proxy, before, lifted, timeline, ns_sshd,
                                                       "the drop being lifted")
        timeline.mark("up again")
        print(f"\nsshd dropped the silent session {sshd_gave_up:.1f} s into the drop; "
              f"lift -> up on a fresh connection: {seconds:.1f} s (hub state at lift: {hub_state_at_lift}); {timeline}")
        assert seconds <= BACK_UP_WITHIN_S, f"lift -> up took {seconds:.1f} s ({timeline})"
        assert any(state == "retrying" for _, _, state, _ in timeline.changes), timeline
        await _assert_page_through_the_forward(netns)
        assert proxy.status.connections >= 2 and proxy.status.error_code is None


async def test_port_in_use_until_sshd_drops_the_half_open_session(netns, ns_sshd, tmp_path):
    async with _forward_up(netns, ns_sshd, tmp_path) as (proxy, timeline):
        before = proxy.conn.connects
        dead = proxy.conn._conn
        dead_port = dead.get_extra_info("sockname")[1]
        assert _live_sessions(ns_sshd) == 1

        # Only this connection's packets vanish (its hub-side port), in both directions, so that neither the
        # hub's FIN/RST reaches sshd nor sshd's ClientAlive probes reach the hub's kernel (which would answer
        # RST and end the session at once). The rule stays until the end: it matches only the dead connection's
        # 4-tuple (the new connection's source port is checked to differ), and lifting it early would let that
        # RST through and end the half-open state sooner than sshd's own ClientAlive check does.
        _nft(netns.name, f"""table inet {NFT_TABLE} {{
            chain in {{ type filter hook input priority 0;
                ip saddr {netns.hub_addr} tcp sport {dead_port} tcp dport {SSHD_PORT} drop; }}
            chain out {{ type filter hook output priority 0;
                ip daddr {netns.hub_addr} tcp dport {dead_port} tcp sport {SSHD_PORT} drop; }}
        }}""")
        dead.abort()  # the hub gives up on it; sshd never hears, and keeps the session and its listener
        aborted = time.monotonic()
        timeline.mark(f"abort (hub port {dead_port})")

        await until("port in use", lambda: proxy.status.error_code == "PORT_IN_USE", timeout=BACK_UP_WITHIN_S)
        in_use_status = (proxy.status.state, proxy.status.last_error)
        sessions_while_in_use = _live_sessions(ns_sshd)
        timeline.mark(f"PORT_IN_USE seen (sshd sessions {sessions_while_in_use})")

        # sshd's ClientAlive check ends the old session: its listener goes with it and the port is free. The
        # 30 s promise is counted from here: the hub cannot win earlier, and then it is one backoff delay away.
        freed_after = await _wait_sessions(ns_sshd, 1, aborted, timeline, "sshd's ClientAlive check")
        freed = time.monotonic()
        timeline.mark("sshd dropped the half-open session")
        seconds = await _wait_up_on_a_fresh_connection(proxy, before, freed, timeline, ns_sshd,
                                                       "sshd freeing the port")
        abort_to_up = time.monotonic() - aborted
        timeline.mark("up again")
        new_port = proxy.conn._conn.get_extra_info("sockname")[1]
        sessions_when_up = _live_sessions(ns_sshd)
        print(f"\nsshd freed the port {freed_after:.1f} s after the abort; port free -> up: {seconds:.1f} s; "
              f"abort -> up on a fresh connection: {abort_to_up:.1f} s after {proxy.status.retry_count} retries; "
              f"{timeline}")

        assert in_use_status[0] == "retrying", in_use_status
        assert str(REMOTE_LISTEN_PORT) in in_use_status[1] and "in use" in in_use_status[1], in_use_status
        assert any(state == "retrying" and code == "PORT_IN_USE" for _, state, code, _ in timeline.samples), timeline
        assert ("up", "retrying") in [(prev, state) for _, prev, state, _ in timeline.changes], timeline
        assert timeline.changes[-1][1:3] == ("retrying", "up"), timeline
        assert sessions_while_in_use == 2, f"sshd should hold the old session and the new one ({timeline})"
        assert sessions_when_up == 1, f"sshd should have dropped the half-open session ({timeline})"
        assert new_port != dead_port, "the new connection reused the dropped port: the nft rule would eat it"
        # "port in use" is retried at least every PORT_RETRY_CAP_S: the hub wins soon after the port frees
        assert seconds <= PORT_RETRY_CAP_S + 2, f"port free -> up took {seconds:.1f} s ({timeline})"
        await _assert_page_through_the_forward(netns)
