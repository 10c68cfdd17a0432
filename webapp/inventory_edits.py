"""Inventory edits shared by the API and the Servers page: write the file, then have it applied at once.

The file belongs to one member of the hub (the housekeeping one: `collector.inventory_share`).
This web's member owns it (always, on one machine): the edit is written here. Another member
owns it: the edit is queued in the database and this waits until the owner has applied it
(and this machine's copy of the file has caught up), or says it is still queued.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

import anyio
import orjson
from sqlmodel import Session

from inventory import Inventory
from inventory.edits import Edit, add_host, delete_host, raise_failure, update_host  # noqa: F401 - re-exported
from inventory.paths import KeyFolders
from inventory.writer import InventoryWriter
from schema import runtime
from schema.db import data_dir
from webapp.i18n import N_, gettext

OWNER_WAIT_S = 15.0
QUEUED = N_("the inventory belongs to member %(owner)s, which has not applied the edit within %(wait)s s; it stays "
            "queued and is applied as soon as %(owner)s (or the member that takes over) can")


class EditQueued(Exception):
    """The owner did not apply the edit in time; it stays queued and is applied when the owner can.

    `str()` is English (the API's detail); `worded()` is the page's language."""

    def __init__(self, owner: str, wait_s: float):
        self.owner, self.wait_s = owner, wait_s
        super().__init__(QUEUED % self._values())

    def _values(self) -> dict[str, str]:
        return {"owner": self.owner, "wait": f"{self.wait_s:.0f}"}

    def worded(self) -> str:
        """The message in the page's language (the values filled in after translating)."""
        return gettext(QUEUED) % self._values()


def writer(fleet) -> InventoryWriter:
    """The API's and the Servers page's writer: identity_file and known_hosts only into
    ~/.ssh, the data folder or a `serve --key-dir` folder (an InventoryError on that field)."""
    return InventoryWriter(fleet.watcher.path, key_folders=KeyFolders.of(data_dir(), fleet.key_dirs))


async def apply_edit(fleet, edit: Edit) -> Inventory:
    """Apply `edit` (off the event loop), adopt the result here and tell the collectors.

    InventoryError (InventoryConflict among them: the file was edited by hand meanwhile and the
    edit no longer applies), HostExists, HostNotFound and OSError pass through for the caller to
    show in its own way (a JSON detail, or errors beside form fields); EditQueued when another
    member owns the file and did not apply it within OWNER_WAIT_S.
    """
    owner = await _owner_elsewhere(fleet)
    if owner is not None:
        return await _apply_at_owner(fleet, edit, owner)
    w = writer(fleet)
    inventory = await asyncio.to_thread(edit, w)
    fleet.watcher.note_written(inventory, w.last_written)
    await fleet.control.inventory_written(inventory, w.last_written)
    return inventory


async def _owner_elsewhere(fleet) -> str | None:
    """The member that owns the file when it is not this web's own (None: write here)."""
    if fleet.member is None:
        return None

    def read() -> str | None:
        with Session(fleet.engine) as session:
            return runtime.lease_holder(session, "housekeeping", time.time())
    holder = await anyio.to_thread.run_sync(read)
    member = holder.split("/", 1)[0] if holder else None
    return member if member is not None and member != fleet.member else None


async def _apply_at_owner(fleet, edit: Edit, owner: str) -> Inventory:
    def queue() -> int:
        with Session(fleet.engine) as session:
            edit_id = runtime.queue_inventory_edit(session, edit.to_json(), f"{fleet.member}/web", time.time())
            session.commit()
            return edit_id

    def outcome(edit_id: int) -> tuple[str, str | None]:
        with Session(fleet.engine) as session:
            return runtime.inventory_edit_outcome(session, edit_id)

    edit_id = await anyio.to_thread.run_sync(queue)
    deadline = time.monotonic() + OWNER_WAIT_S
    while True:
        state, result = await anyio.to_thread.run_sync(outcome, edit_id)
        if state in ("done", "failed"):
            break
        if time.monotonic() > deadline:
            raise EditQueued(owner, OWNER_WAIT_S)
        await asyncio.sleep(0.2)
    doc: dict[str, Any] = orjson.loads(result) if result else {}
    if state == "failed":
        raise_failure(doc)
    # this machine's copy of the file follows the owner's within a second or two: wait for it
    deadline = time.monotonic() + OWNER_WAIT_S
    while fleet.watcher.digest != doc.get("digest") and time.monotonic() < deadline:
        await fleet.watcher.check()
        if fleet.watcher.digest != doc.get("digest"):
            await asyncio.sleep(0.2)
    await fleet.control.inventory_written(fleet.watcher.inventory, None)
    return fleet.watcher.inventory
