"""Live reload of the inventory file: the last good inventory survives a bad edit (SPEC section 2)."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import InventoryError, Problem
from .loader import load_inventory_text
from .models import Inventory
from .permissions import identity_file_hosts, identity_file_warnings, world_readable_warning

__all__ = ["InventoryStatus", "InventoryWatcher"]

log = logging.getLogger(__name__)
_MISSING = "missing"  # digest stand-in for "no file"


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


@dataclass
class InventoryStatus:
    """What ``/api/inventory/status`` reports about the inventory file."""

    path: str
    ok: bool = True
    hosts: int = 0
    loaded_at: float | None = None
    checked_at: float | None = None
    error: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # file permissions (inventory.permissions)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; times as epoch seconds and ISO 8601 strings."""
        return {
            "path": self.path,
            "ok": self.ok,
            "hosts": self.hosts,
            "loaded_at": self.loaded_at,
            "loaded_at_iso": _iso(self.loaded_at),
            "checked_at": self.checked_at,
            "checked_at_iso": _iso(self.checked_at),
            "error": self.error,
            "problems": [p.to_dict() for p in self.problems],
            "warnings": list(self.warnings),
        }


class InventoryWatcher:
    """Polls the inventory file and hands each new valid version to ``on_change``."""

    def __init__(
        self,
        path: Path,
        on_change: Callable[[Inventory], Awaitable[None] | None],
        *,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.on_change = on_change
        self.interval_s = interval_s
        self.clock = clock
        self.inventory: Inventory | None = None
        self.status = InventoryStatus(path=str(self.path))
        self._digest: str | None = None  # of the content last looked at, good or bad
        self._good_digest: str | None = None  # of the content self.inventory came from
        self._checking = asyncio.Lock()  # run() and an explicit check() must not interleave
        self._key_hosts: dict[Path, list[str]] = {}  # identity_file -> host ids, of self.inventory
        self._log_warnings = False  # at start the caller shows them (fleetwatch serve prints them)

    # ----------------------------------------------------------------- public
    def load_initial(self) -> Inventory:
        """Load now; a missing file gives an empty inventory, an invalid one raises InventoryError."""
        digest, result = self._read()
        now = self.clock()
        self.status.checked_at = now
        self._digest = digest
        try:
            if digest == _MISSING:
                return self._wait(Inventory(), now)
            if isinstance(result, InventoryError):
                self._fail(result.problems)
                raise result
            self._adopt(result, digest, now)
            return result
        finally:
            self._refresh_warnings()
            self._log_warnings = True

    async def check(self) -> bool:
        """Re-read the file if its bytes changed; True when a new inventory was adopted."""
        async with self._checking:
            return await self._check()

    async def _check(self) -> bool:
        digest, raw = self._read_bytes()
        now = self.clock()
        self.status.checked_at = now
        self._refresh_warnings()  # a chmod changes no byte of the file
        if digest == self._digest:
            return False
        self._digest = digest
        if digest == _MISSING and self._good_digest == _MISSING and self.inventory is not None:
            self._wait(self.inventory, self.status.loaded_at or now)  # a file came and went: wait again
            return False
        result = self._missing() if raw is None else await asyncio.to_thread(self._parse, raw)
        if self._digest != digest:
            return False  # note_written() adopted a newer file while this one was parsed
        if isinstance(result, InventoryError):
            self._fail(result.problems)
            log.warning("inventory %s: %s", self.path, self.status.error)
            for problem in result.problems if len(result.problems) > 1 else []:
                log.warning("  %s", problem)
            return False
        if digest == self._good_digest and self.inventory is not None:
            # Back to the content already in use: nothing to apply.
            self._adopt(self.inventory, digest, self.status.loaded_at or now)
            log.info("inventory %s is valid again", self.path)
            return False
        self._adopt(result, digest, now)
        log.info("inventory %s reloaded: %d hosts", self.path, len(result.hosts))
        outcome = self.on_change(result)
        if inspect.isawaitable(outcome):
            await outcome
        return True

    async def run(self) -> None:
        """Call :meth:`check` every ``interval_s`` until cancelled; errors are logged, never fatal."""
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inventory watcher: check of %s failed", self.path)
            await asyncio.sleep(self.interval_s)

    @property
    def digest(self) -> str | None:
        """The sha256 of the file content this watcher has adopted (None before the first load)."""
        return self._digest

    def note_written(self, inventory: Inventory, written: bytes | None = None) -> None:
        """The hub itself just wrote the file: adopt it without calling ``on_change`` again.

        ``written``: the bytes the writer put there. Adopting their digest, not the file's as read
        now, means a hand edit saved between the write and this call still differs, and the next
        check loads it instead of taking it for the hub's own write.
        """
        if written is not None:
            digest = hashlib.sha256(written).hexdigest()
        else:
            digest, _ = self._read_bytes()
        if digest == _MISSING or digest.startswith("unreadable:"):
            return  # let the next check() sort it out
        self._digest = digest
        self._adopt(inventory, digest, self.clock())

    # ----------------------------------------------------------------- helpers
    def _read_bytes(self) -> tuple[str, bytes | Exception | None]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _MISSING, None
        except OSError as exc:
            # Unreadable: a digest per reason, so that the warning is logged once.
            return f"unreadable:{exc.__class__.__name__}:{exc.strerror}", exc
        return hashlib.sha256(raw).hexdigest(), raw

    def _read(self) -> tuple[str, Inventory | InventoryError]:
        digest, raw = self._read_bytes()
        return digest, (self._missing() if raw is None else self._parse(raw))

    def _parse(self, raw: bytes | Exception) -> Inventory | InventoryError:
        source = str(self.path)
        if isinstance(raw, Exception):
            reason = getattr(raw, "strerror", None) or raw.__class__.__name__
            return InventoryError([Problem(source, None, None, "", f"cannot read file: {reason}")])
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            msg = f"the file is not UTF-8 text (bad byte 0x{raw[exc.start]:02x})"
            return InventoryError([Problem(source, line, None, "", msg)])
        try:
            return load_inventory_text(text, source)
        except InventoryError as exc:
            return exc

    def _missing(self) -> InventoryError:
        return InventoryError([Problem(str(self.path), None, None, "", "file not found")])

    def _wait(self, inventory: Inventory, loaded_at: float) -> Inventory:
        self._adopt(inventory, _MISSING, loaded_at)
        self.status.error = "file not found; waiting for it"
        return inventory

    def _refresh_warnings(self) -> None:
        """Re-examine the permissions of the file and of the keys of the inventory in use (a few stat calls)."""
        warnings = identity_file_warnings(self._key_hosts)
        own = world_readable_warning(self.path)
        if own is not None:
            warnings.insert(0, own)
        if self._log_warnings:
            for warning in warnings:
                if warning not in self.status.warnings:
                    log.warning("inventory: %s", warning)
        self.status.warnings = warnings

    def _adopt(self, inventory: Inventory, digest: str, loaded_at: float) -> None:
        if inventory is not self.inventory:
            self._key_hosts = identity_file_hosts(inventory.resolved_hosts())
            self._refresh_warnings()
        self.inventory = inventory
        self._good_digest = digest
        self.status.ok = True
        self.status.hosts = len(inventory.hosts)
        self.status.loaded_at = loaded_at
        self.status.error = None
        self.status.problems = []

    def _fail(self, problems: list[Problem]) -> None:
        self.status.ok = False
        self.status.problems = list(problems)
        name = self.path.name
        # One line for the UI: the single problem itself, or how many there are.
        what = str(replace(problems[0], file=name)) if len(problems) == 1 else f"{name}: {len(problems)} problems"
        if self.inventory is None:
            self.status.error = f"{what}; no inventory loaded yet"
        else:
            self.status.error = f"{what}; keeping the inventory loaded at {_iso(self.status.loaded_at)}"
