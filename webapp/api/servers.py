"""`/api/servers`: the inventory's hosts, their state, latest sample, probe now, service catalog."""
from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlmodel import Session

from collector.errors import Failure, HostError
from inventory import InventoryError
from inventory.edits import RemoteEditError
from inventory.errors import HostExists, HostNotFound, InventoryConflict
from webapp import inventory_edits as edits
from schema import fleet as fleet_state
from schema import samples as store
from schema.timeutil import iso
from webapp.deps import FleetDep, SessionDep

router = APIRouter(prefix="/api/servers", tags=["servers"])

# An unreachable host is the hub's upstream failing, not the client's mistake.
FAILURE_STATUS = {Failure.TIMEOUT: 504}


def _loose(tp: Any, **field: Any) -> Any:
    """A field documented as `tp` but taken as sent: the inventory's checks then report every field's
    problem at once, worded as `fleetwatch inventory check` words them (a request-validation error here
    would hide the others until it is fixed)."""
    return Field(None, json_schema_extra=TypeAdapter(tp).json_schema(), **field)


class HostIn(BaseModel):
    """A host entry as written to the inventory; unset fields inherit `defaults`."""

    # unknown keys too reach the inventory's checks, which name them (with a "did you mean")
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": False})
    id: Any = _loose(str | None, description="host id (letters, digits, . _ -); required when adding")
    address: Any = _loose(str | None, description="IP address or DNS name")
    port: Any = _loose(int | None)
    user: Any = _loose(str | None)
    identity_file: Any = _loose(str | None)
    known_hosts: Any = _loose(str | None)
    host_key: Any = _loose(str | None, description="pinned host key, `ssh-ed25519 AAAA...`")
    interval: Any = _loose(str | float | None, description='probe interval, "5s" or seconds')
    timeout: Any = _loose(str | float | None, description='probe timeout, "10s" or seconds')
    disks: Any = _loose(str | list[str] | None, description='mount points, or "all" (every local filesystem) or '
                        '"all+tmpfs" (with tmpfs too)')
    services: Any = _loose(list[str] | None, description="systemd units to watch")
    gpu: Any = _loose(str | None, description="auto | off | nvidia")
    interfaces: Any = _loose(list[str] | None, description='interfaces (names or globs like "en*") the network '
                             "totals count; unset: the hub chooses the physical ones")
    labels: Any = _loose(dict[str, str] | None)
    proxy: Any = _loose(dict[str, Any] | None)


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


def server_summary(spec, now: fleet_state.HostNow) -> dict[str, Any]:
    """A host's inventory settings, state and system facts (the list, one host, the host page)."""
    out: dict[str, Any] = {
        "id": spec.id, "address": spec.address, "port": spec.port, "user": spec.user,
        "interval_s": spec.interval_s, "timeout_s": spec.timeout_s,
        "disks": spec.disks if isinstance(spec.disks, str) else list(spec.disks), "services": list(spec.services),
        "gpu": spec.gpu, "interfaces": None if spec.interfaces is None else list(spec.interfaces),
        "labels": spec.labels,
        "state": now.state, "last_error": now.last_error,
        "last_seen_at": now.last_seen_at, "last_seen_iso": _iso(now.last_seen_at),
        "state_since": now.state_since, "state_since_iso": _iso(now.state_since),
        "consecutive_failures": now.consecutive_failures,
    }
    for name in fleet_state.FACTS:
        out[name] = now.facts.get(name)
    return out


def known(fleet, host_id: str):
    """The host's inventory entry, or 404."""
    spec = fleet.specs.get(host_id)
    if spec is None:
        raise HTTPException(404, detail=f"unknown server {host_id!r}: not in the inventory")
    return spec


def summary_of(fleet, host_id: str, session) -> dict[str, Any]:
    return server_summary(known(fleet, host_id), fleet_state.host_now(session, host_id, cache=fleet.docs))


async def summary_now(fleet, host_id: str) -> dict[str, Any]:
    """`summary_of` from async code: the query in a worker thread."""
    def read() -> dict[str, Any]:
        with Session(fleet.engine) as session:
            return summary_of(fleet, host_id, session)
    return await anyio.to_thread.run_sync(read)


def live_failure(exc: Exception, host_id: str) -> HTTPException:
    """What a live request's failure answers: the host's failure class, or why nobody could ask it."""
    if isinstance(exc, HostError):
        return _host_failure(exc)
    if isinstance(exc, KeyError):
        return HTTPException(503, detail=f"no collector polls {host_id} right now (it was just added, or its "
                                         "collector is restarting): try again in a few seconds",
                             headers={"Retry-After": "5"})
    raise exc


