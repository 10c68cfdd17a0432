"""`GET /hosts/{id}/marks?from=&to=`: the markers of a host's charts, worded in the page's language.

charts.js draws a host's events and alerts as vertical markers with a tooltip. The API's JSON stays
English (webapp/api/events.py, alerts.py), so the page's charts read their markers here: the same schema
queries, each marker's text worded where the language is known (event types and states by `i18n.word`,
messages by the message tables, alert wording from the catalogue).
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query

from schema import alert_queries as aq
from schema.event_queries import query_events
from webapp.deps import SessionDep
from webapp.host_words import translate_host_message
from webapp.i18n import N_, gettext, word

router = APIRouter(include_in_schema=False)

EVENTS_MAX = 1000  # a 30-day chart of a flapping host: the newest thousand
ALERTS_MAX = 200
EVENT = N_("%(kind)s%(subject)s: %(message)s")
FIRED = N_("alert %(rule)s fired: %(summary)s")
RESOLVED = N_("alert %(rule)s resolved")


def event_text(row: dict[str, Any]) -> str:
    """"service failed (nginx.service): <message>" in the page's language."""
    subject = f" ({row['subject']})" if row.get("subject") else ""
    return gettext(EVENT) % {"kind": word(row["type"]).replace("_", " "), "subject": subject,
                             "message": translate_host_message(row.get("message") or "")}


def marks(session, host_id: str, start: float, end: float) -> list[dict[str, Any]]:
    """Events and alert firings/resolutions of `host_id` in [start, end], oldest first."""
    out = [{"kind": "event", "type": e["type"], "ts": e["ts"], "text": event_text(e)}
           for e in query_events(session, host_ids=[host_id], start=start, end=end, limit=EVENTS_MAX).rows]
    for a in aq.query_alerts(session, states=["firing", "resolved"], host_ids=[host_id], limit=ALERTS_MAX).rows:
        rule = a["rule"] + (f" ({a['item']})" if a.get("item") else "")
        fired = a.get("fired_at") or a.get("started_at")
        if fired is not None and start <= fired <= end:
            out.append({"kind": "alert", "type": "alert_firing", "ts": fired,
                        "text": gettext(FIRED) % {"rule": rule, "summary": a.get("summary") or ""}})
        if a.get("resolved_at") is not None and start <= a["resolved_at"] <= end:
            out.append({"kind": "alert", "type": "alert_resolved", "ts": a["resolved_at"],
                        "text": gettext(RESOLVED) % {"rule": rule}})
    return sorted(out, key=lambda m: m["ts"])


@router.get("/hosts/{host_id}/marks")
def host_marks(host_id: str, session: SessionDep, start: float = Query(..., alias="from"),
               end: float = Query(..., alias="to")) -> list[dict[str, Any]]:
    """A host's chart markers over [from, to] (epoch seconds), worded in the page's language (a host removed
    from the inventory keeps its page, and so its markers)."""
    if not end >= start:
        raise HTTPException(422, detail=gettext("from must be before to"))
    return marks(session, host_id, start, end)
