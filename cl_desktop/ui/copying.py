"""Copying items into another library: where to ("Copy to..." lists every library of every
connected server) and what a drag of items from the item table carries to the library tree."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from PySide6.QtCore import QCoreApplication, QMimeData
from PySide6.QtWidgets import QInputDialog, QWidget

from cl_desktop.api.models import ItemModel
from cl_desktop.transfers.jobs import ServerRef

from .library_model import LibraryIdRole, LibraryTreeModel, ServerRole

# The drag of items out of the item table (never of files: a file manager cannot take it).
ITEMS_MIME = "application/x-cl-desktop-items"


def _tr(text: str) -> str:
    return QCoreApplication.translate("Copying", text)


@dataclass(frozen=True)
class CopyTarget:
    """A library of a connected server, as "Copy to..." offers it."""

    server: ServerRef
    library_id: str
    library_name: str

    @property
    def label(self) -> str:
        return f"{self.library_name} \u2014 {self.server.label}"


def copy_targets(model: LibraryTreeModel) -> list[CopyTarget]:
    """Every library the tree lists, server by server."""
    targets = []
    for row in range(model.rowCount()):
        root = model.item(row)
        if root is None:
            continue
        for child in range(root.rowCount()):
            node = root.child(child)
            library_id = node.data(LibraryIdRole) if node is not None else None
            if library_id:
                targets.append(CopyTarget(node.data(ServerRole), str(library_id), node.text()))
    return targets


def ask_copy_target(
    parent: QWidget | None, what: str, targets: Sequence[CopyTarget]
) -> CopyTarget | None:
    """The library to copy `what` into, or None when cancelled."""
    labels = [t.label for t in targets]
    label, accepted = QInputDialog.getItem(
        parent,
        _tr("Copy to"),
        _tr("Copy {what} into the library:").format(what=what),
        labels,
        0,
        False,
    )
    if not accepted or label not in labels:
        return None
    return targets[labels.index(label)]


@dataclass(frozen=True)
class DraggedItems:
    """Items dragged out of the item table: their server, library, ids and names."""

    server: ServerRef
    library_id: str
    items: tuple[tuple[str, str], ...]  # (id, name)

    def models(self) -> list[ItemModel]:
        return [ItemModel(id=i, name=n, library_id=self.library_id) for i, n in self.items]


def items_mime(server: ServerRef, library_id: str, items: Sequence[ItemModel]) -> QMimeData:
    payload = {
        "server": asdict(server),
        "library_id": library_id,
        "items": [[item.id, item.name or item.id] for item in items if item.id],
    }
    mime = QMimeData()
    mime.setData(ITEMS_MIME, json.dumps(payload).encode())
    return mime


def dragged_items(mime: QMimeData) -> DraggedItems | None:
    """The items a drag carries, or None (a drag of something else, or unreadable)."""
    if not mime.hasFormat(ITEMS_MIME):
        return None
    try:
        raw = json.loads(bytes(mime.data(ITEMS_MIME).data()))
        items = tuple((str(i), str(n)) for i, n in raw["items"])
        return DraggedItems(ServerRef(**raw["server"]), str(raw["library_id"]), items)
    except (ValueError, KeyError, TypeError):
        return None
