"""A real HTTP/1.1 receiver on 127.0.0.1 for notifier tests: records requests, answers per a script."""
from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    t: float  # time.monotonic() when it arrived
    wall: float = 0.0  # time.time() when it arrived

    def json(self):
        return json.loads(self.body)

    def query(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.target).query))


@dataclass
class Receiver:
    """An HTTP/1.1 receiver answering per `script` ((status, body) or "hang"), then `default`."""
    script: list = field(default_factory=list)
    default: tuple[int, bytes] = (200, b"")
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    async def start(self) -> Receiver:
        self._release = asyncio.Event()
        self._writers: list[asyncio.StreamWriter] = []
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            while True:  # keep-alive: several requests per connection
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, target, _ = head[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in head[1:] if ":" in l)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Request(method, target, headers, body, time.monotonic(), time.time()))
                answer = self.script.pop(0) if self.script else self.default
                if answer == "hang":
                    await self._release.wait()
                    return
                status, out = answer
                writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n" % (status, len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        self._release.set()
        self.server.close()
        for w in self._writers:
            w.close()
        await asyncio.sleep(0)
