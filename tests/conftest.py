"""Shared by every room: the rooms' markers, and the one `fleetwatch serve` the page and browser tests share.

The tests live in rooms (README, "Tests, room by room"):
- tests/unit: pure tests that start no process, server or network (parsers, rates, rules, formatters);
  they run in seconds: `python3 -m pytest -m unit`.
- tests/integration: real sshd, PostgreSQL, hubs, shells, HTTP servers, Prometheus (fixtures in its conftest.py).
- tests/browser: Playwright driving Debian's Chromium.
Helpers shared by the tests (and the benchmarks) are in tests/support. Each test gets its room's marker here,
so `-m unit`, `-m integration` and `-m browser` select a room and plain `python3 -m pytest` runs all three.
"""
from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOMS = ("unit", "integration", "browser")


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark each test with its room: the first folder of its path under tests/."""
    for item in items:
        path = item.path.resolve()
        parts = path.relative_to(TESTS).parts if path.is_relative_to(TESTS) else ()
        if len(parts) > 1 and parts[0] in ROOMS:
            item.add_marker(parts[0])


@pytest.fixture(scope="session")
def web_hub(tmp_path_factory):
    """A real `fleetwatch serve` for the page and browser tests (tests/support/webhub.py), shared by both."""
    from tests.support.webhub import start_web_hub, stop_web_hub

    web = start_web_hub(tmp_path_factory.mktemp("web"))
    yield web
    stop_web_hub(web)


@pytest.fixture(scope="module")
def gpu_hub(tmp_path_factory):
    """A web-only `fleetwatch serve` over a database with known GPU reports and hours (tests/support/gpuhub.py);
    one a module, so that the reports' ages ("busy for 3 h 12 min") are as written when its tests read them."""
    from tests.support.gpuhub import start_gpu_hub, stop_gpu_hub

    hub = start_gpu_hub(tmp_path_factory.mktemp("gpus"))
    yield hub
    stop_gpu_hub(hub)
