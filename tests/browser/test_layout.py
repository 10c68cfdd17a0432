"""Issue 18 items 1 and 6 in a real browser: every page fits a phone (390 px) and a desktop (1440 px) in the light
and the dark theme, the navigation is reachable on the phone, and the theme switch works and is remembered.

One browser context per width and theme, every page visited in it; a screenshot of each page goes to
test-artifacts/screenshots/layout-<theme>-<width>-<page>.png.
"""
from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import TZ, log_in
from tests.support.browser import screenshot_path

PAGES = {  # name: path; /docs is Swagger's own page
    "overview": "/", "host": "/hosts/alpha", "gpus": "/gpus", "gpu-users": "/gpus/users",
    "compare": "/compare?servers=alpha&servers=beta&metric=cpu_pct", "history": "/history", "events": "/events",
    "alerts": "/alerts", "servers": "/servers", "server-edit": "/servers/alpha/edit",
}
# the page's background and the hot GPU's temperature on the host page, as the browser computes them
BACKGROUND = {"light": "rgb(246, 248, 250)", "dark": "rgb(13, 17, 23)"}
HOT = {"light": "rgb(211, 47, 47)", "dark": "rgb(255, 123, 114)"}
# a phone and a desktop in both themes (screenshots), and the narrowest phone the issue names in one
SIZES = [(390, "light"), (390, "dark"), (1440, "light"), (1440, "dark"), (360, "light")]

# What sticks out of the window, for the failure message: elements whose right edge passes it, leaving out those
# inside a box that scrolls sideways (a table's .scroll-x), which is what those boxes are for.
MEASURE = """() => {
  const w = window.innerWidth, out = [];
  if (document.documentElement.scrollWidth > w) {
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect(), box = el.parentElement && el.parentElement.closest(".scroll-x, .scroll");
      if (r.width > 0 && r.right > w + 0.5 && !box)
        out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
                 (typeof el.className === "string" && el.className ? "." + el.className.trim().split(/\\s+/).join(".") : "") +
                 " to " + Math.round(r.right) + " px");
    }
  }
  return {scroll: document.documentElement.scrollWidth, inner: w, wide: out.slice(0, 10)};
}"""


@contextmanager
def browsing(browser, base_url: str, width: int, theme: str):
    """A fresh context at this width whose system theme is `theme`; no JavaScript error may happen on it."""
    context = browser.new_context(base_url=base_url, timezone_id=TZ, viewport={"width": width, "height": 860},
                                  color_scheme=theme)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def fits(pg, name: str) -> None:
    size = pg.evaluate(MEASURE)
    assert size["scroll"] <= size["inner"], f"{name} is {size['scroll']} px wide in a {size['inner']} px window: " \
                                            f"{size['wide']}"


def charts_settled(pg) -> None:
    for i in range(pg.locator(".chart[data-chart]").count()):
        expect(pg.locator(".chart[data-chart]").nth(i)).to_have_attribute("data-state", re.compile("drawn|empty"),
                                                                         timeout=15_000)


def background(pg) -> str:
    return pg.evaluate("getComputedStyle(document.body).backgroundColor")


@pytest.mark.parametrize("width, theme", SIZES, ids=[f"{w}-{t}" for w, t in SIZES])
def test_every_page_fits_the_window_in_both_themes(browser, web_hub, width, theme):
    with browsing(browser, web_hub.url, width, theme) as pg:
        pg.goto("/login")
        assert background(pg) == BACKGROUND[theme], "the page follows the system's theme"
        fits(pg, "/login")
        pg.screenshot(path=screenshot_path(f"layout-{theme}-{width}-login"), full_page=True)
        log_in(pg, "ada")
        for name, path in PAGES.items():
            pg.goto(path)
            charts_settled(pg)
            fits(pg, path)
            pg.screenshot(path=screenshot_path(f"layout-{theme}-{width}-{name}"), full_page=True)
            if name == "host":
                hot = pg.locator('#gpus tr[data-gpu="0"] td.temp')
                assert hot.evaluate("el => getComputedStyle(el).color") == HOT[theme]
                assert background(pg) == BACKGROUND[theme]
                # the charts' axes are in the theme's text colour (app.css --fg), not uPlot's black
                ink = pg.evaluate("window.fleetwatch.color('--fg')")
                assert pg.evaluate("(u => u.axes[1].stroke(u, 1))(document.querySelector('#chart-cpu')._plot)") == ink
                canvas = pg.locator("#chart-cpu canvas").bounding_box()
                assert canvas["x"] + canvas["width"] <= width, "the chart is drawn at its box's width"


