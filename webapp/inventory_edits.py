"""Inventory edits shared by the API and the Servers page: write the file, then have it applied at once."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from inventory import Inventory
from inventory.paths import KeyFolders
from inventory.writer import InventoryWriter
from schema.db import data_dir


def writer(fleet) -> InventoryWriter:
    """The API's and the Servers page's writer: identity_file and known_hosts only into
    ~/.ssh, the data folder or a `serve --key-dir` folder (an InventoryError on that field)."""
    return InventoryWriter(fleet.watcher.path, key_folders=KeyFolders.of(data_dir(), fleet.key_dirs))


async def apply_edit(fleet, edit: Callable[[InventoryWriter], Inventory]) -> Inventory:
    """Run `edit` off the event loop, adopt the written inventory here and tell the collectors.

    InventoryError (InventoryConflict among them: the file was edited by hand meanwhile and the
    edit no longer applies), HostExists, HostNotFound and OSError pass through for the caller to
    show in its own way (a JSON detail, or errors beside form fields).
    """
    w = writer(fleet)
    inventory = await asyncio.to_thread(edit, w)
    fleet.watcher.note_written(inventory, w.last_written)
    await fleet.control.inventory_written(inventory, w.last_written)
    return inventory


def add_host(entry: dict[str, Any]) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.add_host(entry)


def update_host(host_id: str, changes: dict[str, Any]) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.update_host(host_id, changes)


def delete_host(host_id: str) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.delete_host(host_id)
