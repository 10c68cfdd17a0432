"""Metric series: one host over time (`/api/servers/{id}/timeseries`), per GPU card
(`/api/servers/{id}/gpus/timeseries`) and several hosts side by side (`/api/compare`)."""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query

from schema import gpu_timeseries as gts
from schema import timeseries as ts
from webapp.api.params import FROM, TO, id_list, time_range
from webapp.deps import FleetDep, SessionDep
from webapp.errors import BadRequest

router = APIRouter(tags=["metrics"])

DEFAULT_SPAN_S = 3600
MAX_COMPARE = 20
METRIC = Query(..., description="metric name, see GET /api/metrics")
GPU_METRIC = Query("util_pct", description="per-card metric: " + " | ".join(gts.GPU_METRICS)
                   + "; see `gpu_metrics` in GET /api/metrics")
STEP = Query(None, description="raw | minute | hour; default: chosen from the range "
                               "(raw up to 6 h, minute buckets up to 48 h, hourly beyond)")


def _known_hosts(fleet, session, host_ids: list[str]) -> None:
    from schema import samples as store

    missing = [h for h in host_ids if h not in fleet.specs and store.get_host(session, h) is None]
    if missing:
        raise HTTPException(404, detail=f"unknown server(s): {', '.join(missing)}")


@router.get("/api/metrics")
def metrics_catalog() -> dict[str, Any]:
    """The metric names the series endpoints accept, with units (`gpu_metrics`: the per-GPU one's)."""
    return {"metrics": ts.METRICS, "gpu_metrics": gts.GPU_METRICS}


@router.get("/api/servers/{host_id}/timeseries")
def timeseries(host_id: str, fleet: FleetDep, session: SessionDep, metric: str = METRIC, start: str | None = FROM,
               end: str | None = TO, step: str | None = STEP) -> dict[str, Any]:
    """One metric of one host between `from` and `to`, at a resolution fitting the range."""
    _known_hosts(fleet, session, [host_id])
    t0, t1 = time_range(start, end, now=time.time(), default_span_s=DEFAULT_SPAN_S)
    try:
        series = ts.timeseries(session, host_id, metric, t0, t1, resolution=step)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return asdict(series) | {"from": t0, "to": t1}


@router.get("/api/servers/{host_id}/gpus/timeseries")
def gpu_timeseries(host_id: str, fleet: FleetDep, session: SessionDep, metric: str = GPU_METRIC,
                   start: str | None = FROM, end: str | None = TO, step: str | None = STEP) -> dict[str, Any]:
    """One metric of each GPU of one host between `from` and `to`, one series per card."""
    _known_hosts(fleet, session, [host_id])
    t0, t1 = time_range(start, end, now=time.time(), default_span_s=DEFAULT_SPAN_S)
    try:
        result = gts.gpu_timeseries(session, host_id, metric, t0, t1, resolution=step)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return asdict(result) | {"from": t0, "to": t1}


@router.get("/api/compare")
def compare(fleet: FleetDep, session: SessionDep,
            servers: list[str] = Query(..., description="host ids, comma list or repeated"),
            metric: str = METRIC, start: str | None = FROM, end: str | None = TO) -> dict[str, Any]:
    """One metric for several hosts over the same range, with average and peak per host."""
    host_ids = id_list(servers) or []
    if not host_ids:
        raise BadRequest("name at least one server in `servers`")
    if len(host_ids) > MAX_COMPARE:
        raise BadRequest(f"compare at most {MAX_COMPARE} servers at once (got {len(host_ids)})")
    _known_hosts(fleet, session, host_ids)
    t0, t1 = time_range(start, end, now=time.time(), default_span_s=DEFAULT_SPAN_S)
    try:
        result = ts.compare(session, host_ids, metric, t0, t1)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return {"metric": metric, "from": t0, "to": t1, "series": [asdict(s) for s in result]}
