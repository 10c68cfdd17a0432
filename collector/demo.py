"""Simulated hosts for `fleetwatch demo`: in-process SSH servers on 127.0.0.1.

SECURITY: a simulated host EXECUTES EVERY COMMAND IT IS SENT ON THIS MACHINE,
AS THE USER RUNNING THE DEMO (`sh -c COMMAND` with the local POSIX sh). That is
what lets the real probe.sh report on this machine, and it is acceptable only
because of how the servers are set up:

- they listen on 127.0.0.1 only, on ports the OS picks, while the demo runs;
- the only login accepted is public-key auth, as the current user's name, with
  the one-time ed25519 client key generated for this run (written 0600 in the
  demo's own temporary folder, which mkdtemp makes 0700); password,
  keyboard-interactive, GSS and host-based auth are off;
- no port forwarding, agent or X11 forwarding, sftp/scp, shell or pty: exec
  requests only. A command still running when its channel closes is killed,
  with its process group.

Whoever can read that folder (this user, root) can run commands as this user
while the demo runs, which they could do anyway.

The hosts: demo-web-1 and demo-db-1 run the probe against this machine as is;
demo-gpu-1 runs it with `demo_bin/` first on PATH (a fake nvidia-smi with four
H100s that follow the clock, a fake systemctl with nginx running and backup
failed); demo-flaky-1 goes down (refuses connections and drops the open ones)
for `down_s` after every `up_s`.

Alerting, so the Alerts page has something to show within two minutes: two rules (a GPU above
80 C, which demo-gpu-1's GPU 2 is for the first three minutes of every four from the demo's
start; a host down, which demo-flaky-1 is for a while every cycle) notify a webhook receiver
that the demo runs on 127.0.0.1 (collector/demo_receiver.py; its deliveries are written to
webhook-received.jsonl in the demo's folder).
"""
from __future__ import annotations

import asyncio
import getpass
import logging
import os
import shutil
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import yaml

from collector.demo_receiver import DemoReceiver
from collector.hostkeys import public_key_line

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEMO_BIN = Path(__file__).resolve().parent / "demo_bin"
FAKE_TOOLS = ("nvidia-smi", "systemctl")
NOTIFIER = "demo-receiver"
GPU_HOT_RULE = "demo-gpu-hot"
HOST_DOWN_RULE = "demo-host-down"


def demo_alerting(receiver_url: str) -> dict[str, Any]:
    """The demo's `alerts:` and `notifiers:`: a hot GPU and a host down, told to the demo's receiver."""
    return {
        "alerts": [
            {"name": GPU_HOT_RULE, "hosts": "demo-*", "metric": "gpu_temperature_c", "op": ">", "threshold": 80,
             "for": "10s", "severity": "warning", "notify": [NOTIFIER]},
            {"name": HOST_DOWN_RULE, "hosts": "demo-*", "event": "host_down", "severity": "critical",
             "notify": [NOTIFIER]},
        ],
        "notifiers": {NOTIFIER: {"type": "webhook", "url": receiver_url, "timeout": "5s", "max_attempts": 3}},
    }
_POSIX = hasattr(os, "killpg")
_PIPE = asyncio.subprocess.PIPE

# Everything but public-key auth and exec requests is off.
_SERVER_OPTIONS: dict[str, Any] = {
    "public_key_auth": True, "password_auth": False, "kbdint_auth": False, "gss_auth": False,
    "host_based_auth": False, "allow_pty": False, "agent_forwarding": False, "x11_forwarding": False,
    "sftp_factory": None, "allow_scp": False, "encoding": None, "login_timeout": 10,
}


class NoPosixShell(RuntimeError):
    """No `sh` on PATH (Windows): the simulated hosts could not run the probe."""


def find_posix_sh() -> str:
    sh = shutil.which("sh")
    if sh is None:
        raise NoPosixShell("the demo runs the probe with this machine's POSIX sh, and there is no `sh` on PATH "
                           "(on Windows, run it under WSL)")
    return sh


def demo_user() -> str:
    """The current user's name, which the simulated hosts accept (a neutral one if it cannot be used)."""
    from inventory.patterns import validate_user

    try:
        return validate_user(getpass.getuser())
    except (ValueError, KeyError, OSError):
        return "demo"


@dataclass(frozen=True)
class SimHost:
    """One simulated host: what its inventory entry says and how it behaves."""

    id: str
    role: str
    bin_dir: Path | None = None  # first on the PATH of its commands (fake tools)
    services: tuple[str, ...] = ()
    gpu: str | None = None
    disks: str | None = None
    flap: tuple[float, float] | None = None  # (up_s, down_s)


