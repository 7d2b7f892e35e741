"""cl-transfer starts quickly because a command imports only what it uses: --help and --version
load neither the HTTP stack nor the engine, and a command on the job store alone (history)
does not load the HTTP stack, the queue, the keyring or cryptography. Checked through the
modules a fresh interpreter holds after the command, so a new top-level import that drags one
of them in fails here (the time itself is measured by benchmarks/bench_startup.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# What costs a command line most of its start-up (requests alone was 60 ms of 300).
NETWORK_AND_ENGINE = (
    "requests",
    "urllib3",
    "ssl",
    "keyring",
    "cryptography",
    "PySide6",
    "cl_desktop.api.client",
    "cl_desktop.api.transport",
    "cl_desktop.credentials.trust",
    "cl_desktop.transfers.queue",
    "cl_desktop.transfers.upload",
    "cl_desktop.transfers.download",
)
JOB_STORE = ("sqlite3", "cl_desktop.transfers.store")

# argv[1]: the command's arguments (JSON); argv[2:]: modules to import first (the self-test).
PROBE = r"""
import json, sys
for name in sys.argv[2:]:
    __import__(name)
from cl_desktop.cli import main
try:
    code = main(json.loads(sys.argv[1]))
except SystemExit as exc:
    code = exc.code
print("\nMODULES " + json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def run_cli(args: list[str], *preload: str) -> tuple[int, set[str], str]:
    """(exit code, the modules loaded, stdout) of `main(args)` in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), *preload],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    head, _, tail = proc.stdout.rpartition("\nMODULES ")
    assert tail, f"the probe printed no modules:\n{proc.stdout}\n{proc.stderr}"
    found = json.loads(tail)
    return found["code"], set(found["modules"]), head


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names (packages count with their submodules) found among the loaded modules."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["upload", "--help"]])
def test_help_and_version_load_neither_network_nor_engine_nor_job_store(args: list[str]) -> None:
    code, modules, out = run_cli(args)
    assert code == 0
    assert out.strip(), "printed nothing"
    assert loaded(modules, NETWORK_AND_ENGINE + JOB_STORE) == []


def test_the_help_still_names_every_command_and_option() -> None:
    """Lazy imports must not thin the help: the commands and the options that need the
    engine's words (the warning types, the --existing choices) are all there."""
    _, _, top = run_cli(["--help"])
    for command in ("upload", "import-url", "download", "resume", "history", "trust"):
        assert command in top
    assert "exit codes:" in top and "--stall-limit" in top and "--version" in top
    _, _, upload = run_cli(["upload", "--help"])
    assert "--ignore-warning" in upload and "--create" in upload
    _, _, download = run_cli(["download", "--help"])
    assert "--ova" in download and "overwrite" in download and "keep-both" in download


def test_history_on_an_empty_store_loads_no_network_and_no_engine(tmp_path: Path) -> None:
    db = str(tmp_path / "q.sqlite")
    args = ["--server", "https://vc.example", "--user", "u", "--queue-db", db, "history"]
    code, modules, _ = run_cli(args)
    assert code == 0
    assert loaded(modules, NETWORK_AND_ENGINE) == []
    assert loaded(modules, JOB_STORE) == sorted(JOB_STORE)  # it did read the store


def test_the_check_sees_a_module_that_is_loaded() -> None:
    """The guard can fail: the same probe, with the client imported first, reports it."""
    _, modules, _ = run_cli(["--version"], "cl_desktop.api.client")
    assert {"requests", "urllib3", "cl_desktop.api.client"} <= set(
        loaded(modules, NETWORK_AND_ENGINE)
    )
