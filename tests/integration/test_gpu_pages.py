"""The GPU page, the per-user hours and `/api/gpus` (issue 17 item 2, web part) from a real `fleetwatch serve`.

Most tests read the web-only hub of tests/support/gpuhub.py, whose reports are known to the second; the last
ones read the live hub of tests/support/webhub.py, where the probe reads the fake nvidia-smi over a real sshd.
"""
from __future__ import annotations

import csv
import io
import time

import httpx
import pytest
from bs4 import BeautifulSoup

from tests.support.gpuhub import BUSY_FOR_S, HOSTILE_COMMAND, HOSTILE_NAME
from webapp.gpu_view import EMPTY

HTML = {"Accept": "text/html"}
ALLOWED = "allowed: host, util, memory, temperature, user, since"


def _client(hub) -> httpx.Client:
    return httpx.Client(base_url=hub.url, timeout=30, headers={**HTML, "Authorization": f"Bearer {hub.hub.token}"})


@pytest.fixture(scope="module")
def client(gpu_hub):
    with _client(gpu_hub) as c:
        yield c


def html(client, path: str, status: int = 200, **headers) -> BeautifulSoup:
    resp = client.get(path, headers=headers)
    assert resp.status_code == status, resp.text[:2000]
    assert resp.headers["content-type"].startswith("text/html")
    assert "Traceback" not in resp.text
    return BeautifulSoup(resp.text, "html.parser")


def rows(doc: BeautifulSoup) -> list[tuple[str, int]]:
    return [(tr["data-host"], int(tr["data-card"])) for tr in doc.select("#gpu-rows tbody tr")]


def cells(doc: BeautifulSoup, host: str, card: int) -> dict[str, object]:
    tr = doc.select_one(f'#gpu-rows tr[data-host="{host}"][data-card="{card}"]')
    return {td["data-col"]: td for td in tr.select("td[data-col]")} | {"row": tr}


# --------------------------------------------------------------------------- the GPU page
def test_every_card_with_units_held_idle_first(client):
    doc = html(client, "/gpus")
    assert rows(doc) == [("gpu-a", 1), ("gpu-a", 0), ("gpu-b", 0), ("gpu-b", 1)]  # cpu-box has no GPU
    held = cells(doc, "gpu-a", 1)
    tag = held["util"].select_one('[data-tag="held-idle"]')
    assert tag.text.startswith("held, idle · 45 min") and tag["title"].startswith("held, idle since 20")
    assert held["row"].has_attr("data-held-idle") and len(doc.select('[data-tag="held-idle"]')) == 1
    busy = cells(doc, "gpu-a", 0)
    assert busy["row"].select_one("td a")["href"] == "/hosts/gpu-a"
    assert [b.text for b in busy["row"].select(".labels .badge")] == ["team=vision"]
    assert busy["util"].text.strip() == "93 %"
    assert busy["memory"].get_text(" ", strip=True) == "29.3 GiB / 80.0 GiB (37 %)"
    assert busy["temperature"].text == "71 °C" and busy["power"].text == "310 W / 400 W"
    assert busy["users"].text == "alice"
    proc = busy["processes"].select_one(".cut")
    assert proc.text == "python3" and proc["title"] == "python3 train.py --epochs 90 --data /datasets/imagenet"
    since = busy["since"].select_one("time")
    assert since.text == "3 h 12 min" and since["title"].endswith("Z")
    assert abs(float(since["data-since"]) - (time.time() - BUSY_FOR_S)) < 120
    hot, silent = cells(doc, "gpu-b", 0), cells(doc, "gpu-b", 1)
    assert "hot" in hot["temperature"]["class"] and hot["power"].text == "– / 700 W"  # no power reading: a dash
    assert {k: v.text.strip() for k, v in silent.items() if k != "row"} == {
        "util": "–", "memory": "– / –", "temperature": "–", "power": "– / –", "users": "–", "processes": "–",
        "since": "–"}


