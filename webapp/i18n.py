"""The pages' languages: English (the msgids, as written in the templates) and Simplified Chinese.

- **Which.** `negotiate`: the `fw_lang` cookie (set by `GET /lang/{code}`, the switch) over the browser's
  `Accept-Language` (q-values honoured) over English. `zh`, `zh-CN`, `zh-SG`, `zh-Hans-*` mean Simplified
  Chinese; `zh-TW`, `zh-HK`, `zh-MO` and `zh-Hant-*` ask for Traditional Chinese, which the hub does not have:
  they do not match, the browser's next choice is tried, then English (the switch still offers 中文).
- **Catalogue.** webapp/locale/zh_Hans/LC_MESSAGES/messages.po, the source form kept in git, read once when
  this module is imported and compiled in memory (`babel.messages.pofile.read_po` → `write_mo` → a gettext
  `Translations`): no binary .mo in git that could fall behind the .po, nothing to build at install time,
  a few milliseconds at startup; a broken .po fails the import, not a page. docs/i18n.md: how to extract and
  update it.
- **Per request.** A context variable holds the request's language: `PickLanguage` (the app's middleware) sets
  it for the whole request, so strings worded in Python (`gettext`) follow it too (FastAPI runs sync handlers
  in worker threads with a copy of the context), and `webapp.templating.render` sets it again around the
  render (error pages are rendered outside the middleware). Jinja's `_()`/`{% trans %}` call `gettext` and
  `ngettext` here.
- **Formatting.** `format_number`, `format_date`, `format_datetime`: Babel's per locale for Chinese; English
  keeps the hub's plain forms (`1234.50`, ISO 8601) as before this module, since pages and tests rely on them.
"""
from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar, Token
from datetime import datetime, timezone
from functools import lru_cache, wraps
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

from babel import Locale
from babel.dates import format_date as _babel_date, format_datetime as _babel_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from schema.timeutil import iso

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
COOKIE = "fw_lang"
COOKIE_MAX_AGE = 400 * 86400  # browsers cap a cookie's life at 400 days
DEFAULT = "en"
LANGS = (("en", "English"), ("zh", "中文"))  # the switch's choices: code, the language's own name
CODES = frozenset(code for code, _name in LANGS)
CATALOGUE_DIRS = {"zh": "zh_Hans"}  # language -> the catalogue's folder under LOCALE_DIR
BABEL_LOCALES = {"en": Locale.parse("en"), "zh": Locale.parse("zh_Hans_CN")}
HTML_LANGS = {"en": "en", "zh": "zh-Hans"}  # <html lang="...">
MAX_ACCEPT = 32  # an Accept-Language of more languages than this is cut (a header is attacker input)

_lang: ContextVar[str] = ContextVar("fleetwatch_lang", default=DEFAULT)


# --------------------------------------------------------------------------- choosing the language
def parse_accept_language(header: str | None) -> list[str]:
    """The header's language tags, most wanted first (q-values; ties keep their order), lower case;
    q=0 ("not this one") and malformed entries are left out."""
    wanted = []
    for pos, item in enumerate((header or "").split(",")[:MAX_ACCEPT]):
        tag, _sep, params = item.strip().partition(";")
        tag = tag.strip().lower().replace("_", "-")
        if not tag or len(tag) > 35 or not all(part.isalnum() for part in tag.split("-")) and tag != "*":
            continue
        q = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
        if not 0 < q <= 1:
            continue
        wanted.append((-q, pos, tag))
    return [tag for _q, _pos, tag in sorted(wanted)]


def lang_of_tag(tag: str) -> str | None:
    """A language tag's page language: "zh" for Simplified Chinese, "en" for English, None when the hub has
    no page language for it (Traditional Chinese included: zh-TW, zh-HK, zh-MO, zh-Hant)."""
    parts = tag.lower().replace("_", "-").split("-")
    if parts[0] == "en":
        return "en"
    if parts[0] != "zh":
        return None
    rest = set(parts[1:])
    if "hant" in rest or ({"tw", "hk", "mo"} & rest and "hans" not in rest):
        return None
    return "zh"


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The page language: the switch's cookie, else the browser's first language the hub has, else English."""
    if cookie in CODES:
        return cookie
    for tag in parse_accept_language(accept_language):
        lang = lang_of_tag(tag)
        if lang is not None:
            return lang
    return DEFAULT


def request_lang(request) -> str:
    """The language of a Starlette request."""
    return negotiate(request.cookies.get(COOKIE), request.headers.get("accept-language"))


def safe_next(target: str | None) -> str:
    """Where the switch sends the browser back to: a path on this hub, else "/" (no open redirect:
    `//evil.example`, `https://...`, `/\\evil`, control characters all give "/")."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):  # browsers drop tabs and newlines: "/\t/evil"
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


