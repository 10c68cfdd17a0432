"""Errors as `{"detail": ...}` for the API and as a page for the browser; 4xx for bad input, never a traceback."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schema import db_health
from webapp import i18n
from webapp.i18n import N_, gettext

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """Input that parsed but makes no sense (a time range that ends before it starts)."""


def _validation_detail(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        # `input` may hold what the client sent, which can be large or binary: keep it short
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        out.append(item)
    return out


TITLES = {400: N_("Bad request"), 403: N_("Not allowed"), 404: N_("Not found"), 413: N_("Request too large"),
          422: N_("Invalid input"), 500: N_("Internal error"), 503: N_("Unavailable")}
CRASHED = N_("internal error in the hub; the hub's log has the details")
STARLETTE_DETAILS = (N_("Not Found"), N_("Method Not Allowed"))  # Starlette's own details, translated on pages


def _wants_page(req: Request) -> bool:
    """A browser asking for a page (not the API, not a static file) gets an HTML error."""
    path = req.url.path
    return not path.startswith(("/api/", "/static/", "/healthz", "/openapi")) and \
        "text/html" in req.headers.get("accept", "")


def _error(req: Request, detail, status_code: int, headers=None) -> Response:
    if _wants_page(req):
        from webapp.templating import render  # templates import this module's neighbours; load late

        token = i18n.activate(i18n.request_lang(req))  # the crash handler runs outside i18n.PickLanguage
        try:  # a detail the catalogue has (ours, Starlette's "Not Found") in the page's language
            message = gettext(detail) if isinstance(detail, str) else "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}" if isinstance(d, dict) else
                str(d) for d in detail)
            title = gettext(TITLES[status_code]) if status_code in TITLES else \
                gettext("Error %(code)s") % {"code": status_code}
        finally:
            i18n.deactivate(token)
        return render(req, "error.html", {"page": "", "status_code": status_code, "message": message,
                                          "title": title}, status_code=status_code)
    return JSONResponse({"detail": detail}, status_code=status_code, headers=headers)


def login_required(req: Request, exc) -> Response:
    from urllib.parse import quote

    target = req.url.path + (f"?{req.url.query}" if req.url.query else "")
    login = f"/login?next={quote(target, safe='')}"
    if req.headers.get("HX-Request") == "true":  # htmx: load the login page instead of swapping it in
        return Response(status_code=401, headers={"HX-Redirect": login})
    if _wants_page(req):
        return RedirectResponse(login, status_code=303)
    return JSONResponse({"detail": exc.message}, status_code=401, headers={"WWW-Authenticate": "Bearer"})


def install(app: FastAPI) -> None:
    from webapp.auth import LoginRequired

    app.add_exception_handler(LoginRequired, login_required)

    @app.exception_handler(SQLAlchemyError)
    async def _database(req: Request, exc: SQLAlchemyError) -> Response:
        """The database not answering is a 503 of one line, logged once per outage (schema.db_health)."""
        if not db_health.unavailable(exc):
            return await _crash(req, exc)
        health = db_health.tracker(req.app.state.engine)
        health.failed(exc)
        return _error(req, health.message(), 503, {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(req: Request, exc: RequestValidationError) -> Response:
        return _error(req, _validation_detail(exc), 422)

    @app.exception_handler(BadRequest)
    async def _bad(req: Request, exc: BadRequest) -> Response:
        return _error(req, str(exc), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException) -> Response:
        return _error(req, exc.detail, exc.status_code, exc.headers)

    @app.exception_handler(Exception)
    async def _crash(req: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", req.method, req.url.path)
        return _error(req, CRASHED, 500)