def test_the_filter_box_narrows_the_cards(client):
    assert rows(html(client, "/gpus?q=nlp")) == [("gpu-b", 0), ("gpu-b", 1)]
    assert rows(html(client, "/gpus?q=team=vision+alice")) == [("gpu-a", 0)]
    assert rows(html(client, "/gpus?q=jupyter")) == [("gpu-a", 1)]
    doc = html(client, "/gpus?q=nobody-like-this")
    empty = doc.select_one("#gpu-table .empty").text
    assert rows(doc) == [] and empty == "No card matches this filter (4 cards in the fleet)."
    assert doc.select_one('#gpu-filter input[name="q"]')["value"] == "nobody-like-this"


def test_sort_links_and_held_idle_cards_stay_first(client):
    doc = html(client, "/gpus?sort=temperature")
    assert rows(doc) == [("gpu-a", 1), ("gpu-b", 0), ("gpu-a", 0), ("gpu-b", 1)]  # 86, 71, then no reading
    assert doc.select_one('th[aria-sort="descending"] a')["data-sort-link"] == "temperature"
    by_util = [("gpu-a", 1), ("gpu-b", 0), ("gpu-a", 0), ("gpu-b", 1)]  # 0 % (held), 50 %, 93 %, no reading
    assert rows(html(client, "/gpus?sort=util")) == by_util
    assert rows(html(client, "/gpus?sort=user")) == [("gpu-a", 1), ("gpu-a", 0), ("gpu-b", 0), ("gpu-b", 1)]
    assert rows(html(client, "/gpus?sort=since"))[:3] == [("gpu-a", 1), ("gpu-a", 0), ("gpu-b", 0)]
    links = {a["data-sort-link"]: a for a in html(client, "/gpus?q=gpu").select("a[data-sort-link]")}
    assert set(links) == {"host", "util", "memory", "temperature", "user", "since"}
    assert links["memory"]["href"] == "/gpus?q=gpu&sort=memory" == links["memory"]["hx-get"]  # keeps the filter


def test_an_unknown_sort_is_one_line_not_a_500(client):
    doc = html(client, "/gpus?sort=bogus")
    assert doc.select_one('[role="alert"]').text == f"unknown sort 'bogus'; {ALLOWED}"
    assert rows(doc)[0] == ("gpu-a", 1)  # shown by host
    r = client.get("/api/gpus", params={"sort": "<bogus>"}, headers={"Accept": "application/json"})
    assert r.status_code == 400 and r.json() == {"detail": f"unknown sort '<bogus>'; {ALLOWED}"}


def test_htmx_gets_the_table_alone_and_the_sort_it_used(client):
    doc = html(client, "/gpus?q=vision&sort=memory", **{"HX-Request": "true", "HX-Target": "gpu-table"})
    assert doc.find("html") is None and doc.find("nav") is None
    root = doc.find(True)
    assert root.name == "section" and root["id"] == "gpu-table" and root["hx-trigger"] == "every 5s"
    assert root["hx-include"] == "#gpu-filter" and root["data-sort"] == "memory"
    assert rows(doc) == [("gpu-a", 1), ("gpu-a", 0)]
    oob = doc.select_one("#gpu-sort")  # the filter form's hidden sort follows the sort link clicked
    assert oob["hx-swap-oob"] == "true" and oob["value"] == "memory"
    assert html(client, "/gpus").select_one("#gpu-filter #gpu-sort")["value"] == "host"


def test_a_hostile_process_name_and_command_are_text(client):
    for path in ("/gpus", "/hosts/gpu-b"):
        resp = client.get(path)
        assert "<script>alert" not in resp.text and "<img src=x" not in resp.text, path
        doc = BeautifulSoup(resp.text, "html.parser")
        # the only inline script is base.html's theme choice (before the stylesheet: no flash of the other theme);
        # the charts' words are JSON data, never run
        inline = [s.text for s in doc.select("script") if not s.get("src") and s.get("type") != "application/json"]
        assert not doc.select("img") and all("fleetwatch-theme" in t and "alert" not in t for t in inline), path
    doc = html(client, "/gpus")
    proc = cells(doc, "gpu-b", 0)["processes"].select_one(".cut")
    assert proc.text == HOSTILE_NAME and proc["title"] == HOSTILE_COMMAND


