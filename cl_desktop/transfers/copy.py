"""The copy workflow: an item of one library into another, on the same server or another one.

Within one server (one account) the server copies the item itself (the item API's copy
operation), unless an existing item is to be updated; a refusal falls back to streaming.
Streaming is one job with two sessions: the source's DownloadSession (prepare each file,
GET it) and the target's UpdateSession (add each file with its size and the source's
checksum, PUT it). The GET's bytes are read straight into the PUT body's few reused blocks
(`streams.BlockRing`): no local copy, memory bounded whatever the size. A source that drops
its connection is read again with Range while the PUT goes on; a PUT that must be sent again
reads the file again from the source's start (there is no ranged PUT). What was streamed is
hashed on the way and compared with the source's checksum before complete, and with the
target's after it. The session and item rules are the upload's and the download's: every
exit but a pause ends both sessions, an item the job created is deleted if it stays empty,
and what an unreachable server keeps goes to the store's cleanups for that server.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import BinaryIO, TypeVar, cast

from cl_desktop.api import (
    AddSpec,
    ChecksumAlgorithm,
    ChecksumInfo,
    ContentLibraryClient,
    FileInfo,
    ItemModel,
    UpdateFileInfo,
    errors,
)
from cl_desktop.api.streams import DownloadStream

from .context import CleanupKind, Reporter, WorkflowContext
from .control import Retrier, StallWatch, with_retries
from .download import _delete_session as _delete_download
from .download import _end_session as _end_download
from .download import _LiveSession, _prepared_uri
from .errors import IntegrityError, Interrupted, ItemNameTaken, TransferError
from .hashing import BackgroundHasher
from .jobs import FileProgress, Phase, ServerRef, Verification
from .naming import unique_item_name
from .ova_writer import is_descriptor
from .ovf import LocalFile
from .ownership import account_key
from .upload import (
    _both,
    _check_received,
    _SentBytes,
    drop_if_left_empty,
    fill_session,
    update_keep_alive,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
SOURCE_RESUMES = 3  # per PUT: the source's GET is opened again with Range this often


@dataclasses.dataclass(frozen=True)
class CopyFile:
    """One file of the source item: what the target's session is told about it."""

    name: str
    size: int
    checksum: ChecksumInfo | None

    @property
    def algorithm(self) -> str:
        return self.checksum.effective_algorithm.hashlib_name if self.checksum else "sha1"


def copy_order(files: list[CopyFile]) -> list[CopyFile]:
    """A template's manifest and certificate first, its descriptor last (the order the
    upload sends them), the rest between, as listed."""
    first = [f for f in files if f.name.lower().endswith((".mf", ".cert"))]
    last = [f for f in files if is_descriptor(f.name)]
    return first + [f for f in files if f not in first and f not in last] + last


class CopyRefused(TransferError):
    """A copy that must not run (onto itself, into an item of another type): refused before
    any session or item is made."""

    title = "Cannot copy there"
    hint = "Nothing was changed; copy into a new item (give only the library) or another item."


def same_account(ctx: WorkflowContext) -> bool:
    spec = ctx.spec
    return account_key(spec.copy_target) == account_key(spec.server)


def run_copy(ctx: WorkflowContext, target: ContentLibraryClient) -> None:
    """Copy `ctx.spec`'s item (on `ctx.client`) into its target library (on `target`)."""
    spec, control, report = ctx.spec, ctx.control, ctx.report
    source_id = spec.item_id
    if not source_id or not spec.target_library_id:
        raise TransferError("a copy needs a source item and a target library")
    report.phase(Phase.CHECKING)
    item = with_retries(control, lambda: ctx.client.items.get(source_id))
    listed = with_retries(control, lambda: ctx.client.item_files.list(source_id))
    files = copy_order([CopyFile(f.name, f.size or 0, f.checksum_info) for f in listed])
    if not files:
        raise TransferError(f"the item {item.name or source_id} has no files to copy")
    if spec.target_item_id and not ctx.item_created:  # an existing item is to be updated
        _refuse_unfit_target(ctx, target, item)
    if not ctx.resume_session:
        report.files([FileProgress(f.name, f.size) for f in files])
    tctx = dataclasses.replace(
        ctx, client=target, report=_OnServer(report, spec.copy_target, source=False)
    )
    why = f"streamed through this computer from {spec.server.label}"
    if not same_account(ctx):
        why += f" to {spec.copy_target.label}"
    elif ctx.resume_session or ctx.item_created:
        why += ": continuing the streamed copy of an earlier run"
    elif spec.target_item_id:
        why += ": the server's copy makes a new item, not an update of an existing one"
    else:
        refused = _server_side_copy(tctx, item, files)
        if refused is None:
            return
        why += f": the server refused to copy the item itself ({refused})"
    report.note(why)
    why = _stream_copy(ctx, tctx, item, files, why)
    report.note(why)  # a retry's note may have replaced it meanwhile


