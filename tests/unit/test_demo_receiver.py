"""The demo's webhook receiver (collector/demo_receiver.py): loopback only, one JSON line a delivery."""
from __future__ import annotations

import asyncio
import json

import httpx

from collector.demo_receiver import DemoReceiver


def test_receiver_logs_each_post_and_refuses_the_rest(tmp_path):
    async def run() -> None:
        receiver = DemoReceiver(tmp_path / "got.jsonl")
        await receiver.start()
        try:
            assert receiver.url.startswith("http://127.0.0.1:") and receiver.url.endswith("/hook")
            async with httpx.AsyncClient(timeout=5) as client:
                r = await client.post(receiver.url, json={"alert": {"rule": "demo-gpu-hot"}})
                assert r.status_code == 200 and r.json() == {"ok": True}
                assert (await client.post(receiver.url, content=b"not json")).status_code == 200
                assert (await client.get(receiver.url)).status_code == 405
        finally:
            await receiver.stop()
        lines = [json.loads(line) for line in (tmp_path / "got.jsonl").read_text().splitlines()]
        assert [d["body"] for d in lines] == [{"alert": {"rule": "demo-gpu-hot"}}, "not json"]
        assert receiver.received == 2
        try:
            await asyncio.open_connection("127.0.0.1", receiver.port)
        except OSError:
            return
        raise AssertionError("still listening after stop()")

    asyncio.run(run())
