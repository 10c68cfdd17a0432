"""The integration room's fixtures: a real OpenSSH sshd on 127.0.0.1 and inventories pointing at it, a throwaway
PostgreSQL server, sessions on SQLite and PostgreSQL, real Prometheus servers."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sshd import SSHDServer, start_sshd


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
    from tests.support.pg import PostgresMissing, start_postgres

    try:
        server = start_postgres()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def pg_test_url(pg_url, request):
    """A database of the test module's own on the session's throwaway PostgreSQL server."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = "fw_" + request.module.__name__.rsplit(".", 1)[-1]

    def admin(sql: str) -> None:
        with psycopg.connect(make_url(pg_url).set(database="postgres").render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(sql)

    admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin(f'CREATE DATABASE "{name}"')
    yield make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    admin(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request, tmp_path):
    """A session on a fresh schema: a tmp SQLite file, or the module's PostgreSQL database."""
    from sqlmodel import Session, SQLModel

    from schema.db import make_engine

    url = str(tmp_path / "t.db") if request.param == "sqlite" else request.getfixturevalue("pg_test_url")
    engine = make_engine(url)
    SQLModel.metadata.drop_all(engine)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


@pytest.fixture
def prometheus(tmp_path):
    """Start real Prometheus servers (tests/support/prometheus_server.py), stopped by PID after the test:
    `prometheus(["127.0.0.1:PORT"], bearer_token=..., metrics_path=..., scrape_interval=...)`.

    Fails (never skips) when /usr/bin/prometheus is missing: the message names the apt package.
    """
    from tests.support.prometheus_server import PrometheusMissing, start_prometheus

    started = []

    def start(targets, **options):
        try:
            server = start_prometheus(tmp_path, targets, **options)
        except PrometheusMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
