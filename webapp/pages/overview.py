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
from webapp.fleet_view import DEFAULT_SORT, GPU_HOT_C, SORT_COLUMNS, SORTS, VIEWS, check_sort, fleet
from webapp.i18n import gettext
from webapp.pages.common import url_with
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
             sort: str = DEFAULT_SORT, view: str = "cards"):
    """The fleet overview, as cards or as a table (`view`); htmx refreshes ask for the `#fleet` section alone.
    An unknown sort or view is said in a line above the fleet, and the default used."""
    specs = fleet_source.specs
    notices = []
    if view not in VIEWS:
        notices.append(gettext("Unknown view “%(view)s”: showing cards (views: %(views)s).")
                       % {"view": view, "views": ", ".join(VIEWS)})
        view = "cards"
    try:
        check_sort(sort)
    except ValueError:
        notices.append(gettext("Unknown sort “%(sort)s”: sorted problems first (sorts: %(sorts)s; a leading - "
                               "reverses one).") % {"sort": sort, "sorts": ", ".join(SORTS)})
        sort = DEFAULT_SORT
    with gc_paused():
        now = fleet_state.hosts_now(session, specs, cache=fleet_source.docs)
        firing = aq.firing_by_host(session)
        session.close()  # the connection goes back before the render
        at = time.time()
        totals, cards = fleet(specs, now, query=q, state=state, sort=sort, firing=firing, at=at)
        partial = htmx_target(request) == "fleet"
        context = {"page": "overview", "totals": totals, "cards": cards,
                   "alerts_firing": sum(len(v) for v in firing.values()), "q": q, "state": state, "sort": sort,
                   "view": view, "views": VIEWS, "notices": notices, "states": STATES, "sorts": SORTS,
                   "columns": SORT_COLUMNS, "hot_c": GPU_HOT_C, "now": at, "refresh_s": REFRESH_S, "partial": partial,
                   # a sort link of the table swapped the section: the form's menu follows (out of band)
                   "sort_menu_oob": partial and (request.headers.get("HX-Trigger") or "").startswith("sort-"),
                   "url_with": lambda **kw: url_with(request, **kw)}
        return render(request, "_fleet.html" if partial else "overview.html", context)  # renders inside the pause
