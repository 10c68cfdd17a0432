"""What a notifier sends: `build_request` turns one `Notification` into (url, headers, body) for one
notifier type (generic JSON webhook, Slack, DingTalk, WeCom). Pure: no I/O, no clock (DingTalk's
signing time is passed in), the same answer for the same arguments.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote_plus, urlsplit, urlunsplit

from inventory.alerting import NOTIFIER_TYPES, NotifierConfig

TYPES = NOTIFIER_TYPES
CONTENT_TYPE = "application/json; charset=utf-8"
USER_AGENT = "fleetwatch-notifier/1"
WECOM_MAX = 4096           # WeCom markdown content limit, in UTF-8 bytes
SLACK_MAX = 3000           # Slack section text limit, in characters


@dataclass(frozen=True)
class Notification:
    alert_id: int | None
    rule: str
    host_id: str
    item: str | None
    state: str                # "firing" | "resolved"
    severity: str             # "info" | "warning" | "critical"
    summary: str
    value: float | None
    threshold: float | None
    metric: str | None
    event: str | None
    started_at: float
    at: float
    labels: Mapping[str, str] = field(default_factory=dict)
    link: str | None = None


def _iso(ts: float, fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime(fmt)


def _utc(ts: float) -> str:
    return _iso(ts, "%Y-%m-%d %H:%M:%S UTC")


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


def _num(v: float | None) -> str:
    return "-" if _finite(v) is None else f"{v:.6g}"


def one_line(s: object) -> str:
    """One line: control characters (newlines included) become spaces."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", str(s)).strip()


def _md(s: object) -> str:
    """Untrusted text for DingTalk/WeCom markdown: one line, no HTML tags, <@mentions>, links or
    images ('<' and the ']' of '](' become full-width look-alikes; '>' alone is harmless)."""
    return one_line(s).replace("<", "＜").replace("](", "］(")


def _slack(s: object) -> str:
    """Slack mrkdwn escaping (& < >): no injected links or <!channel> mentions."""
    return one_line(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _headline(n: Notification, esc: Callable[[object], str] = one_line) -> str:
    item = f" ({esc(n.item)})" if n.item else ""
    return f"[{esc(n.state).upper()}] {esc(n.severity)}: {esc(n.rule)} on {esc(n.host_id)}{item}"


def _details(n: Notification, esc: Callable[[object], str]) -> list[tuple[str, str]]:
    """(label, escaped value) rows shared by the chat formats."""
    rows = [("Host", esc(n.host_id))]
    if n.item:
        rows.append(("Item", esc(n.item)))
    what = n.metric or n.event
    rows.append(("Rule", esc(n.rule) + (f" ({esc(what)})" if what else "")))
    rows.append(("Severity", esc(n.severity)))
    if _finite(n.value) is not None or _finite(n.threshold) is not None:
        rows.append(("Value", f"{_num(n.value)} (threshold {_num(n.threshold)})"))
    rows.append(("Since", _utc(n.started_at)))
    rows.append(("Resolved" if n.state == "resolved" else "Fired", _utc(n.at)))
    if n.labels:
        rows.append(("Labels", esc(", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())))))
    return rows


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The generic webhook's JSON document (docs/notifications.md describes it field by field)."""
    alert = {
        "alert_id": n.alert_id, "rule": n.rule, "host_id": n.host_id, "item": n.item,
        "state": n.state, "severity": n.severity, "summary": n.summary,
        "value": _finite(n.value), "threshold": _finite(n.threshold),
        "metric": n.metric, "event": n.event,
        "started_at": n.started_at, "started_at_iso": _iso(n.started_at),
        "at": n.at, "at_iso": _iso(n.at),
        "labels": dict(n.labels), "link": n.link,
    }
    return {"version": 1, "source": "fleetwatch", "status": n.state, "alert": alert}


def _truncate_utf8(text: str, limit: int) -> str:
    raw = text.encode()
    return text if len(raw) <= limit else raw[:limit - 3].decode(errors="ignore") + "…"


def _sign_dingtalk(url: str, secret: str, now_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{now_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = quote_plus(base64.b64encode(digest).decode())
    parts = urlsplit(url)  # the existing query (access_token=...) is kept as it is, less a stale signature
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] not in ("timestamp", "sign")]
    return urlunsplit(parts._replace(query="&".join([*kept, f"timestamp={now_ms}", f"sign={sign}"])))


def _slack_doc(n: Notification) -> dict[str, Any]:
    rows = "\n".join(f"*{k}:* {v}" for k, v in _details(n, _slack))
    text = f"*{_headline(n, _slack)}*\n{_slack(n.summary)}\n{rows}"
    if n.link:
        text += f"\n<{_slack(n.link).replace('|', '%7C')}|Open in fleetwatch>"
    return {"text": f"{_headline(n, _slack)}: {_slack(n.summary)}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_MAX]}}]}


def _robot_doc(kind: str, n: Notification) -> dict[str, Any]:
    """DingTalk's or WeCom's markdown message."""
    rows = [f"**{k}:** {v}" for k, v in _details(n, _md)]
    link = f"[Open in fleetwatch]({one_line(n.link).replace(' ', '%20').replace(')', '%29')})" if n.link else None
    if kind == "dingtalk":  # DingTalk's markdown needs blank lines to break lines
        text = "\n\n".join([f"#### {_headline(n, _md)}", _md(n.summary), *rows] + ([link] if link else []))
        return {"msgtype": "markdown", "markdown": {"title": _headline(n)[:100], "text": text}}
    color = "info" if n.state == "resolved" else ("comment" if n.severity == "info" else "warning")
    text = "\n".join([f'### <font color="{color}">{_headline(n, _md)}</font>', _md(n.summary), *rows]
                     + ([link] if link else []))
    return {"msgtype": "markdown", "markdown": {"content": _truncate_utf8(text, WECOM_MAX)}}


def build_request(spec: NotifierConfig, n: Notification, *, now_ms: int) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body) of one delivery; pure (DingTalk's signing time is `now_ms`)."""
    kind = spec.type
    if kind not in TYPES:
        raise ValueError(f"unknown notifier type {kind!r} (expected one of {', '.join(TYPES)})")
    url = spec.url.get_secret_value()
    if kind == "webhook":
        doc = webhook_payload(n)
    elif kind == "slack":
        doc = _slack_doc(n)
    else:
        doc = _robot_doc(kind, n)
        if kind == "dingtalk" and spec.secret is not None:
            url = _sign_dingtalk(url, spec.secret.get_secret_value(), now_ms)
    headers = {"Content-Type": CONTENT_TYPE, "User-Agent": USER_AGENT,
               **{name: value.get_secret_value() for name, value in spec.headers.items()}}
    return url, headers, json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()
