"""What the live feed (webapp/live_feed.py) reads and sends for each page kind, as htmx out-of-band swaps.

Overview ("fleet" topic), as cards or as a table: each tick reads every host once (`schema.fleet.hosts_now`
with the FleetSource's DocCache, which decodes only reports that changed) and the alerts firing, builds the
cards (`webapp.fleet_view.fleet`; a table row shows the same HostCard) and renders `_host_card.html` again
only for hosts whose card changed, and `_fleet_row.html` for them too while some stream shows the table (a
row missing for a table stream, as its host changed while nobody watched a table, is rendered when a stream
needs it: `rows_missing`). A card (row) that reads the same but for its last-seen time is not sent again
(its HostCard may change in what it does not show: the card shows no network rate, the row CPU in whole
percent): the stream sends `{host: last_seen_at}` instead (a `seen` event, applied by fleetwatch.js to the
card's or the row's time). A stream gets the cards (or rows) changed since its client's version, the totals
block when it changed, and, when the list its filter/sort shows changed (a host starts or stops matching, or
the order moves), the whole `#fleet` section once, in its view. Cards and table of one filter/sort share their
list.

Host page ("host:ID" topic): the live partial `_host_live.html`, whole, when it renders differently.

Every fragment is swapped by the id of its first element (`hx-swap-oob="true"`), so the templates can
change freely as long as a card's root element keeps an id (`card-<host>`), and a row's (`row-<host>`). A row
goes out inside a `<template>`: a `<tr>` parsed outside a table would lose its tags (htmx takes out-of-band
swaps out of templates). What a page shows to everyone is rendered once a tick for all streams; what depends
on the role (the host page's proxy buttons) once per role.

Both pages speak one language each (`lang`): a stream subscribes to its page's topic in the language of its
request (webapp/pages/stream.py `topic_key`), and the page sets that language (webapp/i18n.py) around everything
it builds and renders, on whatever thread runs it: the cards' condition texts are worded when they are built.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session

from schema import alert_queries as aq
from schema import fleet as fleet_state
from webapp import i18n
from webapp.fleet_view import DEFAULT_SORT, GPU_HOT_C, SORT_COLUMNS, VIEWS, HostCard, fleet
from webapp.templating import templates

REFRESH_S = 5
_FIRST_TAG = re.compile(r"<([A-Za-z][\w-]*)([^>]*)>")
_HAS_ID = re.compile(r'\sid="[^"]+"')
_RENDERED = re.compile(r'\sdata-rendered="[^"]*"')
# a card's footer and a row's cell with the last-seen time, which `seen` events keep up to date: a card (row)
# that reads the same without them is not sent again, though its HostCard changed in what it does not show
_SEEN_PART = re.compile(r'<footer>.*?</footer>|<td data-col="seen">.*?</td>', re.DOTALL)
Filter = tuple[str, str, str]  # the overview's q, state, sort: what decides the list of hosts shown
ViewKey = tuple[str, str, str, str]  # q, state, sort and the view ("cards" or "table")
DEFAULT_FILTER: Filter = ("", "", DEFAULT_SORT)


def _same(new: str | None, old: str | None) -> bool:
    """Both rendered, and they read the same but for their last-seen time."""
    return new is not None and old is not None and _SEEN_PART.sub("", new) == _SEEN_PART.sub("", old)


def oob(html: str) -> str | None:
    """`html` with `hx-swap-oob="true"` on its first element; None when that element has no id to swap by."""
    m = _FIRST_TAG.search(html)
    if m is None or not _HAS_ID.search(m.group(2)):
        return None
    return html[:m.end(1)] + ' hx-swap-oob="true"' + html[m.end(1):]


def _render(name: str, role: str = "viewer", block: str | None = None, **context: Any) -> str:
    """A template outside a request: nobody's CSRF token; `is_admin` by role."""
    template = templates.env.get_template(name)
    context = {"request": None, "principal": None, "csrf": None, "is_admin": role == "admin", **context}
    if block is None:
        return template.render(context)
    return "".join(template.blocks[block](template.new_context(context)))


@dataclass
class View:
    ids: tuple[str, ...]  # the cards (rows) one filter/sort shows, in order
    changed: int  # the version at which that list last changed
    since: int  # the version from which it is known


