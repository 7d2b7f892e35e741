"""QueueModel (one row per transfer job, repainted on a timer) and HistoryModel."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import (
    QT_TRANSLATE_NOOP,
    QCoreApplication,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication

from cl_desktop.transfers.jobs import (
    Direction,
    FileProgress,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)

from . import colors
from . import format as fmt
from .icons import action_icon
from .table_model import ReadOnlyTableModel

Index = QModelIndex | QPersistentModelIndex

(
    DIRECTION,
    SERVER,
    ITEM,
    FILE,
    SIZE,
    PROGRESS,
    SPEED,
    ETA,
    STATE,
    VERIFICATION,
    ERROR,
) = range(11)
# The texts below are translated where they are shown, in this context.
CONTEXT = "QueueModel"
HEADERS = (
    str(QT_TRANSLATE_NOOP("QueueModel", "Direction")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Server")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Item")),
    str(QT_TRANSLATE_NOOP("QueueModel", "File")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Size")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Progress")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Speed")),
    str(QT_TRANSLATE_NOOP("QueueModel", "ETA")),
    str(QT_TRANSLATE_NOOP("QueueModel", "State")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Verification")),
    str(QT_TRANSLATE_NOOP("QueueModel", "Error")),
)
# What the cells say of a job's (or a history record's) direction, state, phase and
# verification: keyed by the enums' values (a StrEnum is found by its plain string too).
IMPORT = str(QT_TRANSLATE_NOOP("QueueModel", "Import"))  # from a URL: the server pulls it
DIRECTION_LABELS: dict[str, str] = {
    Direction.UPLOAD: str(QT_TRANSLATE_NOOP("QueueModel", "Upload")),
    Direction.DOWNLOAD: str(QT_TRANSLATE_NOOP("QueueModel", "Download")),
    Direction.COPY: str(QT_TRANSLATE_NOOP("QueueModel", "Copy")),  # between libraries or servers
}
STATE_LABELS: dict[str, str] = {
    JobState.QUEUED: str(QT_TRANSLATE_NOOP("QueueModel", "Queued")),
    JobState.RUNNING: str(QT_TRANSLATE_NOOP("QueueModel", "Running")),
    JobState.PAUSED: str(QT_TRANSLATE_NOOP("QueueModel", "Paused")),
    JobState.DONE: str(QT_TRANSLATE_NOOP("QueueModel", "Done")),
    JobState.FAILED: str(QT_TRANSLATE_NOOP("QueueModel", "Failed")),
    JobState.CANCELED: str(QT_TRANSLATE_NOOP("QueueModel", "Canceled")),
}
PHASE_LABELS: dict[str, str] = {
    Phase.WAITING: str(QT_TRANSLATE_NOOP("QueueModel", "Waiting")),
    Phase.CHECKING: str(QT_TRANSLATE_NOOP("QueueModel", "Checking files")),
    Phase.PREPARING: str(QT_TRANSLATE_NOOP("QueueModel", "Preparing")),
    Phase.TRANSFERRING: str(QT_TRANSLATE_NOOP("QueueModel", "Transferring")),
    Phase.VERIFYING: str(QT_TRANSLATE_NOOP("QueueModel", "Verifying")),
    Phase.FINISHING: str(QT_TRANSLATE_NOOP("QueueModel", "Finishing")),
    Phase.RETRYING: str(QT_TRANSLATE_NOOP("QueueModel", "Retrying")),
    Phase.RECONNECTING: str(QT_TRANSLATE_NOOP("QueueModel", "Reconnecting")),
    Phase.STALLED: str(QT_TRANSLATE_NOOP("QueueModel", "Stalled")),
    Phase.WAITING_FOR_LOGIN: str(QT_TRANSLATE_NOOP("QueueModel", "Waiting for login")),
    Phase.NEEDS_DECISION: str(QT_TRANSLATE_NOOP("QueueModel", "Needs a decision")),
}
VERIFICATION_LABELS: dict[str, str] = {
    Verification.VERIFIED: str(QT_TRANSLATE_NOOP("QueueModel", "verified")),
    Verification.SIZE_ONLY: str(QT_TRANSLATE_NOOP("QueueModel", "size only")),
    Verification.UNVERIFIED: str(QT_TRANSLATE_NOOP("QueueModel", "unverified")),
    Verification.CONSUMED: str(QT_TRANSLATE_NOOP("QueueModel", "consumed by the server")),
    Verification.SKIPPED: str(QT_TRANSLATE_NOOP("QueueModel", "skipped")),
}
JobIdRole = Qt.ItemDataRole.UserRole + 1
ProgressRole = Qt.ItemDataRole.UserRole + 3  # fraction 0..1, or None when the size is unknown
REPAINT_INTERVAL_MS = 400


@functools.cache
def _brushes() -> tuple[QBrush, QBrush, QBrush]:
    """Failed, held and verified text: from the palette (light or dark), made once."""
    palette = QApplication.palette()
    return (
        QBrush(colors.error_color(palette)),
        QBrush(colors.warning_color(palette)),
        QBrush(colors.success_color(palette)),
    )


def _label(labels: Mapping[str, str], value: str, fallback: str) -> str:
    """The translated label of `value`; `fallback` for a value with none (a newer one)."""
    label = labels.get(value)
    return QCoreApplication.translate(CONTEXT, label) if label else fallback


def direction_label(value: str) -> str:
    """ "Upload", "Download", "Copy" (as translated)."""
    return _label(DIRECTION_LABELS, value, value.capitalize())


def copy_label(spec: JobSpec) -> str:
    """A copy's item cell: "web -> web (2)", "... on admin@vc2" for another server."""
    name = spec.item_name or spec.item_id or ""
    into = spec.target_item_name or spec.target_item_id or name
    if spec.target_server is None:
        return QCoreApplication.translate(CONTEXT, "{name} -> {into}").format(name=name, into=into)
    text = QCoreApplication.translate(CONTEXT, "{name} -> {into} on {server}")
    return text.format(name=name, into=into, server=spec.target_server.label)


