"""`/`: fleet totals and one live card per host."""
from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from collector.host_state import STATES
from webapp.deps import HubDep
from webapp.fleet_view import SORTS, fleet
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
REFRESH_S = 5


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, hub: HubDep, q: str = "", state: str = "", sort: str = "name"):
    """The fleet overview; htmx refreshes ask for the `#fleet` section alone."""
    totals, cards = fleet(hub, query=q, state=state, sort=sort)
    context = {"page": "overview", "totals": totals, "cards": cards, "q": q, "state": state, "sort": sort,
               "states": STATES, "sorts": SORTS, "now": time.time(), "refresh_s": REFRESH_S}
    name = "_fleet.html" if htmx_target(request) == "fleet" else "overview.html"
    return render(request, name, context)
