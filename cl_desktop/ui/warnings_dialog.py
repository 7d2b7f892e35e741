"""The question a signed OVF's preview warnings raise: which of them to ignore, or cancel the
upload. `WarningQuestions` asks it for each job that waits for that decision, one at a time."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from cl_desktop.services.transfers import TransferService
from cl_desktop.transfers.jobs import JobSnapshot, JobState, WarningDecision, warning_words

# (parent, the job's title, its decision) -> the warning types to ignore, or None to cancel
AskWarnings = Callable[[QWidget | None, str, WarningDecision], frozenset[str] | None]


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)  # names and server messages, never markup
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class WarningsDialog(QDialog):
    """Each warning in words with the server's message and an "Ignore this warning" box, the
    signer's certificate, and Continue / Cancel upload (the default: nothing is accepted by
    a stray Enter)."""

    def __init__(self, parent: QWidget | None, title: str, decision: WarningDecision) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Signed template: check its certificate"))
        self.setMinimumWidth(520)
        layout = QVBoxLayout(self)
        layout.addWidget(
            _label(
                self.tr(
                    "The server raised warnings about the signature of {title}. Ignore a warning "
                    "only if you trust where the package comes from."
                ).format(title=title)
            )
        )
        certificate = QGroupBox(self.tr("Signing certificate"))
        form = QFormLayout(certificate)
        not_given = self.tr("not given by the server")
        form.addRow(self.tr("Subject:"), _label(decision.subject or not_given))
        form.addRow(self.tr("Issuer:"), _label(decision.issuer or not_given))
        if decision.valid_from or decision.valid_until:
            valid = self.tr("{start} to {end}").format(
                start=decision.valid_from, end=decision.valid_until
            )
            form.addRow(self.tr("Valid:"), _label(valid))
        if decision.self_signed is not None:
            self_signed = self.tr("yes") if decision.self_signed else self.tr("no")
            form.addRow(self.tr("Self-signed:"), _label(self_signed))
        layout.addWidget(certificate)
        self.boxes: dict[str, QCheckBox] = {}
        for warning in decision.warnings:
            words = warning_words(warning.type)
            group = QGroupBox(words[:1].upper() + words[1:])
            inner = QVBoxLayout(group)
            if warning.message:
                inner.addWidget(_label(warning.message))
            box = QCheckBox(self.tr("Ignore this warning"))
            box.setAccessibleName(self.tr("Ignore: {warning}").format(warning=words))
            box.toggled.connect(self._update)
            inner.addWidget(box)
            self.boxes[warning.type] = box
            layout.addWidget(group)
        self.outcome = _label("")
        layout.addWidget(self.outcome)
        self.buttons = QDialogButtonBox()
        self.continue_button = self.buttons.addButton(
            self.tr("Continue"), QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(
            self.tr("Cancel upload"), QDialogButtonBox.ButtonRole.RejectRole
        )
        self.cancel_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        # the button box makes its accept button the default when shown: Enter must not
        # accept warnings about a certificate
        self.continue_button.setAutoDefault(False)
        self.cancel_button.setDefault(True)
        if self.boxes:  # the first decision to make, not a button, has the keyboard
            next(iter(self.boxes.values())).setFocus()

    def _update(self) -> None:
        left = [t for t, box in self.boxes.items() if not box.isChecked()]
        if not left:
            self.outcome.setText(
                self.tr("Continue completes the upload with these warnings ignored.")
            )
        else:
            named = "; ".join(warning_words(t) for t in left)
            self.outcome.setText(
                self.tr("Continue makes the upload fail, since not ignored: {warnings}.").format(
                    warnings=named
                )
            )

    def answer(self) -> frozenset[str]:
        return frozenset(t for t, box in self.boxes.items() if box.isChecked())


def ask_warnings(
    parent: QWidget | None, title: str, decision: WarningDecision
) -> frozenset[str] | None:
    """The warning types to ignore (Continue), or None (Cancel upload)."""
    dialog = WarningsDialog(parent, title, decision)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answer()


class WarningQuestions(QObject):
    """Asks about each job that waits for a decision on its warnings, through `ask_one`
    (the window's one-question-at-a-time queue, so dialogs never stack), and sends the answer
    to the queue: the ticked warnings are ignored and the job resumes, or it fails."""

    def __init__(
        self,
        parent: QWidget,
        transfers: TransferService,
        answer: AskWarnings,
        ask_one: Callable[[Callable[[], None]], None],
    ) -> None:
        super().__init__(parent)
        self._parent, self._transfers, self._answer, self._ask_one = (
            parent,
            transfers,
            answer,
            ask_one,
        )
        self._pending: set[int] = set()  # jobs asked about, or waiting to be
        transfers.job_changed.connect(self._on_job)
        transfers.job_finished.connect(self._on_job)

    def _on_job(self, job: JobSnapshot) -> None:
        if job.decision is None or job.state is not JobState.PAUSED:
            self._pending.discard(job.id)  # decided (or resumed): a new pause asks again
            return
        if job.id not in self._pending:
            self._pending.add(job.id)
            self._ask_one(lambda: self._ask(job.id))

    def _ask(self, job_id: int) -> None:
        job = self._transfers.job(job_id)
        if job is None or job.decision is None or job.state is not JobState.PAUSED:
            self._pending.discard(job_id)  # removed, cancelled or resumed meanwhile
            return
        ignored = self._answer(self._parent, job.spec.title, job.decision)
        self._transfers.decide_warnings(job_id, ignored or frozenset())
