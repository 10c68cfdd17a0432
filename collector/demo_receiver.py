"""The webhook receiver of `fleetwatch demo`: a tiny HTTP server on 127.0.0.1 that the demo's
notifier posts its alerts to, so the Alerts page shows deliveries with no receiver of your own.

It answers every POST with 200 and appends the body (JSON, or the text as sent) to a JSON-lines
file in the demo's folder, one line a delivery; anything else gets 405. Started and stopped with
the demo; it listens on loopback only, on a port the OS picks.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress
from pathlib import Path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
PATH = "/hook"
MAX_BODY = 256 * 1024  # a notification is a few hundred bytes
MAX_HEAD = 16 * 1024
READ_TIMEOUT_S = 10.0


class DemoReceiver:
    """`await start()`; `url` to post to; every delivery appended to `log_path`; `await stop()`."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.received = 0
        self.port = 0
        self._server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}{PATH}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await asyncio.wait_for(self._one(reader), READ_TIMEOUT_S)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                ConnectionError):
            status = 400
        reason = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 413: "Payload Too Large"}[status]
        body = json.dumps({"ok": status == 200}).encode()
        with suppress(ConnectionError, OSError):
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        writer.close()
        with suppress(ConnectionError, OSError):
            await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader) -> int:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        method = head.split(" ", 1)[0]
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if method != "POST":
            return 405
        if not 0 <= length <= MAX_BODY:
            return 413
        raw = await reader.readexactly(length)
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self.received += 1
        with self.log_path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"at": time.time(), "body": body}) + "\n")
        log.info("demo receiver: delivery %d", self.received)
        return 200
