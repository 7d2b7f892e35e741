"""TransferController without a server: what it asks, says and queues for downloads and
refusals (the uploads it plans run against the embedded service in test_gui_window)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from cl_desktop.api.models import ItemModel
from cl_desktop.transfers.jobs import Direction, Existing, JobSpec, ServerRef
from cl_desktop.ui.download_dialog import DownloadChoice, DownloadOptionsDialog, DownloadQuestion
from cl_desktop.ui.transfer_controller import TransferController
from tests.support.gui import FakePrompts

SERVER = ServerRef("http://127.0.0.1:1", "admin")
ITEM = ItemModel(id="item-1", library_id="lib-1", name="disk", type="iso", size=1)


class FakeTransfers:
    def __init__(self) -> None:
        self.added: list[list[JobSpec]] = []

    def add(self, specs: list[JobSpec], on_added: Callable[..., None] | None = None) -> None:
        self.added.append(list(specs))


def controller(
    qtbot: QtBot, tmp_path: Path, prompts: FakePrompts, server: ServerRef | None
) -> tuple[TransferController, FakeTransfers, list[tuple[str, bool]], QSettings]:
    window = QWidget()
    qtbot.addWidget(window)
    transfers = FakeTransfers()
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    unused: Any = None  # browsing and background planning: not reached by these tests
    queue: Any = transfers
    ctl = TransferController(
        window, unused, queue, unused, settings, prompts.prompts(), lambda: server
    )
    said: list[tuple[str, bool]] = []
    ctl.status.connect(lambda text, error: said.append((text, error)))
    return ctl, transfers, said, settings


def test_downloads_ask_for_a_folder_remember_it_and_queue_one_job_per_item(
    qtbot: QtBot, tmp_path: Path
) -> None:
    prompts = FakePrompts(directory=str(tmp_path / "dl"))
    ctl, transfers, said, settings = controller(qtbot, tmp_path, prompts, SERVER)
    other = ItemModel(id="item-2", library_id="lib-1", name="other", type="iso", size=1)

    with qtbot.waitSignal(ctl.queued, timeout=1000):
        ctl.download_items([ITEM, other])
    [specs] = transfers.added
    assert [(s.direction, s.item_id, s.dest_dir) for s in specs] == [
        (Direction.DOWNLOAD, "item-1", str(tmp_path / "dl")),
        (Direction.DOWNLOAD, "item-2", str(tmp_path / "dl")),
    ]
    assert said == [("Queued 2 transfers", False)]
    assert settings.value("paths/download_dir") == str(tmp_path / "dl")

    ctl.download_files(ITEM, ["a.vmdk"])
    assert transfers.added[1][0].file_names == ("a.vmdk",)
    assert said[-1] == ("Queued 1 transfer", False)


def test_a_cancelled_folder_dialog_or_no_login_queues_nothing(qtbot: QtBot, tmp_path: Path) -> None:
    ctl, transfers, said, _ = controller(qtbot, tmp_path, FakePrompts(directory=""), SERVER)
    ctl.download_items([ITEM])
    ctl.download_files(ITEM, [])
    assert transfers.added == [] and said == []

    ctl, transfers, said, _ = controller(qtbot, tmp_path, FakePrompts(), None)
    ctl.upload_into(ITEM, ["/x.iso"])
    ctl.ask_upload_new_items("lib-1", "isos")  # new items go to the current server: none
    ctl.download_items([ITEM])
    assert transfers.added == []
    assert said == [("Connect to a server first.", True)] * 2


def test_new_items_need_a_library(qtbot: QtBot, tmp_path: Path) -> None:
    prompts = FakePrompts(open_files=["/x.iso"])
    ctl, transfers, said, _ = controller(qtbot, tmp_path, prompts, SERVER)
    ctl.ask_upload_new_items(None, "")
    assert said == [("Select a library first.", True)] and transfers.added == []


TEMPLATE = ItemModel(id="item-3", library_id="lib-1", name="demo-vm", type="ovf", size=1)


def test_the_download_options_reach_the_job_and_are_remembered(
    qtbot: QtBot, tmp_path: Path
) -> None:
    folder = tmp_path / "dl"
    (folder / "demo-vm").mkdir(parents=True)  # a first copy of the template is there
    prompts = FakePrompts(
        directory=str(folder), download_choice=DownloadChoice(True, Existing.OVERWRITE)
    )
    ctl, transfers, _, settings = controller(qtbot, tmp_path, prompts, SERVER)
    ctl.download_items([TEMPLATE, ITEM])
    [question] = prompts.download_questions
    assert (question.offer_ova, list(question.exists)) == (True, ["demo-vm"])
    assert question.initial == DownloadChoice(False, Existing.KEEP_BOTH)  # nothing remembered
    [specs] = transfers.added
    # the .ova applies to the template only; the if-exists choice to every job of the batch
    assert [(s.item_id, s.as_ova, s.existing) for s in specs] == [
        ("item-3", True, Existing.OVERWRITE),
        ("item-1", False, Existing.OVERWRITE),
    ]
    assert settings.value("downloads/existing") == "overwrite"

    # asked again with the remembered answer; Cancel queues nothing
    prompts.download_choice, prompts.download_cancel = None, True
    ctl.download_items([TEMPLATE])
    assert prompts.download_questions[-1].initial == DownloadChoice(True, Existing.OVERWRITE)
    assert len(transfers.added) == 1

    # no template and nothing in the way: no question, the remembered policy applies
    ctl.download_files(TEMPLATE, ["demo-vm-disk1.vmdk"])
    assert len(prompts.download_questions) == 2
    assert (transfers.added[-1][0].as_ova, transfers.added[-1][0].existing) == (
        False,
        Existing.OVERWRITE,
    )
    # a selected file already there: only the if-exists choice is offered
    (folder / "demo-vm-disk1.vmdk").write_bytes(b"x")
    prompts.download_cancel = False
    prompts.download_choice = DownloadChoice(False, Existing.SKIP)
    ctl.download_files(TEMPLATE, ["demo-vm-disk1.vmdk"])
    last = prompts.download_questions[-1]
    assert (last.offer_ova, list(last.exists)) == (False, ["demo-vm-disk1.vmdk"])
    assert transfers.added[-1][0].existing is Existing.SKIP


def test_the_download_options_dialog_answers_what_was_picked(qtbot: QtBot) -> None:
    question = DownloadQuestion("x", "/tmp", True, ["demo-vm"], DownloadChoice())
    dialog = DownloadOptionsDialog(None, question)
    qtbot.addWidget(dialog)
    assert dialog.answer() == DownloadChoice(False, Existing.KEEP_BOTH)
    dialog.ova.setChecked(True)
    [skip] = [b for b in dialog.existing.buttons() if b.text() == "&Skip"]
    skip.setChecked(True)
    assert dialog.answer() == DownloadChoice(True, Existing.SKIP)
    plain = DownloadOptionsDialog(None, DownloadQuestion("x", "/t", False, [], DownloadChoice()))
    qtbot.addWidget(plain)
    assert plain.existing.buttons() == [] and plain.answer() == DownloadChoice()
