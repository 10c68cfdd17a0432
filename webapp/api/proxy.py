"""`/api/servers/{id}/proxy`: the host's reverse forward: configuration, status, start and stop."""
from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from collector.errors import HostError
from schema import fleet as fleet_state
from webapp import inventory_edits as edits
from webapp.api.servers import _write, known, live_failure
from webapp.deps import FleetDep

router = APIRouter(tags=["proxy"])


class ProxyIn(BaseModel):
    """The inventory's `proxy:` block of one host; unset fields keep their defaults."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(False, description="hold a reverse forward on this host's connection")
    remote_listen: str = Field("127.0.0.1:8080", description="HOST:PORT the host's sshd listens on")
    target: str = Field("127.0.0.1:7879", description='HOST:PORT on the hub side, or "builtin" (an HTTP proxy)')
    auto_start: bool = Field(True, description="start with the hub")
    allow: list[str] | None = Field(None, description='destinations the builtin proxy may reach, e.g. '
                                    '["pypi.org:443", "*.example.com"]; unset: any (target "builtin" only)')


def stopped(spec) -> dict[str, Any]:
    return {"state": "stopped", "listen": spec.proxy.remote_listen, "target": spec.proxy.target}


def proxy_view(spec, status: dict[str, Any] | None) -> dict[str, Any]:
    """Configuration and status of one host's forward (the page's proxy card shows the same)."""
    return {"server": spec.id, "config": spec.proxy.model_dump(), "status": status or stopped(spec)}


async def live_statuses(fleet) -> dict[str, dict[str, Any]]:
    """Every forward's status of this moment, asked of the collectors; what they last wrote to the database
    for those that do not answer."""
    def stored() -> dict[str, dict[str, Any]]:
        with Session(fleet.engine) as session:
            return fleet_state.proxy_statuses(session, time.time())
    statuses = await anyio.to_thread.run_sync(stored)
    statuses.update(await fleet.control.proxy_statuses())
    return statuses


@router.get("/api/proxies")
async def list_proxies(fleet: FleetDep) -> list[dict[str, Any]]:
    """Every host whose inventory entry enables a reverse forward, with its status."""
    statuses = await live_statuses(fleet)
    return [proxy_view(spec, statuses.get(host_id)) for host_id, spec in fleet.specs.items() if spec.proxy.enabled]


@router.get("/api/servers/{host_id}/proxy")
async def get_proxy(host_id: str, fleet: FleetDep) -> dict[str, Any]:
    """The host's reverse forward: configuration and live status."""
    return await _act(fleet, host_id, "status")


@router.put("/api/servers/{host_id}/proxy")
async def put_proxy(host_id: str, body: ProxyIn, fleet: FleetDep) -> dict[str, Any]:
    """Change the forward's configuration (written to the inventory; the forward restarts)."""
    known(fleet, host_id)
    await _write(fleet, edits.update_host(host_id, {"proxy": body.model_dump(exclude_none=True)}))
    return await _act(fleet, host_id, "status")


async def _act(fleet, host_id: str, action: str) -> dict[str, Any]:
    spec = known(fleet, host_id)
    try:
        status = await fleet.control.proxy(host_id, action)
    except LookupError:
        raise HTTPException(409, detail=f"{host_id} has no proxy enabled: PUT its proxy config with "
                                        "enabled=true") from None
    except (HostError, KeyError) as exc:
        if isinstance(exc, KeyError) and action in ("stop", "status"):
            return proxy_view(spec, None)  # nobody holds it: it is stopped
        raise live_failure(exc, host_id) from None
    return proxy_view(spec, status if status.get("listen") else None)


@router.post("/api/servers/{host_id}/proxy/start")
async def start_proxy(host_id: str, fleet: FleetDep) -> dict[str, Any]:
    """Start holding the forward (it must be enabled in the inventory)."""
    return await _act(fleet, host_id, "start")


@router.post("/api/servers/{host_id}/proxy/stop")
async def stop_proxy(host_id: str, fleet: FleetDep) -> dict[str, Any]:
    """Close the forward and wait until the host's sshd has released the port."""
    return await _act(fleet, host_id, "stop")
