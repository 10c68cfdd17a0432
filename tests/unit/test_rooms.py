"""The test rooms (README, "Tests, room by room"): every test file in tests/unit, tests/integration or
tests/browser, and nothing in the unit room that starts a process or a server, whether it imports it itself or
through another module.

Imports are read with `ast` (those inside functions too) and tests.* modules are followed to what they import.
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent
ROOMS = ("unit", "integration", "browser")
# Every module of tests/support is in one of these two sets, so that a new one is sorted when it is added.
STARTS_THINGS = {  # start a process or a server, or talk to one over the network
    "apphub", "bighub", "browser", "gpuhub", "http_receiver", "hubproc", "pg", "prometheus_server",
    "proxy_helpers", "sshd", "webhub", "webload",
}
PURE_SUPPORT: set[str] = {"waiting"}  # plain helpers a unit test may import
# What a unit test has no use for: processes, sockets, servers, a browser, PostgreSQL.
NOT_IN_UNIT = ("subprocess", "socket", "socketserver", "http.server", "multiprocessing", "asyncio.subprocess",
               "playwright", "uvicorn", "psycopg")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, root: Path = ROOT) -> Path | None:
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imports_of(source: str, package: str) -> set[str]:
    """The absolute name of every module an import statement names (those inside functions too), relative
    imports read from `package`; `from a import b` gives both a and a.b, as b may be a module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def reached(path: Path, root: Path = ROOT) -> dict[str, set[str]]:
    """The modules of tests/ that `path` imports, directly or through each other (itself included), each with
    the names it imports."""
    seen: dict[str, set[str]] = {}
    todo = [path]
    while todo:
        current = todo.pop()
        name = module_name(current, root)
        if name in seen:
            continue
        package = name if current.name == "__init__.py" else name.rpartition(".")[0]
        seen[name] = imports_of(current.read_text(encoding="utf-8"), package)
        todo += [f for n in seen[name] if n.split(".")[0] == "tests" and (f := module_file(n, root)) is not None]
    return seen


def all_test_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("test_*.py") if p.relative_to(TESTS).parts[0] not in ("fixtures", "fakebin"))


def test_every_test_file_lives_in_a_room():
    strays = [str(p.relative_to(ROOT)) for p in all_test_files() if p.relative_to(TESTS).parts[0] not in ROOMS]
    assert not strays, f"move these into tests/unit, tests/integration or tests/browser: {strays}"
    for folder in (*ROOMS, "support"):
        assert (TESTS / folder / "__init__.py").is_file(), folder


def test_test_module_names_are_unique_across_rooms():
    # pg_test_url names a module's PostgreSQL database after its last name: two alike would share one.
    names = [p.stem for p in all_test_files()]
    assert sorted(n for n in set(names) if names.count(n) > 1) == []


def test_every_support_module_is_sorted():
    modules = {p.stem for p in (TESTS / "support").glob("*.py") if p.name != "__init__.py"}
    assert modules == STARTS_THINGS | PURE_SUPPORT, "add the new helper to STARTS_THINGS or PURE_SUPPORT"
    assert not STARTS_THINGS & PURE_SUPPORT


def test_unit_tests_start_nothing():
    forbidden = {f"tests.support.{m}" for m in STARTS_THINGS}
    unit = sorted((TESTS / "unit").rglob("test_*.py"))
    assert len(unit) > 10
    found = {}
    for path in unit:
        for module, names in reached(path).items():
            if module in forbidden:
                continue  # its importer is named already
            bad = sorted(n for n in names if n in forbidden or n.startswith(("tests.integration", "tests.browser"))
                         or any(n == x or n.startswith(x + ".") for x in NOT_IN_UNIT))
            if bad:
                found[f"{path.relative_to(ROOT)} (via {module})"] = bad
    assert not found, f"these belong in tests/integration or tests/browser: {found}"


def test_the_rule_follows_imports_inside_functions_relative_ones_and_through_other_modules(tmp_path):
    assert imports_of("def f():\n    from ..support import sshd\n    import subprocess\n", "tests.unit") == {
        "tests.support", "tests.support.sshd", "subprocess"}
    for name, text in {"tests/__init__.py": "", "tests/unit/__init__.py": "", "tests/support/__init__.py": "",
                       "tests/support/sshd.py": "import subprocess\n",
                       "tests/unit/shared.py": "from ..support import sshd\n",
                       "tests/unit/test_x.py": "def test():\n    from tests.unit.shared import sshd\n"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = reached(tmp_path / "tests" / "unit" / "test_x.py", tmp_path)
    assert sorted(found) == ["tests.support", "tests.support.sshd", "tests.unit.shared", "tests.unit.test_x"]
    assert "tests.support.sshd" in found["tests.unit.shared"]


def test_rooms_are_markers_set_by_folder(request):
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert sorted(m.split(":")[0] for m in ini["markers"]) == sorted(ROOMS)
    assert "--strict-markers" in ini["addopts"]
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None