def _refuse_unfit_target(
    ctx: WorkflowContext, target: ContentLibraryClient, item: ItemModel
) -> None:
    """A copy onto the source item itself would only stream it back into itself, and one into
    an item of another type (an ISO into an OVF template) would leave a mix of both."""
    spec = ctx.spec
    target_id = spec.target_item_id or ""
    name = item.name or spec.item_name or spec.item_id or ""
    if same_account(ctx) and target_id == spec.item_id:
        raise CopyRefused(
            f"the target item {name!r} on {spec.copy_target.label} is the item being copied; "
            "a copy onto itself would change nothing."
        )
    existing = with_retries(ctx.control, lambda: target.items.get(target_id))
    theirs, ours = (existing.type or "").lower(), (item.type or "").lower()
    if theirs and ours and theirs != ours:
        raise CopyRefused(
            f"{name!r} is an item of type {ours} and the target {existing.name or target_id!r} "
            f"one of type {theirs}; a copy keeps the item's type, it cannot turn one into "
            "the other."
        )


def _target_name(tctx: WorkflowContext, item: ItemModel) -> str:
    """The asked name or the source's, as "NAME (2)" when the target library has it."""
    spec = tctx.spec
    name = spec.target_item_name or item.name or spec.item_name or "copy"
    taken = {
        m.name or ""
        for m in with_retries(
            tctx.control, lambda: tctx.client.items.list_models(spec.target_library_id)
        )
    }
    return unique_item_name(name, taken)


def _server_side_copy(tctx: WorkflowContext, item: ItemModel, files: list[CopyFile]) -> str | None:
    """The server copies the item: None when done (and verified), else why it refused."""
    client, spec, report = tctx.client, tctx.spec, tctx.report
    name = _target_name(tctx, item)
    report.phase(Phase.TRANSFERRING)
    token = str(uuid.uuid5(uuid.NAMESPACE_URL, tctx.client_token + "/copy"))
    try:
        new_id = with_retries(
            tctx.control,
            lambda: client.items.copy(
                spec.item_id or "", spec.target_library_id, name=name, client_token=token
            ),
        )
    except errors.Unauthenticated:
        raise
    except errors.VapiError as exc:
        log.info("the server refused to copy %s itself: %s", spec.item_id, exc.detail)
        return f"{exc.error_type}: {exc.detail}"
    report.item(new_id, name, created=True)
    report.note(f"copied by the server itself: both libraries are on {spec.server.label}")
    report.phase(Phase.VERIFYING)
    try:
        _name_copy(tctx, new_id, name)
        _verify_target(tctx, new_id, files, {}, "")
    except BaseException:
        _delete_item(tctx, new_id)  # a wrong copy must not stay behind as the item
        raise
    report.note(f"copied by the server itself: both libraries are on {spec.server.label}")
    return None


def _name_copy(tctx: WorkflowContext, item_id: str, name: str) -> None:
    """The copy gets the name asked for (a server may keep the source's name instead)."""
    client, control = tctx.client, tctx.control
    if with_retries(control, lambda: client.items.get(item_id)).name != name:
        with_retries(control, lambda: client.items.update(item_id, name=name))


def _delete_item(tctx: WorkflowContext, item_id: str) -> None:
    try:
        tctx.client.items.delete(item_id)
    except errors.NotFound:
        pass
    except Exception as exc:
        log.warning("could not delete the copied item %s: %s", item_id, exc)
    tctx.report.item("", "")