def demo_hosts(bin_dir: Path, up_s: float, down_s: float) -> list[SimHost]:
    return [
        SimHost("demo-web-1", "web"),
        SimHost("demo-db-1", "db", disks="all"),
        SimHost("demo-gpu-1", "gpu", bin_dir=bin_dir, services=("nginx.service", "backup.service"), gpu="nvidia"),
        SimHost("demo-flaky-1", "flaky", flap=(up_s, down_s)),
    ]


def fake_bin(workdir: Path) -> Path:
    """collector/demo_bin, or a copy with the execute bit where an install dropped it."""
    if all(os.access(DEMO_BIN / tool, os.X_OK) for tool in FAKE_TOOLS):
        return DEMO_BIN
    copy = workdir / "demo_bin"
    copy.mkdir(exist_ok=True)
    for tool in FAKE_TOOLS:
        shutil.copyfile(DEMO_BIN / tool, copy / tool)
        (copy / tool).chmod(0o755)
    return copy


def _home() -> Path | None:
    """Where commands start: the user's home, as sshd does (None: the demo's working directory)."""
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError):
        return None
    return home if home.is_dir() else None


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


class _ExecOnly(asyncssh.SSHServerProcess):
    """A session that accepts exec requests only: no shell, no subsystem (sftp)."""

    def shell_requested(self) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        return False


class _Server(asyncssh.SSHServer):
    def __init__(self, host: SimulatedHost) -> None:
        self._host = host
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._host.conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        self._host.conns.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always authenticate

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._host.user and key.public_data == self._host.client_key.public_data

    def session_requested(self) -> asyncssh.SSHServerSession:
        return _ExecOnly(self._host.run_command, None, 0, False)

    # Port forwarding (TCP and Unix, either way): SSHServer's defaults refuse it, and are kept.


async def _pump(src: asyncio.StreamReader, dst: asyncssh.SSHWriter) -> None:
    while data := await src.read(65536):
        dst.write(data)
        await dst.drain()


