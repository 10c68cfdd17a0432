"""Messages worded outside webapp (the inventory's problems, the schema's errors), translated by their pattern.

The inventory and the schema know no web (import-linter: "inventory knows no web") and word their messages in
English, values filled in with f-strings. The pages translate them here: each message's template is marked
`N_("... %(value)s ...")`, its Chinese is in the catalogue like any other message, and `Patterns.translate`
matches a whole message against the templates (each `%(name)s` is any text), then fills the Chinese template
with the values found. English, and a message no template matches, come back unchanged.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from webapp.i18n import current, gettext

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"


def template_regex(template: str) -> re.Pattern[str]:
    """The English template as a regular expression: literal text as it is, `%(name)s` a named group."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[pos:m.start()]))
        out.append("%" if m.group(0) == "%%" else f"(?P<{m.group(1)}>.*?)")
        pos = m.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out), re.DOTALL)


class Patterns:
    """Templates (most specific first: the first whole match wins) and, per placeholder name, how its value
    is worded in the page's language (`fix`; default: as it is)."""

    def __init__(self, templates: Iterable[str], fix: Mapping[str, Callable[[str], str]] | None = None):
        self.templates = tuple(templates)
        self.regexes = tuple(template_regex(t) for t in self.templates)
        self.fix = dict(fix or {})

    def match(self, message: str) -> tuple[str, dict[str, str]] | None:
        """(template, values) of the first template the whole message matches, else None."""
        for template, regex in zip(self.templates, self.regexes):
            m = regex.fullmatch(message)
            if m is not None:
                return template, m.groupdict()
        return None

    def translate(self, message: str) -> str:
        """The message in the page's language (English: unchanged; unknown messages: unchanged)."""
        if current() == "en" or not isinstance(message, str):
            return message
        found = self.match(message)
        if found is None:
            return message
        template, values = found
        worded = {k: self.fix[k](v) for k, v in values.items() if k in self.fix}
        translated = gettext(template)
        for name, value in worded.items():
            if value != values[name]:
                translated = _snug(translated, name, value)
        return translated % {**values, **worded}


def _snug(template: str, name: str, value: str) -> str:
    """No space between a worded value and the template's Chinese beside it: "实际为 %(value)s" with "数字 5" reads
    "实际为数字 5" (a space stays between Chinese and a number, a quote, a Latin word)."""
    if re.match(f"[{_CJK}]", value):
        template = re.sub(rf"(?<=[{_CJK}]) (?=%\({name}\)s)", "", template)
    if re.search(f"[{_CJK}]$", value):
        template = re.sub(rf"(?<=%\({name}\)s) (?=[{_CJK}])", "", template)
    return template
