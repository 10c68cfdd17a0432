"""Alert notifiers (collector/notifiers/) against real local HTTP receivers on 127.0.0.1.

`build_request` is checked as a pure function (payload shapes, DingTalk's signature computed
independently here per DingTalk's robot docs); the Dispatcher is checked end to end through
httpx over real sockets: formats and order, retries with backoff, DingTalk's errcode, a hanging
receiver that must hold only its own notifier, refused connections, and secret-free errors/logs.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import socket
import time
import urllib.parse

import pytest
from pydantic import SecretStr

from collector.backoff import Backoff
from tests.support.http_receiver import Receiver
from collector.notifiers import Attempt, Dispatcher, Notification, build_request, webhook_payload
from inventory.alerting import NotifierConfig

OK_BODY = {"webhook": b"", "slack": b"ok", "dingtalk": b'{"errcode":0,"errmsg":"ok"}',
           "wecom": b'{"errcode":0,"errmsg":"ok"}'}
FAST = lambda: Backoff(base=0.05, cap=0.2)  # noqa: E731


def note(state: str = "firing", **kw) -> Notification:
    base = dict(alert_id=7, rule="gpu_hot", host_id="gpu-01", item="0", state=state, severity="critical",
                summary="gpu-01 GPU 0: gpu_temperature_c 85 °C > 80 °C for 2 min", value=85.0,
                threshold=80.0, metric="gpu_temperature_c", event=None, started_at=1700000000.0,
                at=1700000120.0 if state == "firing" else 1700000600.0, labels={"team": "ml"},
                link="https://hub.example/alerts/7")
    base.update(kw)
    return Notification(**base)


def dingtalk_sign(secret: str, ts: int) -> str:
    """DingTalk robot signing: base64(HmacSHA256(key=secret, "ts\\nsecret")), then URL-encoded."""
    string_to_sign = f"{ts}\n{secret}".encode("utf-8")
    code = hmac.new(secret.encode("utf-8"), string_to_sign, digestmod=hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(code))


async def until(cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


@pytest.fixture
async def receivers():
    made: list[Receiver] = []

    async def make(script=(), default=(200, b"")) -> Receiver:
        made.append(await Receiver(list(script), default).start())
        return made[-1]

    yield make
    for r in made:
        await r.close()


@pytest.fixture
async def dispatchers():
    made: list[Dispatcher] = []

    def make(**kw) -> Dispatcher:
        made.append(Dispatcher(**kw))
        return made[-1]

    yield make
    for d in made:
        await d.stop()


# ------------------------------------------------------------------ build_request (pure)

def test_webhook_payload_has_every_field_and_iso_times():
    spec = NotifierConfig(name="hook", type="webhook", url="https://x.example/h?t=1", headers={"X-Token": "abc"})
    url, headers, body = build_request(spec, note(), now_ms=1)
    assert url == "https://x.example/h?t=1"
    assert headers["Content-Type"] == "application/json; charset=utf-8" and headers["X-Token"] == "abc"
    doc = json.loads(body)
    assert (doc["version"], doc["source"], doc["status"]) == (1, "fleetwatch", "firing")
    a = doc["alert"]
    assert a["started_at"] == 1700000000.0 and a["started_at_iso"] == "2023-11-14T22:13:20Z"
    assert a["at"] == 1700000120.0 and a["at_iso"] == "2023-11-14T22:15:20Z"
    for name in ("alert_id", "rule", "host_id", "item", "state", "severity", "summary", "value",
                 "threshold", "metric", "event", "labels", "link"):
        assert a[name] == json.loads(json.dumps(getattr(note(), name))), name
    assert webhook_payload(note(value=math.nan))["alert"]["value"] is None  # never invalid JSON


def test_slack_format_and_escaping():
    spec = NotifierConfig(name="s", type="slack", url="https://hooks.slack.example/services/T/B/X")
    _, _, body = build_request(spec, note("resolved", item="<!channel> & <http://evil|x>"), now_ms=1)
    doc = json.loads(body)
    assert doc["text"].startswith("[RESOLVED] critical: gpu_hot on gpu-01")
    (block,) = doc["blocks"]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    text = block["text"]["text"]
    assert "*Host:* gpu-01" in text and "*Value:* 85 (threshold 80)" in text and "2023-11-14 22:23:20 UTC" in text
    assert "<!channel>" not in body.decode() and "&lt;!channel&gt; &amp;" in text
    assert "<https://hub.example/alerts/7|Open in fleetwatch>" in text


def test_dingtalk_signature_query_kept_and_secret_not_in_body():
    secret = "SEC0123456789abcdef"
    spec = NotifierConfig(name="d", type="dingtalk", url="https://oapi.dingtalk.com/robot/send?access_token=tok123",
                        secret=secret)
    url, _, body = build_request(spec, note(), now_ms=1700000000123)
    base, query = url.split("?", 1)
    assert base == "https://oapi.dingtalk.com/robot/send"
    assert query == f"access_token=tok123&timestamp=1700000000123&sign={dingtalk_sign(secret, 1700000000123)}"
    assert secret not in body.decode() and secret not in url
    doc = json.loads(body)
    assert doc["msgtype"] == "markdown" and doc["markdown"]["title"].startswith("[FIRING] critical: gpu_hot")
    assert "**Host:** gpu-01" in doc["markdown"]["text"] and "85 (threshold 80)" in doc["markdown"]["text"]
    # a stale signature pasted into the URL is replaced; without a secret the URL is unchanged
    url = spec.url.get_secret_value()
    stale = NotifierConfig(name="d", type="dingtalk", url=url + "&timestamp=1&sign=old", secret=secret)
    assert build_request(stale, note(), now_ms=5)[0].count("sign=") == 1
    plain = NotifierConfig(name="d", type="dingtalk", url=url)
    assert build_request(plain, note(), now_ms=5)[0] == url


def test_wecom_format_and_size_limit():
    spec = NotifierConfig(name="w", type="wecom", url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
    _, _, body = build_request(spec, note(), now_ms=1)
    doc = json.loads(body)
    assert doc["msgtype"] == "markdown" and set(doc["markdown"]) == {"content"}
    assert "[FIRING] critical: gpu_hot on gpu-01 (0)" in doc["markdown"]["content"]
    _, _, big = build_request(spec, note(summary="é" * 10000), now_ms=1)
    assert len(json.loads(big)["markdown"]["content"].encode()) <= 4096


def test_markdown_injection_is_neutralised():
    evil = note(item="[x](http://evil.example) <@all> <font color=red>", summary="line1\n# heading\n![i](http://e/i.png)")
    for kind in ("dingtalk", "wecom"):
        _, _, body = build_request(NotifierConfig(name=kind, type=kind, url="https://x.example/"), evil, now_ms=1)
        md = json.loads(body)["markdown"]
        text = md.get("text") or md["content"]  # DingTalk's title is plain text, not rendered
        assert "](http://e" not in text and "<@all>" not in text and "<font color=red>" not in text
        assert "\n# heading" not in text and "line1 # heading" in text


def test_unknown_type_is_refused():
    with pytest.raises(ValueError):
        NotifierConfig(name="x", type="pager", url="https://x.example/")
    # one built without validation is refused all the same
    pager = NotifierConfig.model_construct(name="x", type="pager", url=SecretStr("https://x.example/"))
    with pytest.raises(ValueError):
        build_request(pager, note(), now_ms=1)
    with pytest.raises(ValueError):
        Dispatcher().configure({"x": pager})


# ------------------------------------------------------------------ Dispatcher end to end

@pytest.mark.parametrize("kind", ["webhook", "slack", "dingtalk", "wecom"])
async def test_each_type_delivers_firing_then_resolved(kind, receivers, dispatchers):
    rx = await receivers(default=(200, OK_BODY[kind]))
    secret = "SECsecret-for-test" if kind == "dingtalk" else None
    spec = NotifierConfig(name=kind, type=kind, url=rx.url("/send?access_token=tok"), secret=secret)
    attempts: list[Attempt] = []
    d = dispatchers(on_attempt=attempts.append)
    d.configure({kind: spec})
    assert d.submit(kind, note("firing")) and d.submit(kind, note("resolved"))
    assert await d.drain(5)
    assert [r.method for r in rx.requests] == ["POST", "POST"]
    assert all(r.headers["content-type"] == "application/json; charset=utf-8" for r in rx.requests)
    first, second = (r.json() for r in rx.requests)
    if kind == "webhook":
        assert (first["status"], second["status"]) == ("firing", "resolved")
        assert second["alert"]["at_iso"] == "2023-11-14T22:23:20Z"
    elif kind == "slack":
        assert first["text"].startswith("[FIRING]") and second["text"].startswith("[RESOLVED]")
        assert first["blocks"][0]["text"]["type"] == "mrkdwn"
    elif kind == "dingtalk":
        assert [x["markdown"]["title"][:10] for x in (first, second)] == ["[FIRING] c", "[RESOLVED]"]
        for r in rx.requests:
            q = r.query()
            assert q["access_token"] == "tok"
            raw_sign = r.target.split("sign=", 1)[1]
            assert raw_sign == dingtalk_sign(secret, int(q["timestamp"]))
            assert abs(int(q["timestamp"]) / 1000 - time.time()) < 60
    else:
        assert first["markdown"]["content"].startswith('### <font color="warning">[FIRING]')
        assert second["markdown"]["content"].startswith('### <font color="info">[RESOLVED]')
    assert [(a.state, a.ok, a.final, a.status_code) for a in attempts] == [
        ("firing", True, True, 200), ("resolved", True, True, 200)]
    s = d.stats()[kind]
    assert (s["queued"], s["delivered"], s["failed"], s["last"]["state"]) == (0, 2, 0, "resolved")


async def test_three_500s_then_200_is_delivered_on_fourth_try(receivers, dispatchers):
    rx = await receivers(script=[(500, b"boom")] * 3)
    attempts: list[Attempt] = []

    def record(a: Attempt) -> None:
        attempts.append(a)
        raise RuntimeError("a broken callback must not stop delivery")

    d = dispatchers(on_attempt=record, backoff_factory=FAST)
    d.configure({"hook": NotifierConfig(name="hook", type="webhook", url=rx.url())})
    d.submit("hook", note())
    assert await d.drain(5)
    assert len(rx.requests) == 4
    assert [(a.attempt, a.ok, a.final, a.status_code) for a in attempts] == [
        (1, False, False, 500), (2, False, False, 500), (3, False, False, 500), (4, True, True, 200)]
    assert all(a.error == "HTTP 500: boom" and 0 < a.next_retry_s <= 0.2 for a in attempts[:3])
    assert attempts[3].next_retry_s is None and attempts[3].error is None
    gaps = [b.t - a.t for a, b in zip(rx.requests, rx.requests[1:])]
    assert all(g >= 0.02 for g in gaps)  # backoff really waited
    assert d.stats()["hook"]["delivered"] == 1


async def test_a_4xx_fails_at_once_and_frees_the_queue_but_429_is_retried(receivers, dispatchers):
    rx = await receivers(script=[(404, b"no_service"), (429, b"slow down"), (200, b"ok")])
    attempts: list[Attempt] = []
    d = dispatchers(on_attempt=attempts.append, backoff_factory=FAST)
    d.configure({"slack": NotifierConfig(name="slack", type="slack", url=rx.url("/services/T/B/x"))})
    d.submit("slack", note("firing"))
    d.submit("slack", note("resolved"))
    assert await d.drain(5)
    assert [(a.state, a.attempt, a.ok, a.final, a.status_code) for a in attempts] == [
        ("firing", 1, False, True, 404), ("resolved", 1, False, False, 429), ("resolved", 2, True, True, 200)]
    assert attempts[0].error == "HTTP 404: no_service" and attempts[0].next_retry_s is None
    s = d.stats()["slack"]
    assert (s["delivered"], s["failed"]) == (1, 1)


async def test_dingtalk_errcode_counts_as_failure(receivers, dispatchers):
    rx = await receivers(default=(200, b'{"errcode": 310000, "errmsg": "sign not match"}'))
    attempts: list[Attempt] = []
    d = dispatchers(on_attempt=attempts.append, backoff_factory=FAST)
    d.configure({"ding": NotifierConfig(name="ding", type="dingtalk", url=rx.url("/robot/send?access_token=t"),
                                      secret="SECx", max_attempts=2)})
    d.submit("ding", note())
    assert await d.drain(5)
    assert [(a.ok, a.final, a.status_code) for a in attempts] == [(False, False, 200), (False, True, 200)]
    assert "310000" in attempts[-1].error and "sign not match" in attempts[-1].error
    s = d.stats()["ding"]
    assert (s["delivered"], s["failed"], s["attempts"]) == (0, 1, 2)


async def test_hanging_receiver_holds_only_its_own_notifier(receivers, dispatchers):
    hung = await receivers(script=["hang", "hang"])
    good = await receivers(default=(200, b"ok"))
    attempts: list[Attempt] = []
    d = dispatchers(on_attempt=attempts.append, backoff_factory=FAST)
    d.configure({"hung": NotifierConfig(name="hung", type="webhook", url=hung.url(), timeout_s=0.5, max_attempts=2),
                 "good": NotifierConfig(name="good", type="slack", url=good.url())})
    lags: list[float] = []

    async def ticker() -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.02)
            lags.append(time.monotonic() - t - 0.02)

    tick = asyncio.create_task(ticker())
    try:
        d.submit("hung", note())
        await until(lambda: hung.requests)  # the hung notifier's request is in flight
        t0 = time.monotonic()
        d.submit("good", note())
        while not good.requests:
            await asyncio.sleep(0.005)
            assert time.monotonic() - t0 < 0.3, "a hanging notifier delayed another"
        assert await d.drain(5)
    finally:
        tick.cancel()
    hung_attempts = [a for a in attempts if a.notifier == "hung"]
    assert [(a.ok, a.final) for a in hung_attempts] == [(False, False), (False, True)]
    assert all(a.error == "timed out after 0.5 s" and 0.45 < a.duration_s < 1.0 for a in hung_attempts)
    assert [a.ok for a in attempts if a.notifier == "good"] == [True]
    assert len(lags) > 20 and max(lags) < 0.1


async def test_unknown_notifier_and_full_queue_are_refused(receivers, dispatchers, caplog):
    hung = await receivers(script=["hang"])
    d = dispatchers(queue_size=2)
    assert d.submit("nobody", note()) is False
    d.configure({"h": NotifierConfig(name="h", type="webhook", url=hung.url(), timeout_s=5)})
    assert d.submit("h", note())
    await until(lambda: hung.requests)  # the worker holds the first one
    assert d.submit("h", note()) and d.submit("h", note())
    with caplog.at_level(logging.WARNING, logger="collector.notifiers"):
        assert d.submit("h", note("resolved")) is False  # the newest is refused
    assert "queue full" in caplog.text
    s = d.stats()["h"]
    assert (s["queued"], s["dropped"]) == (3, 1)


def test_submit_and_configure_without_a_running_loop():
    d = Dispatcher(queue_size=1)
    d.configure({"h": NotifierConfig(name="h", type="webhook", url="http://127.0.0.1:9/")})
    assert d.submit("h", note()) is True and d.submit("h", note()) is False


async def test_configure_replace_keeps_queue_and_remove_stops_worker(receivers, dispatchers):
    hung = await receivers(script=["hang"])
    good = await receivers(default=(200, b""))
    d = dispatchers(backoff_factory=FAST)
    d.configure({"a": NotifierConfig(name="a", type="webhook", url=hung.url(), timeout_s=0.3, max_attempts=5)})
    for i in range(3):
        d.submit("a", note(alert_id=i))
    await until(lambda: hung.requests)
    d.configure({"a": NotifierConfig(name="a", type="webhook", url=good.url(), timeout_s=0.3, max_attempts=5)})
    assert await d.drain(5)
    # the in-flight one retried against the new URL; all three arrived, in order
    assert [r.json()["alert"]["alert_id"] for r in good.requests] == [0, 1, 2]
    task = d._notifiers["a"].task
    d.configure({})
    await asyncio.sleep(0)
    assert task.done() and "a" not in d.stats() and d.submit("a", note()) is False


async def test_stop_cancels_workers_and_refuses_more(receivers, dispatchers):
    hung = await receivers(script=["hang"])
    d = dispatchers()
    d.configure({"h": NotifierConfig(name="h", type="webhook", url=hung.url(), timeout_s=30)})
    d.submit("h", note())
    await until(lambda: hung.requests)
    t0 = time.monotonic()
    await d.stop()
    assert time.monotonic() - t0 < 0.5
    assert d.submit("h", note()) is False


async def test_errors_and_logs_never_show_the_url_secret(receivers, dispatchers, caplog):
    token, key = "T0kenInPath9876", "QueryKey5432"
    closed = socket.socket()  # bound but not listening: refuses, and no other server can take the port
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    echo = await receivers(default=(500, f"no hook /hooks/{token}?key={key} here".encode()))
    hang = await receivers(script=["hang"])
    attempts: list[Attempt] = []
    d = dispatchers(on_attempt=attempts.append, backoff_factory=FAST)
    path = f"/hooks/{token}?key={key}"
    d.configure({
        "refused": NotifierConfig(name="refused", type="webhook", url=f"http://127.0.0.1:{port}{path}", max_attempts=2),
        "echo": NotifierConfig(name="echo", type="wecom", url=echo.url(path), max_attempts=2),
        "hang": NotifierConfig(name="hang", type="slack", url=hang.url(path), timeout_s=0.3, max_attempts=1),
        "fine": NotifierConfig(name="fine", type="webhook", url=(await receivers()).url(path)),
    })
    with caplog.at_level(logging.DEBUG):
        for name in ("refused", "echo", "hang", "fine"):
            d.submit(name, note())
        assert await d.drain(5)
    by = {a.notifier: a for a in attempts}
    assert by["refused"].error == "connection refused" and by["refused"].final
    assert by["echo"].error.startswith("HTTP 500: no hook") and by["hang"].error == "timed out after 0.3 s"
    assert by["fine"].ok
    texts = [a.error or "" for a in attempts] + [r.getMessage() for r in caplog.records]
    texts += [json.dumps(d.stats())]
    assert not [t for t in texts if token in t or key in t]
    assert any(r.name == "httpx" and "HTTP Request" in r.getMessage() for r in caplog.records)
    closed.close()