def verification_label(value: str) -> str:
    """ "verified", "size only", ... (as translated)."""
    return _label(VERIFICATION_LABELS, value, value)


def file_label(snapshot: JobSnapshot) -> str:
    """The file being transferred (or the first one), '+n' for the others."""
    names = [f.name for f in snapshot.files]
    current = next((f.name for f in snapshot.files if f.done < f.size), None)
    if not names:
        spec = snapshot.spec
        names = [p.replace("\\", "/").rsplit("/", 1)[-1] for p in spec.paths]
        names = names or list(spec.file_names)
        if not names and spec.source_url:  # an import: the URL's file
            names = [spec.source_url.rstrip("/").rsplit("/", 1)[-1]]
        if not names:
            return QCoreApplication.translate("QueueModel", "all files")
    first = current or names[0]
    return f"{first} (+{len(names) - 1})" if len(names) > 1 else first


# Phases in which a job waits for something other than its turn (shown amber).
HELD_PHASES = frozenset(
    {
        Phase.RETRYING,
        Phase.RECONNECTING,
        Phase.STALLED,
        Phase.WAITING_FOR_LOGIN,
        Phase.NEEDS_DECISION,  # paused until the user answers about a signed OVF's warnings
    }
)


def state_label(snapshot: JobSnapshot) -> str:
    """The State cell: the phase of a running (or held) job, with its note."""
    running = snapshot.state is JobState.RUNNING and snapshot.phase is not Phase.WAITING
    held = snapshot.state is JobState.QUEUED and snapshot.phase in HELD_PHASES  # between runs
    if snapshot.state is JobState.PAUSED and snapshot.phase is Phase.NEEDS_DECISION:
        held = True  # "Needs a decision: the signing certificate is self-signed"
    if not (running or held):
        state = snapshot.state
        return _label(STATE_LABELS, state, str(state).capitalize())
    phase = str(snapshot.phase)
    label = _label(PHASE_LABELS, phase, phase.capitalize())
    note = snapshot.note  # the engine's words (English)
    if not note:
        return label
    if note.casefold().startswith(phase.casefold()):  # "reconnecting, try 2, next in 8 s"
        return note[:1].upper() + note[1:]
    return QCoreApplication.translate("QueueModel", "{phase}: {note}").format(
        phase=label, note=note
    )


def error_text(snapshot: JobSnapshot) -> str:
    if not snapshot.error_title:
        return snapshot.error_message
    if not snapshot.error_message:
        return snapshot.error_title
    return f"{snapshot.error_title}: {snapshot.error_message}"


def _files_tooltip(files: Iterable[FileProgress]) -> str:
    lines = []
    for f in files:
        line = QCoreApplication.translate("QueueModel", "{name}: {done} of {size}").format(
            name=f.name, done=fmt.size(f.done), size=fmt.size(f.size)
        )
        if f.verification is not None:
            line += f", {verification_label(f.verification)}"
        if f.checksum:
            line += f"\n    {f.checksum}"
        lines.append(line)
    return "\n".join(lines)


