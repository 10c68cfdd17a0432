"""docs/grafana-dashboard.json: valid JSON that queries only names `/metrics` exports."""
from __future__ import annotations

import json
import re
from pathlib import Path

from collector.metrics.catalogue import CATALOGUE
from webapp.prometheus_hub import hub_families

DASHBOARD = Path(__file__).resolve().parent.parent.parent / "docs" / "grafana-dashboard.json"
SUFFIXES = ("_bucket", "_sum", "_count", "_total")


def _exported() -> set[str]:
    names = {m.prom_name for m in CATALOGUE if m.prom} | {"fleetwatch_host_up"}
    for family in hub_families([]):
        names.add(family.name)
        names.update(family.name + s for s in SUFFIXES)
    return names


def test_dashboard_queries_only_exported_names():
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in doc["panels"] for t in p["targets"]]
    used = {n for e in exprs for n in re.findall(r"fleetwatch_[a-z0-9_]+", e)}
    assert len(exprs) >= 20 and used, "the dashboard has panels"
    assert used <= _exported(), sorted(used - _exported())
    assert {v["name"] for v in doc["templating"]["list"]} == {"datasource", "host"}
