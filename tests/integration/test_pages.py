"""HTML pages (SPEC §5 Web UI) from a real hub: structure checked with an HTML parser, not string matching."""
from __future__ import annotations

import csv
import io
import json
import time

import httpx
import pytest
import yaml
from bs4 import BeautifulSoup

from collector.metrics.catalogue import CATALOGUE
from tests.support.webhub import HOT_GPU_C
from webapp import fleet_view as fv

HTML = {"Accept": "text/html"}


@pytest.fixture(scope="module")
def client(web_hub):
    headers = {**HTML, "Authorization": f"Bearer {web_hub.hub.token}"}  # an admin token (tests/support/hubproc.py)
    with httpx.Client(base_url=web_hub.url, timeout=30, headers=headers) as c:
        yield c


def page(client, path: str, status: int = 200, **kw) -> BeautifulSoup:
    resp = client.get(path, **kw)
    assert resp.status_code == status, resp.text[:2000]
    assert resp.headers["content-type"].startswith("text/html")
    return BeautifulSoup(resp.text, "html.parser")


def htmx(client, path: str, target: str) -> BeautifulSoup:
    return page(client, path, headers={**client.headers, "HX-Request": "true", "HX-Target": target})


def cards(doc: BeautifulSoup) -> dict[str, object]:
    return {c["data-host"]: c for c in doc.select("#fleet article.card")}


# --------------------------------------------------------------------------- every page
@pytest.mark.parametrize("path, current", [("/", "/"), ("/hosts/alpha", "/"), ("/gpus", "/gpus"),
                                           ("/gpus/users", "/gpus"), ("/compare", "/compare"),
                                           ("/history", "/history"), ("/events", "/events"), ("/alerts", "/alerts"),
                                           ("/servers", "/servers")])
def test_every_page_has_the_same_navigation(client, path, current):
    doc = page(client, path)
    links = [a["href"] for a in doc.select("header nav a")]
    assert links == ["/", "/gpus", "/compare", "/history", "/events", "/alerts", "/servers", "/docs"]
    assert [a["href"] for a in doc.select('header nav a[aria-current="page"]')] == [current]
    scripts = [s["src"] for s in doc.select("script[src]")]
    assert any(src.endswith("/static/vendor/htmx-2.0.11.min.js") for src in scripts)


def test_vendored_assets_are_served_with_their_version_in_the_name(client):
    for path in ("/static/vendor/htmx-2.0.11.min.js", "/static/vendor/uPlot-1.6.32.min.js",
                 "/static/vendor/uPlot-1.6.32.min.css", "/static/charts.js", "/static/fleetwatch.js"):
        resp = client.get(path)
        assert resp.status_code == 200 and len(resp.content) > 1000, path


# --------------------------------------------------------------------------- overview
def test_overview_totals_and_one_card_per_host(client):
    doc = page(client, "/")
    totals = {dd["data-total"]: int(dd.text) for dd in doc.select("#fleet dd[data-total]")}
    assert totals["hosts"] == 3 and totals["up"] == 2 and totals["down"] + totals["connecting"] == 1
    assert totals["gpus"] == 2 and totals["failed_services"] == 1
    found = cards(doc)
    assert set(found) == {"alpha", "beta", "ghost"}
    assert found["alpha"]["data-state"] == "up" and found["alpha"]["id"] == "card-alpha"
    assert found["ghost"]["data-state"] in ("down", "unreachable", "connecting")
    assert found["alpha"].select_one("h2 a")["href"] == "/hosts/alpha"


def conditions_of(card) -> list[str]:
    """A card's worst condition, then the others (all of them, from the line's title)."""
    others = card.select_one(".others")
    return [card.select_one(".worst").text] + (others["title"].split(", ") if others else [])


