"""Issue 18 item 6: every colour of app.css is a custom property with a light and a dark value, and each pair
of colours the pages put together meets WCAG 2.x contrast in both themes: 4.5:1 for text, 3:1 for the borders,
dots and bars that carry a state (WCAG 1.4.11); the state colours and the hot red stay apart from each other."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "webapp" / "static" / "app.css"
THEMES = ("light", "dark")
STATES = ("ok", "warn", "bad", "wait")

# (foreground, background): text as the pages show it
TEXT = [
    *[(fg, bg) for fg in ("fg", "muted", "accent", *STATES, "hot") for bg in ("bg", "card")],
    ("fg", "th-bg"), ("accent", "th-bg"),  # table headings and their sort links
    ("ok", "ok-bg"), ("warn", "warn-bg"), ("bad", "bad-bg"), ("fg", "ok-bg"), ("fg", "bad-bg"),  # badges, notices
    ("fg", "held-bg"), ("muted", "held-bg"), ("accent", "held-bg"), ("hot", "held-bg"), ("warn", "held-bg"),
    ("fg", "track"),  # label badges
    ("fg", "field-bg"), ("fg", "button-bg"), ("primary-fg", "primary-bg"), ("active-fg", "active-bg"),
    ("bar-fg", "bar-bg"), ("bar-link", "bar-bg"), ("bar-muted", "bar-bg"),
]
# (colour, what it stands on): borders of controls, the state stripe and dot of a card, bars against their track
UI = [
    *[(s, bg) for s in (*STATES, "hot") for bg in ("card", "bg")],
    ("field-border", "field-bg"), ("field-border", "card"), ("field-border", "bg"), ("field-border", "button-bg"),
    ("accent", "track"), ("gpu", "track"), ("hot", "bad-bg"), ("bar-muted", "bar-bg"),
]
DECL = re.compile(r"--([\w-]+)\s*:\s*([^;]+);")
HEX = r"#[0-9a-fA-F]{6}(?:[0-9a-fA-F]{2})?"
PAIR = re.compile(rf"light-dark\(\s*({HEX})\s*,\s*({HEX})\s*\)$")


def palette() -> dict[str, dict[str, str]]:
    """{theme: {name: "#rrggbb"}} from the first :root block of app.css."""
    css = CSS.read_text(encoding="utf-8")
    root = re.search(r":root\s*\{(.*?)\}", css, re.S)
    assert root, "app.css has no :root block"
    themes: dict[str, dict[str, str]] = {t: {} for t in THEMES}
    for name, value in DECL.findall(root.group(1)):
        value = value.strip()
        both = PAIR.fullmatch(value)
        assert both, f"--{name}: {value!r} is not light-dark(#rrggbb, #rrggbb)"
        themes["light"][name], themes["dark"][name] = both.groups()
    return themes


def luminance(colour: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def lab(colour: str) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour, for the distance between two colours."""
    def lin(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(int(colour[i:i + 2], 16)) for i in (1, 3, 5))
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883
    f = [t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in (x, y, z)]
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def distance(a: str, b: str) -> float:
    return sum((p - q) ** 2 for p, q in zip(lab(a), lab(b))) ** 0.5


def test_the_contrast_function_matches_known_ratios():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic just-too-light grey
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)


def test_light_keeps_the_colours_the_pages_are_known_by():
    light = palette()["light"]
    assert light["hot"] == "#d32f2f"  # rgb(211, 47, 47): tests/browser/test_browser.py reads it on the host page
    assert light["card"] == "#ffffff" and light["fg"] == "#1f2328"


def test_every_colour_outside_root_is_a_custom_property():
    """No literal colour below the :root block (rules, media queries, the blocks other pages append)."""
    css = CSS.read_text(encoding="utf-8")
    rest = css[re.search(r":root\s*\{.*?\}", css, re.S).end():]
    rest = re.sub(r"/\*.*?\*/", "", rest, flags=re.S)
    literals = re.findall(r"#[0-9a-fA-F]{3,8}\b|\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(|(?<![\w-])(?:white|black)(?![\w-])",
                          rest)
    assert not literals, f"colours written out instead of var(--…): {literals}"
    used = set(re.findall(r"var\(--([\w-]+)\)", css))
    assert used <= set(palette()["light"]) | {"v"}, used - set(palette()["light"])


def under(colours: dict[str, str], pairs: list[tuple[str, str]], least: float) -> dict[str, float]:
    """The pairs whose contrast is under `least`, with their ratio."""
    ratios = {f"{fg} on {bg}": contrast(colours[fg], colours[bg]) for fg, bg in pairs}
    return {pair: round(ratio, 2) for pair, ratio in ratios.items() if ratio < least}


@pytest.mark.parametrize("theme", THEMES)
def test_text_meets_4_5_to_1_and_ui_colours_3_to_1(theme):
    colours = palette()[theme]
    assert not under(colours, TEXT, 4.5), f"{theme}: text under 4.5:1"
    assert not under(colours, UI, 3), f"{theme}: borders, dots and bars under 3:1"


def test_a_colour_too_pale_is_caught():
    old = {**palette()["light"], "warn": "#b7791f"}  # the yellow of before issue 18: 3.6:1 on a card
    assert set(under(old, TEXT, 4.5)) == {"warn on bg", "warn on card", "warn on held-bg", "warn on warn-bg"}


@pytest.mark.parametrize("theme", THEMES)
def test_states_and_the_hot_red_stay_apart(theme):
    """ok, warn, bad and wait differ from each other, and hot from every state but bad (both say "trouble") and
    from plain text: at least 20 ΔE (CIE76; 2.3 is a just-noticeable difference)."""
    colours = palette()[theme]
    pairs = [*itertools.combinations(STATES, 2), ("hot", "ok"), ("hot", "warn"), ("hot", "wait"),
             ("hot", "fg"), ("hot", "muted")]
    close = {f"{a}/{b}": round(distance(colours[a], colours[b]), 1) for a, b in pairs
             if distance(colours[a], colours[b]) < 20}
    assert not close, f"{theme}: colours too alike: {close}"


def test_the_themes_differ_where_it_matters():
    light, dark = palette()["light"], palette()["dark"]
    assert luminance(dark["bg"]) < 0.05 < 0.8 < luminance(light["bg"])
    assert luminance(dark["fg"]) > 0.7 > 0.05 > luminance(light["fg"])


def contrast_table() -> str:
    """The figures for a report: `python3 -m tests.unit.test_theme_contrast`."""
    themes = palette()
    rows = [f"{'pair (text 4.5, UI 3)':28} {'light':>6} {'dark':>6}"]
    for (fg, bg), kind in [*((p, "text") for p in TEXT), *((p, "UI") for p in UI)]:
        rows.append(f"{kind + ' ' + fg + ' on ' + bg:28} " + " ".join(f"{contrast(themes[t][fg], themes[t][bg]):6.2f}"
                                                          for t in THEMES))
    return "\n".join(rows)


if __name__ == "__main__":
    print(contrast_table())
