"""FileDrops, the drop handling both views share: which drags they take and where they land."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QUrl
from pytestqt.qtbot import QtBot

from cl_desktop.api.models import ItemModel, LibraryModel
from cl_desktop.transfers.jobs import ServerRef
from cl_desktop.ui.drops import local_paths
from cl_desktop.ui.item_model import ItemTableModel
from cl_desktop.ui.library_model import LibraryTreeModel
from cl_desktop.ui.views import ItemTableView, LibraryTreeView
from tests.support.files import make_file
from tests.support.gui import drop_files


def test_only_local_files_count_in_a_drag(tmp_path: Path) -> None:
    mime = QMimeData()
    assert local_paths(mime) == []  # no URLs at all (text, say)
    local = make_file(tmp_path / "a.iso", 10)
    mime.setUrls([QUrl.fromLocalFile(str(local)), QUrl("http://127.0.0.1:1/b.iso")])
    assert local_paths(mime) == [str(local)]


def test_the_tree_takes_drops_on_a_library_row_only(qtbot: QtBot, tmp_path: Path) -> None:
    model = LibraryTreeModel()
    vc = ServerRef("https://vc", "admin")
    model.set_libraries(vc, [LibraryModel(id="lib-1", name="isos")])
    tree = LibraryTreeView()
    qtbot.addWidget(tree)
    tree.setModel(model)
    tree.expandAll()
    tree.resize(300, 200)
    tree.show()
    qtbot.waitExposed(tree)
    dropped: list[tuple[ServerRef, str, list[str]]] = []
    tree.files_dropped.connect(lambda *dropped_on: dropped.append(dropped_on))
    iso = make_file(tmp_path / "a.iso", 10)

    server_row = tree.visualRect(model.index(0, 0)).center()
    assert not drop_files(tree, [iso], server_row)
    assert not drop_files(tree, [iso], QPoint(5, 190))  # below the rows
    assert dropped == []
    assert drop_files(tree, [iso], tree.visualRect(model.library_index(vc, "lib-1")).center())
    assert dropped == [(vc, "lib-1", [str(iso)])]


def test_the_table_hands_on_the_row_or_none_and_refuses_while_disabled(
    qtbot: QtBot, tmp_path: Path
) -> None:
    model = ItemTableModel()
    item = ItemModel(id="item-1", library_id="lib-1", name="a", type="iso", size=1)
    model.set_items([item])
    table = ItemTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    table.resize(400, 300)
    table.show()
    qtbot.waitExposed(table)
    dropped: list[tuple[ItemModel | None, list[str]]] = []
    table.files_dropped.connect(lambda target, paths: dropped.append((target, paths)))
    iso = make_file(tmp_path / "a.iso", 10)
    row = table.visualRect(model.index(0, 0)).center()
    empty = QPoint(200, 250)

    assert not drop_files(table, [iso], row)  # no library selected yet
    table.drops_enabled = True
    assert drop_files(table, [iso], row)
    assert drop_files(table, [iso], empty)
    assert dropped == [(item, [str(iso)]), (None, [str(iso)])]