def _resolve_target_item(tctx: WorkflowContext, item: ItemModel) -> str:
    spec, client = tctx.spec, tctx.client
    if spec.target_item_id:
        return spec.target_item_id
    name = _target_name(tctx, item)
    try:
        item_id = with_retries(
            tctx.control,
            lambda: client.items.create(
                spec.target_library_id,
                name,
                type=item.type or None,
                description=item.description or None,
                client_token=tctx.client_token,
            ),
        )
    except errors.AlreadyExists as exc:
        raise ItemNameTaken(f"the target library already has an item named {name!r}") from exc
    tctx.report.item(item_id, name, created=True)  # recorded at once: deleted if left empty
    return item_id


def _stream_copy(
    ctx: WorkflowContext, tctx: WorkflowContext, item: ItemModel, files: list[CopyFile], why: str
) -> str:
    """Stream the files into the target item: the row's note, with the files removed."""
    created = ctx.item_created or not ctx.spec.target_item_id
    item_id = _resolve_target_item(tctx, item)
    if not created:
        name = tctx.spec.target_item_name or tctx.client.items.get(item_id).name or item_id
        tctx.report.item(item_id, name)
    stale = _stale_files(tctx, item_id, files)
    if stale:
        why += f"; removes {', '.join(stale)} from the target item (not in the source)"
        tctx.report.note(why)
    with drop_if_left_empty(tctx, item_id, created):
        _copy_into(ctx, tctx, item_id, files, why, stale)
    return why


def _stale_files(tctx: WorkflowContext, item_id: str, files: list[CopyFile]) -> list[str]:
    """The target item's files the source does not have: the copy removes them, so that the
    target holds the source's files and no others."""
    wanted = {f.name for f in files}
    held = with_retries(tctx.control, lambda: tctx.client.item_files.list(item_id))
    return sorted(f.name for f in held if f.name and f.name not in wanted)


def _remove_stale(tctx: WorkflowContext, session_id: str, stale: list[str]) -> None:
    """Remove `stale` files in the target's update session (done when it completes)."""
    client = tctx.client
    for name in stale:
        try:
            with_retries(
                tctx.control, partial(client.update_session_files.remove, session_id, name)
            )
        except (errors.InvalidArgument, errors.NotFound):
            pass  # removed already by an earlier run (a lost session shows at the next call)
    if stale:  # vcsim ends the whole session on a remove: say so instead of going round
        try:
            with_retries(tctx.control, lambda: client.update_sessions.get(session_id))
        except errors.NotFound as exc:
            raise TransferError(
                f"the target server ended the update session when asked to remove "
                f"{', '.join(stale)} from the item; it cannot remove an item's files."
            ) from exc


def _copy_into(
    ctx: WorkflowContext,
    tctx: WorkflowContext,
    item_id: str,
    files: list[CopyFile],
    why: str,
    stale: list[str],
) -> None:
    report = ctx.report
    token = str(uuid.uuid5(uuid.NAMESPACE_URL, ctx.client_token + "/source"))
    sctx = dataclasses.replace(
        ctx, client_token=token, report=_OnServer(report, ctx.spec.server, source=True)
    )
    live = _LiveSession(sctx, ctx.spec.item_id or "")
    try:
        live.start()
        session_id, digests = _update_target(sctx, tctx, live, item_id, files, why, stale)
    except Interrupted:
        if live.id:
            _end_download(sctx, live.id, None)
        raise
    except errors.Unauthenticated:
        raise  # no login to end it with: the next run of the job ends it
    except BaseException as exc:
        if live.id:
            _end_download(sctx, live.id, getattr(exc, "message", None) or str(exc))
        raise
    _delete_download(sctx, live.id)
    report.phase(Phase.VERIFYING)
    _verify_target(tctx, item_id, files, digests, session_id)


