"""The overview's live feed for the table view (webapp/live_pages.py FleetPage): the ticks and what a stream of
the cards or of the table gets, over a real SQLite database, inventory file and templates, the collectors'
writes played by hand between ticks (no thread, no server: the streams' side is tests/integration/test_stream.py).
"""
from __future__ import annotations

import itertools
import time

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import insert, update
from sqlmodel import Session

from inventory.watch import InventoryWatcher
from schema.db import make_engine
from schema.fleet import latest_doc
from schema.migrate import upgrade
from schema.models import Host
from schema.runtime_models import HostLatest
from webapp.fleet_source import FleetSource
from webapp.live_pages import FleetPage, view_key

HOSTS = ("alpha", "beta", "gamma")
CARDS = view_key("", "", "state", "cards")
TABLE = view_key("", "", "state", "table")
BY_CPU = view_key("", "", "cpu", "table")


def report(host: str, cpu: float, now: float, net: float | None = None, gpu_utils: tuple[float, ...] = ()) -> dict:
    gpus = [{"index": i, "name": "NVIDIA A100", "util_pct": u, "temperature_c": 50.0, "mem_used_mb": 1000.0,
             "mem_total_mb": 81920.0} for i, u in enumerate(gpu_utils)]
    return {"host": host, "ok": True, "state": "up", "ts": now, "cpu_pct": cpu, "net_rx_bps": net,
            "mem_total_bytes": 8 * 2**30, "mem_used_bytes": 2**30, "disks": [{"mount": "/", "used_pct": 20.0}],
            "gpus": gpus, "gpu_count": len(gpus), "services": []}


class Fleet:
    """Three healthy hosts (CPU 10, 20, 30 %) and a FleetPage over them."""

    def __init__(self, tmp) -> None:
        inventory = tmp / "hosts.yaml"
        inventory.write_text("defaults:\n  user: monitor\n  interval: 1h\nhosts:\n"
                             + "".join(f"  - {{id: {h}, address: 10.0.0.{i + 1}}}\n" for i, h in enumerate(HOSTS)))
        db_url = f"sqlite:///{tmp / 'live.db'}"
        upgrade(db_url, log=lambda _m: None)
        self.engine = make_engine(db_url)
        self.now = time.time()
        self.cpu = {h: 10.0 * (i + 1) for i, h in enumerate(HOSTS)}
        self.net: dict[str, float | None] = dict.fromkeys(HOSTS)
        self.gpu_utils: dict[str, tuple[float, ...]] = dict.fromkeys(HOSTS, ())
        with Session(self.engine) as s:
            s.execute(insert(Host), [{"id": h, "address": "10.0.0.1", "state": "up", "consecutive_failures": 0,
                                      "last_seen_at": self.now, "state_since": self.now - 600} for h in HOSTS])
            s.execute(insert(HostLatest), [{"host_id": h, "ts": self.now, "doc": self._doc(h)} for h in HOSTS])
            s.commit()
        watcher = InventoryWatcher(inventory, lambda _inv: None)
        watcher.load_initial()
        self.page = FleetPage(FleetSource(db_url=db_url, watcher=watcher, control=None), self.engine)
        self._seq = itertools.count(1)

    def _doc(self, host: str) -> str:
        return latest_doc(report(host, self.cpu[host], self.now, self.net[host], self.gpu_utils[host]), [], None,
                          {}).decode()

    def next_seq(self) -> int:
        return next(self._seq)

    def tick(self, prev=None):
        return self.page.tick(prev, self.next_seq)

    def set_cpu(self, host: str, cpu: float) -> None:
        """A new report of `host` (a new timestamp, as a collector writes it) with this CPU figure (and
        `self.net`'s receive rate, `self.gpu_utils`' cards)."""
        self.cpu[host] = cpu
        self.now += 1
        with Session(self.engine) as s:
            s.execute(update(HostLatest).where(HostLatest.host_id == host).values(ts=self.now, doc=self._doc(host)))
            s.commit()

    def seen(self, host: str) -> float:
        """`host` polled again, its report as it was: only its last-seen time moves."""
        self.now += 1
        with Session(self.engine) as s:
            s.execute(update(Host).where(Host.id == host).values(last_seen_at=self.now))
            s.commit()
        return self.now