_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ROLES = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.ForegroundRole,
    ProgressRole,
)


class QueueModel(QStandardItemModel):
    """Transfer jobs as rows, in the order they were queued.

    The cell values live on the C++ side (QStandardItemModel): painting the queue then calls
    no Python at all, which keeps repaints fast while worker threads hold the GIL. Rows are
    inserted and removed at once; changed rows are rewritten and repainted together by one
    timer (REPAINT_INTERVAL_MS), so a burst of progress reports costs one repaint.

    Signals:
        refreshed(): after each timer-driven repaint (the window updates its totals then).
    """

    refreshed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setHorizontalHeaderLabels([QCoreApplication.translate(CONTEXT, h) for h in HEADERS])
        self._ids: list[int] = []
        self._rows: dict[int, int] = {}
        self._jobs: dict[int, JobSnapshot] = {}
        self._dirty: set[int] = set()
        self._written: dict[int, list[dict[int, Any]]] = {}  # per job: the values in Qt
        self._timer = QTimer(self)
        self._timer.setInterval(REPAINT_INTERVAL_MS)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        # arrows out of / into a tray, green and blue: a style's bare arrows look like expanders
        self._icons = {
            Direction.UPLOAD: action_icon("upload"),
            Direction.DOWNLOAD: action_icon("download"),
            Direction.COPY: action_icon("copy-to"),
        }

    # --- content ---------------------------------------------------------------------------

    def update_job(self, snapshot: JobSnapshot) -> None:
        """Insert a new job now, or remember an update for the next repaint."""
        job_id = snapshot.id
        self._jobs[job_id] = snapshot
        if job_id not in self._rows:
            cells = []
            for column in range(len(HEADERS)):
                cell = QStandardItem()
                cell.setFlags(_FLAGS)
                if column in (SIZE, SPEED, ETA):
                    cell.setData(_RIGHT, Qt.ItemDataRole.TextAlignmentRole)
                cells.append(cell)
            cells[DIRECTION].setData(
                self._icons[snapshot.spec.direction], Qt.ItemDataRole.DecorationRole
            )
            cells[DIRECTION].setData(job_id, JobIdRole)
            self._write(cells, snapshot)
            self._rows[job_id] = len(self._ids)
            self._ids.append(job_id)
            self.appendRow(cells)
            self.refreshed.emit()
            return
        self._dirty.add(job_id)
        if not self._timer.isActive():
            self._timer.start()

    def remove_job(self, job_id: int) -> None:
        row = self._rows.get(job_id)
        if row is None:
            return
        del self._ids[row]
        del self._jobs[job_id]
        self._written.pop(job_id, None)
        self._dirty.discard(job_id)
        self._rows = {jid: r for r, jid in enumerate(self._ids)}
        self.removeRow(row)
        self.refreshed.emit()

    def flush(self) -> None:
        """Write the rows that changed since the last repaint, then repaint them at once."""
        rows = sorted(self._rows[job_id] for job_id in self._dirty if job_id in self._rows)
        self._dirty.clear()
        if rows:
            # One dataChanged per run of rows instead of one per cell and role.
            blocked = self.blockSignals(True)
            try:
                for row in rows:
                    cells = [self.item(row, column) for column in range(len(HEADERS))]
                    self._write(cells, self._jobs[self._ids[row]])
            finally:
                self.blockSignals(blocked)
            runs: list[list[int]] = []
            for row in rows:
                if runs and row == runs[-1][1] + 1:
                    runs[-1][1] = row
                else:
                    runs.append([row, row])
            for first, last in runs:
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(HEADERS) - 1))
        self.refreshed.emit()

    def _write(self, cells: list[QStandardItem], snap: JobSnapshot) -> None:
        # Only the values that changed cross into Qt: the GUI thread shares the GIL with
        # the transfer workers, so its Python time per repaint is kept small.
        written = self._written.setdefault(snap.id, [{} for _ in HEADERS])
        for column, cell in enumerate(cells):
            values = _cell(snap, column)
            last = written[column]
            if values == last:
                continue
            for role in _ROLES:
                value = values.get(role)
                if last.get(role) != value:
                    cell.setData(value, role)
            written[column] = values

    def snapshot(self, row: int) -> JobSnapshot:
        return self._jobs[self._ids[row]]

    def snapshots(self) -> list[JobSnapshot]:
        return [self._jobs[job_id] for job_id in self._ids]

    def row_of(self, job_id: int) -> int:
        return self._rows.get(job_id, -1)


