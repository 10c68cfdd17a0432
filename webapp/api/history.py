"""`/api/history/hourly`: hourly rollups with filters, sort, paging and CSV export."""
from __future__ import annotations

import time
from typing import Any
import orjson
from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from schema import history
from schema.timeutil import utc_stamp
from webapp.api.params import FROM, TO, id_list, time_range
from webapp.deps import SessionDep
from webapp.errors import BadRequest

router = APIRouter(prefix="/api/history", tags=["history"])

DEFAULT_SPAN_S = 7 * 86400
SERVER_ID = Query(None, description="host id; repeat it or separate with commas for several")
SORT = Query("-hour", description='column to sort by, "-" for descending; a comma list for several')


def _filters(server_id: list[str] | None, start: str | None, end: str | None) -> dict[str, Any]:
    t0, t1 = time_range(start, end, now=time.time(), default_span_s=DEFAULT_SPAN_S)
    return {"host_ids": id_list(server_id), "start": t0, "end": t1}


@router.get("/hourly")
def hourly(session: SessionDep, server_id: list[str] | None = SERVER_ID, start: str | None = FROM,
           end: str | None = TO, sort: str = SORT, limit: int = Query(100, ge=1, le=1000),
           offset: int = Query(0, ge=0)) -> Response:
    """Hourly rows (avg/max per metric), newest first by default; at most 1000 a page."""
    try:
        page = history.query_hourly(session, **_filters(server_id, start, end), sort=sort, limit=limit, offset=offset)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    # rows are plain JSON types already: skip FastAPI's per-field encoder (most of a 1000-row page's time)
    # (orjson serialises the dataclass itself; dataclasses.asdict would deep-copy 1000 rows first)
    return Response(orjson.dumps(page), media_type="application/json")


@router.get("/hourly.csv", response_class=StreamingResponse)
def hourly_csv(session: SessionDep, server_id: list[str] | None = SERVER_ID, start: str | None = FROM,
               end: str | None = TO, sort: str = SORT) -> StreamingResponse:
    """The same rows as CSV with a header row, every matching row (streamed)."""
    filters = _filters(server_id, start, end)
    try:
        chunks = history.iter_hourly_csv(session, **filters, sort=sort)
        first = next(chunks)  # raises on a bad sort before the 200 is sent
    except ValueError as exc:
        raise BadRequest(str(exc)) from None

    def body():
        yield first
        yield from chunks

    name = f"fleetwatch-hourly-{utc_stamp(time.time())}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
