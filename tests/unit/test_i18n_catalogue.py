"""The Chinese catalogue is complete for the translated pages, and those pages hold no English outside it.

- Every message of the templates in TRANSLATED and of webapp's Python (`gettext`, `ngettext`, `pgettext`, `N_`),
  extracted the way `pybabel extract -F babel.cfg` does it, has a Chinese msgstr in
  webapp/locale/zh_Hans/LC_MESSAGES/messages.po (not empty, not fuzzy, the same %(name)s placeholders).
- The templates in TRANSLATED hold no bare user-visible English: text outside `{{ ... }}`, `{% ... %}` and
  `{% trans %}` blocks, and the title, placeholder, aria-label and alt attributes, have no letters except the
  brand and units of ALLOWED. A heuristic over the source, not a proof.

A template joins TRANSLATED once it is translated (docs/i18n.md, "Translating a template").
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "webapp" / "templates"
PO = ROOT / "webapp" / "locale" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
# every template but these (still English; docs/i18n.md's recipe translates one, then it leaves this list):
# none since issue 18 item 7's third pass, so every template is checked
NOT_YET: tuple[str, ...] = ()
TRANSLATED = tuple(sorted(p.name for p in TEMPLATES.glob("*.html") if p.name not in NOT_YET))
# letters allowed outside the catalogue: the brand, units and commands (GiB, MB/s, °C, W and % stay in Chinese)
ALLOWED = ("fleetwatch", "GPU-h", "GiB-h",
           # abbreviations a Chinese SRE reads as they are
           "PCIe", "ECC", "AMD", "PID", "API", "UTC")
CHECKED_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
UNCHECKED_ELEMENTS = ("pre", "code", "script", "style")  # commands, code, not prose


def jinja_options() -> dict[str, str]:
    """babel.cfg's options for the templates (trimmed, newstyle_gettext, ...), as `pybabel extract` reads them."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    (pattern,) = [p for p, method in method_map if method == "jinja2"]
    return dict(options_map[pattern])


def extracted_templates(names=TRANSLATED) -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(context, msgid) -> the msgid and its plural, from these templates."""
    found = {}
    for name in names:
        for _line, message, _comments, context in extract_from_file(
                "jinja2", str(TEMPLATES / name), keywords=DEFAULT_KEYWORDS, options=jinja_options()):
            ids = message if isinstance(message, tuple) else (message,)
            found[(context, ids[0])] = ids
    return found


def extracted_python() -> dict[tuple[str | None, str], tuple[str, ...]]:
    found = {}
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        for _line, message, _comments, context in extract_from_file("python", str(path), keywords=DEFAULT_KEYWORDS):
            ids = message if isinstance(message, tuple) else (message,)
            found[(context, ids[0])] = ids
    return found


def catalogue() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f)


PLACEHOLDER = re.compile(r"%\((\w+)\)[sdr]")


def problems(messages: dict, cat: Catalog) -> list[str]:
    """What is wrong with the catalogue for these messages: missing, empty, fuzzy, other placeholders."""
    out = []
    for (context, msgid), ids in sorted(messages.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        entry = cat.get(msgid, context=context)
        label = f"{context}|{msgid}" if context else msgid
        if entry is None:
            out.append(f"not in the catalogue: {label!r}")
            continue
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if entry.fuzzy or not all(s.strip() for s in strings):
            out.append(f"no Chinese for: {label!r}")
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(ids)))
        for s in strings:
            if set(PLACEHOLDER.findall(s)) != wanted:
                out.append(f"other placeholders in the Chinese of {label!r}: {s!r}")
    return out


def test_every_template_message_has_chinese():
    messages = extracted_templates()
    assert len(messages) > 80  # the extraction found the pages' strings
    assert problems(messages, catalogue()) == []


def test_every_python_message_has_chinese():
    messages = extracted_python()
    assert (None, "Overview") in messages and (None, "Wrong name or password.") in messages
    assert problems(messages, catalogue()) == []


def test_the_check_fails_for_a_missing_or_empty_or_fuzzy_entry():
    cat = Catalog(locale="zh_Hans")
    cat.add("Alerts", "告警")
    cat.add("Events", "")
    cat.add("Rules (%(count)s)", "规则")
    cat.add("Host", "主机", flags=("fuzzy",))
    messages = {(None, m): (m,) for m in ("Alerts", "Events", "Rules (%(count)s)", "Host", "Silence")}
    assert problems(messages, cat) == [
        "no Chinese for: 'Events'", "no Chinese for: 'Host'",
        "other placeholders in the Chinese of 'Rules (%(count)s)': '规则'", "not in the catalogue: 'Silence'"]


# --------------------------------------------------------------------------- bare English
TRANS_BLOCK = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.S)
JINJA = re.compile(r"{#.*?#}|{{.*?}}|{%.*?%}", re.S)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in UNCHECKED_ELEMENTS:
            self.skip += 1
        self.found.extend(f"{name}={value}" for name, value in attrs if name in CHECKED_ATTRIBUTES and value)

    def handle_endtag(self, tag):
        if tag in UNCHECKED_ELEMENTS and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.found.append(data)


def bare_english(source: str) -> list[str]:
    """The user-visible text of a template's source that has letters outside Jinja and the catalogue."""
    parser = _Text()
    parser.feed(JINJA.sub("", TRANS_BLOCK.sub("", source)))
    parser.close()
    out = []
    for text in parser.found:
        rest = text
        for allowed in ALLOWED:
            rest = rest.replace(allowed, "")
        if re.search(r"[A-Za-z]", rest):
            out.append(" ".join(text.split()))
    return out


@pytest.mark.parametrize("name", TRANSLATED)
def test_no_bare_english_in_a_translated_template(name):
    assert bare_english((TEMPLATES / name).read_text(encoding="utf-8")) == []


def test_the_guard_finds_bare_english():
    source = ('<h1>{{ _("Alerts") }}</h1><p>{% trans n=3 %}{{ n }} rules{% endtrans %}</p>'
              '<th>State</th><input placeholder="exact name"><a title="{{ _(\'ok\') }}" href="/x">x</a>'
              '<pre>fleetwatch user add</pre><span data-x="words">{{ v }} GPU-h</span>{# a comment #}')
    assert bare_english(source) == ["State", "placeholder=exact name", "x"]


def test_every_template_named_exists():
    assert all((TEMPLATES / name).is_file() for name in TRANSLATED)


def test_not_yet_names_templates_that_exist():
    assert all((TEMPLATES / name).is_file() for name in NOT_YET)


def test_every_word_of_the_metric_catalogue_is_marked_and_has_chinese():
    """The host page translates the catalogue's labels, short labels, tile and chart titles (webapp/host_view.py):
    webapp/metric_words.py marks them all for extraction, and the catalogue has Chinese for each."""
    from webapp.metric_words import WORDS, catalogue_words

    assert list(WORDS) == catalogue_words(), "regenerate webapp/metric_words.py: python3 -m webapp.metric_words"
    assert problems({(None, w): (w,) for w in WORDS}, catalogue()) == []
