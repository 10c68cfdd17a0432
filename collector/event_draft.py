"""The record an event detector returns (collector/events.py, collector/gpu_events.py); the deduper and the
recorder take it from there."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventDraft:
    """An event about to be recorded (the deduper decides whether it is)."""

    ts: float
    host_id: str
    type: str
    subject: str | None
    message: str
    details: dict | None = None