@dataclass
class FleetSnapshot:
    seq: int
    started: int
    specs: dict[str, Any]
    now: dict[str, Any]  # HostNow by id
    firing: int  # alerts firing, all hosts
    firing_by_host: dict[str, list[tuple[str, str]]]  # each host's (rule, severity) firing: the cards' conditions
    at: float  # the time the cards were built at (stale data)
    cards: dict[str, HostCard]
    html: dict[str, str | None]  # each card as an out-of-band swap (None: its element has no id)
    card_changed: dict[str, int]
    seen_changed: dict[str, int]  # the version of the last-seen time not in `html` (== card_changed: it is)
    totals: Any
    totals_html: str | None
    totals_changed: int
    views: dict[Filter, View] = field(default_factory=dict)  # by filter: cards and table share a list
    # each row as an out-of-band swap in a <template> (None: no id), for the hosts whose row was rendered since
    # their card last changed; added to from the streams' threads (rows_missing/render_rows), never removed
    rows: dict[str, str | None] = field(default_factory=dict)
    # the version at which each host's row last read differently (its card may change in what the row does not
    # show: the row is then not sent again); a row not rendered when its card changed counts as changed
    row_changed: dict[str, int] = field(default_factory=dict)


@dataclass
class Delta:
    """What one stream gets for one tick (nothing to send: all empty)."""

    swaps: list[str]
    seen: dict[str, float]

    def __bool__(self) -> bool:
        return bool(self.swaps or self.seen)


def view_key(q: str, state: str, sort: str, view: str = "cards") -> ViewKey:
    return (" ".join(q.split()), state, sort or DEFAULT_SORT, view if view in VIEWS else "cards")


def _url_with(key: ViewKey, **changes) -> str:
    """The table's sort links outside a request: the overview's URL for `key`, some parameters replaced."""
    q, state, sort, view = key
    params = {"q": q, "state": state, "sort": sort, "view": view, **changes}
    return "/?" + urlencode({k: v for k, v in params.items() if v})


