"""Library > Compare libraries... and Upload to several libraries..., on two servers at once."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.paths import KEYRING_SERVICE, keyring_key
from cl_desktop.services.connection import LoginRequest
from cl_desktop.transfers.jobs import (
    Direction,
    FanoutTarget,
    JobSpec,
    JobState,
    ServerRef,
    Verification,
)
from cl_desktop.transfers.store import JobStore
from cl_desktop.ui import format as fmt
from cl_desktop.ui.compare_dialog import CompareDialog, LibraryEntry, connected_libraries
from tests.support.accounts import SIM_PASSWORD, SIM_USER, MemoryKeyring
from tests.support.files import make_file
from tests.support.gui import FakePrompts, build_app, close_app, wait_jobs
from tests.support.items import put_item, stored_checksum
from tests.support.multi import wait_servers


def connect_b(qtbot: QtBot, gui: Application, sim_service_b: Any) -> None:
    gui.connect_to(LoginRequest(sim_service_b.base_url, SIM_USER, SIM_PASSWORD))
    wait_servers(qtbot, gui, 2)


def entry(gui: Application, url: str, name: str) -> LibraryEntry:
    return next(e for e in connected_libraries(gui.window.library_model)
                if e.server.url.rstrip("/") == url.rstrip("/") and e.name == name)  # fmt: skip


def rows(dialog: CompareDialog) -> dict[str, list[str]]:
    model = dialog.model
    return {
        model.index(r, 0).data(): [model.index(r, c).data() for c in range(model.columnCount())]
        for r in range(model.rowCount())
    }


def test_compare_two_servers_libraries_and_sync(
    qtbot: QtBot, gui: Application, sim_service: Any, sim_service_b: Any
) -> None:
    a = ContentLibraryClient(sim_service.base_url, SIM_USER, SIM_PASSWORD)
    b = ContentLibraryClient(sim_service_b.base_url, SIM_USER, SIM_PASSWORD)
    lib_a, lib_b = sim_service.default_library_id, sim_service_b.default_library_id
    put_item(a, lib_a, "same", {"s.iso": b"s" * 3000})
    put_item(b, lib_b, "same", {"s.iso": b"s" * 3000})
    put_item(a, lib_a, "changed", {"disk.img": b"1" * 2000})
    put_item(b, lib_b, "changed", {"disk.img": b"2" * 2000})
    put_item(a, lib_a, "missing in B", {"x.bin": b"x" * 100})
    connect_b(qtbot, gui, sim_service_b)

    gui.library_tools.compare_action.trigger()
    dialog = gui.library_tools.compare_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.choose(entry(gui, sim_service.base_url, "Local library"),
                  entry(gui, sim_service_b.base_url, "Local library"))  # fmt: skip
    assert not dialog.copy_missing_button.isEnabled()  # nothing compared yet
    dialog.compare_button.click()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 3, timeout=10000)
    shown = rows(dialog)
    _, status, side_a, side_b, _ = shown["missing in B"]
    assert (status, side_b) == ("only in A", "-") and "version" in side_a
    assert shown["changed"][1] == "changed" and shown["changed"][4].startswith("disk.img: SHA1")
    assert shown["same"][1] == "same"
    assert shown["same"][2].startswith(fmt.size(3000) + ",")  # sizes as the item table shows
    assert "1 only in A, 0 only in B, 1 changed, 1 the same" in dialog.status.text()
    assert dialog.copy_missing_button.isEnabled() and dialog.update_changed_button.isEnabled()

    dialog.copy_missing_button.click()
    dialog.update_changed_button.click()
    assert "copy jobs queued" in dialog.status.text()
    # queued once: a second click would copy them again under "NAME (2)"
    assert not dialog.copy_missing_button.isEnabled()
    assert not dialog.update_changed_button.isEnabled()
    jobs = wait_jobs(qtbot, gui, 2, JobState.DONE, timeout=60000)  # copies through the engine
    assert {j.spec.direction for j in jobs} == {Direction.COPY}
    assert all(j.verification is Verification.VERIFIED for j in jobs)
    dialog.compare_button.click()
    qtbot.waitUntil(lambda: "the same 3 items" in dialog.status.text(), timeout=10000)


def test_compare_needs_two_different_libraries(qtbot: QtBot, gui: Application) -> None:
    gui.library_tools.compare_action.trigger()
    dialog = gui.library_tools.compare_dialog
    assert dialog is not None
    only = connected_libraries(gui.window.library_model)
    assert len(only) == 1 and not dialog.compare_button.isEnabled()
    assert "two libraries" in dialog.status.text()


def test_upload_one_file_to_libraries_of_two_servers(
    qtbot: QtBot, gui: Application, sim_service: Any, sim_service_b: Any, tmp_path: Path
) -> None:
    connect_b(qtbot, gui, sim_service_b)
    source = make_file(tmp_path / "agent.msi", 1_500_000, seed=9)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    gui.library_tools.fanout_action.trigger()
    dialog = gui.library_tools.fanout_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.accept()  # nothing filled in: it says what is missing and stays open
    assert dialog.isVisible() and dialog.error.text() == "Choose a file to upload."
    dialog.file_edit.setText(str(source))
    assert dialog.name_edit.text() == "agent.msi"  # named after the file
    dialog.accept()
    assert dialog.isVisible() and dialog.error.text() == "Choose at least one library."
    dialog.check(entry(gui, sim_service.base_url, "Local library"))
    dialog.check(entry(gui, sim_service_b.base_url, "Local library"))
    dialog.accept()
    assert not dialog.isVisible()
    (job,) = wait_jobs(qtbot, gui, 1, JobState.DONE, timeout=30000)
    assert job.spec.title == "agent.msi -> 2 libraries"
    assert [f.name for f in job.files] == [t.label for t in job.spec.fanout_targets]
    for url, library in ((sim_service.base_url, sim_service.default_library_id),
                         (sim_service_b.base_url, sim_service_b.default_library_id)):  # fmt: skip
        client = ContentLibraryClient(url, SIM_USER, SIM_PASSWORD)
        assert stored_checksum(client, library, "agent.msi") == sha1


def test_a_stored_fanout_job_connects_its_targets_servers_at_start(
    qtbot: QtBot,
    sim_service: Any,
    sim_service_b: Any,
    tmp_path: Path,
    fake_prompts: FakePrompts,
    memory_keyring: MemoryKeyring,
) -> None:
    """Left queued by an earlier run: the job's own server and its other target's are both
    connected (with the stored passwords), and the job then fills both."""
    source = make_file(tmp_path / "left.bin", 300_000, seed=4)
    sha1 = hashlib.sha1(source.read_bytes()).hexdigest()
    refs = [ServerRef(url, SIM_USER) for url in (sim_service.base_url, sim_service_b.base_url)]
    for ref in refs:
        memory_keyring.set_password(KEYRING_SERVICE, keyring_key(ref.url, ref.username),
                                    SIM_PASSWORD)  # fmt: skip
    libraries = (sim_service.default_library_id, sim_service_b.default_library_id)
    targets = tuple(
        FanoutTarget(ref, lib, None, "left") for ref, lib in zip(refs, libraries, strict=True)
    )
    (tmp_path / "app-data").mkdir()
    store = JobStore(tmp_path / "app-data" / "transfers.sqlite")
    store.insert(JobSpec(Direction.UPLOAD, refs[0], libraries[0], item_name="left",
                         paths=(str(source),), fanout_targets=targets), 1, time.time())  # fmt: skip
    store.close()
    app = build_app(tmp_path, fake_prompts)
    try:
        app.start()
        (job,) = wait_jobs(qtbot, app, 1, JobState.DONE, timeout=30000)
        assert job.verification is Verification.VERIFIED
        wait_servers(qtbot, app, 2)
        for url, library in zip((r.url for r in refs), libraries, strict=True):
            client = ContentLibraryClient(url, SIM_USER, SIM_PASSWORD)
            assert stored_checksum(client, library, "left") == sha1
    finally:
        close_app(app)
