"""Query parameters shared by several routers: time ranges and id lists."""
from __future__ import annotations

from fastapi import Query

from schema.timeutil import parse_time
from webapp.errors import BadRequest

MAX_RANGE_S = 3 * 366 * 86400  # hourly rows are kept 2 years; a little slack


def id_list(values: list[str] | None) -> list[str] | None:
    """`?server_id=a&server_id=b` and `?server_id=a,b` both give ["a", "b"]."""
    if not values:
        return None
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    return out or None


def time_range(start: str | None, end: str | None, *, now: float, default_span_s: float) -> tuple[float, float]:
    """Parse `from`/`to` (ISO 8601 or epoch seconds); `to` defaults to now, `from` to `to` minus a span."""
    try:
        t_end = parse_time(end) if end else now
        t_start = parse_time(start) if start else t_end - default_span_s
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if t_start >= t_end:
        raise BadRequest(f"`from` must be before `to` (got from={start!r}, to={end!r})")
    if t_end - t_start > MAX_RANGE_S:
        raise BadRequest("the time range is longer than 3 years; hourly data is kept 2 years")
    return t_start, t_end


FROM = Query(None, alias="from", description="start: ISO 8601 (UTC if no zone) or epoch seconds")
TO = Query(None, alias="to", description="end: ISO 8601 (UTC if no zone) or epoch seconds; default now")
