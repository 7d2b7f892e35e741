"""The download workflow (DownloadSession): create, prepare, poll, GET into NAME.part with
resume, verify, atomic rename, delete. A file appears under its final name only when verified."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from cl_desktop.api import (
    ChecksumInfo,
    DownloadFileInfo,
    PrepareStatus,
    errors,
)

from .context import KeepAlive, WorkflowContext, delete_session, end_session
from .control import Retrier, StallWatch, with_retries
from .errors import DiskFullError, IntegrityError, Interrupted, LocalFileError, TransferError
from .hashing import BackgroundHasher, BackgroundWriter, feed_file, file_digest
from .jobs import FileProgress, Phase, Verification
from .naming import safe_local_name, unique_path

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"


def run_download(ctx: WorkflowContext) -> None:
    client, control, report, spec = ctx.client, ctx.control, ctx.report, ctx.spec
    assert spec.item_id, "a download needs an item"
    item_id = spec.item_id
    dest = Path(spec.dest_dir)
    report.phase(Phase.CHECKING)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalFileError(f"cannot create the folder {dest}: {exc.strerror}") from exc
    if not os.access(dest, os.W_OK):
        raise LocalFileError(f"the folder {dest} is not writable")
    item = with_retries(control, lambda: client.items.get(item_id))
    report.item(item_id, item.name or item_id)
    item_files = {f.name: f for f in with_retries(control, lambda: client.item_files.list(item_id))}
    sizes = {name: f.size for name, f in item_files.items()}
    # hash while streaming in the algorithm the server reports, so verifying needs no re-read
    algorithms = {
        name: (f.checksum_info.effective_algorithm.hashlib_name if f.checksum_info else "sha1")
        for name, f in item_files.items()
    }

    live = _LiveSession(ctx, item_id)
    try:
        live.start()
        listed = with_retries(control, lambda: client.download_session_files.list(live.id))
        wanted = _select(listed, spec.file_names)
        targets = {f.name: dest / safe_local_name(f.name) for f in wanted}
        progress = [FileProgress(f.name, f.size or sizes.get(f.name) or 0) for f in wanted]
        report.files(progress)
        _check_free_space(dest, targets, {p.name: p.size for p in progress})
        total = sum(p.size for p in progress) or 1
        done_before = 0
        for entry in progress:
            algorithm = algorithms.get(entry.name, "sha1")
            final = _download_one(
                ctx, live, entry, targets[entry.name], done_before, total, algorithm
            )
            log.info("downloaded %s to %s", entry.name, final)
            done_before += entry.size
    except Interrupted:
        if live.id:
            _end_session(ctx, live.id, None)
        raise
    except errors.Unauthenticated:
        raise  # no login to end the session with: the next run of the job ends it
    except BaseException as exc:
        if live.id:
            _end_session(ctx, live.id, getattr(exc, "message", None) or str(exc))
        raise
    _delete_session(ctx, live.id)


class _LiveSession:
    """The job's download session, replaced by a new one when a server restart lost it."""

    RENEWALS = 3  # per job: a server that loses every session is not followed for ever

    def __init__(self, ctx: WorkflowContext, item_id: str) -> None:
        self._ctx = ctx
        self._item_id = item_id
        self._renewals = 0
        self._token = ctx.client_token
        self.id = ""
        self.keep_alive = KeepAlive(lambda p: None, None)

    def start(self) -> None:
        client, control = self._ctx.client, self._ctx.control
        self.id = with_retries(
            control,
            lambda: client.download_sessions.create(self._item_id, client_token=self._token),
        )
        self._ctx.report.session(self.id)
        session = with_retries(control, lambda: client.download_sessions.get(self.id))
        # keep-alives get the same retries as every call (a restart must not end the job)
        self.keep_alive = KeepAlive(
            lambda p: with_retries(
                control, lambda: client.download_sessions.keep_alive(self.id, progress=p)
            ),
            session.expiration_time,
        )

    def renew(self, why: BaseException) -> None:
        self._renewals += 1
        if self._renewals > self.RENEWALS:
            raise why
        log.info("download session %s is gone (%s); starting a new one", self.id, why)
        delete_session(self._ctx.client.download_sessions, self.id)
        self._ctx.report.session(None)
        self.id = ""
        self._token = str(uuid.uuid4())  # the old token may name the lost session
        self.start()


