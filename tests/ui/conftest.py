"""GUI test fixtures: the whole application against the embedded service, canned prompts.

Every test here fails on an unexpected Qt warning (pytest-qt's qt_log_level_fail).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from cl_desktop.app import Application
from tests.support.gui import (
    IGNORED_QT_MESSAGES,
    FakePrompts,
    close_app,
    start_logged_in,
)
from tests.support.servers.process import SimulatorProcess

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*IGNORED_QT_MESSAGES))


@pytest.fixture
def fake_prompts(tmp_path: Path) -> FakePrompts:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    return FakePrompts(directory=str(downloads))


@pytest.fixture
def gui(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> Iterator[Application]:
    """The application, logged in to the embedded service, its first library selected."""
    app = start_logged_in(qtbot, tmp_path, fake_prompts, sim_service.base_url, "admin", "secret")
    yield app
    close_app(app)


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[SimulatorProcess]:
    server = SimulatorProcess(tmp_path / "sim-process").start()
    yield server
    server.stop()
