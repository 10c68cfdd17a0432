"""What the web knows the fleet by: the database, the inventory file, and a way to reach a host's collector.

The web never reaches into a collector's memory. It reads:
- the inventory (hosts, rules, notifiers) from the file, with a watcher of its
  own when it runs in a process of its own;
- every host's state and newest report, pending alerts, forwards' status and
  the hub's processes from the database (`schema.fleet`);
and it asks the collector that owns a host for the few things that must happen
live (probe now, service discovery, forward start/stop) through `HostControl`:
in the same process (`collector.control.LocalControl`) or over the control
channel (`collector.control.RemoteControl`).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from inventory import HostSpec, Inventory
from schema.fleet import DocCache
from inventory.watch import InventoryWatcher


class HostControl(Protocol):
    """Live requests to the collector that owns a host. Failures: `collector.errors.HostError`;
    an unknown or unowned host: KeyError; a forward that is not enabled: LookupError."""

    async def probe_now(self, host_id: str) -> dict[str, Any]: ...

    async def service_catalog(self, host_id: str) -> dict[str, Any]: ...

    async def proxy(self, host_id: str, action: str) -> dict[str, Any]: ...

    async def proxy_statuses(self) -> dict[str, dict[str, Any]]: ...

    async def silences_changed(self) -> None: ...

    async def inventory_written(self, inventory: Inventory, written: bytes | None) -> None: ...


@dataclass
class FleetSource:
    """The web's view of the fleet (see the module docstring)."""

    db_url: str
    watcher: InventoryWatcher
    control: HostControl
    key_dirs: tuple[Path, ...] = ()
    engine: Engine | None = None  # the web's own pool (webapp.database), set by create_app
    member: str | None = None  # the hub member this web belongs to (None: a hub in this process)
    docs: DocCache = field(default_factory=DocCache)  # newest reports, decoded once, shared by the threads
    # run by the app's lifespan: a hub in the same process, or this process's own inventory watcher
    on_start: Callable[[], Awaitable[None]] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None
    _specs: tuple[Inventory | None, dict[str, HostSpec]] = field(default=(None, {}), repr=False)

    @property
    def inventory(self) -> Inventory | None:
        return self.watcher.inventory

    @property
    def specs(self) -> dict[str, HostSpec]:
        """The inventory's hosts with defaults applied, by id (worked out once per inventory version)."""
        inventory = self.watcher.inventory
        if inventory is None:
            return {}
        if self._specs[0] is not inventory:
            self._specs = (inventory, {s.id: s for s in inventory.resolved_hosts()})
        return self._specs[1]
