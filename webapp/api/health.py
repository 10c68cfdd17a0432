"""`/healthz` and `/api/inventory/status`."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from webapp.deps import HubDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(hub: HubDep) -> JSONResponse:
    """Liveness: 200 while the scheduler runs and the database takes writes, else 503."""
    # async on purpose: it reads memory only, so it answers on the event loop even while every web thread
    # is busy with pages
    health = hub.health()
    ok = health["scheduler_running"] and health["db_last_error"] is None
    return JSONResponse({"status": "ok" if ok else "failing", **health}, status_code=200 if ok else 503)


@router.get("/api/inventory/status")
def inventory_status(hub: HubDep) -> dict[str, Any]:
    """Whether the inventory file loaded and its problems (file, line, field), alerting ones apart."""
    problems = [p.to_dict() for p in hub.alerts.alerting.problems]
    return {**hub.watcher.status.to_dict(), "alerting_problems": problems}
