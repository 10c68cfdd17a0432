"""`/api/servers`: the inventory's hosts, their state, latest sample, probe now, service catalog."""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field

from collector.errors import Failure, HostError
from inventory import InventoryError
from inventory.writer import HostExists, HostNotFound, InventoryConflict
from webapp import inventory_edits as edits
from schema import samples as store
from schema.timeutil import iso
from webapp.deps import HubDep, SessionDep

router = APIRouter(prefix="/api/servers", tags=["servers"])

# An unreachable host is the hub's upstream failing, not the client's mistake.
FAILURE_STATUS = {Failure.TIMEOUT: 504}


class HostIn(BaseModel):
    """A host entry as written to the inventory; unset fields inherit `defaults`."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, description="host id (letters, digits, . _ -); required when adding")
    address: str | None = Field(None, description="IP address or DNS name")
    port: int | None = None
    user: str | None = None
    identity_file: str | None = None
    known_hosts: str | None = None
    host_key: str | None = Field(None, description="pinned host key, `ssh-ed25519 AAAA...`")
    interval: str | float | None = Field(None, description='probe interval, "5s" or seconds')
    timeout: str | float | None = Field(None, description='probe timeout, "10s" or seconds')
    disks: str | list[str] | None = Field(None, description='mount points, or "all"')
    services: list[str] | None = Field(None, description="systemd units to watch")
    gpu: str | None = Field(None, description="auto | off | nvidia")
    labels: dict[str, str] | None = None
    proxy: dict[str, Any] | None = None


class EditError(BaseModel):
    """A rejected edit: one sentence, or one object per problem (a request field: `loc`, `msg`,
    `type`; the inventory as it would be written: `file`, `line`, `host`, `field`, `message`, `text`)."""

    detail: str | list[dict[str, Any]]


# what the edits answer with 422 (FastAPI would document request-validation errors only)
EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": EditError, "description": "Invalid input"},
    409: {"model": EditError, "description": "The id is taken, or the file was edited by hand meanwhile "
                                             "and the edit no longer applies (reload and try again)"},
}


def _host_failure(err: HostError) -> HTTPException:
    return HTTPException(FAILURE_STATUS.get(err.failure, 502), detail=f"{err.failure.value}: {err.message}")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


def _problems(exc: InventoryError) -> HTTPException:
    return HTTPException(422, detail=[p.to_dict() for p in exc.problems])


def server_summary(hub, host_id: str, row) -> dict[str, Any]:
    spec = hub.specs[host_id]
    st = hub.poller.runtime(host_id).status
    out: dict[str, Any] = {
        "id": spec.id, "address": spec.address, "port": spec.port, "user": spec.user,
        "interval_s": spec.interval_s, "timeout_s": spec.timeout_s,
        "disks": spec.disks if spec.disks == "all" else list(spec.disks), "services": list(spec.services),
        "gpu": spec.gpu, "labels": spec.labels,
        "state": st.state, "last_error": st.last_error,
        "last_seen_at": st.last_seen_at, "last_seen_iso": _iso(st.last_seen_at),
        "state_since": st.state_since, "state_since_iso": _iso(st.state_since),
        "consecutive_failures": st.consecutive_failures,
    }
    facts = hub.poller.runtime(host_id).facts  # fresher than the row, which is written once a second
    for name in ("hostname", "os_pretty_name", "kernel", "arch", "cpu_count", "mem_total_bytes", "gpu_count"):
        out[name] = facts.get(name, getattr(row, name, None) if row is not None else None)
    return out


def _known(hub, host_id: str) -> None:
    if host_id not in hub.specs:
        raise HTTPException(404, detail=f"unknown server {host_id!r}: not in the inventory")


async def _write(hub, edit) -> Any:
    """Write the inventory and apply it; the writer's errors as HTTP errors."""
    try:
        return await edits.apply_edit(hub, edit)
    except InventoryConflict as exc:  # edited by hand meanwhile and the edit no longer applies
        raise HTTPException(409, detail=exc.problems[0].message) from None
    except InventoryError as exc:
        raise _problems(exc) from None
    except HostExists as exc:
        raise HTTPException(409, detail=str(exc)) from None
    except HostNotFound as exc:
        raise HTTPException(404, detail=exc.args[0] if exc.args else str(exc)) from None
    except OSError as exc:
        raise HTTPException(500, detail=f"cannot write the inventory file: {exc}") from None


