"""The control channel between the web and the collectors: real TCP on loopback (issue 15)."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from collector import control_channel
from collector.control_channel import ControlServer, RefusedRequest
from collector.errors import Failure, HostError


async def _served(**handlers):
    server = ControlServer(handlers)
    await server.start()
    return server


async def test_a_request_with_the_secret_is_answered():
    async def echo(args):
        return {"got": args}
    server = await _served(echo=echo)
    try:
        assert server.url.startswith("tcp://127.0.0.1:")
        assert await control_channel.call(server.url, server.secret, "echo", {"x": [1, "é"]}) == {"got": {"x": [1, "é"]}}
    finally:
        await server.stop()


async def test_a_request_without_the_secret_is_refused_and_nothing_runs():
    ran = []

    async def probe(args):
        ran.append(args)
        return "probed"
    server = await _served(probe_now=probe)
    try:
        with pytest.raises(RefusedRequest, match="wrong secret"):
            await control_channel.call(server.url, "0" * 64, "probe_now", {"host": "a"})
        # a request made for another nonce (captured and replayed) is refused too
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await reader.readline()
        old_nonce = "f" * 32
        mac = control_channel._mac(server.secret, old_nonce, "probe_now", {"host": "a"})
        writer.write(orjson.dumps({"op": "probe_now", "args": {"host": "a"}, "mac": mac}) + b"\n")
        await writer.drain()
        answer = orjson.loads(await reader.readline())
        writer.close()
        assert answer == {"ok": False, "refused": True, "error": "wrong secret"}
        # and garbage gets an answer, not a crash
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        await reader.readline()
        writer.write(b"GET / HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert orjson.loads(await reader.readline())["refused"] is True
        writer.close()
        assert ran == [] and server.refused == 3
    finally:
        await server.stop()


async def test_errors_come_back_as_they_were_raised():
    async def down(args):
        raise HostError(Failure.TIMEOUT, f"no answer from {args['host']}")

    async def elsewhere(args):
        raise KeyError(args["host"])

    async def not_enabled(args):
        raise LookupError("no forward")
    server = await _served(down=down, elsewhere=elsewhere, not_enabled=not_enabled)
    try:
        with pytest.raises(HostError) as err:
            await control_channel.call(server.url, server.secret, "down", {"host": "gpu-1"})
        assert err.value.failure is Failure.TIMEOUT and "gpu-1" in err.value.message
        with pytest.raises(KeyError):
            await control_channel.call(server.url, server.secret, "elsewhere", {"host": "gpu-1"})
        with pytest.raises(LookupError):
            await control_channel.call(server.url, server.secret, "not_enabled", {})
        with pytest.raises(RefusedRequest, match="unknown operation"):
            await control_channel.call(server.url, server.secret, "format_disk", {})
    finally:
        await server.stop()


async def test_a_dead_collector_is_an_oserror():
    server = await _served()
    url = server.url
    await server.stop()
    with pytest.raises(OSError):
        await control_channel.call(url, server.secret, "anything", {})
