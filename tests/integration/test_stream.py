"""The pages' server-sent-events streams (issue 18 item 3) from a real hub: login, only what changed (cards, or
the table's rows), resume after a reconnect, heartbeat, the server ending a stream, and the cap on open streams.

The hub of tests/support/webhub.py ends its streams after 12 s and beats every 3 s (STREAM_ENV).
"""
from __future__ import annotations

import re
import socket
import time
from dataclasses import dataclass, field

import httpx
import orjson
from bs4 import BeautifulSoup
from prometheus_client.parser import text_string_to_metric_families

from webapp.gate import MAX_STREAMS


@dataclass
class Stream:
    events: list[dict] = field(default_factory=list)  # {"event", "data", "id"}
    comments: list[str] = field(default_factory=list)
    ended: bool = False  # the server closed it
    status: int = 0
    headers: dict = field(default_factory=dict)


def read_stream(url: str, path: str, seconds: float, headers: dict | None = None, until=None) -> Stream:
    """Read `path` as an EventSource would for up to `seconds` (or until `until(stream)` is true)."""
    out = Stream()
    current: dict = {}
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=seconds + 5)) as client:
        with client.stream("GET", path, headers={"Accept": "text/event-stream", **(headers or {})}) as resp:
            out.status, out.headers = resp.status_code, dict(resp.headers)
            if resp.status_code != 200:
                resp.read()
                out.events.append({"data": resp.text})
                return out
            for line in resp.iter_lines():
                if line.startswith(":"):
                    out.comments.append(line)
                elif line == "":
                    if current:
                        out.events.append(current)
                    current = {}
                else:
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    current[name] = current[name] + "\n" + value if name == "data" and name in current else value
                if time.monotonic() > deadline or (until is not None and until(out)):
                    return out
            out.ended = True
    return out


def auth(web_hub) -> dict:
    return {"Authorization": f"Bearer {web_hub.hub.token}"}


def updates(stream: Stream) -> list[str]:
    return [e["data"] for e in stream.events if e.get("event") == "update"]


def cards_in(html: str) -> dict[str, str]:
    """The cards of an update, by host, without their last-seen footer (which changes at every poll)."""
    doc = BeautifulSoup(html, "html.parser")
    out = {}
    for card in doc.select("article.card"):
        for footer in card.select("footer"):
            footer.decompose()
        out[card["data-host"]] = str(card)
    return out


def last_id(stream: Stream) -> str:
    return [e["id"] for e in stream.events if "id" in e][-1]


def test_a_stream_needs_a_login(web_hub):
    for headers in ({}, {"Authorization": "Bearer fw_not_a_token"}):
        s = read_stream(web_hub.url, "/stream/overview", 5, headers)
        assert s.status == 401 and "detail" in s.events[0]["data"], s
    s = read_stream(web_hub.url, "/stream/hosts/nobody", 5, auth(web_hub))
    assert s.status == 404 and "nobody" in s.events[0]["data"]


def test_overview_stream_sends_the_section_then_only_changed_cards(web_hub):
    s = read_stream(web_hub.url, "/stream/overview", 16, auth(web_hub),
                    until=lambda st: len(updates(st)) >= 3)
    assert s.status == 200 and s.headers["content-type"].startswith("text/event-stream")
    assert s.headers.get("content-encoding") == "gzip"  # httpx asks for it, as browsers do
    first = updates(s)[0]
    doc = BeautifulSoup(first, "html.parser")
    section = doc.select_one("section#fleet")
    assert section is not None and section["hx-swap-oob"] == "true"  # an unknown version: the whole section
    assert set(cards_in(first)) == {"alpha", "beta", "ghost"}
    assert section.select_one("[sse-connect]")["sse-connect"].startswith("/stream/overview?")
    only_changes_follow(s, cards_in, rows=False)