def _update_target(
    sctx: WorkflowContext,
    tctx: WorkflowContext,
    live: _LiveSession,
    item_id: str,
    files: list[CopyFile],
    why: str,
    stale: list[str],
) -> tuple[str, dict[str, str]]:
    """The target's update session, filled from the source (the `stale` files removed) and
    completed: (its id, the SHA-1 of each file streamed by this run)."""
    sized = cast(list[LocalFile], files)  # the session helpers read only name and size

    def send(sid: str, received: dict[str, UpdateFileInfo]) -> dict[str, str]:
        _remove_stale(tctx, sid, stale)
        return _send_files(sctx, tctx, live, sid, files, received, why)

    return fill_session(tctx, item_id, sized, send)


def _send_files(
    sctx: WorkflowContext,
    tctx: WorkflowContext,
    live: _LiveSession,
    session_id: str,
    files: list[CopyFile],
    received: dict[str, UpdateFileInfo],
    why: str,
) -> dict[str, str]:
    report = tctx.report
    sent = _SentBytes(sum(f.size for f in files), update_keep_alive(tctx, session_id))
    kept = {f.name for f in files if _already_there(f, received.get(f.name))}
    report.files([FileProgress(f.name, f.size, f.size if f.name in kept else 0) for f in files])
    if len(kept) < len(files):
        report.phase(Phase.TRANSFERRING)
    digests: dict[str, str] = {}
    for f in files:
        if f.name in kept:  # received whole by an earlier run, its checksum the source's
            report.file_sent(f.name)
            sent.add(f.size)
            continue
        digests[f.name] = _copy_file(sctx, tctx, live, session_id, f, sent, why)
    return digests


def _already_there(f: CopyFile, info: UpdateFileInfo | None) -> bool:
    if info is None or (info.size if info.size is not None else info.bytes_transferred) != f.size:
        return False
    if info.status is None or info.status.value != "READY":
        return False
    theirs, ours = info.checksum_info, f.checksum
    if theirs is None or not theirs.checksum or ours is None or not ours.checksum:
        return False
    return (
        theirs.effective_algorithm is ours.effective_algorithm
        and theirs.checksum.lower() == ours.checksum.lower()
    )


class _SourceFailed(Exception):
    """The source's side of a PUT failed (raised through the PUT, which ends with it)."""

    def __init__(self, error: errors.ContentLibraryError) -> None:
        super().__init__(error.message)
        self.error = error


def _from_source(action: Callable[[], T]) -> T:
    try:
        return action()
    except errors.ContentLibraryError as exc:
        raise _SourceFailed(exc) from exc


def _copy_file(
    sctx: WorkflowContext,
    tctx: WorkflowContext,
    live: _LiveSession,
    session_id: str,
    f: CopyFile,
    sent: _SentBytes,
    why: str,
) -> str:
    """One file from the source's GET into the target's PUT, retried on its own (each try
    reads the file again from the source): the SHA-1 of what was sent."""
    control, report = tctx.control, tctx.report
    retrier = Retrier(control, stopped=f"the copy of {f.name} stopped moving")
    logins = {"source": 0, "target": 0}
    while True:
        control.check()
        last = [0]
        watch = StallWatch(retrier, f"copy {f.name}")

        def on_progress(done: int, last: list[int] = last, watch: StallWatch = watch) -> None:
            control.check()
            watch.observe(done - last[0])
            control.throttle(done - last[0])
            sent.add(done - last[0])
            last[0] = done
            report.progress(f.name, done)
            _from_source(live.keep_alive.maybe)  # the source's session is kept alive too

        try:
            if retrier.attempt:  # after a wait: both sessions must still be there
                sent.keep_alive.now()
                _from_source(live.keep_alive.now)
            sha1 = _put_once(sctx, tctx, live, session_id, f, on_progress)
            report.file_sent(f.name)
            report.note(why)
            retrier.succeeded()
            return sha1
        except _SourceFailed as failed:
            sent.add(-last[0])
            exc = failed.error
            if isinstance(exc, errors.NotFound):  # the source lost its session: a new one
                live.renew(exc)
                continue
            if isinstance(exc, errors.Unauthenticated):
                logins["source"] += 1
                if logins["source"] > 2:
                    raise exc from failed
                with_retries(control, sctx.client.renew_login)
                continue
            log.info("the source's side of copying %s failed: %s", f.name, exc)
            retrier.failed(exc, stall=True)
        except errors.Unauthenticated:
            sent.add(-last[0])
            logins["target"] += 1
            if logins["target"] > 2:
                raise
            with_retries(control, tctx.client.renew_login)
        except Exception as exc:
            sent.add(-last[0])
            log.info("PUT of %s failed: %s", f.name, exc)
            retrier.failed(exc, stall=True)


