"""The GPU page and the per-user hours in a real browser (Debian's Chromium through Playwright), against the
web-only hub of tests/support/gpuhub.py. Every test saves a screenshot under test-artifacts/screenshots/."""
from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import logged_in
from tests.support.browser import screenshot_path
from tests.support.gpuhub import HOSTILE_COMMAND, HOSTILE_NAME

ROWS = "#gpu-rows tbody tr"


@pytest.fixture
def page(browser, gpu_hub):
    with logged_in(browser, gpu_hub.url) as pg:
        dialogs: list[str] = []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        yield pg
    assert not dialogs, f"a process name ran as script: {dialogs}"


def order(page) -> list[str]:
    return page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.host + '/' + r.dataset.card)")


def test_gpu_page_cards_processes_and_held_idle_first(page):
    page.goto("/")
    page.click('header nav a[href="/gpus"]')
    expect(page.locator(ROWS)).to_have_count(4)
    assert order(page) == ["gpu-a/1", "gpu-a/0", "gpu-b/0", "gpu-b/1"]
    held = page.locator(f"{ROWS}:first-child [data-tag=held-idle]")
    expect(held).to_be_visible()
    expect(held).to_contain_text("held, idle · 45 min")
    hostile = page.locator(f'{ROWS}[data-host="gpu-b"][data-card="0"] .cut')
    expect(hostile).to_have_text(HOSTILE_NAME)
    expect(hostile).to_have_attribute("title", HOSTILE_COMMAND)
    expect(page.locator(f'{ROWS}[data-host="gpu-a"][data-card="0"] [data-col="since"]')).to_have_text("3 h 12 min")
    page.screenshot(path=screenshot_path("gpus"), full_page=True)
    page.evaluate("window.__sameDocument = true")
    rendered = page.locator("#gpu-table").get_attribute("data-rendered")
    expect(page.locator("#gpu-table")).not_to_have_attribute("data-rendered", rendered, timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True, "the refresh reloaded the page"
    page.click(f'{ROWS}[data-host="gpu-b"][data-card="0"] td a')
    panel = page.locator("#gpu-processes")
    expect(panel.locator('tr[data-pid="303"] .cut')).to_have_text(HOSTILE_COMMAND)
    page.screenshot(path=screenshot_path("host-gpu-processes"), full_page=True)


def test_sort_links_and_the_filter_box_swap_the_table_only(page):
    page.goto("/gpus")
    page.evaluate("window.__sameDocument = true")
    page.click("a[data-sort-link=temperature]")
    expect(page.locator("#gpu-table")).to_have_attribute("data-sort", "temperature")
    assert order(page) == ["gpu-a/1", "gpu-b/0", "gpu-a/0", "gpu-b/1"]  # held first, then 86, 71 °C, none
    assert page.url.endswith("/gpus?sort=temperature")
    expect(page.locator("#gpu-sort")).to_have_value("temperature")  # the form sends the sort from now on
    page.fill('#gpu-filter input[name="q"]', "nlp")
    expect(page.locator(ROWS)).to_have_count(2)
    assert order(page) == ["gpu-b/0", "gpu-b/1"] and "q=nlp" in page.url and "sort=temperature" in page.url
    rendered = page.locator("#gpu-table").get_attribute("data-rendered")
    expect(page.locator("#gpu-table")).not_to_have_attribute("data-rendered", rendered, timeout=15_000)
    assert order(page) == ["gpu-b/0", "gpu-b/1"], "the refresh kept the filter"
    expect(page.locator("#gpu-table")).to_have_attribute("data-sort", "temperature")
    page.fill('#gpu-filter input[name="q"]', "nobody-like-this")
    expect(page.locator("#gpu-table .empty")).to_contain_text("No card matches this filter")
    page.fill('#gpu-filter input[name="q"]', "")
    expect(page.locator(ROWS)).to_have_count(4)
    page.click("a[data-sort-link=user]")
    expect(page.locator("#gpu-table")).to_have_attribute("data-sort", "user")
    assert page.evaluate("window.__sameDocument") is True, "htmx swapped the table, the page stayed"
    page.screenshot(path=screenshot_path("gpus-sorted-filtered"), full_page=True)


def test_user_hours_table_days_host_and_csv(page, tmp_path):
    page.goto("/gpus")
    page.click("#gpu-users-link")
    rows = page.locator("#gpu-user-rows tbody tr")
    expect(rows).to_have_count(4)  # last 7 UTC days: carol's hour 10 days ago is not in
    expect(page.locator('#gpu-user-rows tr[data-user="alice"] [data-col="gpu-hours"]').first).to_have_text(
        "2.00 GPU-h")
    page.select_option('select[name="days"]', "30")
    expect(rows).to_have_count(5)
    expect(page.locator('#gpu-user-rows tr[data-user="carol"]')).to_have_count(1)
    page.select_option('select[name="host"]', "gpu-b")
    expect(rows).to_have_count(1)
    assert "days=30" in page.url and "host=gpu-b" in page.url
    page.select_option('select[name="host"]', "")
    expect(rows).to_have_count(5)
    page.screenshot(path=screenshot_path("gpu-users"), full_page=True)
    with page.expect_download() as info:
        page.click("#gpu-users-csv")
    path = tmp_path / "users.csv"
    info.value.save_as(path)
    table = list(csv.reader(path.open()))
    assert table[0] == ["day_utc", "host", "user", "gpu_hours", "gpu_memory_gib_hours", "hours_seen"]
    assert sorted(r[2] for r in table[1:]) == ["alice", "alice", "bob", "carol", "mallory"]
