"""Secret hygiene of the notifiers: webhook URLs are secrets (tokens live in their paths and queries),
and so are a DingTalk secret and a webhook's header values. None of them may appear in an `Attempt`'s
error, in our log lines, or in httpx's own "HTTP Request:" log line (redacted by a filter on the
`httpx` logger, for requests sent by a notifier worker only).
"""
from __future__ import annotations

import contextvars
import logging
from urllib.parse import parse_qsl, unquote, urlsplit

from .formats import one_line

_IN_WORKER: contextvars.ContextVar[bool] = contextvars.ContextVar("fleetwatch_notifier", default=False)


def mark_notifier_task() -> None:
    """Called first thing in a notifier worker task: httpx's log lines from this task are redacted."""
    _IN_WORKER.set(True)


class _RedactHttpxUrls(logging.Filter):
    """httpx logs 'HTTP Request: POST <full url> ...' at INFO; for notifier requests the path and
    query (the webhook's token) become '/…'. Runs in the logging caller's context, hence the
    contextvar set by the workers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _IN_WORKER.get() and isinstance(record.args, tuple) and len(record.args) >= 2:
            record.args = (record.args[0], _redact(str(record.args[1])), *record.args[2:])
        return True


def install_httpx_filter() -> None:
    """Put the URL filter on the `httpx` logger (once per process)."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactHttpxUrls())


def _redact(url: str) -> str:
    try:
        p = urlsplit(url)
        return f"{p.scheme}://{p.hostname or ''}{f':{p.port}' if p.port else ''}/…"
    except ValueError:
        return "<url>"


def _tokenish(piece: str) -> bool:
    """Could this path segment or query value be a secret? Plain short words ('robot', 'send',
    'services') are not: replacing them would garble receivers' error texts."""
    return len(piece) >= 4 and not (piece.isalpha() and piece.islower() and len(piece) < 16)


def scrub(text: str, url: str) -> str:
    """Text from a receiver or an exception, one line, without the URL, its path or query, or any
    token-like path segment or query value (URL-decoded or not)."""
    text = one_line(text)
    p = urlsplit(url)
    pieces = {s for s in p.path.split("/")} | {v for _, v in parse_qsl(p.query, keep_blank_values=True)}
    pieces = {x for x in pieces | {unquote(x) for x in pieces} if _tokenish(x)} | {url, p.path, p.query}
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 4:
            text = text.replace(piece, "…")
    return text


def exception_text(exc: BaseException, timeout_s: float, url: str) -> str:
    """A failed attempt's exception as a short, secret-free error text."""
    import httpx

    if isinstance(exc, (TimeoutError, httpx.TimeoutException)):
        return f"timed out after {timeout_s:g} s"
    detail = str(exc) or type(exc).__name__
    chain, cur = [], exc
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    low = " ".join(str(e).lower() for e in chain)
    if isinstance(exc, (httpx.ConnectError, OSError)):
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in low:
            return "connection refused"
        if "name or service" in low or "nodename" in low or "getaddrinfo" in low:
            return "name resolution failed"
        if "ssl" in low or "certificate" in low:
            return scrub(f"TLS error: {detail}", url)[:200]
        return scrub(f"connection failed: {detail}", url)[:200]
    if isinstance(exc, httpx.RemoteProtocolError):
        return scrub(f"protocol error: {detail}", url)[:200]
    return scrub(f"{type(exc).__name__}: {detail}", url)[:200]
