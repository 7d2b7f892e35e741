"""Fixtures for the simulator's own tests.

- ``sim_factory(**config_overrides)``: start a ContentLibraryService on 127.0.0.1:0
  with a data dir under ``tmp_path`` (users admin/secret, read-only reader/secret,
  control API on);
  every service started is stopped at teardown.
- ``sim``: one service from the factory with default settings.
- ``raw_api`` / ``raw_rest``: a logged-in ``RawClient`` (raw HTTP, see
  tests/support/simclient.py) of one dialect for ``sim``; ``raw_client``: the same,
  parametrized over both dialects.
- ``sim_cli(*args)``: ``python -m cl_desktop.simulator --port 0 *args`` as a subprocess;
  returns the process and its base URL once it serves; killed at teardown.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cl_desktop.simulator import ContentLibraryService, SimulatorConfig
from tests.support.accounts import READONLY_USERS, USERS
from tests.support.simclient import RawClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim_factory(tmp_path: Path) -> Iterator[Callable[..., ContentLibraryService]]:
    """Start services with ``SimulatorConfig`` overrides; all are stopped at teardown."""
    started: list[ContentLibraryService] = []

    def make(**overrides: Any) -> ContentLibraryService:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "data_dir": tmp_path / f"sim-{len(started)}",
            "users": dict(USERS),
            "readonly_users": dict(READONLY_USERS),
            "control_api": True,  # these tests drive it; it is off by default
        }
        settings.update(overrides)
        service = ContentLibraryService(SimulatorConfig(**settings))
        service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        service.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., ContentLibraryService]) -> ContentLibraryService:
    return sim_factory()


@pytest.fixture
def raw_api(sim: ContentLibraryService) -> RawClient:
    return RawClient(sim, "api")


@pytest.fixture
def raw_rest(sim: ContentLibraryService) -> RawClient:
    return RawClient(sim, "rest")


@pytest.fixture(params=["api", "rest"])
def raw_client(request: pytest.FixtureRequest, sim: ContentLibraryService) -> RawClient:
    """A logged-in client, once per dialect."""
    return RawClient(sim, request.param)


@pytest.fixture
def sim_cli(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen[str], str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cl_desktop.simulator", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        stdout = proc.stdout
        assert stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        assert line and line[0].startswith("serving "), (line, proc.poll())
        return proc, line[0].split()[1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