def test_navigation_on_a_phone_opens_from_the_menu(browser, web_hub):
    with browsing(browser, web_hub.url, 390, "light") as pg:
        log_in(pg, "ada", "/hosts/alpha")
        charts_settled(pg)
        pg.set_viewport_size({"width": 1440, "height": 860})  # a window made wider: the charts follow it
        pg.wait_for_function("document.querySelector('#chart-cpu canvas').getBoundingClientRect().width > 400")
        pg.set_viewport_size({"width": 390, "height": 860})
        pg.wait_for_function("document.querySelector('#chart-cpu canvas').getBoundingClientRect().width < 360")
        fits(pg, "/hosts/alpha made narrow again")
        pg.goto("/events")
        links = pg.locator("header nav a")
        expect(links.first).to_be_hidden()
        expect(pg.locator(".who")).to_be_hidden()
        pg.click("header .menu > summary")
        expect(links).to_have_count(8)
        for i in range(8):
            expect(links.nth(i)).to_be_visible()
            box = links.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, links.nth(i).inner_text()
            assert box["height"] >= 24, "links big enough to tap"
        expect(pg.locator(".who")).to_be_visible()
        expect(pg.locator(".logout button")).to_be_in_viewport()
        expect(pg.locator("#theme-switch")).to_be_in_viewport()
        bar = pg.evaluate("getComputedStyle(document.querySelector('header .menu-body')).backgroundColor")
        assert bar == "rgb(36, 41, 47)", "the open menu stays dark: its light links stay readable"
        fits(pg, "/events with the menu open")
        pg.screenshot(path=screenshot_path("layout-light-390-menu-open"))
        pg.click("header nav a[href='/alerts']")
        expect(pg).to_have_url(re.compile(r"/alerts$"))
        expect(pg.locator("header nav a[aria-current=page]")).to_be_hidden()  # a new page: the menu is closed
        pg.set_viewport_size({"width": 1440, "height": 860})  # the same page, wide: the bar shows everything
        expect(pg.locator("header nav a[aria-current=page]")).to_have_attribute("href", "/alerts")
        expect(pg.locator("header nav a[aria-current=page]")).to_be_visible()
        expect(pg.locator("header .menu > summary")).to_be_hidden()


def test_theme_switch_overrides_the_system_and_is_remembered(browser, web_hub):
    with browsing(browser, web_hub.url, 1440, "light") as pg:
        log_in(pg, "ada", "/hosts/alpha")
        charts_settled(pg)
        expect(pg.locator("#theme-switch")).to_have_value("system")
        light_ink = pg.evaluate("window.fleetwatch.color('--fg')")
        axis = "(u => u.axes[0].stroke(u, 0))(document.querySelector('#chart-cpu')._plot)"
        assert pg.evaluate(axis) == light_ink
        pg.select_option("#theme-switch", "dark")
        expect(pg.locator("html")).to_have_attribute("data-theme", "dark")
        assert background(pg) == BACKGROUND["dark"]
        # the charts are drawn again in the dark theme's colours
        pg.wait_for_function(f"{axis} === window.fleetwatch.color('--fg')")
        assert pg.evaluate(axis) != light_ink
        assert pg.evaluate("localStorage.getItem('fleetwatch-theme')") == "dark"
        pg.reload()
        expect(pg.locator("#theme-switch")).to_have_value("dark")
        assert background(pg) == BACKGROUND["dark"], "the choice outlives a reload"
        # no flash of the light theme: the dark one is in force before the deferred scripts run (here: never)
        pg.route("**/static/fleetwatch.js", lambda route: route.abort())
        pg.goto("/events")
        assert pg.evaluate("window.fleetwatch") is None
        assert pg.evaluate("document.documentElement.dataset.theme") == "dark"
        assert background(pg) == BACKGROUND["dark"]
        pg.unroute("**/static/fleetwatch.js")
        pg.goto("/events")
        pg.select_option("#theme-switch", "light")  # light although the system is dark
        pg.emulate_media(color_scheme="dark")
        assert background(pg) == BACKGROUND["light"]
        pg.select_option("#theme-switch", "system")  # back to the system's: dark now, light when it turns
        assert background(pg) == BACKGROUND["dark"]
        assert pg.evaluate("localStorage.getItem('fleetwatch-theme')") is None
        pg.emulate_media(color_scheme="light")
        assert background(pg) == BACKGROUND["light"]
        pg.reload()
        expect(pg.locator("#theme-switch")).to_have_value("system")
