"""Jinja templates and the filters that put units on every number the pages show."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from schema.timeutil import iso
from webapp.live_feed import live_token
from schema.units_format import MISSING, format_bytes, format_duration, format_rate, format_value

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
HTMX = "vendor/htmx-2.0.11.min.js"
HTMX_SSE = "vendor/htmx-ext-sse-2.2.4.min.js"  # htmx's SSE extension, for the pages' live streams
UPLOT_JS = "vendor/uPlot-1.6.32.min.js"
UPLOT_CSS = "vendor/uPlot-1.6.32.min.css"
DASH = MISSING  # shown where a value is unknown

NAV = (("overview", "/", "Overview"), ("gpus", "/gpus", "GPUs"), ("compare", "/compare", "Compare"),
       ("history", "/history", "History"), ("events", "/events", "Events"), ("alerts", "/alerts", "Alerts"),
       ("servers", "/servers", "Servers"))


def pct(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else f"{value:.{digits}f} %"


def temp(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f} °C"


def metric(value: Any, unit: str) -> str:
    """A catalogue metric's value by its unit (collector/metrics/catalogue.py)."""
    return format_value(value, unit)


def ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{format_duration(seconds)} ago"


def iso_utc(ts: float | None) -> str:
    return "" if ts is None else iso(ts)


def clamp_pct(value: float | None) -> float:
    """A bar width: 0-100, 0 when unknown."""
    return 0.0 if value is None else max(0.0, min(100.0, float(value)))


def bar(value: float | None) -> str:
    """A bar width for a style attribute: whole percent."""
    return f"{clamp_pct(value):.0f}"


def gpu_bars(gpus) -> Markup:
    """The overview card's mini bar per GPU, built here rather than in a Jinja loop.

    With 8 GPUs a card, this loop was most of the overview's render time at
    1,000 hosts (docs/benchmarks.md, "Overview page").
    """
    parts = []
    for g in gpus:
        hot = " hot" if g.hot else ""
        if g.util_pct is None:  # not answering: hatched, not an idle card's empty bar
            hot += " na"
        util = pct(g.util_pct) if g.util_pct is not None else "utilisation not reported"
        title = escape(f"GPU {g.index}: {util}, {temp(g.temperature_c)}")
        parts.append(f'<span class="mini{hot}" style="--v:{clamp_pct(g.util_pct):.0f}%" title="{title}"></span>')
    return Markup("".join(parts))


def _who(request: Request) -> dict[str, Any]:
    """Every template knows who is looking and the CSRF token its forms must carry."""
    principal = getattr(request.state, "principal", None)
    return {"principal": principal, "csrf": principal.csrf_token if principal is not None else None,
            "is_admin": principal is not None and principal.is_admin}


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_who])
templates.env.trim_blocks = templates.env.lstrip_blocks = True  # no template indentation in the output
templates.env.filters.update(pct=pct, size=format_bytes, rate=format_rate, temp=temp,
                             duration=format_duration, metric=metric, ago=ago, iso=iso_utc, bar=bar,
                             gpu_bars=gpu_bars)
templates.env.globals.update(NAV=NAV, HTMX=HTMX, HTMX_SSE=HTMX_SSE, UPLOT_JS=UPLOT_JS, UPLOT_CSS=UPLOT_CSS, DASH=DASH,
                             live_token=live_token)


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def htmx_target(request: Request) -> str | None:
    return request.headers.get("HX-Target") if is_htmx(request) else None


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200):
    """A whole page or one partial; every template gets the request and the active nav item."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)
