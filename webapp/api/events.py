"""`/api/events`: what happened to which host, newest first."""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from schema.event_queries import query_events
from webapp.api.params import FROM, TO, id_list, time_range
from webapp.deps import SessionDep
from webapp.errors import BadRequest

router = APIRouter(prefix="/api/events", tags=["events"])

DEFAULT_SPAN_S = 2 * 365 * 86400


@router.get("")
def events(session: SessionDep, type: list[str] | None = Query(None, description="event type(s), comma list"),
           server_id: list[str] | None = Query(None, description="host id(s), comma list"),
           start: str | None = FROM, end: str | None = TO,
           limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict[str, Any]:
    """Events filtered by type and host, newest first, 50 a page by default."""
    t0, t1 = time_range(start, end, now=time.time() + 1, default_span_s=DEFAULT_SPAN_S)
    try:
        page = query_events(session, types=id_list(type), host_ids=id_list(server_id), start=t0, end=t1,
                            limit=limit, offset=offset)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return asdict(page)
