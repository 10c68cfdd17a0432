"""The control channel: the web's live requests to the collector that owns a host, across processes and machines.

A collector worker listens on a TCP port (loopback by default; `serve
--control-host` for members on other machines) and records `tcp://HOST:PORT`
and a random secret in its `hub_processes` row. One request per connection,
JSON lines:

    server -> {"nonce": "<32 hex>"}
    client -> {"op": "...", "args": {...}, "mac": HMAC-SHA256(secret, nonce + op + args)}
    server -> {"ok": true, "result": ...} | {"ok": false, "error": "...", ...}

The secret never crosses the wire, and a captured request cannot be replayed
(the nonce is new each time). Whoever can read the database can use the
channel: the database is the hub's trust root anyway (it holds the users).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from collector.errors import Failure, HostError

log = logging.getLogger(__name__)

MAX_LINE = 1 << 20  # a request or answer line (an answer holds a full report: ~10 KB)
IO_TIMEOUT_S = 10.0

Handler = Callable[[dict[str, Any]], Awaitable[Any]]


def _mac(secret: str, nonce: str, op: str, args: dict[str, Any]) -> str:
    body = nonce.encode() + op.encode() + orjson.dumps(args, option=orjson.OPT_SORT_KEYS)
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class RefusedRequest(Exception):
    """The channel refused the request (wrong secret, unknown operation): a problem of ours, not the host's."""


class ControlServer:
    """Serves `handlers[op](args)` to clients that know the secret."""

    def __init__(self, handlers: dict[str, Handler], *, host: str = "127.0.0.1", port: int = 0,
                 advertise: str | None = None) -> None:
        self.handlers = handlers
        self.host, self.port = host, port
        self.advertise = advertise  # the address others should dial, when it differs from the bound one
        self.secret = secrets.token_hex(32)
        self.refused = 0
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        host = self.advertise or self.host
        return f"tcp://[{host}]:{self.port}" if ":" in host else f"tcp://{host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_LINE)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            nonce = secrets.token_hex(16)
            writer.write(orjson.dumps({"nonce": nonce}) + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S)
            answer = await self._answer(nonce, line)
            writer.write(orjson.dumps(answer, default=str) + b"\n")
            await writer.drain()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            pass  # the client went away or sent nonsense: nothing to answer
        finally:
            writer.close()

    async def _answer(self, nonce: str, line: bytes) -> dict[str, Any]:
        try:
            request = orjson.loads(line)
            op, args, mac = request["op"], request.get("args") or {}, request["mac"]
            if not isinstance(op, str) or not isinstance(args, dict) or not isinstance(mac, str):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            self.refused += 1
            return {"ok": False, "refused": True, "error": "not a control request"}
        if not hmac.compare_digest(mac, _mac(self.secret, nonce, op, args)):
            self.refused += 1
            log.warning("control channel: a request without the right secret was refused")
            return {"ok": False, "refused": True, "error": "wrong secret"}
        handler = self.handlers.get(op)
        if handler is None:
            return {"ok": False, "refused": True, "error": f"unknown operation {op!r}"}
        try:
            return {"ok": True, "result": await handler(args)}
        except HostError as err:
            return {"ok": False, "failure": err.failure.value, "error": err.message}
        except KeyError as exc:
            return {"ok": False, "missing": True, "error": f"not here: {exc}"}
        except LookupError as exc:
            return {"ok": False, "lookup": True, "error": str(exc)}
        except Exception as exc:  # one request's surprise must not stop the channel
            log.exception("control channel: %s failed", op)
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}


async def call(url: str, secret: str, op: str, args: dict[str, Any] | None = None, *,
               timeout: float = 60.0) -> Any:
    """Ask the collector at `url`; its result, or the error it answered raised as it was raised there
    (HostError, KeyError, LookupError), RefusedRequest, or OSError when it cannot be reached."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
        raise OSError(f"not a control channel address: {url!r}")
    args = args or {}
    reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port, limit=MAX_LINE),
                                            IO_TIMEOUT_S)
    try:
        hello = orjson.loads(await asyncio.wait_for(reader.readline(), IO_TIMEOUT_S))
        nonce = hello["nonce"]
        writer.write(orjson.dumps({"op": op, "args": args, "mac": _mac(secret, nonce, op, args)}) + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    if not line:
        raise OSError(f"the collector at {url} closed the channel without answering")
    answer = orjson.loads(line)
    if answer.get("ok"):
        return answer.get("result")
    if answer.get("failure"):
        raise HostError(Failure(answer["failure"]), answer.get("error", ""))
    if answer.get("missing"):
        raise KeyError(answer.get("error"))
    if answer.get("lookup"):
        raise LookupError(answer.get("error"))
    raise RefusedRequest(answer.get("error") or "refused")