@router.get("")
def list_servers(hub: HubDep, session: SessionDep) -> list[dict[str, Any]]:
    """Every host of the inventory with its state and system facts."""
    rows = {h.id: h for h in store.list_hosts(session)}
    return [server_summary(hub, host_id, rows.get(host_id)) for host_id in hub.specs]


@router.post("", status_code=status.HTTP_201_CREATED, responses=EDIT_RESPONSES)
async def add_server(body: HostIn, hub: HubDep) -> dict[str, Any]:
    """Add a host to the inventory file (comments and key order kept, one backup)."""
    entry = body.model_dump(exclude_none=True)
    if not entry.get("id") or not entry.get("address"):
        raise HTTPException(422, detail="`id` and `address` are required to add a server")
    await _write(hub, edits.add_host(entry))
    return server_summary(hub, entry["id"], None)


@router.get("/{host_id}")
def get_server(host_id: str, hub: HubDep, session: SessionDep) -> dict[str, Any]:
    """One host with its state and system facts."""
    _known(hub, host_id)
    return server_summary(hub, host_id, store.get_host(session, host_id))


@router.put("/{host_id}", responses=EDIT_RESPONSES)
async def update_server(host_id: str, body: HostIn, hub: HubDep) -> dict[str, Any]:
    """Change a host's settings: fields sent are set, a field sent as null goes back to the default."""
    _known(hub, host_id)
    changes = body.model_dump(exclude_unset=True)
    if "id" in changes and changes["id"] is None:
        raise HTTPException(422, detail="`id` cannot be removed")
    if "address" in changes and changes["address"] is None:
        raise HTTPException(422, detail="`address` cannot be removed")
    await _write(hub, edits.update_host(host_id, changes))
    return server_summary(hub, changes.get("id") or host_id, None)


@router.delete("/{host_id}", status_code=status.HTTP_204_NO_CONTENT, responses=EDIT_RESPONSES)
async def delete_server(host_id: str, hub: HubDep) -> Response:
    """Remove a host from the inventory; its stored history is kept."""
    _known(hub, host_id)
    await _write(hub, edits.delete_host(host_id))
    return Response(status_code=204)


@router.get("/{host_id}/latest")
def latest(host_id: str, hub: HubDep, session: SessionDep) -> dict[str, Any]:
    """The newest stored sample with GPUs, disks and services, plus state and top processes."""
    _known(hub, host_id)
    rt = hub.poller.runtime(host_id)
    sample = store.latest_sample(session, host_id)
    if sample is not None:
        sample["ts_iso"] = iso(sample["ts"])
        sample["age_s"] = round(time.time() - sample["ts"], 1)
    return {
        "server": server_summary(hub, host_id, store.get_host(session, host_id)),
        "sample": sample,
        "top_processes": rt.top_processes,
        "os": rt.os_info,
    }


@router.post("/{host_id}/probe")
async def probe_now(host_id: str, hub: HubDep) -> dict[str, Any]:
    """Probe the host now over the hub's open connection; the full snapshot, also stored."""
    _known(hub, host_id)
    try:
        report = await hub.probe_now(host_id)
    except HostError as err:
        raise _host_failure(err) from None
    rt = hub.poller.runtime(host_id)
    if rt.os_info and not any((report.get("os") or {}).values()):
        report["os"] = rt.os_info
    return report


@router.get("/{host_id}/services/catalog")
async def services_catalog(host_id: str, hub: HubDep) -> dict[str, Any]:
    """Systemd service units found on the host, marked when the inventory watches them."""
    _known(hub, host_id)
    try:
        result = await hub.service_catalog(host_id)
    except HostError as err:
        raise _host_failure(err) from None
    watched = set(hub.specs[host_id].services)
    return {
        "server": host_id,
        "available": result.available,
        "error": result.error,
        "units": [dict(dataclasses.asdict(u), watched=u.name in watched)
                  for u in result.units],
    }
