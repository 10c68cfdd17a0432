"""One persistent asyncssh connection per host, reused for every probe.

Each probe opens a new channel on the host's connection (about 3 ms on a warm
connection, against ~40 ms for connect+auth and ~45 ms of sshd's first-request
delay on a fresh one). Key auth only; host keys always verified. Failures are
classified (`collector.errors.Failure`) with a message that says what to do.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from collector import hostkeys
from collector.backoff import Backoff
from collector.errors import Failure, HostError
from collector.parsed_files import ParsedFiles
from inventory import HostSpec

log = logging.getLogger(__name__)

KEEPALIVE_INTERVAL_S = 15.0
KEEPALIVE_COUNT_MAX = 3
# AES-GCM first: with AES-NI (any server CPU of the last decade) it costs the hub
# about half the CPU of asyncssh's default chacha20 (docs/benchmarks.md, reverse
# forward); the rest of asyncssh's list follows, so any sshd still agrees on one.
CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com",
           "aes256-ctr", "aes192-ctr", "aes128-ctr")
DEFAULT_MAX_OUTPUT = 1 << 20  # a host is not trusted: cap what one command may send


def _skip_disabled_asyncssh_records() -> None:
    """asyncssh's SSHLogger.log turns every argument into text before asking whether the level is enabled
    (asyncssh 2.24): some ten records a probe that nobody emits, 4.5 % of a worker's CPU at 2,000 hosts
    (py-spy, docs/benchmarks.md). Ask first; an enabled level is logged exactly as before."""
    from asyncssh.logging import SSHLogger

    if getattr(SSHLogger.log, "fleetwatch_checks_level", False):
        return
    convert = SSHLogger.log

    def log(self, level: int, msg: object, *args, **kwargs) -> None:
        if self.isEnabledFor(level):
            convert(self, level, msg, *args, **kwargs)
    log.fleetwatch_checks_level = True  # type: ignore[attr-defined]
    SSHLogger.log = log  # type: ignore[method-assign]


_skip_disabled_asyncssh_records()


@dataclass(frozen=True)
class CommandResult:
    """Output of one remote command."""

    stdout: bytes
    stderr: bytes
    exit_status: int | None
    truncated: bool
    seconds: float


class _Client(asyncssh.SSHClient):
    """Remembers the key a server offered when it was not trusted."""

    def __init__(self) -> None:
        self.offered_key: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self.offered_key = key
        return False  # only keys already trusted pass; this just records the offer


def _read_client_key(path: Path) -> asyncssh.SSHKey:
    """A private key file. Errors (KeyFileError) name the file, never quote it: asyncssh's import errors
    can carry text of the file ("Unknown PEM key type: <the file's header>"), so none of theirs is shown."""
    if path.exists() and not path.is_file():  # a FIFO or /dev/zero would block or never end
        raise KeyFileError(f"identity_file {path} is not a regular file")
    try:
        return asyncssh.read_private_key(str(path))
    except FileNotFoundError:
        raise KeyFileError(f"identity file {path} not found") from None
    except OSError as exc:  # strerror only: the exception's repr is not needed to say what to do
        raise KeyFileError(f"cannot read identity file {path}: {exc.strerror or type(exc).__name__}; it must be "
                           "readable by the hub's user (and no one else)") from None
    except Exception:  # KeyImportError, KeyEncryptionError, UnicodeDecodeError...: may quote the file
        raise KeyFileError(
            f"identity_file {path} is not a private key (or is encrypted): passphrase-protected keys are "
            "not supported; use a dedicated key without passphrase, readable only by the hub's user") from None


class KeyFileError(ValueError):
    """An identity file that cannot be used (the message quotes nothing of it)."""


CLIENT_KEYS: ParsedFiles[asyncssh.SSHKey] = ParsedFiles(_read_client_key)  # a fleet shares one key: one parse


def _load_client_key(spec: HostSpec) -> asyncssh.SSHKey:
    """The host's private key, or HostError(AUTH_FAILED) saying what to set."""
    try:
        return CLIENT_KEYS.get(Path(spec.identity_file))
    except KeyFileError as exc:
        text = str(exc)
        if "not a private key" not in text and "readable by" not in text:
            text += f"; set identity_file for host {spec.id} to its private key"
        raise HostError(Failure.AUTH_FAILED, text) from None


def _connect_material(spec: HostSpec) -> tuple[asyncssh.SSHKey, object]:
    """The client key and what to trust, from files (a thread's work: a changed file is parsed again)."""
    client_key = _load_client_key(spec)
    try:
        known = hostkeys.trusted_keys(spec)
    except hostkeys.KnownHostsError as exc:  # its message quotes nothing of the file
        raise HostError(Failure.HOST_KEY_MISMATCH, f"cannot read host keys for {spec.id}: {exc}") from None
    return client_key, known


