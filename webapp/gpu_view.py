"""What the GPU page and `/api/gpus` share: the fleet's cards now, and the days of the per-user table.

Both call `schema.gpu_fleet` through here, on the fleet as the web sees it (`FleetSource`: the inventory's
hosts and labels, the newest reports from the database).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from schema import fleet as fleet_state
from schema.gpu_fleet import GpuCard, UserDay, fleet_cards, user_days
from webapp.fleet_source import FleetSource
from webapp.i18n import N_

DAY = 86400
DAY_CHOICES = (1, 7, 30)  # the per-user table's selector
DEFAULT_DAYS = 7
MAX_DAYS = 400  # the hourly sums are kept as long as the hourly rows (2 years); a page of 400 days is plenty
DEFAULT_SORT = "host"
EMPTY = N_("No GPUs seen yet: hosts with gpu: auto or nvidia and nvidia-smi installed appear here.")


@dataclass(frozen=True)
class Cards:
    cards: list[GpuCard]  # those that match the filter, "held, idle" first
    seen: int  # every card of the fleet, before the filter


def cards_now(fleet: FleetSource, session: Session, now: float, *, query: str = "",
              sort: str = DEFAULT_SORT) -> Cards:
    """Every card of the inventory's hosts from their newest reports; ValueError for an unknown sort."""
    specs = fleet.specs
    hosts = list(fleet_state.hosts_now(session, specs, cache=fleet.docs).values())
    labels = {h: spec.labels for h, spec in specs.items()}
    seen = sum(len((h.report or {}).get("gpus") or ()) for h in hosts)
    return Cards(fleet_cards(hosts, labels, now, query=query, sort=sort), seen)


@dataclass(frozen=True)
class DaySpan:
    days: int
    start: float  # midnight (UTC) of the first day
    end: float  # now


def day_span(days: int, now: float) -> DaySpan:
    """The last `days` UTC days, today included."""
    today = now - now % DAY
    return DaySpan(days, today - (days - 1) * DAY, now)


def user_rows(session: Session, span: DaySpan, *, host_id: str | None = None,
              user: str | None = None) -> list[UserDay]:
    """GPU-hours per user per host per UTC day over the span, newest day first."""
    if "\x00" in (host_id or "") + (user or ""):
        return []  # no stored name holds a NUL (and PostgreSQL refuses one in a parameter: a 500, not "none")
    return user_days(session, span.start, span.end, host_id=host_id or None, user=user or None)
