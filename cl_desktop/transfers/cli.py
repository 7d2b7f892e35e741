"""cl-transfer: the command line over the transfer engine, for scripts, pipelines and benchmarks.

Exit codes: 0 success, 1 transfer failed, 2 usage, 3 authentication, 4 not found, 5 TLS trust,
6 integrity, 7 local problem (a file, a folder, the queue database), 8 the job is in use by
another running process, 70 internal error (a bug in cl_desktop), 130 interrupted (Ctrl-C or
SIGTERM; `resume` continues). Every error is one line "error: TITLE: MESSAGE" on stderr; only
a bug prints a traceback, and says that it is one. The password comes from CL_PASSWORD, else
the keyring, else a prompt. Each command ends its login on the server before it exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import math
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Any

import platformdirs

from cl_desktop.api import (
    ContentLibraryClient,
    ContentLibraryError,
    TlsSettings,
    TlsTrustError,
    errors,
)
from cl_desktop.api.client import normalize_server

from .context import end_session
from .control import RetryPolicy
from .errors import IntegrityError, LocalFileError
from .jobs import Direction, JobSnapshot, JobSpec, JobState, ServerRef
from .naming import item_name_for
from .queue import JobClaimed, TransferQueue
from .store import JobStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_TLS, EXIT_INTEGRITY = range(7)
EXIT_LOCAL, EXIT_IN_USE = 7, 8
EXIT_INTERNAL = 70  # EX_SOFTWARE of sysexits.h
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C
KEYRING_SERVICE = "cl-desktop"
INTERNAL_ERROR = "internal error (this is a bug in cl_desktop, please report it)"
EXIT_CODES_HELP = (
    "exit codes: 0 success, 1 transfer failed, 2 usage, 3 authentication, 4 not found, "
    "5 TLS trust, 6 integrity, 7 local file/folder/queue database problem, 8 job in use by "
    "another process, 70 internal error (a bug), 130 interrupted"
)


class UsageError(Exception):
    title = "Usage"


class NoSuchJob(ContentLibraryError):
    title = "No such job"
    hint = "`cl-transfer jobs` lists the jobs."


def keyring_key(server: str, user: str) -> str:
    return f"{user}@{server}"


def password_for(server: str, user: str) -> str:
    env = os.environ.get("CL_PASSWORD")
    if env:
        return env
    import keyring  # only now: importing it costs a quarter second at every start
    import keyring.errors

    try:
        stored = keyring.get_password(KEYRING_SERVICE, keyring_key(server, user))
    except keyring.errors.KeyringError:
        stored = None
    if stored:
        return stored
    if sys.stdin.isatty():
        return getpass.getpass(f"Password for {user} on {server}: ")
    raise UsageError("no password: set CL_PASSWORD, store one in the keyring, or run on a terminal")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cl-transfer", description="Move files in and out of vSphere Content Library.",
        epilog=EXIT_CODES_HELP,
    )  # fmt: skip
    parser.add_argument("--server", required=True, help="vCenter address, e.g. https://vc.local")
    parser.add_argument("--user", required=True)
    parser.add_argument("--dialect", choices=("auto", "api", "rest"), default="auto")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--ca-file", help="PEM file of the CA that signed the server certificate")
    trust.add_argument("--pin-sha256", help="trust exactly the certificate with this fingerprint")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--queue-db", help="queue database (default: in the user data dir)")
    parser.add_argument("--parallel", type=_positive(int), default=2, help="concurrent transfers")
    parser.add_argument("--limit", type=_positive(float), help="bandwidth limit in MB/s")
    policy = RetryPolicy()
    patience = parser.add_argument_group("reconnecting and stalls")
    patience.add_argument(
        "--reconnect-window",
        type=_positive(float),
        metavar="SECONDS",
        default=policy.reconnect_window,
        help="keep retrying a lost connection this long (default: %(default)s)",
    )
    patience.add_argument(
        "--stall-bytes",
        type=_positive(int),
        metavar="BYTES",
        default=policy.stall_bytes,
        help="a transfer moving fewer bytes than this ... (default: %(default)s)",
    )
    patience.add_argument(
        "--stall-time",
        type=_positive(float),
        metavar="SECONDS",
        default=policy.stall_seconds,
        help="... in this many seconds is stalled (default: %(default)s)",
    )
    patience.add_argument(
        "--stall-limit",
        type=_positive(float),
        metavar="SECONDS",
        default=policy.stall_limit,
        help="fail a transfer stalled this long (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("libraries", help="list libraries")
    sub.add_parser("items", help="list items of a library").add_argument("library")
    sub.add_parser("files", help="the item's File.Info rows").add_argument("item")
    sub.add_parser("storage", help="the item's Storage.Info rows").add_argument("item")
    up = sub.add_parser("upload", help="upload files into an item")
    up.add_argument("item", help="LIBRARY/ITEM (name or id)")
    up.add_argument("files", nargs="+")
    up.add_argument("--create", action="store_true", help="create the item if it is missing")
    up.add_argument("--unique-name", action="store_true", help="with --create: avoid clashes")
    down = sub.add_parser("download", help="download an item's files")
    down.add_argument("item")
    down.add_argument("dest_dir")
    down.add_argument("--file", action="append", default=[], dest="names")
    sub.add_parser("sessions", help="update and download sessions of this user")
    session = sub.add_parser("session", help="act on one session")
    session.add_argument("action", choices=("cancel", "fail", "delete", "keep-alive"))
    session.add_argument("session_id")
    session.add_argument("--message", default="failed from cl-transfer")
    sub.add_parser("resume", help="finish the unfinished jobs of this server and user "
                   "that no other process is running")  # fmt: skip
    sub.add_parser("jobs", help="the persisted jobs of this server and user")
    retry = sub.add_parser("retry", help="run a failed or canceled job again, to its end")
    retry.add_argument("job_id", type=int, metavar="ID")
    remove = sub.add_parser("remove", help="forget a job, ending what it left on the server")
    remove.add_argument("job_id", type=int, metavar="ID")
    history = sub.add_parser("history", help="finished transfers (the audit trail)")
    history.add_argument("--export", help="write to this file")
    history.add_argument("--format", choices=("csv", "json"), default="csv")
    return parser


def _positive(kind: Callable[[str], float]) -> Callable[[str], Any]:
    """An argparse type: a number above zero (0 parallel transfers would wait for ever)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not 0 < value < math.inf:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"must be above 0 (and finite), got {text}")
        return value

    return parse


