"""The FastAPI application: REST API, HTML pages and their static files (SPEC section 5)."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from webapp import errors, i18n
from webapp.auth import guard
from webapp.database import size_thread_pool, web_engine
from webapp.fleet_source import FleetSource
from webapp.gate import GateCounts, WebGate
from webapp.live_feed import Feed, note_version
from webapp.api import alerts, events, gpus, health, history, metrics, proxy, servers, timeseries
from webapp.pages import alerts as alerts_page, compare, events as events_page, history as history_page, hosts
from webapp.pages import gpus as gpus_page, overview
from webapp.pages import api_docs, host_marks, lang, login, servers as servers_page, stream
from webapp.templating import STATIC_DIR

API_DESCRIPTION = """Agentless monitoring of Linux (GPU) servers over persistent SSH.

Times are epoch seconds (UTC) in fields named `ts`, `hour`, `*_at`, with an ISO 8601
copy in `*_iso`. Query parameters `from`/`to` take either form. Sizes are bytes,
rates bytes per second, percentages 0-100, temperatures °C. Errors are
`{"detail": ...}`: 4xx for bad input, 502/504 when a host cannot be reached.
"""


def hub_source(hub, *, manage_hub: bool = True, stop_hub: bool | None = None) -> FleetSource:
    """The fleet of a hub running in this process (tests, `demo`): its watcher, live requests straight to it."""
    from collector.control import LocalControl

    stop = manage_hub if stop_hub is None else stop_hub
    return FleetSource(db_url=hub.engine.url.render_as_string(hide_password=False), watcher=hub.watcher,
                       control=LocalControl(hub), key_dirs=hub.options.key_dirs,
                       on_start=hub.start if manage_hub else None, on_stop=hub.stop if stop else None)


def create_app(fleet, *, manage_hub: bool = True, stop_hub: bool | None = None,
               metrics_public: bool = False) -> FastAPI:
    """An app serving `fleet`: a FleetSource, or a `collector.hub.Hub` in this process (with `manage_hub` the
    app starts and stops it, with `stop_hub` only stops it). The web process of `serve` never imports the
    Hub (nor asyncssh): it holds no SSH connection. `metrics_public`: /metrics answers without a token."""
    if not isinstance(fleet, FleetSource):
        fleet = hub_source(fleet, manage_hub=manage_hub, stop_hub=stop_hub)
    source = fleet

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        size_thread_pool()
        if source.on_start is not None:
            await source.on_start()
        try:
            yield
        finally:
            await app.state.live_feed.close()
            if source.on_stop is not None:
                await source.on_stop()
            app.state.engine.dispose()

    # the guard runs before every route; the docs are routes of ours so that it covers them too
    app = FastAPI(title="fleetwatch", version="0.1.0", description=API_DESCRIPTION, lifespan=lifespan,
                  dependencies=[Depends(guard), Depends(note_version)], docs_url=None, redoc_url=None, openapi_url=None)
    if source.engine is None:
        source.engine = web_engine(source.db_url)
    app.state.fleet = source
    app.state.engine = source.engine
    app.state.metrics_public = metrics_public
    app.state.live_feed = Feed()  # the pages' server-sent events (webapp/pages/stream.py)
    app.state.gate_counts = GateCounts()  # the gate's counts, for /metrics
    errors.install(app)
    app.add_middleware(WebGate, counts=app.state.gate_counts)
    app.add_middleware(i18n.PickLanguage)  # the request's language for every handler (webapp/i18n.py)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    app.include_router(api_docs.router)  # /docs: Swagger UI from our own static files, no CDN (air-gapped hubs)

    for module in (servers, proxy, timeseries, history, events, alerts, gpus, health, metrics):
        app.include_router(module.router)
    for module in (login, overview, hosts, host_marks, gpus_page, compare, history_page, events_page, alerts_page,
                   servers_page, lang, stream):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
