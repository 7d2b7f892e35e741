"""The job store: a database written by an older release opens and gains the new columns."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

from cl_desktop.transfers.jobs import Direction, Existing, FailureKind, JobSpec, ServerRef
from cl_desktop.transfers.store import JobStore

OLD_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, spec TEXT NOT NULL, state TEXT NOT NULL,
    position INTEGER NOT NULL, item_id TEXT, session_id TEXT, verification TEXT,
    error_title TEXT NOT NULL DEFAULT '', error_message TEXT NOT NULL DEFAULT '',
    bytes_done INTEGER NOT NULL DEFAULT 0, bytes_total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, started_at REAL,
    finished_at REAL
);
"""


def test_an_older_database_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "queue.sqlite3"
    spec = JobSpec(Direction.UPLOAD, ServerRef("https://vc.test", "admin"), "lib-1")
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO jobs (spec, state, position, created_at) VALUES (?, 'queued', 1, 0)",
        (spec.to_json(),),
    )
    db.commit()
    db.close()

    store = JobStore(path)
    (job,) = store.load()
    assert (job.item_created, job.note, job.failure, job.files) == (False, "", None, ())
    store.save(
        dataclasses.replace(
            job, item_created=True, note="reconnecting", failure=FailureKind.INTEGRITY
        )
    )
    (again,) = JobStore(path).load()
    assert (again.item_created, again.note) == (True, "reconnecting")
    assert again.failure is FailureKind.INTEGRITY  # the CLI's exit code comes from it


def test_a_download_spec_keeps_its_choices_and_old_ones_still_load(tmp_path: Path) -> None:
    server = ServerRef("https://vc.test", "admin")
    spec = JobSpec(Direction.DOWNLOAD, server, "lib-1", item_id="i", item_name="demo-vm",
                   dest_dir="/dl", file_names=("a", "b"), as_ova=True,
                   existing=Existing.SKIP)  # fmt: skip
    assert JobSpec.from_json(spec.to_json()) == spec
    assert spec.title == "demo-vm -> /dl/demo-vm.ova"
    old = json.loads(spec.to_json())
    for key in ("as_ova", "existing", "target"):  # a job stored before these fields
        del old[key]
    loaded = JobSpec.from_json(json.dumps(old))
    assert (loaded.as_ova, loaded.existing, loaded.target) == (False, Existing.KEEP_BOTH, "")
    assert loaded.file_names == ("a", "b")

    # the target a download's first run chose is stored with the job
    store = JobStore(tmp_path / "q.sqlite")
    job_id = store.insert(spec, 1, 0.0)
    store.save_spec(job_id, dataclasses.replace(spec, target="/dl/demo-vm (2).ova"))
    (job,) = JobStore(tmp_path / "q.sqlite").load()
    assert job.spec.target == "/dl/demo-vm (2).ova"
    assert job.spec.title == "demo-vm -> /dl/demo-vm (2).ova"