def _select(listed: tuple[DownloadFileInfo, ...], names: tuple[str, ...]) -> list[DownloadFileInfo]:
    if not listed:
        raise TransferError("the item has no files to download")
    if not names:
        return list(listed)
    by_name = {f.name: f for f in listed}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise TransferError(f"the item has no file named {', '.join(missing)}")
    return [by_name[n] for n in names]


def _check_free_space(dest: Path, targets: dict[str, Path], sizes: dict[str, int]) -> None:
    needed = 0
    for name, target in targets.items():
        part = target.with_name(target.name + PART_SUFFIX)
        have = part.stat().st_size if part.exists() else 0
        needed += max(0, sizes.get(name, 0) - have)
    free = shutil.disk_usage(dest).free
    if needed > free:
        raise DiskFullError(f"{dest} has {free:,} bytes free, the download needs {needed:,}")


def _wait_prepared(
    ctx: WorkflowContext, session_id: str, name: str, keep_alive: KeepAlive
) -> DownloadFileInfo:
    client, control = ctx.client, ctx.control
    info = with_retries(control, lambda: client.download_session_files.prepare(session_id, name))
    delay = 0.05
    while info.status is not PrepareStatus.PREPARED:
        if info.status is PrepareStatus.ERROR:
            raise TransferError(f"the server could not prepare {name}: {info.error_message}")
        control.wait(delay)
        delay = min(2.0, delay * 1.5)  # govc polls every second; start faster, back off
        keep_alive.maybe()
        info = with_retries(control, lambda: client.download_session_files.get(session_id, name))
    return info


