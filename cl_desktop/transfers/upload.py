"""The upload workflow (UpdateSession): pre-flight, create, add, PUT, keep-alive, validate,
complete, verify, delete. Every way out but a pause ends the server session; a paused job keeps
its session (the queue keeps it alive) and reuses it, with the files already received, when it
runs again."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import BinaryIO, TypeVar, cast

from cl_desktop.api import (
    AddSpec,
    ChecksumAlgorithm,
    ChecksumInfo,
    ContentLibraryClient,
    FileInfo,
    SourceType,
    TransferStatus,
    UpdateFileInfo,
    UpdateSessionState,
    errors,
)
from cl_desktop.api.resources import new_client_token
from cl_desktop.api.streams import Block

from .context import CleanupKind, KeepAlive, Reporter, WorkflowContext, delete_session, end_session
from .control import Retrier, StallWatch, with_retries
from .errors import (
    IntegrityError,
    Interrupted,
    ItemNameTaken,
    LocalFileError,
    PreflightError,
    TransferError,
    describe,
)
from .hashing import BackgroundHasher, file_digest
from .jobs import FileProgress, JobSpec, Phase, Verification
from .naming import infer_item_type, item_name_for, unique_item_name
from .ova import ova_files
from .ovf import LocalFile, local_file, manifest_mismatch, ovf_files, regular_file
from .signatures import settle_warnings

log = logging.getLogger(__name__)

T = TypeVar("T")
SESSION_REPLACEMENTS = 3  # a server restart loses update sessions: start a new one, this often


class SourceChanged(LocalFileError):
    title = "Local file changed"
    hint = "Retry once nothing writes to the file any more."


def _changed(f: LocalFile) -> SourceChanged:
    return SourceChanged(f"{f.name} changed while uploading")


def collect_upload_files(paths: tuple[str, ...]) -> list[LocalFile]:
    """Pre-flight: every file exists, is readable, non-empty; an .ovf brings its files, an
    .ova its members (slices of the archive)."""
    return collect_upload_plan(paths)[0]


def collect_upload_plan(paths: tuple[str, ...]) -> tuple[list[LocalFile], list[str]]:
    """`collect_upload_files`, and the notes the job row should show about them."""
    if not paths:
        raise PreflightError("no files were given")
    files: list[LocalFile] = []
    notes: list[str] = []
    for raw in paths:
        path = Path(raw)
        regular_file(path)  # never opens a FIFO or device (it would block for ever)
        if not os.access(path, os.R_OK):
            raise PreflightError(f"{path} cannot be read (permission denied)")
        if path.suffix.lower() == ".ovf":
            files.extend(ovf_files(path))
        elif path.suffix.lower() == ".ova":
            contents = ova_files(path)
            files.extend(contents.files)
            notes.extend(contents.notes)
        else:
            files.append(local_file(path, path.name))
    names = [f.name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PreflightError(f"two files would get the same name in the item: {duplicates}")
    for f in files:
        if f.size == 0:
            raise PreflightError(f"{f.name} is empty (0 bytes); Content Library refuses it")
    return files, notes


def choose_item_name(spec: JobSpec, existing: Iterable[str]) -> str:
    """The name a new item gets: the asked one (or the first file's), made unique when the
    spec says so ("big-2g (2)"); a clash is an error otherwise. Shown before, recorded after."""
    name = spec.item_name or item_name_for(Path(spec.paths[0]).name)
    taken = set(existing)
    if spec.unique_name:
        return unique_item_name(name, taken)
    if name.lower() in {n.lower() for n in taken}:
        raise ItemNameTaken(f"the library already has an item named {name!r}")
    return name


def resolve_item(ctx: WorkflowContext) -> str:
    """The target item: the given one, or a new one named after the (first) file."""
    spec, client = ctx.spec, ctx.client
    if spec.item_id:
        return spec.item_id
    existing = [
        m.name or ""
        for m in with_retries(ctx.control, lambda: client.items.list_models(spec.library_id))
    ]
    name = choose_item_name(spec, existing)
    item_type = spec.item_type or infer_item_type(Path(spec.paths[0]).name)
    try:
        item_id = with_retries(
            ctx.control,
            lambda: client.items.create(
                spec.library_id, name, type=item_type, client_token=ctx.client_token
            ),
        )
    except errors.AlreadyExists as exc:
        raise ItemNameTaken(f"the library already has an item named {name!r}") from exc
    ctx.report.item(item_id, name, created=True)  # recorded at once: deleted if left empty
    return item_id


def run_upload(ctx: WorkflowContext) -> None:
    report = ctx.report
    report.phase(Phase.CHECKING)
    files, notes = collect_upload_plan(ctx.spec.paths)
    if not ctx.resume_session:  # a resumed one keeps showing what it kept until it knows more
        report.files([FileProgress(f.name, f.size) for f in files])
    note = "; ".join(notes)
    if note:
        report.note(note)
    created = ctx.item_created or not ctx.spec.item_id  # by this run or an earlier one
    item_id = resolve_item(ctx)
    with drop_if_left_empty(ctx, item_id, created):
        _upload_into(ctx, item_id, files, note)


@contextmanager
def drop_if_left_empty(ctx: WorkflowContext, item_id: str, created: bool) -> Iterator[None]:
    """Around filling `item_id`: an item the job `created` is deleted when the filling ends
    without filling it (not on a pause, which keeps it for the resume, nor when the login is
    lost, which a new login continues)."""
    try:
        yield
    except Interrupted as stop:
        if created and not stop.pause:  # a paused job keeps its item for the resume
            drop_empty_item(ctx.client, item_id, ctx.report)
        raise
    except errors.Unauthenticated:
        raise  # the login is lost, not the upload: the item stays for the run after a login
    except BaseException:
        if created:
            drop_empty_item(ctx.client, item_id, ctx.report)
        raise


def delete_if_empty(client: ContentLibraryClient, item_id: str) -> None:
    try:
        if not client.item_files.list(item_id):
            client.items.delete(item_id)
    except errors.NotFound:
        pass  # already gone


def drop_empty_item(client: ContentLibraryClient, item_id: str, report: Reporter) -> None:
    """An item a job created must not stay behind empty (the vSphere Client's failing); when
    the server cannot be asked, the queue remembers to delete it once it is back."""
    try:
        delete_if_empty(client, item_id)
    except Exception as exc:
        log.warning("could not remove the empty item %s now: %s", item_id, exc)
        report.cleanup_later(CleanupKind.ITEM, item_id)
    report.item("", "")


def _upload_into(
    ctx: WorkflowContext, item_id: str, files: list[LocalFile], note: str = ""
) -> None:
    client, control, report = ctx.client, ctx.control, ctx.report
    item_name = ctx.spec.item_name or client.items.get(item_id).name or item_id
    report.item(item_id, item_name)

    control.check()
    session_id, (digests, transient) = fill_session(
        ctx, item_id, files, lambda sid, received: _send_files(ctx, sid, files, received, note)
    )

    report.phase(Phase.VERIFYING)
    stored = {f.name: f for f in with_retries(control, lambda: client.item_files.list(item_id))}
    for f in files:
        if f.name not in stored and f.name in transient:
            # .mf/.cert are consumed by the server (keep_in_storage false) and not kept
            report.file_done(f.name, Verification.CONSUMED, None, session_id)
            continue
        verification, checksum = verify_upload(f, stored.get(f.name), digests[f.name])
        report.file_done(f.name, verification, checksum, session_id)


def fill_session(
    ctx: WorkflowContext,
    item_id: str,
    files: Sequence[LocalFile],
    send: Callable[[str, dict[str, UpdateFileInfo]], T],
) -> tuple[str, T]:
    """Open the item's update session (or reuse an earlier run's, with the `files` it holds
    whole: only their names and sizes are read), `send(session id, received)` the files into
    it, finish and delete it: (the session's id, what `send` returned). A session the server
    lost is replaced and everything sent again; every way out but a pause ends the session."""
    report = ctx.report
    session_id, received = _open_session(ctx, item_id, list(files))
    for replacement in range(SESSION_REPLACEMENTS + 1):
        try:
            result = send(session_id, received)
            report.phase(Phase.FINISHING)
            _finish_session(ctx, session_id)
            break
        except Interrupted as stop:
            if not stop.pause:  # paused: the session stays, the queue keeps it alive
                _end_session(ctx, session_id, None)
            raise
        except (errors.NotFound, errors.NotAllowedInCurrentState) as exc:
            # the session itself may be gone (a server restart loses them): start a new one
            if replacement == SESSION_REPLACEMENTS or not _session_lost(ctx, session_id):
                _end_session(ctx, session_id, describe(exc)[1])
                raise
            log.info("update session %s is gone from the server; starting a new one", session_id)
            report.session(None)
            report.note("the server lost the upload session; the files are sent again")
            session_id, received = _create_session(ctx, item_id, replacing=True), {}
        except errors.Unauthenticated:
            raise  # no login to end it with: it stays ACTIVE for the run after a new login
        except BaseException as exc:
            _end_session(ctx, session_id, describe(exc)[1])
            raise
    _delete_session(ctx, session_id)
    return session_id, result


def update_keep_alive(ctx: WorkflowContext, session_id: str) -> KeepAlive:
    """The keep-alive of an update session (with the same retries as every call: a server
    restart must not end the job), from the session's expiry and progress."""
    client, control = ctx.client, ctx.control
    session = with_retries(control, lambda: client.update_sessions.get(session_id))
    return KeepAlive(
        lambda p: with_retries(
            control, lambda: client.update_sessions.keep_alive(session_id, client_progress=p)
        ),
        session.expiration_time,
        max_interval=control.policy.keep_alive_max,
        progress=session.client_progress or 0,
    )


# How a job's error says RESOURCE_BUSY (the window offers to end the holding session).
ITEM_BUSY = "another update session holds this item"


def _create_session(ctx: WorkflowContext, item_id: str, replacing: bool = False) -> str:
    # the job's token makes a repeated create idempotent; a replacement needs its own
    token = new_client_token() if replacing else ctx.client_token
    try:
        session_id = with_retries(
            ctx.control,
            lambda: ctx.client.update_sessions.create(item_id, client_token=token),
        )
    except errors.ResourceBusy as exc:
        raise TransferError(f"{ITEM_BUSY} ({exc.detail})", operation="start upload") from exc
    ctx.report.session(session_id)
    return session_id


def _open_session(
    ctx: WorkflowContext, item_id: str, files: list[LocalFile]
) -> tuple[str, dict[str, UpdateFileInfo]]:
    """The session of an earlier (paused, stopped or killed) run when the server still has it
    ACTIVE, with the files it already received completely; else a new session on the item."""
    client, control, previous = ctx.client, ctx.control, ctx.resume_session
    if previous:
        if still_active(ctx, previous, item_id):
            try:
                infos = with_retries(control, lambda: client.update_session_files.list(previous))
            except (TypeError, ValueError):  # a file list this client cannot read: send all
                infos = ()
            sizes = {f.name: f.size for f in files}
            received = {i.name: i for i in infos if _received(i, sizes.get(i.name))}
            again = [
                i.name
                for i in infos
                if i.name in sizes and i.name not in received and (i.bytes_transferred or 0) > 0
            ]
            log.info("reusing update session %s (%d files received)", previous, len(received))
            if again:
                ctx.report.note(resend_note(again))
            return previous, received
        _end_session(ctx, previous, None)
        return _create_session(ctx, item_id, replacing=True), {}
    return _create_session(ctx, item_id), {}


def still_active(ctx: WorkflowContext, session_id: str, item_id: str) -> bool:
    """Whether the server still has `session_id` (an earlier run's) ACTIVE on `item_id`."""
    try:
        session = with_retries(ctx.control, lambda: ctx.client.update_sessions.get(session_id))
    except errors.NotFound:
        return False
    return session.state is UpdateSessionState.ACTIVE and session.library_item_id in (None, item_id)


def resend_note(names: Iterable[str]) -> str:
    """What the row says when a partly sent file must be sent again: there is no ranged PUT."""
    listed = list(names)
    their = "its" if len(listed) == 1 else "their"
    return (
        f"{', '.join(listed)} will be sent again from {their} start "
        "(uploads cannot resume mid-file)"
    )


def _received(info: UpdateFileInfo, size: int | None) -> bool:
    """Sent by us (not carried over from the item) and received whole."""
    return (
        size is not None
        and info.source_type is SourceType.PUSH
        and info.status is TransferStatus.READY
        and (info.size if info.size is not None else info.bytes_transferred) == size
    )


def _session_lost(ctx: WorkflowContext, session_id: str) -> bool:
    """A session call was refused: is the session itself gone (a server restart, expiry)?"""
    try:
        with_retries(ctx.control, lambda: ctx.client.update_sessions.get(session_id))
    except errors.NotFound:
        return True
    except Exception:
        return False
    return False


def _finish_session(ctx: WorkflowContext, session_id: str) -> None:
    settle_warnings(ctx, session_id)  # a signed OVF's preview warnings: allowed, or asked
    _validate(ctx, session_id)
    with_retries(ctx.control, lambda: ctx.client.update_sessions.complete(session_id))
    _wait_done(ctx, session_id)


def _already_sent(f: LocalFile, info: UpdateFileInfo) -> str | None:
    """The SHA-1 of the local file (or slice) when the server's copy (from an earlier run) is
    still the same bytes; None when it must be sent again."""
    _check_unchanged(f)
    sha1 = file_digest(f.path, "sha1", f.size, f.offset)
    theirs = info.checksum_info
    if theirs is None or not theirs.checksum:
        return sha1  # the server verifies on complete; the item's checksum is compared after
    algorithm = theirs.effective_algorithm
    ours = sha1
    if algorithm is not ChecksumAlgorithm.SHA1:
        ours = file_digest(f.path, algorithm.hashlib_name, f.size, f.offset)
    return sha1 if ours == theirs.checksum.lower() else None


def _send_files(
    ctx: WorkflowContext,
    session_id: str,
    files: list[LocalFile],
    received: dict[str, UpdateFileInfo],
    note: str = "",
) -> tuple[dict[str, str], set[str]]:
    """Add and PUT each file not `received` already, up to `parallel_puts` at once (one
    session; each PUT with its own retries, stall watch and progress); returns ({name: sha1
    hex hashed while streaming}, the names the server will not keep in storage). `note` is
    the job's standing note (what a "sent again" note gives way to)."""
    control, report = ctx.control, ctx.report
    sent = _SentBytes(sum(f.size for f in files), update_keep_alive(ctx, session_id))
    report.files([FileProgress(f.name, f.size, f.size if f.name in received else 0) for f in files])
    digests: dict[str, str] = {}
    transient: set[str] = set()
    pending: list[LocalFile] = []
    for f in files:
        info = received.get(f.name)
        if info is not None and (sha1 := _already_sent(f, info)) is not None:
            digests[f.name] = sha1
            if info.keep_in_storage is False:
                transient.add(f.name)
            report.progress(f.name, f.size)
            report.file_sent(f.name)
            sent.add(f.size)
            continue
        pending.append(f)
    if pending:
        report.phase(Phase.TRANSFERRING)
    # vCenter refuses a template's manifest or certificate added after its descriptor: those
    # go first, one after the other, and only then the rest in parallel
    early = [f for f in pending if f.name.lower().endswith((".mf", ".cert"))]
    rest = [f for f in pending if f not in early]
    workers = max(1, min(control.policy.parallel_puts, len(rest)))
    abandon = threading.Event()  # a sibling PUT failed: the others stop at their next block
    results = [
        *run_parallel([partial(_send_file, ctx, session_id, f, sent, note, abandon)
                       for f in early], 1, abandon),
        *run_parallel([partial(_send_file, ctx, session_id, f, sent, note, abandon)
                       for f in rest], workers, abandon),
    ]  # fmt: skip
    for f, (keep, sha1) in zip(early + rest, results, strict=True):
        digests[f.name] = sha1
        if not keep:
            transient.add(f.name)
    return digests, transient


class _Abandoned(BaseException):
    """Ends a PUT whose sibling failed (not an Exception: no retry catches it)."""


def run_parallel(tasks: list[Callable[[], T]], workers: int, abandon: threading.Event) -> list[T]:
    """Each task's result, in order, running up to `workers` at once (the first task on the
    calling thread when `workers` is 1). The first failure sets `abandon`, the others end
    soon after (they watch it), and it is raised once all have ended."""
    if workers <= 1:
        return [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="put") as pool:
        futures = [pool.submit(task) for task in tasks]
        wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.done() and f.exception() is not None for f in futures):
            abandon.set()
        wait(futures)
    errors_seen = [f.exception() for f in futures if f.exception() is not None]
    first = next((e for e in errors_seen if not isinstance(e, _Abandoned)), None)
    if first is not None:  # an interruption (cancel, pause) wins over a sibling's abandon
        interrupted = next((e for e in errors_seen if isinstance(e, Interrupted)), None)
        raise interrupted or first
    return [f.result() for f in futures]


class _SentBytes:
    """The bytes of the session's files sent so far (all PUTs together), for the keep-alive's
    client progress."""

    def __init__(self, total: int, keep_alive: KeepAlive) -> None:
        self._total = total or 1
        self.keep_alive = keep_alive
        self._lock = threading.Lock()
        self._done = 0

    def add(self, nbytes: int) -> None:
        with self._lock:
            self._done += nbytes
            done = self._done
        self.keep_alive.maybe(min(99, done * 100 // self._total))


def _send_file(
    ctx: WorkflowContext,
    session_id: str,
    f: LocalFile,
    sent: _SentBytes,
    note: str,
    abandon: threading.Event,
) -> tuple[bool, str]:
    """Add and PUT one file, retried on its own: (kept in storage?, its SHA-1)."""
    client, control, report = ctx.client, ctx.control, ctx.report
    retrier = Retrier(control, stopped=f"the server stopped receiving {f.name}")
    logins = 0
    while True:
        control.check()
        last = [0]
        watch = StallWatch(retrier, f"upload {f.name}")

        def on_progress(done: int, last: list[int] = last, watch: StallWatch = watch) -> None:
            control.check()
            if abandon.is_set():
                raise _Abandoned
            watch.observe(done - last[0])
            control.throttle(done - last[0])
            sent.add(done - last[0])
            last[0] = done
            report.progress(f.name, done)

        try:
            if retrier.attempt:  # after a wait: the session must still be there
                sent.keep_alive.now()
            keep, sha1 = _put_once(ctx, session_id, f, on_progress)
            report.file_sent(f.name)
            report.note(note)  # a "sent again" note is done with
            retrier.succeeded()
            return keep, sha1
        except errors.Unauthenticated:
            sent.add(-last[0])
            logins += 1
            if logins > 2:
                raise
            with_retries(control, client.renew_login)  # the login expired during a long PUT
        except Exception as exc:
            sent.add(-last[0])
            if abandon.is_set():
                raise _Abandoned from exc
            log.info("PUT of %s failed: %s", f.name, exc)
            retrier.failed(exc, stall=True)


def _put_once(
    ctx: WorkflowContext, session_id: str, f: LocalFile, on_progress: Callable[[int], None]
) -> tuple[bool, str]:
    """Add the file (again) and PUT it once: (kept in storage?, SHA-1 of what was sent)."""
    client = ctx.client
    spec = AddSpec(f.name, size=f.size, checksum_info=_manifest_checksum(f))
    info = with_retries(ctx.control, lambda: client.update_session_files.add(session_id, spec))
    if info.upload_endpoint is None:
        raise TransferError(f"the server gave no upload address for {f.name}")
    digest = BackgroundHasher("sha1")  # SHA-1: the server's default checksum algorithm
    # an .ova member's manifest line is checked in this same read (it is not pre-hashed)
    listed = _manifest_hasher(f)
    try:
        _check_unchanged(f)  # against pre-flight: what was checked is what is sent
        with _open_local(f) as source:
            client.upload(
                info.upload_endpoint.uri,
                cast(BinaryIO, _WholeFile(source, f)),
                f.size,
                progress=on_progress,
                on_data=digest.update if listed is None else _both(digest, listed),
                op=f"upload {f.name}",
                stall_seconds=ctx.control.policy.stall_seconds,
            )
        _check_unchanged(f)  # appended to (or rewritten) while its bytes went up
    finally:
        sha1 = digest.hexdigest()
        listed_hex = listed.hexdigest() if listed is not None else sha1
    _check_manifest(f, listed_hex)
    _check_received(ctx, session_id, f, sha1)
    return info.keep_in_storage is not False, sha1


def _manifest_hasher(f: LocalFile) -> BackgroundHasher | None:
    """A second hasher when `f` is checked against its manifest while streaming (a slice of an
    .ova) and the manifest lists it in another algorithm than SHA-1."""
    if not _checked_while_streaming(f) or f.manifest_checksum is None:
        return None
    if f.manifest_checksum[0] == "SHA1":
        return None
    return BackgroundHasher(f.manifest_checksum[0].lower())


def _both(first: BackgroundHasher, second: BackgroundHasher) -> Callable[[Block], None]:
    def update(block: Block) -> None:
        first.update(block)
        second.update(block)

    return update


def _checked_while_streaming(f: LocalFile) -> bool:
    """An .ova member: the archive is read once, so its manifest line is compared with the
    hash of what was sent (loose files were hashed at pre-flight, ovf.verify_manifest)."""
    return f.container_size is not None and f.manifest_checksum is not None


def _check_manifest(f: LocalFile, streamed_hex: str) -> None:
    """What was sent must be what the manifest lists, before complete: a wrong manifest (or a
    damaged member) never becomes the item's content. `streamed_hex` is in its algorithm."""
    listed = f.manifest_checksum
    if _checked_while_streaming(f) and listed is not None and listed[1] != streamed_hex:
        raise IntegrityError(manifest_mismatch(f.name, listed[0]))


def _check_received(ctx: WorkflowContext, session_id: str, f: LocalFile, sha1: str) -> None:
    """Compare the server's SHA-1 of what it received with ours before completing, so that
    bytes damaged on the way never become the item's content."""
    try:
        got = ctx.client.update_session_files.get(session_id, f.name)
    except Exception as exc:  # best effort (vcsim answers this without a name)
        log.debug("no received-file check for %s: %s", f.name, exc)
        return  # the item's checksum is still compared after complete
    theirs = got.checksum_info
    if got.status is not TransferStatus.READY or theirs is None or not theirs.checksum:
        return  # an ERROR status is named by validate
    if theirs.effective_algorithm is ChecksumAlgorithm.SHA1 and theirs.checksum.lower() != sha1:
        raise IntegrityError(
            f"{f.name}: the server received bytes whose SHA1 is {theirs.checksum.lower()}, "
            f"the ones sent have {sha1}"
        )


def _check_unchanged(f: LocalFile) -> None:
    try:
        now = f.path.stat()
    except OSError as exc:
        raise _changed(f) from exc
    if now.st_size != f.path_size or (f.mtime_ns is not None and now.st_mtime_ns != f.mtime_ns):
        raise _changed(f)


class _WholeFile:
    """The source of a PUT: exactly the file's `size` bytes (from its offset, already sought),
    and ends the PUT at once (not retried) when the file turns out shorter than its size at
    pre-flight, instead of leaving the server waiting for bytes."""

    def __init__(self, source: BinaryIO, f: LocalFile) -> None:
        self._source, self._file, self._read = source, f, 0

    def read(self, n: int = -1) -> bytes:
        left = self._file.size - self._read
        chunk = self._source.read(left if n < 0 else min(n, left)) if left > 0 else b""
        self._read += len(chunk)
        if not chunk and self._read < self._file.size:
            raise _changed(self._file)
        return chunk

    def readinto(self, space: memoryview) -> int:
        left = self._file.size - self._read
        n = self._source.readinto(space[:left]) if left > 0 else 0  # type: ignore[attr-defined]
        self._read += n
        if not n and self._read < self._file.size:
            raise _changed(self._file)
        return n


def _open_local(f: LocalFile) -> BinaryIO:
    """`f`'s file, positioned at its first byte (a member's offset in an .ova)."""
    try:
        source = f.path.open("rb")
    except OSError as exc:
        raise LocalFileError(f"cannot read {f.path}: {exc.strerror}") from exc
    try:
        source.seek(f.offset)
    except OSError as exc:
        source.close()
        raise LocalFileError(f"cannot read {f.path}: {exc.strerror}") from exc
    return source


def _manifest_checksum(f: LocalFile) -> ChecksumInfo | None:
    if f.manifest_checksum is None:
        return None
    algorithm, value = f.manifest_checksum
    return ChecksumInfo(value, ChecksumAlgorithm(algorithm))


def _validate(ctx: WorkflowContext, session_id: str) -> None:
    result = with_retries(ctx.control, lambda: ctx.client.update_session_files.validate(session_id))
    if result is None or not result.has_errors:
        return  # None: the server gives no validation result (vcsim); complete still checks
    problems = [f"{name} was not received" for name in result.missing_files]
    problems += [f"{bad.name}: {bad.error_message}" for bad in result.invalid_files]
    raise TransferError("the server did not accept the files: " + "; ".join(problems))


def _wait_done(ctx: WorkflowContext, session_id: str) -> None:
    """PUSH sessions are DONE when complete returns; PULL ones need polling."""
    delay = 0.2
    for _ in range(600):
        session = with_retries(ctx.control, lambda: ctx.client.update_sessions.get(session_id))
        if session.state is UpdateSessionState.DONE:
            return
        if session.state is UpdateSessionState.ERROR:
            raise TransferError(f"the server failed the upload: {session.error_message}")
        if session.state is UpdateSessionState.CANCELED:
            raise TransferError("the upload session was canceled on the server")
        ctx.control.wait(delay)
        delay = min(3.0, delay * 2)
    raise TransferError("the server did not finish the upload in time")


def verify_upload(
    local: LocalFile, stored: FileInfo | None, sha1_hex: str
) -> tuple[Verification, str | None]:
    """Compare what the item now holds with what was streamed."""
    if stored is None:
        raise IntegrityError(f"{local.name} is missing from the item after the upload")
    if stored.size is not None and stored.size != local.size:
        raise IntegrityError(
            f"{local.name}: the server stored {stored.size} bytes, {local.size} were sent"
        )
    if stored.checksum_info is None or not stored.checksum_info.checksum:
        size_ok = stored.size == local.size
        return (Verification.SIZE_ONLY if size_ok else Verification.UNVERIFIED), None
    algorithm = stored.checksum_info.effective_algorithm
    if algorithm is ChecksumAlgorithm.SHA1:
        ours = sha1_hex
    else:  # the server hashed with another algorithm than the one streamed: one more read
        ours = file_digest(local.path, algorithm.hashlib_name, local.size, local.offset)
    theirs = stored.checksum_info.checksum.lower()
    if ours != theirs:
        raise IntegrityError(
            f"{local.name}: {algorithm.value} on the server is {theirs}, the local file's is {ours}"
        )
    return Verification.VERIFIED, f"{algorithm.value}:{ours}"


def _end_session(ctx: WorkflowContext, session_id: str, failure: str | None) -> None:
    if not end_session(ctx.client.update_sessions, session_id, failure):
        ctx.report.cleanup_later(CleanupKind.UPDATE_SESSION, session_id)
    ctx.report.session(None)


def _delete_session(ctx: WorkflowContext, session_id: str) -> None:
    if not delete_session(ctx.client.update_sessions, session_id):
        ctx.report.cleanup_later(CleanupKind.UPDATE_SESSION, session_id)
    ctx.report.session(None)
