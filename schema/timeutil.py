"""Time helpers: ISO 8601 formatting and parsing, hour floors, portable SQL time buckets.

Times are epoch seconds (UTC) as floats everywhere in storage; the API and the
pages show ISO 8601 with a `Z`. `time_bucket` is the one place where SQL
floors a timestamp: PostgreSQL's CAST rounds, so it uses FLOOR there, while
SQLite uses CAST (which truncates, the same as floor for the positive times
stored here) because SQLite's FLOOR only exists in builds with the math
functions compiled in.
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import BigInteger, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

HOUR = 3600
MINUTE = 60
MAX_TIME = 253402300799.0  # 9999-12-31T23:59:59Z: beyond it ISO 8601 has no year, SQL integers overflow
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_CYCLE_S = 146097 * 86400  # 400 Gregorian years: the calendar, weekdays included, repeats exactly


def utc_format(ts: float, fmt: str) -> str:
    """Epoch seconds (floored to the second) as UTC in a strftime format; ValueError for nan and infinities.

    Never through the C library's gmtime: on Windows it (and datetime.fromtimestamp, which calls it)
    fails past 3000-12-31 and before 1970, and datetime stops at year 9999. Epoch plus a timedelta is
    exact arithmetic everywhere; any time outside 1970-2369 is first moved by whole 400-year cycles,
    then %Y gets the real year back (so a page asking about 9999-12-31's end shows 10000-01-01).
    """
    if not math.isfinite(ts):
        raise ValueError(f"{ts!r} is not a time: epoch seconds must be a finite number")
    cycles, rest = divmod(math.floor(ts), _CYCLE_S)
    moment = _EPOCH + timedelta(seconds=rest)
    year = moment.year + 400 * cycles
    return moment.strftime(fmt.replace("%Y", f"{year:04d}" if year >= 0 else f"-{-year:04d}"))


def iso(ts: float) -> str:
    """Epoch seconds as ISO 8601 UTC to the second, e.g. "2026-11-21T10:15:00Z"."""
    return utc_format(ts, "%Y-%m-%dT%H:%M:%SZ")


def utc_stamp(ts: float) -> str:
    """A compact UTC stamp for file names, e.g. "20261121T101500Z"."""
    return utc_format(ts, "%Y%m%dT%H%M%SZ")


def parse_time(value: str | float | int) -> float:
    """ISO 8601 (naive means UTC) or epoch seconds -> epoch seconds; ValueError if neither, or before
    1970 or after 9999 (such times would overflow the SQL integers and ISO 8601 years downstream)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid time {value!r}: expected ISO 8601 or epoch seconds")
    if isinstance(value, (int, float)):
        return _finite(float(value), value)
    text = str(value).strip()
    if not text:
        raise ValueError("invalid time '': expected ISO 8601 (e.g. 2026-11-21T10:15:00Z) or epoch seconds")
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        return _finite(number, value)
    try:
        dt = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"invalid time {value!r}: expected ISO 8601 (e.g. 2026-11-21T10:15:00Z, naive = UTC) "
            "or epoch seconds (e.g. 1795256100)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return _in_range(dt.timestamp(), value)


def _finite(number: float, original: object) -> float:
    if not math.isfinite(number):
        raise ValueError(f"invalid time {original!r}: epoch seconds must be a finite number")
    return _in_range(number, original)


def _in_range(ts: float, original: object) -> float:
    if not 0 <= ts <= MAX_TIME:
        raise ValueError(f"invalid time {original!r}: must be between 1970-01-01 and 9999-12-31 "
                         f"(epoch seconds 0 to {MAX_TIME:.0f})")
    return ts


def hour_floor(ts: float) -> int:
    """The epoch second of the start of the UTC hour containing `ts`."""
    return int(math.floor(ts / HOUR)) * HOUR


class _bucket(FunctionElement):
    """bucket(ts, step): start of the step-second bucket as an integer, compiled per dialect."""

    type = BigInteger()
    inherit_cache = True
    name = "time_bucket"


def _bucket_parts(element, compiler, **kw) -> tuple[str, str]:
    column, step = element.clauses.clauses
    return compiler.process(column, **kw), compiler.process(step, **kw)


@compiles(_bucket)
def _bucket_default(element, compiler, **kw):
    column, step = _bucket_parts(element, compiler, **kw)
    return f"(CAST(FLOOR({column} / {step}.0) AS BIGINT) * {step})"


@compiles(_bucket, "sqlite")
def _bucket_sqlite(element, compiler, **kw):
    column, step = _bucket_parts(element, compiler, **kw)
    return f"(CAST({column} / {step}.0 AS INTEGER) * {step})"


def time_bucket(column: ColumnElement, step: int) -> ColumnElement:
    """SQL for the start (integer epoch) of the `step`-second bucket holding `column`."""
    # The step is inlined, not bound: PostgreSQL only matches a GROUP BY expression to the
    # selected one when both are textually identical (psycopg binds $1, $2 on the server).
    return _bucket(column, literal_column(str(int(step))))
