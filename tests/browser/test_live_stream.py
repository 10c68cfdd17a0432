"""The overview's live stream in a real browser (issue 18 item 3): cards, and the table's rows, change without a
reload and without the page asking for them, and when the stream is cut and cannot come back, the page polls
again.

The hub of tests/support/webhub.py ends its streams after 12 s (STREAM_ENV); the browser reconnects by itself.
"""
from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.browser.test_browser import logged_in
from tests.support.browser import screenshot_path

ALPHA_SEEN = 'article[data-host="alpha"] footer time'


def open_live(page, web_hub, path: str, hosts: str) -> list[str]:
    """Load the overview at `path` and wait for its stream: the requests the page makes from then on (paths)."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url.replace(web_hub.url, "")))
    page.goto(path)
    page.evaluate("window.__sameDocument = true")
    expect(page.locator(hosts)).to_have_count(3)
    page.wait_for_function("window.fleetwatch.live.open === true", timeout=10_000)
    requests.clear()
    return requests


def test_stream_updates_cards_without_refetching_then_polling_takes_over(browser, web_hub):
    with logged_in(browser, web_hub.url) as page:
        requests = open_live(page, web_hub, "/", "#fleet article.card")
        for _ in range(2):  # two of alpha's polls reach the page
            seen = page.locator(ALPHA_SEEN).get_attribute("data-ago")
            expect(page.locator(ALPHA_SEEN)).not_to_have_attribute("data-ago", seen, timeout=15_000)
        assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        fetched = [u for u in requests if not u.startswith("/stream/")]
        assert fetched == [], f"the page fetched {fetched} instead of being told"
        page.screenshot(path=screenshot_path("overview-live"), full_page=True)

        # cut: the streams end (after 12 s here) and cannot reconnect; the page falls back to polling
        page.route("**/stream/**", lambda route: route.abort())
        page.wait_for_function("window.fleetwatch.live.off === true", timeout=40_000)
        requests.clear()
        seen = page.locator(ALPHA_SEEN).get_attribute("data-ago")
        expect(page.locator(ALPHA_SEEN)).not_to_have_attribute("data-ago", seen, timeout=15_000)
        assert any(u == "/" or u.startswith("/?") for u in requests), requests  # the #fleet section, polled
        assert page.evaluate("window.__sameDocument") is True


def test_the_table_view_is_live_over_the_stream_and_does_not_poll(browser, web_hub):
    with logged_in(browser, web_hub.url) as page:
        requests = open_live(page, web_hub, "/?view=table", "#fleet-rows tbody tr")
        assert "view=table" in page.locator("#fleet [sse-connect]").get_attribute("sse-connect")
        started = time.monotonic()
        seen = float(page.locator("#row-alpha time[data-seen]").get_attribute("data-seen"))
        page.evaluate("document.getElementById('row-alpha').__old = true")
        # alpha's next polls: its row swapped alone, by id (a new element), the others left as they were, and its
        # last-seen time moved on (by that swap or by a `seen` event: a row that reads the same is not sent again)
        page.wait_for_function(f"""() => {{ const row = document.getElementById('row-alpha');
            return !row.__old && parseFloat(row.querySelector('time[data-seen]').dataset.seen) > {seen}; }}""",
                               timeout=15_000)
        page.wait_for_timeout(max(0.0, 6.5 - (time.monotonic() - started)) * 1000)  # past the section's 5 s poll
        fetched = [u for u in requests if not u.startswith("/stream/")]
        assert fetched == [], f"the table fetched {fetched} instead of being told"
        assert page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        # a `seen` event (alpha polled, nothing else changed) moves the row's time: words and attribute
        page.evaluate("""() => {
            const at = Math.round(Date.now() / 1000) - 7200;
            document.querySelector("#fleet [sse-connect]").dispatchEvent(new CustomEvent("htmx:sseBeforeMessage",
                {bubbles: true, cancelable: true, detail: {type: "seen", data: JSON.stringify({alpha: at})}}));
        }""")
        expect(page.locator("#row-alpha time[data-seen]")).to_have_text("2 h ago")
        page.screenshot(path=screenshot_path("overview-table-live"), full_page=True)
        # a sort on its way wins over a whole section that the stream sends meanwhile (played as the SSE
        # extension swaps an event): the answer does not land in the replaced section, out of the page
        page.evaluate("""() => {
            document.getElementById("sort-name").click();
            const live = document.querySelector("#fleet [sse-connect]");
            const html = document.getElementById("fleet").outerHTML
                .replace('<section id="fleet"', '<section id="fleet" hx-swap-oob="true" data-from-stream');
            htmx.swap(live, html, {swapStyle: "none"}, {contextElement: live});
        }""")
        expect(page.locator("#fleet")).to_have_attribute("data-sort", "name")
        expect(page.locator("#fleet[data-from-stream]")).to_have_count(0)
        assert page.evaluate("window.__sameDocument") is True
