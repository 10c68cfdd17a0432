"""Each hub process's row in `hub_processes`: a heartbeat and what the web needs to know of it.

Written every `HEARTBEAT_S` (2 s), and within half a second of a `poke()` (a
forward went up or down, an alert started pending), on the batch writer's
database thread: one small upsert, beside the flushes.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from schema import runtime
from schema.fleet import HEARTBEAT_S

log = logging.getLogger(__name__)
POKE_DELAY_S = 0.5  # changes are gathered this long before the row is written


@dataclass
class ProcessIdentity:
    """Who this process is among the hub's processes (all of them, on every member)."""

    member: str = "local"
    role: str = "hub"  # "hub" (everything in one process), "worker", "web", "supervisor"
    slot: int | None = None
    workers: int | None = None
    restarts: int = 0
    control_url: str | None = None
    control_secret: str | None = None

    @property
    def id(self) -> str:
        name = self.role if self.slot is None else f"{self.role}-{self.slot}"
        return f"{self.member}/{name}"


class StatusReporter:
    """Writes this process's row: `collect()` gives the status document (JSON-able)."""

    def __init__(self, run_db: Callable[..., Any], identity: ProcessIdentity, collect: Callable[[], dict[str, Any]],
                 *, clock: Callable[[], float] = time.time) -> None:
        self._run_db = run_db
        self.identity = identity
        self._collect = collect
        self._clock = clock
        self.started_at = clock()
        self._poked = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.last_error: str | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="status-reporter")

    def poke(self) -> None:
        """Something the web shows changed: write the row soon."""
        self._poked.set()

    def row(self) -> dict[str, Any]:
        ident = self.identity
        return {"id": ident.id, "member": ident.member, "role": ident.role, "slot": ident.slot,
                "workers": ident.workers, "pid": os.getpid(), "machine": socket.gethostname(),
                "started_at": self.started_at, "heartbeat_at": self._clock(), "restarts": ident.restarts,
                "control_url": ident.control_url, "control_secret": ident.control_secret,
                "status": orjson.dumps(self._collect(), default=str).decode()}

    async def write(self) -> None:
        row = self.row()
        await self._run_db(lambda s: runtime.beat(s, row))

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._poked.wait(), HEARTBEAT_S)
                await asyncio.sleep(POKE_DELAY_S)  # gather what changes together
            except asyncio.TimeoutError:
                pass
            self._poked.clear()
            try:
                await self.write()
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away: the next beat tries again
                self.last_error = f"{type(exc).__name__}"
                log.debug("status row not written: %s", exc)

    async def stop(self, *, forget: bool = True) -> None:
        """Stop beating; a clean stop removes the row, so nobody waits for this process to come back."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if forget:
            try:
                await self._run_db(lambda s: runtime.forget_process(s, self.identity.id))
            except Exception as exc:  # noqa: BLE001 - the database may be what stopped us
                log.debug("status row not removed: %s", exc)
