"""The metric catalogue's words as the pages show them (collector/metrics/catalogue.py: labels, short labels,
tile and chart titles), marked for the Chinese catalogue: the collector keeps its English, the pages translate it
with `gettext` where they show it (webapp/host_view.py). tests/unit/test_i18n_catalogue.py checks that this list
holds every word of the catalogue; regenerate it with `python3 -m webapp.metric_words` after adding a metric."""
from __future__ import annotations

from webapp.i18n import N_

WORDS = (
    N_('CPU'),
    N_('CPU iowait'),
    N_('iowait'),
    N_('CPU steal'),
    N_('steal'),
    N_('Cores'),
    N_('cores'),
    N_('Load 1 min'),
    N_('Load 5 min'),
    N_('5 min'),
    N_('Load 15 min'),
    N_('15 min'),
    N_('Memory'),
    N_('used'),
    N_('Memory used'),
    N_('Memory total'),
    N_('of'),
    N_('Memory available'),
    N_('Swap used'),
    N_('Swap total'),
    N_('Swap free'),
    N_('Swap used %'),
    N_('GPU'),
    N_('GPU memory'),
    N_('Disk read'),
    N_('read'),
    N_('Disk write'),
    N_('write'),
    N_('Net in'),
    N_('in'),
    N_('Net out'),
    N_('out'),
    N_('Uptime'),
    N_('CPU pressure'),
    N_('CPU some'),
    N_('Memory pressure'),
    N_('memory some'),
    N_('Memory pressure (full)'),
    N_('memory full'),
    N_('I/O pressure'),
    N_('I/O some'),
    N_('I/O pressure (full)'),
    N_('I/O full'),
    N_('GPUs'),
    N_('Hottest GPU'),
    N_('hottest'),
    N_('Fullest GPU memory'),
    N_('fullest memory'),
    N_('GPUs not answering'),
    N_('not answering'),
    N_('Disk used'),
    N_('Used'),
    N_('Size'),
    N_('Available'),
    N_('Used %'),
    N_('Inodes used %'),
    N_('Util'),
    N_('Memory util'),
    N_('Memory %'),
    N_('Temperature'),
    N_('Power'),
    N_('Power limit'),
    N_('Fan'),
    N_('SM clock'),
    N_('Memory clock'),
    N_('P-state'),
    N_('PCIe gen'),
    N_('PCIe width'),
    N_('Persistence'),
    N_('MIG'),
    N_('Thermal slowdown'),
    N_('Power cap'),
    N_('HW slowdown'),
    N_('ECC corrected'),
    N_('ECC uncorrected'),
    N_('ECC corrected, lifetime'),
    N_('ECC uncorrected, lifetime'),
    N_('Page retirement pending'),
    N_('Row remap pending'),
    N_('receive'),
    N_('transmit'),
    N_('State'),
    N_('Load'),
    N_('Sub'),
    N_('CPU busy'),
    N_('Load 1 / 5 / 15 min'),
    N_('Disk read / write'),
    N_('Network in / out'),
    N_('Pressure stall, 10 s'),
    N_('GPUs: mean util'),
    N_('CPU busy, iowait and steal'),
    N_('Disk I/O'),
    N_('Network'),
    N_('Pressure stall (some, 10 s)'),
)


def catalogue_words() -> list[str]:
    """Every label, short label, tile and chart title of the catalogue, in order, once."""
    from collector.metrics.catalogue import CATALOGUE

    words: list[str] = []
    for text in [*(w for m in CATALOGUE.metrics for w in (m.label, m.short)), *(t.title for t in CATALOGUE.tiles),
                 *(c.title for c in CATALOGUE.charts)]:
        if text and text not in words:
            words.append(text)
    return words


if __name__ == "__main__":  # prints this module's WORDS for the catalogue as it is now
    print("WORDS = (")
    for text in catalogue_words():
        print(f"    N_({text!r}),")
    print(")")
