"""Tables of the alert engine (SPEC section 4, alerts): instances, notification attempts, silences.

An instance row is written when it fires and updated when it resolves; a
pending instance lives only in the hub's memory (it may never fire).
"""
from __future__ import annotations

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

ALERT_STATES = ("pending", "firing", "resolved")


class AlertBase(SQLModel):
    rule: str = Field(max_length=64)
    host_id: str = Field(max_length=64)
    item: str | None = Field(default=None, max_length=256)  # mount point, GPU index, unit; None: the host
    severity: str = Field(default="warning", max_length=16)
    state: str = Field(max_length=16)
    summary: str = Field(default="", sa_type=Text)
    metric: str | None = Field(default=None, max_length=32)
    event: str | None = Field(default=None, max_length=32)
    value: float | None = None
    threshold: float | None = None
    started_at: float  # the condition became true (or the event happened)
    fired_at: float | None = None
    resolved_at: float | None = None
    updated_at: float


class Alert(AlertBase, table=True):
    """One alert instance: rule x host x item, from firing to resolved."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state", "state"),
        Index("ix_alerts_started", "started_at"),
        Index("ix_alerts_host_started", "host_id", "started_at"),
    )
    id: int | None = Field(default=None, primary_key=True)


class AlertNotification(SQLModel, table=True):
    """One delivery attempt of one notification (firing or resolved) to one notifier."""

    __tablename__ = "alert_notifications"
    __table_args__ = (Index("ix_alert_notifications_alert", "alert_id"), Index("ix_alert_notifications_at", "at"))
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = None
    notifier: str = Field(max_length=64)
    state: str = Field(max_length=16)
    attempt: int
    at: float
    ok: bool
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=Text)
    duration_s: float = 0.0
    final: bool = False


class AlertSilence(SQLModel, table=True):
    """No notifications for matching alerts until `until`; None in rule/host/item matches any."""

    __tablename__ = "alert_silences"
    __table_args__ = (Index("ix_alert_silences_until", "until"),)
    id: int | None = Field(default=None, primary_key=True)
    rule: str | None = Field(default=None, max_length=64)
    host_id: str | None = Field(default=None, max_length=64)
    item: str | None = Field(default=None, max_length=256)
    until: float
    created_at: float
    created_by: str = Field(default="", max_length=64)
    reason: str = Field(default="", sa_type=Text)
    ended_at: float | None = None  # lifted early
