"""A simulated fleet: N asyncssh servers on 127.0.0.1 that answer the hub's real probe.

    python benchmarks/fleetsim.py --hosts N --first-port P --seed S --out DIR [--serve A:B]
                                  [--drop-pct 1] [--drops-start SECONDS]

Each host is an asyncssh server on its own loopback port (P + index) with its
own ed25519 host key, accepting one client key (public-key auth, user
`monitor`). An exec request is answered in Python by `fleetsim_output` (no
shell, no subprocess): the probe's output, byte for byte in probe.sh's
format, from per-host state that evolves between probes. Anything else gets
`sh: 1: ...: not found`, exit 127.

`prepare()` (called by the CLI unless --serve is given, and by
benchmarks/fleet.py) writes into DIR: the host keys (keys/, cached: a rerun
on the same DIR reuses them), the client key, an OpenSSH known_hosts
(`[127.0.0.1]:PORT ssh-ed25519 AAAA...`, every second line hashed as
`ssh-keygen -H` writes it) and the inventory hosts.yaml.

Drop-offs: a fixed 1 % of the hosts (--drop-pct) go down now and then: the
listener closes and open connections are aborted for 30-90 s, then the host
listens again (half of the time it "rebooted": uptime and counters restart).
They start after --drops-start seconds, or on SIGUSR1 (fleet.py sends it once
the hub has sampled every host). Every change goes to DIR/drops-PID.jsonl as
{"host", "down"|"up": epoch seconds}, so a harness can leave those windows out.

DIR/sim-PID.json is rewritten every 2 s: probes answered, connections,
hosts down, and this process's CPU seconds. SIGTERM or SIGINT stops it.

--load-test SECONDS measures one simulator process alone: it serves the
fleet in a child process and drives it from this one with a bare asyncssh
client (one connection a host, the real probe command every --interval,
staggered), then prints probes/s, answer latency and the simulator's CPU.
On the 2-core EPYC: 2,500 hosts at 5 s, 499.8 probes/s at 53 % of one core
(1.07 ms a probe, ~0.1 ms of it the output, the rest asyncssh's channel and
crypto), answers in 1.5 ms median / 14.5 ms p99, 221 MB. So one process can
serve 2,500 hosts; fleet.py still starts one per 1,250 so that no simulator
loop runs above ~30 % and adds its queueing to the hub's sample gaps.

A session answers in `session_started` with one write and `exit()`: asyncssh's
SSHServerProcess (streams, a task per channel, as collector/demo.py uses to
run a real shell) is not needed when the answer is ready at once.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import random
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import asyncssh
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleetsim_output import HostProfile, SimHostState

log = logging.getLogger("fleetsim")
LOOPBACK = "127.0.0.1"
USER = "monitor"
DOWN_S = (30.0, 90.0)
UP_S = (120.0, 300.0)
_SERVER_OPTIONS: dict[str, Any] = {
    "public_key_auth": True, "password_auth": False, "kbdint_auth": False, "gss_auth": False,
    "host_based_auth": False, "allow_pty": False, "agent_forwarding": False, "x11_forwarding": False,
    "sftp_factory": None, "allow_scp": False, "encoding": None, "login_timeout": 30,
}


def host_id(index: int) -> str:
    return f"sim-{index:05d}"


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load_key(path: Path, comment: str) -> asyncssh.SSHKey:
    """An ed25519 key from `path`, made and saved there the first time (35 µs to make, 40 µs to read)."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, key.export_private_key())
    return key


def host_key_path(out: Path, index: int) -> Path:
    return out / "keys" / f"host-{index:05d}"


def _known_hosts_line(port: int, key: asyncssh.SSHKey, hashed: bool, r: random.Random) -> str:
    pattern = f"[{LOOPBACK}]:{port}"
    public = key.export_public_key("openssh").decode().split()[:2]
    if hashed:  # as `ssh-keygen -H`: |1|base64(salt)|base64(HMAC-SHA1(salt, pattern))
        salt = r.randbytes(20)
        digest = hmac.new(salt, pattern.encode(), hashlib.sha1).digest()
        pattern = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    return f"{pattern} {' '.join(public)}\n"