def test_the_hot_gpu_host_is_bad_in_words_and_first_by_default(client):
    doc = page(client, "/")
    found = cards(doc)
    alpha = found["alpha"]  # GPU 0 at 85 °C, broken.service failed (tests/support/webhub.py)
    assert "bad" in alpha["class"] and alpha["data-severity"] == "bad"
    said = conditions_of(alpha)
    assert f"GPU 0 hot {HOT_GPU_C} °C" in said and "failed service: broken" in said
    assert said[0] in ("alert firing: gpu-hot", "failed service: broken")  # bad, listed before a hot GPU
    assert "GPU 1 hot" not in " ".join(said)
    beta = found["beta"]  # up, no GPUs, nginx running: healthy
    assert beta["data-severity"] == "ok" and "ok" in beta["class"] and beta.select_one(".worst") is None
    assert doc.select_one("#fleet")["data-sort"] == "state"  # problems first unless asked otherwise
    order = list(found)
    assert order.index("alpha") < order.index("beta") and order.index("ghost") < order.index("beta")
    assert order[:2] == ["alpha", "ghost"] or found["ghost"]["data-severity"] != "bad"  # ties by name


def test_overview_card_shows_meters_and_each_gpu_without_hovering(client):
    alpha = cards(page(client, "/"))["alpha"]
    for metric in ("cpu", "mem", "disk"):
        meter = alpha.select_one(f'.meter[data-metric="{metric}"]')
        assert meter.select_one(".val").text.endswith(" %"), meter
        assert meter.select_one("b")["style"].startswith("--v:")
    grid = [c.text for c in alpha.select(".gpus .gg > *")]
    assert grid[:4] == ["GPU", "util %", "mem %", "°C"]
    # tests/fakebin/nvidia-smi: card 0 at 37 %, 20480 of 81920 MiB, hot; card 1 idle
    assert grid[4:8] == ["0", "37", "25", str(HOT_GPU_C)] and grid[8] == "1"
    assert [i.text for i in alpha.select(".gg .hot")] == [str(HOT_GPU_C)]  # red: card 0 alone
    assert alpha.select_one(".gpus > p").text.startswith("2 GPUs")
    seen = alpha.select_one("footer time[data-ago]")
    assert time.time() - float(seen["data-ago"]) < 30 and seen.text.endswith(" ago")


def test_overview_refresh_returns_only_the_fleet_section(client):
    doc = htmx(client, "/", "fleet")
    assert doc.find("html") is None and doc.find("nav") is None
    root = doc.find(True)
    assert root.name == "section" and root["id"] == "fleet"
    # polls only while its live stream is not open (fleetwatch.js; tests/integration/test_stream.py)
    assert root["hx-trigger"] == "every 5s [fleetwatch.polling()]" and root["hx-get"] == "/"
    assert root.select_one("[sse-connect]")["sse-connect"].startswith("/stream/overview?")
    assert set(cards(doc)) == {"alpha", "beta", "ghost"}
    assert doc.select_one("#fleet-sort") is None  # the menu comes along only after a sort link


def test_overview_filters(client):
    assert set(cards(page(client, "/?q=alp"))) == {"alpha"}
    assert set(cards(page(client, "/?q=rack=a1"))) == {"alpha"}
    assert set(cards(page(client, "/?state=problems"))) == {"alpha", "ghost"}  # failed service, unreachable
    assert set(cards(page(client, "/?state=up"))) == {"alpha", "beta"}
    assert page(client, "/?q=nothing-like-this").select_one("#fleet .empty").text.startswith("No host matches")
    assert list(cards(page(client, "/?sort=name"))) == ["alpha", "beta", "ghost"]
    assert list(cards(page(client, "/?sort=-name"))) == ["ghost", "beta", "alpha"]


@pytest.mark.parametrize("query", ["sort=bogus", "view=bogus", "sort=-", "sort=%00", "view=table&sort=cpu%20x",
                                   "sort=state&sort=name&view=cards&view=table"])
def test_overview_bad_sort_or_view_is_a_notice_not_an_error(client, query):
    doc = page(client, f"/?{query}")
    notices = [n.text for n in doc.select("#fleet .notice[role=alert]")]
    if "bogus" in query or "%" in query or query.endswith("-"):
        assert len(notices) == 1 and notices[0].startswith("Unknown "), notices
    assert doc.select("#fleet article.card, #fleet-rows tbody tr")


def table(doc: BeautifulSoup) -> list[dict[str, str]]:
    return [{"host": tr["data-host"], "severity": tr["data-severity"],
             **{td["data-col"]: td.text.strip() for td in tr.select("td[data-col]")}}
            for tr in doc.select("#fleet-rows tbody tr")]


