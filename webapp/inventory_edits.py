"""Inventory edits shared by the API and the Servers page: write the file, then apply it at once."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from inventory import Inventory
from inventory.writer import InventoryWriter


def writer(hub) -> InventoryWriter:
    return InventoryWriter(hub.watcher.path)


async def apply_edit(hub, edit: Callable[[InventoryWriter], Inventory]) -> Inventory:
    """Run `edit` off the event loop and apply the written inventory.

    InventoryError, HostExists, HostNotFound and OSError pass through for the
    caller to show in its own way (a JSON detail, or errors beside form fields).
    """
    inventory = await asyncio.to_thread(edit, writer(hub))
    hub.note_written(inventory)
    await hub.apply_inventory(inventory)
    return inventory


def add_host(entry: dict[str, Any]) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.add_host(entry)


def update_host(host_id: str, changes: dict[str, Any]) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.update_host(host_id, changes)


def delete_host(host_id: str) -> Callable[[InventoryWriter], Inventory]:
    return lambda w: w.delete_host(host_id)