def _host_key_error(spec: HostSpec, client: _Client, peer_addr: str | None) -> HostError:
    offered = client.offered_key
    got = f" (it offered {offered.get_algorithm()} {hostkeys.fingerprint(offered)})" if offered else ""
    try:
        on_record = hostkeys.known_keys(spec, peer_addr)
    except (ValueError, OSError, asyncssh.KeyImportError):
        on_record = []
    where = "the key pinned in the inventory" if spec.host_key else f"known_hosts {spec.known_hosts}"
    if on_record:
        expected = ", ".join(hostkeys.fingerprint(k) for k in on_record)
        return HostError(
            Failure.HOST_KEY_MISMATCH,
            f"HOST KEY CHANGED for {spec.address}:{spec.port}{got}; {where} has {expected}. "
            f"Refusing to connect: this may be an attack. If the host was reinstalled, check the new "
            f"fingerprint on its console and run `fleetwatch hosts trust {spec.id} --replace`.",
        )
    return HostError(
        Failure.HOST_KEY_MISMATCH,
        f"host key of {spec.address}:{spec.port} is not known{got}: not in {where}. "
        f"Run `fleetwatch hosts trust {spec.id}` to check and pin it.",
    )


def classify(exc: BaseException, spec: HostSpec, client: _Client | None = None) -> HostError:
    """Map a connect or channel exception to a failure class."""
    if isinstance(exc, HostError):
        return exc
    target = f"{spec.address}:{spec.port}"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return _host_key_error(spec, client or _Client(), None)
    if isinstance(exc, asyncssh.PermissionDenied):
        return HostError(
            Failure.AUTH_FAILED,
            f"{spec.user}@{target} refused key {spec.identity_file}; add its public key to "
            f"~{spec.user}/.ssh/authorized_keys on the host (see docs/host-setup.md)",
        )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return HostError(Failure.TIMEOUT, f"no answer from {target} within {spec.timeout_s:g} s")
    if isinstance(exc, socket.gaierror):
        return HostError(Failure.UNREACHABLE, f"cannot resolve {spec.address}: {exc.strerror or exc}")
    if isinstance(exc, ConnectionRefusedError):
        return HostError(Failure.UNREACHABLE, f"connection to {target} refused: is sshd running on port {spec.port}?")
    if isinstance(exc, OSError):
        return HostError(Failure.UNREACHABLE, f"cannot reach {target}: {exc.strerror or exc}")
    if isinstance(exc, (asyncssh.ConnectionLost, asyncssh.DisconnectError)):
        return HostError(Failure.UNREACHABLE, f"{target} closed the connection: {exc}")
    if isinstance(exc, asyncssh.ChannelOpenError):
        return HostError(Failure.PROBE_FAILED, f"{target} refused a session channel: {exc}")
    return HostError(Failure.PROBE_FAILED, f"{type(exc).__name__}: {exc}")


async def _read_capped(stream: asyncssh.SSHReader, limit: int) -> tuple[bytes, bool]:
    """Read a stream to EOF, keeping at most `limit` bytes (the rest is drained)."""
    chunks: list[bytes] = []
    size = 0
    truncated = False
    while True:
        data = await stream.read(65536)
        if not data:
            return b"".join(chunks), truncated
        if size < limit:
            keep = data[: limit - size]
            chunks.append(keep)
            size += len(keep)
            truncated = truncated or len(keep) < len(data)
        else:
            truncated = True


