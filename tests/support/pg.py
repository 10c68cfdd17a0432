"""A real, throwaway PostgreSQL server on 127.0.0.1 for tests.

initdb makes a cluster in a temp folder; the server listens on a free port on
127.0.0.1 only, with its unix socket in the same folder, fsync off, and trust
authentication for the superuser `fleetwatch` (other roles need a password,
so the tests can check how one is passed). PostgreSQL refuses to run as root:
under root (as in CI) every server command runs as the `postgres` OS user.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.sshd import free_port

APT_PACKAGE = "postgresql"
SUPERUSER = "fleetwatch"
DATABASE = "fleetwatch"
OS_USER = "postgres"


class PostgresMissing(RuntimeError):
    pass


def pg_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [d for d in found if (d / "pg_ctl").exists() and (d / "postgres").exists()]
    if not found:
        raise PostgresMissing(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: install the apt package "
            f"'{APT_PACKAGE}' (apt-get install {APT_PACKAGE} postgresql-client, or run .ci/install)")

    def version(d: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", d.parent.name))

    return max(found, key=version)


def _as_pg_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        raise PostgresMissing(f"no '{OS_USER}' OS user to run PostgreSQL as (it refuses root): "
                              f"install the apt package '{APT_PACKAGE}', which creates it") from None
    return ["runuser", "-u", OS_USER, "--"]


@dataclass
class PgServer:
    """A running PostgreSQL cluster; `url` points at its `fleetwatch` database."""

    root: Path
    port: int
    bindir: Path
    url: str
    pid: int | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def admin_url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def halt(self) -> None:
        """Stop the server but keep its data (an outage); `resume()` starts it again on the same port."""
        _run([*_as_pg_user(), str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "30",
              "stop"], "pg_ctl stop")
        self.pid = None

    def resume(self) -> None:
        log = self.root / "server.log"
        _run([*_as_pg_user(), str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w", "-t", "30",
              "start"], "pg_ctl start", log)
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """pg_ctl stop (immediate), the server's own PID as a fallback; then remove the folder."""
        if self.data.exists():
            subprocess.run([*_as_pg_user(), str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                            "-w", "-t", "20", "stop"], capture_output=True)
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)  # gone already after pg_ctl stop: ProcessLookupError
            except ProcessLookupError:
                pass
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        extra = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{what} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}\n{extra}")


def start_postgres(max_connections: int = 50) -> PgServer:
    """initdb + pg_ctl start -w; creates the `fleetwatch` database. Stop with `.stop()`."""
    bindir = pg_bindir()
    as_pg = _as_pg_user()
    root = Path(tempfile.mkdtemp(prefix="fleetwatch-pg-", dir="/tmp" if Path("/tmp").is_dir() else None))
    if as_pg:
        shutil.chown(root, OS_USER, OS_USER)
    root.chmod(0o700)
    port = free_port()
    server = PgServer(root, port, bindir, f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}")
    try:
        _run([*as_pg, str(bindir / "initdb"), "-D", str(server.data), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--no-locale", "--no-sync"], "initdb")
        with open(server.data / "postgresql.conf", "a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{root}'\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                       f"max_connections = {max_connections}\nshared_buffers = 32MB\n")
        (server.data / "pg_hba.conf").write_text(
            f"local all {SUPERUSER} trust\n"
            f"host all {SUPERUSER} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n")
        log = root / "server.log"
        _run([*as_pg, str(bindir / "pg_ctl"), "-D", str(server.data), "-l", str(log), "-w", "-t", "30",
              "start"], "pg_ctl start", log)
        pid_file = server.data / "postmaster.pid"
        server.pid = int(pid_file.read_text().split()[0])
        _create_database(server, DATABASE)
    except BaseException:
        server.stop()
        raise
    return server


def _create_database(server: PgServer, name: str) -> None:
    import psycopg

    deadline = time.monotonic() + 10
    while True:
        try:
            with psycopg.connect(server.admin_url(), autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