async def _write(fleet, edit) -> Any:
    """Write the inventory and apply it; the writer's errors as HTTP errors."""
    try:
        return await edits.apply_edit(fleet, edit)
    except InventoryConflict as exc:  # edited by hand meanwhile and the edit no longer applies
        raise HTTPException(409, detail=exc.problems[0].message) from None
    except InventoryError as exc:
        raise _problems(exc) from None
    except HostExists as exc:
        raise HTTPException(409, detail=str(exc)) from None
    except HostNotFound as exc:
        raise HTTPException(404, detail=exc.args[0] if exc.args else str(exc)) from None
    except edits.EditQueued as exc:
        raise HTTPException(503, detail=str(exc), headers={"Retry-After": "15"}) from None
    except (OSError, RemoteEditError) as exc:
        raise HTTPException(500, detail=f"cannot write the inventory file: {exc}") from None


@router.get("")
def list_servers(fleet: FleetDep, session: SessionDep) -> list[dict[str, Any]]:
    """Every host of the inventory with its state and system facts."""
    specs = fleet.specs
    now = fleet_state.hosts_now(session, specs, cache=fleet.docs)
    return [server_summary(spec, now[host_id]) for host_id, spec in specs.items()]


@router.post("", status_code=status.HTTP_201_CREATED, responses=EDIT_RESPONSES)
async def add_server(body: HostIn, fleet: FleetDep) -> dict[str, Any]:
    """Add a host to the inventory file (comments and key order kept, one backup)."""
    entry = body.model_dump(exclude_none=True)  # a missing id or address: a problem among the others
    await _write(fleet, edits.add_host(entry))
    return await summary_now(fleet, entry["id"])


@router.get("/{host_id}")
def get_server(host_id: str, fleet: FleetDep, session: SessionDep) -> dict[str, Any]:
    """One host with its state and system facts."""
    return summary_of(fleet, host_id, session)


@router.put("/{host_id}", responses=EDIT_RESPONSES)
async def update_server(host_id: str, body: HostIn, fleet: FleetDep) -> dict[str, Any]:
    """Change a host's settings: fields sent are set, a field sent as null goes back to the default."""
    known(fleet, host_id)
    changes = body.model_dump(exclude_unset=True)
    if "id" in changes and changes["id"] is None:
        raise HTTPException(422, detail="`id` cannot be removed")
    if "address" in changes and changes["address"] is None:
        raise HTTPException(422, detail="`address` cannot be removed")
    await _write(fleet, edits.update_host(host_id, changes))
    return await summary_now(fleet, changes.get("id") or host_id)


@router.delete("/{host_id}", status_code=status.HTTP_204_NO_CONTENT, responses=EDIT_RESPONSES)
async def delete_server(host_id: str, fleet: FleetDep) -> Response:
    """Remove a host from the inventory; its stored history is kept."""
    known(fleet, host_id)
    await _write(fleet, edits.delete_host(host_id))
    return Response(status_code=204)


@router.get("/{host_id}/latest")
def latest(host_id: str, fleet: FleetDep, session: SessionDep) -> dict[str, Any]:
    """The newest stored sample with GPUs, disks and services, plus state and top processes; each network
    interface's rates and whether the host's totals count it (`net_counting`: the rule that chose them)."""
    spec = known(fleet, host_id)
    now = fleet_state.host_now(session, host_id, cache=fleet.docs)
    sample = store.latest_sample(session, host_id)
    if sample is not None:
        sample["ts_iso"] = iso(sample["ts"])
        sample["age_s"] = round(time.time() - sample["ts"], 1)
    report = now.report or {}
    return {"server": server_summary(spec, now), "sample": sample, "top_processes": now.top_processes,
            "os": now.os, "net_interfaces": report.get("net_interfaces") or [],
            "net_counting": report.get("net_counting")}


@router.post("/{host_id}/probe")
async def probe_now(host_id: str, fleet: FleetDep) -> dict[str, Any]:
    """Probe the host now over the hub's open connection; the full snapshot, also stored."""
    known(fleet, host_id)
    try:
        return await fleet.control.probe_now(host_id)
    except (HostError, KeyError) as exc:
        raise live_failure(exc, host_id) from None


@router.get("/{host_id}/services/catalog")
async def services_catalog(host_id: str, fleet: FleetDep) -> dict[str, Any]:
    """Systemd service units found on the host, marked when the inventory watches them."""
    spec = known(fleet, host_id)
    try:
        result = await fleet.control.service_catalog(host_id)
    except (HostError, KeyError) as exc:
        raise live_failure(exc, host_id) from None
    watched = set(spec.services)
    return {
        "server": host_id,
        "available": result["available"],
        "error": result["error"],
        "units": [dict(u, watched=u["name"] in watched) for u in result["units"]],
    }
