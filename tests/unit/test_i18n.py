"""The pages' languages (webapp/i18n.py): which one a request gets, where the switch may send the browser back
to, the words and numbers of each, and Chinese durations (schema/units_format.py)."""
from __future__ import annotations

import re

import pytest

from schema.units_format import format_duration, format_value
from webapp import i18n


@pytest.fixture
def zh():
    token = i18n.activate("zh")
    yield
    i18n.deactivate(token)


# --------------------------------------------------------------------------- choosing the language
@pytest.mark.parametrize("header, wanted", [
    ("zh-CN,zh;q=0.9,en;q=0.8", ["zh-cn", "zh", "en"]),
    ("en;q=0.5, zh-CN", ["zh-cn", "en"]),  # by q, not by order
    ("fr, de;q=0.9, en;q=0.9", ["fr", "de", "en"]),  # ties keep their order
    ("zh;q=0, en", ["en"]),  # q=0: not this one
    ("zh;q=abc, en", ["en"]),  # a q that is not a number
    ("zh;q=1.5, en", ["en"]),  # out of range
    ("*", ["*"]),
    ("zh_CN", ["zh-cn"]),
    ("", []),
    (None, []),
    ("<script>, en", ["en"]),  # not a language tag
    ("a" * 40 + ", en", ["en"]),
])
def test_accept_language_is_read_by_q_value(header, wanted):
    assert i18n.parse_accept_language(header) == wanted


