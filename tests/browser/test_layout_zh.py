"""The pages in Simplified Chinese in a real browser (issue 18 item 7): every page (test_layout.PAGES) fits a
phone (390 px) and a desktop (1440 px) in the light and the dark theme, say `<html lang="zh-Hans">`, the top
bar's switch marks 中文, and the live "ago" ticker (fleetwatch.js) words its durations in Chinese.

Screenshots: test-artifacts/screenshots/layout-zh-<theme>-<width>-<page>.png (the CJK glyphs need a font:
fonts-noto-cjk, .ci/install).
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_browser import log_in
from tests.browser.test_layout import PAGES, browsing, charts_settled, fits
from tests.support.browser import screenshot_path

SIZES = [(390, "light"), (390, "dark"), (1440, "light"), (1440, "dark")]


@pytest.mark.parametrize("width, theme", SIZES, ids=[f"{w}-{t}" for w, t in SIZES])
def test_chinese_pages_fit_the_window_in_both_themes(browser, web_hub, width, theme):
    with browsing(browser, web_hub.url, width, theme) as pg:
        log_in(pg, "ada")
        pg.goto("/lang/zh?next=/")  # the switch's link: sets fw_lang=zh and comes back
        for name, path in PAGES.items():
            if path != "/":
                pg.goto(path)
            assert pg.evaluate("document.documentElement.lang") == "zh-Hans"
            expect(pg.locator('header .langs a[aria-current="true"]')).to_have_attribute("href", re.compile("^/lang/zh"))
            charts_settled(pg)
            fits(pg, path)
            pg.screenshot(path=screenshot_path(f"layout-zh-{theme}-{width}-{name}"), full_page=True)
            if name == "host":  # charts.js's own words and dates in Chinese, the markers worded by the hub
                cpu = pg.locator("#chart-cpu")
                expect(cpu.locator(".u-legend .u-series").first.locator(".u-label")).to_have_text("时间")
                assert "月" in cpu.get_attribute("data-x-labels"), cpu.get_attribute("data-x-labels")
                expect(cpu.locator('.chart-mark[data-type="alert_firing"]').first).to_have_attribute(
                    "title", re.compile("告警 gpu-hot \\(0\\) 触发："))
            if name == "overview":
                expect(pg.locator("h1")).to_have_text("集群概览")
                # the ticker (and the stream's cards) word "… ago" in the page's language: "7 秒前", "3 分 20 秒前"
                expect(pg.locator("article.card time[data-ago]").first).to_have_text(
                    re.compile(r"^\d+ (秒|分|小时|天)( \d+ (秒|分|小时))?前$"))
