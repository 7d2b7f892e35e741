"""Copying items in the window: "Copy to..." offers every library of every connected server,
and items dragged from the item table onto a library of the tree are copied there; both are
ordinary jobs in the queue ("Copy"), verified, and a drag onto the items' own library is
refused in words."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QInputDialog, QWidget
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import Direction, JobState, ServerRef, Verification
from cl_desktop.ui.copying import CopyTarget, ask_copy_target
from cl_desktop.ui.queue_model import DIRECTION
from tests.support.accounts import SIM_PASSWORD, SIM_USER
from tests.support.files import make_file
from tests.support.gui import refresh_until_listed, select_item, wait_jobs
from tests.support.jobs import started_queue, upload_spec
from tests.support.multi import library_row
from tests.ui.test_gui_multi_server import logins, select_library_of  # noqa: F401 (a fixture)


def drop_mime(view: QAbstractItemView, mime: QMimeData, pos: QPoint) -> bool:
    """Drag `mime` onto `view` at `pos` and drop it: whether the drop was accepted."""
    target: QWidget = view.viewport()
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    action = Qt.DropAction.CopyAction
    QApplication.sendEvent(target, QDragEnterEvent(pos, action, mime, buttons, mods))
    QApplication.sendEvent(target, QDragMoveEvent(pos, action, mime, buttons, mods))
    drop = QDropEvent(QPointF(pos), action, mime, buttons, mods)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def checksums(client: ContentLibraryClient, library_id: str) -> dict[str, list[str]]:
    return {
        m.name or "": [
            (f.checksum_info.checksum or "") if f.checksum_info else ""
            for f in client.item_files.list(m.id or "")
        ]
        for m in client.items.list_models(library_id)
    }


def test_copy_to_and_dragging_items_onto_a_library_of_another_server(
    qtbot: QtBot,
    gui: Application,
    sim_service: Any,
    sim_service_b: Any,
    logins: tuple[LoginRequest, LoginRequest],  # noqa: F811
    tmp_path: Path,
) -> None:
    login_a, login_b = logins
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    seed = started_queue(tmp_path / "seed.sqlite")
    try:
        for name, seed_no in (("one.iso", 1), ("two.iso", 2)):
            source = make_file(tmp_path / name, 700_000, seed=seed_no)
            ref = ServerRef(sim_service.base_url, SIM_USER)
            assert seed.wait(seed.add(upload_spec(ref, lib_a, source)), 30).state is JobState.DONE
    finally:
        seed.shutdown()
    window = gui.window
    select_library_of(qtbot, gui, login_a, lib_a)
    refresh_until_listed(qtbot, gui, "two")

    asked: list[tuple[str, list[str]]] = []
    b_library = window.library_model.library_index(login_b.ref, lib_b).data()

    def answer(_parent: Any, what: str, targets: Sequence[CopyTarget]) -> CopyTarget | None:
        asked.append((what, [t.label for t in targets]))
        return next(t for t in targets if t.server == login_b.ref and t.library_id == lib_b)

    window.prompts.ask_copy_target = answer
    select_item(qtbot, gui, "one")
    assert window.copy_to_action.isEnabled()
    window.copy_to_action.trigger()
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    [(what, labels)] = asked
    assert what == "\u201cone\u201d"
    assert f"{b_library} \u2014 {login_b.ref.label}" in labels  # every server's libraries
    assert any(label.endswith(login_a.ref.label) for label in labels)
    assert job.spec.direction is Direction.COPY and job.verification is Verification.VERIFIED
    assert window.dock.queue_model.index(0, DIRECTION).data() == "Copy"

    # a drag of "two" from the item table onto B's library in the tree
    select_item(qtbot, gui, "two")
    assert window.item_view.dragEnabled()  # the view starts a drag of its rows
    assert window.item_view.currentIndex().flags() & Qt.ItemFlag.ItemIsDragEnabled
    mime = window._drag_selected_items()
    assert mime is not None
    tree = window.library_tree
    spot = tree.visualRect(library_row(gui, login_b.ref, lib_b)).center()
    assert drop_mime(tree, mime, spot)
    done = wait_jobs(qtbot, gui, 2, JobState.DONE)
    assert all(j.verification is Verification.VERIFIED for j in done)
    with (
        ContentLibraryClient(sim_service.base_url, SIM_USER, SIM_PASSWORD) as client_a,
        ContentLibraryClient(sim_service_b.base_url, SIM_USER, SIM_PASSWORD) as client_b,
    ):
        assert checksums(client_b, lib_b) == checksums(client_a, lib_a)

        # onto the items' own library: refused in words, nothing queued
        own = tree.visualRect(library_row(gui, login_a.ref, lib_a)).center()
        assert drop_mime(tree, mime, own)
        assert window.status_label.text() == "The items are in that library already."
        assert len(gui.window.dock.queue_model.snapshots()) == 2
        assert sorted(checksums(client_a, lib_a)) == ["one", "two"]


def test_the_copy_to_question_lists_every_library_and_answers_the_chosen_one(
    qtbot: QtBot,
) -> None:
    targets = [
        CopyTarget(ServerRef("https://vc1.example", "admin"), "lib-1", "ISOs"),
        CopyTarget(ServerRef("https://vc2.example:8443", "ops"), "lib-2", "Templates"),
    ]
    shown: list[list[str]] = []

    def answer(pick: int | None) -> None:
        dialogs = [w for w in QApplication.topLevelWidgets() if isinstance(w, QInputDialog)]
        if not dialogs or not dialogs[0].isVisible():
            QTimer.singleShot(10, lambda: answer(pick))
            return
        dialog = dialogs[0]
        shown.append(dialog.comboBoxItems())
        if pick is None:
            dialog.reject()
        else:
            dialog.setTextValue(targets[pick].label)
            dialog.accept()

    QTimer.singleShot(0, lambda: answer(1))
    assert ask_copy_target(None, "\u201cubuntu\u201d", targets) == targets[1]
    assert shown == [["ISOs \u2014 admin@vc1.example", "Templates \u2014 ops@vc2.example:8443"]]
    QTimer.singleShot(0, lambda: answer(None))
    assert ask_copy_target(None, "2 items", targets) is None