class FleetPage:
    """The overview's topic (see the module docstring)."""

    def __init__(self, source, engine, lang: str = i18n.DEFAULT) -> None:
        self.source, self.engine, self.lang = source, engine, lang
        self._views: dict[ViewKey, int] = {}  # view: streams showing it
        self._lock = threading.Lock()
        self._full: dict[tuple[ViewKey, int], str] = {}

    # ------------------------------------------------------------------ views (event loop)
    def hold_view(self, key: ViewKey) -> None:
        with self._lock:
            self._views[key] = self._views.get(key, 0) + 1

    def drop_view(self, key: ViewKey) -> None:
        with self._lock:
            left = self._views.get(key, 0) - 1
            if left > 0:
                self._views[key] = left
            else:
                self._views.pop(key, None)

    @i18n.speaking
    def view_ids(self, snap: FleetSnapshot, key: ViewKey | Filter) -> tuple[str, ...]:
        """The cards `key` shows in `snap`, in order (blocking: a thread)."""
        q, state, sort = key[:3]
        return tuple(c.id for c in fleet(snap.specs, snap.now, query=q, state=state, sort=sort,
                                         firing=snap.firing_by_host, at=snap.at)[1])

    def ensure_view(self, snap: FleetSnapshot, key: ViewKey | Filter) -> None:
        """Know `key`'s list from `snap` on (blocking: a thread), so that a page just rendered gets changes
        rather than the whole list at the next tick."""
        if key[:3] not in snap.views:
            snap.views[key[:3]] = View(self.view_ids(snap, key), snap.seq, snap.seq)

    # ------------------------------------------------------------------ ticks (worker thread)
    @i18n.speaking
    def tick(self, prev: FleetSnapshot | None, next_seq) -> FleetSnapshot:
        specs = self.source.specs
        with Session(self.engine) as session:
            now = fleet_state.hosts_now(session, specs, cache=self.source.docs)
            by_host = aq.firing_by_host(session)
        firing, at = sum(len(v) for v in by_host.values()), time.time()
        totals, card_list = fleet(specs, now, firing=by_host, at=at)
        cards = {c.id: c for c in card_list}
        with self._lock:
            held = list(self._views)
        wanted = [DEFAULT_FILTER, *dict.fromkeys(k[:3] for k in held if k[:3] != DEFAULT_FILTER)]
        tables = any(k[3] == "table" for k in held)  # nobody shows the table: no row is rendered
        if prev is None:
            seq = next_seq()
            html = {h: oob(self._card(c)) for h, c in cards.items()}
            # no rows: a stream's client has a version from this one on, or gets the whole section
            snap = FleetSnapshot(seq, seq, specs, now, firing, by_host, at, cards, html, dict.fromkeys(cards, seq),
                                 dict.fromkeys(cards, seq), totals, self._totals(totals, firing), seq,
                                 row_changed=dict.fromkeys(cards, seq))
        else:
            changed, seen = [], []
            for h, card in cards.items():
                old = prev.cards.get(h)
                if old == card:
                    continue
                if old is not None and replace(card, last_seen_at=old.last_seen_at) == old:
                    seen.append(h)
                else:
                    changed.append(h)
            totals_moved = (totals, firing) != (prev.totals, prev.firing)
            gone = prev.cards.keys() - cards.keys()
            if not (changed or seen or totals_moved or gone):
                for key in wanted:
                    if key not in prev.views:
                        self.ensure_view(prev, key)
                return prev
            seq = next_seq()
            html = {h: prev.html[h] for h in cards if h in prev.html}
            card_changed = {h: prev.card_changed[h] for h in cards if h in prev.card_changed}
            seen_changed = {h: prev.seen_changed[h] for h in cards if h in prev.seen_changed}
            rows = {h: prev.rows[h] for h in cards if h in prev.rows}
            row_changed = {h: prev.row_changed[h] for h in cards if h in prev.row_changed}
            for h in changed:
                seen_changed[h] = seq
                card = oob(self._card(cards[h]))
                if not _same(card, html.get(h)):
                    html[h], card_changed[h] = card, seq
                if not tables:
                    rows.pop(h, None)  # rendered again if a table stream needs it
                    row_changed[h] = seq
                    continue
                row, old = self._row(cards[h]), rows.get(h)
                if old is None and h in prev.cards:  # dropped while nobody showed the table: as the clients have it
                    old = self._row(prev.cards[h])
                if _same(row, old):
                    rows[h] = old if h in rows else row
                else:
                    rows[h], row_changed[h] = row, seq
            for h in seen:
                seen_changed[h] = seq
            snap = FleetSnapshot(seq, prev.started, specs, now, firing, by_host, at, cards, html, card_changed,
                                 seen_changed,
                                 totals, self._totals(totals, firing) if totals_moved else prev.totals_html,
                                 seq if totals_moved else prev.totals_changed, rows=rows, row_changed=row_changed)
        for key in wanted:
            ids = tuple(cards) if key == DEFAULT_FILTER else self.view_ids(snap, key)
            old_view = prev.views.get(key) if prev is not None else None
            if old_view is not None and old_view.ids == ids:
                snap.views[key] = old_view
            else:
                snap.views[key] = View(ids, seq, old_view.since if old_view is not None else seq)
        self._full = {k: v for k, v in self._full.items() if k[1] == seq}
        return snap

    def _card(self, card: HostCard) -> str:
        return _render("_host_card.html", card=card, now=time.time())

    def _row(self, card: HostCard) -> str | None:
        """The table's row of `card` as an out-of-band swap, in a <template> (see the module docstring)."""
        row = oob(_render("_fleet_row.html", c=card, hot_c=GPU_HOT_C, now=time.time()))
        return None if row is None else f"<template>{row}</template>"

    def _totals(self, totals, firing: int) -> str | None:
        """The totals block (`{% block totals %}` of _fleet.html) as an out-of-band swap."""
        return oob(_render("_fleet.html", block="totals", totals=totals, alerts_firing=firing))

    # ------------------------------------------------------------------ what a stream gets
    def _changed(self, snap: FleetSnapshot, key: ViewKey, since: int | None) -> list[str] | None:
        """The hosts of `key`'s list whose card changed since `since`, in order; None: the client needs the
        whole list."""
        view = snap.views.get(key[:3])
        if since is None or since < snap.started or view is None or view.since > since or view.changed > since:
            return None
        versions = snap.row_changed if key[3] == "table" else snap.card_changed
        return [h for h in view.ids if versions.get(h, since) > since]

    def rows_missing(self, snap: FleetSnapshot, key: ViewKey, since: int | None) -> list[str]:
        """The rows a table stream needs from `snap` that are not rendered yet (none for the cards)."""
        if key[3] != "table":
            return []
        return [h for h in self._changed(snap, key, since) or () if h not in snap.rows]

    @i18n.speaking
    def render_rows(self, snap: FleetSnapshot, hosts: list[str]) -> None:
        """Render the rows of `hosts` as `snap` has them (blocking: a thread)."""
        for h in hosts:
            snap.rows[h] = self._row(snap.cards[h])

    def delta(self, snap: FleetSnapshot, key: ViewKey, since: int | None) -> Delta | None:
        """What changed for `key` since version `since`; None when the client needs the whole list."""
        changed = self._changed(snap, key, since)
        if changed is None:
            return None
        fragments = snap.rows if key[3] == "table" else snap.html
        swaps = [fragments.get(h) for h in changed]
        if any(s is None for s in swaps):
            return None  # a card (row) without an id, or a row not rendered: it cannot be swapped alone
        if snap.totals_changed > since and snap.totals_html is not None:
            swaps.append(snap.totals_html)
        view = snap.views[key[:3]]
        versions = snap.row_changed if key[3] == "table" else snap.card_changed
        seen = {h: snap.cards[h].last_seen_at for h in view.ids
                if snap.seen_changed.get(h, 0) > max(since, versions.get(h, 0))}
        return Delta(swaps, {h: ts for h, ts in seen.items() if ts is not None})

    @i18n.speaking
    def full(self, snap: FleetSnapshot, key: ViewKey, token: str) -> str:
        """The whole `#fleet` section for `key`, in its view, as an out-of-band swap (blocking: a thread)."""
        cached = self._full.get((key, snap.seq))
        if cached is not None:
            return cached
        q, state, sort, view = key
        totals, cards = fleet(snap.specs, snap.now, query=q, state=state, sort=sort, firing=snap.firing_by_host,
                              at=snap.at)
        html = _render("_fleet.html", totals=totals, cards=cards, alerts_firing=snap.firing, q=q, state=state,
                       sort=sort, view=view, notices=(), now=time.time(), refresh_s=REFRESH_S,
                       stream_since=token, columns=SORT_COLUMNS, hot_c=GPU_HOT_C,
                       url_with=lambda **changes: _url_with(key, **changes))
        out = oob(html) or html
        self._full[(key, snap.seq)] = out
        return out