@pytest.fixture
def fleet(tmp_path):
    f = Fleet(tmp_path)
    yield f
    f.engine.dispose()


def oob_rows(swaps: list[str]) -> dict[str, BeautifulSoup]:
    """The table rows among a delta's swaps, by id; each must be an out-of-band swap in a <template>."""
    rows = {}
    for html in swaps:
        doc = BeautifulSoup(html, "html.parser")
        for tr in doc.find_all("tr"):  # find_all: CSS selectors do not look into a <template>
            assert tr.parent.name == "template" and tr.parent.parent is doc, html  # a <tr> alone would lose its tags
            assert tr["hx-swap-oob"] == "true", html
            rows[tr["id"]] = tr
    return rows


def test_a_table_stream_gets_only_the_changed_row(fleet):
    fleet.page.hold_view(TABLE)
    first = fleet.tick()
    fleet.set_cpu("beta", 77.0)
    second = fleet.tick(first)
    delta = fleet.page.delta(second, TABLE, first.seq)
    assert delta is not None and delta.seen == {}
    rows = oob_rows(delta.swaps)
    assert list(rows) == ["row-beta"] and len(delta.swaps) == 1, delta.swaps
    assert rows["row-beta"].find("td", attrs={"data-col": "cpu"}).string == "77 %"  # .text skips a template's
    assert "article" not in delta.swaps[0] and 'id="card-' not in delta.swaps[0]
    # the cards of the same filter get the card, from the same tick
    cards = fleet.page.delta(second, CARDS, first.seq)
    assert len(cards.swaps) == 1 and 'id="card-beta"' in cards.swaps[0] and "<tr" not in cards.swaps[0]
    # a client that has the newest version gets nothing
    assert not fleet.page.delta(second, TABLE, second.seq)


def test_a_new_order_sends_the_whole_section_as_a_table(fleet):
    fleet.page.hold_view(BY_CPU)
    first = fleet.tick()
    assert first.views[BY_CPU[:3]].ids == ("gamma", "beta", "alpha")  # busiest first
    fleet.set_cpu("alpha", 95.0)
    second = fleet.tick(first)
    assert second.views[BY_CPU[:3]].ids == ("alpha", "gamma", "beta")
    assert fleet.page.delta(second, BY_CPU, first.seq) is None  # the order moved: the whole section
    html = fleet.page.full(second, BY_CPU, "boot-7")
    section = BeautifulSoup(html, "html.parser").select_one("section#fleet")
    assert section["hx-swap-oob"] == "true" and section["data-view"] == "table" and section["data-sort"] == "cpu"
    assert 'id="fleet-rows"' in html and section.select_one("article.card") is None
    assert [tr["id"] for tr in section.select("#fleet-rows tbody tr")] == ["row-alpha", "row-gamma", "row-beta"]
    stream = section.select_one("[sse-connect]")["sse-connect"]
    assert "view=table" in stream and "sort=cpu" in stream and "since=boot-7" in stream
    assert section.select_one("#sort-cpu")["hx-get"] == "/?sort=-cpu&view=table"  # the heading flips the order
    assert section.select_one("#sort-name")["hx-get"] == "/?sort=name&view=table"
    # the cards under the same sort get the section as cards
    cards = fleet.page.full(second, (*BY_CPU[:3], "cards"), "boot-7")
    assert 'id="fleet-rows"' not in cards and 'id="card-alpha"' in cards


def test_a_last_seen_change_alone_is_a_seen_event_for_the_table(fleet):
    fleet.page.hold_view(TABLE)
    first = fleet.tick()
    at = fleet.seen("gamma")
    second = fleet.tick(first)
    assert second.seq > first.seq
    delta = fleet.page.delta(second, TABLE, first.seq)
    assert delta.swaps == [] and delta.seen == {"gamma": at}
    assert second.rows == {}  # nothing to render for a time


