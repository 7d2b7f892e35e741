"""cl-transfer: the command line over the transfer engine, for scripts, pipelines and benchmarks.

Exit codes: 0 success, 1 transfer failed, 2 usage, 3 authentication, 4 not found, 5 TLS trust,
6 integrity. The password comes from CL_PASSWORD, else the keyring, else a prompt.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import logging
import os
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import platformdirs

from cl_desktop.api import (
    ContentLibraryClient,
    ContentLibraryError,
    TlsSettings,
    TlsTrustError,
    errors,
)

from .errors import IntegrityError
from .jobs import Direction, JobSnapshot, JobSpec, JobState, ServerRef
from .naming import item_name_for
from .queue import TransferQueue
from .store import JobStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_TLS, EXIT_INTEGRITY = range(7)
KEYRING_SERVICE = "cl-desktop"


class UsageError(Exception):
    pass


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
        prog="cl-transfer", description="Move files in and out of vSphere Content Library."
    )
    parser.add_argument("--server", required=True, help="vCenter address, e.g. https://vc.local")
    parser.add_argument("--user", required=True)
    parser.add_argument("--dialect", choices=("auto", "api", "rest"), default="auto")
    trust = parser.add_mutually_exclusive_group()
    trust.add_argument("--ca-file", help="PEM file of the CA that signed the server certificate")
    trust.add_argument("--pin-sha256", help="trust exactly the certificate with this fingerprint")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--queue-db", help="queue database (default: in the user data dir)")
    parser.add_argument("--parallel", type=int, default=2, help="concurrent transfers")
    parser.add_argument("--limit", type=float, help="bandwidth limit in MB/s")
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
    sub.add_parser("resume", help="finish the unfinished jobs of this server and user")
    history = sub.add_parser("history", help="finished transfers (the audit trail)")
    history.add_argument("--export", help="write to this file")
    history.add_argument("--format", choices=("csv", "json"), default="csv")
    return parser


class Cli:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        tls = TlsSettings(ca_file=args.ca_file, pin_sha256=args.pin_sha256)
        self.server = ServerRef(args.server, args.user, args.dialect, args.ca_file, tls.pin_sha256)
        self.client = ContentLibraryClient(
            args.server, args.user, password_for(args.server, args.user),
            dialect=args.dialect, tls=tls,
        )  # fmt: skip
        self.client.login()

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

    def _queue(self) -> TransferQueue:
        path = Path(self.args.queue_db) if self.args.queue_db else (
            Path(platformdirs.user_data_dir("cl-desktop")) / "cl-transfer-queue.sqlite"
        )  # fmt: skip
        queue = TransferQueue(
            JobStore(path),
            lambda ref: self.client,
            max_parallel=self.args.parallel,
            bandwidth_limit=int(self.args.limit * 1e6) if self.args.limit else None,
        )
        if sys.stderr.isatty() and not self.args.json:
            queue.add_listener(_ProgressLine())
        return queue

    def _mine(self, spec: JobSpec) -> bool:
        return (spec.server.url, spec.server.username) == (self.server.url, self.server.username)

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
        return self._run([spec])

    def cmd_download(self) -> int:
        library_id, item_id, name = self.existing_item(self.args.item)
        spec = JobSpec(
            Direction.DOWNLOAD, self.server, library_id, item_id=item_id, item_name=name,
            dest_dir=str(Path(self.args.dest_dir).resolve()), file_names=tuple(self.args.names),
        )  # fmt: skip
        return self._run([spec])

    def cmd_resume(self) -> int:
        return self._run([])

    def cmd_history(self) -> int:
        queue = self._queue()
        if self.args.export:
            count = queue.export_history(self.args.export, self.args.format)
            self.out({"exported": count, "file": self.args.export},
                     f"{count} records written to {self.args.export}")  # fmt: skip
            return EXIT_OK
        records = queue.history()
        self.out(records, "\n".join(
            f"{r.started_at}  {r.direction:8} {r.outcome:8} {r.bytes:>12}  {r.item_name}/"
            f"{r.file}  {r.verification}  {r.error}"
            for r in records
        ))  # fmt: skip
        return EXIT_OK

    def _run(self, specs: list[JobSpec]) -> int:
        queue = self._queue()
        queue.start(accept=self._mine)
        ids = [
            j.id for j in queue.jobs() if not j.state.finished and j.state is not JobState.PAUSED
        ]
        ids += [queue.add(spec) for spec in specs]
        try:
            results = [queue.wait(job_id) for job_id in ids]
        except KeyboardInterrupt:
            queue.shutdown()
            print("interrupted; `cl-transfer resume` continues", file=sys.stderr)
            return EXIT_FAILED
        queue.shutdown()
        self.out([_job_summary(j) for j in results],
                 "\n".join(_job_line(j) for j in results) or "nothing to do")  # fmt: skip
        failed = [j for j in results if j.state is not JobState.DONE]
        if not failed:
            return EXIT_OK
        if any(j.error_title == IntegrityError.title for j in failed):
            return EXIT_INTEGRITY
        return EXIT_FAILED


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
        "error": job.error_message or None,
    }  # fmt: skip


def _job_line(job: JobSnapshot) -> str:
    base = f"{job.spec.direction.value} {job.spec.item_name}: {job.state.value}"
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
    if isinstance(exc, errors.NotFound):
        return EXIT_NOT_FOUND
    if isinstance(exc, IntegrityError):
        return EXIT_INTEGRITY
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return Cli(args).run()
    except (ContentLibraryError, UsageError, ValueError) as exc:
        title = getattr(exc, "title", "Error")
        message = getattr(exc, "message", None) or str(exc)
        if args.json:
            print(json.dumps({"error": title, "message": message}))
        print(f"cl-transfer: {title}: {message}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else exit_code_for(exc)


if __name__ == "__main__":
    sys.exit(main())
