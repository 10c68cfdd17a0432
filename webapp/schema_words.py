"""The schema's errors on the History and Compare pages (an unknown sort column or metric, a range the wrong
way round), in the page's language: templates of their English wording (webapp/message_patterns.py)."""
from __future__ import annotations

from webapp.i18n import N_, gettext
from webapp.message_patterns import Patterns


def _either(names: str) -> str:
    """"cpu_pct or cpu_pct_avg" (collector/metrics/model.py `did_you_mean`) in the page's language."""
    return names.replace(" or ", gettext(" or "))


TEMPLATES = (
    # schema/history.py parse_sort
    N_("unknown sort column %(name)s; did you mean %(close)s? allowed: %(allowed)s (prefix with '-' for descending)"),
    N_("unknown sort column %(name)s; allowed: %(allowed)s (prefix with '-' for descending)"),
    # collector/metrics/model.py unknown_metric (schema/timeseries.py)
    N_("unknown metric %(name)s; did you mean %(close)s? allowed: %(allowed)s"),
    N_("unknown metric %(name)s; allowed: %(allowed)s"),
    # schema/timeseries.py, schema/history.py
    N_("start (%(start)s) must be before end (%(end)s)"),
    N_("unknown resolution %(name)s; allowed: %(allowed)s"),
    N_("resolution %(name)s is limited to ranges of %(hours)s h (asked %(asked)s h): too many points; "
       "use a coarser one"),
)

ERRORS = Patterns(TEMPLATES, fix={"close": _either})
translate_error = ERRORS.translate
