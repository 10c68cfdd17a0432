"""`GET /lang/{code}?next=/path`: the language switch; remembers the choice in a cookie and goes back."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse

from webapp import i18n

router = APIRouter(include_in_schema=False)


@router.get("/lang/{code}")
def choose_language(code: str, next: str = "/") -> RedirectResponse:
    """Sets `fw_lang` (a year, every path) and redirects to `next`, a path on this hub ("/" otherwise)."""
    if code not in i18n.CODES:
        raise HTTPException(404, detail=i18n.gettext("No such language: %(code)s.") % {"code": code[:20]})
    response = RedirectResponse(i18n.safe_next(next), status_code=303)
    response.set_cookie(i18n.COOKIE, code, max_age=i18n.COOKIE_MAX_AGE, path="/", samesite="lax", httponly=True)
    return response
