"""A database outage is a one-line 503, told once in the log when it starts and once when it ends (issue 14, item 7).

A real PostgreSQL is stopped under a hub that polls a real sshd host. Before
the fix every request answered 500 with a 330-line traceback in the log, and
the batch writer logged a warning every second.
"""
from __future__ import annotations

import asyncio
import logging
import time

import httpx

from tests.support.apphub import served_hub
from tests.support.pg import start_postgres

PATHS = ["/api/events", "/api/servers", "/events", "/hosts/outage-host"]


async def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def test_stopped_postgres_answers_503_in_one_line_and_logs_the_outage_twice(inventory_file, caplog):
    caplog.set_level(logging.INFO)
    pg = start_postgres()
    try:
        async with served_hub(inventory_file("outage-host", interval="1s"), pg.url) as served:
            client = served.client

            async def sampled() -> bool:
                return (await client.get("/api/servers/outage-host/latest")).json()["sample"] is not None
            await _wait_for(sampled, 30, "no first sample")

            pg.halt()
            down_at = time.time()
            answers: list[httpx.Response] = []
            for _ in range(3):  # the same outage, met again and again
                for path in PATHS:
                    answers.append(await client.get(path, headers={"Accept": "text/html"}
                                                    if not path.startswith("/api/") else {}))
                await asyncio.sleep(1.0)
            assert {r.status_code for r in answers} == {503}, [(r.url.path, r.status_code) for r in answers]
            for r in answers:
                text = r.json()["detail"] if r.url.path.startswith("/api/") else r.text
                assert "the database is not answering" in text and "Traceback" not in text, text[:300]
            api_detail = answers[0].json()["detail"]
            assert isinstance(api_detail, str) and "\n" not in api_detail and len(api_detail) < 400, api_detail
            assert (await client.get("/healthz")).status_code == 503, "/healthz says the database fails"

            pg.resume()
            up_at = time.time()

            async def answered() -> bool:
                return (await client.get("/api/events")).status_code == 200
            await _wait_for(answered, 30, "the web did not recover")

            async def caught_up() -> bool:  # the samples held in memory are written once it is back
                rows = (await client.get("/api/servers/outage-host/timeseries",
                                         params={"metric": "cpu_pct", "from": str(down_at - 2),
                                                 "to": str(up_at)})).json()
                return len(rows.get("points", [])) >= int(up_at - down_at) - 2
            await _wait_for(caught_up, 30, "samples taken during the outage were lost")
    finally:
        pg.stop()
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    started = [r for r in records if "is not answering" in r.getMessage()]
    ended = [r for r in records if "answers again" in r.getMessage()]
    assert len(started) == 1 and len(ended) == 1, [r.getMessage() for r in records]
    assert not [r for r in records if r.exc_info], "no traceback in the log"
