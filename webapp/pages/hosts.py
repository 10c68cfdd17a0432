"""`/hosts/{id}`: one host's facts, live tiles, charts, GPUs, disks, services and top processes."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from schema import fleet as fleet_state
from schema import samples as store
from webapp.access_hint import access_hint
from webapp.api.proxy import proxy_view
from webapp.api.servers import server_summary
from webapp.deps import FleetDep, SessionDep
from webapp.host_view import DEFAULT_RANGE, DISK_COLUMNS, RANGES, chart_specs, live_view, power_limit
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
REFRESH_S = 5


def live_context(session, fleet, spec) -> dict:
    """What the live partial (`_host_live.html`) shows of a host, read now; the page and its stream
    (webapp/live_pages.py) both use it. Reads only: the caller closes the session."""
    now = fleet_state.host_now(session, spec.id, cache=fleet.docs)
    report = now.report
    sample = None if report and "cpu_pct" in report else store.latest_sample(session, spec.id)
    proxy = (proxy_view(spec, fleet_state.proxy_statuses(session, time.time()).get(spec.id))
             if spec.proxy.enabled else None)
    return {"host": server_summary(spec, now), "live": live_view(report, sample), "os": now.os or {},
            "disk_columns": DISK_COLUMNS, "top_processes": now.top_processes,
            "gpu_processes_s": spec.gpu_processes_s, "refresh_s": REFRESH_S, "proxy": proxy,
            "access_hint": access_hint(spec, now.state, now.last_error)}


@router.get("/hosts/{host_id}", response_class=HTMLResponse)
def host_page(request: Request, host_id: str, fleet: FleetDep, session: SessionDep, range: str = DEFAULT_RANGE):
    """The host page; htmx refreshes ask for the `#host-live` section alone."""
    spec = fleet.specs.get(host_id)
    if spec is None:
        raise HTTPException(404, detail=f"unknown host {host_id!r}: it is not in the inventory")
    context = live_context(session, fleet, spec)
    session.close()  # the connection goes back before the render
    live = context["live"]
    gpu_count = (live and len(live["gpus"])) or context["host"].get("gpu_count") or 0
    context.update({"page": "overview", "now": time.time(), "ranges": RANGES,
                    "range": range if range in RANGES else DEFAULT_RANGE,
                    "charts": chart_specs(host_id, gpu_count, power_limit(live))})
    name = "_host_live.html" if htmx_target(request) == "host-live" else "host.html"
    return render(request, name, context)
