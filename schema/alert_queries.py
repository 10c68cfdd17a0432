"""Alert history, notification attempts and silences: what the engine writes and the API and pages read."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from schema.alert_models import ALERT_STATES, Alert, AlertNotification, AlertSilence
from schema.paging import Page, check_paging, checked_choices
from schema.timeutil import iso

_A = Alert.__table__
_N = AlertNotification.__table__
_S = AlertSilence.__table__


# ----------------------------------------------------------------------------- writing
def insert_alert(session: Session, fields: dict[str, Any]) -> int:
    """A new instance row (it fired, or a one-shot event happened); its id."""
    result = session.execute(_A.insert().values(**fields))
    return int(result.inserted_primary_key[0])


def update_alert(session: Session, alert_id: int, fields: dict[str, Any]) -> None:
    session.execute(update(_A).where(_A.c.id == alert_id).values(**fields))


def record_attempts(session: Session, attempts: Sequence[dict[str, Any]]) -> None:
    if attempts:
        session.execute(_N.insert(), list(attempts))


def add_silence(session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    result = session.execute(_S.insert().values(**fields))
    return silence_dict({**fields, "id": int(result.inserted_primary_key[0]), "ended_at": None})


def end_silence(session: Session, silence_id: int, now: float) -> dict[str, Any] | None:
    """Lift a silence early; None when there is no such silence."""
    row = session.execute(select(_S).where(_S.c.id == silence_id)).mappings().first()
    if row is None:
        return None
    if row["ended_at"] is None and row["until"] > now:
        session.execute(update(_S).where(_S.c.id == silence_id).values(ended_at=now))
        row = {**row, "ended_at": now}
    return silence_dict(row)


# ----------------------------------------------------------------------------- reading
def open_alerts(session: Session) -> list[dict[str, Any]]:
    """Instances still firing (the engine takes them over after a restart)."""
    return [dict(r) for r in session.execute(select(_A).where(_A.c.state == "firing")).mappings()]


def active_silences(session: Session, now: float) -> list[dict[str, Any]]:
    rows = session.execute(select(_S).where(_S.c.until > now, _S.c.ended_at.is_(None)).order_by(_S.c.until))
    return [silence_dict(r) for r in rows.mappings()]


def list_silences(session: Session, now: float, *, include_past: bool = False, limit: int = 100) -> list[dict]:
    q = select(_S).order_by(_S.c.created_at.desc()).limit(limit)
    if not include_past:
        q = q.where(_S.c.until > now, _S.c.ended_at.is_(None))
    return [silence_dict(r) for r in session.execute(q).mappings()]


def count_firing(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(_A).where(_A.c.state == "firing")).scalar_one())


def firing_by_host(session: Session) -> dict[str, list[tuple[str, str]]]:
    """Each host's alert instances firing as (rule, severity), oldest first (the overview's cards)."""
    out: dict[str, list[tuple[str, str]]] = {}
    rows = session.execute(select(_A.c.host_id, _A.c.rule, _A.c.severity).where(_A.c.state == "firing")
                           .order_by(_A.c.started_at, _A.c.id))
    for host_id, rule, severity in rows:
        out.setdefault(host_id, []).append((rule, severity))
    return out


def query_alerts(session: Session, *, states: Sequence[str] | None = None, host_ids: Sequence[str] | None = None,
                 rules: Sequence[str] | None = None, alert_ids: Sequence[int] | None = None, limit: int = 50,
                 offset: int = 0) -> Page:
    """Alert instances, firing first, then newest first; each with its latest attempt per notifier."""
    check_paging(limit, offset)
    conditions = []
    if states:
        conditions.append(_A.c.state.in_(checked_choices(states, ALERT_STATES, "alert state")))
    if host_ids:
        conditions.append(_A.c.host_id.in_(sorted(set(host_ids))))
    if rules:
        conditions.append(_A.c.rule.in_(sorted(set(rules))))
    if alert_ids:
        conditions.append(_A.c.id.in_(sorted(set(alert_ids))))
    total = session.execute(select(func.count()).select_from(_A).where(*conditions)).scalar_one()
    firing_first = case((_A.c.state == "firing", 0), else_=1)
    rows = [alert_dict(r) for r in session.execute(
        select(_A).where(*conditions).order_by(firing_first, _A.c.started_at.desc(), _A.c.id.desc())
        .limit(limit).offset(offset)).mappings()]
    latest = last_notifications(session, [r["id"] for r in rows])
    for row in rows:
        row["notifications"] = latest.get(row["id"], [])
    return Page(total=int(total), limit=limit, offset=offset, rows=rows)


def last_notifications(session: Session, alert_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The latest attempt of each (alert, notifier, state): what the page shows as the delivery result."""
    if not alert_ids:
        return {}
    newest = (select(func.max(_N.c.id).label("id")).where(_N.c.alert_id.in_(list(alert_ids)))
              .group_by(_N.c.alert_id, _N.c.notifier, _N.c.state).subquery())
    out: dict[int, list[dict[str, Any]]] = {}
    for r in session.execute(select(_N).join(newest, newest.c.id == _N.c.id).order_by(_N.c.id)).mappings():
        out.setdefault(r["alert_id"], []).append(attempt_dict(r))
    return out


def recent_attempts(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.execute(select(_N).order_by(_N.c.id.desc()).limit(limit)).mappings()
    return [attempt_dict(r) for r in rows]


# ----------------------------------------------------------------------------- shapes
def alert_dict(row: Any) -> dict[str, Any]:
    d = dict(row)
    for key in ("started_at", "fired_at", "resolved_at", "updated_at"):
        d[f"{key}_iso"] = iso(d[key]) if d.get(key) is not None else None
    return d


def attempt_dict(row: Any) -> dict[str, Any]:
    d = dict(row)
    d["at_iso"] = iso(d["at"])
    return d


def silence_dict(row: Any) -> dict[str, Any]:
    d = dict(row)
    d["until_iso"] = iso(d["until"])
    d["created_at_iso"] = iso(d["created_at"])
    return d


class _Key(NamedTuple):
    rule: str
    host_id: str
    item: str | None


def silence_matches(silence: Mapping[str, Any], key, now: float) -> bool:
    """A silence holds back notifications of the instances it names (None: any)."""
    return (silence["until"] > now and silence.get("ended_at") is None
            and silence.get("rule") in (None, key.rule) and silence.get("host_id") in (None, key.host_id)
            and silence.get("item") in (None, key.item))


def silenced_until(silences, rule: str, host_id: str, item: str | None, now: float) -> float | None:
    """When the latest silence holding back this instance ends; None when none does."""
    key = _Key(rule, host_id, item)
    ends = [s["until"] for s in silences if silence_matches(s, key, now)]
    return max(ends) if ends else None


def mark_silenced(rows: list[dict[str, Any]], silences: Sequence[Mapping[str, Any]], now: float) -> list[dict[str, Any]]:
    """Add `silenced_until` (epoch s or None) to alert rows for the API and the page."""
    for row in rows:
        row["silenced_until"] = silenced_until(silences, row["rule"], row["host_id"], row["item"], now)
    return rows
