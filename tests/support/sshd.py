"""A real OpenSSH sshd on 127.0.0.1 for tests and benchmarks.

(Or on another address, optionally inside a network namespace: `start_sshd(address=..., netns=...)`.)

It runs as root (as CI does) and lets an unprivileged user whose login shell
is /bin/sh in with a generated key. `SetEnv PATH=` puts a directory of fake
`nvidia-smi` / `systemctl` first on that user's PATH.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

TEST_USER = "fwtest"
SSHD = "/usr/sbin/sshd"
FAKEBIN_SRC = Path(__file__).parent.parent / "fakebin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_test_user(name: str = TEST_USER) -> None:
    """Create the unprivileged login user (shell /bin/sh) if it does not exist."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode == 0:
        return
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    # useradd leaves the account locked ('!'); sshd refuses locked accounts even for keys
    subprocess.run(["usermod", "-p", "*", name], check=True)


def write_key(key: asyncssh.SSHKey, path: Path) -> Path:
    key.write_private_key(str(path))
    key.write_public_key(str(path) + ".pub")
    path.chmod(0o600)
    return path


@dataclass
class SSHDServer:
    """A running sshd with its keys and files."""

    root: Path
    port: int
    client_key_path: Path
    known_hosts_path: Path
    host_key: asyncssh.SSHKey
    fakebin: Path
    proc: subprocess.Popen | None = None
    log_path: Path = field(default=Path("/dev/null"))
    user: str = TEST_USER
    address: str = "127.0.0.1"  # where sshd listens (and the inventory points)
    netns: str | None = None  # the network namespace sshd runs in (None: this one)

    def inventory_yaml(self, host_id: str = "test-host", **overrides: object) -> str:
        """A one-host inventory pointing at this sshd."""
        import yaml  # local: only tests and benchmarks need it here

        host = {"id": host_id, "address": self.address, "port": self.port}
        host.update(overrides)
        doc = {
            "defaults": {
                "user": self.user,
                "identity_file": str(self.client_key_path),
                "known_hosts": str(self.known_hosts_path),
                "timeout": "5s",
            },
            "hosts": [host],
        }
        return yaml.safe_dump(doc, sort_keys=False)

    @property
    def config_path(self) -> Path:
        return self.root / "sshd_config"

    def session_pids(self) -> list[int]:
        """PIDs of the per-connection sshd processes (children of the listener)."""
        if self.proc is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.proc.pid:
                pids.append(int(stat.parent.name))
        return pids

    def go_down(self) -> None:
        """Like a host going off the network: the listener and every open connection end."""
        pids = self.session_pids()
        self.stop()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def restart(self) -> None:
        """Start the same sshd again: same port, same host key."""
        self.stop()
        self.proc = _launch(self.config_path, self.port, self.log_path, self.netns)
        _wait_listening(self)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def start_sshd(extra_config: str = "", port: int | None = None, address: str = "127.0.0.1",
               netns: str | None = None) -> SSHDServer:
    """Start sshd -D on `address` (127.0.0.1) with fresh host and client keys.

    With `netns`, sshd runs in that network namespace (`ip netns exec`, which
    execs sshd: `proc.pid` is sshd's own PID); `address` must be one of the
    namespace's addresses that this process can reach.
    """
    if os.geteuid() != 0:
        raise RuntimeError("the test sshd needs root (CI runs as root): it creates a test user")
    if not Path(SSHD).exists():
        raise RuntimeError(f"{SSHD} missing: apt-get install openssh-server (see .ci/run)")
    ensure_test_user()
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation dir
    root = Path(tempfile.mkdtemp(prefix="fleetwatch-sshd-"))
    root.chmod(0o755)  # the test user must reach authorized_keys and fakebin
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    host_key_path = write_key(host_key, root / "ssh_host_ed25519_key")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key_path = write_key(client_key, root / "client_key")
    auth = root / "authorized_keys"
    auth.write_bytes(client_key.export_public_key("openssh"))
    auth.chmod(0o644)
    fakebin = root / "fakebin"
    shutil.copytree(FAKEBIN_SRC, fakebin)
    for f in fakebin.iterdir():
        f.chmod(0o755)
    fakebin.chmod(0o755)
    port = port or free_port()
    known_hosts = root / "known_hosts"
    key_line = " ".join(host_key.export_public_key("openssh").decode().split()[:2])
    host_field = address if port == 22 else f"[{address}]:{port}"  # as OpenSSH writes it
    known_hosts.write_text(f"{host_field} {key_line}\n")
    config = root / "sshd_config"
    config.write_text(
        f"""ListenAddress {address}
Port {port}
HostKey {host_key_path}
PidFile {root / 'sshd.pid'}
AuthorizedKeysFile {auth}
AllowUsers {TEST_USER}
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
MaxSessions 200
MaxStartups 100:30:200
LogLevel ERROR
SetEnv PATH={fakebin}:/usr/local/bin:/usr/bin:/bin
{extra_config}
"""
    )
    log_path = root / "sshd.log"
    proc = _launch(config, port, log_path, netns)
    sshd = SSHDServer(root, port, client_key_path, known_hosts, host_key, fakebin, proc, log_path,
                      address=address, netns=netns)
    _wait_listening(sshd)
    return sshd


def _launch(config: Path, port: int, log_path: Path, netns: str | None = None) -> subprocess.Popen:
    command = [SSHD, "-D", "-e", "-f", str(config), "-p", str(port)]
    if netns is not None:
        command = ["ip", "netns", "exec", netns, *command]  # ip execs sshd: the PID stays sshd's
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)


def _wait_listening(sshd: SSHDServer) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        assert sshd.proc is not None
        if sshd.proc.poll() is not None:
            raise RuntimeError(f"sshd exited: {sshd.log_path.read_text()}")
        try:
            with socket.create_connection((sshd.address, sshd.port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    sshd.stop()
    raise RuntimeError("sshd did not start listening within 10 s")
