"""Item, queue, history and file models: qtmodeltester, display, throttled repaints."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from cl_desktop.api.models import (
    ChecksumAlgorithm,
    ChecksumInfo,
    FileInfo,
    ItemModel,
    LibraryModel,
    LibraryType,
)
from cl_desktop.services.planning import plan_drop
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
from cl_desktop.ui import format as fmt
from cl_desktop.ui.details import FilesModel
from cl_desktop.ui.item_model import (
    LEFTOVER,
    NOTE,
    SIZE,
    UPLOADING,
    ItemFilterProxy,
    ItemTableModel,
    item_of,
)
from cl_desktop.ui.library_model import LibraryIdRole, LibraryTreeModel, ServerRole
from cl_desktop.ui.queue_model import (
    ERROR,
    ETA,
    PROGRESS,
    STATE,
    VERIFICATION,
    HistoryModel,
    ProgressRole,
    QueueModel,
)

pytestmark = pytest.mark.usefixtures("qapp")  # the models use the widget style's icons
SERVER = ServerRef("http://127.0.0.1:1", "admin")


def items(n: int) -> list[ItemModel]:
    return [
        ItemModel(
            id=f"id-{i}",
            library_id="lib",
            name=f"item-{i:03d}",
            type=("iso", "ovf", "file")[i % 3],
            size=i * 1000,
            cached=i % 2 == 0,
            content_version=str(i % 5 + 1),
            last_modified_time=datetime(2026, 1, 1, tzinfo=UTC),
        )
        for i in range(n)
    ]


def snapshot(job_id: int, state: JobState = JobState.QUEUED, **changes: object) -> JobSnapshot:
    spec = JobSpec(Direction.UPLOAD, SERVER, "lib", item_name=f"item {job_id}", paths=("/t/a.iso",))
    snap = JobSnapshot(job_id, spec, state)
    return dataclasses.replace(snap, **changes)  # type: ignore[arg-type]


def test_item_model_passes_modeltester(qtmodeltester: ModelTester) -> None:
    model = ItemTableModel()
    model.set_items(items(30))
    qtmodeltester.check(model, force_py=True)  # and it keeps watching the changes below
    assert model.index(3, 0).data() == "item-003"
    assert item_of(model.index(3, 2)) == items(30)[3]
    changed = dataclasses.replace(items(30)[5], content_version="9")
    model.set_items([*items(30)[:5], changed, *items(30)[7:], items(31)[30]])  # 6 went
    assert model.rowCount() == 30
    assert model.index(5, 4).data() == "9"
    assert model.item_at(29).name == "item-030"
    model.set_notes({model.item_at(2).id or "": UPLOADING, "gone": LEFTOVER})
    assert model.index(2, NOTE).data() == UPLOADING and model.index(3, NOTE).data() == ""
    model.set_notes({})
    assert model.index(2, NOTE).data() == "" and model.note(model.item_at(2).id or "") == ""
    model.clear()
    assert model.rowCount() == 0 and model.headerData(0, Qt.Orientation.Horizontal) == "Name"


def test_item_filter_proxy_filters_by_name_and_sorts_numbers_by_value(
    qtmodeltester: ModelTester,
) -> None:
    model = ItemTableModel()
    model.set_items(items(30))
    proxy = ItemFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=True)
    proxy.setFilterFixedString("ITEM-01")
    assert proxy.rowCount() == 10  # item-010 .. item-019, case-insensitive
    proxy.sort(SIZE, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, 0).data() == "item-019"  # 19 kB > 10 kB, though "9.." < "1.." as text
    proxy.setFilterFixedString("")
    proxy.sort(SIZE, Qt.SortOrder.AscendingOrder)
    assert [proxy.index(r, 0).data() for r in range(3)] == ["item-000", "item-001", "item-002"]
    proxy.sort(0, Qt.SortOrder.DescendingOrder)
    assert proxy.index(0, 0).data() == "item-029"


def test_queue_model_passes_modeltester_through_inserts_updates_and_removals(
    qtmodeltester: ModelTester, qtbot: QtBot
) -> None:
    model = QueueModel()
    qtmodeltester.check(model, force_py=True)
    for job_id in (1, 2, 3):
        model.update_job(snapshot(job_id))
    files = (FileProgress("a.iso", 100, 40),)
    running = snapshot(2, JobState.RUNNING, phase=Phase.TRANSFERRING, bytes_total=100)
    model.update_job(dataclasses.replace(running, bytes_done=40, speed=10.0, files=files))
    model.update_job(
        snapshot(3, JobState.FAILED, error_title="Busy", error_message="held by someone")
    )
    with qtbot.waitSignal(model.dataChanged, timeout=10000):
        pass  # the repaint timer delivers the updates together
    model.remove_job(1)
    assert [s.id for s in model.snapshots()] == [2, 3]
    progress = model.index(0, PROGRESS)
    assert progress.data(ProgressRole) == 0.4
    assert progress.data() == "40%"
    assert model.index(0, STATE).data() == "Transferring"
    assert model.index(0, ETA).data() == "6 s"  # 60 bytes at 10 B/s
    assert model.index(1, ERROR).data() == "Busy: held by someone"


def test_queue_model_repaints_a_burst_of_updates_once(qtbot: QtBot) -> None:
    model = QueueModel()
    model.update_job(snapshot(1))
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changes.append((a.row(), b.row())))
    for done in range(0, 100, 5):
        model.update_job(snapshot(1, JobState.RUNNING, bytes_done=done, bytes_total=100))
    assert changes == []  # nothing repainted per event
    qtbot.waitUntil(lambda: bool(changes), timeout=10000)
    assert changes == [(0, 0)]
    assert model.index(0, PROGRESS).data() == "95%"


def test_queue_model_shows_done_and_verified(qtbot: QtBot) -> None:
    model = QueueModel()
    model.update_job(snapshot(1))
    done = snapshot(1, JobState.DONE, bytes_done=100, bytes_total=100)
    model.update_job(dataclasses.replace(done, verification=Verification.VERIFIED))
    model.flush()
    assert model.index(0, STATE).data() == "Done"
    assert model.index(0, VERIFICATION).data() == "verified"
    assert model.index(0, PROGRESS).data(ProgressRole) == 1.0
    assert model.index(0, STATE).data(Qt.ItemDataRole.ForegroundRole) is not None


def test_history_and_files_models_pass_modeltester(qtmodeltester: ModelTester) -> None:
    history = HistoryModel()
    record = HistoryRecord(
        1, "http://127.0.0.1:1", "admin", "upload", "lib", "item", "disk", "s1", "a.iso", 2048,
        "SHA1:ab", "verified", "2026-01-01T10:00:00+00:00", 1.5, "done",
    )  # fmt: skip
    history.set_records([record, dataclasses.replace(record, job_id=2, outcome="failed")])
    qtmodeltester.check(history, force_py=True)
    assert history.index(0, 6).data() == "Failed"  # newest first
    assert history.index(0, 9).data() == "admin@127.0.0.1:1"  # Server: as the tree names it
    files = FilesModel()
    files.set_files(
        [
            FileInfo("b.vmdk", 10, True, "1", ChecksumInfo("abc", ChecksumAlgorithm.SHA256)),
            FileInfo("a.ovf", 5, True, "2", ChecksumInfo("def")),
        ]
    )
    qtmodeltester.check(files, force_py=True)
    assert files.index(0, 0).data() == "a.ovf"
    assert files.index(0, 4).data() == "SHA1"  # the server's default algorithm
    assert files.index(1, 5).data() == "abc"
    assert files.rowCount(files.index(0, 0)) == 0
    assert files.data(QModelIndex()) is None


def test_formatting() -> None:
    assert fmt.size(None) == ""
    assert fmt.size(1_500_000) == "1.5 MB"
    assert fmt.speed(0) == ""
    assert fmt.duration(None) == ""
    assert fmt.duration(42) == "42 s"
    assert fmt.duration(185) == "3 min 05 s"
    assert fmt.duration(7500) == "2 h 05 min"


def test_plan_drop_sorts_files_companions_and_folders(tmp_path: Path) -> None:
    from cl_desktop.demo import write_samples

    samples = write_samples(tmp_path)
    ovf_files = [str(p) for p in samples["demo-vm"]]
    iso = str(samples["demo-tools"][0])
    folder = tmp_path / "scripts"
    (folder / ".DS_Store").write_bytes(b"x")  # hidden files stay behind
    plan = plan_drop([*ovf_files, iso, iso, str(folder), str(tmp_path / "gone.txt")])
    assert [Path(p).name for p in plan.files] == ["demo-vm.ovf", "demo-tools.iso"]
    assert sorted(Path(p).name for p in plan.companions) == ["demo-vm-disk1.vmdk", "demo-vm.mf"]
    assert [Path(p).name for p, _ in plan.skipped] == ["gone.txt"]
    assert [(i.name, i.item_type) for i in plan.new_items] == [
        ("demo-vm", "ovf"),
        ("demo-tools", "iso"),
        ("scripts", "file"),  # a folder of loose files: one item named after it
    ]
    assert plan.new_items[2].files == (
        str(folder / "configure-ntp.ps1"),
        str(folder / "first-boot.sh"),
    )
    lines = plan.new_item_lines()
    assert lines[0] == "demo-vm.ovf -> new ovf item 'demo-vm'"
    assert lines[2:5] == [
        "folder scripts -> new file item 'scripts' with 2 files:",
        "    configure-ntp.ps1",
        "    first-boot.sh",
    ]
    assert any("uploaded with its .ovf" in line for line in lines)


def test_plan_drop_takes_a_folder_s_template_and_refuses_what_an_item_cannot_hold(
    tmp_path: Path,
) -> None:
    from cl_desktop.demo import write_samples

    template = tmp_path / "template"
    template.mkdir()
    write_samples(template)  # one .ovf (and an .iso, a scripts folder: the .ovf decides)
    nested, empty, two = tmp_path / "nested", tmp_path / "empty", tmp_path / "two"
    for folder in (nested / "inner", empty, two):
        folder.mkdir(parents=True)
    (nested / "a.txt").write_text("a")
    (two / "a.ovf").write_text("<Envelope/>")
    (two / "b.ova").write_bytes(b"x")
    plan = plan_drop([str(template), str(nested), str(empty), str(two)])
    assert plan.files == (str(template / "demo-vm.ovf"),)  # as if the .ovf had been dropped
    assert [(i.name, i.item_type) for i in plan.new_items] == [("demo-vm", "ovf")]
    assert dict(plan.skipped) == {
        str(nested): "nested holds the folder inner; a library item has no subfolders, so "
        "choose the files, or each folder of files",
        str(empty): "empty is empty; there is nothing to upload",
        str(two): "two holds more than one template (a.ovf, b.ova); choose the one to upload",
    }


def test_new_items_get_free_names_against_the_library_and_each_other(tmp_path: Path) -> None:
    import dataclasses

    paths = [tmp_path / "tools.iso", tmp_path / "tools.ova", tmp_path / "Readme"]
    for path in paths:
        path.write_bytes(b"x")
    plan = dataclasses.replace(
        plan_drop([str(p) for p in paths]), existing=frozenset({"TOOLS", "tools (2)"})
    )
    assert [(i.name, i.taken) for i in plan.new_items] == [
        ("tools (3)", "tools"),
        ("tools (4)", "tools"),
        ("Readme", ""),
    ]
    assert plan.new_item_lines()[0] == "tools.iso -> new iso item 'tools (3)' (tools exists)"


def test_library_tree_model_lists_libraries_by_name_under_each_server(
    qtmodeltester: ModelTester,
) -> None:
    model = LibraryTreeModel()
    qtmodeltester.check(model, force_py=True)
    vc = ServerRef("https://vc:443", "admin")
    assert not model.first_library().isValid() and not model.library_index(vc, "l1").isValid()
    libraries = [
        LibraryModel(id="l1", name="zeta", type=LibraryType.LOCAL),
        LibraryModel(id="l2", name="Alpha", type=LibraryType.SUBSCRIBED),
        LibraryModel(id="l3", name="beta"),
    ]
    model.set_libraries(vc, libraries)
    root = model.index(0, 0)
    assert root.data() == "admin@vc" and model.rowCount(root) == 3
    assert root.data(ServerRole) == vc
    assert [model.index(r, 0, root).data() for r in range(3)] == ["Alpha", "beta", "zeta"]
    assert model.first_library().data(LibraryIdRole) == "l2"
    assert model.library_index(vc, "l1").data() == "zeta"
    assert not model.library_index(vc, "gone").isValid()
    assert not model.library_index(vc, "").isValid()
    model.set_libraries(vc, libraries[:1])  # a refresh replaces the rows
    assert model.rowCount() == 1 and model.rowCount(model.index(0, 0)) == 1

    # a second server: its own root, after the first; the same library id is its own row
    other = ServerRef("https://vc2:8443", "admin")
    model.set_libraries(other, [LibraryModel(id="l1", name="isos")])
    assert [model.index(r, 0).data() for r in range(2)] == ["admin@vc", "admin@vc2:8443"]
    assert model.library_index(other, "l1").data() == "isos"
    assert model.library_index(other, "l1").data(ServerRole) == other
    assert model.library_index(vc, "l1").data() == "zeta"
    assert model.first_library(other).data() == "isos"
    model.remove_server(vc)
    assert model.rowCount() == 1 and model.servers() == [other]
    assert not model.library_index(vc, "l1").isValid()
