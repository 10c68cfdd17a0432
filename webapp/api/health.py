"""`/healthz` and `/api/inventory/status`."""
from __future__ import annotations

import time
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from schema import db_health, fleet as fleet_state
from webapp.deps import FleetDep

router = APIRouter(tags=["health"])
# its own two threads: /healthz never queues behind the pages, whatever they do
_HEALTH_THREADS = anyio.CapacityLimiter(2)


def _read(engine) -> tuple[bool, dict[str, Any]]:
    with Session(engine) as session:
        return fleet_state.health_summary(fleet_state.processes(session), time.time())


@router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    """Liveness: 200 while every collector polls and the database takes writes, else 503."""
    engine = request.app.state.engine
    try:
        ok, doc = await anyio.to_thread.run_sync(_read, engine, limiter=_HEALTH_THREADS)
    except Exception as exc:
        if not db_health.unavailable(exc):
            raise
        health = db_health.tracker(engine)
        health.failed(exc)
        return JSONResponse({"status": "failing", "detail": health.message()}, status_code=503)
    return JSONResponse({"status": "ok" if ok else "failing", **doc}, status_code=200 if ok else 503)


@router.get("/api/inventory/status")
def inventory_status(fleet: FleetDep) -> dict[str, Any]:
    """Whether the inventory file loaded and its problems (file, line, field), alerting ones apart."""
    inventory = fleet.inventory
    problems = [p.to_dict() for p in inventory.alerting.problems] if inventory is not None else []
    return {**fleet.watcher.status.to_dict(), "alerting_problems": problems}
