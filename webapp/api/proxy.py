"""`/api/servers/{id}/proxy`: the host's reverse forward: configuration, status, start and stop."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from webapp.api.servers import _write
from webapp.deps import HubDep
from webapp import inventory_edits as edits

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


def _known(hub, host_id: str):
    spec = hub.specs.get(host_id)
    if spec is None:
        raise HTTPException(404, detail=f"unknown server {host_id!r}: not in the inventory")
    return spec


def proxy_view(hub, host_id: str) -> dict[str, Any]:
    """Configuration and status of one host's forward (the page's proxy card shows the same)."""
    spec = _known(hub, host_id)
    proxy = hub.proxies.get(host_id)
    status = proxy.status.to_dict() if proxy is not None else {
        "state": "stopped", "listen": spec.proxy.remote_listen, "target": spec.proxy.target}
    return {"server": host_id, "config": spec.proxy.model_dump(), "status": status}


@router.get("/api/proxies")
def list_proxies(hub: HubDep) -> list[dict[str, Any]]:
    """Every host whose inventory entry enables a reverse forward, with its status."""
    return [proxy_view(hub, host_id) for host_id, spec in hub.specs.items() if spec.proxy.enabled]


@router.get("/api/servers/{host_id}/proxy")
def get_proxy(host_id: str, hub: HubDep) -> dict[str, Any]:
    """The host's reverse forward: configuration and live status."""
    return proxy_view(hub, host_id)


@router.put("/api/servers/{host_id}/proxy")
async def put_proxy(host_id: str, body: ProxyIn, hub: HubDep) -> dict[str, Any]:
    """Change the forward's configuration (written to the inventory; the forward restarts)."""
    _known(hub, host_id)
    await _write(hub, edits.update_host(host_id, {"proxy": body.model_dump(exclude_none=True)}))
    return proxy_view(hub, host_id)


@router.post("/api/servers/{host_id}/proxy/start")
async def start_proxy(host_id: str, hub: HubDep) -> dict[str, Any]:
    """Start holding the forward (it must be enabled in the inventory)."""
    _known(hub, host_id)
    proxy = hub.proxies.get(host_id)
    if proxy is None:
        raise HTTPException(409, detail=f"{host_id} has no proxy enabled: PUT its proxy config with enabled=true")
    proxy.start()
    return proxy_view(hub, host_id)


@router.post("/api/servers/{host_id}/proxy/stop")
async def stop_proxy(host_id: str, hub: HubDep) -> dict[str, Any]:
    """Close the forward and wait until the host's sshd has released the port."""
    _known(hub, host_id)
    proxy = hub.proxies.get(host_id)
    if proxy is not None:
        await proxy.stop()
    return proxy_view(hub, host_id)
