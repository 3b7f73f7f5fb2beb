"""The shape of the code, checked: every import of every module (those inside functions and under
TYPE_CHECKING too) read from the source, and held to the rules DESIGN.md and the packages' docstrings state.

- app/core imports no Qt, no app.ui, no app.cli; app/cli imports no Qt and no app.ui.
- A core package imports only the shared modules and the packages on its docstring's "May import:" line; a
  shared module imports only other shared modules.
- No import cycles between modules, and no module over 400 lines.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
CORE = APP / "core"
QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(APP.rglob("*.py"))}


def imports_of(path: Path) -> Iterator[str]:
    """Every module `path` imports, anywhere in it; `from app.core import errors` counts as app.core.errors."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: relative import"
            yield node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}"


SHARED = {name.rsplit(".", 1)[1] for name, p in MODULES.items() if p.parent == CORE and p.stem != "__init__"}
PACKAGES = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file())


def area(module: str) -> str:
    """"shared", a core package's name, "core" (app.core itself), or "app.ui"/"app.cli"/"app"."""
    parts = module.split(".")
    if parts[:2] != ["app", "core"]:
        return ".".join(parts[:2])
    if len(parts) == 2:
        return "core"
    return "shared" if parts[2] in SHARED else parts[2]


def allowed_packages(package: str) -> set[str]:
    doc = ast.get_docstring(ast.parse((CORE / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    match = re.search(r"May import:\s*([^\n.]*)", doc)
    assert match, f"app/core/{package}/__init__.py must say what it may import ('May import: ...')"
    names = {n.strip().split(" ")[0] for n in match.group(1).split(",")}
    unknown = names - set(PACKAGES) - {"shared"}
    assert not unknown, f"app/core/{package}: 'May import' names unknown packages {unknown}"
    return names | {"shared", package}


def test_every_core_package_says_what_it_may_import() -> None:
    assert {"machine", "models", "hub", "advice", "convert", "quantize", "chat", "engine", "jobs",
            "process", "serve"} <= set(PACKAGES)
    for package in PACKAGES:
        allowed_packages(package)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_arrows(module: str) -> None:
    here = area(module)
    in_core = here == "shared" or here == "core" or here in PACKAGES
    problems = []
    for target in imports_of(MODULES[module]):
        if target.split(".")[0] in QT:
            if here != "app.ui":
                problems.append(f"Qt ({target}): only app/ui may")
            continue
        if not target.startswith("app.") or area(target) == "core":
            continue
        there = area(target)
        if here == "app.cli" and there == "app.ui":
            problems.append(f"the UI ({target})")
        elif in_core and there in ("app.ui", "app.cli"):
            problems.append(f"{target}: the core never imports the UI or the CLI")
        elif here == "shared" and there != "shared":
            problems.append(f"{target}: a shared module imports only shared modules")
        elif here in PACKAGES and there not in allowed_packages(here):
            problems.append(f"{target}: app/core/{here} may import only {sorted(allowed_packages(here))}")
    assert not problems, f"{module} imports " + "; ".join(problems)


def test_no_import_cycles() -> None:
    graph = {m: {t for t in imports_of(p) if t in MODULES and t != m} for m, p in MODULES.items()}
    # a package's __init__ is imported on the way to any of its modules; that is not an edge of ours
    for m in graph:
        graph[m] = {t for t in graph[m] if not m.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append([*stack[stack.index(t):], t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


def test_no_module_is_a_god_module() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them by idea): {long}"


def test_the_rules_would_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself: a core module importing Qt inside a function is found."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from PySide6 import QtCore\n    from app.core import errors\n")
    assert list(imports_of(bad)) == ["PySide6", "app.core", "app.core.errors"]
