"""The overview's "trouble first" in a real browser (Debian's Chromium through Playwright): the hot-GPU host's
card is first and coloured, and the table view sorts and filters 1,000 hosts (a web-only hub over a seeded
database: tests/support/bighub.py). Every test saves a screenshot under test-artifacts/screenshots/."""
from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import logged_in
from tests.support.bighub import HOSTS, HOT_HOST, host_id, start_big_hub, stop_big_hub
from tests.support.browser import screenshot_path
from tests.support.webhub import HOT_GPU_C

ROWS = "#fleet-rows tbody tr"


@pytest.fixture(scope="module")
def big_hub(tmp_path_factory):
    hub = start_big_hub(tmp_path_factory.mktemp("big"))
    yield hub
    stop_big_hub(hub)


def style(locator, prop: str) -> str:
    return locator.evaluate(f"el => getComputedStyle(el).{prop}")


def test_the_hot_gpu_host_is_first_and_coloured_and_its_gpus_readable(browser, web_hub):
    with logged_in(browser, web_hub.url) as page:
        page.goto("/")
        expect(page.locator("#fleet article.card")).to_have_count(3)
        expect(page.locator("#fleet article.card").first).to_have_attribute("data-host", "alpha")
        alpha, beta = page.locator("#card-alpha"), page.locator("#card-beta")
        expect(alpha).to_have_attribute("data-severity", "bad")
        expect(beta).to_have_attribute("data-severity", "ok")
        assert style(alpha, "borderTopColor") != style(beta, "borderTopColor")
        assert style(alpha, "backgroundColor") != style(beta, "backgroundColor")  # the tint
        assert style(alpha.locator(".worst"), "color") == style(alpha, "borderTopColor")  # words in that colour
        expect(alpha.locator(".worst")).to_be_visible()
        hot = alpha.locator(".gg .hot")  # GPU 0's temperature, on the card, no hovering
        expect(hot).to_have_text(str(HOT_GPU_C))
        expect(hot).to_be_visible()
        assert style(hot, "color") != style(alpha.locator(".gg i").nth(7), "color")  # red, not as the legend
        page.screenshot(path=screenshot_path("overview-trouble-first"), full_page=True)
        page.evaluate("window.__sameDocument = true")
        page.check('#fleet-view input[value="table"]')
        expect(page.locator("#fleet")).to_have_attribute("data-view", "table")
        expect(page.locator(ROWS).first).to_have_attribute("data-host", "alpha")
        assert "view=table" in page.url and page.evaluate("window.__sameDocument") is True
        page.screenshot(path=screenshot_path("overview-table-small"), full_page=True)


def column(page, name: str) -> list[str]:
    return page.eval_on_selector_all(f'{ROWS} td[data-col="{name}"]', "tds => tds.map(td => td.textContent.trim())")


def hosts(page) -> list[str]:
    return page.eval_on_selector_all(ROWS, "rows => rows.map(r => r.dataset.host)")


def numbers(texts: list[str]) -> tuple[list[float], int]:
    """The values of a column ("12.5 %", "3.4 kB/s") in page order, and how many dashes came after them."""
    scale = {"%": 1, "B/s": 1, "kB/s": 1e3, "MB/s": 1e6}
    shown = [t for t in texts if t != "–"]
    assert texts[len(shown):] == ["–"] * (len(texts) - len(shown)), "dashes (no value) come last"
    return [float(t.split()[0]) * scale[t.split()[1]] for t in shown], len(texts) - len(shown)


def sort_by(page, key: str, expected: str) -> float:
    """Click a heading; the seconds until the sorted table is in."""
    started = time.monotonic()
    page.click(f"#sort-{key}")
    expect(page.locator("#fleet")).to_have_attribute("data-sort", expected, timeout=15_000)
    return time.monotonic() - started


def test_the_table_sorts_and_filters_1000_hosts(browser, big_hub):
    with logged_in(browser, big_hub.url) as page:
        page.goto("/?view=table")
        expect(page.locator(ROWS)).to_have_count(HOSTS)
        down = sorted(host_id(i) for i in range(HOSTS) if i % 100 == 42)
        assert hosts(page)[:11] == sorted([*down, HOT_HOST])  # problems first (all bad), then by name
        page.evaluate("window.__sameDocument = true")
        took = [sort_by(page, "cpu", "cpu")]
        values, dashes = numbers(column(page, "cpu"))
        assert values == sorted(values, reverse=True) and len(values) == HOSTS - dashes and dashes == 20
        assert "sort=cpu" in page.url and "view=table" in page.url
        expect(page.locator("#fleet-sort")).to_have_value("cpu")  # the form's menu follows the heading
        took.append(sort_by(page, "cpu", "-cpu"))  # again: the other way, the dashes still last
        values, dashes = numbers(column(page, "cpu"))
        assert values == sorted(values) and dashes == 20
        took.append(sort_by(page, "net_in", "net_in"))
        assert hosts(page)[:2] == [host_id(HOSTS - 1), host_id(HOSTS - 2)]
        values, _ = numbers(column(page, "net_in"))
        assert values == sorted(values, reverse=True)
        took.append(sort_by(page, "name", "name"))
        assert hosts(page) == [host_id(i) for i in range(HOSTS)]
        page.fill('#fleet-filter input[name="q"]', "rack=r7")  # the cards' filter form filters the table
        expect(page.locator(ROWS)).to_have_count(HOSTS // 40, timeout=15_000)
        assert hosts(page) == [host_id(i) for i in range(7, HOSTS, 40)]
        assert "q=rack%3Dr7" in page.url and "sort=name" in page.url
        assert page.evaluate("window.__sameDocument") is True, "htmx swapped the table, the page stayed"
        page.screenshot(path=screenshot_path("overview-table-1000"))
        print(f"sorting 1,000 rows in the browser: {', '.join(f'{t * 1000:.0f} ms' for t in took)}")
        assert max(took) < 10, took  # about 1 s a click on a busy 2-core machine