async def _feed(src: asyncssh.SSHReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (OSError, asyncssh.Error):
        pass  # the command closed its stdin, or the channel went away
    finally:
        with suppress(OSError):
            dst.close()  # EOF on the command's stdin


class SimulatedHost:
    """One asyncssh server on 127.0.0.1 running `sh -c COMMAND` for each exec request."""

    def __init__(self, sim: SimHost, *, sh: str, user: str, client_key: asyncssh.SSHKey,
                 host_key: asyncssh.SSHKey, started_at: float | None = None) -> None:
        self.sim, self.sh, self.user = sim, sh, user
        self.client_key, self.host_key = client_key, host_key
        self.port = 0  # the OS picks it; kept when a flapping host listens again
        self.up = False
        self.conns: set[asyncssh.SSHServerConnection] = set()
        self._children: set[asyncio.subprocess.Process] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._flapper: asyncio.Task | None = None
        self._env = dict(os.environ)
        self._cwd = _home()
        if sim.bin_dir is not None:
            self._env["PATH"] = f"{sim.bin_dir}{os.pathsep}{self._env.get('PATH', '')}"
        if started_at is not None:  # the fake nvidia-smi's hot GPU counts its cycle from the demo's start
            self._env["FLEETWATCH_DEMO_T0"] = str(int(started_at))

    async def start(self) -> None:
        await self._listen()
        if self.sim.flap:
            self._flapper = asyncio.create_task(self._flap(*self.sim.flap), name=f"demo-flap:{self.sim.id}")

    async def _listen(self) -> None:
        self._acceptor = await asyncssh.listen(LOOPBACK, self.port, server_factory=lambda: _Server(self),
                                               server_host_keys=[self.host_key], **_SERVER_OPTIONS)
        self.port = self._acceptor.get_port()
        self.up = True

    async def go_down(self) -> None:
        """Stop listening (connections are refused), drop open connections, kill running commands."""
        self.up = False
        if self._acceptor is not None:
            self._acceptor.close()
            self._acceptor = None
        for conn in list(self.conns):
            conn.abort()
        await asyncio.gather(*(self._reap(c) for c in list(self._children)), return_exceptions=True)

    async def _flap(self, up_s: float, down_s: float) -> None:
        while True:
            await asyncio.sleep(up_s)
            log.info("%s goes down for %g s", self.sim.id, down_s)
            await self.go_down()
            await asyncio.sleep(down_s)
            while not self.up:
                try:
                    await self._listen()
                except OSError as exc:  # someone took the port meanwhile: keep trying
                    log.warning("%s cannot listen on port %d again: %s", self.sim.id, self.port, exc)
                    await asyncio.sleep(1)
            log.info("%s is up again", self.sim.id)

    async def stop(self) -> None:
        if self._flapper is not None:
            self._flapper.cancel()
            await asyncio.gather(self._flapper, return_exceptions=True)
        await self.go_down()

    async def run_command(self, process: asyncssh.SSHServerProcess) -> None:
        """An exec request: `sh -c COMMAND` here, stdin/stdout/stderr piped both ways, its exit status back."""
        try:
            child = await asyncio.create_subprocess_exec(
                self.sh, "-c", process.command or "", stdin=_PIPE, stdout=_PIPE, stderr=_PIPE,
                env=self._env, cwd=self._cwd, start_new_session=_POSIX)
        except OSError as exc:
            process.stderr.write(f"fleetwatch demo: cannot run {self.sh}: {exc}\n".encode())
            process.exit(127)
            return
        self._children.add(child)

        async def finish() -> int:
            await asyncio.gather(_pump(child.stdout, process.stdout), _pump(child.stderr, process.stderr))
            rc = await child.wait()
            return rc if rc >= 0 else 128 - rc  # killed by a signal: 128 + its number, as sh reports it

        feed = asyncio.ensure_future(_feed(process.stdin, child.stdin))
        done = asyncio.ensure_future(finish())
        closed = asyncio.ensure_future(process.wait_closed())
        try:
            await asyncio.wait({done, closed}, return_when=asyncio.FIRST_COMPLETED)
            if done.done() and not done.cancelled() and done.exception() is None and not process.is_closing():
                process.exit(done.result())
        finally:
            for task in (feed, done, closed):
                task.cancel()
            await self._reap(child)

    async def _reap(self, child: asyncio.subprocess.Process) -> None:
        """Kill a command still running (its whole process group) and wait for it."""
        if child.returncode is None:
            with suppress(ProcessLookupError, PermissionError):
                if _POSIX:
                    os.killpg(child.pid, signal.SIGKILL)
                else:
                    child.kill()
        with suppress(asyncio.TimeoutError, TimeoutError):
            await asyncio.wait_for(child.wait(), 5)
        self._children.discard(child)


class DemoFleet:
    """The simulated hosts, their keys, and the inventory that points a hub at them."""

    def __init__(self, workdir: Path, *, sh: str, flap: tuple[float, float] = (90.0, 40.0)) -> None:
        self.workdir = workdir
        self.sh = sh
        self.flap = flap
        self.user = demo_user()
        self.client_key_path = workdir / "client_ed25519"
        self.inventory_path = workdir / "hosts.yaml"
        self.hosts: list[SimulatedHost] = []
        self.receiver = DemoReceiver(workdir / "webhook-received.jsonl")

    async def start(self) -> None:
        """Make the keys, start the webhook receiver and every server, write hosts.yaml."""
        started_at = time.time()
        await self.receiver.start()
        client_key = asyncssh.generate_private_key("ssh-ed25519", comment="fleetwatch-demo")
        _write_secret(self.client_key_path, client_key.export_private_key())
        for sim in demo_hosts(fake_bin(self.workdir), *self.flap):
            host_key = asyncssh.generate_private_key("ssh-ed25519", comment=sim.id)
            _write_secret(self.workdir / f"host_key_{sim.id}", host_key.export_private_key())
            host = SimulatedHost(sim, sh=self.sh, user=self.user, client_key=client_key, host_key=host_key,
                                 started_at=started_at)
            self.hosts.append(host)
            await host.start()
        self.write_inventory()

    def write_inventory(self) -> None:
        entries = []
        for host in self.hosts:
            sim = host.sim
            entry: dict[str, Any] = {"id": sim.id, "address": LOOPBACK, "port": host.port, "user": self.user,
                                     "identity_file": str(self.client_key_path),
                                     "host_key": public_key_line(host.host_key)}
            optional = {"gpu": sim.gpu, "disks": sim.disks, "services": list(sim.services)}
            entry.update({k: v for k, v in optional.items() if v})
            entry["labels"] = {"demo": "true", "role": sim.role}
            entries.append(entry)
        header = ("# fleetwatch demo: simulated hosts served on 127.0.0.1 by the `fleetwatch demo` process\n"
                  "# (collector/demo.py); they run the probe on this machine and exist only while it runs.\n")
        doc = {"hosts": entries, **demo_alerting(self.receiver.url)}
        self.inventory_path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    async def stop(self) -> None:
        await asyncio.gather(*(h.stop() for h in self.hosts), self.receiver.stop(), return_exceptions=True)