class HostConnection:
    """The hub's single SSH connection to one host, reconnected with backoff."""

    def __init__(self, spec: HostSpec, *, backoff: Backoff | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.spec = spec
        self.backoff = backoff or Backoff()
        self._clock = clock
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self.connects = 0  # successful connects, so tests and status can show reuse
        self.last_error: HostError | None = None
        self.retry_at = 0.0  # monotonic time before which no reconnect is tried

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self) -> asyncssh.SSHClientConnection:
        """Open the connection once (no retry); raise a classified HostError."""
        spec = self.spec
        client_key, known = await asyncio.to_thread(_connect_material, spec)  # file work: not on the loop
        client = _Client()
        try:
            conn, _ = await asyncio.wait_for(
                asyncssh.create_connection(
                    lambda: client, spec.address, spec.port,
                    username=spec.user,
                    client_keys=[client_key],
                    known_hosts=known,
                    preferred_auth=["publickey"],
                    agent_path=None,
                    password=None,
                    kbdint_auth=False,
                    gss_auth=False,
                    host_based_auth=False,
                    config=None,  # the inventory is the whole configuration
                    connect_timeout=spec.timeout_s,
                    login_timeout=spec.timeout_s,
                    keepalive_interval=KEEPALIVE_INTERVAL_S,
                    keepalive_count_max=KEEPALIVE_COUNT_MAX,
                    encryption_algs=list(CIPHERS),
                ),
                timeout=spec.timeout_s + 1,
            )
        except Exception as exc:  # classified below; nothing escapes unclassified
            raise classify(exc, spec, client) from None
        self._conn = conn
        self.connects += 1
        return conn

    async def ensure_connected(self) -> asyncssh.SSHClientConnection:
        """Reuse the open connection, or reconnect unless still backing off."""
        async with self._lock:
            if self.connected:
                assert self._conn is not None
                return self._conn
            now = self._clock()
            if self.last_error is not None and now < self.retry_at:
                raise self.last_error
            try:
                conn = await self.connect()
            except HostError as err:
                self.last_error = err
                self.retry_at = self._clock() + self.backoff.next_delay()
                log.info("host %s: %s (retry in %.1f s)", self.spec.id, err, self.retry_at - self._clock())
                raise
            self.backoff.reset()
            self.last_error = None
            return conn

    async def run(self, command: str, *, timeout: float | None = None,
                  max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """Run one command on a new channel of the persistent connection."""
        conn = await self.ensure_connected()
        limit = timeout if timeout is not None else self.spec.timeout_s
        started = time.perf_counter()
        process: asyncssh.SSHClientProcess | None = None

        async def _run() -> CommandResult:
            nonlocal process
            process = await conn.create_process(command, stdin=asyncssh.DEVNULL, encoding=None)
            (out, t1), (err, t2) = await asyncio.gather(
                _read_capped(process.stdout, max_output), _read_capped(process.stderr, 65536)
            )
            completed = await process.wait()
            return CommandResult(out, err, completed.exit_status, t1 or t2, time.perf_counter() - started)

        try:
            return await asyncio.wait_for(_run(), timeout=limit)
        except (asyncio.TimeoutError, TimeoutError):
            if process is not None:
                process.close()
            raise HostError(Failure.TIMEOUT, f"command on {self.spec.id} took longer than {limit:g} s") from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, ConnectionError) as exc:
            await self.close()  # the next probe reconnects
            raise classify(exc, self.spec) from None
        except asyncssh.ChannelOpenError as exc:
            raise classify(exc, self.spec) from None

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            try:
                await asyncio.wait_for(conn.wait_closed(), timeout=2)
            except (asyncio.TimeoutError, TimeoutError, OSError, asyncssh.Error):
                pass



# Fields whose change means the connection must be made again; others (interval,
# services, disks, labels...) apply to the next probe on the same connection.
CONNECTION_FIELDS = ("address", "port", "user", "identity_file", "known_hosts", "host_key", "timeout_s")


def needs_reconnect(old: HostSpec, new: HostSpec) -> bool:
    return any(getattr(old, f) != getattr(new, f) for f in CONNECTION_FIELDS)


class SSHPool:
    """The hub's connections, one per inventory host, kept in step with the inventory."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._conns: dict[str, HostConnection] = {}

    def __contains__(self, host_id: str) -> bool:
        return host_id in self._conns

    def __len__(self) -> int:
        return len(self._conns)

    def get(self, host_id: str) -> HostConnection:
        return self._conns[host_id]

    def ids(self) -> list[str]:
        return list(self._conns)

    def open_count(self) -> int:
        """How many of the connections are open now."""
        return sum(1 for conn in self._conns.values() if conn.connected)

    async def sync(self, specs: list[HostSpec]) -> tuple[list[str], list[str], list[str]]:
        """Apply an inventory: returns (added, removed, reconnected) host ids.

        Unchanged hosts keep their connection; a host whose settings changed only
        in what the probe asks for keeps it too, with the new spec.
        """
        wanted = {s.id: s for s in specs}
        added, removed, reconnected = [], [], []
        for host_id in [h for h in self._conns if h not in wanted]:
            await self._conns.pop(host_id).close()
            removed.append(host_id)
        for host_id, spec in wanted.items():
            conn = self._conns.get(host_id)
            if conn is None:
                self._conns[host_id] = HostConnection(spec, clock=self._clock)
                added.append(host_id)
            elif needs_reconnect(conn.spec, spec):
                await conn.close()
                self._conns[host_id] = HostConnection(spec, clock=self._clock)
                reconnected.append(host_id)
            elif conn.spec != spec:
                conn.spec = spec
        return added, removed, reconnected

    async def close_all(self) -> None:
        conns, self._conns = list(self._conns.values()), {}
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