def test_cards_only_watchers_render_no_row(fleet):
    fleet.page.hold_view(CARDS)
    fleet.page.hold_view(view_key("", "", "name", "cards"))
    first = fleet.tick()
    fleet.set_cpu("beta", 55.0)
    second = fleet.tick(first)
    assert second.rows == {}, "rows rendered while nobody shows the table"
    assert fleet.page.rows_missing(second, CARDS, first.seq) == []
    assert 'id="card-beta"' in fleet.page.delta(second, CARDS, first.seq).swaps[0]
    # a table stream opens later, from a version before beta changed: its row is rendered then, once
    fleet.page.hold_view(TABLE)
    assert fleet.page.delta(second, TABLE, first.seq) is None  # not rendered yet: cannot be swapped alone
    assert fleet.page.rows_missing(second, TABLE, first.seq) == ["beta"]
    fleet.page.render_rows(second, ["beta"])
    assert list(oob_rows(fleet.page.delta(second, TABLE, first.seq).swaps)) == ["row-beta"]
    # from now on a tick renders the changed rows itself, and only those
    fleet.set_cpu("alpha", 66.0)
    third = fleet.tick(second)
    assert set(third.rows) == {"alpha", "beta"} and third.rows["beta"] is second.rows["beta"]
    assert fleet.page.rows_missing(third, TABLE, second.seq) == []
    assert list(oob_rows(fleet.page.delta(third, TABLE, second.seq).swaps)) == ["row-alpha"]
    # the last table stream gone: a change renders no row again, and the stale one is dropped
    fleet.page.drop_view(TABLE)
    fleet.set_cpu("alpha", 67.0)
    fourth = fleet.tick(third)
    assert set(fourth.rows) == {"beta"}


def test_a_card_change_the_row_does_not_show_sends_no_row(fleet):
    """The card shows each GPU's utilisation, the row their mean: two cards trading their figures send the card
    again, but not the row (its last-seen time comes as a `seen` event)."""
    fleet.page.hold_view(TABLE)
    first = fleet.tick()
    fleet.gpu_utils["beta"] = (10.0, 30.0)
    fleet.set_cpu("beta", 20.0)
    second = fleet.tick(first)
    assert list(oob_rows(fleet.page.delta(second, TABLE, first.seq).swaps)) == ["row-beta"]
    fleet.gpu_utils["beta"] = (30.0, 10.0)
    fleet.set_cpu("beta", 20.0)
    third = fleet.tick(second)
    assert 'id="card-beta"' in fleet.page.delta(third, CARDS, second.seq).swaps[0]
    delta = fleet.page.delta(third, TABLE, second.seq)
    assert delta.swaps == [] and set(delta.seen) == {"beta"}, delta
    assert third.rows["beta"] is second.rows["beta"]


def test_a_change_the_card_does_not_show_sends_no_card(fleet):
    """The network rates are the table's, not the card's: a new rate sends the row, and the card only as a
    `seen` event."""
    fleet.page.hold_view(TABLE)
    first = fleet.tick()
    fleet.net["beta"] = 5e6
    fleet.set_cpu("beta", 20.0)
    second = fleet.tick(first)
    cards = fleet.page.delta(second, CARDS, first.seq)
    assert cards.swaps == [] and set(cards.seen) == {"beta"}, cards
    assert second.html["beta"] is first.html["beta"]
    assert list(oob_rows(fleet.page.delta(second, TABLE, first.seq).swaps)) == ["row-beta"]


def test_a_row_dropped_while_nobody_showed_the_table_is_compared_as_its_clients_have_it(fleet):
    """beta changed while only cards were watched (its row dropped); a table stream then gets the whole section,
    and beta's next change is one the row does not show: no row is sent."""
    fleet.page.hold_view(CARDS)
    first = fleet.tick()
    fleet.gpu_utils["beta"] = (10.0, 30.0)
    fleet.set_cpu("beta", 20.0)
    second = fleet.tick(first)
    assert "beta" not in second.rows
    fleet.page.hold_view(TABLE)  # its client got the whole section of `second`
    fleet.gpu_utils["beta"] = (30.0, 10.0)
    fleet.set_cpu("beta", 20.0)
    third = fleet.tick(second)
    delta = fleet.page.delta(third, TABLE, second.seq)
    assert delta.swaps == [] and set(delta.seen) == {"beta"}, delta
    assert 'id="card-beta"' in fleet.page.delta(third, CARDS, second.seq).swaps[0]
    # a client from before beta's first change still gets its row
    assert list(oob_rows(fleet.page.delta(third, TABLE, first.seq).swaps)) == ["row-beta"]
