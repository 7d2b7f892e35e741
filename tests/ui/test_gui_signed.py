"""A signed OVF template uploaded from the window: its preview warnings are asked about, one
job at a time, and the answer completes the upload or fails it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.demo import SIGNED_SAMPLE, start_demo_server, write_signed_sample
from cl_desktop.transfers.jobs import (
    JobState,
    Phase,
    SignatureWarning,
    WarningDecision,
)
from cl_desktop.ui.queue_model import STATE
from cl_desktop.ui.warnings_dialog import WarningsDialog
from tests.support.api import active_sessions
from tests.support.gui import FakePrompts, jobs, wait_jobs
from tests.support.signed import expired_pem, self_signed_pem, write_signed_template

SELF_SIGNED = "SELF_SIGNED_CERTIFICATE"


def upload(gui: Application, prompts: FakePrompts, *ovfs: Path) -> None:
    prompts.open_files = [str(p) for p in ovfs]
    gui.window.upload_new_action.trigger()


def test_an_ignored_warning_completes_the_upload(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    fake_prompts.warning_answers = [frozenset({SELF_SIGNED})]
    upload(gui, fake_prompts, ovf)
    (job,) = wait_jobs(qtbot, gui, 1, JobState.DONE)
    ((title, decision),) = fake_prompts.warning_questions
    assert "signed.ovf" in title
    assert decision.types == (SELF_SIGNED,) and "Appliance Vendor" in decision.subject
    assert job.item_id
    names = {f.name for f in sim_api_client.item_files.list(job.item_id)}
    assert names == {"signed.ovf", "signed-disk1.vmdk"}
    assert not active_sessions(sim_api_client)


def test_cancel_upload_fails_the_job_naming_the_warning(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts, tmp_path: Path,
    sim_api_client: ContentLibraryClient,
) -> None:  # fmt: skip
    ovf = write_signed_template(tmp_path / "tpl", self_signed_pem())
    fake_prompts.warning_answers = [None]  # Cancel upload
    upload(gui, fake_prompts, ovf)
    (job,) = wait_jobs(qtbot, gui, 1, JobState.FAILED)
    assert len(fake_prompts.warning_questions) == 1
    assert "self-signed (SELF_SIGNED_CERTIFICATE)" in job.error_message
    qtbot.waitUntil(lambda: not active_sessions(sim_api_client), timeout=10000)
    library_id = gui.window.library_id or ""
    qtbot.waitUntil(lambda: not sim_api_client.items.list(library_id), timeout=10000)


def test_one_question_at_a_time_and_the_row_says_what_it_waits_for(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts, tmp_path: Path,
) -> None:  # fmt: skip
    first = write_signed_template(tmp_path / "one", self_signed_pem(), name="one")
    second = write_signed_template(
        tmp_path / "two", expired_pem(trustme.CA(), datetime.now(UTC) - timedelta(days=1)), "two"
    )
    model = gui.window.dock.queue_model
    depth, deepest, rows_seen = [0], [0], []

    def both_waiting() -> bool:
        snaps = jobs(gui)
        return len(snaps) == 2 and all(s.phase is Phase.NEEDS_DECISION for s in snaps)

    def answer(_parent: Any, _title: str, decision: WarningDecision) -> frozenset[str] | None:
        depth[0] += 1
        deepest[0] = max(deepest[0], depth[0])
        # a modal dialog runs the event loop: the other job's question must wait meanwhile
        qtbot.waitUntil(lambda: both_waiting() or bool(fake_prompts.warning_questions),
                        timeout=20000)  # fmt: skip
        if both_waiting():
            qtbot.waitUntil(lambda: model.index(0, STATE).data().startswith("Needs"), timeout=5000)
            rows_seen.extend(model.index(r, STATE).data() for r in range(2))
        fake_prompts.warning_questions.append(("", decision))
        depth[0] -= 1
        # the first: allow all; the second: allow only that it expired, not its issuer
        return (
            frozenset(decision.types)
            if SELF_SIGNED in decision.types
            else frozenset({"EXPIRED_CERTIFICATE"})
        )

    gui.window.prompts.ask_warnings = answer
    upload(gui, fake_prompts, first, second)
    qtbot.waitUntil(lambda: len(fake_prompts.warning_questions) == 2, timeout=30000)
    qtbot.waitUntil(lambda: all(s.state.finished for s in jobs(gui)), timeout=20000)
    assert deepest[0] == 1
    assert "Needs a decision: the signing certificate is self-signed" in rows_seen
    states = {s.spec.item_name: s for s in jobs(gui)}
    assert states["one"].state is JobState.DONE
    assert states["two"].state is JobState.FAILED
    assert "UNTRUSTED_CERTIFICATE" in states["two"].error_message
    assert "EXPIRED" not in states["two"].error_message


def test_the_dialog_by_keyboard(qtbot: QtBot) -> None:
    decision = WarningDecision(
        (
            SignatureWarning(SELF_SIGNED, "The OVF package is signed with a self-signed cert."),
            SignatureWarning("EXPIRED_CERTIFICATE", "It expired."),
        ),
        subject="CN=Signer",
        issuer="CN=Signer",
        self_signed=True,
        valid_from="2020-01-01 00:00 UTC",
        valid_until="2021-01-01 00:00 UTC",
    )
    dialog = WarningsDialog(None, "signed.ovf -> signed", decision)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.cancel_button.isDefault()  # Enter alone accepts nothing
    assert not dialog.continue_button.isDefault()
    first, second = dialog.boxes.values()
    assert dialog.focusWidget() is first
    qtbot.keyClick(first, Qt.Key.Key_Space)
    assert dialog.answer() == frozenset({SELF_SIGNED})
    assert "has expired" in dialog.outcome.text() and "fail" in dialog.outcome.text()
    second.setFocus()
    qtbot.keyClick(second, Qt.Key.Key_Space)
    assert "completes the upload" in dialog.outcome.text()
    with qtbot.waitSignal(dialog.accepted):
        dialog.continue_button.click()
    assert dialog.answer() == frozenset({SELF_SIGNED, "EXPIRED_CERTIFICATE"})


def test_the_demo_sample_is_written_once_and_asks_about_its_signer(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts, tmp_path: Path
) -> None:
    demo = start_demo_server(tmp_path / "demo-server")
    demo.stop()
    assert demo.samples is not None
    ovf = demo.samples / SIGNED_SAMPLE / f"{SIGNED_SAMPLE}.ovf"
    cert_file = ovf.with_suffix(".cert")
    written = cert_file.read_bytes()
    assert write_signed_sample(ovf.parent) == ovf and cert_file.read_bytes() == written
    # the .cert signs the manifest with the certificate's key
    signature_line, pem = written.split(b"\n", 1)
    cert = x509.load_pem_x509_certificate(pem)
    public_key = cert.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(
        bytes.fromhex(signature_line.split(b"= ")[1].decode()),
        ovf.with_suffix(".mf").read_bytes(),
        ec.ECDSA(hashes.SHA256()),
    )
    fake_prompts.warning_answers = [frozenset({SELF_SIGNED})]
    upload(gui, fake_prompts, ovf)
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    ((_, decision),) = fake_prompts.warning_questions
    assert decision.types == (SELF_SIGNED,) and "cl_desktop demo signer" in decision.subject
