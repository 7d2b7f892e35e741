"""The persistent queue and history: one SQLite file under the user data dir.

Written on every state change, so that after a crash the queue knows which jobs were running
and which server sessions they held (those are cleaned up before the job runs again).

Claims: every job has one owner at a time, the process whose queue loaded or added it. The
claim is an exclusive `flock` on a per-job lock file in `<database>.claims/`, held on an open
descriptor for as long as the queue owns the job. The kernel drops it when that process ends,
however it ends (kill -9 included), so a dead owner loses its jobs with nothing to go stale;
a pid + start-time column would need liveness guesses and breaks on pid reuse and clock changes.
flock locks belong to the open file description, so two queues in one process exclude each
other as well.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import json
import os
import sqlite3
import threading
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .errors import LocalFileError
from .jobs import (
    FailureKind,
    FileProgress,
    HistoryRecord,
    JobSnapshot,
    JobSpec,
    JobState,
    Phase,
    ServerRef,
    Verification,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    position INTEGER NOT NULL,
    item_id TEXT,
    session_id TEXT,
    verification TEXT,
    error_title TEXT NOT NULL DEFAULT '',
    error_message TEXT NOT NULL DEFAULT '',
    failure TEXT,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    bytes_total INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    item_created INTEGER NOT NULL DEFAULT 0,
    note TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    files TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cleanups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    server TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    UNIQUE (server, kind, target)
);
"""

_JOB_COLUMNS = (
    "state",
    "position",
    "item_id",
    "session_id",
    "verification",
    "error_title",
    "error_message",
    "failure",
    "bytes_done",
    "bytes_total",
    "attempts",
    "item_created",
    "note",
    "started_at",
    "finished_at",
    "files",
    "source_session_id",
)

# Columns added after the first release, with their definitions: added to older databases.
_ADDED_COLUMNS = {
    "item_created": "INTEGER NOT NULL DEFAULT 0",
    "note": "TEXT NOT NULL DEFAULT ''",
    "failure": "TEXT",
    # the job's files as its last run listed them: a restarted job's row names them as before
    # ("demo-vm.ovf (+1)", not "all files") until it runs again
    "files": "TEXT NOT NULL DEFAULT ''",
    "source_session_id": "TEXT",
}


def _files_to_json(files: tuple[FileProgress, ...]) -> str:
    return json.dumps([asdict(f) for f in files]) if files else ""


def _files_from_json(text: str | None) -> tuple[FileProgress, ...]:
    try:
        raw = json.loads(text) if text else []
        return tuple(
            FileProgress(
                name=str(f["name"]),
                size=int(f["size"]),
                done=int(f.get("done", 0)),
                verification=Verification(f["verification"]) if f.get("verification") else None,
                checksum=f.get("checksum"),
            )
            for f in raw
        )
    except (ValueError, TypeError, KeyError):  # not ours to fail on: the names are cosmetic
        return ()


class StoreError(LocalFileError):
    """The queue database cannot be opened or used (a folder, not a database, not writable)."""

    title = "Queue database problem"
    hint = "Move the file away or give another queue database (cl-transfer --queue-db)."


