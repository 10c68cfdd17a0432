"""`/history`: hourly rows, filtered by host and dates, sortable, 20 a page, with a CSV of the whole set."""
from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from collector.metrics.catalogue import CATALOGUE
from schema import history
from schema.timeutil import HOUR, hour_floor
from webapp.api.params import id_list
from webapp.pages.common import QUICK_RANGES, date_range, fetch_page, url_with
from webapp.pages.compare import all_host_ids
from webapp.deps import FleetDep, SessionDep
from webapp.i18n import N_, gettext
from webapp.schema_words import translate_error
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 20

# (column, heading, aggregate, unit): the unit picks the formatting in the template; the heading is the
# catalogue label (webapp/metric_words.py marks them all) followed by its aggregate (none for "last")
COLUMNS = (
    ("host_id", N_("Host"), None, "text"), ("hour", N_("Hour"), None, "time"),
    ("sample_count", N_("Samples"), None, "int"),
    *((m.hourly_name(agg), m.label, agg, m.unit) for m, agg in CATALOGUE.history_columns()),
)
AGGREGATES = {"avg": N_("avg"), "max": N_("max")}  # "last" adds no word


def columns() -> list[tuple[str, str, str]]:
    """(column, heading, unit) in the request's language: "CPU avg" in English (as before), "CPU 均值" in Chinese."""
    out = []
    for col, label, agg, unit in COLUMNS:
        heading = gettext(label)
        if agg in AGGREGATES:
            heading = f"{heading} {gettext(AGGREGATES[agg])}"
        elif agg not in (None, "last"):
            heading = f"{heading} {agg}"
        out.append((col, heading, unit))
    return out


def first_row(has_rows: bool, span_end: float, now: float) -> dict[str, float] | None:
    """When the first hourly row comes, for an empty table of hosts with no row at all (a new install, a new
    host) over a range that reaches the hour in progress: that hour is rolled up every minute (its row appears
    within two minutes of the first sample) and is complete at the next hour's start. None otherwise."""
    this_hour = hour_floor(now)
    if has_rows or span_end < this_hour:
        return None
    return {"hour": this_hour, "complete": this_hour + HOUR}


@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, fleet: FleetDep, session: SessionDep, servers: list[str] = Query(default=[]),
                 range: str = "7d", from_date: str = Query("", alias="from"), to_date: str = Query("", alias="to"),
                 tzo: int = 0, sort: str = "-hour", page: int = 1):
    """Hourly history; htmx asks for the `#history-table` section alone."""
    chosen = id_list(servers) or []
    now = time.time()
    span = date_range(range, from_date, to_date, tzo, now)
    problem = span.problem
    try:
        history.parse_sort(sort)
    except ValueError as exc:
        problem, sort = translate_error(str(exc)), "-hour"
    pg, result = fetch_page(lambda limit, offset: history.query_hourly(
        session, host_ids=chosen, start=span.start, end=span.end, sort=sort, limit=limit, offset=offset,
        details=False), page, PER_PAGE)
    first = None if result.rows or pg.total else first_row(history.has_rows(session, chosen), span.end, now)
    csv_query = urlencode({"server_id": chosen, "from": f"{span.start:.0f}", "to": f"{span.end:.0f}", "sort": sort},
                          doseq=True)
    context = {"page": "history", "hosts": all_host_ids(fleet, session), "chosen": chosen, "span": span,
               "quick": QUICK_RANGES, "from_date": from_date, "to_date": to_date, "sort": sort, "pager": pg,
               "rows": result.rows, "columns": columns(), "problem": problem, "first_row": first,
               "csv_url": f"/api/history/hourly.csv?{csv_query}",
               "url_with": lambda **kw: url_with(request, **kw)}
    name = "_history_table.html" if htmx_target(request) == "history-table" else "history.html"
    return render(request, name, context)
