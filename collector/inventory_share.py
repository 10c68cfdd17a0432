"""One inventory for every member of the hub, on however many machines (SPEC §7, issue 15).

The file belongs to one member: the one doing the housekeeping (it holds the
lease; another member takes both over when it goes silent). The database's
copy is the fleet's inventory: a new hub starts from the first member's file,
and a member that starts (or takes the file over) first writes the database's
copy into its own file. Each member's supervisor runs `InventoryShare.tick`
every second:
- the owner publishes its file to the database (`inventory_docs`) whenever
  the file changes: an edit by hand on that machine, or through its web;
- the owner applies, in order, the edits that other members' web processes
  queued in `inventory_edits` (`inventory.edits`), with the same checks as a
  local edit, and publishes the result; the web that queued one waits for it;
- every other member writes the published text into its own copy of the file
  (atomically), which its workers and web then load as usual.
So no edit made through any web process is lost: each one goes to the one
file, in order. An edit by hand to a copy on a machine that does not own the
file would be overwritten by the next publication: it is kept beside the
file (`<name>.local-<time>`) and the log says where the file is owned.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from inventory.edits import Edit, failure_doc
from inventory.guarded_write import replace_if_unchanged
from inventory.paths import KeyFolders
from inventory.writer import InventoryWriter
from schema import runtime
from schema.atomic_file import write_temp

log = logging.getLogger(__name__)


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class InventoryShare:
    """See the module docstring; `run_db(fn)` commits `fn(session)` on the supervisor's database thread."""

    def __init__(self, path: Path, holder: str, run_db: Callable[..., Any], *, key_folders: KeyFolders | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.holder = holder
        self.run_db = run_db
        self.key_folders = key_folders
        self._clock = clock
        self.synced: str | None = None  # digest of the text last published or mirrored here
        self.version: int | None = None
        self.last_error: str | None = None

    async def tick(self, owner: bool) -> None:
        try:
            published = await self.run_db(runtime.inventory_version)
            if published is None:  # a new hub: the first member with a file publishes it
                await self._publish(first=True)
            elif not owner or self.synced is None:
                # the database's copy wins over a file this process has not synced yet (a member starting,
                # or taking the file over, with a stale or empty copy must not publish it over the fleet's)
                await self._mirror(published)
            if owner and published is not None and self.synced is not None:
                await self._apply_queued()
                await self._publish()
            self.last_error = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the database may be away: the next tick tries again
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.debug("inventory share: %s", self.last_error)

    # ----------------------------------------------------------------- the owner
    async def _publish(self, *, first: bool = False) -> None:
        data = await asyncio.to_thread(_read, self.path)
        digest = _digest(data)
        if data is None or digest == self.synced:
            return
        published = await self.run_db(runtime.inventory_version)
        if published is not None and published[1] == digest:
            self.synced, self.version = digest, published[0]
            return
        now = self._clock()
        version = await self.run_db(lambda s: runtime.publish_inventory(
            s, data.decode("utf-8", "replace"), digest, self.holder, now, first=first))
        if version is None:
            return  # another member published first: the next tick mirrors it
        self.synced, self.version = digest, version
        log.info("inventory %s published to the other members (version %d)", self.path, self.version)

    async def _apply_queued(self) -> None:
        queued = await self.run_db(runtime.queued_inventory_edits)
        for edit_id, op in queued:
            result = await asyncio.to_thread(self._apply, op)
            now = self._clock()
            await self.run_db(lambda s, i=edit_id, r=result: runtime.finish_inventory_edit(
                s, i, r["ok"], orjson.dumps(r).decode(), now))
            if result["ok"]:
                await self._publish()

    def _apply(self, op: str) -> dict[str, Any]:
        """One queued edit, applied to this member's file as a local web's edit would be."""
        try:
            edit = Edit.from_json(op)
            writer = InventoryWriter(self.path, key_folders=self.key_folders)
            edit(writer)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the web that asked
            return {"ok": False, **failure_doc(exc)}
        return {"ok": True, "digest": _digest(writer.last_written)}

    # ----------------------------------------------------------------- the others
    async def _mirror(self, published: tuple[int, str]) -> None:
        if published[1] == self.synced:
            return
        version, digest, text = await self.run_db(runtime.inventory_text)
        if not await asyncio.to_thread(self._write_copy, text.encode("utf-8"), digest):
            return  # the file changed while we wrote: the next tick looks again
        self.synced, self.version = digest, version
        log.info("inventory %s: version %d from the member that owns it", self.path, version)

    def _write_copy(self, data: bytes, digest: str) -> bool:
        local = _read(self.path)
        if _digest(local) == digest:
            return True
        if local is not None and _digest(local) != self.synced:  # edited here (or different from the start)
            aside = self.path.with_name(f"{self.path.name}.local-{time.strftime('%Y%m%dT%H%M%S')}")
            aside.write_bytes(local)
            log.warning("inventory %s was edited on this machine, which does not own it: the member doing "
                        "the housekeeping does; the edit is kept in %s (apply it there, or through the web)",
                        self.path, aside)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp(self.path.parent, self.path.name, ".tmp", data)
        try:
            replaced, _now = replace_if_unchanged(tmp, self.path, local)
        finally:
            Path(tmp).unlink(missing_ok=True)
        return replaced
