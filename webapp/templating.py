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
from webapp import i18n
from webapp.host_words import translate_host_message
from webapp.i18n import N_, gettext

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
HTMX = "vendor/htmx-2.0.11.min.js"
HTMX_SSE = "vendor/htmx-ext-sse-2.2.4.min.js"  # htmx's SSE extension, for the pages' live streams
UPLOT_JS = "vendor/uPlot-1.6.32.min.js"
UPLOT_CSS = "vendor/uPlot-1.6.32.min.css"
DASH = MISSING  # shown where a value is unknown

NAV = (("overview", "/", N_("Overview")), ("gpus", "/gpus", N_("GPUs")), ("compare", "/compare", N_("Compare")),
       ("history", "/history", N_("History")), ("events", "/events", N_("Events")),
       ("alerts", "/alerts", N_("Alerts")), ("servers", "/servers", N_("Servers")))


class TranslatedNav:
    """NAV with its labels in the request's language, translated as base.html loops over it."""

    def __iter__(self):
        return iter([(key, href, gettext(label)) for key, href, label in NAV])


def pct(value: float | None, digits: int = 0) -> str:
    return DASH if value is None else f"{value:.{digits}f} %"


def temp(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f} °C"


def metric(value: Any, unit: str) -> str:
    """A catalogue metric's value by its unit (collector/metrics/catalogue.py)."""
    return format_value(value, unit, lang=i18n.current())


def duration(seconds: float | None) -> str:
    return format_duration(seconds, lang=i18n.current())


def ago(seconds: float | None) -> str:
    if seconds is None:
        return gettext("never")
    return gettext("%(duration)s ago") % {"duration": duration(seconds)}


def iso_utc(ts: float | None) -> str:
    return "" if ts is None else iso(ts)


def clamp_pct(value: float | None) -> float:
    """A bar width: 0-100, 0 when unknown."""
    return 0.0 if value is None else max(0.0, min(100.0, float(value)))


def bar(value: float | None) -> str:
    """A bar width for a style attribute: whole percent."""
    return f"{clamp_pct(value):.0f}"


GPU_GRID_LEGEND = "<i>GPU</i><i>util %</i><i>mem %</i><i>°C</i>"  # app.css: the first 4 cells of a .gg
GPU_GRID_WORDS = (N_("GPU"), N_("util %"), N_("mem %"), "°C")  # the legend's words, translated per language
_gpu_grid_legends: dict[str, str] = {"en": GPU_GRID_LEGEND}


def gpu_grid_legend() -> str:
    """The grid's first column in the page's language (利用率 %, 显存 % in Chinese), built once per language."""
    lang = i18n.current()
    legend = _gpu_grid_legends.get(lang)
    if legend is None:
        legend = _gpu_grid_legends[lang] = "".join(f"<i>{escape(gettext(w))}</i>" for w in GPU_GRID_WORDS)
    return legend


def _num(value: float | None) -> str:
    return DASH if value is None else f"{value:.0f}"


def gpu_grid(rows) -> Markup:
    """The overview card's GPUs, readable without hovering: per row of up to 8 cards a small grid, a column a
    card (index, utilisation %, memory %, temperature °C), built here rather than in a Jinja loop: with 8 GPUs
    a card, the loop was most of the overview's render time at 1,000 hosts (docs/benchmarks.md, "Overview page").
    Terse markup (1,000 cards go out per refresh): a utilisation is the cell with a bar (`--v`). A value not
    reported is a dash, never 0; a card not answering has a hatched utilisation, a hot one is red.
    """
    parts = []
    legend = gpu_grid_legend()
    lost = escape(gettext("lost"))
    not_reported = escape(gettext("utilisation not reported"))
    for row in rows:
        parts.append(f'<div class="gg">{legend}')
        for g in row:
            index = escape(str(g.index))
            if g.lost:
                parts.append(f'<b class="bad">{index}</b><i class="na">{lost}</i><i>{DASH}</i><i>{DASH}</i>')
                continue
            util = (f'<i style="--v:{clamp_pct(g.util_pct):.0f}%">{g.util_pct:.0f}</i>' if g.util_pct is not None
                    else f'<i class="na" title="{not_reported}">{DASH}</i>')
            hot = ' class="hot"' if g.hot else ""
            parts.append(f"<b>{index}</b>{util}<i>{_num(g.mem_pct)}</i><i{hot}>{_num(g.temperature_c)}</i>")
        parts.append("</div>")
    return Markup("".join(parts))


def conditions_text(conditions, most: int = 3) -> str:
    """A card's other conditions in a line: the first `most`, then an ellipsis."""
    texts = [c.text for c in conditions]
    return ", ".join(texts[:most]) + (", …" if len(texts) > most else "")


def _who(request: Request) -> dict[str, Any]:
    """Every template knows who is looking and the CSRF token its forms must carry."""
    principal = getattr(request.state, "principal", None)
    return {"principal": principal, "csrf": principal.csrf_token if principal is not None else None,
            "is_admin": principal is not None and principal.is_admin}


def _lang(request: Request) -> dict[str, Any]:
    """The page's language: `lang` (en, zh) and `html_lang` for <html lang>; the switch links to /lang/{code}."""
    lang = i18n.current()
    return {"lang": lang, "html_lang": i18n.HTML_LANGS[lang]}


templates = Jinja2Templates(directory=str(TEMPLATES_DIR), context_processors=[_who, _lang])
templates.env.trim_blocks = templates.env.lstrip_blocks = True  # no template indentation in the output
# {% trans %} and _(): the request's language (webapp/i18n.py); docs/i18n.md has the recipe
templates.env.add_extension("jinja2.ext.i18n")
templates.env.policies["ext.i18n.trimmed"] = True  # a trans block's whitespace runs are one space, as HTML shows
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext,
                                         npgettext=i18n.npgettext)
templates.env.filters.update(pct=pct, size=format_bytes, rate=format_rate, temp=temp,
                             duration=duration, metric=metric, ago=ago, iso=iso_utc, bar=bar,
                             gpu_grid=gpu_grid, conditions_text=conditions_text, word=i18n.word, tr=i18n.gettext,
                             number=i18n.format_number, datetime=i18n.format_datetime, date=i18n.format_date,
                             host_message=translate_host_message)
templates.env.globals.update(NAV=TranslatedNav(), HTMX=HTMX, HTMX_SSE=HTMX_SSE, UPLOT_JS=UPLOT_JS,
                             UPLOT_CSS=UPLOT_CSS, DASH=DASH, LANGS=i18n.LANGS, live_token=live_token)


def chart_words() -> dict[str, str]:
    """charts.js's own words in the page's language (`<script id="chart-words">` of the chart pages)."""
    return {"time": i18n.gettext("Time"),
            "collecting": i18n.gettext("Collecting: no points yet. The first appear within a minute of the host's "
                                       "first answer."),
            "collecting_hour": i18n.gettext("Collecting: no hourly point yet. The hour from %(from)s is rolled up "
                                            "every minute, so its point appears within two minutes of the first "
                                            "sample (complete at %(until)s)."),
            "failed": i18n.gettext("Could not load the data: %(error)s")}


templates.env.globals["chart_words"] = chart_words


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def htmx_target(request: Request) -> str | None:
    return request.headers.get("HX-Target") if is_htmx(request) else None


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200):
    """A whole page or one partial in the request's language; every template gets the request and the active
    nav item."""
    token = i18n.activate(i18n.request_lang(request))  # error pages are rendered outside i18n.PickLanguage
    try:
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
    finally:
        i18n.deactivate(token)
    response.headers.append("Vary", "Accept-Language, Cookie")  # the same URL answers in either language
    return response
