"""Alert notifiers (SPEC §4 Alerts): generic JSON webhook, Slack, DingTalk and WeCom robots.

- `formats`: the pure `build_request` (url, headers, body) of each notifier type;
- `redaction`: what keeps the URLs, secrets and header values out of errors and logs;
- `dispatcher`: the `Dispatcher`, which delivers with queues, retries and backoff, and records
  every `Attempt`.

A notifier's configuration is the inventory's `inventory.alerting.NotifierConfig`.
"""
from __future__ import annotations

from .dispatcher import Attempt, Dispatcher
from .formats import TYPES, Notification, build_request, webhook_payload

__all__ = ["Attempt", "Dispatcher", "Notification", "TYPES", "build_request", "webhook_payload"]
