"""The problems of the inventory's alerting part (`alerts:` and `notifiers:`) on the Alerts page, in the page's
language (webapp/message_patterns.py).

Every message inventory/alerting.py, inventory/alert_models.py and inventory/notifier_config.py word for a bad rule
or notifier (their own checks and their wording of pydantic's errors), as a template of its English wording; `%(...)s`
stands for the values. The messages the alerting part shares with the rest of the inventory (an unknown key, a
label's key or value, a duplicate YAML key, "required, but missing") are inventory_words.py's. After rewording a
message there, reword its template here (and its Chinese): tests/unit/test_alert_words.py makes each template match
a message the inventory code really produces.

A value the alerting code describes in words ("got the string 'x'", "unknown metric the number 5": alert_models.py
`describe`) is worded by inventory_words' `VALUES`.
"""
from __future__ import annotations

from collections.abc import Mapping

from webapp.i18n import N_, current, gettext
from webapp.inventory_words import PROBLEMS as INVENTORY_PROBLEMS, VALUES
from webapp.message_patterns import Patterns

TEMPLATES = (
    # inventory/alerting.py: the sections, the entries, notify, duplicate names, pydantic's errors as it words them
    N_("alerts must be a list of rules (each a mapping with a name), got %(value)s"),
    N_('notifiers must be a mapping of name to settings like ops: {type: webhook, url: "https://..."}, got %(value)s'),
    N_("each rule must be a mapping with a name and a metric or an event, got %(value)s"),
    N_('a notifier must be a mapping like {type: webhook, url: "https://..."}, got %(value)s'),
    N_("notify must be a list of notifier names like [ops], got %(value)s"),
    N_("notifier %(value)s is invalid (see the problems of notifiers.%(name)s); the rule is loaded without it"),
    N_("unknown notifier %(value)s (did you mean %(close)s?); defined: %(defined)s; the rule is loaded without it"),
    N_("unknown notifier %(value)s; defined: (none); the rule is loaded without it"),
    N_("unknown notifier %(value)s; defined: %(defined)s; the rule is loaded without it"),
    N_("duplicate rule name %(name)s: first defined on line %(line)s; this rule is ignored"),
    N_("duplicate rule name %(name)s: first defined; this rule is ignored"),
    N_("required, but missing: every rule needs a unique name (letters, digits and _.- (at most 64))"),
    N_("required with metric: op must be one of %(ops)s"),
    N_("required with metric: the number to compare with"),
    N_("required, but missing: one of %(types)s"),
    N_("required, but missing: the http:// or https:// URL to post to"),
    N_("a rule needs either metric (one of %(metrics)s) or event (one of %(events)s)"),
    N_("the value of header %(name)s must be a string on one line (no control characters)"),
    # inventory/alert_models.py: a rule's checks
    N_("invalid rule name %(value)s: allowed are letters, digits and _.- (at most 64)"),
    N_("invalid notifier name %(value)s: allowed are letters, digits and _.- (at most 64)"),
    N_("unknown metric %(value)s (did you mean %(close)s?); known: %(known)s"),
    N_("unknown metric %(value)s; known: %(known)s"),
    N_("unknown event %(value)s (did you mean %(close)s?); known: %(known)s"),
    N_("unknown event %(value)s; known: %(known)s"),
    N_("unknown severity %(value)s (did you mean %(close)s?); allowed: %(allowed)s"),
    N_("unknown severity %(value)s; allowed: %(allowed)s"),
    N_("unknown notifier type %(value)s (did you mean %(close)s?); allowed: %(allowed)s"),
    N_("unknown notifier type %(value)s; allowed: %(allowed)s"),
    N_("a rule has either metric or event, not both"),
    N_("%(key)s applies only to metric rules; an event rule fires (at once) when its event happens"),
    N_('op must be one of %(ops)s, got %(value)s (quote it: op: ">")'),
    N_("op must be one of %(ops)s, got %(value)s"),
    N_("threshold must be a number like 80 or 0.5, without a unit (%(metric)s is in %(unit)s); got %(value)s"),
    N_("threshold must be a number like 80 or 0.5, without a unit; got %(value)s"),
    N_("bad duration %(value)s: use 30s, 5m, 1h"),
    N_('%(key)s must be a glob pattern string like "prod-*" or "*", got %(value)s'),
    N_("%(key)s must be a non-empty glob pattern without control characters (at most 256 characters), got %(value)s"),
    N_("items applies only to per-disk and per-GPU metrics and to event subjects; %(metric)s is one value per host"),
    N_("labels must be a mapping like {env: prod}, got %(value)s"),
    N_("label key must be a string, got %(type)s %(value)s"),  # inventory/patterns.py, reached by a rule's labels
    # inventory/notifier_config.py: a notifier's settings
    N_('url must be a string like "https://hooks.example.com/...", got %(value)s'),
    N_("url must not be empty: give the http:// or https:// URL to post to"),
    N_("url is %(length)s characters long; at most %(most)s are allowed"),
    N_("url must not contain spaces or control characters (%(url)s)"),
    N_("url cannot be parsed: expected http://HOST/... or https://HOST/..."),
    N_("url must start with http:// or https://, got no scheme"),
    N_("url must start with http:// or https://, got a %(scheme)s URL"),
    N_("url has no host: expected %(scheme)s://HOST/..."),
    N_("secret applies only to type dingtalk (its signing secret); slack and wecom carry their key in the url, "
       "a webhook can send headers"),
    N_("secret must be a non-empty string on one line (the SEC... signing secret of the DingTalk robot)"),
    N_("timeout must be more than 0 and at most %(most)s, got %(value)s"),
    N_("max_attempts must be a whole number from 1 to 20, got %(value)s"),
    N_("headers apply only to type webhook"),
    N_('headers must be a mapping like {Authorization: "Bearer ..."}, got %(value)s'),
    N_("invalid header name %(value)s: allowed are letters, digits and !#$%%&'*+.^_`|~-"),
)

ALERT_PROBLEMS = Patterns(TEMPLATES, fix={"value": VALUES.translate})


def translate_alert_problem(message: str) -> str:
    """A problem of `alerts:` or `notifiers:` in the page's language: the alerting part's own messages, else those
    it shares with the rest of the inventory (English, and a message no template matches: unchanged)."""
    if ALERT_PROBLEMS.match(message) is not None:
        return ALERT_PROBLEMS.translate(message)
    return INVENTORY_PROBLEMS.translate(message)


def problem_line(problem: Mapping) -> str:
    """One line of the Alerts page's list of problems (`Problem.to_dict()`): in English its `text`
    ("hosts.yaml:14: field 'alerts[0].op': op must be ..."), else the same in the page's language."""
    if current() == "en":
        return problem["text"]
    where = str(problem["file"]) + (f":{problem['line']}" if problem.get("line") is not None else "")
    message = translate_alert_problem(problem["message"])
    if problem.get("field"):
        return gettext("%(where)s: field %(field)s: %(message)s") % {"where": where, "field": problem["field"],
                                                                   "message": message}
    return gettext("%(where)s: %(message)s") % {"where": where, "message": message}
