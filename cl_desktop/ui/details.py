"""Detail panes of the selected item: Summary, Files (File.Info) and Storage (Storage.Info)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from cl_desktop.api.models import FileInfo, ItemModel, LibraryModel, StorageInfo
from cl_desktop.services.browser import ItemDetails
from cl_desktop.services.errors import ErrorInfo

from . import format as fmt
from .colors import show_as_error
from .table_model import ReadOnlyTableModel
from .views import setup_table

Index = QModelIndex | QPersistentModelIndex
# Translated where shown (str(): PySide types QT_TRANSLATE_NOOP's result as object); the
# files' headers by ReadOnlyTableModel, in the context of the model's class
FILE_HEADERS = (
    str(QT_TRANSLATE_NOOP("FilesModel", "Name")),
    str(QT_TRANSLATE_NOOP("FilesModel", "Size")),
    str(QT_TRANSLATE_NOOP("FilesModel", "Cached")),
    str(QT_TRANSLATE_NOOP("FilesModel", "Version")),
    str(QT_TRANSLATE_NOOP("FilesModel", "Checksum algorithm")),
    str(QT_TRANSLATE_NOOP("FilesModel", "Checksum")),
)
STORAGE_HEADERS = (
    str(QT_TRANSLATE_NOOP("DetailPanes", "File / storage URI")),
    str(QT_TRANSLATE_NOOP("DetailPanes", "Size")),
    str(QT_TRANSLATE_NOOP("DetailPanes", "Backing")),
    str(QT_TRANSLATE_NOOP("DetailPanes", "Datastore")),
    str(QT_TRANSLATE_NOOP("DetailPanes", "Version")),
)
NOT_AVAILABLE = str(
    QT_TRANSLATE_NOOP("DetailPanes", "Storage information is not available on this server.")
)


class FilesModel(ReadOnlyTableModel):
    """File.Info rows of one item."""

    HEADERS = FILE_HEADERS

    def set_files(self, files: Iterable[FileInfo]) -> None:
        self.set_rows(sorted(files, key=lambda f: f.name.casefold()))

    def file(self, row: int) -> FileInfo:
        record: FileInfo = self.row_record(row)
        return record

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        f = self.file(index.row())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            checksum = f.checksum_info
            values = (
                f.name,
                fmt.size(f.size),
                fmt.yes_no(f.cached),
                f.version or "",
                str(checksum.effective_algorithm) if checksum else "",
                checksum.checksum if checksum else "",
            )
            text = values[index.column()]
            return text if role == Qt.ItemDataRole.DisplayRole else (text or None)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 1:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class _Pane(QStackedWidget):
    """A pane's content, or a message in its place (loading, an error, nothing selected)."""

    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.content = content
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.setMargin(16)
        self.addWidget(content)
        self.addWidget(self.message)

    def show_content(self) -> None:
        self.setCurrentWidget(self.content)

    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        show_as_error(self.message, error)
        if not error:  # a message in place of content: subdued, as disabled text is
            palette = self.message.palette()
            subdued = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText)
            palette.setColor(QPalette.ColorRole.WindowText, subdued)
            self.message.setPalette(palette)
        self.setCurrentWidget(self.message)

    @property
    def showing_message(self) -> str:
        return self.message.text() if self.currentWidget() is self.message else ""


