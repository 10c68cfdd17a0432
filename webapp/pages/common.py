"""Helpers the pages share: date ranges typed in the browser's zone, and pagers."""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from webapp.i18n import gettext

QUICK_RANGES = {"24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400}


@dataclass(frozen=True)
class DateRange:
    start: float
    end: float
    preset: str | None  # "7d", or None for dates typed in
    problem: str | None = None


def _local_day(text: str, tz_offset_min: int) -> float:
    """Midnight of YYYY-MM-DD in the browser's zone (`getTimezoneOffset()` minutes, UTC minus local)."""
    day = dt.date.fromisoformat(text)
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    return midnight.timestamp() + tz_offset_min * 60


def date_range(preset: str, from_date: str, to_date: str, tz_offset_min: int, now: float,
               default: str = "7d") -> DateRange:
    """A preset ("7d") or two typed dates, the second one inclusive; a bad date says so and falls back."""
    if from_date or to_date:
        try:
            start = _local_day(from_date, tz_offset_min) if from_date else now - QUICK_RANGES[default]
            end = _local_day(to_date, tz_offset_min) + 86400 if to_date else now
        except ValueError:
            problem = gettext("dates are YYYY-MM-DD (got %(got)s); showing the last %(range)s") % {
                "got": repr(from_date or to_date), "range": default}
            return DateRange(now - QUICK_RANGES[default], now, default, problem)
        if start >= end:
            return DateRange(now - QUICK_RANGES[default], now, default,
                             gettext("the start date must come before the end date; showing the last %(range)s")
                             % {"range": default})
        return DateRange(start, end, None)
    preset = preset if preset in QUICK_RANGES else default
    return DateRange(now - QUICK_RANGES[preset], now, preset)


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first_row(self) -> int:
        return min(self.total, self.offset + 1)

    @property
    def last_row(self) -> int:
        return min(self.total, self.offset + self.per_page)


def pager(page: int, per_page: int, total: int) -> Pager:
    pages = max(1, math.ceil(total / per_page))
    return Pager(min(max(1, page), pages), pages, total, per_page)


def fetch_page(query: Callable[[int, int], Any], page: int, per_page: int) -> tuple[Pager, Any]:
    """One page from `query(limit, offset)` (a schema.paging.Page); a page past the end is asked again as the last.

    The total comes with the page, so a request within range costs one query.
    """
    offset = (max(1, min(page, 10**9)) - 1) * per_page
    result = query(per_page, offset)
    pg = pager(page, per_page, result.total)
    if pg.offset != offset:
        result = query(per_page, pg.offset)
    return pg, result


def url_with(request: Request, **changes) -> str:
    """This page's URL with some query parameters replaced (None removes one); lists repeat."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]
    return request.url.path + ("?" + urlencode(params, doseq=True) if params else "")
