"""Import from URL in the window: the dialog, an https source's certificate shown and accepted
(or not) before the job is queued, and the demo's samples served for it."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import trustme
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.credentials.certificates import CertificateDetails
from cl_desktop.demo import start_demo_server
from cl_desktop.transfers.jobs import JobState
from cl_desktop.ui.import_dialog import (
    ACCEPT_BUTTON,
    ImportRequest,
    ImportTarget,
    ImportUrlDialog,
    SourceCertificateDialog,
)
from tests.support.files import make_file
from tests.support.gui import FakePrompts, build_app, close_app, select_item, wait_jobs
from tests.support.sources import serve_folder
from tests.support.tls import issue_cert


def test_https_import_shows_the_certificate_then_imports_with_its_thumbprint(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts, sim_api_client: ContentLibraryClient,
    tmp_path: Path,
) -> None:  # fmt: skip
    www = tmp_path / "www"
    www.mkdir()
    source = make_file(www / "tools.iso", 300_000)
    served = issue_cert(trustme.CA(), tmp_path / "cert")
    window = gui.window
    assert window.import_url_action.isEnabled()
    assert window.import_url_action.shortcut().toString() == "Ctrl+Shift+I"
    with serve_folder(www, tls=served) as base:
        url = base + "tools.iso"
        fake_prompts.import_answer = ImportRequest(url, into_item=False, new_name="tools")
        fake_prompts.source_certificate_answer = False  # first: not accepted
        window.import_url_action.trigger()
        qtbot.waitUntil(lambda: len(fake_prompts.source_certificates) == 1, timeout=10000)
        assert gui.transfers.queue.jobs() == []  # nothing queued without the user's yes

        fake_prompts.source_certificate_answer = True
        window.import_url_action.trigger()
        qtbot.waitUntil(lambda: len(fake_prompts.source_certificates) == 2, timeout=10000)
        [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    shown_url, details = fake_prompts.source_certificates[1]
    assert shown_url == url and details.sha1 == served.sha1
    assert job.spec.source_url == url
    assert job.spec.source_thumbprint == details.sha1_colons  # "AA:BB:...", vCenter's form
    assert job.item_id is not None
    [stored] = sim_api_client.item_files.list(job.item_id)
    assert stored.name == "tools.iso" and stored.size == source.stat().st_size
    target = fake_prompts.import_questions[0]
    assert target.library_name and target.item_name is None


def test_import_into_the_selected_item_over_http(
    qtbot: QtBot, gui: Application, fake_prompts: FakePrompts, sim_api_client: ContentLibraryClient,
    sim_service: Any, tmp_path: Path,
) -> None:  # fmt: skip
    www = tmp_path / "www"
    www.mkdir()
    make_file(www / "notes.txt", 20_000)
    library = sim_service.default_library_id
    item_id = sim_api_client.items.create(library, "notes", type="file")
    gui.window.refresh()
    select_item(qtbot, gui, "notes")
    with serve_folder(www) as base:
        fake_prompts.import_answer = ImportRequest(base + "notes.txt", into_item=True)
        gui.window.import_url_action.trigger()
        [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert fake_prompts.import_questions[0].item_name == "notes"
    assert fake_prompts.source_certificates == []  # http: no certificate to show
    assert job.item_id == item_id
    assert [f.name for f in sim_api_client.item_files.list(item_id)] == ["notes.txt"]


def test_the_dialog_names_the_new_item_after_the_url(qtbot: QtBot) -> None:
    hint = "http://127.0.0.1:8000/demo-tools.iso"
    dialog = ImportUrlDialog(None, ImportTarget("Demo library", None, hint))
    qtbot.addWidget(dialog)
    ok = dialog.buttons.buttons()[0]
    assert dialog.url.text() == hint and dialog.name.text() == "demo-tools"
    assert ok.isEnabled() and not dialog.into_item.isEnabled()
    dialog.url.setText("https://example.test/t/tpl.ovf")
    assert dialog.name.text() == "tpl"  # follows the URL until the user types a name
    dialog.name.setText("mine")
    dialog.name.textEdited.emit("mine")
    dialog.url.setText("https://example.test/other.iso")
    assert dialog.name.text() == "mine"
    dialog.url.setText("ftp://example.test/x.iso")
    assert not ok.isEnabled()
    assert dialog.answer() == ImportRequest("ftp://example.test/x.iso", False, "mine")


def test_the_demo_serves_its_samples_for_import(tmp_path: Path) -> None:
    demo = start_demo_server(tmp_path / "demo-server")
    try:
        assert demo.import_hint.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(demo.import_hint, timeout=10) as answer:
            body = answer.read()
        samples = tmp_path / "demo-server" / "samples"
        assert body == (samples / "demo-tools.iso").read_bytes()
        assert (samples / "demo-vm.ovf").exists()
    finally:
        demo.stop()


def test_demo_mode_offers_its_samples_url(
    qtbot: QtBot, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    app = build_app(tmp_path, fake_prompts, demo=True)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.window.item_model.rowCount() == 3, timeout=15000)
        fake_prompts.import_answer = None  # the user looks, then cancels
        app.window.import_url_action.trigger()
        [target] = fake_prompts.import_questions
        assert target.hint_url.startswith("http://127.0.0.1:")
        assert target.hint_url.endswith("/demo-tools.iso")
        assert target.library_name == "Demo library"
        with urllib.request.urlopen(target.hint_url, timeout=10) as answer:
            assert answer.status == 200
    finally:
        close_app(app)


def test_the_certificate_dialog_shows_both_fingerprints(qtbot: QtBot, tmp_path: Path) -> None:
    served = issue_cert(trustme.CA(), tmp_path / "cert")
    details = CertificateDetails.from_pem(served.cert.read_text())
    dialog = SourceCertificateDialog(None, "https://127.0.0.1/x.iso", details)
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert details.sha1_colons in texts
    assert any(details.sha256_colons[:47] in t for t in texts)
    assert dialog.accept_button.text() == ACCEPT_BUTTON
