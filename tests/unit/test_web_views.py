"""Pure pieces of the web UI: unit formatting, the host form, date ranges, fleet cards."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from schema.fleet import HostNow
from inventory.errors import Problem
from webapp import i18n, templating as t
from webapp.fleet_view import MAX_GPU_BARS, host_card
from webapp.host_view import live_view
from webapp.pages.common import date_range, pager
from webapp.server_form import entry_values, parse_host_form, problem_fields

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.mark.parametrize("name, value, text", [
    ("pct", None, "–"), ("pct", 12.345, "12 %"), ("size", 3 * 2**30, "3.0 GiB"), ("size", 512, "512 B"),
    ("size", 1536, "1.5 KiB"), ("size", 5 * 2**40, "5.0 TiB"), ("size", None, "–"), ("rate", 2_500_000, "2.5 MB/s"), ("rate", 512, "512 B/s"),
    ("rate", None, "–"), ("temp", 85.4, "85 °C"),
    ("duration", 42, "42 s"), ("duration", 3 * 86400 + 4 * 3600 + 5, "3 d 4 h"), ("duration", 3720, "1 h 2 min"),
    ("duration", None, "–"), ("ago", None, "never"), ("ago", 3.2, "3 s ago"), ("bar", 140, "100"), ("bar", -3, "0"),
    ("bar", None, "0"), ("bar", 12.6, "13"),
])
def test_every_number_carries_its_unit(name, value, text):
    assert t.templates.env.filters[name](value) == text


def test_gpu_grid_escapes_and_shows_every_value_without_hovering():
    rows = [[SimpleNamespace(index=0, util_pct=50.0, mem_pct=25.0, temperature_c=85.0, hot=True, lost=False),
             SimpleNamespace(index='"><script>', util_pct=None, mem_pct=None, temperature_c=None, hot=False,
                             lost=False),
             SimpleNamespace(index=2, util_pct=None, mem_pct=None, temperature_c=None, hot=False, lost=True)]]
    html = str(t.gpu_grid(rows))
    assert "<script>" not in html and "--v:50%" in html
    from bs4 import BeautifulSoup
    cells = [c.text for c in BeautifulSoup(html, "html.parser").select(".gg > *")]
    assert cells[:4] == ["GPU", "util %", "mem %", "°C"]  # the units, once a grid
    assert cells[4:8] == ["0", "50", "25", "85"]
    assert cells[9:12] == ["–", "–", "–"]  # not reported: a dash, not 0
    assert cells[12:] == ["2", "lost", "–", "–"]
    assert html.count('class="hot"') == 1 and 'title="utilisation not reported"' in html
    token = i18n.activate("zh")  # a Chinese page: the legend and "lost" in Chinese, the values as they are
    try:
        zh = [c.text for c in BeautifulSoup(str(t.gpu_grid(rows)), "html.parser").select(".gg > *")]
    finally:
        i18n.deactivate(token)
    assert zh[:4] == ["GPU", "利用率 %", "显存 %", "°C"] and zh[4:12] == cells[4:12]
    assert zh[12:] == ["2", "掉卡", "–", "–"]
    assert str(t.gpu_grid(rows)) == html  # English again, as before


# --------------------------------------------------------------------------- the host form
FORM_CASES = {
    "empty": ({}, False, {"id", "address"}, None),
    "malformed": ({"id": ["x"], "address": ["h"], "port": ["22a"], "gpu": ["amd"], "labels": ["novalue"]}, False,
                  {"port", "gpu", "labels"}, None),
    "truncated": ({"id": ["x"], "address": ["h"], "port": [""]}, False, set(), {"id": "x", "address": "h"}),
    "valid": ({"id": ["gpu-01"], "address": [" 10.0.0.5 "], "port": ["2222"], "disks": ["/ /data"],
               "services": ["nginx.service"], "services_extra": ["cron.service, nginx.service"],
               "labels": ["rack=a3\n\nrow = 2"], "gpu": ["nvidia"], "interval": ["10s"]}, False, set(),
              {"id": "gpu-01", "address": "10.0.0.5", "port": 2222, "disks": ["/", "/data"], "gpu": "nvidia",
               "services": ["nginx.service", "cron.service"], "labels": {"rack": "a3", "row": "2"},
               "interval": "10s"}),
    "disks-all": ({"id": ["a"], "address": ["h"], "disks": ["all"]}, False, set(),
                  {"id": "a", "address": "h", "disks": "all"}),
    "disks-all+tmpfs": ({"id": ["a"], "address": ["h"], "disks": [" All+tmpfs "]}, False, set(),
                        {"id": "a", "address": "h", "disks": "all+tmpfs"}),
}


@pytest.mark.parametrize("case", FORM_CASES)
def test_host_form_to_inventory_entry(case):
    form, editing, errors, entry = FORM_CASES[case]
    parsed = parse_host_form(form, editing=editing)
    assert set(parsed.errors) == errors
    assert parsed.ok == (not errors)
    if entry is not None:
        assert parsed.entry == entry


def test_editing_sends_empty_fields_back_to_the_defaults():
    parsed = parse_host_form({"address": ["h"], "port": [""], "services": []}, editing=True)
    assert parsed.ok and "id" not in parsed.entry
    assert parsed.entry["port"] is None and parsed.entry["user"] is None and parsed.entry["services"] == []


def test_edit_form_shows_what_the_file_says():
    entry = SimpleNamespace(id="a", address="h", port=None, user="ops", identity_file=None, known_hosts=None,
                            host_key=None, interval=10.0, timeout=None, disks="all", gpu=None,
                            services=["x.service"], labels={"rack": "b"})
    values = entry_values(entry)
    assert values["port"] == "" and values["interval"] == "10s" and values["disks"] == "all"
    assert values["labels"] == "rack=b" and values["services"] == ["x.service"]


def test_inventory_problems_land_beside_their_fields():
    problems = [Problem("f", 3, "x", "services[1]", "bad unit"), Problem("f", 3, "x", "port", "too big"),
                Problem("f", None, None, "", "file is not YAML")]
    errors, general = problem_fields(problems)
    assert errors == {"services": "bad unit", "port": "too big"} and general == ["file is not YAML"]


# --------------------------------------------------------------------------- ranges and pages
def test_date_range_presets_typed_dates_and_bad_input():
    now = 1_800_000_000.0
    preset = date_range("24h", "", "", 0, now)
    assert (preset.start, preset.end, preset.preset, preset.problem) == (now - 86400, now, "24h", None)
    assert date_range("nonsense", "", "", 0, now).preset == "7d"
    typed = date_range("7d", "2026-01-01", "2026-01-02", -540, now)  # UTC+9 (getTimezoneOffset is -540)
    assert typed.preset is None and typed.end - typed.start == 2 * 86400
    assert typed.start == 1767225600 - 9 * 3600
    assert "YYYY-MM-DD" in date_range("7d", "01/02/2026", "", 0, now).problem
    assert "before" in date_range("7d", "2026-02-02", "2026-01-01", 0, now).problem


def test_pager_clamps_the_page():
    assert pager(0, 20, 45).page == 1 and pager(99, 20, 45).page == 3
    p = pager(3, 20, 45)
    assert (p.offset, p.first_row, p.last_row, p.pages) == (40, 41, 45, 3)
    assert pager(1, 20, 0).pages == 1


# --------------------------------------------------------------------------- cards and live values
def _spec(**kw):
    return SimpleNamespace(id=kw.get("id", "h1"), address="10.0.0.1", labels=kw.get("labels", {}))


def test_card_without_a_report_has_no_values():
    card = host_card(_spec(), HostNow(id="h1"))
    assert card.state == "connecting" and card.cpu_pct is None and card.gpu_count == 0 and not card.troubled


def test_card_caps_gpu_bars_and_flags_problems():
    report = {"cpu_pct": 12.0, "mem_used_bytes": 1, "mem_total_bytes": 4,
              "disks": [{"mount": "/", "used_pct": 20.0}, {"mount": "/data", "used_pct": 91.0}, {"mount": "/x"}],
              "gpus": [{"index": i, "temperature_c": 85.0 if i == 3 else 40.0} for i in range(20)],
              "services": [{"name": "a.service", "active_state": "failed"}, {"name": "b", "active_state": "active"}]}
    card = host_card(_spec(), HostNow(id="h1", state="up", report=report))
    assert card.mem_pct == 25.0 and (card.disk_pct, card.disk_mount) == (91.0, "/data")
    assert len(card.gpus) == MAX_GPU_BARS and card.gpu_more == 4 and card.gpus[3].hot and not card.gpus[2].hot
    assert [len(r) for r in card.gpu_rows] == [8, 8]
    assert card.failed_services == ("a.service",) and card.troubled and card.state_class == "ok"
    assert card.severity == "bad" and card.worst.text == "failed service: a"
    assert [c.text for c in card.others] == ["GPU 3 hot 85 °C", "disk /data 91 %"]
    assert card.gpu_temp_max == 85.0 and card.gpu_util_mean is None  # no card reported a utilisation


def test_card_shows_gpus_not_answering_and_the_fullest_card():
    from bs4 import BeautifulSoup
    from collector.parsers import nvidia
    from collector.host_report import HostReport

    def card_html(report):
        card = host_card(_spec(), HostNow(id="h1", state="up", report=report))
        return card, BeautifulSoup(t.templates.env.get_template("_host_card.html").render(card=card, now=0.0),
                                   "html.parser")

    gpus = nvidia.parse((FIXTURES / "nvidia" / "mig_util_na.csv").read_text()).gpus  # 10 %, 90 %, [N/A] with full memory
    card, doc = card_html(HostReport("h1", "up", 0.0, {}, gpus=gpus).to_dict())
    assert (card.gpu_unanswered, card.gpu_mem_fullest_pct) == (1, 100.0)
    assert doc.select_one("[data-gpu-unanswered]").text == "1 not answering"
    assert doc.select_one(".gpus > p > span")["title"] == "fullest card's memory 100 % used"
    util = [b.find_next_sibling() for b in doc.select(".gg b")]
    assert [u.text for u in util] == ["10", "90", "–"] and util[2]["class"] == ["na"]
    assert card.gpu_util_mean == 50.0 and doc.select_one("article")["id"] == "card-h1"
    card, doc = card_html(HostReport("h1", "up", 0.0, {}, gpus=gpus[:2]).to_dict())
    assert card.gpu_unanswered == 0 and doc.select_one("[data-gpu-unanswered]") is None


def test_live_view_reads_a_report_or_a_stored_sample_alike():
    report = {"ok": True, "cpu_pct": 5.0, "ts": 1.0, "gpus": [{"index": 0, "temperature_c": 81.0,
                                                             "mem_used_mb": 10.0, "mem_total_mb": 40.0}],
              "services": [{"name": "n.service", "active_state": "active"}]}
    sample = {"cpu_pct": 7.0, "ts": 2.0, "gpus": [{"gpu_index": 0, "temperature_c": 20.0}],
              "services": [{"unit": "n.service", "active_state": "failed"}]}
    live = live_view(report, sample)
    assert live["source"] == "live" and live["gpus"][0]["hot"] and live["gpus"][0]["mem_pct"] == 25.0
    stored = live_view(None, sample)
    assert stored["source"] == "stored" and stored["gpus"][0]["index"] == 0
    assert stored["services"][0]["name"] == "n.service" and not stored["gpus"][0]["hot"]
    assert live_view(None, None) is None


def test_a_failed_driver_is_said_on_the_host_page_not_no_gpu():
    """nvidia-smi that cannot reach the driver: a section error and a degraded host, and the GPU panel says so
    in the tool's words instead of "No GPU" (issue 17, item 3)."""
    from bs4 import BeautifulSoup
    from collector.reading import parse_output
    from collector.report import build_report

    probe = (FIXTURES / "probe" / "debian12_vm.txt").read_bytes()
    failed = probe.replace(b"<<<rc>>>\n", b"<<<nvidia>>>\n" + (FIXTURES / "nvidia" / "driver_error.txt").read_bytes()
                           + b"<<<rc>>>\n", 1)
    report = build_report("g1", (parse_output(failed, 0, 1.0, asked=frozenset({"nvidia"}), gpu_mode="nvidia"),))
    assert report.state == "degraded" and "couldn't communicate with the NVIDIA driver" in report.errors["nvidia"]

    def panel(doc_report):
        html = t.templates.env.get_template("_host_live.html").render(
            host={"id": "g1", "interval_s": 5}, live=live_view(doc_report, None), refresh_s=5, now=0.0, proxy=None,
            disk_columns=(), top_processes=[], is_admin=False)
        return BeautifulSoup(html, "html.parser").select_one("#gpus")

    gpus = panel(report.to_dict())
    assert "NVIDIA driver" in gpus.select_one("[data-gpu-error]").text and "No GPU" not in gpus.text
    healthy = build_report("g1", (parse_output(probe, 0, 1.0),))
    assert panel(healthy.to_dict()).select_one(".empty").text == "No GPU"