def _put_once(
    sctx: WorkflowContext,
    tctx: WorkflowContext,
    live: _LiveSession,
    session_id: str,
    f: CopyFile,
    on_progress: Callable[[int], None],
) -> str:
    """Add the file to the target's session (again) and PUT it once, its body read from the
    source's GET: the SHA-1 of what was sent, compared with the source's checksum."""
    target = tctx.client
    add = AddSpec(f.name, size=f.size, checksum_info=f.checksum)
    info = with_retries(tctx.control, lambda: target.update_session_files.add(session_id, add))
    if info.upload_endpoint is None:
        raise TransferError(f"the target server gave no upload address for {f.name}")
    uri = _from_source(lambda: _prepared_uri(sctx, live, f.name))
    tctx.report.phase(Phase.TRANSFERRING)
    sha1 = BackgroundHasher("sha1")  # the target's default algorithm
    other = BackgroundHasher(f.algorithm) if f.algorithm != "sha1" else None
    reader = _SourceReader(sctx, uri, f)
    try:
        target.upload(
            info.upload_endpoint.uri,
            cast(BinaryIO, reader),
            f.size,
            progress=on_progress,
            on_data=sha1.update if other is None else _both(sha1, other),
            op=f"copy {f.name} to {tctx.spec.copy_target.label}",
            stall_seconds=tctx.control.policy.stall_seconds,
        )
    finally:
        reader.close()
        sha1_hex = sha1.hexdigest()
        other_hex = other.hexdigest() if other is not None else sha1_hex
    theirs = f.checksum
    if theirs is not None and theirs.checksum and other_hex != theirs.checksum.lower():
        raise IntegrityError(
            f"{f.name}: the bytes read from the source have {theirs.effective_algorithm.value} "
            f"{other_hex}, the source lists {theirs.checksum.lower()}"
        )
    _check_received(tctx, session_id, cast(LocalFile, f), sha1_hex)
    return sha1_hex


class _SourceReader:
    """The body of a copy's PUT: the source file's bytes, read from its GET straight into the
    PUT body's blocks. A GET that breaks is opened again with Range from where it stopped, the
    PUT going on; what cannot be resumed ends the PUT with `_SourceFailed`."""

    def __init__(self, sctx: WorkflowContext, uri: str, f: CopyFile) -> None:
        self._ctx, self._uri, self._file = sctx, uri, f
        self.done = 0
        self.resumes = 0
        self._stream: DownloadStream | None = None
        self._open_streams = ExitStack()

    def _open(self) -> DownloadStream:
        stream = self._open_streams.enter_context(
            self._ctx.client.open_download(
                self._uri,
                self.done,
                op=f"read {self._file.name} from {self._ctx.spec.server.label}",
                stall_seconds=self._ctx.control.policy.stall_seconds,
            )
        )
        if stream.offset != self.done:  # the source ignored the Range: the PUT cannot go back
            raise _SourceFailed(
                errors.ProtocolError(f"the source sent {self._file.name} from its start again")
            )
        self._stream = stream
        return stream

    def readinto(self, space: memoryview) -> int:
        left = self._file.size - self.done
        if left <= 0:
            return 0
        space = space[:left]
        while True:
            try:
                stream = self._stream or self._open()
                n = stream.readinto(space)
                if not n:
                    raise errors.ProtocolError(
                        f"the source's {self._file.name} ended at {self.done:,} of "
                        f"{self._file.size:,} bytes"
                    )
                self.done += n
                return n
            except errors.ContentLibraryError as exc:
                self.close()
                resumable = isinstance(exc, (errors.TransportError, errors.ProtocolError))
                if not resumable or self.resumes >= SOURCE_RESUMES:
                    raise _SourceFailed(exc) from exc
                self.resumes += 1
                log.info("reading %s again from %d: %s", self._file.name, self.done, exc)
                self._ctx.control.wait(0.2 * self.resumes)

    def read(self, n: int = -1) -> bytes:
        space = memoryview(bytearray(max(0, n) or (1 << 20)))
        return bytes(space[: self.readinto(space)])

    def close(self) -> None:
        self._stream = None
        self._open_streams.close()