def _download_one(
    ctx: WorkflowContext,
    live: _LiveSession,
    entry: FileProgress,
    target: Path,
    done_before: int,
    total: int,
    algorithm: str,
) -> Path:
    client, control, report = ctx.client, ctx.control, ctx.report
    report.phase(Phase.PREPARING, entry.name)
    uri = _prepared_uri(ctx, live, entry.name)
    part = target.with_name(target.name + PART_SUFFIX)
    report.phase(Phase.TRANSFERRING)
    retrier = Retrier(control, stopped=f"the server stopped sending {entry.name}")

    def on_progress(written: int, block: int) -> None:
        control.check()
        control.throttle(block)
        report.progress(entry.name, written)
        live.keep_alive.maybe(min(99, (done_before + written) * 100 // total))

    logins = 0
    while True:
        control.check()
        try:
            if retrier.attempt:  # after a wait: the session must still be there
                live.keep_alive.now()
            written, streamed = _get_once(ctx, uri, part, entry, algorithm, on_progress, retrier)
            retrier.succeeded()
            break
        except errors.Unauthenticated:
            logins += 1
            if logins > 2:
                raise
            with_retries(control, client.renew_login)
        except errors.NotFound as exc:  # a restarted server lost the session: a new one
            live.renew(exc)
            uri = _prepared_uri(ctx, live, entry.name)
        except errors.ProtocolError as exc:  # a short body: the connection broke
            retrier.failed(errors.TransportError(exc.detail, operation=exc.operation))
        except Exception as exc:
            retrier.failed(exc, stall=True)
        report.phase(Phase.TRANSFERRING)

    report.phase(Phase.VERIFYING, entry.name)
    verification, checksum = _verify(
        ctx, _file_info(ctx, live, entry.name), entry, part, written, algorithm, streamed
    )
    final = unique_path(target)
    os.replace(part, final)  # atomic: the final name only ever holds a complete, checked file
    report.file_done(entry.name, verification, checksum, live.id)
    return final


def _prepared_uri(ctx: WorkflowContext, live: _LiveSession, name: str) -> str:
    info = _wait_prepared(ctx, live.id, name, live.keep_alive)
    if info.download_endpoint is None:
        raise TransferError(f"the server gave no download address for {name}")
    return info.download_endpoint.uri


def _file_info(ctx: WorkflowContext, live: _LiveSession, name: str) -> DownloadFileInfo:
    """The session's facts about a downloaded file (size, checksum), from a new session if a
    restarted server lost this one."""
    try:
        return with_retries(
            ctx.control, lambda: ctx.client.download_session_files.get(live.id, name)
        )
    except errors.NotFound as exc:
        live.renew(exc)
        return _wait_prepared(ctx, live.id, name, live.keep_alive)


def _verify(
    ctx: WorkflowContext,
    info: DownloadFileInfo,
    entry: FileProgress,
    part: Path,
    written: int,
    streamed_algorithm: str,
    streamed_hex: str,
) -> tuple[Verification, str | None]:
    client, control = ctx.client, ctx.control
    checksum: ChecksumInfo | None = info.checksum_info
    if checksum is None and ctx.spec.item_id:  # fall back to the item's File.Info
        item_id = ctx.spec.item_id
        try:
            checksum = with_retries(
                control, lambda: client.item_files.get(item_id, entry.name)
            ).checksum_info
        except errors.VapiError:
            checksum = None
    expected_size = info.size or entry.size
    if expected_size and written != expected_size:
        part.unlink(missing_ok=True)  # its bytes are not the server's file: never resume them
        raise IntegrityError(f"{entry.name}: got {written} bytes, the server has {expected_size}")
    if checksum is None or not checksum.checksum:
        return (Verification.SIZE_ONLY if expected_size else Verification.UNVERIFIED), None
    algorithm = checksum.effective_algorithm
    if algorithm.hashlib_name == streamed_algorithm:
        ours = streamed_hex
    else:  # one read of the local copy in the server's algorithm (page cache makes it cheap)
        ours = file_digest(part, algorithm.hashlib_name, written)
    if ours != checksum.checksum.lower():
        part.unlink(missing_ok=True)  # a corrupt partial must not be resumed either
        raise IntegrityError(
            f"{entry.name}: {algorithm.value} of the download is {ours}, the server's is "
            f"{checksum.checksum.lower()}"
        )
    return Verification.VERIFIED, f"{algorithm.value}:{ours}"


def _get_once(
    ctx: WorkflowContext,
    uri: str,
    part: Path,
    entry: FileProgress,
    algorithm: str,
    on_progress: Callable[[int, int], None],
    retrier: Retrier,
) -> tuple[int, str]:
    """One GET into NAME.part, resuming from its size: (bytes in the file, its digest)."""
    offset = part.stat().st_size if part.exists() else 0
    digest = BackgroundHasher(algorithm)
    policy = ctx.control.policy
    op = f"download {entry.name}"
    try:
        with (
            _open_part(part) as sink,
            ctx.client.open_download(
                uri, offset, op=op, stall_seconds=policy.stall_seconds
            ) as stream,
        ):
            retrier.answered()
            watch = StallWatch(retrier, op, resumable=True)
            if stream.offset:  # resumed: the digest must cover what is already on disk
                feed_file(part, digest, stream.offset)
            sink.seek(stream.offset)
            sink.truncate()
            writer = BackgroundWriter(sink, lambda exc: _write_error(exc, part))
            try:
                written = stream.offset
                size = stream.total_size or entry.size
                for chunk in stream.chunks():
                    if entry.size and written + len(chunk) > entry.size:
                        part.unlink(missing_ok=True)  # not the file the server listed
                        raise IntegrityError(
                            f"{entry.name}: the server sent more than its {entry.size:,} bytes"
                        )
                    writer.write(chunk)
                    digest.update(chunk)
                    written += len(chunk)
                    watch.observe(len(chunk))
                    on_progress(written, len(chunk))
                if size and written != size:
                    raise errors.ProtocolError(
                        f"the download of {entry.name} ended at {written} of {size} bytes"
                    )
                writer.finish()  # durable before the rename makes it final
            finally:
                writer.close()
    finally:
        hexdigest = digest.hexdigest()
    return written, hexdigest


def _open_part(part: Path):  # type: ignore[no-untyped-def]
    try:
        return part.open("r+b" if part.exists() else "w+b")
    except OSError as exc:
        raise LocalFileError(f"cannot write {part}: {exc.strerror}") from exc


def _write_error(exc: OSError, part: Path) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            f"the disk holding {part.parent} is full; {part.name} keeps what arrived"
        )
    return LocalFileError(f"cannot write {part}: {exc.strerror}")


def _end_session(ctx: WorkflowContext, session_id: str, failure: str | None) -> None:
    if end_session(ctx.client.download_sessions, session_id, failure):
        ctx.report.session(None)


def _delete_session(ctx: WorkflowContext, session_id: str) -> None:
    if delete_session(ctx.client.download_sessions, session_id):
        ctx.report.session(None)