class JobStore:
    """Thread-safe access to the jobs and history tables, and the claims on jobs."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._memory = str(path) == ":memory:"
        self._lock = threading.Lock()
        self._claims: dict[int, int | None] = {}  # job id -> lock file descriptor (None: memory)
        try:
            if not self._memory:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if self.path.is_dir():
                    raise IsADirectoryError(errno.EISDIR, "is a folder", str(self.path))
            self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(f"{self.path}: {reason}", operation="open the queue database") from exc

    def _migrate(self) -> None:
        present = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for column, definition in _ADDED_COLUMNS.items():
            if column not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} {definition}")

    def close(self) -> None:
        with self._lock:
            for job_id in list(self._claims):
                self._release_locked(job_id)
            self._db.close()

    # --- claims --------------------------------------------------------------------------

    def _claim_file(self, job_id: int) -> Path:
        return self.path.with_name(self.path.name + ".claims") / f"{job_id}.lock"

    def claim(self, job_id: int) -> bool:
        """Make this store the job's owner; False when another live owner holds it."""
        with self._lock:
            return self._claim_locked(job_id)

    def _claim_locked(self, job_id: int) -> bool:
        if job_id in self._claims:
            return True
        if self._memory:
            self._claims[job_id] = None
            return True
        path = self._claim_file(job_id)
        path.parent.mkdir(exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            # A remover unlinks the file while holding the lock: if ours is no longer the
            # file at that path, the lock guards nothing; take the new file instead.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._claims[job_id] = fd
                return True
            os.close(fd)

    def release(self, job_id: int, forget: bool = False) -> None:
        """Give the job up (`forget`: it is deleted, so its lock file goes too)."""
        with self._lock:
            self._release_locked(job_id, forget)

    def _release_locked(self, job_id: int, forget: bool = False) -> None:
        fd = self._claims.pop(job_id, None)
        if fd is None:
            return
        if forget:
            self._claim_file(job_id).unlink(missing_ok=True)
        os.close(fd)

    def claimed_elsewhere(self, job_id: int) -> bool:
        """Whether another live owner holds the job (a momentary shared lock as the probe)."""
        with self._lock:
            if self._memory or job_id in self._claims:
                return False
            try:
                fd = os.open(self._claim_file(job_id), os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return False
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)  # closing drops the probe's lock
            return False

    def insert(self, spec: JobSpec, position: int, created_at: float) -> int:
        """Add a job, already claimed: claimed before the row is committed, so that no other
        process loading the queue can take it in between."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    "INSERT INTO jobs (spec, state, position, created_at) VALUES (?, ?, ?, ?)",
                    (spec.to_json(), JobState.QUEUED.value, position, created_at),
                )
                assert cursor.lastrowid is not None
                if not self._claim_locked(cursor.lastrowid):  # a lock file left by a rollback
                    raise StoreError(f"job {cursor.lastrowid} is held", operation="add a job")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return cursor.lastrowid

    def save(self, job: JobSnapshot) -> None:
        values: list[Any] = []
        for column in _JOB_COLUMNS:
            value = getattr(job, column)
            if column == "files":
                value = _files_to_json(value)
            values.append(value.value if hasattr(value, "value") else value)
        assignments = ", ".join(f"{c} = ?" for c in _JOB_COLUMNS)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*values, job.id))

    def save_spec(self, job_id: int, spec: JobSpec) -> None:
        """Replace a job's request after it was added: the warnings the user allowed, or the
        target a download's first run chose."""
        with self._lock:
            self._db.execute("UPDATE jobs SET spec = ? WHERE id = ?", (spec.to_json(), job_id))

    def delete(self, job_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            self._release_locked(job_id, forget=True)

    def load(self) -> list[JobSnapshot]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, spec, created_at, "
                + ", ".join(_JOB_COLUMNS)
                + " FROM jobs ORDER BY position, id"
            ).fetchall()
        jobs = []
        for row in rows:
            job_id, spec, created_at, *rest = row
            values = dict(zip(_JOB_COLUMNS, rest, strict=True))
            values["state"] = JobState(values["state"])
            values["item_created"] = bool(values["item_created"])
            values["files"] = _files_from_json(values["files"])
            if values["verification"]:
                values["verification"] = Verification(values["verification"])
            if values["failure"]:
                values["failure"] = FailureKind(values["failure"])
            jobs.append(
                JobSnapshot(
                    id=job_id,
                    spec=JobSpec.from_json(spec),
                    created_at=created_at,
                    phase=Phase.WAITING,
                    **values,
                )
            )
        return jobs

    # --- cleanups: what jobs left on a server they could not reach --------------------------

    def add_cleanup(self, server: ServerRef, kind: str, target: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO cleanups (server, kind, target) VALUES (?, ?, ?)",
                (_server_key(server), kind, target),
            )

    def cleanups(self, server: ServerRef | None = None) -> list[tuple[int, ServerRef, str, str]]:
        """(id, server, kind, target) of the pending cleanups (of one server's account)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, server, kind, target FROM cleanups ORDER BY id"
            ).fetchall()
        found = [(i, ServerRef(**json.loads(ref)), kind, target) for i, ref, kind, target in rows]
        if server is None:
            return found
        key = (server.url, server.username)
        return [c for c in found if (c[1].url, c[1].username) == key]

    def delete_cleanup(self, cleanup_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM cleanups WHERE id = ?", (cleanup_id,))

    # --- history -------------------------------------------------------------------------

    def add_history(self, record: HistoryRecord) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO history (record) VALUES (?)", (json.dumps(asdict(record)),)
            )

    def history(self) -> list[HistoryRecord]:
        with self._lock:
            rows = self._db.execute("SELECT record FROM history ORDER BY id").fetchall()
        return [HistoryRecord(**json.loads(row[0])) for row in rows]

    def export_history(self, path: Path | str, fmt: str) -> int:
        """Write the history as 'csv' or 'json'; returns the number of records."""
        records = self.history()
        target = Path(path)
        if fmt == "json":
            target.write_text(
                json.dumps([asdict(r) for r in records], indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
        elif fmt == "csv":
            names = [f.name for f in fields(HistoryRecord) if f.name != "extra"]
            with target.open("w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
                writer.writeheader()
                for record in records:
                    writer.writerow(asdict(record))
        else:
            raise ValueError(f"unknown export format {fmt!r} (csv or json)")
        return len(records)


def _server_key(server: ServerRef) -> str:
    return json.dumps(asdict(server), sort_keys=True)
