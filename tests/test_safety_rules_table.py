"""scripts/check-safety-rules.py stays usable: every breakage's snippet occurs exactly once in
its file and every test it names exists (the script itself runs outside the suite: minutes)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_safety_rules", ROOT / "scripts" / "check-safety-rules.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


BREAKAGES = _script().BREAKAGES


@pytest.mark.parametrize("breakage", BREAKAGES, ids=[b.name for b in BREAKAGES])
def test_the_breakage_still_applies(breakage: Any) -> None:
    source = (ROOT / breakage.file).read_text()
    assert source.count(breakage.old) == 1, (
        f"{breakage.name}: snippet not found once in {breakage.file}"
    )
    for selection in breakage.selection:
        path, _, node = selection.partition("::")
        test_file = ROOT / path
        assert test_file.exists(), f"{breakage.name}: no {path}"
        if node:
            name = node.split("::")[-1].split("[")[0]
            assert re.search(rf"^\s*def {re.escape(name)}\(", test_file.read_text(), re.M), (
                f"{breakage.name}: no test {node} in {path}"
            )