def test_the_host_page_lists_interfaces_with_units_and_what_counted():
    """Issue 17 item 6: each interface's rates, whether the totals count it, and the rule that chose them."""
    from bs4 import BeautifulSoup
    from collector.host_report import HostReport, Interface

    report = HostReport("h1", "up", 0.0, {}, cpu_pct=1.0, net_rx_bps=2_500_000.0, net_tx_bps=1000.0,
                        net_counting="physical",
                        net_interfaces=(Interface("eth0", 2_500_000.0, 1000.0, True),
                                        Interface("br0", 2_400_000.0, 900.0, False), Interface("lo", None, 0.0, False)))
    html = t.templates.env.get_template("_host_live.html").render(
        host={"id": "h1", "interval_s": 5}, live=live_view(report.to_dict(), None), refresh_s=5, now=0.0, proxy=None,
        disk_columns=(), top_processes=[], is_admin=False)
    panel = BeautifulSoup(html, "html.parser").select_one("#interfaces")
    rows = [[td.text for td in tr.select("td")] for tr in panel.select("tbody tr")]
    assert [r[0] for r in rows] == ["eth0", "br0", "lo"]
    assert [r[3] for r in rows] == ["counted", "not counted", "not counted"]
    assert all(r[1].endswith("/s") or r[1] == t.DASH for r in rows) and all(r[2].endswith("/s") for r in rows)
    assert rows[0][1] == t.templates.env.filters["metric"](2_500_000.0, "bytes/s")
    assert panel.select_one("[data-net-counting]")["data-net-counting"] == "physical"
    assert "physical interfaces" in panel.select_one("[data-net-counting]").text
    empty = live_view(HostReport("h1", "up", 0.0, {}, cpu_pct=1.0).to_dict(), None)
    html = t.templates.env.get_template("_host_live.html").render(
        host={"id": "h1", "interval_s": 5}, live=empty, refresh_s=5, now=0.0, proxy=None,
        disk_columns=(), top_processes=[], is_admin=False)
    assert "need two probes" in BeautifulSoup(html, "html.parser").select_one("#interfaces").text


