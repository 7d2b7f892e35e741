"""Dropping an .ova or a folder on the window: an OVF template item, the template a folder holds,
or one item of a folder's files after the user saw them listed; what an item cannot hold is
refused with the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint
from pytestqt.qtbot import QtBot

from cl_desktop.api import ContentLibraryClient
from cl_desktop.app import Application
from cl_desktop.transfers.jobs import JobState, Verification
from tests.support.files import make_file
from tests.support.gui import (
    FakePrompts,
    create_listed_item,
    drop_files,
    item_row_point,
    jobs,
    wait_jobs,
)
from tests.support.ova import template_members, write_ova


def library_point(gui: Application) -> QPoint:
    tree = gui.window.library_tree
    return tree.visualRect(gui.window.library_model.item(0).child(0).index()).center()


def items_of(client: ContentLibraryClient, sim: Any) -> dict[str, Any]:
    return {m.name: m for m in client.items.list_models(sim.default_library_id)}


def file_names(client: ContentLibraryClient, item_id: str | None) -> set[str]:
    return {f.name or "" for f in client.item_files.list(item_id or "")}


def test_an_ova_dropped_on_a_library_becomes_an_ovf_item(
    qtbot: QtBot, gui: Application, sim_api_client: ContentLibraryClient, sim_service: Any,
    fake_prompts: FakePrompts, tmp_path: Path,
) -> None:  # fmt: skip
    from cl_desktop.demo import SAMPLE_OVA, write_samples_folder

    ova = write_samples_folder(tmp_path / "demo") / SAMPLE_OVA  # the demo's sample
    assert drop_files(gui.window.library_tree, [ova], library_point(gui))
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    assert fake_prompts.confirmations[0][1] == [
        "demo-appliance.ova -> new ovf item 'demo-appliance'"
    ]
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.verification is Verification.VERIFIED
    item = items_of(sim_api_client, sim_service)["demo-appliance"]
    assert item.type == "ovf"
    assert file_names(sim_api_client, item.id) == {
        "demo-appliance.ovf",
        "demo-appliance-disk1.vmdk",
        "demo-appliance-disk2.vmdk",
    }


def test_a_folder_holding_a_template_uploads_that_template(
    qtbot: QtBot, gui: Application, sim_api_client: ContentLibraryClient, sim_service: Any,
    fake_prompts: FakePrompts, tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "Appliance v2"
    folder.mkdir()
    disk = make_file(tmp_path / "web-disk1.vmdk", 100_000)
    write_ova(folder / "web.ova", template_members("web", [disk]))
    assert drop_files(gui.window.library_tree, [folder], library_point(gui))
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    assert fake_prompts.confirmations[0][1] == ["web.ova -> new ovf item 'web'"]
    wait_jobs(qtbot, gui, 1, JobState.DONE)
    item = items_of(sim_api_client, sim_service)["web"]
    assert item.type == "ovf"
    assert file_names(sim_api_client, item.id) == {"web.ovf", "web-disk1.vmdk"}


def test_a_folder_of_files_becomes_one_item_after_the_user_saw_them_listed(
    qtbot: QtBot, gui: Application, sim_api_client: ContentLibraryClient, sim_service: Any,
    fake_prompts: FakePrompts, tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "scripts"
    folder.mkdir()
    for n, name in enumerate(("setup.ps1", "first-boot.sh", "README.txt")):
        make_file(folder / name, 1000 + n, n)
    tree = gui.window.library_tree

    fake_prompts.confirm_answer = False  # cancelled: nothing is uploaded
    assert drop_files(tree, [folder], library_point(gui))
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    text, lines = fake_prompts.confirmations[0]
    assert "Create 1 new item" in text
    assert lines == [
        "folder scripts -> new file item 'scripts' with 3 files:",
        "    README.txt",
        "    first-boot.sh",
        "    setup.ps1",
    ]
    assert jobs(gui) == [] and items_of(sim_api_client, sim_service) == {}

    fake_prompts.confirm_answer = True
    assert drop_files(tree, [folder], library_point(gui))
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 2, timeout=5000)
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.verification is Verification.VERIFIED
    [item] = items_of(sim_api_client, sim_service).values()
    assert (item.name, item.type) == ("scripts", "file")
    assert file_names(sim_api_client, item.id) == {"setup.ps1", "first-boot.sh", "README.txt"}


def test_a_folder_dropped_on_an_item_uploads_its_files_into_it_after_confirmation(
    qtbot: QtBot, gui: Application, sim_api_client: ContentLibraryClient, sim_service: Any,
    fake_prompts: FakePrompts, tmp_path: Path,
) -> None:  # fmt: skip
    item_id = create_listed_item(
        qtbot, gui, sim_api_client, sim_service.default_library_id, "target"
    )
    folder = tmp_path / "batch"
    folder.mkdir()
    make_file(folder / "one.bin", 2000, 1)
    make_file(folder / "two.bin", 3000, 2)
    assert drop_files(gui.window.item_view, [folder], item_row_point(gui, "target"))
    qtbot.waitUntil(lambda: len(fake_prompts.confirmations) == 1, timeout=5000)
    text, lines = fake_prompts.confirmations[0]
    assert text == "Upload 2 files into \u201ctarget\u201d?"
    assert lines == ["batch/one.bin", "batch/two.bin"]
    [job] = wait_jobs(qtbot, gui, 1, JobState.DONE)
    assert job.spec.item_id == item_id
    assert file_names(sim_api_client, item_id) == {"one.bin", "two.bin"}


def test_a_folder_with_subfolders_is_refused_with_the_reason(
    qtbot: QtBot, gui: Application, sim_api_client: ContentLibraryClient, sim_service: Any,
    fake_prompts: FakePrompts, tmp_path: Path,
) -> None:  # fmt: skip
    folder = tmp_path / "photos"
    (folder / "raw").mkdir(parents=True)
    make_file(folder / "a.jpg", 100)
    assert drop_files(gui.window.library_tree, [folder], library_point(gui))
    reason = "photos holds the folder raw; a library item has no subfolders"
    qtbot.waitUntil(lambda: reason in gui.window.status_label.text(), timeout=5000)
    assert gui.window.status_label.text().startswith("Skipped photos: ")
    assert fake_prompts.confirmations == [] and jobs(gui) == []
    assert items_of(sim_api_client, sim_service) == {}
