"""The Settings dialog: every user preference (cl_desktop.preferences), editable.

OK hands the new preferences to `SettingsService.apply`, which saves them and applies them to
the running queue, the session monitor and the log level; Restore Defaults fills in the
defaults (nothing changes before OK).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.preferences import LOG_LEVELS, Preferences

# translated where shown; the keys are the stored levels (str(): PySide types
# QT_TRANSLATE_NOOP's result as object)
LEVEL_NAMES = {
    "DEBUG": str(QT_TRANSLATE_NOOP("SettingsDialog", "Debug (everything)")),
    "INFO": str(QT_TRANSLATE_NOOP("SettingsDialog", "Info")),
    "WARNING": str(QT_TRANSLATE_NOOP("SettingsDialog", "Warnings only")),
}


def _named(widget: QWidget, name: str, description: str = "") -> QWidget:
    widget.setAccessibleName(name)
    if description:
        widget.setAccessibleDescription(description)
        widget.setToolTip(description)
    return widget


def _row(form: QFormLayout, text: str, field: QWidget, buddy: QWidget | None = None) -> None:
    label = QLabel(text)
    label.setBuddy(buddy or field)
    form.addRow(label, field)


class SettingsDialog(QDialog):
    """Every preference; `preferences()` is what the dialog shows now."""

    def __init__(
        self,
        parent: QWidget | None,
        current: Preferences,
        ask_directory: Callable[[QWidget | None, str, str], str],
        where: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Settings"))
        self.setObjectName("settingsDialog")
        self._ask_directory = ask_directory

        self.parallel = QSpinBox()
        self.parallel.setRange(1, 32)
        _named(
            self.parallel,
            self.tr("Parallel transfers"),
            self.tr("How many transfers run at the same time"),
        )
        self.limit = QDoubleSpinBox()
        self.limit.setRange(0.0, 100_000.0)
        self.limit.setDecimals(1)
        self.limit.setSingleStep(1.0)
        self.limit.setSuffix(self.tr(" MB/s"))
        self.limit.setSpecialValueText(self.tr("No limit"))  # shown at 0
        _named(
            self.limit,
            self.tr("Bandwidth limit"),
            self.tr("Shared by the running transfers, applied at once; 0 for no limit"),
        )
        self.keep_alive = QSpinBox()
        self.keep_alive.setRange(1, 3600)
        self.keep_alive.setSuffix(self.tr(" s"))
        _named(
            self.keep_alive,
            self.tr("Keep-alive interval"),
            self.tr(
                "The longest gap between keep-alives of a transfer's session on the server "
                "(shorter when the server's session would expire sooner)"
            ),
        )
        transfers = QGroupBox(self.tr("Transfers"))
        form = QFormLayout(transfers)
        _row(form, self.tr("&Parallel transfers:"), self.parallel)
        _row(form, self.tr("&Bandwidth limit:"), self.limit)
        _row(form, self.tr("&Keep-alive at least every:"), self.keep_alive)

        self.download_folder = QLineEdit()
        self.download_folder.setPlaceholderText(
            self.tr("Ask each time (starting in the last folder)")
        )
        self.download_folder.setClearButtonEnabled(True)
        self.download_folder.setMinimumWidth(280)  # the placeholder says what empty means
        _named(
            self.download_folder,
            self.tr("Download folder"),
            self.tr("Downloads go straight into this folder; empty: ask each time"),
        )
        browse = QPushButton(self.tr("Bro&wse..."))
        browse.setAccessibleName(self.tr("Browse for the download folder"))
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.download_folder, 1)
        folder_row.addWidget(browse)
        folder_box = QWidget()
        folder_box.setLayout(folder_row)
        folder_row.setContentsMargins(0, 0, 0, 0)
        downloads = QGroupBox(self.tr("Downloads"))
        form = QFormLayout(downloads)
        _row(form, self.tr("Download &folder:"), folder_box, self.download_folder)

        self.confirm_quit = QCheckBox(self.tr("Ask before &quitting while transfers run"))
        self.confirm_replace = QCheckBox(self.tr("Ask before &replacing files of an existing item"))
        self.confirm_new_items = QCheckBox(self.tr("Ask before creating &new items from files"))
        confirmations = QGroupBox(self.tr("Confirmations"))
        column = QVBoxLayout(confirmations)
        for box in (self.confirm_quit, self.confirm_replace, self.confirm_new_items):
            box.setAccessibleName(box.text().replace("&", ""))
            column.addWidget(box)

        self.sessions_refresh = QSpinBox()
        self.sessions_refresh.setRange(1, 3600)
        self.sessions_refresh.setSuffix(self.tr(" s"))
        _named(
            self.sessions_refresh,
            self.tr("Sessions refresh interval"),
            self.tr("How often the Sessions view lists the servers' sessions while it is shown"),
        )
        self.log_level = QComboBox()
        for level in LOG_LEVELS:
            self.log_level.addItem(
                QCoreApplication.translate("SettingsDialog", LEVEL_NAMES[level]), level
            )
        _named(
            self.log_level, self.tr("Log level"), self.tr("What the log records (applied at once)")
        )
        other = QGroupBox(self.tr("Monitoring"))
        form = QFormLayout(other)
        _row(form, self.tr("&Sessions refresh every:"), self.sessions_refresh)
        _row(form, self.tr("&Log level:"), self.log_level)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        restore = self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.clicked.connect(lambda: self.show_preferences(Preferences()))

        layout = QVBoxLayout(self)
        for group in (transfers, downloads, confirmations, other):
            layout.addWidget(group)
        if where:
            note = QLabel(
                self.tr("Saved in {where}; cl-transfer takes its defaults from there too.").format(
                    where=where
                )
            )
            note.setWordWrap(True)
            note.setEnabled(False)  # a quiet note
            layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.show_preferences(current)

    def show_preferences(self, prefs: Preferences) -> None:
        self.parallel.setValue(prefs.parallel_transfers)
        self.limit.setValue(prefs.bandwidth_limit or 0.0)
        self.keep_alive.setValue(round(prefs.keep_alive_seconds))
        self.download_folder.setText(prefs.download_folder)
        self.confirm_quit.setChecked(prefs.confirm_quit)
        self.confirm_replace.setChecked(prefs.confirm_replace)
        self.confirm_new_items.setChecked(prefs.confirm_new_items)
        self.sessions_refresh.setValue(round(prefs.sessions_refresh_seconds))
        index = self.log_level.findData(prefs.log_level)
        self.log_level.setCurrentIndex(max(0, index))

    def preferences(self) -> Preferences:
        return Preferences(
            parallel_transfers=self.parallel.value(),
            bandwidth_limit=self.limit.value() or None,
            keep_alive_seconds=float(self.keep_alive.value()),
            download_folder=self.download_folder.text().strip(),
            confirm_quit=self.confirm_quit.isChecked(),
            confirm_replace=self.confirm_replace.isChecked(),
            confirm_new_items=self.confirm_new_items.isChecked(),
            sessions_refresh_seconds=float(self.sessions_refresh.value()),
            log_level=str(self.log_level.currentData()),
        )

    def _browse(self) -> None:
        start = self.download_folder.text()
        folder = self._ask_directory(self, self.tr("Download folder"), start)
        if folder:
            self.download_folder.setText(folder)
