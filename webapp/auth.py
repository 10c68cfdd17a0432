"""Who may do what (SPEC section 6): every route asks for a login session or an API token.

`webapp.gate.WebGate` looks the principal up before anything of the request
is read: a bearer token (`Authorization: Bearer fw_...`) or the session cookie
names it; none: 401 for the API, a redirect to /login for pages. `guard` then
runs before every route of the app (a dependency of the whole app):
- state-changing methods need the admin role (403 for a viewer);
- with a session cookie they also need the session's CSRF token, in the
  `X-CSRF-Token` header (htmx sends it from `hx-headers`) or the `csrf_token`
  form field: a cross-site form cannot know it (403 without it).
Open without a login: /healthz, /login and the static files (CSS, scripts).
"""
from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from schema import auth
from schema.auth import Principal
from webapp.gate import public_metrics

SESSION_COOKIE = "fleetwatch_session"
SESSION_TTL_S = 12 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_PATHS = frozenset({"/healthz", "/login"})
ANY_ROLE_PATHS = frozenset({"/logout"})  # a viewer may end their own session
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


class LoginRequired(Exception):
    """No valid session or token: the API answers 401, a page sends the browser to /login."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def bearer(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def principal_of(request: Request, session: Session) -> Principal | None:
    """The token's or the session's principal, or None."""
    now = time.time()
    token = bearer(request)
    if token is not None:
        return auth.token_principal(session, token, now)
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.session_principal(session, cookie, now) if cookie else None


async def _csrf_ok(request: Request, expected: str | None) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette keeps it: the route reads the same form
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return auth.same_secret(given, expected)


def lookup_principal(request: Request, engine: Engine) -> Principal | None:
    """`principal_of` on a session of its own: blocking, so the gate runs it in a worker thread."""
    if bearer(request) is None and not request.cookies.get(SESSION_COOKIE):
        return None  # nothing to look up: no database work for an anonymous request
    with Session(engine) as session:
        return principal_of(request, session)


async def guard(request: Request) -> None:
    """The check in front of every route (see the module docstring); no database work of its own."""
    if request.url.path in OPEN_PATHS or public_metrics(request.scope):
        return
    who = current(request)
    if who is None:  # the gate found nobody: it answered already; this is the fallback
        raise LoginRequired("log in first, or send an API token as `Authorization: Bearer ...`")
    if request.method in SAFE_METHODS:
        return
    if not who.is_admin and request.url.path not in ANY_ROLE_PATHS:
        raise HTTPException(403, detail=f"{who.name} is a viewer: viewers may look, only admins change things")
    if who.kind == "session" and not await _csrf_ok(request, who.csrf_token):
        raise HTTPException(403, detail="missing or wrong CSRF token: reload the page and try again")


def current(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


PrincipalDep = Annotated[Principal | None, Depends(current)]