def test_table_view_a_row_per_host_with_units(client):
    doc = page(client, "/?view=table")
    assert doc.select_one("#fleet")["data-view"] == "table" and doc.select_one("#fleet article.card") is None
    assert doc.select_one('#fleet-view input[value="table"]').has_attr("checked")
    rows = {r["host"]: r for r in table(doc)}
    assert set(rows) == {"alpha", "beta", "ghost"}
    assert doc.select_one("#fleet [data-rows]").text == "3 of 3 hosts, problems first."
    narrowed = page(client, "/?view=table&q=rack=a1&sort=-cpu").select_one("#fleet [data-rows]")
    assert narrowed.text == "1 of 3 hosts, busiest CPU first, reversed."
    alpha, beta = rows["alpha"], rows["beta"]
    assert alpha["severity"] == "bad" and alpha["gpus"] == "2" and alpha["gpu_temp"] == f"{HOT_GPU_C} °C"
    assert alpha["gpu_util"].endswith(" %") and alpha["cpu"].endswith(" %") and alpha["mem"].endswith(" %")
    assert alpha["disk"].endswith(" %") and alpha["disk"].startswith("/")
    assert alpha["net_in"].endswith("/s") and alpha["net_out"].endswith("/s")
    assert beta["gpus"] == beta["gpu_util"] == beta["gpu_temp"] == "–"  # gpu: off: nothing, not 0
    assert rows["ghost"]["cpu"] == "–"
    heads = [a["data-sort-link"] for a in doc.select("#fleet-rows thead a")]
    assert heads == list(fv.SORT_COLUMNS)
    assert doc.select_one('#fleet-rows th[aria-sort="ascending"] a')["data-sort-link"] == "state"