def _verify_target(
    tctx: WorkflowContext,
    item_id: str,
    files: list[CopyFile],
    digests: dict[str, str],
    session_id: str,
) -> None:
    """What the target item now holds against the source's File.Info (and what was
    streamed): sizes, and checksums wherever the servers give them."""
    stored = {
        f.name: f for f in with_retries(tctx.control, lambda: tctx.client.item_files.list(item_id))
    }
    for f in files:
        got = stored.get(f.name)
        if got is None and f.name.lower().endswith((".mf", ".cert")):
            # a template's manifest and certificate are read by the server, not kept
            tctx.report.file_done(f.name, Verification.CONSUMED, None, session_id)
            continue
        verification, checksum = compare_copy(f, got, digests.get(f.name))
        tctx.report.file_done(f.name, verification, checksum, session_id)


def compare_copy(
    source: CopyFile, stored: FileInfo | None, streamed_sha1: str | None
) -> tuple[Verification, str | None]:
    """The target's file against the source's: equal size, equal checksum (and equal to the
    SHA-1 of the streamed bytes when the target hashed in SHA-1)."""
    if stored is None:
        raise IntegrityError(f"{source.name} is missing from the target item after the copy")
    if stored.size is not None and stored.size != source.size:
        raise IntegrityError(
            f"{source.name}: the target holds {stored.size:,} bytes, the source {source.size:,}"
        )
    theirs = stored.checksum_info
    if theirs is None or not theirs.checksum:
        return Verification.SIZE_ONLY, None
    algorithm = theirs.effective_algorithm
    value = theirs.checksum.lower()
    ours = source.checksum
    if ours is not None and ours.checksum and ours.effective_algorithm is algorithm:
        if ours.checksum.lower() != value:
            raise IntegrityError(
                f"{source.name}: {algorithm.value} on the target is {value}, "
                f"on the source {ours.checksum.lower()}"
            )
    elif not (streamed_sha1 and algorithm is ChecksumAlgorithm.SHA1):
        return Verification.SIZE_ONLY, None
    if streamed_sha1 and algorithm is ChecksumAlgorithm.SHA1 and streamed_sha1 != value:
        raise IntegrityError(
            f"{source.name}: SHA1 on the target is {value}, the bytes sent have {streamed_sha1}"
        )
    return Verification.VERIFIED, f"{algorithm.value}:{value}"


class _OnServer:
    """The job's Reporter for one of a copy's two servers: the source's session is recorded
    as the job's source session, and each server's cleanups are kept under that server."""

    def __init__(self, report: Reporter, server: ServerRef, *, source: bool) -> None:
        self._report, self._server, self._source = report, server, source

    def phase(self, phase: Phase, note: str = "") -> None:
        self._report.phase(phase, note)

    def files(self, files: list[FileProgress]) -> None:
        self._report.files(files)

    def progress(self, name: str, done: int) -> None:
        self._report.progress(name, done)

    def file_sent(self, name: str) -> None:
        self._report.file_sent(name)

    def file_done(
        self, name: str, verification: Verification, checksum: str | None, session_id: str
    ) -> None:
        self._report.file_done(name, verification, checksum, session_id)

    def session(self, session_id: str | None) -> None:
        if self._source:
            self._report.source_session(session_id)
        else:
            self._report.session(session_id)

    def source_session(self, session_id: str | None) -> None:
        self._report.source_session(session_id)

    def item(self, item_id: str, item_name: str, created: bool = False) -> None:
        if not self._source:  # the job's item is the target's
            self._report.item(item_id, item_name, created)

    def note(self, text: str) -> None:
        self._report.note(text)

    def cleanup_later(
        self, kind: CleanupKind, target: str, server: ServerRef | None = None
    ) -> None:
        self._report.cleanup_later(kind, target, server or self._server)

    def destination(self, path: str) -> None:
        self._report.destination(path)
