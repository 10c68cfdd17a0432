"""Hourly history queries: filtered, sorted, paged rows and a streaming CSV export (SPEC section 5).

A row covers one host-hour. Filters select the hours that overlap
[start, end): `hour >= floor_hour(start)` and `hour < end`. Sorting takes
column names with an optional leading "-" for descending, comma-separated;
(host_id, hour) is always appended as a tiebreak so pages never overlap or
skip rows. NULL metric values sort last in both directions on both databases.

The CSV export has every HISTORY_COLUMNS column plus `hour_iso`, and the
per-GPU and per-disk details as compact JSON strings in the last two columns
(`gpus`, `disks`): an export should not lose data, and a spreadsheet user can
hide two columns more easily than recover them.
"""
from __future__ import annotations

import csv
import io

import orjson
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import did_you_mean
from schema.paging import Page, check_paging
from schema.models import SampleHourly
from schema.timeutil import hour_floor, iso

# every samples_hourly column of the catalogue's rolled-up host metrics, in catalogue order
HISTORY_COLUMNS: tuple[str, ...] = ("host_id", "hour", "sample_count",
                   *(m.hourly_name(agg) for m in CATALOGUE.rolled_up("host") for agg in m.rollup if agg != "last"),
                   *(m.hourly_name("last") for m in CATALOGUE.rolled_up("host", "last")))
JSON_COLUMNS = ("gpus", "disks")
CSV_COLUMNS: tuple[str, ...] = ("host_id", "hour", "hour_iso", *HISTORY_COLUMNS[2:], *JSON_COLUMNS)
DEFAULT_SORT = "-hour"
_NOT_NULL = frozenset({"host_id", "hour", "sample_count"})
_TABLE = SampleHourly.__table__
_CSV_BATCH = 1000


HourlyPage = Page  # the name callers and tests know


def parse_sort(sort: str | None) -> list[tuple[str, bool]]:
    """"host_id,-hour" -> [("host_id", False), ("hour", True)]; ValueError on an unknown column."""
    keys: list[tuple[str, bool]] = []
    for part in (sort or DEFAULT_SORT).split(","):
        part = part.strip()
        if not part:
            continue
        descending = part.startswith("-")
        name = part.lstrip("-+").strip()
        if name not in HISTORY_COLUMNS:
            raise ValueError(f"unknown sort column {name!r}; {did_you_mean(name, HISTORY_COLUMNS)} "
                             "(prefix with '-' for descending)")
        if name not in (k for k, _ in keys):
            keys.append((name, descending))
    if not keys:
        keys.append(("hour", True))
    for tiebreak in ("host_id", "hour"):
        if tiebreak not in (k for k, _ in keys):
            keys.append((tiebreak, False))
    return keys


def _order_by(sort: str | None) -> list[Any]:
    clauses = []
    for name, descending in parse_sort(sort):
        clause = _TABLE.c[name].desc() if descending else _TABLE.c[name].asc()
        clauses.append(clause if name in _NOT_NULL else clause.nulls_last())
    return clauses


def _filters(host_ids: Sequence[str] | None, start: float | None, end: float | None) -> list[Any]:
    if start is not None and end is not None and start >= end:
        raise ValueError(f"start ({iso(start)}) must be before end ({iso(end)})")
    conditions = []
    if host_ids:
        conditions.append(_TABLE.c.host_id.in_(sorted(set(host_ids))))
    if start is not None:
        conditions.append(_TABLE.c.hour >= hour_floor(start))
    if end is not None:
        conditions.append(_TABLE.c.hour < end)
    return conditions


def _row(mapping: Any, details: bool) -> dict[str, Any]:
    row = dict(mapping)
    row["hour_iso"] = iso(row["hour"])
    if details:
        row["gpus"] = _load_json(row["gpus"])
        row["disks"] = _load_json(row["disks"])
    return row


def _load_json(text: str | None) -> list:
    if not text:
        return []
    try:
        value = orjson.loads(text)  # ~5x json.loads; per-GPU details are most of a page's decode time
    except orjson.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def query_hourly(session: Session, *, host_ids: Sequence[str] | None = None, start: float | None = None,
                 end: float | None = None, sort: str = DEFAULT_SORT, limit: int = 100, offset: int = 0,
                 details: bool = True) -> HourlyPage:
    """One page of samples_hourly rows (hosts, overlapping [start, end)), sorted, with the total count."""
    # details=False leaves out gpus and disks: decoding their JSON is most of the cost of a
    # 1000-row page of 8-GPU hosts (docs/benchmarks.md, "History query").
    check_paging(limit, offset)
    conditions = _filters(host_ids, start, end)
    query = _page_query(conditions, sort, limit, offset, details)
    total = session.execute(select(func.count()).select_from(_TABLE).where(*conditions)).scalar_one()
    rows = [_row(m, details) for m in session.execute(query).mappings()]
    return HourlyPage(total=int(total), limit=limit, offset=offset, rows=rows)


def has_rows(session: Session, host_ids: Sequence[str] | None = None) -> bool:
    """Whether samples_hourly holds any row (of these hosts): none yet means a new install or a new host."""
    conditions = _filters(host_ids, None, None)
    return session.execute(select(_TABLE.c.id).where(*conditions).limit(1)).first() is not None


def _page_query(conditions: list[Any], sort: str | None, limit: int, offset: int, details: bool = True) -> Any:
    """The page query: sort and page over (sort keys, id) alone, then join the page's whole rows."""
    # This deferred join keeps the wide JSON columns out of the sort, and lets an index on the
    # sort keys cover the inner query, so a deep offset walks index entries, not table rows.
    order = _order_by(sort)
    page_ids = select(_TABLE.c.id).where(*conditions).order_by(*order).limit(limit).offset(offset).subquery()
    names = (*HISTORY_COLUMNS, *JSON_COLUMNS) if details else HISTORY_COLUMNS
    columns = [_TABLE.c[name] for name in names]
    return select(*columns).join(page_ids, _TABLE.c.id == page_ids.c.id).order_by(*order)


def iter_hourly_csv(session: Session, *, host_ids: Sequence[str] | None = None, start: float | None = None,
                    end: float | None = None, sort: str = DEFAULT_SORT) -> Iterator[str]:
    """CSV text chunks (header first) of every matching row, streamed; keep the session open while iterating."""
    conditions = _filters(host_ids, start, end)
    order = _order_by(sort)  # validate before the first chunk goes out
    columns = [_TABLE.c[name] for name in (*HISTORY_COLUMNS, *JSON_COLUMNS)]
    query = select(*columns).where(*conditions).order_by(*order)
    return _csv_chunks(session, query)


def _csv_chunks(session: Session, query: Any) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    pending = 0
    result = session.execute(query, execution_options={"yield_per": _CSV_BATCH})
    try:
        for mapping in result.mappings():
            writer.writerow([_csv_value(name, mapping) for name in CSV_COLUMNS])
            pending += 1
            if pending >= _CSV_BATCH:
                yield _drain(buffer)
                pending = 0
    finally:
        result.close()
    yield _drain(buffer)


def _csv_value(name: str, mapping: Any) -> Any:
    if name == "hour_iso":
        return iso(mapping["hour"])
    value = mapping[name]
    return "" if value is None else value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