@dataclass
class HostSnapshot:
    seq: int
    started: int
    shape: str  # the viewer's rendering without its render time: what decides "changed"
    context: dict[str, Any]
    rendered: dict[str, str] = field(default_factory=dict)  # by role


class HostPage:
    """One host page's topic: the live partial, whole, when it changed."""

    def __init__(self, source, engine, host_id: str, lang: str = i18n.DEFAULT) -> None:
        self.source, self.engine, self.host_id, self.lang = source, engine, host_id, lang

    @i18n.speaking
    def tick(self, prev: HostSnapshot | None, next_seq) -> HostSnapshot | None:
        from webapp.pages.hosts import live_context  # the page's own reading

        spec = self.source.specs.get(self.host_id)
        if spec is None:
            return prev  # removed from the inventory: the page stays as it was
        with Session(self.engine) as session:
            context = live_context(session, self.source, spec)
        context["now"] = time.time()
        viewer = _render("_host_live.html", **context)
        shape = _RENDERED.sub("", viewer)
        if prev is not None and prev.shape == shape:
            return prev
        seq = next_seq()
        return HostSnapshot(seq, prev.started if prev is not None else seq, shape, context, {"viewer": viewer})

    @i18n.speaking
    def fragment(self, snap: HostSnapshot, role: str) -> str:
        """The live partial for `role` as an out-of-band swap (blocking the first time per role: a thread)."""
        html = snap.rendered.get(role)
        if html is None:
            html = snap.rendered[role] = _render("_host_live.html", role=role, **snap.context)
        return oob(html) or html