def only_changes_follow(s: Stream, parts_in, rows: bool) -> None:
    """After the first update (the whole section), each is out-of-band swaps by id of the cards (`rows`: the
    table's rows, each in a <template>) that changed, and the totals, never the section again; `seen` events
    are JSON {host: time}. `parts_in`: an update's cards (rows) by host."""
    first, *later = updates(s)
    assert later, f"no change in 16 s: {s.events}"
    known = parts_in(first)
    for html in later:
        doc = BeautifulSoup(html, "html.parser")
        assert doc.select_one("section#fleet") is None, "the whole section again, though the list did not change"
        for element in doc.find_all(recursive=False):
            if element.name == "template":  # a row: a <tr> outside a table would lose its tags
                [element] = element.find_all(recursive=False)
                assert rows and element.name == "tr" and element["id"].startswith("row-"), element
            assert element.get("hx-swap-oob") == "true" and element.get("id"), element
        assert (doc.select_one("article") is None) == rows, html[:500]
        sent = parts_in(html)
        for host, part in sent.items():
            assert part != known[host], f"{host}'s {'row' if rows else 'card'} was sent unchanged"
        known.update(sent)
    seen = [e for e in s.events if e.get("event") == "seen"]
    assert all(re.fullmatch(r'\{("[\w.-]+":[\d.]+,?)+\}', e["data"]) for e in seen), seen


def rows_in(html: str) -> dict[str, str]:
    """The table rows of an update, by host, without their last-seen cell (find_all: CSS selectors do not look
    into the <template> a row comes in)."""
    out = {}
    for row in BeautifulSoup(html, "html.parser").find_all("tr", id=re.compile("^row-")):
        for cell in row.find_all("td", attrs={"data-col": "seen"}):
            cell.decompose()
        out[row["data-host"]] = str(row).replace(' hx-swap-oob="true"', "")
    return out


def test_a_table_stream_sends_the_table_then_only_changed_rows(web_hub):
    s = read_stream(web_hub.url, "/stream/overview?view=table", 16, auth(web_hub),
                    until=lambda st: len(updates(st)) >= 3)
    section = BeautifulSoup(updates(s)[0], "html.parser").select_one("section#fleet")
    assert section is not None and section["hx-swap-oob"] == "true" and section["data-view"] == "table"
    assert section.select_one("#fleet-rows") is not None and section.select_one("article.card") is None
    assert {tr["id"] for tr in section.select("#fleet-rows tbody tr")} == {"row-alpha", "row-beta", "row-ghost"}
    assert "view=table" in section.select_one("[sse-connect]")["sse-connect"]  # the section keeps its stream
    only_changes_follow(s, rows_in, rows=True)


def test_a_reconnect_gets_what_changed_since_its_last_event(web_hub):
    s = read_stream(web_hub.url, "/stream/overview", 10, auth(web_hub), until=lambda st: any("id" in e for e in st.events))
    token = last_id(s)
    time.sleep(6)  # alpha and beta are polled again meanwhile
    again = read_stream(web_hub.url, "/stream/overview", 10, {**auth(web_hub), "Last-Event-ID": token},
                        until=lambda st: any("id" in e for e in st.events))
    # what changed since: cards that read differently, or only `seen` times (a card that reads the same is not
    # sent again); never the whole section
    first = updates(again)
    seen = [orjson.loads(e["data"]) for e in again.events if e.get("event") == "seen"]
    assert first or seen, again.events
    for html in first:
        assert BeautifulSoup(html, "html.parser").select_one("section#fleet") is None, html[:200]
        assert set(cards_in(html)) <= {"alpha", "beta", "ghost"}
    told = {h for times in seen for h in times} | set(cards_in("".join(first)))
    assert told & {"alpha", "beta"}, again.events  # polled meanwhile: at least their times
    # an id this process never gave (another web, an older start): the whole section
    stale = read_stream(web_hub.url, "/stream/overview", 10, {**auth(web_hub), "Last-Event-ID": "0badc0de-7"},
                        until=lambda st: bool(updates(st)))
    assert BeautifulSoup(updates(stale)[0], "html.parser").select_one("section#fleet") is not None


