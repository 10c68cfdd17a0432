"""Event queries: the filtered, paged timeline and the recent events that seed the duplicate filter."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from schema.paging import Page, check_paging, checked_choices
from schema.models import EVENT_TYPES, Event
from schema.timeutil import iso

_TABLE = Event.__table__


EventPage = Page  # the name callers and tests know


def query_events(session: Session, *, types: Sequence[str] | None = None, host_ids: Sequence[str] | None = None,
                 start: float | None = None, end: float | None = None, limit: int = 50,
                 offset: int = 0) -> EventPage:
    """Events filtered by type, host and [start, end], newest first, one page with the total."""
    check_paging(limit, offset)
    if start is not None and end is not None and start > end:
        raise ValueError(f"start ({iso(start)}) must not be after end ({iso(end)})")
    conditions = []
    if types:
        conditions.append(_TABLE.c.type.in_(checked_choices(types, EVENT_TYPES, "event type")))
    if host_ids:
        conditions.append(_TABLE.c.host_id.in_(sorted(set(host_ids))))
    if start is not None:
        conditions.append(_TABLE.c.ts >= start)
    if end is not None:
        conditions.append(_TABLE.c.ts <= end)
    total = session.execute(select(func.count()).select_from(_TABLE).where(*conditions)).scalar_one()
    query = (select(_TABLE).where(*conditions).order_by(_TABLE.c.ts.desc(), _TABLE.c.id.desc())
             .limit(limit).offset(offset))
    rows = [_row(m) for m in session.execute(query).mappings()]
    return EventPage(total=int(total), limit=limit, offset=offset, rows=rows)


def recent_events(session: Session, since: float) -> list[Event]:
    """Events at or after `since`, oldest first (to seed the in-memory duplicate filter at hub start)."""
    query = select(Event).where(Event.ts >= since).order_by(Event.ts, Event.id)
    return list(session.execute(query).scalars())


def _row(mapping: Any) -> dict[str, Any]:
    row = dict(mapping)
    row["ts_iso"] = iso(row["ts"])
    row["details"] = _details(row.get("details"))
    return row


def _details(text: str | None) -> Any:
    """Parsed JSON details; text that is not JSON is returned as it is, never dropped."""
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
