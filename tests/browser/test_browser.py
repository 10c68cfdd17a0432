"""The web UI in a real browser: Debian's Chromium through Playwright, against a hub watching real sshd hosts.

Every test saves a screenshot of its page under test-artifacts/screenshots/.
"""
from __future__ import annotations

import csv
from contextlib import contextmanager
import datetime as dt
import io
import re
from zoneinfo import ZoneInfo

import time

import httpx
import pytest
import yaml
from playwright.sync_api import expect

from tests.support.browser import screenshot_path
from tests.support.webhub import HOT_GPU_C, USERS

TZ = "Asia/Tokyo"  # not the hub's zone (UTC): times must follow the browser


@contextmanager
def logged_in(browser, base_url: str, name: str = "ada"):
    """A page of a fresh browser context, logged in as `name`; no JavaScript error may happen on it."""
    context = browser.new_context(base_url=base_url, timezone_id=TZ, viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(pg, name)
        yield pg
    finally:
        # a route handler still fetching when the context closes must not fail the next test
        pg.unroute_all(behavior="ignoreErrors")
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(browser, web_hub):
    with logged_in(browser, web_hub.url) as pg:
        yield pg


def log_in(pg, name: str, next_path: str = "/") -> None:
    pg.goto(f"/login?next={next_path}")
    pg.fill("#f-name", name)
    pg.fill("#f-password", USERS[name][1])
    pg.click("#login-form button[type=submit]")
    expect(pg.locator(".who")).to_have_attribute("data-user", name)


def test_login_is_required_and_returns_to_the_page_asked_for(browser, web_hub):
    context = browser.new_context(base_url=web_hub.url)
    pg = context.new_page()
    try:
        pg.goto("/history?range=24h")
        assert "/login?next=" in pg.url
        pg.fill("#f-name", "ada")
        pg.fill("#f-password", "wrong password")
        pg.click("#login-form button[type=submit]")
        expect(pg.locator("#login-problem")).to_have_text("Wrong name or password.")
        pg.screenshot(path=screenshot_path("login"), full_page=True)
        pg.fill("#f-password", USERS["ada"][1])
        pg.click("#login-form button[type=submit]")
        expect(pg.locator("#history-table")).to_have_count(1)
        assert pg.url.endswith("/history?range=24h")
        cookie = next(c for c in context.cookies() if c["name"] == "fleetwatch_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
        pg.click(".logout button")
        assert pg.url.endswith("/login")
        pg.goto("/")
        assert "/login" in pg.url, "the session ended at logout"
    finally:
        context.close()


def test_a_viewer_sees_no_edit_controls(browser, web_hub):
    context = browser.new_context(base_url=web_hub.url)
    pg = context.new_page()
    try:
        log_in(pg, "vic", "/servers")
        expect(pg.locator("#viewer-note")).to_be_visible()
        expect(pg.locator("#add-form")).to_have_count(0)
        expect(pg.locator("#server-rows a.button")).to_have_count(0)
        pg.goto("/alerts")
        expect(pg.locator('#alert-rows tr[data-rule="gpu-hot"][data-state="firing"]')).to_have_count(1,
                                                                                                    timeout=15_000)
        expect(pg.locator("#alert-rows button")).to_have_count(0)
        pg.goto("/hosts/alpha")
        expect(pg.locator("#host-live")).to_have_count(1)
        expect(pg.locator('a[href$="/edit"], [hx-post]')).to_have_count(0)
        response = pg.goto("/servers/alpha/edit")  # typed in by hand: told why, not shown the form
        assert response.status == 403
        expect(pg.locator("main [role=alert]")).to_contain_text("viewers may look, only admins change hosts")
        expect(pg.locator("#edit-form, #delete-form")).to_have_count(0)
        pg.screenshot(path=screenshot_path("viewer-edit-refused"), full_page=True)
    finally:
        context.close()


def test_overview_lists_hosts_and_updates_without_reload(page):
    page.set_viewport_size({"width": 700, "height": 400})  # small, so the page scrolls
    page.goto("/")
    expect(page.locator("#fleet article.card")).to_have_count(3)
    for host in ("alpha", "beta", "ghost"):
        expect(page.locator(f'article[data-host="{host}"] h2 a')).to_have_text(host)
    page.screenshot(path=screenshot_path("overview"), full_page=True)
    page.evaluate("window.__sameDocument = true; window.scrollTo(0, 150)")
    seen = page.locator('article[data-host="alpha"] footer time').get_attribute("data-ago")
    # the next poll of alpha (every 5 s) must reach the page by itself (pushed: tests/browser/test_live_stream.py)
    expect(page.locator('article[data-host="alpha"] footer time')).not_to_have_attribute("data-ago", seen,
                                                                                          timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
    assert page.evaluate("window.scrollY") == 150, "the refresh lost the scroll position"
    assert page.locator('article[data-host="alpha"] footer time').inner_text().endswith(" ago")


def _quiet_network(route):
    """alpha's network series as the API answers them, with small rates: received 1.5-2 kB/s, sent 300 B/s."""
    response = route.fetch()
    body = response.json()
    rx = "net_rx_bps" in route.request.url
    body["points"] = [[p[0], 1500.0 + 50 * (i % 10) if rx else 300.0, None] for i, p in enumerate(body["points"])]
    route.fulfill(response=response, json=body)


def legend(chart) -> list[str]:
    """The values a chart's legend shows: the time first, then one per line."""
    return chart.locator(".u-legend .u-value").all_inner_texts()


def legend_time(text: str) -> float:
    """A legend's time (Intl's en-US date and 24-hour time, "05/31/2026, 14:03:22") in the browser's zone."""
    return dt.datetime.strptime(text, "%m/%d/%Y, %H:%M:%S").replace(tzinfo=ZoneInfo(TZ)).timestamp()


def test_host_page_draws_charts_with_points_and_a_hot_gpu_in_red(page):
    page.route(re.compile(r"/api/servers/alpha/timeseries\?metric=net_(rx|tx)_bps"), _quiet_network)
    page.goto("/hosts/alpha")
    for chart in ("cpu", "mem", "disk-io", "net", "gpu-util", "gpu-mem", "gpu-temp", "gpu-power"):
        box = page.locator(f"#chart-{chart}")
        expect(box).to_have_attribute("data-state", "drawn", timeout=15_000)
        assert int(box.get_attribute("data-points")) > 10, chart
        expect(box.locator("canvas")).to_have_count(1)
    assert page.locator("#chart-gpu-util").get_attribute("data-series") == "2"  # one line per card
    assert page.locator("#chart-disk-io").get_attribute("data-series") == "2"  # read and write
    hot = page.locator('#gpus tr[data-gpu="0"] td.temp')
    expect(hot).to_have_text(f"{HOT_GPU_C} °C")
    assert hot.evaluate("el => getComputedStyle(el).color") == "rgb(211, 47, 47)"
    cool = page.locator('#gpus tr[data-gpu="1"] td.temp')
    assert cool.evaluate("el => getComputedStyle(el).color") != "rgb(211, 47, 47)"
    cpu, net = page.locator("#chart-cpu"), page.locator("#chart-net")
    # charts people read: big, 24-hour times, the latest values without hovering, units that fit the values
    assert cpu.bounding_box()["height"] >= 300 and cpu.bounding_box()["width"] >= 500
    labels = cpu.get_attribute("data-x-labels").split("|")
    assert len(labels) >= 3 and all(re.fullmatch(r"\d\d:\d\d( .+)?", x) for x in labels), labels
    when, *values = legend(cpu)  # the newest point's time (en-US, the browser's default locale), 24-hour
    assert abs(legend_time(when) - time.time()) < 120, when
    assert values and all(re.fullmatch(r"[\d.]+ %", v) for v in values), values
    expect(net).to_have_attribute("data-y-unit", "kB/s")  # not "0.00 MB/s"
    rx, tx = legend(net)[1:]
    assert rx.endswith(" kB/s") and 1.5 <= float(rx.split()[0]) <= 1.95 and tx == "300 B/s", (rx, tx)
    assert page.evaluate("['bytes/s', 'bytes'].flatMap(u => [999, 1500, 2.5e6].map(v => fleetwatchCharts.format(u, v)))"
                         ) == ["999 B/s", "1.5 kB/s", "2.5 MB/s", "999 B", "1.46 KiB", "2.38 MiB"]
    page.hover("#chart-cpu .u-over", position={"x": 30, "y": 100})  # hovering shows that moment's values ...
    expect(cpu.locator(".u-legend .u-value").first).not_to_have_text(when)
    assert time.time() - legend_time(legend(cpu)[0]) > 1800
    page.mouse.move(5, 5)  # ... and leaving goes back to the latest
    expect(cpu.locator(".u-legend .u-value").nth(1)).not_to_have_text("–")
    assert abs(legend_time(legend(cpu)[0]) - time.time()) < 120
    # the host's events on its charts: the seeded gpu_hot of 10 minutes before the hub started is in the hour
    expect(cpu).to_have_attribute("data-marks", re.compile(r"^[1-9]\d*$"))
    mark = cpu.locator('.chart-mark[data-type="gpu_hot"][title$=": prefilled event 0"]')
    expect(mark).to_have_count(1)
    left = float(mark.evaluate("el => parseFloat(el.style.left)"))
    assert 0 < left < cpu.locator(".u-over").bounding_box()["width"]
    # and its alerts: gpu-hot fires at alpha's first poll (tests/support/webhub.py)
    expect(cpu.locator('.chart-mark[data-type="alert_firing"][title*="alert gpu-hot (0) fired"]')).to_have_count(1)
    page.screenshot(path=screenshot_path("host"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: each chart across the whole width
    page.wait_for_function("""() => { const c = document.querySelector('#chart-cpu canvas').getBoundingClientRect();
                                      return c.width <= 390 && c.width >= 300; }""")
    cpu.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("host-phone-chart"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.click('.ranges a[data-range="24h"]')  # range buttons redraw without leaving the page
    expect(page.locator("#chart-cpu")).to_have_attribute("data-range-s", "86400")
    expect(page.locator("#chart-cpu")).to_have_attribute("data-state", "drawn", timeout=15_000)
    assert page.url.endswith("range=24h")


def test_a_host_with_no_samples_yet_says_its_charts_and_history_are_collecting(page):
    page.goto("/hosts/ghost?range=7d")  # never answered: no samples, no hourly rows
    cpu = page.locator("#chart-cpu")
    expect(cpu).to_have_attribute("data-state", "empty", timeout=15_000)
    hours = {time.time() // 3600 * 3600}  # the hour in progress (an hour may begin while the page loads)
    expect(cpu.locator(".nodata")).to_contain_text("Collecting")
    hours.add(time.time() // 3600 * 3600)
    ends = {dt.datetime.fromtimestamp(h + 3600, ZoneInfo(TZ)).strftime("%H:%M") for h in hours}
    assert any(f"complete at {e}" in cpu.locator(".nodata").inner_text() for e in ends)
    page.click('.ranges a[data-range="1h"]')
    expect(cpu.locator(".nodata")).to_contain_text("first appear within a minute")
    page.screenshot(path=screenshot_path("host-collecting"), full_page=True)
    page.goto("/compare?servers=ghost&metric=cpu_pct&range=30d")  # the compare API's resolution is per series
    expect(page.locator("#chart-compare .nodata")).to_contain_text("no hourly point yet")
    page.goto("/history?servers=ghost")
    note = page.locator("#history-collecting")
    expect(note).to_contain_text("Collecting")
    first, complete = note.locator("time").all()
    hour = float(first.get_attribute("data-local"))
    assert hour in hours | {time.time() // 3600 * 3600} and float(complete.get_attribute("data-local")) == hour + 3600
    expect(complete).to_have_text(dt.datetime.fromtimestamp(hour + 3600, ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M:%S"))
    page.screenshot(path=screenshot_path("history-collecting"), full_page=True)


def test_compare_draws_one_line_per_host(page):
    page.goto("/compare")
    page.select_option('select[name="servers"]', ["alpha", "beta"])
    page.select_option('select[name="metric"]', "cpu_pct")
    page.click("#compare-form button[type=submit]")
    expect(page.locator("#chart-compare")).to_have_attribute("data-state", "drawn", timeout=15_000)
    assert page.locator("#chart-compare").get_attribute("data-series") == "2"
    expect(page.locator("#compare-table tbody tr")).to_have_count(2)
    page.screenshot(path=screenshot_path("compare"), full_page=True)


def test_history_filter_narrows_rows_and_csv_has_them(page):
    page.goto("/history")
    table = page.locator("#history-table")
    everything = int(table.get_attribute("data-total"))
    expect(page.locator("#history-rows tbody tr")).to_have_count(20)
    page.select_option('select[name="servers"]', ["alpha"])
    page.select_option('select[name="range"]', "24h")
    page.click("#history-form button[type=submit]")
    expect(table).not_to_have_attribute("data-total", str(everything))
    narrowed = int(table.get_attribute("data-total"))
    assert 0 < narrowed < everything
    hosts = page.locator("#history-rows tbody tr").evaluate_all("rows => rows.map(r => r.dataset.host)")
    assert set(hosts) == {"alpha"}
    assert "servers=alpha" in page.url, "the filter is in the address bar (bookmarkable)"
    page.screenshot(path=screenshot_path("history"), full_page=True)
    with page.expect_download() as info:
        page.click("#csv-download")
    rows = list(csv.DictReader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert len(rows) == narrowed and {r["host_id"] for r in rows} == {"alpha"}


def test_events_in_the_browsers_time_zone(page):
    page.goto("/events")
    expect(page.locator("#event-rows tbody tr")).to_have_count(50)
    first = page.locator("#event-rows tbody tr time").first
    ts = float(first.get_attribute("data-local"))
    local = dt.datetime.fromtimestamp(ts, ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M:%S")
    expect(first).to_have_text(local)
    expect(page.locator("[data-tz]")).to_have_text(TZ)
    page.select_option('select[name="type"]', ["gpu_hot"])
    expect(page.locator('#event-rows tbody tr:not([data-type="gpu_hot"])')).to_have_count(0)
    page.screenshot(path=screenshot_path("events"), full_page=True)


def test_adding_a_host_on_the_servers_page_writes_the_inventory(page, web_hub):
    page.goto("/servers")
    page.fill("#f-id", "bad id!")
    page.fill("#f-address", "bad addr!")
    page.fill("#f-port", "not-a-port")
    page.click("#add-form button[type=submit]")
    # every mistake at once (issue 18 item 5), each beside its field and listed at the top
    expect(page.locator('[data-error-for="port"]')).to_contain_text("1 to 65535")
    expect(page.locator('[data-error-for="id"]')).to_contain_text("invalid host id")
    expect(page.locator('[data-error-for="address"]')).to_contain_text("invalid address")
    expect(page.locator("#form-errors li")).to_have_count(3)
    expect(page.locator("#f-address")).to_have_attribute("aria-describedby", "err-address")
    page.screenshot(path=screenshot_path("servers-error"), full_page=True)
    page.fill("#f-id", "browser-added")
    page.fill("#f-address", "127.0.0.1")
    page.fill("#f-port", "2200")
    page.fill("#f-labels", "rack=c3")
    page.click("#add-form button[type=submit]")
    expect(page.locator("[role=status]")).to_contain_text("Added browser-added")
    hosts = {h["id"]: h for h in yaml.safe_load(web_hub.inventory.read_text())["hosts"]}
    assert hosts["browser-added"] == {"id": "browser-added", "address": "127.0.0.1", "port": 2200,
                                      "labels": {"rack": "c3"}}
    page.screenshot(path=screenshot_path("servers"), full_page=True)
    page.goto("/servers/browser-added/edit")
    page.on("dialog", lambda d: d.accept())
    page.click("#delete-form button")
    expect(page.locator("[role=status]")).to_contain_text("Deleted browser-added")
    assert "browser-added" not in web_hub.inventory.read_text()


def test_discover_services_on_the_edit_page(page, web_hub):
    page.goto("/servers/alpha/edit")
    page.click("#discover")
    expect(page.locator('#watched-services input[value="cron.service"]')).to_have_count(1, timeout=15_000)
    expect(page.locator('#watched-services input[value="nginx.service"]')).to_be_checked()
    page.screenshot(path=screenshot_path("server-edit"), full_page=True)


def test_alerts_page_shows_the_firing_alert_and_silences_it(page, web_hub):
    page.goto("/alerts")
    row = page.locator('#alert-rows tr[data-rule="gpu-hot"][data-host="alpha"]')
    expect(row).to_have_attribute("data-state", "firing", timeout=15_000)
    expect(row).to_contain_text(f"{HOT_GPU_C} °C > 80 °C")
    expect(row.locator("td").nth(3)).to_have_text("0")  # the card: one instance per GPU
    expect(page.locator('#rule-rows tr[data-rule="gpu-hot"]')).to_contain_text("gpu_temperature_c > 80 °C")
    expect(page.locator("#notifiers")).to_contain_text("No notifiers")
    expect(page.locator("nav a[href='/alerts']")).to_have_attribute("aria-current", "page")
    page.goto("/")
    page.click('[data-total="alerts_firing"] a')
    assert page.url.endswith("/alerts")
    page.evaluate("window.__sameDocument = true")
    row.locator("button", has_text="Silence 1 h").click()
    expect(row.locator("[data-silenced-until]")).to_contain_text("silenced until")
    assert page.evaluate("window.__sameDocument") is True, "the button swapped the table, not the page"
    assert page.locator("#alerts-table").get_attribute("hx-get") == "/alerts"  # it keeps refreshing the page
    until = float(row.locator("[data-silenced-until]").get_attribute("data-silenced-until"))
    assert 3500 < until - time.time() <= 3600
    expect(page.locator("#silences tr[data-silence]")).to_have_count(1)  # the panel came along (out of band)
    expect(page.locator("#silences")).to_contain_text("ada")
    page.screenshot(path=screenshot_path("alerts"), full_page=True)
    page.reload()
    expect(page.locator("#silences tr[data-silence]")).to_have_count(1)
    silence_id = page.locator("#silences tr[data-silence]").get_attribute("data-silence")
    lifted = httpx.delete(f"{web_hub.url}/api/alerts/silences/{silence_id}",
                          headers={"Authorization": f"Bearer {web_hub.hub.token}"})
    assert lifted.status_code == 200
