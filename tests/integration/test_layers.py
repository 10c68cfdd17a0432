"""The layers: pyproject.toml's import-linter contracts hold for this tree, and a broken contract is caught.

`lint-imports` (import-linter) reads every import statement of the packages, those inside functions
too, and follows chains of imports: `schema -> x -> webapp` breaks "schema knows no web" as much as
`schema -> webapp` does.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# What the `lint-imports` script runs, with this interpreter wherever pip put the script.
LINT = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"]


def _lint(cwd: Path, *config: str) -> subprocess.CompletedProcess[str]:
    # `cwd` first on the path: the packages analysed are this checkout's, not an installed copy's
    path = os.pathsep.join(p for p in (str(cwd), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([*LINT, "--no-cache", *config], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": path})


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def test_the_layers_hold():
    proc = _lint(ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"lint-imports failed: move the import (see pyproject.toml's contracts)\n{out}"
    names = [c["name"] for c in _contracts()]
    assert len(names) >= 4
    for name in names:
        assert f"{name} KEPT" in out, out


def _config(tmp_path: Path, root_packages: list[str], contract: dict) -> str:
    lines = ["[tool.importlinter]", f"root_packages = {root_packages!r}".replace("'", '"'), "",
             "[[tool.importlinter.contracts]]"]
    for key, value in contract.items():
        lines.append(f"{key} = " + (f'"{value}"' if isinstance(value, str) else repr(value).replace("'", '"')))
    path = tmp_path / "contracts.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_the_cli_rule_without_its_exception_is_broken_by_todays_cli(tmp_path: Path):
    # The contract as written, less the ignore_imports that lets the composition root import the web.
    (rule,) = [c for c in _contracts() if c["forbidden_modules"] == ["webapp"] and c["source_modules"] == ["collector"]]
    assert rule["ignore_imports"] == ["collector.cli.** -> webapp.**"]
    strict = {k: v for k, v in rule.items() if k != "ignore_imports"}
    proc = _lint(ROOT, _config(tmp_path, ["collector", "schema", "inventory", "webapp"], strict))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "BROKEN" in out and "collector.cli.web -> webapp.app" in out, out


def test_a_parser_importing_the_hub_breaks_the_parsers_rule(tmp_path: Path):
    # The wildcard form of "parsers import nothing of the hub" (`collector.*`, the parsers themselves
    # skipped as they overlap), on a small tree whose parser imports a sibling module.
    (rule,) = [c for c in _contracts() if c["source_modules"] == ["collector.parsers"]]
    assert "collector.*" in rule["forbidden_modules"]
    pkg = tmp_path / "hubpkg"
    (pkg / "parsers").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "hub.py").write_text("from hubpkg.parsers import cpu\n")
    (pkg / "parsers" / "__init__.py").write_text("")
    (pkg / "parsers" / "cpu.py").write_text("def parse(text):\n    from hubpkg import hub\n    return hub\n")
    contract = {"name": "parsers import nothing of the hub", "type": "forbidden",
                "source_modules": ["hubpkg.parsers"], "forbidden_modules": ["hubpkg.*"]}
    proc = _lint(tmp_path, _config(tmp_path, ["hubpkg"], contract))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "hubpkg.parsers.cpu -> hubpkg.hub" in out, out
    (pkg / "parsers" / "cpu.py").write_text("def parse(text):\n    return text\n")  # and without it: kept
    proc = _lint(tmp_path, _config(tmp_path, ["hubpkg"], contract))
    assert proc.returncode == 0, proc.stdout + proc.stderr
