"""The window against govmomi's vcsim over TLS (/rest only, no Storage API): browse, see the
files, and read "not available" in the Storage pane, as on a vCenter without it."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from pytestqt.qtbot import QtBot

from cl_desktop.api import AddSpec
from cl_desktop.services.connection import LoginRequest
from cl_desktop.ui.details import NOT_AVAILABLE
from tests.support.api import client_for
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    select_item,
    select_library,
    wait_items_loaded,
)
from tests.support.servers import VcsimServer


def test_browsing_vcsim_shows_files_and_storage_not_available(
    qtbot: QtBot, vcsim_server: VcsimServer, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    target = vcsim_server.target("vcsim")
    library = f"gui-{uuid.uuid4().hex[:8]}"
    with client_for(target) as client:
        lib_id = client.libraries.create_local(library, target.datastore_id or "")
        item = client.items.create(lib_id, "tools.iso", type="iso")
        sid = client.update_sessions.create(item)
        info = client.update_session_files.add(sid, AddSpec("tools.iso", size=5))
        assert info.upload_endpoint is not None
        client.upload(info.upload_endpoint.uri, io.BytesIO(b"hello"), 5)
        client.update_sessions.complete(sid)

    fake_prompts.login = LoginRequest(target.base_url, target.username, target.password,
                                      ca_file=target.ca_file)  # fmt: skip
    app = build_app(tmp_path, fake_prompts)
    try:
        app.start()
        qtbot.waitUntil(lambda: app.window.library_id is not None, timeout=10000)
        select_library(qtbot, app, library)
        wait_items_loaded(qtbot, app)
        select_item(qtbot, app, "tools.iso")
        panes = app.window.details
        qtbot.waitUntil(lambda: panes.storage.showing_message == NOT_AVAILABLE, timeout=10000)
        assert panes.files_model.rowCount() == 1
        assert panes.files_model.file(0).name == "tools.iso"
        assert panes.files_model.file(0).size == 5
    finally:
        close_app(app)
