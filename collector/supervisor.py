"""`fleetwatch serve` as a member of the hub: K collector workers and one web process, supervised (SPEC §7).

The supervisor starts each child as a plain subprocess (`python -m collector.worker`,
`python -m collector.cli.web`: spawn-safe, the same on Windows), holds its
standard input (EOF tells it to stop, also when the supervisor dies), restarts
one that exits on its own within `RESTART_AFTER_S` (and says so in the log and
in its row, which /healthz shows), and keeps its member's heartbeat row, which
the workers of every member read to share the fleet (`collector.assignment`).
It also competes for the housekeeping lease (rollups, retention, backups, the
hosts table: `collector.housekeeping`) and watches the inventory for the hosts
table. SIGTERM, Ctrl-C or Ctrl-Break: the children stop first (each flushes),
then the final rollup, exit 0.
"""
from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timezone
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from collector.housekeeping import Housekeeping
from collector.inventory_share import InventoryShare
from collector.process_status import ProcessIdentity, StatusReporter
from collector.recorder import BatchWriter
from inventory.paths import KeyFolders
from inventory.watch import InventoryWatcher
from schema.db import data_dir

log = logging.getLogger("collector.supervisor")

RESTART_AFTER_S = (0.5, 1.0, 2.0, 4.0)  # after the 1st, 2nd, ... exit in a row; never more than 5 s
STABLE_S = 60.0  # a child that ran this long starts the count again
STOP_WAIT_S = 25.0  # for each child's final flush, then it is killed
SHARE_EVERY_S = 1.0  # the inventory is published or mirrored this often


@dataclass
class Child:
    """One supervised process."""

    name: str  # "worker-0", "web"
    argv: list[str]
    proc: subprocess.Popen | None = None
    restarts: int = 0
    quick_exits: int = 0
    started_at: float = 0.0
    last_exit: int | None = None
    restart_at: float | None = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def view(self, now: float) -> dict[str, Any]:
        return {"pid": self.proc.pid if self.proc else None, "running": self.running(), "restarts": self.restarts,
                "last_exit": self.last_exit, "up_s": round(now - self.started_at, 1) if self.running() else None}