def test_the_empty_state_says_what_to_do(client, gpu_hub):
    before = gpu_hub.inventory.read_text()
    try:
        text = before.split("- id: gpu-a")[0] + "- id: cpu-box" + before.split("- id: cpu-box")[1]
        gpu_hub.inventory.write_text(text)
        deadline = time.monotonic() + 20
        while client.get("/api/gpus").json()["seen"]:
            assert time.monotonic() < deadline, "the web did not read the new inventory"
            time.sleep(0.2)
        doc = html(client, "/gpus")
        assert rows(doc) == [] and doc.select_one("#gpu-table .empty").text == EMPTY
        assert EMPTY.startswith("No GPUs seen yet: hosts with gpu: auto or nvidia and nvidia-smi installed")
    finally:
        gpu_hub.inventory.write_text(before)
    deadline = time.monotonic() + 20
    while client.get("/api/gpus").json()["seen"] != 4:
        assert time.monotonic() < deadline
        time.sleep(0.2)


# --------------------------------------------------------------------------- /api/gpus
def test_api_cards(client):
    body = client.get("/api/gpus").json()
    assert body["seen"] == body["count"] == 4
    first = body["cards"][0]
    assert (first["host_id"], first["index"], first["held_idle"]) == ("gpu-a", 1, True)
    assert first["held_idle_since_iso"].endswith("Z") and first["users"] == ["bob"]
    assert first["processes"] == [{"pid": 202, "name": "jupyter", "user": "bob", "used_mem_mb": 8000.0,
                                   "elapsed_s": 7200, "command": "jupyter-lab --no-browser"}]
    silent = body["cards"][-1]
    assert silent["util_pct"] is None and silent["busy_since"] is None and silent["labels"] == {"team": "nlp"}
    body = client.get("/api/gpus", params={"q": "mallory", "sort": "temperature"}).json()
    assert [(c["host_id"], c["index"]) for c in body["cards"]] == [("gpu-b", 0)] and body["seen"] == 4


# --------------------------------------------------------------------------- per-user hours
def user_rows(doc: BeautifulSoup) -> list[tuple[str, str, str, str]]:
    return [(tr["data-day"], tr["data-host"], tr["data-user"], tr.select_one('[data-col="gpu-hours"]').text)
            for tr in doc.select("#gpu-user-rows tbody tr")]


def test_user_hours_page(client):
    doc = html(client, "/gpus/users")
    got = user_rows(doc)
    today, yesterday = got[0][0], got[-1][0]
    assert got == [(today, "gpu-a", "alice", "2.00 GPU-h"), (today, "gpu-b", "mallory", "1.00 GPU-h"),
                   (today, "gpu-a", "bob", "0.50 GPU-h"), (yesterday, "gpu-a", "alice", "1.00 GPU-h")]
    heads = [th.text for th in doc.select("#gpu-user-rows th")]
    assert heads == ["Day (UTC)", "Host", "User", "GPU-hours (GPU-h)", "GPU memory (GiB-h)", "Hours seen (h)"]
    bob = doc.select_one('#gpu-user-rows tr[data-user="bob"] [data-col="gpu-mem"]')
    assert bob.text == "4.00 GiB-h"
    assert doc.select_one('select[name="days"] option[selected]')["value"] == "7"
    assert [o["value"] for o in doc.select('select[name="days"] option')] == ["1", "7", "30"]
    assert doc.select_one("#gpu-users-csv")["href"] == "/api/gpus/users.csv?days=7"
    assert "UTC" in doc.select_one("main p.muted").text
    assert html(client, "/gpus").select_one("#gpu-users-link")["href"] == "/gpus/users"