class SummaryForm(QWidget):
    """Label/value pairs of the selected item (or library); values are selectable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QFormLayout(self)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._fields: dict[str, QLabel] = {}

    def set_rows(self, rows: Iterable[tuple[str, str]]) -> None:
        """Label and value pairs; each label marked with QT_TRANSLATE_NOOP("SummaryForm", ...)
        (shown translated, kept in English as the key of `value()`)."""
        while self._layout.rowCount():
            self._layout.removeRow(0)
        self._fields.clear()
        for label, value in rows:
            field = QLabel(value)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setWordWrap(True)
            self._fields[label] = field
            shown = QCoreApplication.translate("SummaryForm", label)
            self._layout.addRow(self.tr("{label}:").format(label=shown), field)

    def value(self, label: str) -> str:
        field = self._fields.get(label)
        return field.text() if field is not None else ""


class DetailPanes(QTabWidget):
    """Summary, Files and Storage tabs for the current item."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary_form = SummaryForm()
        # scrolled: a long summary must not push the splitter and squeeze the item list
        summary_scroll = QScrollArea()
        summary_scroll.setWidget(self.summary_form)
        summary_scroll.setWidgetResizable(True)
        summary_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.summary = _Pane(summary_scroll)
        self.files_model = FilesModel(self)
        self.files_view = QTableView()
        self.files_view.setModel(self.files_model)
        setup_table(self.files_view, {0: 220})
        self.files_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.files = _Pane(self.files_view)
        self.storage_tree = QTreeWidget()
        self.storage_tree.setColumnCount(len(STORAGE_HEADERS))
        self.storage_tree.setHeaderLabels(
            [QCoreApplication.translate("DetailPanes", name) for name in STORAGE_HEADERS]
        )
        self.storage_tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.storage_tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.copy_uri_action = QAction(self.tr("&Copy storage URI"), self.storage_tree)
        self.copy_uri_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_uri_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.copy_uri_action.triggered.connect(self.copy_storage_uris)
        self.storage_tree.addAction(self.copy_uri_action)
        self._uri_items: list[tuple[QTreeWidgetItem, QTreeWidgetItem]] = []
        self.storage = _Pane(self.storage_tree)
        self.addTab(self.summary, self.tr("&Summary"))
        self.addTab(self.files, self.tr("&Files"))
        self.addTab(self.storage, self.tr("S&torage"))
        self.show_nothing()

    # --- states ------------------------------------------------------------------------------

    def show_nothing(self) -> None:
        self.summary.show_message(self.tr("Select a library item to see its details."))
        self.files_model.set_files(())
        self.files.show_message(self.tr("No item selected."))
        self._clear_storage()
        self.storage.show_message(self.tr("No item selected."))

    def show_library(self, library: LibraryModel, item_count: int | None) -> None:
        backings = ", ".join(
            b.datastore_id or b.storage_uri or str(b.type) for b in library.storage_backings
        )
        self.summary_form.set_rows(
            [
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Library")), library.name or ""),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "ID")), library.id or ""),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Type")), str(library.type or "")),
                (
                    str(QT_TRANSLATE_NOOP("SummaryForm", "Items")),
                    "" if item_count is None else str(item_count),
                ),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Storage")), backings),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Description")), library.description or ""),
                (
                    str(QT_TRANSLATE_NOOP("SummaryForm", "Last modified")),
                    fmt.timestamp(library.last_modified_time),
                ),
            ]
        )
        self.summary.show_content()
        self.files_model.set_files(())
        self.files.show_message(self.tr("Select an item to see its files."))
        self._clear_storage()
        self.storage.show_message(self.tr("Select an item to see where its files are stored."))

    def show_item(self, item: ItemModel, library_name: str) -> None:
        """The summary at once; files and storage show "Loading..." until set_details."""
        self.summary_form.set_rows(
            [
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Name")), item.name or ""),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "ID")), item.id or ""),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Library")), library_name),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Type")), item.type or ""),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Size")), fmt.size(item.size)),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Cached")), fmt.yes_no(item.cached)),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Version")), item.version or ""),
                (
                    str(QT_TRANSLATE_NOOP("SummaryForm", "Content version")),
                    item.content_version or "",
                ),
                (
                    str(QT_TRANSLATE_NOOP("SummaryForm", "Metadata version")),
                    item.metadata_version or "",
                ),
                (
                    str(QT_TRANSLATE_NOOP("SummaryForm", "Created")),
                    fmt.timestamp(item.creation_time),
                ),
                (
                    str(QT_TRANSLATE_NOOP("SummaryForm", "Last modified")),
                    fmt.timestamp(item.last_modified_time),
                ),
                (str(QT_TRANSLATE_NOOP("SummaryForm", "Description")), item.description or ""),
            ]
        )
        self.summary.show_content()
        self.files_model.set_files(())  # never show (or download from) the previous item's
        self._clear_storage()
        self.files.show_message(self.tr("Loading files..."))
        self.storage.show_message(self.tr("Loading storage..."))

    def set_details(self, details: ItemDetails) -> None:
        self.files_model.set_files(details.files)
        if details.files:
            self.files.show_content()
        else:
            self.files.show_message(self.tr("This item has no files yet."))
        self._clear_storage()
        if details.storage is None:
            self.storage.show_message(QCoreApplication.translate("DetailPanes", NOT_AVAILABLE))
        elif details.storage_error is not None:
            text = self.tr("Could not read the storage information.\n{error}")
            self.storage.show_message(text.format(error=details.storage_error.text), True)
        elif not details.storage:
            self.storage.show_message(self.tr("No storage information for this item."))
        else:
            self._fill_storage(details.storage)
            self.storage.show_content()

    def show_error(self, error: ErrorInfo) -> None:
        text = self.tr("{title}\n{message}\nPress F5 to try again.").format(
            title=error.title, message=error.message
        )
        self.files.show_message(text, True)
        self.storage.show_message(text, True)

    def _fill_storage(self, storage: Iterable[StorageInfo]) -> None:
        for info in sorted(storage, key=lambda s: s.name.casefold()):
            backing = info.storage_backing
            top = QTreeWidgetItem(
                [
                    info.name,
                    fmt.size(info.size),
                    str(backing.type or "") if backing else "",
                    (backing.datastore_id or backing.storage_uri or "") if backing else "",
                    info.version or "",
                ]
            )
            self.storage_tree.addTopLevelItem(top)
            for uri in info.storage_uris:
                child = QTreeWidgetItem(top, [uri])
                child.setToolTip(0, uri)
                child.setFirstColumnSpanned(True)  # URIs are long: give them the whole row
                self._uri_items.append((top, child))
            top.setExpanded(True)
        self.storage_tree.resizeColumnToContents(0)

    def _clear_storage(self) -> None:
        self._uri_items.clear()
        self.storage_tree.clear()

    # --- queries -------------------------------------------------------------------------

    def selected_file_names(self) -> list[str]:
        rows = sorted({index.row() for index in self.files_view.selectionModel().selectedRows()})
        return [self.files_model.file(row).name for row in rows]

    def storage_uris(self, selected_only: bool = False) -> list[str]:
        return [
            child.text(0)
            for top, child in self._uri_items
            if not selected_only or child.isSelected() or top.isSelected()
        ]

    def copy_storage_uris(self) -> None:
        """Copy the selected storage URIs (all of a selected file's), one per line."""
        uris = self.storage_uris(selected_only=True) or self.storage_uris()
        if uris:
            QGuiApplication.clipboard().setText("\n".join(uris))