# Commands that work on the local queue database alone: no password, no login.
_OFFLINE_COMMANDS = frozenset({"jobs", "history"})


class Cli:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        if args.ca_file and not Path(args.ca_file).is_file():
            problem = "is not a file" if Path(args.ca_file).exists() else "no such file"
            raise UsageError(f"--ca-file {args.ca_file}: {problem}")
        if args.stall_time > args.stall_limit:
            raise UsageError("--stall-time must not be longer than --stall-limit")
        try:
            self.tls = TlsSettings(ca_file=args.ca_file, pin_sha256=args.pin_sha256)
            self.url = normalize_server(args.server)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        self.server = ServerRef(
            args.server, args.user, args.dialect, args.ca_file, self.tls.pin_sha256
        )
        self._client: ContentLibraryClient | None = None
        self._store: JobStore | None = None
        self._queue_obj: TransferQueue | None = None

    @property
    def client(self) -> ContentLibraryClient:
        """The logged-in client, made at first use (offline commands never log in)."""
        if self._client is None:
            self._client = ContentLibraryClient(
                self.args.server, self.args.user, password_for(self.args.server, self.args.user),
                dialect=self.args.dialect, tls=self.tls,
            )  # fmt: skip
        if not self._client.logged_in:
            self._client.login()
        return self._client

    def close(self) -> None:
        """Stop the queue (its jobs end their server sessions), then end the login."""
        if self._queue_obj is not None:
            self._queue_obj.shutdown()
        if self._client is not None:
            self._client.close()
        if self._store is not None:
            self._store.close()

    # --- output ---------------------------------------------------------------------------

    def out(self, rows: Any, text: str) -> None:
        if self.args.json:
            print(json.dumps(_jsonable(rows), indent=2, ensure_ascii=False))
        else:
            print(text)

    # --- addressing -----------------------------------------------------------------------

    def library_id(self, ref: str) -> str:
        try:
            return self.client.libraries.get(ref).id or ref
        except (errors.NotFound, errors.InvalidArgument):
            pass
        found = [
            m.id for m in self.client.libraries.list_models()
            if (m.name or "").lower() == ref.lower() and m.id
        ]  # fmt: skip
        if not found:
            raise errors.NotFound(f"no library named {ref!r}", operation="find library")
        return found[0]

    def item_ref(self, ref: str) -> tuple[str, str | None, str]:
        """LIBRARY/ITEM -> (library id, item id or None if missing, item name)."""
        if "/" not in ref:
            try:
                item = self.client.items.get(ref)
                return item.library_id or "", item.id, item.name or ""
            except (errors.NotFound, errors.InvalidArgument):
                raise UsageError(f"{ref!r}: address items as LIBRARY/ITEM, or by id") from None
        library_ref, item_ref = ref.split("/", 1)
        library_id = self.library_id(library_ref)
        for item_id in self.client.items.list(library_id):
            if item_id == item_ref:
                return library_id, item_id, item_ref
        ids = self.client.items.find(name=item_ref, library_id=library_id)
        if ids:
            return library_id, ids[0], item_ref
        return library_id, None, item_ref

    def existing_item(self, ref: str) -> tuple[str, str, str]:
        library_id, item_id, name = self.item_ref(ref)
        if item_id is None:
            raise errors.NotFound(f"no item {ref!r}", operation="find item")
        return library_id, item_id, name

    # --- commands -------------------------------------------------------------------------

    def run(self) -> int:
        if self.args.command not in _OFFLINE_COMMANDS:
            _ = self.client  # log in first: a wrong password fails before anything else
        command = self.args.command.replace("-", "_")
        result: int = getattr(self, "cmd_" + command)()
        return result

    def cmd_libraries(self) -> int:
        models = self.client.libraries.list_models()
        self.out(models, "\n".join(f"{m.id}  {m.type}  {m.name}" for m in models))
        return EXIT_OK

    def cmd_items(self) -> int:
        models = self.client.items.list_models(self.library_id(self.args.library))
        self.out(models, "\n".join(
            f"{m.id}  {m.type or '-':6} {m.size if m.size is not None else '-':>12}  {m.name}"
            for m in models
        ))  # fmt: skip
        return EXIT_OK

    def cmd_files(self) -> int:
        _, item_id, _ = self.existing_item(self.args.item)
        rows = self.client.item_files.list(item_id)
        self.out(rows, "\n".join(
            f"{f.name}  {f.size}  cached={f.cached}  v{f.version}  "
            + (f"{f.checksum_info.effective_algorithm}:{f.checksum_info.checksum}"
               if f.checksum_info else "no checksum")
            for f in rows
        ))  # fmt: skip
        return EXIT_OK

    def cmd_storage(self) -> int:
        _, item_id, _ = self.existing_item(self.args.item)
        rows = self.client.storage.list(item_id)
        self.out(rows, "\n".join(
            f"{s.name}  {s.storage_backing.type if s.storage_backing else '-'} "
            f"{s.storage_backing.datastore_id if s.storage_backing else ''}  "
            + " ".join(s.storage_uris)
            for s in rows
        ))  # fmt: skip
        return EXIT_OK

    def cmd_sessions(self) -> int:
        ups = [self.client.update_sessions.get(i) for i in self.client.update_sessions.list()]
        downs = [self.client.download_sessions.get(i) for i in self.client.download_sessions.list()]
        rows = {"update_sessions": ups, "download_sessions": downs}
        lines = [f"update    {s.id}  {s.state}  item={s.library_item_id}  "
                 f"progress={s.client_progress}" for s in ups]  # fmt: skip
        lines += [f"download  {s.id}  {s.state}  item={s.library_item_id}" for s in downs]
        self.out(rows, "\n".join(lines) or "no sessions")
        return EXIT_OK

    def cmd_session(self) -> int:
        sid, action = self.args.session_id, self.args.action
        kind = self.client.update_sessions
        try:
            self.client.update_sessions.get(sid)
        except errors.NotFound:
            kind = self.client.download_sessions  # type: ignore[assignment]
            kind.get(sid)
        if action == "cancel":
            kind.cancel(sid)
        elif action == "fail":
            kind.fail(sid, self.args.message)
        elif action == "delete":
            kind.delete(sid)
        else:
            kind.keep_alive(sid)
        self.out({"session": sid, "action": action}, f"{action}: {sid}")
        return EXIT_OK

    def _store_path(self) -> Path:
        if self.args.queue_db:
            return Path(self.args.queue_db)
        return Path(platformdirs.user_data_dir("cl-desktop")) / "cl-transfer-queue.sqlite"

    def store(self) -> JobStore:
        if self._store is None:
            self._store = JobStore(self._store_path())
        return self._store

    def _queue(self) -> TransferQueue:
        """The queue, started with none of the persisted jobs: each command takes its own."""
        if self._queue_obj is None:
            queue = TransferQueue(
                self.store(),
                lambda ref: self.client,
                max_parallel=self.args.parallel,
                bandwidth_limit=int(self.args.limit * 1e6) if self.args.limit else None,
                retry_policy=RetryPolicy(
                    reconnect_window=self.args.reconnect_window,
                    stall_bytes=self.args.stall_bytes,
                    stall_seconds=self.args.stall_time,
                    stall_limit=self.args.stall_limit,
                ),
            )
            if sys.stderr.isatty() and not self.args.json:
                queue.add_listener(_ProgressLine())
            self._queue_obj = queue
        return self._queue_obj

    def _mine(self, spec: JobSpec) -> bool:
        try:
            url = normalize_server(spec.server.url)
        except ValueError:
            return False
        return (url, spec.server.username) == (self.url, self.server.username)

    def cmd_upload(self) -> int:
        library_id, item_id, name = self.item_ref(self.args.item)
        if item_id is None and not self.args.create:
            raise errors.NotFound(
                f"no item {self.args.item!r} (use --create to create it)", operation="upload"
            )
        paths = tuple(str(Path(p).resolve()) for p in self.args.files)
        spec = JobSpec(
            Direction.UPLOAD, self.server, library_id, item_id=item_id,
            item_name=name or item_name_for(paths[0]), paths=paths,
            unique_name=self.args.unique_name,
        )  # fmt: skip
        return self._run_new(spec)

    def cmd_download(self) -> int:
        library_id, item_id, name = self.existing_item(self.args.item)
        spec = JobSpec(
            Direction.DOWNLOAD, self.server, library_id, item_id=item_id, item_name=name,
            dest_dir=str(Path(self.args.dest_dir).resolve()), file_names=tuple(self.args.names),
        )  # fmt: skip
        return self._run_new(spec)

    def _run_new(self, spec: JobSpec) -> int:
        """Run only the job this command adds: other persisted jobs are left to `resume`."""
        queue = self._queue()
        queue.start(accept=lambda _spec: False)
        return self._wait([queue.add(spec)])

    def cmd_resume(self) -> int:
        """Run the unfinished jobs of this server and user that no live process owns."""
        queue = self._queue()
        queue.start(accept=self._mine)
        if queue.pending_cleanups(self.server):  # sessions and empty items left unreachable
            queue.perform_cleanups(self.server)
            queue.wait_cleanups(60)
        ids = []
        for job in queue.jobs():
            if job.state is JobState.PAUSED:
                queue.resume(job.id)
            if not job.state.finished:
                ids.append(job.id)
        in_use = [
            j.id for j in self.store().load()
            if self._mine(j.spec) and not j.state.finished and self.store().claimed_elsewhere(j.id)
        ]  # fmt: skip
        if in_use:
            _note(f"left alone, in use by another process: job {', '.join(map(str, in_use))}")
        if not ids:
            self.out([], "nothing to resume")
            return EXIT_OK
        for job_id in ids:
            job = queue.snapshot(job_id)
            _note(f"resuming job {job_id}: {job.spec.direction.value} {job.spec.item_name}")
        return self._wait(ids)

    def _adopt(self, job_id: int) -> JobSnapshot:
        """Take one persisted job of this server and user into the queue (not started yet)."""
        try:
            job = self._queue().adopt(job_id)
        except KeyError:
            raise NoSuchJob(f"no job {job_id} in {self._store_path()}") from None
        if not self._mine(job.spec):
            raise UsageError(
                f"job {job_id} belongs to {job.spec.server.username} on {job.spec.server.url}; "
                "give that --server and --user"
            )
        return job

    def cmd_retry(self) -> int:
        job = self._adopt(self.args.job_id)
        queue = self._queue()
        if job.state is JobState.DONE:
            raise UsageError(f"job {job.id} is done; there is nothing to retry")
        queue.start(accept=lambda _spec: False)  # runs the job if it was left queued
        if job.state is JobState.PAUSED:
            queue.resume(job.id)
        else:
            queue.retry(job.id)  # failed or canceled; a queued one is already scheduled
        _note(f"retrying job {job.id}: {job.spec.direction.value} {job.spec.item_name}")
        return self._wait([job.id])

    def cmd_remove(self) -> int:
        job = self._adopt(self.args.job_id)
        if job.session_id:  # left by a run that was killed: end it, as the queue would
            sessions = (
                self.client.update_sessions
                if job.spec.direction is Direction.UPLOAD
                else self.client.download_sessions
            )
            if not end_session(sessions, job.session_id, None):
                raise errors.ServiceUnavailable(
                    f"the session {job.session_id} of job {job.id} could not be ended; the job "
                    "is kept, try again when the server is reachable",
                    operation="remove job",
                )
        self._queue().remove(job.id)
        what = f"{job.spec.direction.value} {job.spec.item_name}"
        self.out({"removed": job.id}, f"removed job {job.id}: {what}")
        return EXIT_OK

    def cmd_jobs(self) -> int:
        store = self.store()
        jobs = [j for j in store.load() if self._mine(j.spec)]
        rows = []
        for job in jobs:
            row = _job_summary(job)
            row["in_use"] = store.claimed_elsewhere(job.id)
            row["bytes_total"] = job.bytes_total
            row["progress"] = round(job.fraction, 4)
            rows.append(row)
        lines = []
        for job, row in zip(jobs, rows, strict=True):
            state = job.state.value
            if row["in_use"]:
                state += " (in use by another process)"
            elif job.state is JobState.RUNNING:
                state += " (its process ended; `resume` continues it)"
            progress = f"{job.fraction:.0%}" if job.bytes_total else "-"
            error = f"  {job.error_title}: {job.error_message}" if job.error_message else ""
            lines.append(
                f"{job.id:>5}  {job.spec.direction.value:8} {state:12} {progress:>5}  "
                f"{job.spec.item_name}{error}"
            )
        self.out(rows, "\n".join(lines) or "no jobs")
        return EXIT_OK

    def cmd_history(self) -> int:
        store = self.store()
        if self.args.export:
            count = store.export_history(self.args.export, self.args.format)
            self.out({"exported": count, "file": self.args.export},
                     f"{count} records written to {self.args.export}")  # fmt: skip
            return EXIT_OK
        records = store.history()
        self.out(records, "\n".join(
            f"{r.started_at}  {r.direction:8} {r.outcome:8} {r.bytes:>12}  {r.item_name}/"
            f"{r.file}  {r.verification}  {r.error}"
            for r in records
        ))  # fmt: skip
        return EXIT_OK

    def _wait(self, ids: list[int]) -> int:
        queue = self._queue()
        results = [queue.wait(job_id) for job_id in ids]
        self.out([_job_summary(j) for j in results], "\n".join(_job_line(j) for j in results))
        failed = [j for j in results if j.state is not JobState.DONE]
        if not failed:
            return EXIT_OK
        if any(j.error_title == "Internal error" for j in failed):  # the queue logged the trace
            print(f"cl-transfer: {INTERNAL_ERROR}", file=sys.stderr)
            return EXIT_INTERNAL
        if any(j.error_title == IntegrityError.title for j in failed):
            return EXIT_INTEGRITY
        return EXIT_FAILED


