"""`/events`: the timeline, newest first, filtered by type and host, 50 a page."""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from schema.event_queries import query_events
from schema.models import EVENT_TYPES
from webapp.api.events import DEFAULT_SPAN_S
from webapp.api.params import FROM, TO, id_list, time_range
from webapp.deps import FleetDep, SessionDep
from webapp.errors import BadRequest
from webapp.host_words import translate_host_message
from webapp.i18n import gettext, word
from webapp.pages.common import fetch_page, url_with
from webapp.pages.compare import all_host_ids
from webapp.templating import htmx_target, render

router = APIRouter(include_in_schema=False)
PER_PAGE = 50
SEVERITY = {"host_down": "bad", "service_failed": "bad", "host_key_mismatch": "bad", "auth_failed": "bad",
            "gpu_hot": "bad", "gpu_lost": "bad", "gpu_ecc_error": "bad", "proxy_down": "bad",
            "host_rebooted": "warn", "gpu_throttled": "warn",
            "host_up": "ok", "service_recovered": "ok", "proxy_up": "ok"}


@router.get("/events", response_class=HTMLResponse)
def events_page(request: Request, fleet: FleetDep, session: SessionDep, type: list[str] = Query(default=[]),
                server_id: list[str] = Query(default=[]), page: int = 1):
    """Events newest first; htmx asks for the `#events-table` section alone."""
    types = [t for t in id_list(type) or [] if t in EVENT_TYPES]
    unknown = sorted(set(id_list(type) or []) - set(EVENT_TYPES))
    hosts = id_list(server_id) or []
    pg, result = fetch_page(lambda limit, offset: query_events(session, types=types, host_ids=hosts, limit=limit,
                                                                offset=offset), page, PER_PAGE)
    context = {"page": "events", "rows": result.rows, "pager": pg, "types": EVENT_TYPES, "chosen_types": types,
               "hosts": all_host_ids(fleet, session), "chosen_hosts": hosts, "severity": SEVERITY,
               "problem": gettext("unknown event type(s) ignored: %(types)s") % {"types": ", ".join(unknown)}
               if unknown else None,
               "url_with": lambda **kw: url_with(request, **kw)}
    name = "_events_table.html" if htmx_target(request) == "events-table" else "events.html"
    return render(request, name, context)


@router.get("/events/marks")
def event_marks(session: SessionDep, server_id: list[str] = Query(default=[]), start: str | None = FROM,
                end: str | None = TO, limit: int = Query(1000, ge=1, le=1000)) -> dict[str, Any]:
    """A host chart's event markers in the page's language (webapp/host_view.py `chart_marks`, for a language
    other than English): /api/events' rows, with the type in words (`word`) and the message translated; the API
    itself stays English."""
    t0, t1 = time_range(start, end, now=time.time() + 1, default_span_s=DEFAULT_SPAN_S)
    try:
        page = query_events(session, host_ids=id_list(server_id), start=t0, end=t1, limit=limit)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return {"rows": [{"ts": e["ts"], "type": e["type"], "word": word(e["type"]), "subject": e["subject"],
                      "message": translate_host_message(e["message"])} for e in page.rows]}
