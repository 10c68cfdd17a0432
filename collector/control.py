"""Live requests from the web to the collector that owns a host: probe now, service discovery, forwards.

`LocalControl` answers them in the same process (tests, a hub running
everything in one process). `control_channel` serves them to other processes
and machines, and `RemoteControl` asks the owner it finds in the database.
Every answer is plain JSON, the same in every case.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
from sqlmodel import Session

from collector import control_channel
from collector.errors import HostError
from schema import fleet

log = logging.getLogger(__name__)


def catalog_doc(result) -> dict[str, Any]:
    """A `prober.CatalogResult` as JSON."""
    return {"available": result.available, "error": result.error,
            "units": [dataclasses.asdict(u) for u in result.units]}


class LocalControl:
    """HostControl over a Hub in this process."""

    def __init__(self, hub) -> None:
        self.hub = hub

    async def probe_now(self, host_id: str) -> dict[str, Any]:
        if host_id not in self.hub.pool:
            raise KeyError(host_id)
        report = (await self.hub.probe_now(host_id)).to_dict()
        os_info = self.hub.poller.runtime(host_id).os_info
        if os_info and not any((report.get("os") or {}).values()):
            report["os"] = os_info
        return report

    async def service_catalog(self, host_id: str) -> dict[str, Any]:
        return catalog_doc(await self.hub.service_catalog(host_id))

    async def proxy_statuses(self) -> dict[str, dict[str, Any]]:
        """Every forward this hub holds, with its live status (byte and connection counts of this moment)."""
        return {h: p.status.to_dict() for h, p in self.hub.proxies.proxies.items()}

    async def proxy(self, host_id: str, action: str) -> dict[str, Any]:
        """A host's forward: "status", "start" (returns at once) or "stop" (once closed); its status after."""
        proxy = self.hub.proxies.get(host_id)
        if action == "status":
            if host_id not in self.hub.pool:
                raise KeyError(host_id)
        elif action == "start":
            if proxy is None:
                raise LookupError(host_id)
            proxy.start()
        elif action == "stop":
            if proxy is not None:
                await proxy.stop()
        else:
            raise ValueError(f"unknown forward action {action!r}")
        self.hub.status.poke()
        return proxy.status.to_dict() if proxy is not None else {"state": "stopped"}

    async def silences_changed(self) -> None:
        """A silence was added or lifted: the alert engine holds back (or lets through) at once."""
        await self.hub.refresh_silences()

    async def inventory_written(self, inventory, written: bytes | None) -> None:
        """The web wrote the inventory file: apply it now rather than at the watcher's next look."""
        self.hub.note_written(inventory, written)
        await self.hub.apply_inventory(inventory)
        await self.hub.status.write()  # the web sees the new host set at once


def channel_handlers(local: LocalControl) -> dict[str, Any]:
    """What a worker's control channel answers: LocalControl's requests, by name."""
    hub = local.hub

    async def inventory_check(_args: dict[str, Any]) -> bool:
        return await hub.watcher.check()

    return {
        "probe_now": lambda a: local.probe_now(a["host"]),
        "service_catalog": lambda a: local.service_catalog(a["host"]),
        "proxy": lambda a: local.proxy(a["host"], a["action"]),
        "proxy_statuses": lambda _a: local.proxy_statuses(),
        "silences_changed": lambda _a: local.silences_changed(),
        "inventory_check": inventory_check,
    }


class RemoteControl:
    """HostControl over the control channels of the collectors the database lists (the web process)."""

    def __init__(self, engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self._clock = clock

    def _read(self, fn):
        with Session(self.engine) as session:
            return fn(session)

    async def _owner(self, host_id: str):
        owner = await anyio.to_thread.run_sync(self._read, lambda s: fleet.owner_of(s, host_id, self._clock()))
        if owner is None or not owner.control_url or not owner.control_secret:
            raise KeyError(host_id)
        return owner

    async def _ask(self, host_id: str, op: str, args: dict[str, Any], timeout: float = 60.0) -> Any:
        owner = await self._owner(host_id)
        try:
            return await control_channel.call(owner.control_url, owner.control_secret, op, args, timeout=timeout)
        except (OSError, asyncio.TimeoutError) as exc:  # the owner died or is restarting: like no owner yet
            log.info("control channel of %s (%s) did not answer: %s", owner.id, owner.control_url, exc)
            raise KeyError(host_id) from None

    async def _ask_all(self, op: str) -> list[Any]:
        procs = await anyio.to_thread.run_sync(self._read, lambda s: fleet.collectors(s, self._clock()))
        calls = [control_channel.call(p.control_url, p.control_secret, op, {}, timeout=10.0)
                 for p in procs if p.control_url and p.control_secret]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return [r for r in results if not isinstance(r, BaseException)]

    async def probe_now(self, host_id: str) -> dict[str, Any]:
        return await self._ask(host_id, "probe_now", {"host": host_id})

    async def service_catalog(self, host_id: str) -> dict[str, Any]:
        return await self._ask(host_id, "service_catalog", {"host": host_id})

    async def proxy(self, host_id: str, action: str) -> dict[str, Any]:
        return await self._ask(host_id, "proxy", {"host": host_id, "action": action})

    async def proxy_statuses(self) -> dict[str, dict[str, Any]]:
        merged: dict[str, dict[str, Any]] = {}
        for part in await self._ask_all("proxy_statuses"):
            merged.update(part)
        return merged

    async def silences_changed(self) -> None:
        await self._ask_all("silences_changed")  # best effort: the collectors read them every few seconds anyway

    async def inventory_written(self, inventory, written: bytes | None) -> None:
        await self._ask_all("inventory_check")  # the collectors load the file now instead of within a second


__all__ = ["HostError", "LocalControl", "RemoteControl", "catalog_doc", "channel_handlers"]
