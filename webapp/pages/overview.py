"""`/`: fleet totals and one live card per host."""
from __future__ import annotations

import gc
import time
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from collector.host_state import STATES
from schema import alert_queries as aq
from schema import fleet as fleet_state
from webapp.deps import FleetDep, SessionDep
from webapp.fleet_view import SORTS, fleet
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)


@contextmanager
def gc_paused():
    """No cyclic garbage collection while a big overview renders.

    Rendering 1,000 cards allocates ~2*10^5 short-lived containers, which
    reference counting frees anyway; without the pause, full collections over
    the hub's ~10^5 live reports took a third of the time (docs/benchmarks.md).
    Whoever paused first turns collection back on.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
REFRESH_S = 5


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, fleet_source: FleetDep, session: SessionDep, q: str = "", state: str = "",
             sort: str = "name"):
    """The fleet overview; htmx refreshes ask for the `#fleet` section alone."""
    specs = fleet_source.specs
    with gc_paused():
        now = fleet_state.hosts_now(session, specs, cache=fleet_source.docs)
        firing = aq.count_firing(session)
        session.close()  # the connection goes back before the render
        totals, cards = fleet(specs, now, query=q, state=state, sort=sort)
        context = {"page": "overview", "totals": totals, "cards": cards, "alerts_firing": firing, "q": q,
                   "state": state, "sort": sort,
                   "states": STATES, "sorts": SORTS, "now": time.time(), "refresh_s": REFRESH_S}
        name = "_fleet.html" if htmx_target(request) == "fleet" else "overview.html"
        return render(request, name, context)  # renders here, inside the pause