def test_a_quiet_stream_beats_and_the_server_ends_it(web_hub):
    # ghost never answers: its live partial does not change after the first event
    started = time.monotonic()
    s = read_stream(web_hub.url, "/stream/hosts/ghost", 30, auth(web_hub))
    took = time.monotonic() - started
    assert s.ended and 11 <= took <= 20, (s.ended, took)  # STREAM_MAX_S is 12 here
    assert len(updates(s)) == 1 and 'id="host-live"' in updates(s)[0]
    assert len([c for c in s.comments if "keepalive" in c]) >= 2, s.comments
    # the page's reconnect with its last id gets nothing again while nothing changed
    # (a change would be sent at once: the topic's snapshot is newer than the id)
    again = read_stream(web_hub.url, "/stream/hosts/ghost", 2.5, {**auth(web_hub), "Last-Event-ID": last_id(s)})
    assert updates(again) == [], again.events


def test_host_stream_pushes_the_live_partial_when_the_report_changes(web_hub):
    s = read_stream(web_hub.url, "/stream/hosts/alpha", 16, auth(web_hub), until=lambda st: len(updates(st)) >= 2)
    first, second = updates(s)[:2]
    for html in (first, second):
        live = BeautifulSoup(html, "html.parser").select_one("section#host-live")
        assert live is not None and live["hx-swap-oob"] == "true" and live.select("[data-tile]")
    assert first != second


def _open_raw(port: int, token: str, path: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                 "Accept: text/event-stream\r\n\r\n".encode())
    return sock


def web_samples(text: str) -> dict[tuple[str, tuple[str, ...]], float]:
    """The fleetwatch_web_* samples of a /metrics text: (name, labels other than process) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("fleetwatch_web_"):
                assert sample.labels["process"].endswith("/web"), sample  # serve's web process: MEMBER/web
                out[(sample.name, tuple(v for k, v in sorted(sample.labels.items()) if k != "process"))] = sample.value
    return out


def test_streams_are_capped_apart_from_requests(web_hub):
    socks = []
    try:
        for _ in range(MAX_STREAMS):
            socks.append(_open_raw(web_hub.hub.port, web_hub.hub.token, "/stream/hosts/ghost"))
        for sock in socks:  # every one admitted and answering
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
        s = read_stream(web_hub.url, "/stream/overview", 5, auth(web_hub))
        assert s.status == 503, s
        message = s.events[0]["data"]
        assert "\n" not in message.strip() and "streams open" in message and "polls" in message
        # 200 open streams do not hold the slots of ordinary requests
        with httpx.Client(base_url=web_hub.url, headers=auth(web_hub), timeout=10) as client:
            for path in ("/", "/hosts/alpha", "/api/servers"):
                assert client.get(path).status_code == 200, path
            # /metrics counts them, and the refusal
            web = web_samples(client.get("/metrics").text)
        assert web[("fleetwatch_web_streams_open", ())] == MAX_STREAMS
        assert web[("fleetwatch_web_refused_total", ("streams",))] >= 1
        assert web[("fleetwatch_web_refused_total", ("busy",))] == 0
        assert web[("fleetwatch_web_requests_in_flight", ())] == 1  # the scrape itself
        assert web[("fleetwatch_web_stream_bytes_total", ())] > 0  # the 200 streams' first bytes at least
    finally:
        for sock in socks:
            sock.close()
    deadline = time.monotonic() + 10
    while True:  # closed streams free their places
        s = read_stream(web_hub.url, "/stream/hosts/ghost", 3, auth(web_hub), until=lambda st: bool(st.events))
        if s.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert s.status == 200


def test_a_stream_speaks_its_pages_language(web_hub):
    """The cards are worded where they are built: a Chinese page's stream sends Chinese cards, and an English
    stream right after it (the Chinese topic still running) English ones: one topic per language."""
    zh = read_stream(web_hub.url, "/stream/overview", 10, {**auth(web_hub), "Cookie": "fw_lang=zh"},
                     until=lambda st: bool(updates(st)))
    first = updates(zh)[0]
    assert "最后在线" in first and "主机" in first and "last seen" not in first, first[:2000]
    host = read_stream(web_hub.url, "/stream/hosts/alpha", 10, {**auth(web_hub), "Accept-Language": "zh-CN"},
                       until=lambda st: bool(updates(st)))
    assert "磁盘" in updates(host)[0] and "Disks" not in updates(host)[0]
    en = read_stream(web_hub.url, "/stream/overview", 10, auth(web_hub), until=lambda st: bool(updates(st)))
    assert "last seen" in updates(en)[0] and "最后在线" not in updates(en)[0]
