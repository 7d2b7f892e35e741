"""The job store: a database written by an older release opens and gains the new columns."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

from cl_desktop.transfers.jobs import Direction, FailureKind, JobSpec, ServerRef
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
    assert (job.item_created, job.note, job.failure) == (False, "", None)
    store.save(
        dataclasses.replace(
            job, item_created=True, note="reconnecting", failure=FailureKind.INTEGRITY
        )
    )
    (again,) = JobStore(path).load()
    assert (again.item_created, again.note) == (True, "reconnecting")
    assert again.failure is FailureKind.INTEGRITY  # the CLI's exit code comes from it
