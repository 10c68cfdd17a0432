"""`/api/alerts`: firing and past alert instances, the rules and notifiers, silences."""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from inventory import parse_duration
from schema import alert_queries as aq
from schema import fleet as fleet_state
from webapp.api.params import id_list
from webapp.auth import PrincipalDep
from webapp.deps import FleetDep, SessionDep
from webapp.errors import BadRequest

router = APIRouter(prefix="/api/alerts", tags=["alerts"])
MAX_SILENCE_S = 90 * 86400
# a row id: what a 64-bit database column holds (larger ones are a 422, not a 500)
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def rules_view(fleet, session) -> dict[str, Any]:
    """Rules, notifiers (secret-free, with the collectors' delivery stats) and the problems of the
    inventory's alerting part."""
    inventory = fleet.inventory
    if inventory is None:
        return {"rules": [], "notifiers": [], "problems": []}
    alerting = inventory.alerting
    stats = fleet_state.notifier_stats(session, time.time())
    rules = [{"name": r.name, "kind": "event" if r.event else "metric", "metric": r.metric, "event": r.event,
              "op": r.op, "threshold": r.threshold, "for_s": r.for_s, "hosts": r.hosts, "labels": dict(r.labels),
              "items": r.items, "severity": r.severity, "notify": list(r.notify), "line": r.line,
              "description": r.describe()} for r in alerting.rules]
    notifiers = [{"name": n.name, "type": n.type, "url": n.shown_url, "signed": n.secret is not None,
                  "timeout_s": n.timeout_s, "max_attempts": n.max_attempts, "stats": stats.get(n.name, {})}
                 for n in alerting.notifiers.values()]
    return {"rules": rules, "notifiers": notifiers, "problems": [p.to_dict() for p in alerting.problems]}


def pending_alerts(session, hosts: list[str] | None = None, rules: list[str] | None = None) -> list[dict[str, Any]]:
    """Instances waiting for their `for`, from the collectors' rows."""
    return [p for p in fleet_state.pending_alerts(session, time.time())
            if (not hosts or p["host_id"] in hosts) and (not rules or p["rule"] in rules)]


@router.get("")
def list_alerts(session: SessionDep,
                state: list[str] | None = Query(None, description="pending, firing, resolved (comma list)"),
                server_id: list[str] | None = Query(None, description="host id(s), comma list"),
                rule: list[str] | None = Query(None, description="rule name(s), comma list"),
                limit: int = Query(50, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict[str, Any]:
    """Alert instances: firing first, then the most recent; pending ones (not yet stored) listed apart."""
    states, hosts, rules = id_list(state), id_list(server_id), id_list(rule)
    stored = [s for s in states or () if s != "pending"]
    try:
        page = asdict(aq.query_alerts(session, states=stored or None, host_ids=hosts, rules=rules, limit=limit,
                                      offset=offset)) if stored or not states else \
            {"total": 0, "limit": limit, "offset": offset, "rows": []}
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    now = time.time()
    aq.mark_silenced(page["rows"], aq.active_silences(session, now), now)
    pending = [] if states and "pending" not in states else pending_alerts(session, hosts, rules)
    return {**page, "pending": pending}


@router.get("/rules")
def alert_rules(fleet: FleetDep, session: SessionDep) -> dict[str, Any]:
    """The alert rules and notifiers in force, with the inventory's problems in that part (file, line, field)."""
    return rules_view(fleet, session)


class SilenceIn(BaseModel):
    """What to hold back and for how long; an unset rule, server_id or item matches any."""

    model_config = ConfigDict(extra="forbid")
    rule: str | None = Field(None, max_length=64)
    server_id: str | None = Field(None, max_length=64)
    item: str | None = Field(None, max_length=256)
    duration: str | float = Field(..., description='how long: "30m", "2h", "1d" or seconds (at most 90 days)')
    reason: str = Field("", max_length=500)


def _seconds(duration: str | float) -> float:
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise BadRequest(f"duration: {exc}") from None
    if not 0 < seconds <= MAX_SILENCE_S:
        raise BadRequest("duration must be longer than 0 and at most 90 days")
    return seconds


async def _in_db(fleet, fn):
    """`fn(session)` committed, in a worker thread (the web's own connections)."""
    def work():
        with Session(fleet.engine) as session:
            result = fn(session)
            session.commit()
            return result
    return await anyio.to_thread.run_sync(work)


async def _silence(fleet, fields: dict[str, Any]) -> dict[str, Any]:
    silence = await _in_db(fleet, lambda s: aq.add_silence(s, fields))
    await fleet.control.silences_changed()
    return silence


@router.get("/silences")
def list_silences(session: SessionDep, past: bool = Query(False, description="include expired and lifted ones"),
                  ) -> list[dict[str, Any]]:
    """Silences in force (newest first); with past=true the ended ones too."""
    return aq.list_silences(session, time.time(), include_past=past)


@router.post("/silences", status_code=201)
async def add_silence(body: SilenceIn, fleet: FleetDep, who: PrincipalDep) -> dict[str, Any]:
    """Hold back notifications of matching alerts for a while (admin)."""
    if not (body.rule or body.server_id or body.item):
        raise BadRequest("name a rule, a server_id or an item: a silence of everything is not allowed")
    now = time.time()
    return await _silence(fleet, {"rule": body.rule, "host_id": body.server_id, "item": body.item,
                                "until": now + _seconds(body.duration), "created_at": now,
                                "created_by": who.name if who else "", "reason": body.reason})


class AlertSilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: str | float = Field(..., description='how long: "30m", "2h", "1d" or seconds (at most 90 days)')
    reason: str = Field("", max_length=500)


async def silence_instance(fleet, session, alert_id: int, duration: str | float, reason: str, who) -> dict[str, Any]:
    """Silence one alert instance (its rule, host and item); the API and the page's button share this."""
    page = await anyio.to_thread.run_sync(
        lambda: aq.query_alerts(session, limit=1, offset=0, alert_ids=[alert_id]))  # a query: not on the loop
    if not page.rows:
        raise HTTPException(404, detail=f"no alert {alert_id}")
    row = page.rows[0]
    now = time.time()
    return await _silence(fleet, {"rule": row["rule"], "host_id": row["host_id"], "item": row["item"],
                                "until": now + _seconds(duration), "created_at": now,
                                "created_by": who.name if who else "", "reason": reason})


@router.post("/{alert_id}/silence", status_code=201)
async def silence_alert(alert_id: RowId, body: AlertSilenceIn, fleet: FleetDep, session: SessionDep,
                        who: PrincipalDep) -> dict[str, Any]:
    """Silence one alert instance (its rule, host and item) for a while (admin)."""
    return await silence_instance(fleet, session, alert_id, body.duration, body.reason, who)


@router.delete("/silences/{silence_id}")
async def lift_silence(silence_id: RowId, fleet: FleetDep) -> dict[str, Any]:
    """Lift a silence before it ends (admin)."""
    now = time.time()
    silence = await _in_db(fleet, lambda s: aq.end_silence(s, silence_id, now))
    if silence is None:
        raise HTTPException(404, detail=f"no silence {silence_id}")
    await fleet.control.silences_changed()
    return silence
