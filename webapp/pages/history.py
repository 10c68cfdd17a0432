"""`/history`: hourly rows, filtered by host and dates, sortable, 20 a page, with a CSV of the whole set."""
from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from collector.metrics.catalogue import CATALOGUE
from schema import history
from webapp.api.params import id_list
from webapp.pages.common import QUICK_RANGES, date_range, fetch_page, url_with
from webapp.pages.compare import all_host_ids
from webapp.deps import FleetDep, SessionDep
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 20

# (column, heading, unit): the unit picks the formatting in the template
COLUMNS = (
    ("host_id", "Host", "text"), ("hour", "Hour", "time"), ("sample_count", "Samples", "int"),
    *((m.hourly_name(agg), m.label if agg == "last" else f"{m.label} {agg}", m.unit)
      for m, agg in CATALOGUE.history_columns()),
)


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, fleet: FleetDep, session: SessionDep, servers: list[str] = Query(default=[]),
                 range: str = "7d", from_date: str = Query("", alias="from"), to_date: str = Query("", alias="to"),
                 tzo: int = 0, sort: str = "-hour", page: int = 1):
    """Hourly history; htmx asks for the `#history-table` section alone."""
    chosen = id_list(servers) or []
    span = date_range(range, from_date, to_date, tzo, time.time())
    problem = span.problem
    try:
        history.parse_sort(sort)
    except ValueError as exc:
        problem, sort = str(exc), "-hour"
    pg, result = fetch_page(lambda limit, offset: history.query_hourly(
        session, host_ids=chosen, start=span.start, end=span.end, sort=sort, limit=limit, offset=offset,
        details=False), page, PER_PAGE)
    csv_query = urlencode({"server_id": chosen, "from": f"{span.start:.0f}", "to": f"{span.end:.0f}", "sort": sort},
                          doseq=True)
    context = {"page": "history", "hosts": all_host_ids(fleet, session), "chosen": chosen, "span": span,
               "quick": QUICK_RANGES, "from_date": from_date, "to_date": to_date, "sort": sort, "pager": pg,
               "rows": result.rows, "columns": COLUMNS, "problem": problem, "csv_url": f"/api/history/hourly.csv?{csv_query}",
               "url_with": lambda **kw: url_with(request, **kw)}
    name = "_history_table.html" if htmx_target(request) == "history-table" else "history.html"
    return render(request, name, context)
