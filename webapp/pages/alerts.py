"""`/alerts`: firing alerts first, then pending and past ones; the rules and notifiers in force; silences."""
from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from schema import alert_queries as aq
from webapp.alert_words import problem_line
from webapp.api.alerts import RowId, pending_alerts, rules_view, silence_instance
from webapp.api.params import id_list
from webapp.auth import PrincipalDep
from webapp.deps import FleetDep, SessionDep
from webapp.pages.common import fetch_page, url_with
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
SEVERITY_CLASS = {"critical": "bad", "warning": "warn", "info": ""}


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, fleet: FleetDep, session: SessionDep, server_id: list[str] = Query(default=[]),
                page: int = 1):
    """Alerts: firing, pending, history (50 a page), rules with their problems, notifiers, silences."""
    name = "_alerts_table.html" if htmx_target(request) == "alerts-table" else "alerts.html"
    return _render(request, fleet, session, id_list(server_id) or [], page, name,
                   lambda **kw: url_with(request, **kw))


def _render(request: Request, fleet, session, hosts: list[str], page: int, name: str, url: Callable[..., str]):
    pg, result = fetch_page(lambda limit, offset: aq.query_alerts(session, host_ids=hosts, limit=limit,
                                                                   offset=offset), page, PER_PAGE)
    now = time.time()
    aq.mark_silenced(result.rows, aq.active_silences(session, now), now)
    rules = rules_view(fleet, session)  # the API's view; its problems in the page's language (English: as they are)
    rules = {**rules, "problems": [{**p, "text": problem_line(p)} for p in rules["problems"]]}
    context = {"page": "alerts", "rows": result.rows, "pending": pending_alerts(session, hosts), "pager": pg,
               "chosen_hosts": hosts, "rules": rules, "silences": aq.list_silences(session, now),
               "severity_class": SEVERITY_CLASS, "url_with": url}
    return render(request, name, context)


@router.post("/alerts/{alert_id}/silence", response_class=HTMLResponse)
async def silence_button(request: Request, alert_id: RowId, fleet: FleetDep, session: SessionDep, who: PrincipalDep,
                         duration: str = Form("1h")):
    """The page's "Silence 1 h" button (admin, CSRF checked by the guard); answers the refreshed table."""
    await silence_instance(fleet, session, alert_id, duration, "from the alerts page", who)
    # the refreshed table must keep polling the page's URL, not this button's
    page_url = lambda **kw: "/alerts" + (f"?{urlencode(kw)}" if kw else "")  # noqa: E731
    # the table's queries: in a worker thread, not on the event loop
    return await anyio.to_thread.run_sync(_render, request, fleet, session, [], 1, "_alerts_silenced.html", page_url)
