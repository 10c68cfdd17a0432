"""The browser room's fixture: one Chromium a module (Debian's, through Playwright: tests/support/browser.py)."""
from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import launch


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()