def inventory_entry(index: int, port: int, out: Path, profile: HostProfile) -> dict[str, Any]:
    """One host of hosts.yaml: services for 60 % of hosts, `disks: all` for 30 %, /data too for some."""
    r = random.Random(index * 7919 + 17)
    entry: dict[str, Any] = {"id": host_id(index), "address": LOOPBACK, "port": port, "user": USER,
                             "identity_file": str(out / "client_ed25519"), "known_hosts": str(out / "known_hosts")}
    if r.random() < 0.6:
        entry["services"] = list(profile.units[:r.randint(1, len(profile.units))])
    mounts = [m[2] for m in profile.mounts]
    pick = r.random()
    if pick < 0.3:
        entry["disks"] = "all"
    elif pick < 0.5 and "/data" in mounts:
        entry["disks"] = ["/", "/data"]
    entry["gpu"] = "auto"
    entry["labels"] = {"role": profile.role, "rack": f"r{index // 40:03d}"}
    return entry


def prepare(out: Path, hosts: int, first_port: int, seed: int, *, interval: str = "5s",
            timeout: str = "10s") -> Path:
    """Keys, known_hosts and hosts.yaml for hosts 0..N-1 in `out`; returns the inventory path."""
    out.mkdir(parents=True, exist_ok=True)
    client = load_key(out / "client_ed25519", "fleetsim-client")
    (out / "client_ed25519.pub").write_bytes(client.export_public_key())
    r = random.Random(seed)
    lines, entries = [], []
    for i in range(hosts):
        key = load_key(host_key_path(out, i), host_id(i))
        lines.append(_known_hosts_line(first_port + i, key, hashed=i % 2 == 1, r=r))
        entries.append(inventory_entry(i, first_port + i, out, HostProfile(seed, i)))
    _write_private(out / "known_hosts", "".join(lines).encode())  # 0600, as the hub's checks expect
    doc = {"defaults": {"interval": interval, "timeout": timeout, "gpu": "auto"}, "hosts": entries}
    inventory = out / "hosts.yaml"
    _write_private(inventory, (f"# fleetsim: {hosts} simulated hosts on {LOOPBACK}:{first_port}-"
                               f"{first_port + hosts - 1}, seed {seed}\n"
                               + yaml.safe_dump(doc, sort_keys=False, width=200)).encode())
    return inventory


class _Session(asyncssh.SSHServerSession):
    """One channel: an exec request is answered at once from the host's state, then the channel exits."""

    def __init__(self, host: SimHost) -> None:
        self._host = host
        self._chan: asyncssh.SSHServerChannel | None = None
        self._command = ""

    def connection_made(self, chan: asyncssh.SSHServerChannel) -> None:
        self._chan = chan

    def exec_requested(self, command: str) -> bool:
        self._command = command
        return True

    def shell_requested(self) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        out, status = self._host.state.answer(self._command, time.time())
        self._host.fleet.probes += 1
        assert self._chan is not None
        if out:
            self._chan.write(out)
        self._chan.exit(status)


class _Server(asyncssh.SSHServer):
    def __init__(self, host: SimHost) -> None:
        self._host = host
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._host.conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._host.conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == USER and key.public_data == self._host.fleet.client_public

    def session_requested(self) -> asyncssh.SSHServerSession:
        return _Session(self._host)


class SimHost:
    """One simulated server: its listener, its open connections, its evolving state."""

    def __init__(self, fleet: SimFleet, index: int, port: int, key: asyncssh.SSHKey, state: SimHostState) -> None:
        self.fleet, self.index, self.port, self.key, self.state = fleet, index, port, key, state
        self.id = host_id(index)
        self.conns: set[asyncssh.SSHServerConnection] = set()
        self.acceptor: asyncssh.SSHAcceptor | None = None

    async def listen(self) -> None:
        self.acceptor = await asyncssh.listen(LOOPBACK, self.port, server_factory=lambda: _Server(self),
                                              server_host_keys=[self.key], backlog=128, **_SERVER_OPTIONS)

    def go_down(self) -> None:
        if self.acceptor is not None:
            self.acceptor.close()
            self.acceptor = None
        for conn in list(self.conns):
            conn.abort()


