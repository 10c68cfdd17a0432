"""Latency and throughput through the reverse forward (collector.proxy) versus direct.

Run as root from the repository root:  python3 benchmarks/proxy_tunnel.py [--quick] [--json]

Everything runs on this machine over loopback, with the real test sshd
(tests/support/sshd.py) playing the host:

  direct           client -> target server
  tunnel           client -> sshd's remote listener -> SSH channel on the hub's
                   connection -> hub (HostProxy) -> target server
                   (ProxyConfig target = "127.0.0.1:<target port>")
  tunnel, builtin  client -> sshd's remote listener -> SSH channel -> the hub's
                   builtin HTTP proxy (target = "builtin") -> CONNECT to the target
  ssh -R           reference, not fleetwatch code: OpenSSH's own client holding
                   the same kind of reverse forward to the target

Three processes take part besides sshd, so that the hub's CPU is measured
alone: this process is the hub (asyncio + asyncssh + HostProxy, nothing else);
the target server (echo / sink / source) and the client (blocking sockets) are
each a subprocess running this same file with --role.

Metrics per path:
  latency   64-byte message echoed back, one open connection, after 200 warm-up
            round trips; median / p95 / p99 (nearest rank) over --rounds
  setup     new TCP connection (plus CONNECT and its 200 answer for builtin) and
            one 64-byte round trip, then close, back to back; after 20 warm-up
            connections, median / p95 / p99 and the count over 20 ms, over --setups
  upload    client -> target: --mib MiB on one connection to a sink that
            discards and acknowledges the total; timed to the acknowledgement
  download  target -> client: --mib MiB streamed by the target; timed to the
            last byte
Throughput is in MiB/s (2^20 bytes per second). "hub CPU" is the CPU time
(user+system) of this process from the start to the end of the transfer (the
client connects first, then waits for "go" on stdin), so it is what the hub
spends forwarding that transfer (the SSH crypto of the hub's side, the
channel, the pipe to the target); the direct rows show the floor (the hub
idles). For the ssh -R row the column is the OpenSSH client's CPU instead.
"sshd CPU" is the host side: every sshd process under the test listener.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HEADER = struct.Struct("!cQ")  # mode (E echo, U upload sink, D download source), byte count
ACK = struct.Struct("!Q")
MSG = 64
WARMUP = 200
TICK = os.sysconf("SC_CLK_TCK")
BUF = 1 << 20


# --------------------------------------------------------------------------- target server (subprocess)
class _Target(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        s: socket.socket = self.request
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            head = _recv_exact(s, HEADER.size)
        except EOFError:
            return
        mode, n = HEADER.unpack(head)
        if mode == b"E":
            while data := s.recv(65536):
                s.sendall(data)
        elif mode == b"U":
            buf = bytearray(BUF)
            left = n
            while left:
                got = s.recv_into(buf, min(left, BUF))
                if not got:
                    return
                left -= got
            s.sendall(ACK.pack(n))
            while s.recv(65536):  # wait for the client to close
                pass
        elif mode == b"D":
            block = memoryview(bytes(BUF))
            left = n
            while left:
                k = min(left, BUF)
                s.sendall(block[:k])
                left -= k
            while s.recv(65536):
                pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def run_target() -> None:
    server = _Server(("127.0.0.1", 0), _Target)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# --------------------------------------------------------------------------- client (subprocess)
def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            raise EOFError(f"closed after {len(buf)} of {n} bytes")
        buf += data
    return bytes(buf)


def _open(port: int, connect: str | None) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if connect:
        s.sendall(f"CONNECT {connect} HTTP/1.1\r\nHost: {connect}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:  # the target sends nothing before our header: no data to keep
            data = s.recv(4096)
            if not data:
                raise EOFError("the proxy closed before answering CONNECT")
            head += data
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"CONNECT refused: {head[:200]!r}")
    return s


def run_client(args: argparse.Namespace) -> None:
    port, connect, n = args.port, args.connect, args.count
    msg = os.urandom(MSG)
    out: dict = {}
    if args.task == "latency":
        s = _open(port, connect)
        s.sendall(HEADER.pack(b"E", 0))
        samples = []
        for i in range(WARMUP + n):
            t0 = time.perf_counter()
            s.sendall(msg)
            _recv_exact(s, MSG)
            if i >= WARMUP:
                samples.append(time.perf_counter() - t0)
        s.close()
        out["samples"] = samples
    elif args.task == "setup":
        samples = []
        for i in range(WARMUP // 10 + n):
            t0 = time.perf_counter()
            s = _open(port, connect)
            s.sendall(HEADER.pack(b"E", 0) + msg)
            _recv_exact(s, MSG)
            dt = time.perf_counter() - t0
            s.close()
            if i >= WARMUP // 10:
                samples.append(dt)
        out["samples"] = samples
    elif args.task == "upload":
        s = _open(port, connect)
        block = memoryview(os.urandom(BUF))
        _ready()
        t0 = time.perf_counter()
        s.sendall(HEADER.pack(b"U", n))
        left = n
        while left:
            k = min(left, BUF)
            s.sendall(block[:k])
            left -= k
        (acked,) = ACK.unpack(_recv_exact(s, ACK.size))
        out["seconds"] = time.perf_counter() - t0
        assert acked == n, (acked, n)
        s.close()
    elif args.task == "download":
        s = _open(port, connect)
        buf = bytearray(BUF)
        _ready()
        t0 = time.perf_counter()
        s.sendall(HEADER.pack(b"D", n))
        left = n
        while left:
            got = s.recv_into(buf, min(left, BUF))
            if not got:
                raise EOFError(f"closed with {left} bytes to go")
            left -= got
        out["seconds"] = time.perf_counter() - t0
        s.close()
    print(json.dumps(out), flush=True)


def _ready() -> None:
    """Connected: tell the hub, and start when it says so (it reads its CPU clock in between)."""
    print("ready", flush=True)
    sys.stdin.readline()


# --------------------------------------------------------------------------- hub side (this process)
def _ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _descendants(root: int) -> list[int]:
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parent.items() if pp == p]
    return out


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += _ticks(pid)
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def _pct(samples: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    k = max(1, -(-len(ordered) * q // 100))
    return ordered[int(k) - 1]


async def _client(task: str, port: int, count: int, connect: str | None, cpu=None) -> dict:
    """Run one client task in a subprocess. With `cpu` (a list of clocks), a throughput task waits
    until connected, then the clocks are read right before "go" and right after the result."""
    cmd = [sys.executable, __file__, "--role", "client", "--task", task, "--port", str(port),
           "--count", str(count)]
    if connect:
        cmd += ["--connect", connect]
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE)
    result: dict = {}
    if cpu is not None:
        assert proc.stdin is not None and proc.stdout is not None
        if await proc.stdout.readline() == b"ready\n":
            before = [clock() for clock in cpu]
            proc.stdin.write(b"go\n")
            line = await proc.stdout.readline()
            after = [clock() for clock in cpu]
            result = json.loads(line or b"{}")
            result["cpu"] = [b - a for a, b in zip(before, after)]
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"client {task} on port {port} failed: {err.decode(errors='replace')[-2000:]}")
    return result or json.loads(out)


async def measure_path(label: str, port: int, connect: str | None, args, sshd_pid: int,
                       forwarder_cpu) -> dict:
    row: dict = {"path": label}
    lat = (await _client("latency", port, args.rounds, connect))["samples"]
    row["latency_ms"] = {"median": _pct(lat, 50) * 1e3, "p95": _pct(lat, 95) * 1e3, "p99": _pct(lat, 99) * 1e3,
                         "n": len(lat)}
    setup = (await _client("setup", port, args.setups, connect))["samples"]
    row["setup_ms"] = {"median": _pct(setup, 50) * 1e3, "p95": _pct(setup, 95) * 1e3, "p99": _pct(setup, 99) * 1e3,
                       "max": max(setup) * 1e3, "over_20ms": sum(x > 0.020 for x in setup), "n": len(setup)}
    nbytes = args.mib << 20
    for task in ("upload", "download"):
        sshd_pids = _descendants(sshd_pid)  # the session processes exist already (the forward is up)
        res = await _client(task, port, nbytes, connect,
                            cpu=[forwarder_cpu, lambda: _cpu_s(sshd_pids), time.perf_counter])
        seconds = res["seconds"]
        hub, sshd_s, wall = res["cpu"]
        row[task] = {"mib_per_s": args.mib / seconds, "seconds": seconds, "hub_cpu_s": hub,
                     "hub_cpu_pct_of_core": 100 * hub / wall, "sshd_cpu_s": sshd_s,
                     "sshd_cpu_pct_of_core": 100 * sshd_s / wall}
    return row


async def _wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s") from None
            await asyncio.sleep(0.05)


def machine_facts() -> dict:
    import asyncssh

    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    try:
        ssh_v = subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip()
    except OSError:
        ssh_v = "ssh not installed"
    flags = next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    return {"cpu": model, "cores": os.cpu_count(), "aes_ni": " aes " in f"{flags} ", "python": platform.python_version(),
            "asyncssh": asyncssh.__version__, "openssh": ssh_v, "kernel": platform.release()}


async def bench(args) -> dict:
    from collector.proxy import HostProxy
    from collector.ssh_pool import HostConnection
    from inventory import load_inventory
    from inventory.models import ProxyConfig
    from tests.support.sshd import free_port, start_sshd

    facts = machine_facts()
    started = time.perf_counter()
    target = subprocess.Popen([sys.executable, __file__, "--role", "target"], stdout=subprocess.PIPE, text=True)
    tmp = Path(tempfile.mkdtemp(prefix="fw-proxy-bench-"))
    proxies: list = []
    conns: list = []
    ssh_proc = sshd = None
    try:
        sshd = start_sshd()
        target_port = int(target.stdout.readline())
        target_addr = f"127.0.0.1:{target_port}"
        inv = tmp / "inventory.yaml"
        inv.write_text(sshd.inventory_yaml("test-host"))
        spec = load_inventory(inv).host("test-host")
        listen = {}
        for kind, tgt in (("external", target_addr), ("builtin", "builtin")):
            listen[kind] = free_port()
            conn = HostConnection(spec)  # each forward on its own connection, as in the hub (one per host)
            conns.append(conn)
            # the target is on loopback, which the builtin proxy opens only to a rule naming it
            allow = (target_addr,) if tgt == "builtin" else None
            proxy = HostProxy("test-host", ProxyConfig(enabled=True, remote_listen=f"127.0.0.1:{listen[kind]}",
                                                       target=tgt, allow=allow), conn)
            proxies.append(proxy)
            proxy.start()
        deadline = time.monotonic() + 20
        while not all(p.status.state == "up" for p in proxies):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the forwards did not come up: {[p.status for p in proxies]}")
            await asyncio.sleep(0.05)
        ssh = conns[0]._conn
        facts["ssh_cipher"] = f"{ssh.get_extra_info('send_cipher')} / mac {ssh.get_extra_info('send_mac')}"
        facts["ssh_compression"] = str(ssh.get_extra_info("send_compression"))

        hub_cpu = time.process_time
        rows = [
            await measure_path("direct", target_port, None, args, sshd.proc.pid, hub_cpu),
            await measure_path("tunnel -> 127.0.0.1:port", listen["external"], None, args, sshd.proc.pid, hub_cpu),
            await measure_path("tunnel -> builtin (CONNECT)", listen["builtin"], target_addr, args, sshd.proc.pid,
                               hub_cpu),
        ]
        if not args.no_openssh and shutil.which("ssh"):
            ref_port = free_port()
            ssh_proc = subprocess.Popen(
                ["ssh", "-F", "/dev/null", "-N", "-v", "-E", str(tmp / "ssh.log"), "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
                 "-o", f"UserKnownHostsFile={sshd.known_hosts_path}", "-o", "StrictHostKeyChecking=yes",
                 "-i", str(sshd.client_key_path), "-p", str(sshd.port),
                 "-R", f"127.0.0.1:{ref_port}:{target_addr}", f"{sshd.user}@127.0.0.1"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            await _wait_port(ref_port)
            pid = ssh_proc.pid
            rows.append(await measure_path("ssh -R (OpenSSH client, reference)", ref_port, None, args,
                                           sshd.proc.pid, lambda: _cpu_s([pid])))
            kex = [line.split("kex: client->server cipher: ", 1)[1] for line in
                   (tmp / "ssh.log").read_text(errors="replace").splitlines() if "kex: client->server cipher: " in line]
            facts["openssh_cipher"] = kex[0].strip() if kex else "?"
    finally:
        if ssh_proc is not None:
            ssh_proc.terminate()
            ssh_proc.wait()
        for proxy in proxies:
            await proxy.stop()
        for conn in conns:
            await conn.close()
        if sshd is not None:
            sshd.stop()
            shutil.rmtree(sshd.root, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        target.terminate()
        target.wait()
    params = {"rounds": args.rounds, "setups": args.setups, "mib": args.mib, "message_bytes": MSG,
              "warmup_round_trips": WARMUP, "pipe_chunk_bytes": 64 * 1024}
    return {"machine": facts, "params": params, "rows": rows, "runtime_s": time.perf_counter() - started}


def print_table(result: dict) -> None:
    f, p = result["machine"], result["params"]
    print("fleetwatch reverse forward: tunnel vs direct (loopback, this machine)")
    print(f"  CPU      {f['cpu']}, {f['cores']} cores, AES-NI {'yes' if f['aes_ni'] else 'no'} "
          f"(kernel {f['kernel']})")
    print(f"  Python   {f['python']}, asyncssh {f['asyncssh']}")
    print(f"  OpenSSH  {f['openssh']}")
    print(f"  hub SSH  {f.get('ssh_cipher', '?')}, compression {f.get('ssh_compression', '?')}")
    if "openssh_cipher" in f:
        print(f"  ssh -R   cipher {f['openssh_cipher']}")
    print(f"  latency: {p['message_bytes']}-byte echo, {p['rounds']} round trips after {p['warmup_round_trips']} "
          f"warm-up; setup: {p['setups']} new connections; throughput: {p['mib']} MiB each way\n")
    print("| path | RTT median | RTT p95 | RTT p99 | connect+RTT median | connect+RTT p95 | connect+RTT p99 "
          "| connects > 20 ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in result["rows"]:
        lat, st = r["latency_ms"], r["setup_ms"]
        print(f"| {r['path']} | {lat['median']:.3f} ms | {lat['p95']:.3f} ms | {lat['p99']:.3f} ms "
              f"| {st['median']:.2f} ms | {st['p95']:.2f} ms | {st['p99']:.2f} ms | {st['over_20ms']} of {st['n']} |")
    print()
    print("| path | direction | throughput | time | hub CPU | hub CPU / GiB | sshd CPU |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in result["rows"]:
        for d in ("upload", "download"):
            t = r[d]
            per_gib = t["hub_cpu_s"] / (p["mib"] / 1024)
            print(f"| {r['path']} | {d} | {t['mib_per_s']:.1f} MiB/s | {t['seconds']:.2f} s "
                  f"| {t['hub_cpu_s']:.2f} s ({t['hub_cpu_pct_of_core']:.0f} % of a core) | {per_gib:.2f} s "
                  f"| {t['sshd_cpu_s']:.2f} s ({t['sshd_cpu_pct_of_core']:.0f} %) |")
    print("\nupload = client -> target, download = target -> client; MiB/s = 2^20 bytes per second.")
    print("hub CPU = this process (asyncio, asyncssh, HostProxy; the client and the target are other")
    print("processes) from the start to the end of the transfer; % of a core = CPU s / wall s. For the ssh -R")
    print("row it is the OpenSSH client's CPU. sshd CPU = all sshd processes of the test host (user+system,")
    print(f"{1000 // TICK} ms clock ticks).")
    print(f"runtime {result['runtime_s']:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000, help="warm round trips per path (default 2000)")
    parser.add_argument("--setups", type=int, default=200, help="new connections per path (default 200)")
    parser.add_argument("--mib", type=int, default=256, help="MiB per throughput run and direction (default 256)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 rounds, 20 setups, 16 MiB")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--no-openssh", action="store_true", help="skip the ssh -R reference row")
    parser.add_argument("--role", choices=("hub", "target", "client"), default="hub", help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--connect", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "target":
        run_target()
        return
    if args.role == "client":
        run_client(args)
        return
    if args.quick:
        args.rounds, args.setups, args.mib = 200, 20, 16
    result = asyncio.run(bench(args))
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print_table(result)


if __name__ == "__main__":
    main()