@pytest.mark.parametrize("tag, lang", [
    ("zh", "zh"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh-Hans-CN", "zh"), ("zh-SG", "zh"), ("ZH-cn", "zh"),
    ("zh-TW", None), ("zh-HK", None), ("zh-MO", None), ("zh-Hant", None), ("zh-Hant-TW", None),
    ("zh-Hans-HK", "zh"),  # Simplified script asked for explicitly
    ("en", "en"), ("en-US", "en"), ("en-GB", "en"), ("fr", None), ("*", None), ("zhx", None),
])
def test_language_tags(tag, lang):
    assert i18n.lang_of_tag(tag) == lang


@pytest.mark.parametrize("cookie, header, lang", [
    (None, None, "en"),
    (None, "zh-CN,zh;q=0.9", "zh"),
    (None, "zh-TW", "en"),  # Traditional Chinese: no page language for it, English
    (None, "zh-TW,zh;q=0.8,en;q=0.5", "zh"),  # ... unless the browser also takes plain Chinese
    (None, "zh-HK,en;q=0.9,zh-CN;q=0.8", "en"),
    (None, "fr,de;q=0.9,zh-SG;q=0.5", "zh"),  # the first language the hub has
    (None, "en-US,en;q=0.9,zh-CN;q=0.8", "en"),
    (None, "fr", "en"),
    ("en", "zh-CN", "en"),  # the switch's cookie wins
    ("zh", "en-US", "zh"),
    ("zh", None, "zh"),
    ("klingon", "zh-CN", "zh"),  # a cookie the hub did not set is ignored
    ("", "zh", "zh"),
])
def test_negotiate_cookie_then_header_then_english(cookie, header, lang):
    assert i18n.negotiate(cookie, header) == lang


@pytest.mark.parametrize("target, safe", [
    ("/alerts", "/alerts"), ("/gpus?q=a%20b&sort=util", "/gpus?q=a%20b&sort=util"), ("/", "/"),
    (None, "/"), ("", "/"), ("alerts", "/"), ("//evil.example/x", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("\\\\evil.example", "/"), ("/\t/evil.example", "/"), ("/\n/evil.example", "/"),
    ("javascript:alert(1)", "/"), ("/ /evil", "/"), ("/%2F/evil.example", "/%2F/evil.example"),
])
def test_the_switch_goes_back_only_to_a_path_of_this_hub(target, safe):
    assert i18n.safe_next(target) == safe


def test_an_unknown_language_is_english():
    token = i18n.activate("fr")
    try:
        assert i18n.current() == "en" and i18n.gettext("Alerts") == "Alerts"
    finally:
        i18n.deactivate(token)


# --------------------------------------------------------------------------- words
def test_english_is_the_msgids():
    assert i18n.current() == "en"
    assert i18n.gettext("Alerts") == "Alerts"
    assert i18n.ngettext("%(num)s day", "%(num)s days", 2) == "%(num)s days"
    assert i18n.pgettext("GPU", "Memory") == "Memory"
    assert i18n.word("firing") == "firing" and i18n.word("host_down") == "host_down"


def test_chinese_words(zh):
    assert i18n.gettext("Alerts") == "告警"
    assert i18n.ngettext("%(num)s day", "%(num)s days", 2) == "%(num)s 天"
    assert i18n.pgettext("GPU", "Memory") == "显存"
    assert i18n.pgettext("login", "Name") == "用户名"
    assert i18n.gettext("Name") == "名称"
    assert [i18n.word(w) for w in ("up", "degraded", "down", "firing", "critical", "host_down")] == \
        ["正常", "降级", "宕机", "告警中", "严重", "主机宕机"]
    assert i18n.word("something-else") == "something-else" and i18n.word(None) == ""
    assert i18n.gettext("a message nobody wrote") == "a message nobody wrote"


def test_every_word_has_a_chinese_translation(zh):
    untranslated = sorted(w for w in i18n.WORDS if i18n.word(w) == w)
    assert not untranslated


def test_the_catalogue_compiles_in_memory_without_fuzzy_entries(tmp_path):
    po = tmp_path / "messages.po"
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
                  'msgid "Alerts"\nmsgstr "告警"\n\n#, fuzzy\nmsgid "Events"\nmsgstr "活动"\n', encoding="utf-8")
    t = i18n.compile_po(po)
    assert t.gettext("Alerts") == "告警"
    assert t.gettext("Events") == "Events"  # a fuzzy guess is not shown


# --------------------------------------------------------------------------- numbers, dates, durations
def test_numbers_and_dates_in_english_are_as_before():
    assert i18n.format_number(1234.5, 2) == "1234.50"
    assert i18n.format_number(1234) == "1234"
    assert i18n.format_number(None) == "–"
    assert i18n.format_datetime(1700000000) == "2023-11-14T22:13:20Z"
    assert i18n.format_date(1700000000) == "2023-11-14"
    assert i18n.format_datetime(None) == ""


def test_numbers_and_dates_in_chinese(zh):
    assert i18n.format_number(1234.5, 2) == "1,234.50"
    assert i18n.format_number(1234.56, 1) == "1,234.6"
    assert i18n.format_number(1234567) == "1,234,567"
    assert i18n.format_number(7, 0) == "7"
    assert i18n.format_datetime(1700000000) == "2023年11月14日 22:13:20"
    assert i18n.format_date(1700000000) == "2023年11月14日"


@pytest.mark.parametrize("seconds, en, zh", [
    (0, "0 s", "0 秒"), (42, "42 s", "42 秒"), (60, "1 min", "1 分"), (200, "3 min 20 s", "3 分 20 秒"),
    (3600, "1 h", "1 小时"), (7500, "2 h 5 min", "2 小时 5 分"), (86400, "1 d", "1 天"),
    (273600, "3 d 4 h", "3 天 4 小时"), (-5, "0 s", "0 秒"),
])
def test_durations_in_english_and_chinese(seconds, en, zh):
    assert format_duration(seconds) == en
    assert format_duration(seconds, lang="en") == en
    assert format_duration(seconds, lang="zh") == zh
    assert format_value(seconds, "s", lang="zh") == zh


def test_units_stay_international_in_chinese():
    assert format_value(85.0, "°C", lang="zh") == "85 °C"
    assert format_value(112.4, "W", lang="zh") == "112 W"
    assert format_value(12.5, "%", lang="zh") == "12.5 %"
    assert format_value(1536, "MiB", lang="zh") == "1.5 GiB"
    assert format_value(2_500_000, "bytes/s", lang="zh") == "2.5 MB/s"
    assert format_duration(None, lang="zh") == "–"
    assert format_duration(5, lang="xx") == "5 s"  # an unknown language words it in English


def test_template_filters_follow_the_request_language(zh):
    from webapp.templating import TranslatedNav, ago, duration, metric

    assert duration(200) == "3 分 20 秒" and metric(7500, "s") == "2 小时 5 分"
    assert ago(42) == "42 秒前" and ago(None) == "从未"
    assert [label for _key, _href, label in TranslatedNav()][:2] == ["总览", "GPU"]


def test_template_filters_in_english_are_as_before():
    from webapp.templating import NAV, TranslatedNav, ago, duration

    assert duration(200) == "3 min 20 s" and ago(42) == "42 s ago" and ago(None) == "never"
    assert list(TranslatedNav()) == list(NAV)


def test_the_network_counting_rules_are_worded_as_the_collector_words_them_and_in_chinese(zh):
    """The host page's "Net in / out count ..." rule: webapp marks collector/net_counting.py's RULES for the
    catalogue; a rule reworded there and not here would show in English on a Chinese page."""
    from collector.net_counting import RULES
    from webapp.host_view import NET_RULE_WORDS

    assert NET_RULE_WORDS == RULES
    for key, english in RULES.items():
        chinese = i18n.gettext(english)
        assert chinese != english and not re.search(r"\b(interfaces?|bridges?|left out|bond)\b", chinese), key
