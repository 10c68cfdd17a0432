"""Shared fixtures: a real OpenSSH sshd on 127.0.0.1 and inventories pointing at it."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sshd import SSHDServer, start_sshd

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def sshd() -> Iterator[SSHDServer]:
    """One real sshd for the whole session (started and stopped by PID)."""
    server = start_sshd()
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def inventory_file(sshd: SSHDServer, tmp_path: Path):
    """Write a one-host inventory for the test sshd; call with host overrides."""

    def make(host_id: str = "test-host", **overrides: object) -> Path:
        path = tmp_path / "hosts.yaml"
        path.write_text(sshd.inventory_yaml(host_id, **overrides))
        return path

    return make


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A real, throwaway PostgreSQL server for the session; the URL of its `fleetwatch` database.

    Fails (never skips) when the PostgreSQL binaries are missing: the message names the apt package.
    """
    from tests.pg import PostgresMissing, start_postgres

    try:
        server = start_postgres()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server.url
    server.stop()
