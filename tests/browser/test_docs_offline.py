"""The API docs (/docs) on an air-gapped hub: Swagger UI from the hub's own files, nothing fetched from elsewhere.

Chromium resolves the hub's name (HUB_NAME) to 127.0.0.1 and no other name at all, and every
request for another host is aborted and recorded: the docs must render all the same.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import expect, sync_playwright

from tests.browser.test_browser import log_in
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, ChromiumMissing, screenshot_path
from webapp.pages.api_docs import SWAGGER_CSS, SWAGGER_FAVICON, SWAGGER_JS
from webapp.templating import STATIC_DIR

HUB_NAME = "fleetwatch-hub.test"  # a name, not loopback: as a hub is reached on a cluster's network


@pytest.fixture(scope="module")
def offline_browser():
    """Chromium that knows only the hub's name: any other name fails to resolve, like on an air-gapped network."""
    if not Path(CHROMIUM).exists():
        raise ChromiumMissing(f"{CHROMIUM} not found: apt-get install chromium (.ci/install does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            *CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HUB_NAME} 127.0.0.1, MAP * ~NOTFOUND"])
        yield b
        b.close()


def test_api_docs_render_their_operations_with_no_internet(offline_browser, web_hub):
    context = offline_browser.new_context(base_url=f"http://{HUB_NAME}:{urlsplit(web_hub.url).port}",
                                          viewport={"width": 1280, "height": 900})
    asked, blocked, errors = [], [], []

    def only_the_hub(route):
        url = urlsplit(route.request.url)
        asked.append(route.request.url)
        if url.scheme in ("data", "blob") or url.hostname == HUB_NAME:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_the_hub)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        log_in(pg, "vic")  # viewers read the docs too
        pg.click('header nav a[href="/docs"]')  # the "API" link
        servers = pg.locator('.opblock.opblock-get:has(.opblock-summary-path[data-path="/api/servers"])')
        expect(servers).to_be_visible(timeout=15_000)
        assert pg.locator("#swagger-ui .opblock").count() > 10
        pg.screenshot(path=screenshot_path("api-docs"), full_page=False)
    finally:
        context.close()
    assert not blocked, f"the docs asked for files from outside the hub: {blocked}"
    assert {SWAGGER_JS, SWAGGER_CSS} <= {urlsplit(u).path for u in asked}
    assert not errors, f"JavaScript errors: {errors}"


def test_api_docs_need_a_login_and_their_files_are_the_hubs_own(web_hub):
    with httpx.Client(base_url=web_hub.url, timeout=30) as anonymous:
        refused = anonymous.get("/docs", headers={"Accept": "text/html"})
        assert refused.status_code == 303 and refused.headers["location"] == "/login?next=%2Fdocs"
        types = {}
        for path in (SWAGGER_JS, SWAGGER_CSS, SWAGGER_FAVICON):  # static files: open, like the CSS of the login page
            resp = anonymous.get(path)
            assert resp.status_code == 200, path
            assert resp.content == (STATIC_DIR / path.removeprefix("/static/")).read_bytes(), path
            types[path] = resp.headers["content-type"].split(";")[0]
    assert types[SWAGGER_JS] in ("text/javascript", "application/javascript"), types  # by the system's mime.types
    assert types[SWAGGER_CSS] == "text/css" and types[SWAGGER_FAVICON] == "image/png", types
    license_file = STATIC_DIR / "vendor" / Path(SWAGGER_CSS).name.replace(".css", ".LICENSE")
    assert "Apache License" in license_file.read_text()
    with httpx.Client(base_url=web_hub.url, timeout=30,
                      headers={"Authorization": f"Bearer {web_hub.hub.token}"}) as client:
        doc = BeautifulSoup(client.get("/docs").text, "html.parser")
    urls = [el.get("src") or el.get("href") for el in doc.select("script[src], link[href]")]
    assert sorted(urls) == sorted([SWAGGER_JS, SWAGGER_CSS, SWAGGER_FAVICON]), urls
