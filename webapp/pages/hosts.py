"""`/hosts/{id}`: one host's facts, live tiles, charts, GPUs, disks, services and top processes."""
from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from schema import samples as store
from webapp.api.proxy import proxy_view
from webapp.api.servers import server_summary
from webapp.deps import HubDep, SessionDep
from webapp.host_view import DEFAULT_RANGE, RANGES, chart_specs, live_view
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
REFRESH_S = 5


@router.get("/hosts/{host_id}", response_class=HTMLResponse)
def host_page(request: Request, host_id: str, hub: HubDep, session: SessionDep, range: str = DEFAULT_RANGE):
    """The host page; htmx refreshes ask for the `#host-live` section alone."""
    if host_id not in hub.specs:
        raise HTTPException(404, detail=f"unknown host {host_id!r}: it is not in the inventory")
    rt = hub.poller.runtime(host_id)
    sample = None if rt.report and "cpu_pct" in rt.report else store.latest_sample(session, host_id)
    live = live_view(rt.report, sample)
    info = server_summary(hub, host_id, store.get_host(session, host_id))
    context = {"page": "overview", "host": info, "live": live, "os": rt.os_info or {},
               "top_processes": rt.top_processes, "now": time.time(), "refresh_s": REFRESH_S,
               "ranges": RANGES, "range": range if range in RANGES else DEFAULT_RANGE,
               "proxy": proxy_view(hub, host_id) if hub.specs[host_id].proxy.enabled else None,
               "charts": chart_specs(host_id, (live and len(live["gpus"])) or info.get("gpu_count") or 0)}
    name = "_host_live.html" if htmx_target(request) == "host-live" else "host.html"
    return render(request, name, context)
