"""The pages in Simplified Chinese (issue 18 item 7) from a real `fleetwatch serve`: Accept-Language and the
fw_lang cookie pick the language, /lang/{code} sets the cookie without an open redirect, English stays English.

The live hub of tests/support/webhub.py (events, a firing alert) and the web-only GPU hub of
tests/support/gpuhub.py (reports known to the second), as tests/integration/test_pages.py and
test_gpu_pages.py read them.
"""
from __future__ import annotations

import re
import time

import httpx
import pytest
import yaml
from bs4 import BeautifulSoup

from tests.integration.test_gpu_pages import _client  # an admin token's client of a hub

HTML = {"Accept": "text/html"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
NAV_ZH = ["总览", "GPU", "对比", "历史", "事件", "告警", "服务器", "API"]


@pytest.fixture(scope="module")
def client(web_hub):
    with _client(web_hub) as c:
        yield c


@pytest.fixture(autouse=True)
def no_language_cookie(client):
    """Every test starts without the cookie a switch test left in the module's client."""
    client.cookies.clear()


@pytest.fixture(scope="module")
def gpus(gpu_hub):
    with _client(gpu_hub) as c:
        yield c


def page(client, path: str, status: int = 200, headers=None, cookies=None) -> tuple[BeautifulSoup, httpx.Response]:
    headers = {**(headers or {}), **({"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {})}
    resp = client.get(path, headers=headers)
    assert resp.status_code == status, resp.text[:2000]
    assert resp.headers["content-type"].startswith("text/html") and "Traceback" not in resp.text
    return BeautifulSoup(resp.text, "html.parser"), resp


def text(node) -> str:
    return " ".join(node.get_text(" ").split())


# --------------------------------------------------------------------------- choosing the language
def test_events_in_chinese_by_accept_language(client):
    doc, resp = page(client, "/events", headers=ZH)
    assert "Accept-Language" in resp.headers["vary"]
    assert doc.select_one("h1").text == "事件" and doc.title.text.startswith("事件")
    assert [a.text for a in doc.select("header nav a")] == NAV_ZH  # NAV, translated as base.html renders it
    assert [th.text for th in doc.select("#event-rows thead th")] == ["时间", "主机", "类型", "对象", "详情"]
    down = doc.select_one('#event-rows tr[data-type="host_down"] .badge')
    assert down is not None and down.text == "主机宕机"  # the type's value stays English in data-type
    assert re.fullmatch(r"事件 1–50，共 [\d,]+ 条 · 第 1/\d+ 页", text(doc.select_one(".pager span")))
    assert doc.select_one('.pager a[rel="next"]').text == "更早 →"
    options = {o["value"]: o.text for o in doc.select('select[name="type"] option')}
    assert options["gpu_hot"] == "GPU 过热" and options["host_up"] == "主机恢复"
    bogus, _ = page(client, "/events?type=bogus", headers=ZH)
    assert bogus.select_one("[role=alert]").text == "已忽略未知的事件类型：bogus"  # worded in Python


def test_alerts_in_chinese_by_accept_language(client):
    doc, _ = page(client, "/alerts", headers={"Accept-Language": "zh-Hans"})
    assert doc.select_one("h1").text == "告警"
    assert doc.select_one("#alert-rules h2").text == "规则（1）"
    rule = doc.select_one('#rule-rows tr[data-rule="gpu-hot"]')
    assert rule.select_one(".badge").text == "严重"
    assert doc.select_one("#notifiers h2").text == "通知渠道（0）"
    assert doc.select_one("#notifiers .empty").text.startswith("没有通知渠道：告警只显示在这里")
    assert doc.select_one("#notifiers .empty code").text == "notifiers:"  # markup inside a message stays markup
    assert doc.select_one("#silences h2").text.startswith("生效中的静默（")
    firing = doc.select_one('#alert-rows tr[data-state="firing"]')
    if firing is not None:  # alpha's hot GPU fires at its first poll
        assert firing.select_one(".badge").text == "告警中"
        button = firing.select_one("button")
        assert button.text == "静默 1 小时" and button["title"] == "一小时内不再发送此规则、主机和对象的通知"


def text_but_switch(doc) -> str:
    """The page's text without the language switch (which always says 中文)."""
    for switch in doc.select("header .langs"):
        switch.decompose()
    return doc.get_text()


def test_the_cookie_wins_over_the_header(client):
    doc, _ = page(client, "/alerts", headers={"Accept-Language": "en-US,en"}, cookies={"fw_lang": "zh"})
    assert doc.select_one("h1").text == "告警"
    doc, _ = page(client, "/events", headers=ZH, cookies={"fw_lang": "en"})
    assert doc.select_one("h1").text == "Events" and not CJK.search(text_but_switch(doc))
    doc, _ = page(client, "/events", headers=ZH, cookies={"fw_lang": "fr"})  # not a language of the hub: ignored
    assert doc.select_one("h1").text == "事件"


@pytest.mark.parametrize("path", ["/events", "/alerts", "/gpus", "/gpus/users", "/compare", "/history", "/servers",
                                  "/no-such-page"])
@pytest.mark.parametrize("headers", [{}, {"Accept-Language": "zh-TW"}, {"Accept-Language": "en-GB,fr;q=0.5"}])
def test_english_pages_hold_no_chinese(client, path, headers):
    doc, _ = page(client, path, headers=headers, status=404 if path == "/no-such-page" else 200)
    assert [a.text for a in doc.select("header .langs a")] == ["English", "中文"]  # each language in its own words
    assert [a.text for a in doc.select('header .langs a[aria-current="true"]')] == ["English"]
    assert not CJK.search(text_but_switch(doc)), path
    assert [a.text for a in doc.select("header nav a")][:2] == ["Overview", "GPUs"]


# --------------------------------------------------------------------------- the switch
def test_the_switch_sets_the_cookie_and_goes_back(client):
    resp = client.get("/lang/zh", params={"next": "/alerts?page=1"})
    assert resp.status_code == 303 and resp.headers["location"] == "/alerts?page=1"
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("fw_lang=zh;") and "Path=/" in cookie and "Max-Age=" in cookie
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    doc, _ = page(client, "/alerts", cookies={"fw_lang": "zh"})
    assert doc.select_one("h1").text == "告警"
    back = client.get("/lang/en")
    assert back.status_code == 303 and back.headers["location"] == "/" and "fw_lang=en;" in back.headers["set-cookie"]


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example",
                                    "evil.example", "javascript:alert(1)"])
def test_the_switch_is_no_open_redirect(client, target):
    resp = client.get("/lang/zh", params={"next": target})
    assert resp.status_code == 303 and resp.headers["location"] == "/"


def test_an_unknown_language_is_a_404_page_in_the_page_language(client):
    doc, _ = page(client, "/lang/xx", status=404, headers=ZH)
    assert doc.select_one("h1").text == "未找到"
    assert doc.select_one("[role=alert]").text == "没有这种语言：xx。"
    assert doc.select_one("main a[href='/']").text == "返回总览"
    resp = client.get("/lang/xx", headers={"Accept": "application/json"})
    assert resp.status_code == 404 and resp.json() == {"detail": "No such language: xx."}


def test_error_pages_in_chinese(client):
    doc, _ = page(client, "/no-such-page", status=404, headers=ZH)
    assert doc.select_one("h1").text == "未找到" and doc.select_one("[role=alert]").text == "未找到"
    doc, _ = page(client, "/events?page=abc", status=422, headers=ZH)
    assert doc.select_one("h1").text == "输入无效"


def test_the_login_page_in_chinese(web_hub):
    with httpx.Client(base_url=web_hub.url, timeout=30, headers={**HTML, **ZH}) as anonymous:
        doc, _ = page(anonymous, "/login")
    assert doc.select_one("h1").text == "登录 fleetwatch"
    assert [label.text for label in doc.select("#login-form label")] == ["用户名", "密码"]
    assert doc.select_one("#login-form button").text == "登录"


# --------------------------------------------------------------------------- the GPU pages
def test_the_gpu_page_in_chinese(gpus):
    doc, _ = page(gpus, "/gpus", headers=ZH)
    assert doc.select_one("h1").text == "GPU"
    heads = [" ".join(th.text.split()) for th in doc.select("#gpu-rows thead th")]
    assert heads == ["主机 ▲", "标签", "卡号", "型号", "利用率", "显存", "温度", "功率 / 上限", "用户", "进程", "占用时长"]
    held = doc.select_one('#gpu-rows tr[data-host="gpu-a"][data-card="1"] [data-tag="held-idle"]')
    assert held.text.startswith("占用但空闲 · 45 分") and held["title"].startswith("自 20")
    busy = doc.select_one('#gpu-rows tr[data-host="gpu-a"][data-card="0"]')
    assert busy.select_one('[data-col="since"] time').text == "3 小时 12 分"
    assert " ".join(busy.select_one('[data-col="memory"]').get_text(" ").split()) == "29.3 GiB / 80.0 GiB (37 %)"
    assert busy.select_one('[data-col="temperature"]').text == "71 °C"  # units stay as they are
    assert text(doc.select_one("#gpu-table .muted")) == "显示 4 张卡，共 4 张。"
    assert doc.select_one('input[name="q"]')["placeholder"] == "主机、标签=值、型号、用户、进程"
    bad, _ = page(gpus, "/gpus?sort=nope", headers=ZH)
    assert bad.select_one("[role=alert]").text.startswith("未知的排序方式 'nope'；可用：host, util")


def test_the_gpu_users_page_in_chinese(gpus):
    doc, _ = page(gpus, "/gpus/users", headers=ZH)
    assert doc.select_one("h1").text == "每用户 GPU 小时"
    heads = [th.text for th in doc.select("#gpu-user-rows thead th")]
    assert heads == ["日期 (UTC)", "主机", "用户", "GPU 小时 (GPU-h)", "显存 (GiB-h)", "观测时长 (小时)"]
    alice = doc.select_one('#gpu-user-rows tr[data-user="alice"] [data-col="gpu-hours"]')
    assert alice.text == "2.00 GPU-h"
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 00:00:00 至 .+（UTC 日），共 \d+ 行，合计 [\d,.]+ GPU-h",
                        text(doc.select_one("#gpu-users .pager span")))
    assert [o.text for o in doc.select('select[name="days"] option')] == ["1 天", "7 天", "30 天"]


def test_the_switch_in_the_top_bar_links_back_to_this_page(client):
    doc, _ = page(client, "/events?type=host_down&q=a b", cookies={"fw_lang": "zh"})
    assert doc.select_one("html")["lang"] == "zh-Hans"
    links = {a.text: a["href"] for a in doc.select("header .langs a")}
    assert links == {"English": "/lang/en?next=/events%3Ftype%3Dhost_down%26q%3Da%2520b",
                     "中文": "/lang/zh?next=/events%3Ftype%3Dhost_down%26q%3Da%2520b"}
    assert [a.text for a in doc.select('header .langs a[aria-current="true"]')] == ["中文"]
    assert doc.select_one("header .theme").get_text(" ", strip=True).startswith("主题")
    assert [o.text for o in doc.select("#theme-switch option")] == ["跟随系统", "浅色", "深色"]


def test_the_overview_and_a_host_page_in_chinese(client):
    doc, _ = page(client, "/", cookies={"fw_lang": "zh"})
    assert doc.select_one("h1").text == "集群概览"
    assert doc.select_one('#fleet-totals [data-total="up"]').find_previous_sibling("dt").text == "正常"
    card = doc.select_one('#fleet article.card[data-host="alpha"]')
    assert card.select_one("footer").text.startswith("最后在线")
    assert [c.text for c in card.select(".gpus .gg > *")][:4] == ["GPU", "利用率 %", "显存 %", "°C"]
    doc, _ = page(client, "/hosts/alpha", cookies={"fw_lang": "zh"})
    assert doc.select_one("#system-info h2").text == "系统" and doc.select_one("#disks h2").text == "磁盘"
    tiles = [t.text for t in doc.select(".tile .label")]
    assert "CPU 繁忙" in tiles or not tiles


def _waited(fetch, done, what: str, timeout: float = 30.0):
    """fetch() again until done(result): the hub polls the unreachable host every 5 s."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result):
            return result
        assert time.monotonic() < deadline, f"no {what} within {timeout:.0f} s"
        time.sleep(0.5)


def test_an_unreachable_host_s_error_and_events_in_chinese(client):
    """webapp/host_words.py: "ghost" refuses connections; its card, its host page and its chart markers word the
    collector's English in Chinese (the API keeps it English)."""
    refused = re.compile(r"连接 127\.0\.0\.1:(\d+) 被拒绝：端口 \1 上的 sshd 在运行吗？")
    card = _waited(lambda: page(client, "/", cookies={"fw_lang": "zh"})[0].select_one('.card[data-host="ghost"]'),
                   lambda c: c is not None and c.select_one("p.error") is not None, "error on ghost's card")
    assert refused.fullmatch(card.select_one("p.error")["title"]), card
    english = page(client, "/")[0].select_one('article.card[data-host="ghost"] p.error')["title"]
    assert re.fullmatch(r"connection to 127\.0\.0\.1:(\d+) refused: is sshd running on port \1\?", english)
    doc, _ = page(client, "/hosts/ghost", cookies={"fw_lang": "zh"})
    assert refused.fullmatch(doc.select_one('[data-fact="last-error"]').text)
    zh = {"Cookie": "fw_lang=zh"}
    span = f"from={time.time() - 3600:.0f}&to={time.time() + 60:.0f}"
    marks = _waited(lambda: client.get(f"/hosts/ghost/marks?{span}", headers=zh).json(),
                    lambda rows: any(r["type"] == "host_down" for r in rows), "host_down of ghost")
    down = next(r for r in marks if r["type"] == "host_down")
    assert down["text"].startswith("主机宕机：ghost 连续 "), down
    assert refused.search(down["text"]) and "refused" not in down["text"]
    api = client.get("/api/events?server_id=ghost&type=host_down").json()["rows"]
    assert api and all(" failed poll" in r["message"] for r in api)  # the API stays English


def test_compare_history_and_servers_in_chinese(client):
    doc, _ = page(client, "/compare?servers=alpha&metric=cpu_pct&range=1h", headers=ZH)
    assert doc.select_one("h1").text == "对比主机" and doc.title.text.startswith("对比")
    assert [th.text for th in doc.select("#compare-table thead th")] == ["主机", "平均", "峰值", "点数"]
    assert doc.select_one('select[name="metric"] option[value="cpu_pct"]').text == "CPU (%)"
    assert doc.select_one('select[name="range"] option[value="1h"]').text == "最近 1h"
    doc, _ = page(client, "/compare?metric=nope", headers=ZH)
    assert doc.select_one("[role=alert]").text.startswith("未知指标 'nope'")

    doc, _ = page(client, "/history", headers=ZH)
    assert doc.select_one("h1").text == "小时历史" and doc.title.text.startswith("历史")
    assert doc.select_one("#history-form button").text == "显示"
    heads = [" ".join(th.text.split()) for th in doc.select("#history-rows thead th")]
    assert not heads or heads[:3] == ["主机", "小时 ▼", "样本数"] and "CPU 均值" in heads
    assert CJK.search(text(doc.select_one("#history-table")))

    doc, _ = page(client, "/servers", headers=ZH)
    assert doc.select_one("h1").text == "服务器" and doc.title.text.startswith("服务器")
    assert [th.text for th in doc.select("#server-rows thead th")] == ["ID", "地址", "用户", "服务", "GPU", "状态", ""]
    assert doc.select_one("#add-host h2").text == "添加主机" and doc.select_one("#add-form button").text == "添加主机"
    assert doc.select_one('#add-form label[for="f-address"]').text == "地址"
    doc, _ = page(client, "/servers/alpha/edit", headers=ZH)
    assert doc.select_one("h1").text == "编辑 alpha" and doc.select_one("#edit-form button.primary").text == "保存"
    assert doc.select_one("#discover").text == "发现服务"


def _inventory_ok(client) -> bool:
    return client.get("/api/inventory/status", headers={"Accept": "application/json"}).json()["ok"]


def _until(what: str, check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_the_servers_form_and_the_file_problems_in_chinese(client, web_hub):
    """A port typed as text is refused in Chinese; a broken file's problems word their values in Chinese
    ("实际为字符串 'nginx'", not "got the string 'nginx'")."""
    before = web_hub.inventory.read_text()
    resp = client.post("/servers", data={"id": "zh-host", "address": "127.0.0.1", "port": "abc"}, headers=ZH)
    assert resp.status_code == 422
    doc = BeautifulSoup(resp.text, "html.parser")
    assert doc.select_one('[data-error-for="port"]').text == "端口须为 1 到 65535 的整数，而不是 'abc'"
    assert "the string" not in resp.text and web_hub.inventory.read_text() == before

    broken = before.replace("\nhosts:\n", "\nhosts:\n- {id: zh-broken, address: 127.0.0.2, services: nginx, user: 5}\n")
    assert broken != before
    try:
        web_hub.inventory.write_text(broken)
        _until("the broken file reported", lambda: not _inventory_ok(client))
        doc, resp = page(client, "/servers", headers=ZH)
        items = [text(li) for li in doc.select(".notice.bad li")]
        assert "应为列表，实际为字符串 'nginx'" in items and "应为字符串，实际为数字 5" in items, items
        assert "the string" not in resp.text and "the number" not in resp.text
        doc, _ = page(client, "/servers")  # English: as the inventory words it
        assert "expected a list, got the string 'nginx'" in [text(li) for li in doc.select(".notice.bad li")]
    finally:
        web_hub.inventory.write_text(before)
        _until("the file good again", lambda: _inventory_ok(client))


def test_the_chart_markers_are_worded_in_the_pages_language(client):
    """The host page's charts read their event and alert markers from /hosts/ID/marks (the API stays English):
    worded there in the page's language, in the asked range only, oldest first."""
    now = time.time()
    path = f"/hosts/alpha/marks?from={now - 3600:.0f}&to={now + 60:.0f}"
    en = client.get(path).json()
    assert en == sorted(en, key=lambda m: m["ts"]) and all(now - 3600 <= m["ts"] <= now + 60 for m in en)
    hot = [m for m in en if m["type"] == "gpu_hot"]
    assert hot and hot[0]["text"].startswith("gpu hot (0): prefilled event "), hot[0]
    fired = [m for m in en if m["type"] == "alert_firing"]
    assert fired and fired[0]["kind"] == "alert" and fired[0]["text"].startswith("alert gpu-hot (0) fired: ")
    zh = client.get(path, headers=ZH).json()
    assert [(m["type"], m["ts"]) for m in zh] == [(m["type"], m["ts"]) for m in en]
    texts = {m["type"]: m["text"] for m in zh}
    assert texts["gpu_hot"].startswith("GPU 过热 (0)"), texts["gpu_hot"]
    assert texts["alert_firing"].startswith("告警 gpu-hot (0) 触发：")
    assert client.get(f"/hosts/alpha/marks?from={now:.0f}&to={now - 60:.0f}").status_code == 422
    assert client.get("/hosts/alpha/marks?from=yesterday&to=1").status_code == 422


def _rule_problems(client) -> list[dict]:
    return client.get("/api/alerts/rules", headers={"Accept": "application/json"}).json()["problems"]


def test_the_alerts_page_words_a_bad_rule_in_chinese(client, web_hub):
    """A bad rule in the inventory: its problem on a Chinese Alerts page in Chinese (file, line and the field's path as
    they are); the English page and the API's JSON word it as the inventory does."""
    before = web_hub.inventory.read_text()
    english = "op must be one of > >= < <= == !=, got the string '=>'"
    try:
        # as YAML, not by text: the browser tests' edits on the Servers page may have rewritten the file's style
        doc = yaml.safe_load(before)
        assert len(doc["alerts"]) == 1, doc["alerts"]  # gpu-hot (tests/support/webhub.py): the bad one is alerts[1]
        doc["alerts"].append({"name": "zh-bad", "metric": "cpu_pct", "op": "=>", "threshold": 80})
        web_hub.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
        _until("the bad rule reported", lambda: any(p["message"] == english for p in _rule_problems(client)))
        doc, resp = page(client, "/alerts", cookies={"fw_lang": "zh"})
        line = text(doc.select_one('#rule-problems li[data-field="alerts[1].op"]'))
        assert re.fullmatch(r".+hosts\.yaml:\d+：字段 alerts\[1\]\.op：op 须为 > >= < <= == != 之一，实际为字符串 '=>'", line), line
        assert doc.select_one("#rule-problems p").text == "清单的告警部分有 1 个问题；其余规则照常生效："
        assert "the string" not in resp.text and "must be one of" not in resp.text
        doc, _ = page(client, "/alerts")  # English: as the inventory words it
        line = text(doc.select_one('#rule-problems li[data-field="alerts[1].op"]'))
        assert line.endswith(f"field 'alerts[1].op': {english}"), line
        api = client.get("/api/alerts/rules", headers={"Accept": "application/json", "Cookie": "fw_lang=zh", **ZH})
        assert [p["message"] for p in api.json()["problems"]] == [english]  # the API stays English
    finally:
        web_hub.inventory.write_text(before)
        _until("the rules good again", lambda: not _rule_problems(client))
