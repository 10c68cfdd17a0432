"""Property tests for the catalog parsers: any text gives a record (or ParseError), catalog() never raises."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.parsers import ParseError, units
from collector.prober import catalog
from inventory.patterns import validate_unit
from tests.unit.test_parsers_fuzz import FRAGMENTS, FUZZ, LINE_SOUP, _check

PARSERS = {"units": units.parse, "unit_files": units.parse_files}

# Rows close to real ones: unit-ish names, state words, bullets, descriptions.
NAMES = st.sampled_from(["nginx.service", "getty@tty1.service", "getty@.service", "foo.socket", "a\\x2db.service",
                         "-x.service", "bad;name.service", "é.service", ".service", "x.", "absent"])
WORDS = st.sampled_from(["loaded", "not-found", "masked", "active", "inactive", "failed", "activating",
                         "running", "dead", "auto-restart", "enabled", "static", "alias", "-", "LOADED", "1", ""])
ROWS = st.lists(
    st.tuples(st.sampled_from(["", "● ", "* ", "  "]), NAMES, st.lists(WORDS, max_size=5), st.text(max_size=20))
    .map(lambda t: t[0] + " ".join([t[1], *t[2], t[3]])),
    max_size=20,
).map("\n".join)


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(text=st.one_of(st.text(), FRAGMENTS, LINE_SOUP, ROWS))
def test_parsers_return_records(name, text):
    _check(PARSERS[name], text)


@FUZZ
@given(a=st.one_of(st.text(), LINE_SOUP, ROWS), b=st.one_of(st.text(), LINE_SOUP, ROWS))
def test_catalog_never_raises_and_only_lists_valid_services(a, b):
    try:
        listed, files = units.parse(a), units.parse_files(b)
    except ParseError:
        return
    entries = catalog(listed, files)
    names = [e.name for e in entries]
    assert names == sorted(set(names))
    for name in names:
        assert validate_unit(name) == name and name.endswith(".service") and not name.endswith("@.service")
