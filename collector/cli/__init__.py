"""The `fleetwatch` command line, and the composition root: the one part of `collector` that imports `webapp`.

`entry.py` builds the parser and runs a command (`fleetwatch = "collector.cli:main"`, and
`python -m collector.cli`); it holds `probe`, `inventory check` and `hosts trust`. The others
register their commands: `serve.py` (`serve`, `probe --via`, the supervisor's children),
`web.py` (the web process `serve` starts: `python -m collector.cli.web`, where the web app meets
the hub), `db.py`, `auth.py` (`user`, `token`), `demo.py`, `proxy.py`; `hub_client.py` is their
side of a running hub's REST API and `common.py` the exit codes and the error line. The layers
that pyproject.toml's import-linter contracts keep: nothing else in `collector` imports `webapp`.
"""
from collector.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