class SimFleet:
    """The hosts one process serves (indexes first..last-1), their drop-offs and the status file."""

    def __init__(self, out: Path, hosts: int, first_port: int, seed: int, first: int, last: int,
                 drop_pct: float) -> None:
        self.out, self.seed, self.first_port = out, seed, first_port
        self.first, self.last = first, last
        self.client_public = load_key(out / "client_ed25519", "fleetsim-client").public_data
        self.hosts: list[SimHost] = []
        self.probes = 0
        self.down: set[str] = set()
        r = random.Random(seed * 31 + 7)
        flaky = set(r.sample(range(hosts), round(hosts * drop_pct / 100))) if drop_pct > 0 else set()
        self.flaky = sorted(i for i in flaky if first <= i < last)
        self.drops_started = asyncio.Event()
        self.status_path = out / f"sim-{os.getpid()}.json"
        self.drops_path = out / f"drops-{os.getpid()}.jsonl"
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        now = time.time()
        for i in range(self.first, self.last):
            key = load_key(host_key_path(self.out, i), host_id(i))
            host = SimHost(self, i, self.first_port + i, key, SimHostState(HostProfile(self.seed, i), now))
            await host.listen()
            self.hosts.append(host)
        self._tasks = [asyncio.create_task(self._status_loop())]
        self._tasks += [asyncio.create_task(self._flap(self.hosts[i - self.first])) for i in self.flaky]

    async def _flap(self, host: SimHost) -> None:
        r = random.Random(self.seed * 131 + host.index)
        await self.drops_started.wait()
        await asyncio.sleep(r.uniform(0, UP_S[0]))
        while True:
            self._log({"host": host.id, "down": time.time()})
            self.down.add(host.id)
            host.go_down()
            await asyncio.sleep(r.uniform(*DOWN_S))
            if r.random() < 0.5:  # it rebooted meanwhile
                now = time.time()
                host.state.boot(now - r.uniform(5, 20), now)
            while host.acceptor is None:
                try:
                    await host.listen()
                except OSError as exc:  # the port is still taken: try again
                    log.warning("%s cannot listen on %d again: %s", host.id, host.port, exc)
                    await asyncio.sleep(1)
            self.down.discard(host.id)
            self._log({"host": host.id, "up": time.time()})
            await asyncio.sleep(r.uniform(*UP_S))

    def _log(self, record: dict[str, Any]) -> None:
        with open(self.drops_path, "a") as f:
            f.write(json.dumps(record) + "\n")

    def status(self) -> dict[str, Any]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return {"pid": os.getpid(), "first": self.first, "last": self.last, "t": time.time(),
                "probes": self.probes, "connections": sum(len(h.conns) for h in self.hosts),
                "down": sorted(self.down), "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": ru.ru_maxrss,
                "drops_started": self.drops_started.is_set()}

    def write_status(self) -> None:
        tmp = self.status_path.with_name(self.status_path.name + ".tmp")
        tmp.write_text(json.dumps(self.status()))
        os.replace(tmp, self.status_path)

    async def _status_loop(self) -> None:
        while True:
            self.write_status()
            await asyncio.sleep(2)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for host in self.hosts:
            host.go_down()
        self.write_status()


