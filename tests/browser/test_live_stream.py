"""The overview's live stream in a real browser (issue 18 item 3): cards change without a reload and without
the page asking for them, and when the stream is cut and cannot come back, the page polls again.

The hub of tests/support/webhub.py ends its streams after 12 s (STREAM_ENV); the browser reconnects by itself.
"""
from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.test_browser import logged_in
from tests.support.browser import screenshot_path

ALPHA_SEEN = 'article[data-host="alpha"] footer time'


def test_stream_updates_cards_without_refetching_then_polling_takes_over(browser, web_hub):
    with logged_in(browser, web_hub.url) as page:
        requests: list[str] = []
        page.on("request", lambda r: requests.append(r.url.replace(web_hub.url, "")))
        page.goto("/")
        page.evaluate("window.__sameDocument = true")
        expect(page.locator("#fleet article.card")).to_have_count(3)
        page.wait_for_function("window.fleetwatch.live.open === true", timeout=10_000)
        requests.clear()
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