def _sorted_as(rows: list[dict[str, str]], column: str, descending: bool) -> bool:
    """Whether the rows' shown values are in order (numbers by value; dashes and "never" last)."""
    scale = {"%": 1, "°C": 1, "B/s": 1, "kB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9}

    def value(text: str) -> float:  # "/data 25 %", "85 °C", "2.5 MB/s", "2"
        words = text.split()
        return float(words[-2]) * scale[words[-1]] if len(words) >= 2 else float(text)
    known = [value(r[column]) for r in rows if r[column] not in ("–", "never")]
    missing = [i for i, r in enumerate(rows) if r[column] in ("–", "never")]
    assert missing == list(range(len(rows) - len(missing), len(rows))), (column, rows)
    return known == sorted(known, reverse=descending)


@pytest.mark.parametrize("column", [c for c in fv.SORT_COLUMNS if c not in ("state", "name", "labels", "seen")])
def test_table_sorts_by_each_number_column_both_ways(client, column):
    descending = fv.SORT_COLUMNS[column][2] == "descending"
    doc = page(client, f"/?view=table&sort={column}")
    assert doc.select_one(f'#fleet-rows th[aria-sort="{"descending" if descending else "ascending"}"] a')[
        "data-sort-link"] == column
    assert _sorted_as(table(doc), column, descending)
    flipped = page(client, f"/?view=table&sort=-{column}")
    assert _sorted_as(table(flipped), column, not descending)
    link = doc.select_one(f'#sort-{column}')["href"]
    assert f"sort=-{column}" in link and "view=table" in link  # clicking the active heading flips the order


def test_table_sorts_by_state_name_labels_and_last_seen_and_filters(client):
    hosts = lambda q: [r["host"] for r in table(page(client, f"/?view=table&{q}"))]  # noqa: E731
    assert hosts("sort=name") == ["alpha", "beta", "ghost"] and hosts("sort=-name") == ["ghost", "beta", "alpha"]
    assert hosts("sort=labels")[0] == "alpha"  # the only host with labels; the others after, by name
    assert hosts("sort=state")[-1] == "beta"
    assert hosts("sort=seen")[-1] == "ghost"  # never seen: last
    assert hosts("q=rack=a1") == ["alpha"] and hosts("state=problems&sort=name") == ["alpha", "ghost"]
    assert page(client, "/?view=table&q=nothing-like-this").select_one("#fleet .empty") is not None


def test_table_sort_link_brings_the_sort_menu_along(client):
    resp = client.get("/?view=table&sort=cpu", headers={**client.headers, "HX-Request": "true",
                                                         "HX-Target": "fleet", "HX-Trigger": "sort-cpu"})
    doc = BeautifulSoup(resp.text, "html.parser")
    menu = doc.select_one("select#fleet-sort[hx-swap-oob]")
    assert menu.select_one("option[selected]")["value"] == "cpu"
    assert doc.select_one("#fleet")["data-view"] == "table"


# --------------------------------------------------------------------------- host page
def test_host_page_system_info_and_state(client):
    doc = page(client, "/hosts/alpha")
    facts = {dd["data-fact"]: dd.text.strip() for dd in doc.select("dd[data-fact]")}
    assert facts["hostname"] not in ("", "–") and facts["kernel"] not in ("", "–")
    assert int(facts["cores"]) >= 1 and facts["memory"].endswith(" GiB")
    assert facts["retries"] == "0" and facts["last-error"] == "none"


def test_host_page_live_tables(client):
    doc = page(client, "/hosts/alpha")
    tiles = {t["data-tile"]: t.select_one(".value").text for t in doc.select("#host-live .tile")}
    assert tiles["cpu"].endswith(" %") and tiles["mem"].endswith((" MiB", " GiB")) and tiles["disk-io"].endswith("B/s")
    # the GPU summary (tests/fakebin/nvidia-smi: 37 % and 0 %, 20480 of 81920 MiB on card 0, card 0 hot)
    gpus = doc.select_one('#host-live .tile[data-tile="gpus"]')
    assert gpus.select_one(".value").text == "18.5 %"
    assert gpus.select(".label")[1].text == f"fullest memory 25.0 % · hottest {HOT_GPU_C} °C · not answering 0"
    rows = doc.select("#gpus tbody tr")
    assert [r["data-gpu"] for r in rows] == ["0", "1"]
    assert [r.select_one("[data-gpu-clock]").text for r in rows] == ["1410 MHz · P0", "210 MHz · P0"]
    hot = rows[0].select_one("td.temp")
    assert "hot" in hot["class"] and hot.text.strip() == f"{HOT_GPU_C} °C"
    assert "hot" not in rows[1].select_one("td.temp")["class"]
    units = {r["data-unit"]: r.select_one(".badge") for r in doc.select("#services tbody tr")}
    assert set(units) == {"nginx.service", "broken.service"}
    assert "bad" in units["broken.service"]["class"] and "ok" in units["nginx.service"]["class"]
    assert doc.select("#disks tbody tr"), "the root filesystem is watched by default"


def test_host_page_disk_table_shows_available_and_exact_used_pct(client):
    doc = page(client, "/hosts/alpha")
    headers = [th.text.strip() for th in doc.select("#disks thead th")]
    assert headers[:2] == ["Mount", "Type"] and headers[2:] == [m.label for m in CATALOGUE.table("disk")]
    assert "Available" in headers, "the space users can still have, beside Used and Size"
    rows = {r.select_one("td").text: [td.text.strip() for td in r.select("td")] for r in doc.select("#disks tbody tr")}
    root = dict(zip(headers, rows["/"]))
    assert root["Available"].endswith(("KiB", "MiB", "GiB", "TiB")) and root["Used %"].endswith(" %")
    latest = client.get("/api/servers/alpha/latest", headers={"Accept": "application/json"}).json()
    disk = next(d for d in latest["sample"]["disks"] if d["mount"] == "/")
    used, avail = disk["used_bytes"], disk["avail_bytes"]
    assert disk["used_pct"] == round(100 * used / (used + avail), 1)  # df's Use% exact, not rounded up


def test_host_without_gpus_says_so(client):
    assert cards(page(client, "/"))["beta"].select_one(".gpus") is None
    doc = page(client, "/hosts/beta")
    assert doc.select_one("#gpus .empty").text.strip() == "No GPU" and doc.select_one("#gpus table") is None
    assert doc.select_one('.tile[data-tile="gpus"]') is None and doc.select_one('.tile[data-tile="cpu"]')
    assert not [c["id"] for c in doc.select(".chart[data-chart]") if c["id"].startswith("chart-gpu")]


def test_host_page_charts_name_series_that_answer(client):
    doc = page(client, "/hosts/alpha")
    charts = {c["id"]: json.loads(c["data-chart"]) for c in doc.select(".chart[data-chart]")}
    # the catalogue's charts (collector/metrics/catalogue.py), and one line per card for a host with GPUs
    gpu_charts = {"chart-gpu-util", "chart-gpu-mem", "chart-gpu-temp", "chart-gpu-power"}  # a line per card each
    assert set(charts) == {f"chart-{c.id}" for c in CATALOGUE.charts} | gpu_charts
    # power against the cards' limit (the fake A100s: 400 W)
    assert charts["chart-gpu-power"]["max"] == 400 and "limit 400 W" in charts["chart-gpu-power"]["title"]
    assert charts["chart-gpu-mem"]["max"] == 100 and charts["chart-gpu-temp"]["unit"] == "°C"
    assert {"chart-cpu", "chart-mem", "chart-disk-io", "chart-net"} <= set(charts)
    ranges = [a["data-range"] for a in doc.select(".ranges a")]
    assert ranges == ["1h", "6h", "24h", "7d", "30d"]
    for chart in charts.values():
        for source in chart["sources"]:
            resp = client.get(source["url"], headers={"Accept": "application/json"})
            assert resp.status_code == 200, (source, resp.text)
            body = resp.json()
            assert (body["cards"] if source["kind"] == "gpus" else body["points"]), source


def test_host_page_live_refresh_and_unknown_host(client):
    doc = htmx(client, "/hosts/alpha", "host-live")
    root = doc.find(True)
    assert root["id"] == "host-live" and doc.find("nav") is None
    missing = page(client, "/hosts/no-such-host", status=404)
    assert "not in the inventory" in missing.select_one("[role=alert]").text
    assert client.get("/api/servers/no-such-host", headers={"Accept": "application/json"}).json()["detail"]


def test_unreachable_host_page_shows_the_error(client):
    doc = page(client, "/hosts/ghost")
    assert "refused" in doc.select_one('dd[data-fact="last-error"]').text
    assert int(doc.select_one('dd[data-fact="retries"]').text) >= 1


# --------------------------------------------------------------------------- compare
def test_compare_table_has_average_and_peak_per_host(client):
    doc = page(client, "/compare?servers=alpha&servers=beta&metric=cpu_pct&range=1h")
    rows = {r["data-host"]: [td.text.strip() for td in r.select("td")] for r in doc.select("#compare-table tbody tr")}
    assert set(rows) == {"alpha", "beta"}
    for cells in rows.values():
        assert cells[1].endswith(" %") and cells[2].endswith(" %") and int(cells[3]) > 0
        assert float(cells[2].split()[0]) >= float(cells[1].split()[0])
    chart = json.loads(doc.select_one("#chart-compare")["data-chart"])
    assert chart["sources"][0]["kind"] == "compare"
    assert [o["value"] for o in doc.select('select[name="servers"] option[selected]')] == ["alpha", "beta"]


def test_compare_rates_in_a_unit_that_fits_them(client):
    doc = page(client, "/compare?servers=alpha&metric=net_rx_bps&range=24h")
    chart = json.loads(doc.select_one("#chart-compare")["data-chart"])
    assert chart["unit"] == "bytes/s" and "scale" not in chart  # charts.js scales it
    cells = [td.text.strip() for td in doc.select('#compare-table tr[data-host="alpha"] td')]
    assert all(c.split()[-1] in ("B/s", "kB/s", "MB/s", "GB/s") for c in cells[1:3]), cells


def test_compare_bad_input_is_explained(client):
    assert "unknown metric" in page(client, "/compare?servers=alpha&metric=nope").select_one("[role=alert]").text
    many = "&".join(f"servers=h{i}" for i in range(25))
    assert "at most 20" in page(client, f"/compare?{many}").select_one("[role=alert]").text


# --------------------------------------------------------------------------- history
def _history(client, query: str = "") -> tuple[int, list]:
    doc = page(client, "/history" + query)
    table = doc.select_one("#history-table")
    return int(table["data-total"]), table.select("#history-rows tbody tr")


def test_history_filter_narrows_rows_and_pages_hold_20(client):
    total_all, rows = _history(client)
    assert len(rows) == 20
    total_alpha, rows = _history(client, "?servers=alpha")
    assert 0 < total_alpha < total_all
    assert {r["data-host"] for r in rows} == {"alpha"}
    total_day, _ = _history(client, "?servers=alpha&range=24h")
    assert total_day < total_alpha


def test_history_sort_and_paging(client):
    doc = page(client, "/history?servers=beta&sort=cpu_pct_max&page=2")
    col = [th.get_text(strip=True) for th in doc.select("#history-rows thead th")].index("CPU max ▲")
    values = [float(r.select("td")[col].text.split()[0]) for r in doc.select("#history-rows tbody tr")]
    assert len(values) == 20 and values == sorted(values)
    assert doc.select_one('.pager a[rel="prev"]') is not None


def test_history_csv_link_has_the_filtered_rows(client):
    doc = page(client, "/history?servers=alpha&range=24h")
    total = int(doc.select_one("#history-table")["data-total"])
    href = doc.select_one("#csv-download")["href"]
    resp = client.get(href)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == total and {r["host_id"] for r in rows} == {"alpha"}


def test_empty_history_says_when_the_first_row_of_a_new_host_comes(client):
    hour = time.time() // 3600 * 3600
    doc = page(client, "/history?servers=ghost")  # never answered: no hourly row at all
    note = doc.select_one("#history-collecting")
    assert "Collecting" in note.text and doc.select_one("#history-rows") is None
    first, complete = (float(t["data-local"]) for t in note.select("time[data-local]"))
    assert first in (hour, hour + 3600) and complete == first + 3600
    # hosts with rows, a range before any: just empty, nothing is said to be coming
    doc = page(client, "/history?servers=alpha&from=2020-01-01&to=2020-01-02")
    assert doc.select_one("#history-collecting") is None and "No hourly rows" in doc.select_one(".empty").text


def test_history_bad_input_is_explained(client):
    doc = page(client, "/history?sort=nope")
    assert "unknown sort column" in doc.select_one("[role=alert]").text
    doc = page(client, "/history?from=31-12-2026")
    assert "YYYY-MM-DD" in doc.select_one("[role=alert]").text


# --------------------------------------------------------------------------- events
def test_events_newest_first_50_a_page_and_filters(client):
    doc = page(client, "/events")
    rows = doc.select("#event-rows tbody tr")
    assert len(rows) == 50
    times = [float(r.select_one("time")["data-local"]) for r in rows]
    assert times == sorted(times, reverse=True)
    doc = page(client, "/events?type=gpu_hot")
    assert {r["data-type"] for r in doc.select("#event-rows tbody tr")} == {"gpu_hot"}
    doc = page(client, "/events?server_id=beta&type=host_down")
    assert {(r["data-host"], r["data-type"]) for r in doc.select("#event-rows tbody tr")} == {("beta", "host_down")}
    second = htmx(client, "/events?page=2", "events-table")
    assert second.find(True)["id"] == "events-table" and second.select("#event-rows tbody tr")
    assert "ignored" in page(client, "/events?type=bogus").select_one("[role=alert]").text


# --------------------------------------------------------------------------- servers
def _inventory_ids(web_hub) -> list[str]:
    return [h["id"] for h in yaml.safe_load(web_hub.inventory.read_text())["hosts"]]


def test_servers_add_edit_delete_through_forms(client, web_hub):
    before = web_hub.inventory.read_text()
    resp = client.post("/servers", data={"id": "form-host", "address": "127.0.0.1", "port": "70000"})
    assert resp.status_code == 422
    doc = BeautifulSoup(resp.text, "html.parser")
    assert "65535" in doc.select_one('[data-error-for="port"]').text
    assert doc.select_one("#f-port")["aria-invalid"] == "true" and doc.select_one("#f-id")["value"] == "form-host"
    assert web_hub.inventory.read_text() == before, "a rejected form writes nothing"

    resp = client.post("/servers", data={"id": "form-host", "address": "127.0.0.1", "port": "2222",
                                         "services_extra": "nginx.service", "labels": "rack=b2"})
    assert resp.status_code == 303 and resp.headers["location"] == "/servers?added=form-host"
    host = next(h for h in yaml.safe_load(web_hub.inventory.read_text())["hosts"] if h["id"] == "form-host")
    assert host == {"id": "form-host", "address": "127.0.0.1", "port": 2222, "services": ["nginx.service"],
                    "labels": {"rack": "b2"}}
    assert web_hub.inventory.read_text().startswith("# test fleet"), "comments survive"
    try:
        doc = page(client, "/servers?added=form-host")
        assert "Added form-host" in doc.select_one("[role=status]").text
        assert "form-host" in [r["data-host"] for r in doc.select("#server-rows tbody tr")]

        resp = client.post("/servers", data={"id": "form-host", "address": "127.0.0.2"})
        assert resp.status_code == 422
        assert "form-host" in BeautifulSoup(resp.text, "html.parser").select_one('[data-error-for="id"]').text

        edit = page(client, "/servers/form-host/edit")
        assert edit.select_one("#f-port")["value"] == "2222"
        assert [i["value"] for i in edit.select('#watched-services input[checked]')] == ["nginx.service"]
        resp = client.post("/servers/form-host", data={"address": "127.0.0.1", "port": "", "services": ["nginx.service"],
                                                       "services_extra": "cron.service", "labels": ""})
        assert resp.status_code == 303
        host = next(h for h in yaml.safe_load(web_hub.inventory.read_text())["hosts"] if h["id"] == "form-host")
        assert host == {"id": "form-host", "address": "127.0.0.1", "services": ["nginx.service", "cron.service"]}

        resp = client.post("/servers/form-host", data={"address": "127.0.0.1", "services_extra": "bad unit;rm"})
        assert resp.status_code == 422
        assert BeautifulSoup(resp.text, "html.parser").select_one('[data-error-for="services"]')
    finally:
        resp = client.post("/servers/form-host/delete")
    assert resp.status_code == 303 and "form-host" not in _inventory_ids(web_hub)


def _field_errors(resp) -> dict[str, str]:
    """{field: message} beside the fields, each tied to its input (aria-invalid, aria-describedby)."""
    assert resp.status_code == 422, resp.text[:2000]
    doc = BeautifulSoup(resp.text, "html.parser")
    out = {}
    for err in doc.select("[data-error-for]"):
        name = err["data-error-for"]
        described = doc.select(f'[aria-describedby="{err["id"]}"]')
        assert len(described) == 1 and described[0]["aria-invalid"] == "true", name
        out[name] = err.text
    summary = doc.select("#form-errors [data-summary-for]")
    assert [li["data-summary-for"] for li in summary] == list(out), "the summary lists every field, in order"
    for li in summary:
        assert doc.select_one(li.a["href"]) is not None, li  # the link reaches the field
    return out


def test_the_host_form_reports_every_mistake_at_once(client, web_hub):
    """Issue 18 item 5: not the port first and the id and address after it is fixed."""
    before = web_hub.inventory.read_text()
    resp = client.post("/servers", data={"id": "bad id!", "address": "bad addr!", "port": "70000",
                                         "identity_file": "/etc/passwd", "interval": "fast", "labels": "novalue"})
    errors = _field_errors(resp)
    assert list(errors) == ["id", "address", "port", "identity_file", "interval", "labels"], errors
    assert "65535" in errors["port"] and "bad id!" in errors["id"] and "bad addr!" in errors["address"]
    assert "outside" in errors["identity_file"] and "fast" in errors["interval"]
    assert web_hub.inventory.read_text() == before, "a rejected form writes nothing"

    resp = client.post("/servers/alpha", data={"address": "", "port": "0", "timeout": "-1s",
                                               "services_extra": "bad unit;rm"})
    errors = _field_errors(resp)
    assert list(errors) == ["address", "port", "timeout", "services"], errors
    assert web_hub.inventory.read_text() == before


def _state_of(client, host_id: str) -> str | None:
    return client.get(f"/api/servers/{host_id}", headers={"Accept": "application/json"}).json().get("state")


def test_a_host_the_hub_cannot_log_in_to_says_what_to_do(client, web_hub):
    """Issue 18 item 5: added with the default key, a host that refuses it (auth_failed) or whose host key
    is unknown (host_key_mismatch) says the fix on its card and its host page."""
    from collector.hostkeys import public_key_line

    sshd = web_hub.sshd
    hosts = ("locked-out", "unknown-key")
    try:  # the default key, refused by the host (or missing here)
        resp = client.post("/servers", data={"id": "locked-out", "address": "127.0.0.1", "port": str(sshd.port),
                                             "host_key": public_key_line(sshd.host_key), "user": "nobody-here"})
        assert resp.status_code == 303, resp.text[:2000]
        # a good key, but the host's key is in no known_hosts (written by hand: the form keeps key files in ~/.ssh)
        empty = web_hub.tmp / "empty_known_hosts"
        empty.write_text("")
        doc = yaml.safe_load(web_hub.inventory.read_text())
        doc["hosts"].append({"id": "unknown-key", "address": "127.0.0.1", "port": sshd.port, "user": sshd.user,
                             "identity_file": str(sshd.client_key_path), "known_hosts": str(empty)})
        web_hub.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
        want = {"locked-out": ("auth_failed", "ssh-copy-id -i"), "unknown-key": ("host_key_mismatch",
                                                                                 "fleetwatch hosts trust unknown-key")}
        deadline = time.monotonic() + 30
        while {h: _state_of(client, h) for h in want} != {h: w[0] for h, w in want.items()}:
            assert time.monotonic() < deadline, {h: _state_of(client, h) for h in want}
            time.sleep(0.3)
        overview = cards(page(client, "/"))
        for host_id, (_state, needle) in want.items():
            hint = overview[host_id].select_one("[data-hint=access]")
            assert hint is not None and needle in hint.text, overview[host_id]
            hint = page(client, f"/hosts/{host_id}").select_one("#state-info [data-hint=access]")
            assert hint is not None and needle in hint.text
        assert "nobody-here@127.0.0.1" in overview["locked-out"].select_one("[data-hint=access]").text
        assert overview["alpha"].select_one("[data-hint=access]") is None  # a host that is up: no hint
    finally:
        for host_id in hosts:
            client.post(f"/servers/{host_id}/delete")
    assert not set(hosts) & set(_inventory_ids(web_hub))


def test_discover_services_offers_the_hosts_units(client):
    doc = htmx(client, "/servers/alpha/discover", "watched-services")
    boxes = {i["value"]: i.has_attr("checked") for i in doc.select('input[type=checkbox][name="services"]')}
    assert boxes["nginx.service"] and boxes["broken.service"]
    assert boxes["ssh.service"] is False and boxes["cron.service"] is False
    doc = htmx(client, "/servers/ghost/discover", "watched-services")
    assert "cannot reach ghost" in doc.select_one("[role=alert]").text


def test_host_page_gpu_table_is_one_line_per_card_with_units(client):
    """Issue 17 item 1: power against its limit, fan, clock, PCIe link and ECC counts, no cell wrapped."""
    doc = page(client, "/hosts/alpha")
    table = doc.select_one("#gpus table")
    assert "nowrap" in table["class"]
    headers = [th.text for th in table.select("thead th")]
    assert headers == ["#", "Name", "Util", "Memory", "Temperature", "Power / limit", "Fan", "Clock", "PCIe", "ECC"]
    rows = {r["data-gpu"]: r for r in table.select("tbody tr")}
    assert rows["0"].select_one("[data-gpu-power]").text.strip() == "92 W / 400 W"
    assert rows["1"].select_one("[data-gpu-power]").text.strip() == "– / 400 W"  # [N/A] draw: a dash, not 0
    assert rows["0"].select_one("[data-gpu-pcie]").text.strip() == "Gen4 x16"
    assert rows["1"].select_one("[data-gpu-ecc]").text.strip() == "3 / 0"
    assert rows["0"].select_one("[data-gpu-memory]").text.strip().endswith("%")
