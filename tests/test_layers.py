"""The non-GUI layers must not depend on Qt.

cl_desktop.api, cl_desktop.transfers, cl_desktop.simulator, cl_desktop.cli, cl_desktop.paths
and cl_desktop.credentials (when present) are imported, with every module inside them, in a
fresh interpreter where any import of PySide6 or shiboken6 raises ImportError.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = [
    "cl_desktop.api",
    "cl_desktop.transfers",
    "cl_desktop.simulator",
    "cl_desktop.cli",
    "cl_desktop.paths",
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
