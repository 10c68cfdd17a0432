"""`/compare`: several hosts, one metric, one chart, and the average and peak of each."""
from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from collector.metrics.catalogue import CATALOGUE
from schema import samples as store
from schema import timeseries as ts
from webapp.api.params import id_list
from webapp.api.timeseries import MAX_COMPARE
from webapp.deps import FleetDep, SessionDep
from webapp.host_view import DEFAULT_RANGE, RANGES
from webapp.i18n import N_, current, gettext
from webapp.schema_words import translate_error
from webapp.templating import render

router = APIRouter(include_in_schema=False)


def metric_title(name: str) -> str:
    """A metric as the picker and the chart name it: its description in English; in another language its
    catalogue label, translated (webapp/metric_words.py marks every label; the descriptions are not)."""
    if current() == "en":
        return ts.METRICS[name].description
    return gettext(CATALOGUE.chartable()[name].label)


# the catalogue's units that are words, as the picker shows them ("(count)": "(个)"); symbols (%, °C, s) and
# byte units stay as they are in every language
UNIT_WORDS = {"bytes": N_("bytes"), "bytes/s": N_("bytes/s"), "count": N_("count"), "load": N_("load"),
              "state": N_("state")}


def unit_word(unit: str) -> str:
    """A metric's unit as the picker names it in the page's language."""
    return gettext(UNIT_WORDS[unit]) if unit in UNIT_WORDS else unit


def all_host_ids(fleet, session) -> list[str]:
    """Hosts of the inventory first, then removed hosts that still have history."""
    specs = fleet.specs
    ids = list(specs)
    ids += sorted(h.id for h in store.list_hosts(session, include_removed=True) if h.id not in specs)
    return ids


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, fleet: FleetDep, session: SessionDep, servers: list[str] = Query(default=[]),
                 metric: str = "cpu_pct", range: str = DEFAULT_RANGE):
    """Pick hosts, a metric and a range; one line per host and a table of averages and peaks."""
    chosen = id_list(servers) or []
    problem, rows, chart = None, [], None
    if metric not in ts.METRICS:
        problem = gettext("unknown metric %(metric)s; pick one from the list") % {"metric": repr(metric)}
        metric = "cpu_pct"
    range = range if range in RANGES else DEFAULT_RANGE
    unit = ts.METRICS[metric].unit  # the chart and the table pick kB/s or MB/s, MiB or GiB from the values
    if len(chosen) > MAX_COMPARE:
        problem = gettext("compare at most %(most)s hosts at once (you picked %(picked)s)") % {
            "most": MAX_COMPARE, "picked": len(chosen)}
    elif chosen:
        end = time.time()
        try:
            series = ts.compare(session, chosen, metric, end - RANGES[range], end)
        except ValueError as exc:
            problem = translate_error(str(exc))
        else:
            rows = [{"host_id": s.host_id, "points": len(s.points), "avg": s.avg, "peak": s.peak} for s in series]
            query = urlencode({"servers": ",".join(chosen), "metric": metric})
            chart = {"id": "compare", "title": metric_title(metric), "unit": unit,
                     "max": 100 if unit == "%" else None,
                     "sources": [{"kind": "compare", "label": metric, "url": f"/api/compare?{query}"}]}
    context = {"page": "compare", "hosts": all_host_ids(fleet, session), "chosen": chosen, "metric": metric,
               "metrics": ts.METRICS, "metric_titles": {name: metric_title(name) for name in ts.METRICS},
               "metric_units": {name: unit_word(m.unit) for name, m in ts.METRICS.items()},
               "range": range, "ranges": RANGES, "unit": unit, "rows": rows,
               "chart": chart, "problem": problem, "max_compare": MAX_COMPARE}
    return render(request, "compare.html", context)
