"""`/gpus`: every card of the fleet with its users and processes; `/gpus/users`: GPU-hours per user per day."""
from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from schema.gpu_fleet import CARD_SORTS
from webapp.deps import FleetDep, SessionDep
from webapp.i18n import gettext, pgettext
from webapp.fleet_view import GPU_HOT_C
from webapp.gpu_view import DAY_CHOICES, DEFAULT_DAYS, DEFAULT_SORT, EMPTY, MAX_DAYS, cards_now, day_span, user_rows
from webapp.pages.common import url_with
from webapp.pages.compare import all_host_ids
from webapp.pages.overview import REFRESH_S
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)

# the table's sortable columns: sort key -> (heading, aria-sort of its order); schema.gpu_fleet.CARD_SORTS
SORT_COLUMNS = {"host": ("Host", "ascending"), "util": ("Util", "ascending"),
                "memory": ("Memory", "descending"), "temperature": ("Temp.", "descending"),
                "user": ("Users", "ascending"), "since": ("Busy since", "ascending")}


def sort_columns() -> dict[str, tuple[str, str]]:
    """SORT_COLUMNS with the headings in the request's language ("Memory" is the card's: 显存, not 内存)."""
    headings = {"host": gettext("Host"), "util": gettext("Util"), "memory": pgettext("GPU", "Memory"),
                "temperature": gettext("Temp."), "user": gettext("Users"), "since": gettext("Busy since")}
    return {key: (headings[key], order) for key, (_heading, order) in SORT_COLUMNS.items()}


@router.get("/gpus", response_class=HTMLResponse)
def gpus_page(request: Request, fleet: FleetDep, session: SessionDep, q: str = "", sort: str = DEFAULT_SORT):
    """Every GPU of the fleet; htmx refreshes ask for the `#gpu-table` section alone."""
    now = time.time()
    problem = None
    try:
        found = cards_now(fleet, session, now, query=q, sort=sort)
    except ValueError:
        problem = gettext("unknown sort %(sort)r; allowed: %(allowed)s") % {"sort": sort,
                                                                             "allowed": ", ".join(CARD_SORTS)}
        sort = DEFAULT_SORT
        found = cards_now(fleet, session, now, query=q, sort=sort)
    session.close()  # the connection goes back before the render
    partial = htmx_target(request) == "gpu-table"
    context = {"page": "gpus", "cards": found.cards, "seen": found.seen, "q": q, "sort": sort, "problem": problem,
               "columns": sort_columns(), "empty": gettext(EMPTY), "hot_c": GPU_HOT_C, "now": now, "refresh_s": REFRESH_S,
               "partial": partial, "url_with": lambda **kw: url_with(request, **kw)}
    return render(request, "_gpu_table.html" if partial else "gpus.html", context)


@router.get("/gpus/users", response_class=HTMLResponse)
def gpu_users_page(request: Request, fleet: FleetDep, session: SessionDep,
                   days: int = Query(DEFAULT_DAYS, ge=1, le=MAX_DAYS), host: str = "", user: str = ""):
    """GPU-hours per user per host per UTC day; htmx asks for the `#gpu-users` section alone."""
    span = day_span(days, time.time())
    rows = user_rows(session, span, host_id=host.strip(), user=user.strip())
    hosts = all_host_ids(fleet, session)
    session.close()
    csv_query = urlencode({k: v for k, v in (("days", days), ("server_id", host.strip()), ("user", user.strip()))
                           if v})
    context = {"page": "gpus", "rows": rows, "span": span, "day_choices": DAY_CHOICES, "hosts": hosts,
               "host": host.strip(), "user": user.strip(), "csv_url": f"/api/gpus/users.csv?{csv_query}",
               "total_hours": sum(r.gpu_hours for r in rows)}
    name = "_gpu_users.html" if htmx_target(request) == "gpu-users" else "gpu_users.html"
    return render(request, name, context)