@dataclass
class Supervisor:
    """See the module docstring. `children` are built by `collector.cli.serve`; `env` carries $FLEETWATCH_DB."""

    engine: Any
    options: Any  # HubOptions: retention, backups
    inventory_path: Path
    member: str
    workers: int
    children: list[Child]
    env: dict[str, str]
    clock: Callable[[], float] = time.time
    stopping: bool = False
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.writer = BatchWriter(self.engine, clock=self.clock)  # its run_db: this process's database thread
        self.identity = ProcessIdentity(member=self.member, role="supervisor", workers=self.workers)
        self.status = StatusReporter(self.writer.run_db, self.identity, self.status_doc, clock=self.clock)
        self.housekeeping = Housekeeping(self.engine, self.options, self.writer.run_db, holder=self.identity.id,
                                         clock=self.clock)
        self.watcher = InventoryWatcher(self.inventory_path, self._inventory_changed,
                                        interval_s=self.options.inventory_check_s)
        self.share = InventoryShare(self.inventory_path, self.identity.id, self.writer.run_db,
                                    key_folders=KeyFolders.of(data_dir(), self.options.key_dirs), clock=self.clock)
        self.scheduler: AsyncIOScheduler | None = None

    # ----------------------------------------------------------------- running
    def stop(self) -> None:
        """Ask the supervisor to stop (signal handlers call this; thread-safe through call_soon_threadsafe)."""
        self._stop.set()

    async def run(self) -> int:
        inventory = self.watcher.load_initial()
        await self.status.write()  # the workers find their member before they start
        self.status.start()
        self.scheduler = AsyncIOScheduler(timezone=timezone.utc)
        self.scheduler.start()
        self.housekeeping.add_jobs(self.scheduler)
        if await self.housekeeping.renew():
            await self.housekeeping.sync_hosts([(h.id, h.address) for h in inventory.resolved_hosts()])
            await self.housekeeping.fill_rollups(complete=True)  # everything stored before this start
        watch = asyncio.create_task(self.watcher.run(), name="inventory-watch")
        for child in self.children:
            self._start(child)
        share = asyncio.create_task(self._share(), name="inventory-share")
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._stop.wait(), 0.5)
                except asyncio.TimeoutError:
                    pass
                self._check_children()
        finally:
            self.stopping = True
            watch.cancel()
            share.cancel()
            await asyncio.gather(watch, share, return_exceptions=True)
            await self._stop_children()
            if self.scheduler.running:
                self.scheduler.shutdown(wait=False)
            if self.housekeeping.holding:
                try:  # the workers have flushed: the current hour's rollup is complete
                    await self.housekeeping.fill_rollups(complete=True)
                except Exception as exc:  # the database may be what failed; the next start fills it in
                    log.warning("final rollup skipped: %s", exc)
            await self.status.stop()
            await self.writer.flush()
            self.writer.close()
        return 0

    async def _share(self) -> None:
        """The inventory between members (collector.inventory_share): the housekeeping member owns the file."""
        while True:
            await self.share.tick(self.housekeeping.holding)
            await asyncio.sleep(SHARE_EVERY_S)

    async def _inventory_changed(self, inventory) -> None:
        if self.housekeeping.holding:
            await self.housekeeping.sync_hosts([(h.id, h.address) for h in inventory.resolved_hosts()])

    # ----------------------------------------------------------------- children
    def _start(self, child: Child) -> None:
        argv = child.argv + ["--restarts", str(child.restarts)]
        child.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, env=self.env,
                                      creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0))
        child.started_at = self.clock()
        child.restart_at = None
        log.debug("%s started (pid %d)", child.name, child.proc.pid)
        self.status.poke()

    def _check_children(self) -> None:
        now = self.clock()
        for child in self.children:
            if child.proc is None:
                continue
            code = child.proc.poll()
            if code is not None and child.restart_at is None:
                child.last_exit = code
                child.quick_exits = child.quick_exits + 1 if now - child.started_at < STABLE_S else 1
                delay = RESTART_AFTER_S[min(child.quick_exits, len(RESTART_AFTER_S)) - 1]
                child.restart_at = now + delay
                log.warning("%s (pid %d) exited with code %s; restarting it in %.1f s (restart %d)", child.name,
                            child.proc.pid, code, delay, child.restarts + 1)
                self.status.poke()
            if child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._start(child)
                log.warning("%s restarted (pid %d)", child.name, child.proc.pid)

    async def _stop_children(self) -> None:
        running = [c for c in self.children if c.running()]
        for child in running:
            try:
                child.proc.stdin.close()  # EOF: stop, with the final flush
            except OSError:
                pass
        deadline = time.monotonic() + STOP_WAIT_S
        for child in running:
            while child.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if child.proc.poll() is None:
                log.warning("%s did not stop within %.0f s: killed", child.name, STOP_WAIT_S)
                child.proc.kill()
                child.proc.wait()

    def status_doc(self) -> dict[str, Any]:
        now = self.clock()
        return {"children": {c.name: c.view(now) for c in self.children}, "pid": os.getpid(),
                "inventory_version": self.share.version, "inventory_share_error": self.share.last_error,
                **self.housekeeping.status()}


def python_module(module: str, *args: str) -> list[str]:
    """`python -m module args`, with this interpreter."""
    return [sys.executable, "-m", module, *args]


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with this pid runs (for a member row left by a killed run)."""
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def when_stdin_closes(callback: Callable[[], None]) -> None:
    """A child's side of the contract: the supervisor holds our standard input, and its end (the supervisor
    asks us to stop, or died) calls `callback` (from a thread: hand it to the loop thread-safely)."""
    import threading

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(1):
                pass
        except (OSError, ValueError):
            pass
        callback()
    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()