def _cell(snap: JobSnapshot, column: int) -> dict[int, Any]:
    """The roles of one queue cell."""
    values: dict[int, Any] = {Qt.ItemDataRole.DisplayRole: _display(snap, column)}
    if column == PROGRESS and snap.bytes_total > 0:
        values[ProgressRole] = 1.0 if snap.state is JobState.DONE else snap.fraction
    if column == FILE and snap.files:
        values[Qt.ItemDataRole.ToolTipRole] = _files_tooltip(snap.files)
    elif column == ERROR:
        values[Qt.ItemDataRole.ToolTipRole] = error_text(snap) or None
    elif column == ITEM:
        values[Qt.ItemDataRole.ToolTipRole] = snap.spec.title
    elif column == SERVER:
        values[Qt.ItemDataRole.ToolTipRole] = snap.spec.server.url
    elif column == STATE and snap.note:
        values[Qt.ItemDataRole.ToolTipRole] = snap.note
    if column in (STATE, VERIFICATION, ERROR):
        failed, held, verified = _brushes()
        if snap.state is JobState.FAILED:
            values[Qt.ItemDataRole.ForegroundRole] = failed
        elif column == STATE and snap.phase in HELD_PHASES and not snap.state.finished:
            values[Qt.ItemDataRole.ForegroundRole] = held
        elif snap.state is JobState.DONE and snap.verification is Verification.VERIFIED:
            values[Qt.ItemDataRole.ForegroundRole] = verified
    return values


def _display(snap: JobSnapshot, column: int) -> str:
    if column == DIRECTION:
        if snap.spec.source_url:
            return QCoreApplication.translate(CONTEXT, IMPORT)
        return direction_label(snap.spec.direction)
    if column == SERVER:
        return snap.spec.server.label
    if column == ITEM and snap.spec.direction is Direction.COPY:
        return copy_label(snap.spec)
    if column == ITEM:
        return snap.spec.item_name or snap.spec.item_id or snap.item_id or ""
    if column == FILE:
        return file_label(snap)
    if column == SIZE:
        return fmt.size(snap.bytes_total) if snap.bytes_total else ""
    if column == PROGRESS:
        if snap.bytes_total <= 0:
            return ""
        fraction = 1.0 if snap.state is JobState.DONE else snap.fraction
        return f"{int(fraction * 100)}%"
    if column == SPEED:
        return fmt.speed(snap.speed) if snap.state is JobState.RUNNING else ""
    if column == ETA:
        return fmt.duration(snap.eta)
    if column == STATE:
        return state_label(snap)
    if column == VERIFICATION:
        return verification_label(snap.verification) if snap.verification is not None else ""
    return error_text(snap)


# translated by ReadOnlyTableModel.headerData, in the context of the model's class
HISTORY_HEADERS = (
    str(QT_TRANSLATE_NOOP("HistoryModel", "Started")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Direction")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Item")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "File")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Size")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Duration")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Outcome")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Verification")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Checksum")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Server")),
    str(QT_TRANSLATE_NOOP("HistoryModel", "Error")),
)


class HistoryModel(ReadOnlyTableModel):
    """Finished file transfers, newest first."""

    HEADERS = HISTORY_HEADERS

    def set_records(self, records: Iterable[HistoryRecord]) -> None:
        self.set_rows(reversed(list(records)))

    def record(self, row: int) -> HistoryRecord:
        record: HistoryRecord = self.row_record(row)
        return record

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.record(index.row())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(record, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() in (8, 10):
            return self._display(record, index.column()) or None
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 3:
            return record.extra.get("source_url") or None  # an import names its URL
        return None

    @staticmethod
    def _display(r: HistoryRecord, column: int) -> str:
        values = (
            r.started_at.replace("T", " ")[:19],
            QCoreApplication.translate(CONTEXT, IMPORT)
            if r.extra.get("source_url")
            else direction_label(r.direction),
            r.item_name or r.item_id,
            r.file,
            fmt.size(r.bytes),
            fmt.duration(r.duration_s),
            _label(STATE_LABELS, r.outcome, r.outcome.capitalize()),
            verification_label(r.verification),
            r.checksum,
            ServerRef(r.server, r.user).label,
            r.error,
        )
        return values[column]