def test_amd_cards_carry_an_amd_tag_on_the_host_page():
    """AMD cards read from sysfs (issue 17 item 4) sit in the same GPU table, tagged; NVIDIA rows, and rows stored
    before the vendor column, are not."""
    from bs4 import BeautifulSoup
    from collector.reading import parse_output
    from collector.recorder import rows_from_report
    from collector.report import build_report

    probe = (FIXTURES / "probe" / "debian12_vm.txt").read_bytes()
    mixed = probe.replace(b"<<<rc>>>\n", b"<<<nvidia>>>\n" + (FIXTURES / "nvidia" / "a100x2_full.csv").read_bytes()
                          + (FIXTURES / "amdgpu" / "mi210x2.txt").read_bytes() + b"<<<rc>>>\n", 1)
    report = build_report("g1", (parse_output(mixed, 0, 1.0, asked=frozenset({"nvidia"})),))

    def rows(live):
        html = t.templates.env.get_template("_host_live.html").render(
            host={"id": "g1", "interval_s": 5}, live=live, refresh_s=5, now=0.0, proxy=None,
            disk_columns=(), top_processes=[], is_admin=False)
        return BeautifulSoup(html, "html.parser").select("#gpus tbody tr")

    shown = [(r["data-gpu"], r.select_one(".badge").text if r.select_one(".badge") else None)
             for r in rows(live_view(report.to_dict(), None))]
    assert shown == [("0", None), ("1", None), ("100", "AMD"), ("101", "AMD")]
    stored = rows_from_report(report)
    sample = {**stored.sample, "gpus": [{**g, "vendor": None} if g["vendor"] == "nvidia" else g for g in stored.gpus]}
    assert [r.select_one(".badge") is not None for r in rows(live_view(None, sample))] == [False, False, True, True]
