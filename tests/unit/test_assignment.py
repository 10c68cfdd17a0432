"""Rendezvous assignment of hosts to workers (issue 15): property tests over random fleets and members."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.assignment import assign, candidates, hosts_of, owner

host_ids = st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True), min_size=1, max_size=300, unique=True)
members = st.dictionaries(st.from_regex(r"m[0-9a-z]{1,6}", fullmatch=True), st.integers(1, 4), min_size=1,
                          max_size=5)


@settings(max_examples=60, deadline=None)
@given(host_ids, members)
def test_every_host_has_exactly_one_owner_among_the_live_workers(hosts, live):
    pool = candidates(live)
    owners = assign(hosts, pool)
    assert set(owners) == set(hosts) and set(owners.values()) <= set(pool)
    # each worker computing its own share alone gets a partition of the fleet
    shares = [hosts_of(c, hosts, pool) for c in pool]
    assert sum(len(s) for s in shares) == len(hosts) and set().union(*shares) == set(hosts)


@settings(max_examples=60, deadline=None)
@given(host_ids, members, st.data())
def test_a_member_leaving_moves_only_its_own_hosts_and_coming_back_moves_only_what_it_wins(hosts, live, data):
    if len(live) < 2:
        live = {**live, "mzz": 2}
    gone = data.draw(st.sampled_from(sorted(live)))
    before = assign(hosts, candidates(live))
    after = assign(hosts, candidates({m: n for m, n in live.items() if m != gone}))
    moved = {h for h in hosts if before[h] != after[h]}
    assert moved == {h for h in hosts if before[h][0] == gone}, "only the hosts of the member that left move"
    back = assign(hosts, candidates(live))
    assert back == before, "when it comes back, exactly its hosts return"


def test_the_fleet_spreads_evenly():
    hosts = [f"gpu-{i:04d}" for i in range(6000)]
    counts: dict = {}
    for h in hosts:
        c = owner(h, candidates({"a": 2, "b": 2, "c": 2}))
        counts[c] = counts.get(c, 0) + 1
    assert len(counts) == 6 and max(counts.values()) < 1.15 * 1000 and min(counts.values()) > 0.85 * 1000
