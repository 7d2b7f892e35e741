"""The shared fixtures and session-wide setup, a pytest plugin (loaded by tests/conftest.py).

- keyring: an in-memory back end for the whole session (emptied before each test),
  so no test touches the real keyring; subprocesses get keyring's "fail" back end.
- QT_QPA_PLATFORM=offscreen unless set.
- CL_DESKTOP_DATA_DIR: a fresh folder for each test (inherited by the subprocesses it starts),
  so no test reads or writes the user's own job store, settings or logs.
- ``vcsim_server`` (session): govmomi's vcsim, see tests/support/servers/vcsim.py. Skipped
  when not built, unless CL_REQUIRE_VCSIM=1 (then it fails).
- ``sim_service`` (function): the embedded service, both dialects, users
  admin/secret and read-only reader/secret; ``sim_api_client``: the REST client
  (``ContentLibraryClient``) logged in to it as admin.
- ``server_target``: parametrized ``sim-api``, ``sim-rest`` (simulator serving
  /rest only, so /api is 404 as on an old vCenter) and ``vcsim`` (marked vcsim).
  The simulator targets are fresh per test; the vcsim one is shared by the whole
  session, so tests must use unique names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

import keyring
import pytest

from cl_desktop import paths
from cl_desktop.api import ContentLibraryClient
from tests.support.accounts import (
    MEMORY_KEYRING,
    SIM_PASSWORD,
    SIM_READONLY_PASSWORD,
    SIM_READONLY_USER,
    SIM_USER,
    MemoryKeyring,
)
from tests.support.multi import sim_service_b  # noqa: F401 (a fixture)
from tests.support.servers import (
    Dialect,
    ServerTarget,
    SimulatorServer,
    VcsimServer,
    simulator_target,
    simulator_unavailable_reason,
    vcsim_skip_reason,
)
from tests.support.tls import tls_ca, tls_sim  # noqa: F401  # fixtures: https simulators


def pytest_configure(config: pytest.Config) -> None:
    keyring.set_keyring(MEMORY_KEYRING)


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.DATA_DIR_ENV, str(tmp_path / "cl-desktop-data"))


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    """The session's in-memory keyring, emptied before each test."""
    MEMORY_KEYRING.passwords.clear()
    keyring.set_keyring(MEMORY_KEYRING)
    yield MEMORY_KEYRING


def vcsim_required() -> bool:
    return os.environ.get("CL_REQUIRE_VCSIM") == "1"


@pytest.fixture(scope="session")
def vcsim_server() -> Iterator[VcsimServer]:
    reason = vcsim_skip_reason()
    if reason is not None:
        if vcsim_required():
            pytest.fail(f"{reason} (CL_REQUIRE_VCSIM=1)", pytrace=False)
        pytest.skip(reason)
    with VcsimServer() as server:
        yield server


def _require_simulator() -> None:
    reason = simulator_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


def _start_simulator(data_dir: Path, dialects: tuple[Dialect, ...]) -> SimulatorServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    return SimulatorServer(
        data_dir,
        dialects=dialects,
        users={SIM_USER: SIM_PASSWORD},
        readonly_users={SIM_READONLY_USER: SIM_READONLY_PASSWORD},
    )


@pytest.fixture
def sim_service(tmp_path: Path) -> Iterator[Any]:
    """A running ContentLibraryService serving both dialects (/api and /rest)."""
    _require_simulator()
    with _start_simulator(tmp_path / "sim-data", ("api", "rest")) as service:
        yield service


@pytest.fixture
def sim_api_client(sim_service: Any) -> Iterator[ContentLibraryClient]:
    """The REST client, logged in as admin to ``sim_service``: for setting up and checking the
    server's state around what a test drives (the GUI, a subprocess, the queue)."""
    with ContentLibraryClient(sim_service.base_url, SIM_USER, SIM_PASSWORD) as client:
        yield client


@pytest.fixture(
    params=[
        pytest.param("sim-api", id="sim-api"),
        pytest.param("sim-rest", id="sim-rest"),
        pytest.param("vcsim", id="vcsim", marks=pytest.mark.vcsim),
    ]
)
def server_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerTarget]:
    """A Content Library server to run the contract tests against."""
    name: str = request.param
    if name == "vcsim":
        server: VcsimServer = request.getfixturevalue("vcsim_server")
        yield server.target(name)
    elif name == "sim-api":
        service = request.getfixturevalue("sim_service")
        yield simulator_target(service, name=name, dialect="api", password=SIM_PASSWORD)
    else:
        _require_simulator()
        with _start_simulator(tmp_path / "sim-rest-data", ("rest",)) as service:
            yield simulator_target(service, name=name, dialect="rest", password=SIM_PASSWORD)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use vcsim_server directly get the vcsim marker too."""
    for item in items:
        if "vcsim_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.vcsim)


_TARGET_ID = re.compile(r"\[(?:[^\]]*-)?(sim-api|sim-rest|vcsim)(?:-[^\]]*)?\]")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many tests ran against each of the three servers (the contract suite's reach)."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            match = _TARGET_ID.search(getattr(report, "nodeid", ""))
            if match and getattr(report, "when", "call") in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                per = counts.setdefault(match.group(1), {})
                per[outcome] = per.get(outcome, 0) + 1
    if counts:
        terminalreporter.section("tests per server")
        for name in ("sim-api", "sim-rest", "vcsim"):
            per = counts.get(name, {})
            line = ", ".join(f"{n} {k}" for k, n in sorted(per.items())) or "none"
            terminalreporter.write_line(f"{name:9} {line}")
