"""The layer rules, checked rather than hoped for.

1. The non-GUI layers must not depend on Qt: cl_desktop.api, .transfers, .simulator, .cli, .paths
   and .credentials (when present) are imported, with every module inside them, in a fresh
   interpreter where any import of PySide6 or shiboken6 raises ImportError.
2. Which layer may import which (MAY_IMPORT), read from the source with `ast`, so an import
   inside a function or under `if TYPE_CHECKING:` counts too; the simulator imports only the
   standard library.
3. No import cycle inside cl_desktop among module-level imports (TYPE_CHECKING ones included:
   a cycle of types is still a cycle of design).

Each check has a self-test that feeds it a broken tree and expects it to fail.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = [
    "cl_desktop.api",
    "cl_desktop.transfers",
    "cl_desktop.simulator",
    "cl_desktop.cli",
    "cl_desktop.paths",
    "cl_desktop.preferences",
    "cl_desktop.credentials",
]

# Runs in the child: argv[1] = module or package name; prints a JSON list of failures.
CHECKER = r"""
import importlib, importlib.abc, json, pkgutil, sys, traceback

BLOCKED = ("PySide6", "shiboken6")

class BlockQt(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in BLOCKED:
            raise ImportError(f"import of {fullname} is blocked: this layer must not use Qt")
        return None

sys.meta_path.insert(0, BlockQt())
failures = []

def record(name):
    if all(f["module"] != name for f in failures):
        failures.append({"module": name, "error": traceback.format_exc()})

def try_import(name):
    try:
        return importlib.import_module(name)
    except BaseException:
        record(name)
        return None

root = try_import(sys.argv[1])
if root is not None and hasattr(root, "__path__"):
    for info in pkgutil.walk_packages(root.__path__, root.__name__ + ".", onerror=record):
        try_import(info.name)
leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
if leaked:
    failures.append({"module": sys.argv[1], "error": f"Qt modules loaded: {leaked}"})
print(json.dumps(failures))
"""


def check_without_qt(module: str, *extra_path: Path) -> list[dict[str, str]]:
    """Import ``module`` and all its submodules with PySide6 blocked; return the failures."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [*map(str, extra_path), str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    proc = subprocess.run(
        [sys.executable, "-c", CHECKER, module],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, f"checker crashed:\n{proc.stdout}\n{proc.stderr}"
    result: list[dict[str, str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _format(failures: list[dict[str, str]]) -> str:
    return "\n".join(f"--- {f['module']}\n{f['error']}" for f in failures)


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_imports_without_qt(layer: str) -> None:
    if importlib.util.find_spec(layer) is None:
        pytest.skip(f"{layer} does not exist (yet)")
    failures = check_without_qt(layer)
    assert not failures, f"{layer} needs Qt or fails to import:\n{_format(failures)}"


def test_checker_catches_a_qt_import(tmp_path: Path) -> None:
    """The check itself can fail: a submodule importing PySide6.QtCore is reported."""
    pkg = tmp_path / "fake_layer"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "clean.py").write_text("import json\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "uses_qt.py").write_text("import PySide6.QtCore\n")
    (pkg / "qt_pkg").mkdir()
    (pkg / "qt_pkg" / "__init__.py").write_text("from PySide6 import QtCore\n")

    failures = check_without_qt("fake_layer", tmp_path)

    assert sorted(f["module"] for f in failures) == ["fake_layer.qt_pkg", "fake_layer.sub.uses_qt"]
    assert all("PySide6" in f["error"] and "blocked" in f["error"] for f in failures)


# --- which layer may import which ---------------------------------------------------------------

PACKAGE = "cl_desktop"

# What each layer (a package directly under cl_desktop/) may import of cl_desktop besides itself,
# as names below cl_desktop: "api" allows the whole package, "api.models" that module only.
# ui shows the REST client's data (api.models) and errors (api.errors) but never calls the
# client: `cl_desktop.api` itself, api.client, api.resources, api.streams, api.transport are not
# for it. A new package needs a row here before it can pass.
MAY_IMPORT: dict[str, set[str]] = {
    "api": set(),
    "simulator": set(),
    "transfers": {"api"},
    "cli": {"api", "transfers", "credentials"},
    "credentials": {"api"},
    "services": {"api", "transfers", "credentials"},
    "ui": {"services", "transfers", "api.models", "api.errors"},
}
# The composition root (top-level modules) wires the layers together: it may import any of
# them, and no layer imports it. Other top-level modules are shared leaves: any layer may use
# them, and they import no layer.
COMPOSITION_ROOT = {"app", "__main__", "demo"}
STDLIB_ONLY = {"simulator"}

# Known cycles, each to be deleted once its fix is merged (the test fails while it is stale).
KNOWN_CYCLES: set[frozenset[str]] = set()


@dataclass(frozen=True)
class Import:
    target: str  # the imported module: the longest known one the statement names
    top_name: str  # the first name as written ("" for a relative import), for STDLIB_ONLY
    line: int
    module_level: bool  # runs at import time: not inside a function body


def modules_in(root: Path, package: str = PACKAGE) -> dict[str, Path]:
    """Every module and package of `package` under `root`, by dotted name."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _statements(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Import statements with whether each runs at import time (not inside a def)."""

    def walk(
        node: ast.AST, module_level: bool
    ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, module_level
            inside_def = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            yield from walk(child, module_level and not inside_def)

    yield from walk(tree, True)


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """What module `name` (at `path`) imports, resolved against the `known` modules."""

    def longest_known(dotted: str) -> str:
        while dotted not in known and "." in dotted:
            dotted = dotted.rsplit(".", 1)[0]
        return dotted

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node, module_level in _statements(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                found.append(Import(longest_known(alias.name), top, node.lineno, module_level))
            continue
        if node.level:
            parts = package.split(".")
            base = parts[: len(parts) - node.level + 1]
            origin = ".".join([*base, node.module] if node.module else base)
            top = ""
        else:
            origin = node.module or ""
            top = origin.split(".")[0]
        for alias in node.names:
            # `from pkg import mod` imports the module pkg.mod; `from pkg import name`, pkg
            submodule = f"{origin}.{alias.name}"
            target = submodule if submodule in known else longest_known(origin)
            found.append(Import(target, top, node.lineno, module_level))
    return found


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else ""


def _is_package(module: str, known: dict[str, Path]) -> bool:
    return known[module].name == "__init__.py"


def layer_violations(root: Path) -> list[str]:
    """Every import that breaks MAY_IMPORT, COMPOSITION_ROOT or STDLIB_ONLY, as readable lines."""
    known = modules_in(root)
    layers = {_layer(m) for m in known if m.count(".") == 1 and _is_package(m, known)}
    problems = [
        f"{PACKAGE}.{layer}: a package with no row in MAY_IMPORT"
        for layer in sorted(layers - MAY_IMPORT.keys())
    ]
    for name, path in known.items():
        where = path.relative_to(root)
        own = _layer(name)
        for imp in imports_of(name, path, known):
            if own in STDLIB_ONLY and imp.top_name not in {*sys.stdlib_module_names, PACKAGE, ""}:
                problems.append(f"{where}:{imp.line} imports {imp.top_name}: {own} is stdlib only")
            target = imp.target
            if target.split(".")[0] != PACKAGE or target == PACKAGE:
                continue
            theirs = _layer(target)
            if own not in layers:  # a top-level module
                if own in COMPOSITION_ROOT:
                    continue
                if theirs in COMPOSITION_ROOT or theirs in layers:
                    problems.append(
                        f"{where}:{imp.line} imports {target}: a shared module imports no layer"
                    )
                continue
            if theirs == own or (theirs not in layers and theirs not in COMPOSITION_ROOT):
                continue
            allowed = MAY_IMPORT.get(own, set())
            below = target.removeprefix(PACKAGE + ".")
            if not any(below == a or below.startswith(a + ".") for a in allowed):
                shown = ", ".join(sorted(allowed)) or "nothing else of cl_desktop"
                problems.append(f"{where}:{imp.line} imports {target}: {own} may import {shown}")
    return problems


def import_cycles(root: Path) -> set[frozenset[str]]:
    """Strongly connected groups of modules in the module-level import graph."""
    known = modules_in(root)
    graph = {
        name: {
            i.target
            for i in imports_of(name, path, known)
            if i.module_level and i.target in known and i.target != name
        }
        for name, path in known.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: set[frozenset[str]] = set()

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.add(frozenset(group))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return groups


def test_layers_import_only_what_their_rules_allow() -> None:
    problems = layer_violations(ROOT)
    assert not problems, "layer rules broken:\n" + "\n".join(problems)


def test_no_import_cycles() -> None:
    cycles = import_cycles(ROOT)
    new = cycles - KNOWN_CYCLES
    assert not new, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in new)
    stale = KNOWN_CYCLES - cycles
    assert not stale, f"gone, delete from KNOWN_CYCLES: {[sorted(c) for c in stale]}"


def _write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for directory in {p.parent for p in root.rglob("*.py")}:
        (directory / "__init__.py").touch()


def test_layer_check_catches_forbidden_imports(tmp_path: Path) -> None:
    """The check itself can fail: each line below breaks one rule, the others are allowed."""
    _write_tree(
        tmp_path,
        {
            "cl_desktop/app.py": "from cl_desktop.ui import view\nimport cl_desktop.api.client\n",
            "cl_desktop/paths.py": "import os\n",
            "cl_desktop/logs.py": "from cl_desktop.transfers import queue\n",
            "cl_desktop/api/models.py": "from cl_desktop import paths\n",
            "cl_desktop/api/client.py": "from ..transfers import queue\n",
            "cl_desktop/transfers/queue.py": (
                "from cl_desktop.api import client\nfrom cl_desktop.services import jobs\n"
            ),
            "cl_desktop/services/jobs.py": "import cl_desktop.app\n",
            "cl_desktop/ui/view.py": (
                "from cl_desktop.api.models import Item\n"
                "from cl_desktop.api import errors, models\n"
                "from cl_desktop.api import client\n"
                "from cl_desktop.api import ContentLibraryClient\n"
                "def later():\n"
                "    import cl_desktop.api.client\n"
            ),
            "cl_desktop/cli/main.py": (
                "from cl_desktop.transfers import queue\nfrom cl_desktop.ui import view\n"
            ),
            "cl_desktop/simulator/store.py": (
                "import sqlite3\nimport requests\nfrom cl_desktop import api\n"
            ),
            "cl_desktop/newlayer/thing.py": "import json\n",
        },
    )
    (tmp_path / "cl_desktop/api/errors.py").write_text("")

    problems = sorted(p.split(": ")[0] for p in layer_violations(tmp_path))

    assert problems == sorted(
        [
            "cl_desktop.newlayer",
            "cl_desktop/logs.py:1 imports cl_desktop.transfers.queue",
            "cl_desktop/api/client.py:1 imports cl_desktop.transfers.queue",
            "cl_desktop/transfers/queue.py:2 imports cl_desktop.services.jobs",
            "cl_desktop/services/jobs.py:1 imports cl_desktop.app",
            "cl_desktop/ui/view.py:3 imports cl_desktop.api.client",
            "cl_desktop/ui/view.py:4 imports cl_desktop.api",
            "cl_desktop/ui/view.py:6 imports cl_desktop.api.client",
            "cl_desktop/cli/main.py:2 imports cl_desktop.ui.view",
            "cl_desktop/simulator/store.py:2 imports requests",
            "cl_desktop/simulator/store.py:3 imports cl_desktop.api",
        ]
    )


def test_cycle_check_catches_a_cycle(tmp_path: Path) -> None:
    """The check itself can fail: a <-> b through TYPE_CHECKING and a longer c -> d -> e -> c
    are cycles; an import inside a function (x <-> y) is not, nor a package importing its own
    submodule."""
    _write_tree(
        tmp_path,
        {
            "cl_desktop/sim/a.py": "from . import b\n",
            "cl_desktop/sim/b.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import A\n"
            ),
            "cl_desktop/sim/c.py": "from cl_desktop.sim.d import D\n",
            "cl_desktop/sim/d.py": "import cl_desktop.sim.e\n",
            "cl_desktop/sim/e.py": "from .c import C\n",
            "cl_desktop/eng/x.py": "from .y import Y\n",
            "cl_desktop/eng/y.py": "def f():\n    from cl_desktop.eng import x\n",
            "cl_desktop/eng/z.py": "from . import x\n",
        },
    )
    (tmp_path / "cl_desktop/eng/__init__.py").write_text("from .z import Z\n")

    assert import_cycles(tmp_path) == {
        frozenset({"cl_desktop.sim.a", "cl_desktop.sim.b"}),
        frozenset({"cl_desktop.sim.c", "cl_desktop.sim.d", "cl_desktop.sim.e"}),
    }
