"""Several servers at once: a second embedded service, and the window's view of its servers.

``sim_service_b`` is a second ContentLibraryService (both dialects, the same users as
``sim_service``) with its own data, port and library ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QModelIndex
from pytestqt.qtbot import QtBot

from cl_desktop.app import Application
from cl_desktop.transfers.jobs import ServerRef
from cl_desktop.ui.library_model import ServerRole
from tests.support.accounts import SIM_PASSWORD, SIM_READONLY_PASSWORD, SIM_READONLY_USER, SIM_USER
from tests.support.servers import SimulatorServer, simulator_unavailable_reason


@pytest.fixture
def sim_service_b(tmp_path: Path) -> Iterator[Any]:
    """A second running simulator, beside ``sim_service``."""
    reason = simulator_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    data_dir = tmp_path / "sim-b-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    with SimulatorServer(
        data_dir,
        users={SIM_USER: SIM_PASSWORD},
        readonly_users={SIM_READONLY_USER: SIM_READONLY_PASSWORD},
    ) as service:
        yield service


def tree_roots(app: Application) -> list[tuple[str, ServerRef, list[str]]]:
    """Each root of the library tree: its text, its server and its libraries' names."""
    model = app.window.library_model
    roots = []
    for row in range(model.rowCount()):
        root = model.item(row)
        names = [root.child(r).text() for r in range(root.rowCount())]
        roots.append((root.text(), root.data(ServerRole), names))
    return roots


def wait_servers(qtbot: QtBot, app: Application, count: int) -> None:
    """Until the tree shows `count` servers, each with its libraries listed."""
    qtbot.waitUntil(
        lambda: len(tree_roots(app)) == count and all(names for *_, names in tree_roots(app)),
        timeout=10000,
    )


def library_row(app: Application, server: ServerRef, library_id: str) -> QModelIndex:
    index = app.window.library_model.library_index(server, library_id)
    assert index.isValid(), f"no library {library_id} of {server.label} in the tree"
    return index