def raise_fd_limit() -> None:
    """Two descriptors a host (listener, connection): lift the soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(args: argparse.Namespace) -> None:
    first, last = args.serve
    fleet = SimFleet(args.out, args.hosts, args.first_port, args.seed, first, last, args.drop_pct)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, fleet.drops_started.set)
    started = time.perf_counter()
    await fleet.start()
    print(f"READY {len(fleet.hosts)} hosts on {LOOPBACK}:{args.first_port + first}-{args.first_port + last - 1} "
          f"({time.perf_counter() - started:.1f} s to listen), {len(fleet.flaky)} drop off now and then; "
          f"status in {fleet.status_path}", flush=True)
    if args.drops_start is not None:
        loop.call_later(args.drops_start, fleet.drops_started.set)
    await stop.wait()
    await fleet.stop()


class _Sink(asyncssh.SSHClientSession):
    """The load test's client side of one probe: count the bytes, note the end."""

    def __init__(self) -> None:
        self.size = 0
        self.done = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes, datatype: Any) -> None:
        self.size += len(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(self.size)


async def _drive(args: argparse.Namespace, sim_pid: int) -> dict[str, Any]:
    from remote_scripts import probe_command

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fleet_measure as fm

    known = asyncssh.read_known_hosts(str(args.out / "known_hosts"))
    key = asyncssh.read_private_key(str(args.out / "client_ed25519"))
    command = probe_command(["-g", "-m", "/", "--", "ssh.service", "cron.service"])
    gate = asyncio.Semaphore(50)

    async def connect(i: int) -> asyncssh.SSHClientConnection:
        async with gate:
            return await asyncssh.connect(LOOPBACK, args.first_port + i, username=USER, client_keys=[key],
                                          known_hosts=known, config=None, agent_path=None)

    started = time.perf_counter()
    conns = await asyncio.gather(*(connect(i) for i in range(args.hosts)))
    connect_s = time.perf_counter() - started
    latencies: list[float] = []
    sizes: list[int] = []
    t0 = time.monotonic() + args.interval  # one interval to settle, then measure
    end = t0 + args.load_test

    async def probe_loop(i: int, conn: asyncssh.SSHClientConnection) -> None:
        next_at = time.monotonic() + args.interval * i / args.hosts
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            t = time.monotonic()
            _chan, sink = await conn.create_session(_Sink, command, encoding=None)
            size = await sink.done
            if t >= t0:
                latencies.append(time.monotonic() - t)
                sizes.append(size)
            next_at += args.interval

    tracker = fm.ProcTracker([sim_pid], follow_tree=False)
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    tracker.mark_start()
    tasks = [asyncio.create_task(probe_loop(i, c)) for i, c in enumerate(conns)]
    await asyncio.sleep(max(0.0, end - time.monotonic()))
    tracker.scan()
    window = time.monotonic() - t0
    await asyncio.gather(*tasks)
    for conn in conns:
        conn.close()
    latencies.sort()
    n = len(latencies)
    return {"hosts": args.hosts, "interval_s": args.interval, "connect_all_s": round(connect_s, 1),
            "probes_per_s": round(n / window, 1), "latency_ms": {
                "p50": round(1000 * latencies[n // 2], 1), "p99": round(1000 * latencies[int(n * 0.99)], 1),
                "max": round(1000 * latencies[-1], 1)} if n else None,
            "output_bytes_median": sorted(sizes)[len(sizes) // 2] if sizes else None,
            "sim_cpu_pct": round(100 * tracker.cpu_s() / window, 1),
            "sim_cpu_ms_per_probe": round(1000 * tracker.cpu_s() / max(1, n), 3),
            "sim_rss_mb": round(tracker.rss("rss_last"), 1)}


def load_test(args: argparse.Namespace) -> int:
    import subprocess

    cmd = [sys.executable, __file__, "--hosts", str(args.hosts), "--first-port", str(args.first_port), "--seed",
           str(args.seed), "--out", str(args.out), "--serve", f"0:{args.hosts}", "--drop-pct", "0"]
    sim = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    try:
        print(sim.stdout.readline().decode().strip(), flush=True)
        result = asyncio.run(_drive(args, sim.pid))
    finally:
        sim.terminate()
        sim.wait(timeout=30)
    print(json.dumps(result, indent=1))
    return 0


def _slice(text: str) -> tuple[int, int]:
    a, _, b = text.partition(":")
    return int(a), int(b)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hosts", type=int, required=True, help="hosts in the whole fleet")
    p.add_argument("--first-port", type=int, default=20000, help="host i listens on FIRST_PORT + i (default 20000)")
    p.add_argument("--seed", type=int, default=1, help="the fleet's makeup and behaviour (default 1)")
    p.add_argument("--out", type=Path, required=True, help="folder for keys, known_hosts, hosts.yaml, status")
    p.add_argument("--serve", type=_slice, metavar="A:B",
                   help="serve hosts A..B-1 only and write nothing but status (another process ran prepare)")
    p.add_argument("--drop-pct", type=float, default=1.0, help="percent of hosts that drop off now and then")
    p.add_argument("--drops-start", type=float, metavar="SECONDS",
                   help="start the drop-offs after this long (default: on SIGUSR1)")
    p.add_argument("--interval", type=float, default=5.0, help="probe interval in s (hosts.yaml; load test)")
    p.add_argument("--load-test", type=float, metavar="SECONDS", help="measure one simulator process alone")
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s fleetsim %(levelname)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.ERROR)  # one line per channel otherwise
    if args.first_port + args.hosts > 65536:
        p.error("--first-port + --hosts goes past port 65535")
    if args.serve is None:
        inventory = prepare(args.out, args.hosts, args.first_port, args.seed, interval=f"{args.interval:g}s")
        print(f"inventory {inventory}, known_hosts {args.out / 'known_hosts'}", flush=True)
        args.serve = (0, args.hosts)
    raise_fd_limit()
    if args.load_test:
        return load_test(args)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