def test_user_hours_days_and_filters(client):
    assert {u for _d, _h, u, _g in user_rows(html(client, "/gpus/users?days=30"))} == {"alice", "bob", "mallory",
                                                                                        "carol"}
    assert len(user_rows(html(client, "/gpus/users?days=1"))) == 3  # today only
    doc = html(client, "/gpus/users?host=gpu-b")
    assert [r[1:3] for r in user_rows(doc)] == [("gpu-b", "mallory")]
    assert doc.select_one("#gpu-users-csv")["href"] == "/api/gpus/users.csv?days=7&server_id=gpu-b"
    assert [r[2] for r in user_rows(html(client, "/gpus/users?user=bob"))] == ["bob"]
    empty = html(client, "/gpus/users?user=nobody")
    assert user_rows(empty) == [] and "No GPU use recorded" in empty.select_one("#gpu-users .empty").text
    part = html(client, "/gpus/users?days=30", **{"HX-Request": "true", "HX-Target": "gpu-users"})
    assert part.find("nav") is None and part.find(True)["id"] == "gpu-users"
    for bad in ("days=0", "days=abc", "days=100000"):
        doc = html(client, f"/gpus/users?{bad}", status=422)
        assert "days" in doc.select_one("main").text


def test_user_hours_api_and_csv(client):
    body = client.get("/api/gpus/users", params={"days": 30, "server_id": "gpu-a"}).json()
    assert body["day_zone"] == "UTC" and body["from_iso"].endswith("T00:00:00Z")
    assert [(r["user"], r["gpu_hours"], r["gpu_mem_gib_hours"]) for r in body["rows"]] == [
        ("alice", 2.0, 2.0), ("bob", 0.5, 4.0), ("alice", 1.0, 1.0), ("carol", 1.0, 4.0)]
    r = client.get("/api/gpus/users.csv", params={"user": "alice"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"].startswith('attachment; filename="fleetwatch-gpu-users-')
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["day_utc", "host", "user", "gpu_hours", "gpu_memory_gib_hours", "hours_seen"]
    assert [row[1:] for row in table[1:]] == [["gpu-a", "alice", "2.0", "2.0", "1"],
                                              ["gpu-a", "alice", "1.0", "1.0", "1"]]
    assert client.get("/api/gpus/users.csv", params={"days": 0}).status_code == 422
    assert client.get("/api/gpus/users", params={"user": "a\x00b", "server_id": "\x00"}).json()["rows"] == []


# --------------------------------------------------------------------------- the host page's panel
def test_host_page_lists_the_gpu_processes(client):
    doc = html(client, "/hosts/gpu-a")
    panel = doc.select_one("#gpu-processes")
    got = [[td.get_text(strip=True) for td in tr.select("td")] for tr in panel.select("tbody tr")]
    assert got == [
        ["0", "101", "alice", "28.3 GiB", "3 h 12 min", "python3 train.py --epochs 90 --data /datasets/imagenet"],
        ["1", "202", "bob", "7.8 GiB", "2 h", "jupyter-lab --no-browser"]]
    assert panel.select_one("[data-gpu-processes-every]").text.startswith("Read every 30 s")
    assert panel.select_one('a[href="/gpus?q=gpu-a"]')
    hostile = html(client, "/hosts/gpu-b").select_one('#gpu-processes tr[data-pid="303"] .cut')
    assert hostile.text == hostile["title"] == HOSTILE_COMMAND
    assert html(client, "/hosts/cpu-box").select_one("#gpu-processes") is None  # no GPU, no panel


# --------------------------------------------------------------------------- a live hub: the fake nvidia-smi
def test_a_live_hubs_cards_and_processes(web_hub):
    """alpha's probe reads the fake nvidia-smi over sshd: two cards, pid 4242 (python3, 20000 MiB) on card 0;
    beta has `gpu: off`."""
    with _client(web_hub) as client:
        doc = html(client, "/gpus")
        assert rows(doc) == [("alpha", 0), ("alpha", 1)]
        card = cells(doc, "alpha", 0)
        assert card["processes"].select_one(".cut").text == "python3"
        assert "19.5 GiB" in card["processes"].text and card["memory"].text.startswith("20.0 GiB / 80.0 GiB")
        panel = html(client, "/hosts/alpha").select_one("#gpu-processes")
        assert [tr["data-pid"] for tr in panel.select("tbody tr")] == ["4242"]
        assert panel.select_one('tr[data-pid="4242"] td:nth-of-type(4)').text == "19.5 GiB"