# --------------------------------------------------------------------------- the catalogues
def catalogue_path(lang: str) -> Path:
    return LOCALE_DIR / CATALOGUE_DIRS[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_po(path: Path) -> Translations:
    """A .po file compiled in memory (fuzzy entries left out, as msgfmt does)."""
    with path.open("rb") as f:
        catalog = read_po(f, domain=DOMAIN)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(buf, domain=DOMAIN)


@lru_cache(maxsize=None)
def translations(lang: str) -> _gettext.NullTranslations:
    if lang not in CATALOGUE_DIRS:
        return _gettext.NullTranslations()  # English: the msgids themselves
    return compile_po(catalogue_path(lang))


for _code in CATALOGUE_DIRS:  # at import (startup): a broken catalogue stops the hub, not a page
    translations(_code)


# --------------------------------------------------------------------------- the request's language
def current() -> str:
    return _lang.get()


def activate(lang: str) -> Token:
    return _lang.set(lang if lang in CODES else DEFAULT)


def deactivate(token: Token) -> None:
    _lang.reset(token)


def gettext(message: str) -> str:
    return translations(_lang.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_lang.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A message that English words the same in two places and Chinese does not ("Name": 用户名, 名称)."""
    return translations(_lang.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_lang.get()).npgettext(context, singular, plural, n)


def speaking(method):
    """A method that runs in its object's language (`self.lang`), whichever thread or task calls it: the live
    pages (webapp/live_pages.py) build and render outside any request."""
    @wraps(method)
    def run(self, *args, **kwargs):
        token = activate(self.lang)
        try:
            return method(self, *args, **kwargs)
        finally:
            deactivate(token)
    return run


def N_(message: str) -> str:
    """Marks a string for the catalogue where it is defined; `gettext` translates it where it is shown."""
    return message


class PickLanguage:
    """ASGI middleware: the request's language in the context variable while the app answers it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
        token = activate(negotiate(cookie, headers.get("accept-language")))
        try:
            await self.app(scope, receive, send)
        finally:
            deactivate(token)


# --------------------------------------------------------------------------- words the pages show as data
# States, severities and event types are stored and sent in English (the API, data-* attributes, filters);
# the pages show them through `word`, which translates the known ones and leaves any other text as it is.
WORDS = frozenset({
    # host states (collector/host_state.py)
    N_("connecting"), N_("up"), N_("degraded"), N_("down"), N_("auth_failed"), N_("host_key_mismatch"),
    N_("unreachable"),
    # alert states and severities (schema/alert_models.py)
    N_("pending"), N_("firing"), N_("resolved"), N_("critical"), N_("warning"), N_("info"),
    # service unit states (systemd)
    N_("active"), N_("reloading"), N_("inactive"), N_("failed"), N_("activating"), N_("deactivating"),
    N_("not found"),  # a watched unit the host does not list (webapp/pages/servers.py, discovering services)
    # event types (schema/models.py EVENT_TYPES)
    N_("host_down"), N_("host_up"), N_("service_failed"), N_("service_recovered"), N_("host_rebooted"),
    N_("gpu_hot"), N_("gpu_lost"), N_("gpu_ecc_error"), N_("gpu_throttled"), N_("proxy_down"), N_("proxy_up"),
})


def word(value) -> str:
    """A state, severity or event type in the page's language; other values unchanged."""
    text = "" if value is None else str(value)
    return gettext(text) if text in WORDS else text


# --------------------------------------------------------------------------- numbers and dates
def format_number(value: float | int | None, digits: int | None = None, missing: str = "–") -> str:
    """A number for the page's language: `digits` decimals (None: as many as it has, integers none)."""
    if value is None:
        return missing
    lang = _lang.get()
    if lang == "en":
        return f"{value:.{digits}f}" if digits is not None else str(value)
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=BABEL_LOCALES[lang])


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def format_datetime(ts: float | None, missing: str = "") -> str:
    """Epoch seconds as a UTC date and time: ISO 8601 in English, Babel's medium form otherwise
    (zh: 2026年11月21日 10:15:00)."""
    if ts is None:
        return missing
    lang = _lang.get()
    if lang == "en":
        return iso(ts)
    return _babel_datetime(_utc(ts), "medium", tzinfo=timezone.utc, locale=BABEL_LOCALES[lang])


def format_date(ts: float | None, missing: str = "") -> str:
    """Epoch seconds as a UTC day: 2026-11-21 in English, Babel's medium form otherwise (zh: 2026年11月21日)."""
    if ts is None:
        return missing
    lang = _lang.get()
    if lang == "en":
        return _utc(ts).strftime("%Y-%m-%d")
    return _babel_date(_utc(ts), "medium", locale=BABEL_LOCALES[lang])
