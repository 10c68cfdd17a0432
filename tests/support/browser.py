"""Debian's Chromium driven by Playwright: no browser download, flags that suit a headless CI box."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("FLEETWATCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]
ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = Path(os.environ.get("FLEETWATCH_ARTIFACTS", ROOT / "test-artifacts"))


class ChromiumMissing(RuntimeError):
    pass


def launch(playwright):
    """Chromium from the system; a clear error (never a skip) when it is not installed."""
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        raise ChromiumMissing(f"{CHROMIUM} not found: apt-get install chromium (.ci/install does it)")
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def screenshot_path(name: str) -> Path:
    """Where a page's screenshot goes (CI keeps test-artifacts/)."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"
