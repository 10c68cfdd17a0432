"""The FastAPI application: REST API, HTML pages and their static files (SPEC section 5)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from collector.hub import Hub
from webapp import errors
from webapp.auth import guard
from webapp.database import size_thread_pool, web_engine
from webapp.gate import WebGate
from webapp.api import alerts, events, health, history, proxy, servers, timeseries
from webapp.pages import alerts as alerts_page, compare, events as events_page, history as history_page, hosts
from webapp.pages import overview
from webapp.pages import api_docs, login, servers as servers_page
from webapp.templating import STATIC_DIR

API_DESCRIPTION = """Agentless monitoring of Linux (GPU) servers over persistent SSH.

Times are epoch seconds (UTC) in fields named `ts`, `hour`, `*_at`, with an ISO 8601
copy in `*_iso`. Query parameters `from`/`to` take either form. Sizes are bytes,
rates bytes per second, percentages 0-100, temperatures °C. Errors are
`{"detail": ...}`: 4xx for bad input, 502/504 when a host cannot be reached.
"""


def create_app(hub: Hub, *, manage_hub: bool = True, stop_hub: bool | None = None) -> FastAPI:
    """An app serving `hub`; with `manage_hub` the app starts and stops it, with `stop_hub` only stops it."""
    stop = manage_hub if stop_hub is None else stop_hub

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        size_thread_pool()
        if manage_hub:
            await hub.start()
        try:
            yield
        finally:
            if stop:
                await hub.stop()
            app.state.engine.dispose()

    # the guard runs before every route; the docs are routes of ours so that it covers them too
    app = FastAPI(title="fleetwatch", version="0.1.0", description=API_DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(guard)], docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub
    app.state.engine = web_engine(hub.engine)
    errors.install(app)
    app.add_middleware(WebGate)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(api_docs.router)  # /docs: Swagger UI from our own static files, no CDN (air-gapped hubs)

    for module in (servers, proxy, timeseries, history, events, alerts, health):
        app.include_router(module.router)
    for module in (login, overview, hosts, compare, history_page, events_page, alerts_page, servers_page):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
