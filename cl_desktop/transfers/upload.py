"""The upload workflow (UpdateSession): pre-flight, create, add, PUT, keep-alive, validate,
complete, verify, delete. Every way out ends the server session; nothing stays ACTIVE."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from cl_desktop.api import (
    AddSpec,
    ChecksumAlgorithm,
    ChecksumInfo,
    FileInfo,
    UpdateSessionState,
    errors,
)

from .context import KeepAlive, WorkflowContext, delete_session, end_session
from .control import Retrier, StallWatch, with_retries
from .errors import (
    IntegrityError,
    Interrupted,
    ItemNameTaken,
    LocalFileError,
    PreflightError,
    TransferError,
)
from .hashing import BackgroundHasher, file_digest
from .jobs import FileProgress, Phase, Verification
from .naming import infer_item_type, item_name_for, unique_item_name
from .ovf import LocalFile, ovf_files

log = logging.getLogger(__name__)

MAX_FILE_SIZE = 1 << 62  # anything a server accepts; > 4 GiB is fine (no 32-bit sizes here)


def collect_upload_files(paths: tuple[str, ...]) -> list[LocalFile]:
    """Pre-flight: every file exists, is readable, non-empty; an .ovf brings its files."""
    if not paths:
        raise PreflightError("no files were given")
    files: list[LocalFile] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise PreflightError(f"{path} does not exist")
        if path.is_dir():
            raise PreflightError(f"{path} is a folder; drop the files inside it instead")
        if not os.access(path, os.R_OK):
            raise PreflightError(f"{path} cannot be read (permission denied)")
        if path.suffix.lower() == ".ovf":
            files.extend(ovf_files(path))
        else:
            files.append(LocalFile(path, path.name, path.stat().st_size))
    names = [f.name for f in files]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PreflightError(f"two files would get the same name in the item: {duplicates}")
    for f in files:
        if f.size == 0:
            raise PreflightError(f"{f.path.name} is empty (0 bytes); Content Library refuses it")
    return files


def resolve_item(ctx: WorkflowContext, files: list[LocalFile]) -> str:
    """The target item: the given one, or a new one named after the (first) file."""
    spec, client = ctx.spec, ctx.client
    if spec.item_id:
        return spec.item_id
    first = Path(spec.paths[0]).name
    name = spec.item_name or item_name_for(first)
    existing = {
        m.name or ""
        for m in with_retries(ctx.control, lambda: client.items.list_models(spec.library_id))
    }
    if spec.unique_name:
        name = unique_item_name(name, existing)
    elif name.lower() in {n.lower() for n in existing}:
        raise ItemNameTaken(f"the library already has an item named {name!r}")
    item_type = spec.item_type or infer_item_type(first)
    try:
        return with_retries(
            ctx.control,
            lambda: client.items.create(
                spec.library_id, name, type=item_type, client_token=ctx.client_token
            ),
        )
    except errors.AlreadyExists as exc:
        raise ItemNameTaken(f"the library already has an item named {name!r}") from exc


def run_upload(ctx: WorkflowContext) -> None:
    report = ctx.report
    report.phase(Phase.CHECKING)
    files = collect_upload_files(ctx.spec.paths)
    report.files([FileProgress(f.name, f.size) for f in files])
    item_id = resolve_item(ctx, files)
    try:
        _upload_into(ctx, item_id, files)
    except BaseException:
        if ctx.spec.item_id is None:
            _drop_empty_item(ctx, item_id)
        raise


def _drop_empty_item(ctx: WorkflowContext, item_id: str) -> None:
    """An item this job created must not stay behind empty (the vSphere Client's failing)."""
    try:
        if not ctx.client.item_files.list(item_id):
            ctx.client.items.delete(item_id)
            ctx.report.item("", "")
    except Exception as exc:
        log.warning("could not remove the empty item %s: %s", item_id, exc)


def _upload_into(ctx: WorkflowContext, item_id: str, files: list[LocalFile]) -> None:
    client, control, report = ctx.client, ctx.control, ctx.report
    item_name = ctx.spec.item_name or client.items.get(item_id).name or item_id
    report.item(item_id, item_name)

    control.check()
    try:
        session_id = with_retries(
            control,
            lambda: client.update_sessions.create(item_id, client_token=ctx.client_token),
        )
    except errors.ResourceBusy as exc:
        raise TransferError(
            f"another update session holds this item ({exc.detail})", operation="start upload"
        ) from exc
    report.session(session_id)
    try:
        digests, transient = _send_files(ctx, session_id, files)
        report.phase(Phase.FINISHING)
        _validate(ctx, session_id)
        with_retries(control, lambda: client.update_sessions.complete(session_id))
        _wait_done(ctx, session_id)
    except Interrupted:
        _end_session(ctx, session_id, None)
        raise
    except BaseException as exc:
        _end_session(ctx, session_id, _message_of(exc))
        raise
    _delete_session(ctx, session_id)

    report.phase(Phase.VERIFYING)
    stored = {f.name: f for f in with_retries(control, lambda: client.item_files.list(item_id))}
    for f in files:
        if f.name not in stored and f.name in transient:
            # .mf/.cert are consumed by the server (keep_in_storage false) and not kept
            report.file_done(f.name, Verification.CONSUMED, None, session_id)
            continue
        verification, checksum = verify_upload(f, stored.get(f.name), digests[f.name])
        report.file_done(f.name, verification, checksum, session_id)


def _send_files(
    ctx: WorkflowContext, session_id: str, files: list[LocalFile]
) -> tuple[dict[str, str], set[str]]:
    """Add and PUT each file; returns ({name: sha1 hex hashed while streaming}, the names the
    server will not keep in storage)."""
    client, control, report = ctx.client, ctx.control, ctx.report
    session = with_retries(control, lambda: client.update_sessions.get(session_id))
    keep_alive = KeepAlive(  # with the same retries as every call: a restart must not end it
        lambda p: with_retries(
            control, lambda: client.update_sessions.keep_alive(session_id, client_progress=p)
        ),
        session.expiration_time,
    )
    total = sum(f.size for f in files) or 1
    sent_before = 0
    digests: dict[str, str] = {}
    transient: set[str] = set()
    for f in files:
        report.phase(Phase.TRANSFERRING)
        retrier = Retrier(control, stopped=f"the server stopped receiving {f.name}")
        logins = 0
        while True:
            control.check()
            base, last = sent_before, [0]
            watch = StallWatch(retrier, f"upload {f.name}")

            def on_progress(
                done: int, name: str = f.name, base: int = base, last: list[int] = last,
                watch: StallWatch = watch,
            ) -> None:  # fmt: skip
                control.check()
                watch.observe(done - last[0])
                control.throttle(done - last[0])
                last[0] = done
                report.progress(name, done)
                keep_alive.maybe(min(99, (base + done) * 100 // total))

            try:
                if retrier.attempt:  # after a wait: the session must still be there
                    keep_alive.now()
                keep, digests[f.name] = _put_once(ctx, session_id, f, on_progress)
                if not keep:
                    transient.add(f.name)
                retrier.succeeded()
                break
            except errors.Unauthenticated:
                logins += 1
                if logins > 2:
                    raise
                with_retries(control, client.login)  # the login expired during a long PUT
            except Exception as exc:
                log.info("PUT of %s failed: %s", f.name, exc)
                retrier.failed(exc, stall=True)
        sent_before += f.size
        keep_alive.maybe(min(99, sent_before * 100 // total))
    return digests, transient


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
    try:
        with _open_local(f.path) as source:
            client.upload(
                info.upload_endpoint.uri, source, f.size, progress=on_progress,
                on_data=digest.update, op=f"upload {f.name}",
                stall_seconds=ctx.control.policy.stall_seconds,
            )  # fmt: skip
    finally:
        sha1 = digest.hexdigest()
    return info.keep_in_storage is not False, sha1


def _open_local(path: Path):  # type: ignore[no-untyped-def]
    try:
        return path.open("rb")
    except OSError as exc:
        raise LocalFileError(f"cannot read {path}: {exc.strerror}") from exc


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
    """PUSH sessions are DONE when complete returns; PULL ones need polling (PROTOCOL.md §8)."""
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
        ours = file_digest(local.path, algorithm.hashlib_name)
    theirs = stored.checksum_info.checksum.lower()
    if ours != theirs:
        raise IntegrityError(
            f"{local.name}: {algorithm.value} on the server is {theirs}, the local file's is {ours}"
        )
    return Verification.VERIFIED, f"{algorithm.value}:{ours}"


def _message_of(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def _end_session(ctx: WorkflowContext, session_id: str, failure: str | None) -> None:
    if end_session(ctx.client.update_sessions, session_id, failure):
        ctx.report.session(None)


def _delete_session(ctx: WorkflowContext, session_id: str) -> None:
    if delete_session(ctx.client.update_sessions, session_id):
        ctx.report.session(None)
