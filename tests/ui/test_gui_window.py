"""The main window end to end on the embedded service: drops, downloads, queue actions, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.demo import seed
from cl_desktop.transfers.jobs import Existing, JobState, Phase, Verification
from cl_desktop.ui.details import NOT_AVAILABLE
from cl_desktop.ui.download_dialog import DownloadChoice
from cl_desktop.ui.queue_model import ERROR, ITEM, PROGRESS, SPEED, STATE, VERIFICATION
from tests.support.api import active_sessions
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    build_app,
    close_app,
    create_listed_item,
    drop_files,
    item_row_point,
    jobs,
    select_item,
    select_library,
    wait_items_loaded,
    wait_jobs,
)


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_drop_on_an_item_row_uploads_into_it_verified(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    item_id = create_listed_item(
        qtbot, gui, sim_api_client, sim_service.default_library_id, "target"
    )
    payload = make_file(tmp_path / "payload.bin", 3 * 1024 * 1024 + 17)

    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "target"))

    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.spec.item_id == item_id
    assert job.verification is Verification.VERIFIED
    model = gui.window.dock.queue_model
    assert model.index(0, STATE).data() == "Done"
    assert model.index(0, VERIFICATION).data() == "verified"
    [info] = sim_api_client.item_files.list(item_id)
    assert (info.name, info.size) == ("payload.bin", payload.stat().st_size)
    assert info.checksum_info is not None and info.checksum_info.checksum == sha1(payload)
    # the finished upload shows in the history and refreshes the item row (size, version)
    qtbot.waitUntil(lambda: gui.window.dock.history_model.rowCount() == 1, timeout=5000)
    qtbot.waitUntil(
        lambda: (
            gui.window.item_model.item_at(gui.window.item_model.row_of_name("target")).size
            == payload.stat().st_size
        ),
        timeout=5000,
    )


def test_drop_on_a_library_creates_one_item_per_file_after_confirmation(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    iso = make_file(tmp_path / "installer.iso", 1024 * 1024, seed=2)
    notes = make_file(tmp_path / "notes.txt", 5000, seed=3)
    tree = gui.window.library_tree
    library_index = gui.window.library_model.item(0).child(0).index()
    pos = tree.visualRect(library_index).center()

    assert drop_files(tree, [iso, notes], pos)

    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    text, lines = fake_prompts.confirmations[0]
    assert "Create 2 new items" in text and "Local library" in text
    assert lines == [
        "installer.iso -> new iso item 'installer'",
        "notes.txt -> new file item 'notes.txt'",
    ]
    wait_jobs(qtbot, gui, 2, JobState.DONE)
    library = sim_service.default_library_id
    created = {m.name: m for m in sim_api_client.items.list_models(library)}
    assert created["installer"].type == "iso"
    assert created["notes.txt"].type == "file"
    # the table reloads on its own once the uploads are done
    qtbot.waitUntil(lambda: gui.window.item_model.rowCount() == 2, timeout=5000)


def test_a_new_item_whose_name_is_taken_shows_and_records_the_name_it_gets(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    library = sim_service.default_library_id
    first = sim_api_client.items.create(library, "big-2g", type="iso")
    iso = make_file(tmp_path / "big-2g.iso", 300_000, seed=4)
    tree = gui.window.library_tree
    pos = tree.visualRect(gui.window.library_model.item(0).child(0).index()).center()

    assert drop_files(tree, [iso], pos)

    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    assert fake_prompts.confirmations[0][1] == [
        "big-2g.iso -> new iso item 'big-2g (2)' (big-2g exists)"
    ]
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.spec.item_name == "big-2g (2)"
    assert job.item_id is not None and job.item_id != first
    assert sim_api_client.items.get(job.item_id).name == "big-2g (2)"
    assert gui.window.dock.queue_model.index(0, ITEM).data() == "big-2g (2)"
    assert "big-2g (2)" in gui.window.status_label.text()
    history = gui.window.dock.history_model
    qtbot.waitUntil(lambda: history.rowCount() == 1, timeout=5000)
    record = history.record(0)
    assert (record.item_name, record.item_id) == ("big-2g (2)", job.item_id)
    assert history.index(0, 2).data() == "big-2g (2)"


def test_drop_on_the_empty_area_creates_items_and_declining_creates_none(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    view = gui.window.item_view
    empty_spot = QPoint(view.viewport().width() // 2, view.viewport().height() - 5)
    script = make_file(tmp_path / "setup.ps1", 300)
    fake_prompts.confirm_answer = False
    assert drop_files(view, [script], empty_spot)
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    assert jobs(gui) == []

    fake_prompts.confirm_answer = True
    assert drop_files(view, [script], empty_spot)
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 2, timeout=5000)
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    [item] = sim_api_client.items.list_models(sim_service.default_library_id)
    assert (item.name, item.type) == ("setup.ps1", "file")


def test_dropped_ovf_brings_its_disk_and_manifest(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    from cl_desktop.demo import write_samples

    files = write_samples(tmp_path)["demo-vm"]  # .mf, .ovf, .vmdk, all dropped together
    view = gui.window.item_view
    assert drop_files(view, files, QPoint(20, view.viewport().height() - 5))
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    text, lines = fake_prompts.confirmations[0]
    assert "Create 1 new item " in text
    assert lines[0] == "demo-vm.ovf -> new ovf item 'demo-vm'"
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    # The server consumes the .mf (it checks the manifest itself) and keeps no copy of it.
    assert job.verification is Verification.VERIFIED
    assert {f.name: f.verification for f in job.files} == {
        "demo-vm.mf": Verification.CONSUMED,
        "demo-vm.ovf": Verification.VERIFIED,
        "demo-vm-disk1.vmdk": Verification.VERIFIED,
    }
    [item] = sim_api_client.items.list_models(sim_service.default_library_id)
    names = sorted(f.name for f in sim_api_client.item_files.list(item.id or ""))
    assert names == ["demo-vm-disk1.vmdk", "demo-vm.ovf"]  # vCenter keeps no .mf


def test_download_an_item_and_selected_files_verified(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    seed(sim_service.base_url, "admin", "secret", sim_service.datastore_id)
    gui.window.refresh()
    qtbot.waitUntil(lambda: gui.window.library_model.item(0).rowCount() == 2, timeout=5000)
    select_library(qtbot, gui, "Demo library")
    select_item(qtbot, gui, "scripts")
    gui.window.download_action.trigger()
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    downloads = Path(fake_prompts.directory)
    # an item's several files go into a folder of its own, under the server's names
    assert [p.name for p in downloads.iterdir()] == ["scripts"]
    assert sorted(p.name for p in (downloads / "scripts").iterdir()) == [
        "configure-ntp.ps1",
        "first-boot.sh",
    ]
    assert job.verification is Verification.VERIFIED
    assert gui.settings.value("paths/download_dir") == str(downloads)  # remembered

    select_item(qtbot, gui, "demo-vm")
    details = gui.window.details
    qtbot.waitUntil(lambda: details.files_model.rowCount() == 2, timeout=5000)
    assert details.files_model.file(0).name == "demo-vm-disk1.vmdk"  # sorted by name
    details.files_view.selectRow(0)
    other = tmp_path / "other"
    other.mkdir()
    fake_prompts.directory = str(other)
    assert gui.window.download_files_action.isEnabled()
    gui.window.download_files_action.trigger()
    qtbot.waitUntil(lambda: len(jobs(gui)) == 2 and jobs(gui)[1].state.finished, timeout=20000)
    assert jobs(gui)[1].state is JobState.DONE
    assert [p.name for p in other.iterdir()] == ["demo-vm-disk1.vmdk"]
    [remote] = [f for f in sim_api_client.item_files.list(jobs(gui)[1].spec.item_id or "") if
                f.name == "demo-vm-disk1.vmdk"]  # fmt: skip
    assert remote.checksum_info and remote.checksum_info.checksum == sha1(
        other / "demo-vm-disk1.vmdk"
    )

    # the whole template as one .ova, chosen in the download options
    fake_prompts.download_choice = DownloadChoice(True, Existing.KEEP_BOTH)
    gui.window.download_action.trigger()
    qtbot.waitUntil(lambda: len(jobs(gui)) == 3 and jobs(gui)[2].state.finished, timeout=20000)
    ova = jobs(gui)[2]
    assert fake_prompts.download_questions[-1].offer_ova
    assert ova.state is JobState.DONE and ova.verification is Verification.VERIFIED
    assert ova.spec.as_ova and ova.spec.target == str(other / "demo-vm.ova")
    assert sorted(p.name for p in other.iterdir()) == ["demo-vm-disk1.vmdk", "demo-vm.ova"]


def test_cancel_and_retry_from_the_queue(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    item_id = create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "slow")
    # Socket buffers swallow the first ~5 MiB at once; 1 MiB/s keeps the rest running.
    payload = make_file(tmp_path / "big.bin", 24 * 1024 * 1024)
    sim_service.faults.throttle(1024 * 1024)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "slow"))
    qtbot.waitUntil(
        lambda: bool(jobs(gui)) and jobs(gui)[0].bytes_done > 0 and jobs(gui)[0].speed > 0,
        timeout=10000,
    )
    dock = gui.window.dock
    qtbot.waitUntil(lambda: bool(dock.queue_model.index(0, SPEED).data()), timeout=5000)
    dock.queue_view.selectRow(0)
    assert dock.cancel_action.isEnabled() and not dock.retry_action.isEnabled()
    dock.cancel_action.trigger()
    wait_jobs(qtbot, gui, 1, JobState.CANCELED)
    qtbot.waitUntil(dock.retry_action.isEnabled, timeout=5000)
    # Canceled on the server too: no session left, no partial file in the item.
    assert active_sessions(sim_api_client) == [] and sim_api_client.item_files.list(item_id) == ()

    sim_service.faults.throttle(None)
    dock.retry_action.trigger()
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.verification is Verification.VERIFIED
    [info] = sim_api_client.item_files.list(item_id)
    assert info.size == payload.stat().st_size


def test_pause_and_resume(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    item_id = create_listed_item(
        qtbot, gui, sim_api_client, sim_service.default_library_id, "paused"
    )
    payload = make_file(tmp_path / "p.bin", 24 * 1024 * 1024)
    sim_service.faults.throttle(1024 * 1024)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "paused"))
    qtbot.waitUntil(lambda: bool(jobs(gui)) and jobs(gui)[0].bytes_done > 0, timeout=10000)
    dock = gui.window.dock
    dock.queue_view.selectRow(0)
    dock.pause_action.trigger()
    [paused] = wait_jobs(qtbot, gui, 1, JobState.PAUSED)
    qtbot.waitUntil(dock.resume_action.isEnabled, timeout=5000)
    # The row shows what the job really holds: a partly sent file counts for nothing (uploads
    # cannot resume mid-file), and the row says it will be sent again; the session is kept.
    assert paused.bytes_done == 0
    assert "p.bin will be sent again from its start" in paused.note
    assert paused.session_id in {s for s in sim_api_client.update_sessions.list()}
    qtbot.waitUntil(lambda: dock.queue_model.index(0, PROGRESS).data() == "0%", timeout=5000)
    sim_service.faults.throttle(None)
    dock.resume_action.trigger()
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.verification is Verification.VERIFIED
    # What the server holds: the whole file, its checksum, in the same item; no session left.
    [info] = sim_api_client.item_files.list(item_id)
    assert info.size == payload.stat().st_size
    assert info.checksum_info and info.checksum_info.checksum == sha1(payload)
    assert job.item_id == item_id and active_sessions(sim_api_client) == []


def test_failed_transfer_shows_its_error_which_can_be_copied(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "target")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert drop_files(gui.window.item_view, [empty], item_row_point(gui, "target"))
    wait_jobs(qtbot, gui, 1, JobState.FAILED)
    dock = gui.window.dock
    error = dock.queue_model.index(0, ERROR).data()
    assert "empty" in error and "0 bytes" in error
    assert dock.queue_model.index(0, STATE).data() == "Failed"
    assert "Transfer failed" in gui.window.status_label.text()
    dock.queue_view.selectRow(0)
    qtbot.waitUntil(dock.copy_error_action.isEnabled, timeout=5000)
    dock.copy_error_action.trigger()
    assert "0 bytes" in QApplication.clipboard().text()
    dock.remove_action.trigger()
    qtbot.waitUntil(lambda: jobs(gui) == [], timeout=5000)


def test_a_dropped_connection_shows_as_retrying_then_succeeds(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    tmp_path: Path,
) -> None:
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "flaky")
    payload = make_file(tmp_path / "f.bin", 100_000)
    notes: list[tuple[Phase, str]] = []
    gui.transfers.job_changed.connect(lambda s: notes.append((s.phase, s.error_message)))
    sim_service.faults.drop_after_bytes(50_000, which="upload")
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "flaky"))
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    retrying = [note for phase, note in notes if phase in (Phase.RETRYING, Phase.RECONNECTING)]
    assert retrying and "f.bin" in retrying[0]  # the queue row said why it was retrying
    assert job.verification is Verification.VERIFIED and job.error_message == ""


def test_browse_errors_show_where_the_user_looks(
    qtbot: QtBot, gui: Application, sim_service: Any
) -> None:
    window = gui.window
    sim_service.faults.fail_next(10)
    window.refresh()
    qtbot.waitUntil(lambda: "Service unavailable" in window.status_label.text(), timeout=5000)
    # the (empty) item table says why it is empty
    placeholder = window.item_view
    qtbot.waitUntil(lambda: "Could not list the items" in placeholder.placeholder, timeout=5000)
    sim_service.faults.reset()

    sim_service.stop()
    window.refresh()
    qtbot.waitUntil(lambda: "Connection refused" in window.status_label.text(), timeout=20000)
    # a listing is not a transfer: the advice says what to do without calling it one
    assert "transfer" not in window.status_label.text()


def test_storage_pane_lists_every_uri_and_copies_them(
    qtbot: QtBot, gui: Application, sim_service: Any
) -> None:
    seed(sim_service.base_url, "admin", "secret", sim_service.datastore_id)
    gui.window.refresh()
    qtbot.waitUntil(lambda: gui.window.library_model.item(0).rowCount() == 2, timeout=5000)
    select_library(qtbot, gui, "Demo library")
    select_item(qtbot, gui, "demo-vm")
    details = gui.window.details
    qtbot.waitUntil(lambda: len(details.storage_uris()) == 2, timeout=5000)
    assert all(uri.startswith("ds:///vmfs/volumes/") for uri in details.storage_uris())
    assert details.storage.showing_message == ""
    assert details.summary_form.value("Type") == "ovf"
    details.copy_storage_uris()
    assert QApplication.clipboard().text().splitlines() == details.storage_uris()
    files = details.files_model
    assert {files.index(r, 0).data() for r in range(files.rowCount())} == {
        "demo-vm.ovf",
        "demo-vm-disk1.vmdk",
    }
    assert files.index(0, 4).data() == "SHA1"


def test_storage_not_available_message(qapp: QApplication) -> None:
    from cl_desktop.api.models import FileInfo, ItemModel
    from cl_desktop.services.browser import ItemDetails
    from cl_desktop.ui.details import DetailPanes

    panes = DetailPanes()
    panes.show_item(ItemModel(id="i", name="n"), "lib")
    panes.set_details(ItemDetails("i", (FileInfo("a.iso", 1),), None))
    assert panes.storage.showing_message == NOT_AVAILABLE
    assert panes.files.showing_message == ""


def test_filter_as_you_type(qtbot: QtBot, gui: Application, sim_service: Any) -> None:
    seed(sim_service.base_url, "admin", "secret", sim_service.datastore_id)
    gui.window.refresh()
    qtbot.waitUntil(lambda: gui.window.library_model.item(0).rowCount() == 2, timeout=5000)
    select_library(qtbot, gui, "Demo library")
    qtbot.keyClicks(gui.window.filter_edit, "DEMO-")
    assert gui.window.item_proxy.rowCount() == 2
    assert gui.window.items_label.text() == "2 of 3 items"
    qtbot.keyClicks(gui.window.filter_edit, "v")
    assert gui.window.item_proxy.index(0, 0).data() == "demo-vm"


def test_window_geometry_splitters_and_columns_are_remembered(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    app = build_app(tmp_path, fake_prompts)
    window = app.window
    window.show()
    window.resize(640, 480)  # fits the offscreen screen (800x600), so it is not clamped
    window.main_splitter.setSizes([333, 667])
    window.item_view.horizontalHeader().resizeSection(1, 123)
    window.dock.queue_view.horizontalHeader().resizeSection(1, 111)
    window.close()  # saves
    sizes = window.main_splitter.sizes()
    close_app(app)
    assert QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat).contains(
        "window/geometry"
    )

    again = build_app(tmp_path, fake_prompts)
    again.window.show()
    assert (again.window.width(), again.window.height()) == (640, 480)
    assert again.window.main_splitter.sizes() == sizes
    assert again.window.item_view.horizontalHeader().sectionSize(1) == 123
    assert again.window.dock.queue_view.horizontalHeader().sectionSize(1) == 111
    close_app(again)


def test_failed_login_asks_again_with_the_error(
    qtbot: QtBot, sim_service: Any, tmp_path: Path, fake_prompts: FakePrompts
) -> None:
    from cl_desktop.services.connection import LoginRequest

    fake_prompts.login = LoginRequest(sim_service.base_url, "admin", "wrong")
    app = build_app(tmp_path, fake_prompts)
    app.start()
    qtbot.waitUntil(lambda: fake_prompts.logins_asked == 2, timeout=10000)
    assert "Wrong user name or password" in app.window.status_label.text()
    assert app.window.server is None
    fake_prompts.login = LoginRequest(sim_service.base_url, "admin", "secret")
    app.window.connect_action.trigger()
    qtbot.waitUntil(lambda: app.window.server is not None, timeout=10000)
    wait_items_loaded(qtbot, app)
    close_app(app)


def test_history_lists_finished_transfers_and_exports_csv_and_json(
    qtbot: QtBot,
    gui: Application,
    sim_api_client: ContentLibraryClient,
    sim_service: Any,
    fake_prompts: FakePrompts,
    tmp_path: Path,
) -> None:
    create_listed_item(qtbot, gui, sim_api_client, sim_service.default_library_id, "target")
    payload = make_file(tmp_path / "h.bin", 70_000)
    assert drop_files(gui.window.item_view, [payload], item_row_point(gui, "target"))
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    dock = gui.window.dock
    qtbot.waitUntil(lambda: dock.history_model.rowCount() == 1, timeout=5000)
    assert dock.history_model.index(0, 3).data() == "h.bin"
    assert dock.history_model.index(0, 6).data() == "Done"

    dock.queue_view.selectRow(0)
    dock.open_folder_action.trigger()
    assert fake_prompts.opened == [str(tmp_path)]

    for fmt in ("csv", "json"):
        fake_prompts.save_path = str(tmp_path / f"history.{fmt}")
        (dock.export_csv_action if fmt == "csv" else dock.export_json_action).trigger()
        target = tmp_path / f"history.{fmt}"
        qtbot.waitUntil(target.exists, timeout=5000)
        qtbot.waitUntil(lambda t=target: "h.bin" in t.read_text(), timeout=5000)
    assert json.loads((tmp_path / "history.json").read_text())[0]["verification"] == "verified"
    assert (tmp_path / "history.csv").read_text().startswith("job_id,server,user,direction")

    dock.clear_done_action.trigger()
    qtbot.waitUntil(lambda: jobs(gui) == [], timeout=5000)
    assert dock.history_model.rowCount() == 1  # the history keeps it


def test_an_items_long_summary_does_not_claim_the_item_lists_height(
    qtbot: QtBot, gui: Application, sim_service: Any
) -> None:
    """Selecting an item fills a dozen summary rows; seen in the demo at 1200 x 800, their
    minimum height pushed the splitter until the item list showed two rows. The summary
    scrolls instead: the details ask for less height than the summary's rows need."""
    seed(sim_service.base_url, "admin", "secret", sim_service.datastore_id)
    window = gui.window
    window.show()
    window.refresh()
    qtbot.waitUntil(lambda: window.library_model.item(0).rowCount() == 2, timeout=5000)
    select_library(qtbot, gui, "Demo library")
    qtbot.waitUntil(lambda: window.item_model.row_of_name("demo-vm") >= 0, timeout=10000)
    QApplication.processEvents()
    select_item(qtbot, gui, "demo-vm")
    qtbot.waitUntil(lambda: window.details.summary_form.value("Type") == "ovf", timeout=5000)
    QApplication.processEvents()
    form_needs = window.details.summary_form.minimumSizeHint().height()
    assert window.details.minimumSizeHint().height() < form_needs  # it scrolls instead


def test_the_details_get_their_share_of_the_height_on_a_first_start(
    qtbot: QtBot, gui: Application
) -> None:
    """No saved layout: items and details share the height 3:2 (the details scroll, so their
    size hint alone would leave them a few rows)."""
    window = gui.window
    window.show()
    QApplication.processEvents()
    items, details = window.right_splitter.sizes()
    assert details >= 0.3 * (items + details), (items, details)
