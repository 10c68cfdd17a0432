"""`/api/gpus`: every card of the fleet with its users and processes, and GPU-hours per user per day."""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query, Response

from schema.gpu_fleet import CARD_SORTS, user_days_csv
from schema.timeutil import iso, utc_stamp
from webapp.deps import FleetDep, SessionDep
from webapp.errors import BadRequest
from webapp.gpu_view import DEFAULT_DAYS, DEFAULT_SORT, MAX_DAYS, cards_now, day_span, user_rows

router = APIRouter(prefix="/api/gpus", tags=["gpus"])

QUERY = Query("", description="words that must all appear in the host, a label (key=value), the model, a user or "
                              "a process name")
SORT = Query(DEFAULT_SORT, description=f"one of {', '.join(CARD_SORTS)}; \"held, idle\" cards come first anyway")
DAYS = Query(DEFAULT_DAYS, ge=1, le=MAX_DAYS, description="the last N UTC days, today included")
SERVER_ID = Query(None, description="only this host")
USER = Query(None, description="only this user (as ps names them; ? where ps did not answer)")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else iso(ts)


@router.get("")
def gpus(fleet: FleetDep, session: SessionDep, q: str = QUERY, sort: str = SORT) -> dict[str, Any]:
    """Every card of the fleet now, "held, idle" cards first, then by `sort`."""
    try:
        found = cards_now(fleet, session, time.time(), query=q, sort=sort)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    cards = [dict(c.as_dict(), busy_since_iso=_iso(c.busy_since), held_idle_since_iso=_iso(c.held_idle_since))
             for c in found.cards]
    return {"seen": found.seen, "count": len(cards), "cards": cards}


@router.get("/users")
def users(session: SessionDep, days: int = DAYS, server_id: str | None = SERVER_ID,
          user: str | None = USER) -> dict[str, Any]:
    """GPU-hours and GPU-memory-GiB-hours per user per host per UTC day, newest day first."""
    span = day_span(days, time.time())
    rows = user_rows(session, span, host_id=server_id, user=user)
    return {"days": days, "from": span.start, "from_iso": iso(span.start), "to": span.end, "to_iso": iso(span.end),
            "day_zone": "UTC", "rows": [asdict(r) for r in rows]}


@router.get("/users.csv", response_class=Response)
def users_csv(session: SessionDep, days: int = DAYS, server_id: str | None = SERVER_ID,
              user: str | None = USER) -> Response:
    """The same rows as CSV, units in the header (day_utc, gpu_hours, gpu_memory_gib_hours)."""
    rows = user_rows(session, day_span(days, time.time()), host_id=server_id, user=user)
    name = f"fleetwatch-gpu-users-{utc_stamp(time.time())}.csv"
    return Response(user_days_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
