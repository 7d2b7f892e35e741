"""Managing libraries and items from the window, checked on the server: create, rename,
describe and delete; a read-only user's refusal in words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient, errors
from cl_desktop.api.models import DatastoreSummary
from cl_desktop.app import Application
from cl_desktop.transfers.context import CleanupKind
from cl_desktop.transfers.jobs import JobState
from cl_desktop.ui.dialogs import NameAndDescription, NameDialog
from cl_desktop.ui.item_model import LEFTOVER, NOTE, UPLOADING
from tests.support.accounts import SIM_READONLY_PASSWORD, SIM_READONLY_USER
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    close_app,
    jobs,
    select_item,
    select_library,
    start_logged_in,
    wait_items_loaded,
    wait_jobs,
)


def current_library_name(app: Application) -> str:
    library = app.window.current_library
    return (library.name or "") if library else ""


def select_items(app: Application, names: list[str]) -> None:
    window = app.window
    selection = window.item_view.selectionModel()
    selection.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for name in names:
        row = window.item_model.row_of_name(name)
        selection.select(window.item_proxy.mapFromSource(window.item_model.index(row, 0)), flags)


def test_create_rename_and_delete_a_library(
    qtbot: QtBot,
    gui: Application,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
) -> None:
    manager = gui.window.manager
    fake_prompts.names = [NameAndDescription("Team ISOs", "for the team")]
    manager.new_library_action.trigger()
    qtbot.waitUntil(lambda: current_library_name(gui) == "Team ISOs", timeout=10000)
    assert "Created library Team ISOs" in gui.window.status_label.text()
    title, initial, datastores = fake_prompts.name_questions[-1]
    assert title == "New local library" and initial.name == ""
    assert datastores == [d.datastore for d in sim_api_client.datastores.list()]
    (library_id,) = sim_api_client.libraries.find(name="Team ISOs")
    assert sim_api_client.libraries.get(library_id).description == "for the team"
    assert gui.window.library_id == library_id

    fake_prompts.names = [NameAndDescription("Team images", "ISOs and OVFs")]
    manager.edit_library_action.trigger()
    qtbot.waitUntil(lambda: current_library_name(gui) == "Team images", timeout=10000)
    model = sim_api_client.libraries.get(library_id)
    assert (model.name, model.description) == ("Team images", "ISOs and OVFs")
    assert fake_prompts.name_questions[-1][1] == NameAndDescription("Team ISOs", "for the team")

    for name in ("one.iso", "two.iso"):
        sim_api_client.items.create(library_id, name, type="iso")
    fake_prompts.delete_answer = False  # declined: nothing happens
    manager.delete_library_action.trigger()
    qtbot.waitUntil(lambda: len(fake_prompts.delete_confirmations) == 1, timeout=10000)
    text, _ = fake_prompts.delete_confirmations[0]
    assert "'Team images'" in text and "2 items" in text
    assert sim_api_client.libraries.get(library_id).name == "Team images"

    fake_prompts.delete_answer = True
    manager.delete_library_action.trigger()
    qtbot.waitUntil(lambda: gui.window.library_id not in (None, library_id), timeout=10000)
    with pytest.raises(errors.NotFound):
        sim_api_client.libraries.get(library_id)
    assert (gui.window.server, library_id) not in gui.window.libraries
    assert "Deleted library Team images" in gui.window.status_label.text()


def test_rename_describe_and_delete_items(
    qtbot: QtBot,
    gui: Application,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
) -> None:
    window = gui.window
    library_id = window.library_id or ""
    ids = {n: sim_api_client.items.create(library_id, n, type="iso") for n in ("a.iso", "b.iso")}
    window.refresh()
    select_item(qtbot, gui, "a.iso")
    fake_prompts.names = [NameAndDescription("renamed.iso", "the first one")]
    window.manager.edit_item_action.trigger()
    qtbot.waitUntil(lambda: window.item_model.row_of_name("renamed.iso") >= 0, timeout=10000)
    model = sim_api_client.items.get(ids["a.iso"])
    assert (model.name, model.description) == ("renamed.iso", "the first one")

    wait_items_loaded(qtbot, gui)
    select_items(gui, ["renamed.iso", "b.iso"])
    assert window.manager.delete_items_action.isEnabled()
    assert not window.manager.edit_item_action.isEnabled()  # one at a time
    window.manager.delete_items_action.trigger()
    qtbot.waitUntil(lambda: window.item_model.row_of_name("b.iso") < 0, timeout=10000)
    text, lines = fake_prompts.delete_confirmations[-1]
    assert text.startswith("Delete 2 items") and sorted(lines) == ["b.iso", "renamed.iso"]
    assert set(ids.values()).isdisjoint(sim_api_client.items.list(library_id))
    assert window.item_model.row_of_name("renamed.iso") < 0


@pytest.fixture
def reader_gui(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> Iterator[Application]:
    app = start_logged_in(
        qtbot,
        tmp_path,
        fake_prompts,
        sim_service.base_url,
        SIM_READONLY_USER,
        SIM_READONLY_PASSWORD,
    )
    yield app
    close_app(app)


def test_a_read_only_users_refusal_is_said_in_words(
    qtbot: QtBot,
    sim_api_client: ContentLibraryClient,
    fake_prompts: FakePrompts,
    reader_gui: Application,
) -> None:
    window = reader_gui.window
    library_id = window.library_id or ""
    item_id = sim_api_client.items.create(library_id, "kept.iso", type="iso")
    window.refresh()
    select_library(qtbot, reader_gui, current_library_name(reader_gui))
    select_item(qtbot, reader_gui, "kept.iso")
    window.manager.delete_items_action.trigger()
    qtbot.waitUntil(lambda: "Could not delete" in window.status_label.text(), timeout=10000)
    status = window.status_label.text()
    assert "Permission denied" in status and "kept.iso" in status, status
    assert sim_api_client.items.get(item_id).name == "kept.iso"

    fake_prompts.names = [NameAndDescription("mine", "")]
    window.manager.edit_library_action.trigger()
    qtbot.waitUntil(lambda: "Could not change library" in window.status_label.text(), timeout=10000)
    assert "Permission denied" in window.status_label.text()
    assert "ContentLibrary privileges" in window.status_label.text()


def test_a_new_item_shows_while_it_uploads_marked_uploading(
    qtbot: QtBot, gui: Application, sim_service: Any, fake_prompts: FakePrompts, tmp_path: Path
) -> None:
    window = gui.window
    payload = make_file(tmp_path / "slow.iso", 12 * 1024 * 1024)
    sim_service.faults.throttle(1024 * 1024)  # seconds of upload: time to see the item
    fake_prompts.open_files = [str(payload)]
    window.upload_new_action.trigger()
    qtbot.waitUntil(lambda: window.item_model.row_of_name("slow") >= 0, timeout=10000)
    (job,) = jobs(gui)
    assert not job.state.finished, "the item must show before its upload completes"
    row = window.item_model.row_of_name("slow")
    qtbot.waitUntil(lambda: window.item_model.index(row, NOTE).data() == UPLOADING, timeout=5000)
    select_item(qtbot, gui, "slow")
    fake_prompts.delete_answer = False
    window.manager.delete_items_action.trigger()
    assert fake_prompts.delete_confirmations[-1][1] == [
        "slow (being uploaded here: that upload will fail)"
    ]
    sim_service.faults.throttle(None)
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    qtbot.waitUntil(
        lambda: window.item_model.note(window.item_model.item_at(row).id or "") == "",
        timeout=10000,
    )


def test_empty_items_failed_uploads_left_are_flagged_and_deleted_in_one_action(
    qtbot: QtBot,
    gui: Application,
    fake_prompts: FakePrompts,
    sim_api_client: ContentLibraryClient,
) -> None:
    window = gui.window
    library_id = window.library_id or ""
    kept = sim_api_client.items.create(library_id, "kept.iso", type="iso")
    left = [sim_api_client.items.create(library_id, f"left-{n}.iso", type="iso") for n in (1, 2)]
    # What an upload that failed while the server was away leaves: its item, to delete later.
    assert window.server is not None
    for item_id in left:
        gui.store.add_cleanup(window.server, CleanupKind.ITEM, item_id)
    window.refresh()
    model = window.item_model
    qtbot.waitUntil(lambda: [model.note(i) for i in left] == [LEFTOVER] * 2, timeout=10000)
    assert model.note(kept) == ""
    assert model.index(model.row_of(left[0]), NOTE).data() == LEFTOVER
    assert window.manager.delete_leftovers_action.isEnabled()
    window.manager.delete_leftovers_action.trigger()
    qtbot.waitUntil(lambda: all(model.row_of(i) < 0 for i in left), timeout=10000)
    _, lines = fake_prompts.delete_confirmations[-1]
    assert sorted(lines) == ["left-1.iso", "left-2.iso"]
    assert sim_api_client.items.list(library_id) == (kept,)
    assert not window.manager.delete_leftovers_action.isEnabled()


def test_a_refused_upload_disables_uploads_up_front_with_the_reason(
    qtbot: QtBot, reader_gui: Application, fake_prompts: FakePrompts, tmp_path: Path
) -> None:
    window = reader_gui.window
    assert window.upload_new_action.isEnabled()
    fake_prompts.open_files = [str(make_file(tmp_path / "mine.iso", 4096))]
    window.upload_new_action.trigger()
    (job,) = wait_jobs(qtbot, reader_gui, 1, JobState.FAILED)
    assert job.error_title == "Permission denied"
    qtbot.waitUntil(lambda: not window.upload_new_action.isEnabled(), timeout=5000)
    tip = window.upload_new_action.toolTip()
    assert "Not allowed for this user" in tip and "Permission denied" in tip, tip
    assert not window.upload_action.isEnabled()
    assert window.server is not None
    window.drop_on_library(window.server, window.library_id or "", [fake_prompts.open_files[0]])
    assert "Uploads are not allowed: Permission denied" in window.status_label.text()
    assert len(jobs(reader_gui)) == 1  # the drop added no job


def test_the_name_dialog_needs_a_name_and_answers_the_chosen_datastore(qtbot: QtBot) -> None:
    stores = [
        DatastoreSummary("datastore-1", "fast", free_space=3 * 2**30),
        DatastoreSummary("datastore-2", "big"),
    ]
    dialog = NameDialog(None, "New local library", datastores=stores)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()  # no name yet
    assert dialog.datastore.itemText(0) == "fast (3.0 GiB free)"
    dialog.name.setText("  ISOs  ")
    dialog.description.setText("installers")
    dialog.datastore.setCurrentIndex(1)
    assert ok.isEnabled()
    assert dialog.answer() == NameAndDescription("ISOs", "installers", "datastore-2")
    edit = NameDialog(None, "Item name and description", "a.iso", "old")
    qtbot.addWidget(edit)
    assert edit.answer() == NameAndDescription("a.iso", "old", "")
