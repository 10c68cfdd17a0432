"""`/login` and `/logout`: a session cookie for the browser, throttled against password guessing."""
from __future__ import annotations

import asyncio
import logging
import time

import anyio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from schema import auth
from webapp.auth import SESSION_COOKIE, SESSION_TTL_S, current
from webapp.login_throttle import LoginThrottle, Refusal
from webapp.i18n import gettext
from webapp.templating import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


def _throttle(request: Request) -> LoginThrottle:
    app_state = request.app.state
    if not hasattr(app_state, "login_throttle"):
        app_state.login_throttle = LoginThrottle()
    return app_state.login_throttle


def _safe_next(target: str | None) -> str:
    """Only a path on this hub: `//evil.example` or `https://...` would send the user elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _client(request: Request) -> str:
    """The socket peer (uvicorn puts a forwarded address here only from --forwarded-allow-ips proxies)."""
    return request.client.host if request.client else "unknown"


def _no_users(request: Request) -> bool:
    with Session(request.app.state.engine) as session:
        return auth.count_users(session) == 0


def _page(request: Request, *, next_url: str, name: str = "", problem: str | None = None, status_code: int = 200,
          no_users: bool = False):
    return render(request, "login.html", {"page": "login", "next": next_url, "name": name, "problem": problem,
                                          "no_users": no_users}, status_code=status_code)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/"):
    """The login form."""
    return _page(request, next_url=_safe_next(next), no_users=_no_users(request))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request):
    """Check the name and password; on success a session cookie and back to where the user was going."""
    form = await request.form()
    name, password = str(form.get("name", "")).strip(), str(form.get("password", ""))
    next_url = _safe_next(str(form.get("next", "/")))
    throttle, client, now = _throttle(request), _client(request), time.time()
    verdict = throttle.reserve(client, now)  # counted before the check: parallel tries gain nothing
    if isinstance(verdict, Refusal):
        log.warning("login refused for %r from %s: %s", name, client,
                    f"locked for {verdict.wait_s:.0f} s more" if verdict.wait_s else "another try in flight")
        return _page(request, next_url=next_url, name=name, status_code=429, problem=verdict.message)
    engine = request.app.state.engine

    def check():
        with Session(engine) as session:
            user = auth.authenticate(session, name, password)
            return None if user is None else auth.start_session(session, user, now, SESSION_TTL_S)

    try:
        cookie = await anyio.to_thread.run_sync(check)  # argon2 takes ~50 ms: off the event loop
        if cookie is None:
            log.warning("login failed for %r from %s (%d in a row)", name, client, throttle.failures(client))
            await asyncio.sleep(verdict.delay_s)  # still holding this address's one slot
            no_users = await anyio.to_thread.run_sync(_no_users, request)
            return _page(request, next_url=next_url, name=name, status_code=401, no_users=no_users,
                         problem=gettext("Wrong name or password."))
    finally:
        throttle.release(client)
    throttle.succeeded(client)
    log.info("login: %s from %s", name, client)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, max_age=int(SESSION_TTL_S), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
def logout(request: Request):
    """End this session."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and current(request) is not None:
        with Session(request.app.state.engine) as session:
            auth.end_session(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
