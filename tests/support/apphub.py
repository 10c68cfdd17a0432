"""A hub served in this test's event loop: uvicorn on a free loopback port and an authenticated client."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from collector.hub import Hub, HubOptions
from schema.db import make_engine
from schema.migrate import upgrade
from tests.support.hubproc import make_token
from tests.support.sshd import free_port


@dataclass
class ServedHub:
    hub: Hub
    client: httpx.AsyncClient  # sends an admin token
    base: str
    token: str
    engine: Any


@asynccontextmanager
async def served_hub(inventory: Path, db_url: str, *, options: HubOptions | None = None,
                     prefill: Callable[[Any], None] | None = None) -> AsyncIterator[ServedHub]:
    """Upgrade the database, start the hub, serve the app; everything stopped on the way out."""
    from webapp.app import create_app

    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    if prefill is not None:
        prefill(engine)
    hub = Hub(inventory, engine, options or HubOptions(backup_every_s=0, inventory_check_s=0.2))
    await hub.start()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(hub, manage_hub=False), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        token = make_token(db_url)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            yield ServedHub(hub=hub, client=client, base=base, token=token, engine=engine)
    finally:
        server.should_exit = True
        await task
        await hub.stop()
        engine.dispose()
