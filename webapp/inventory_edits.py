"""Inventory edits shared by the API and the Servers page: write the file, then apply it at once."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from inventory import Inventory
from inventory.paths import KeyFolders
from inventory.writer import InventoryWriter
from schema.db import data_dir


def writer(hub) -> InventoryWriter:
    """The API's and the Servers page's writer: identity_file and known_hosts only into
    ~/.ssh, the data folder or a `serve --key-dir` folder (an InventoryError on that field)."""
    return InventoryWriter(hub.watcher.path, key_folders=KeyFolders.of(data_dir(), hub.options.key_dirs))


async def apply_edit(hub, edit: Callable[[InventoryWriter], Inventory]) -> Inventory:
    """Run `edit` off the event loop and apply the written inventory.

    InventoryError (InventoryConflict among them: the file was edited by hand meanwhile and the
    edit no longer applies), HostExists, HostNotFound and OSError pass through for the caller to
    show in its own way (a JSON detail, or errors beside form fields).
    """
    w = writer(hub)
    inventory = await asyncio.to_thread(edit, w)
    hub.note_written(inventory, w.last_written)
    await hub.apply_inventory(inventory)
    return inventory


def add_host(entry: dict[str, Any]) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.add_host(entry)


def update_host(host_id: str, changes: dict[str, Any]) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.update_host(host_id, changes)


def delete_host(host_id: str) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.delete_host(host_id)
