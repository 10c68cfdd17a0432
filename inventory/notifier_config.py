"""The pydantic model of one notifier of the inventory's ``notifiers:`` (SPEC section 4), and its checks.

The URL (a Slack or WeCom URL *is* the credential), the DingTalk ``secret`` and the header values
are :class:`~pydantic.SecretStr`: no repr, str or validation error shows them.  Code that sends
calls ``.get_secret_value()``; code that shows uses :func:`shown_url`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationInfo
from pydantic_core import PydanticCustomError

from .alert_models import _duration, _fail, _mapping, _named, _one_of, describe
from .patterns import _shown

NotifierType = Literal["webhook", "slack", "dingtalk", "wecom"]
NOTIFIER_TYPES: tuple[str, ...] = get_args(NotifierType)
# the keys a notifier may have (``timeout``: the attribute is timeout_s; the name is the entry's key)
NOTIFIER_KEYS = ("type", "url", "secret", "timeout", "max_attempts", "headers")

_HEADER_NAME_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}")
_MAX_TIMEOUT_S = 300.0
_MAX_URL = 2048


def shown_url(url: str) -> str:
    """What may be shown of a notifier URL: ``https://hooks.slack.com/…`` (never path, query or userinfo)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
    except ValueError:
        return "(unparsable URL)"
    return f"{_scheme(parts.scheme) or '?'}://{host}/…"


def _scheme(scheme: str) -> str:
    """The URL scheme, lower case, if it looks like one ("" otherwise: it could be anything pasted)."""
    return scheme.lower() if re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,15}", scheme or "") else ""


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(f"url must be a string like \"https://hooks.example.com/...\", got {describe(value)}")
    url = value.strip()
    if not url:
        raise _fail("url must not be empty: give the http:// or https:// URL to post to")
    if len(url) > _MAX_URL:
        raise _fail(f"url is {len(url)} characters long; at most {_MAX_URL} are allowed")
    if any(ord(c) <= 32 or ord(c) == 127 for c in url):
        raise _fail(f"url must not contain spaces or control characters ({shown_url(url)})")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise _fail("url cannot be parsed: expected http://HOST/... or https://HOST/...") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = _scheme(parts.scheme)
        raise _fail(f"url must start with http:// or https://, got {f'a {scheme!r} URL' if scheme else 'no scheme'}")
    if not host:
        raise _fail(f"url has no host: expected {parts.scheme.lower()}://HOST/...")
    return url


def _signing_secret(value: Any, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    if info.data.get("type") != "dingtalk":
        raise _fail("secret applies only to type dingtalk (its signing secret); slack and wecom "
                    "carry their key in the url, a webhook can send headers")
    if not isinstance(value, str) or not value.strip() or any(ord(c) < 32 for c in value):
        raise _fail("secret must be a non-empty string on one line (the SEC... signing secret of the DingTalk robot)")
    return value.strip()


def _timeout(value: Any) -> float:
    seconds = _duration(value)
    if not 0 < seconds <= _MAX_TIMEOUT_S:
        raise _fail(f"timeout must be more than 0 and at most {_MAX_TIMEOUT_S:g}s, got {_shown(value)}")
    return seconds


def _max_attempts(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise _fail(f"max_attempts must be a whole number from 1 to 20, got {_shown(value)}")
    return value


def _headers(value: Any, info: ValidationInfo) -> dict:
    if info.data.get("type") != "webhook":
        raise _fail("headers apply only to type webhook")
    return _mapping('headers must be a mapping like {Authorization: "Bearer ..."}')(value)


def _header_name(value: Any) -> str:
    if not isinstance(value, str) or not _HEADER_NAME_RE.fullmatch(value):
        raise _fail(f"invalid header name {_shown(value)}: allowed are letters, digits and !#$%&'*+.^_`|~-")
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or \
            any(ord(c) < 32 or ord(c) == 127 for c in str(value)):
        # worded by inventory.alerting, which knows the header's name; the value is never shown
        raise PydanticCustomError("header_value", "a header value must be a string on one line")
    return str(value)


class NotifierConfig(BaseModel):
    """One valid entry of ``notifiers:``, as collector.notifiers delivers with it."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, hide_input_in_errors=True)

    name: Annotated[str, BeforeValidator(_named("notifier"))]
    type: Annotated[NotifierType, BeforeValidator(_one_of("notifier type", NOTIFIER_TYPES))]
    url: Annotated[SecretStr, BeforeValidator(_url)]
    secret: Annotated[SecretStr | None, BeforeValidator(_signing_secret)] = None
    timeout_s: Annotated[float, BeforeValidator(_timeout)] = Field(10.0, alias="timeout")
    max_attempts: Annotated[int, BeforeValidator(_max_attempts)] = 8
    headers: Annotated[dict[Annotated[str, BeforeValidator(_header_name)],
                            Annotated[SecretStr, BeforeValidator(_header_value)]],
                       BeforeValidator(_headers)] = Field(default_factory=dict)

    @property
    def shown_url(self) -> str:
        """``https://hooks.slack.com/…``: what logs and the UI may show of the URL."""
        return shown_url(self.url.get_secret_value())