def _note(text: str) -> None:
    """What the command is doing, for the person watching (stderr: stdout stays the result)."""
    print(f"cl-transfer: {text}", file=sys.stderr)


class _ProgressLine:
    """A one-line progress display on stderr for terminals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __call__(self, job: JobSnapshot) -> None:
        with self._lock:
            if job.state is JobState.RUNNING and job.bytes_total:
                eta = f"{job.eta:.0f}s" if job.eta is not None else "?"
                width = 30
                filled = int(width * job.fraction)
                sys.stderr.write(
                    f"\r[{'#' * filled}{'.' * (width - filled)}] {job.fraction:6.1%} "
                    f"{job.speed / 1e6:7.1f} MB/s ETA {eta:>6} {job.phase.value:14}"
                )
            elif job.state.finished:
                sys.stderr.write("\r" + " " * 90 + "\r")
            sys.stderr.flush()


def _job_summary(job: JobSnapshot) -> dict[str, Any]:
    return {
        "job": job.id, "direction": job.spec.direction.value, "state": job.state.value,
        "item_id": job.item_id or job.spec.item_id, "item": job.spec.item_name,
        "bytes": job.bytes_done, "verification": job.verification.value if job.verification
        else None, "files": [dataclasses.asdict(f) for f in job.files],
        "error": job.error_message or None, "error_title": job.error_title or None,
    }  # fmt: skip


def _job_line(job: JobSnapshot) -> str:
    base = f"job {job.id}: {job.spec.direction.value} {job.spec.item_name}: {job.state.value}"
    if job.state is JobState.DONE:
        return f"{base} ({job.bytes_done:,} bytes, {job.verification})"
    return f"{base}: {job.error_title}: {job.error_message}" if job.error_message else base


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, TlsTrustError):
        return EXIT_TLS
    if isinstance(exc, errors.Unauthenticated | errors.Unauthorized):
        return EXIT_AUTH
    if isinstance(exc, errors.NotFound | NoSuchJob):
        return EXIT_NOT_FOUND
    if isinstance(exc, IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, LocalFileError | OSError):
        return EXIT_LOCAL
    if isinstance(exc, JobClaimed):
        return EXIT_IN_USE
    return EXIT_FAILED


def _title_and_message(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return LocalFileError.title, f"{where}{exc.strerror}"
    if isinstance(exc, OSError):
        return LocalFileError.title, str(exc)
    if isinstance(exc, JobClaimed):
        return "Job in use", f"{exc}; wait for it to finish there, or stop that process"
    return getattr(exc, "title", "Error"), getattr(exc, "message", None) or str(exc)


class _Interrupts:
    """SIGINT and SIGTERM both raise KeyboardInterrupt in the main thread, once.

    A service manager, `timeout` or `kill` sends SIGTERM: it must end the server sessions and
    the login as Ctrl-C does, not leave them ACTIVE. Later signals are ignored, so that the
    (time-bounded) clean-up that follows the first one is not cut short.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._armed = True

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise KeyboardInterrupt
        _note("stopping: ending the server sessions and the login first")

    def disarm(self) -> None:
        self._armed = False

    @contextmanager
    def installed(self) -> Iterator[_Interrupts]:
        if threading.current_thread() is not threading.main_thread():
            yield self  # signal handlers can only be set from the main thread
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in self.SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    with _Interrupts().installed() as interrupts:
        cli: Cli | None = None
        try:
            cli = Cli(args)
            return cli.run()
        except KeyboardInterrupt:
            _note("interrupted; `cl-transfer resume` continues unfinished jobs")
            return EXIT_INTERRUPTED
        except (ContentLibraryError, UsageError, OSError, JobClaimed) as exc:
            title, message = _title_and_message(exc)
            if args.json:
                print(json.dumps({"error": title, "message": message}))
            print(f"error: {title}: {message}", file=sys.stderr)
            return exit_code_for(exc)
        except Exception:
            print(f"cl-transfer: {INTERNAL_ERROR}", file=sys.stderr)
            traceback.print_exc()
            return EXIT_INTERNAL
        finally:
            interrupts.disarm()  # ending sessions and the login must not be cut short
            if cli is not None:
                cli.close()


if __name__ == "__main__":
    sys.exit(main())
