"""Import from URL: the UpdateSession workflow with PULL files. The server fetches the bytes from
an http(s) source itself; the client adds the file (`source_endpoint` with the source's SHA-1
thumbprint for https), follows the session's files' `bytes_transferred` about once a second (an
.ovf's list grows by the files its References name), keeps the session alive, and then finishes,
ends and verifies exactly as an upload does (`upload._finish_session` and friends), so cancel,
pause, failure and the clean-up of a created item follow the same rules."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import logging
import ssl
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from cl_desktop.api import (
    AddSpec,
    FileInfo,
    SourceType,
    TransferEndpoint,
    TransferStatus,
    UpdateFileInfo,
    errors,
)
from cl_desktop.api.transport import sha1_thumbprint

from . import upload
from .context import WorkflowContext
from .control import Retrier, Stalled, StallWatch, with_retries
from .errors import IntegrityError, Interrupted, PreflightError, TransferError, describe
from .jobs import FileProgress, Phase, Verification
from .naming import infer_item_type, item_name_for

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # how often the session's files are read while the server pulls
HEAD_TIMEOUT = 10.0


@dataclass(frozen=True)
class PullSource:
    url: str
    name: str  # the file's name in the item: the URL's last path segment
    thumbprint: str | None  # "AA:BB:..." for https, None for http


def check_source(url: str, thumbprint: str = "") -> PullSource:
    """Pre-flight of a source URL: http or https, a host, a file name at the end of its path;
    an https source needs the SHA-1 thumbprint of its certificate (the user accepted it)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise PreflightError(
            f"{url} is not an http or https URL; the server can import only from those"
        )
    if not parts.hostname:
        raise PreflightError(f"{url} names no server")
    name = unquote(PurePosixPath(parts.path).name)
    if not name or name in (".", "..") or parts.path.endswith("/"):
        raise PreflightError(f"{url} does not end in a file name (as in .../disk.iso)")
    if scheme == "http":
        return PullSource(url.strip(), name, None)
    if not thumbprint:
        raise PreflightError(
            f"{url} is https: its certificate's SHA-1 thumbprint is needed (read and accept "
            "the certificate first)"
        )
    try:
        return PullSource(url.strip(), name, sha1_thumbprint(thumbprint))
    except ValueError as exc:
        raise PreflightError(str(exc)) from exc


def run_pull(ctx: WorkflowContext) -> None:
    report, spec = ctx.report, ctx.spec
    report.phase(Phase.CHECKING)
    source = check_source(spec.source_url, spec.source_thumbprint)
    if not ctx.resume_session:
        report.files([FileProgress(source.name, 0)])
    # A new item is named after the URL's file (its stem for an ISO or a template).
    named = dataclasses.replace(
        spec,
        item_name=spec.item_name or (item_name_for(source.name) if not spec.item_id else ""),
        item_type=spec.item_type or infer_item_type(source.name),
    )
    ctx = dataclasses.replace(ctx, spec=named)
    created = ctx.item_created or not spec.item_id
    item_id = upload.resolve_item(ctx)
    try:
        _pull_into(ctx, item_id, source)
    except Interrupted as stop:
        if created and not stop.pause:  # a paused job keeps its item for the resume
            upload.drop_empty_item(ctx.client, item_id, ctx.report)
        raise
    except errors.Unauthenticated:
        raise  # the login is lost, not the import: the item stays for the run after a login
    except BaseException:
        if created:
            upload.drop_empty_item(ctx.client, item_id, ctx.report)
        raise


def _pull_into(ctx: WorkflowContext, item_id: str, source: PullSource) -> None:
    client, control, report = ctx.client, ctx.control, ctx.report
    item_name = ctx.spec.item_name or client.items.get(item_id).name or item_id
    report.item(item_id, item_name)
    control.check()
    session_id = _open_session(ctx, item_id)
    try:
        pulled = _follow(ctx, session_id, source)
        report.phase(Phase.FINISHING)
        upload._finish_session(ctx, session_id)  # validate, complete, wait for DONE
    except Interrupted as stop:
        if not stop.pause:  # paused: the session stays (the server goes on pulling)
            upload._end_session(ctx, session_id, None)
        raise
    except errors.Unauthenticated:
        raise  # no login to end it with: it stays ACTIVE for the run after a new login
    except BaseException as exc:
        upload._end_session(ctx, session_id, describe(exc)[1])
        raise
    upload._delete_session(ctx, session_id)

    report.phase(Phase.VERIFYING)
    stored = {f.name: f for f in with_retries(control, lambda: client.item_files.list(item_id))}
    for info in pulled:
        if info.keep_in_storage is False and info.name not in stored:
            report.file_done(info.name, Verification.CONSUMED, None, session_id)
            continue
        verification, checksum = verify_pull(info, stored.get(info.name), _source_facts(info))
        report.file_done(info.name, verification, checksum, session_id)


def _open_session(ctx: WorkflowContext, item_id: str) -> str:
    """The session an earlier run of this job left while the server still has it ACTIVE on
    the item (the server went on pulling meanwhile), else a new one."""
    previous = ctx.resume_session
    if previous:
        if upload.still_active(ctx, previous, item_id):
            log.info("reusing update session %s of an earlier run", previous)
            return previous
        upload._end_session(ctx, previous, None)
        return upload._create_session(ctx, item_id, replacing=True)
    return upload._create_session(ctx, item_id)


def _add(ctx: WorkflowContext, session_id: str, source: PullSource) -> None:
    endpoint = TransferEndpoint(source.url, ssl_certificate_thumbprint=source.thumbprint)
    spec = AddSpec(source.name, source_type=SourceType.PULL, source_endpoint=endpoint)
    with_retries(ctx.control, lambda: ctx.client.update_session_files.add(session_id, spec))


def _follow(
    ctx: WorkflowContext, session_id: str, source: PullSource
) -> tuple[UpdateFileInfo, ...]:
    """Add the PULL file (unless a reused session has it) and poll the session's files until
    every pulled one is READY; a file in ERROR fails the job with the server's reason, a pull
    that does not move is STALLED and fails after the policy's stall limit."""
    client, control, report = ctx.client, ctx.control, ctx.report
    files = with_retries(control, lambda: client.update_session_files.list(session_id))
    ours = next((f for f in files if f.name == source.name), None)
    if (
        ours is None
        or ours.source_type is not SourceType.PULL
        or ours.status
        in (
            TransferStatus.ERROR,
            None,
        )
    ):
        _add(ctx, session_id, source)
    keep_alive = upload.update_keep_alive(ctx, session_id)
    report.phase(Phase.TRANSFERRING)
    retrier = Retrier(control, stopped=f"{source.url} stopped sending to the server")
    watch = StallWatch(retrier, f"import {source.name}")
    shown: tuple[tuple[str, int], ...] = ()
    last_total = 0
    while True:
        control.check()
        files = with_retries(control, lambda: client.update_session_files.list(session_id))
        pulled = tuple(f for f in files if f.source_type is SourceType.PULL)
        failed = [f for f in pulled if f.status is TransferStatus.ERROR]
        if failed:
            raise TransferError(
                "the server could not import "
                + "; ".join(f"{f.name}: {f.error_message or 'failed'}" for f in failed),
                operation="import from URL",
            )
        sizes = tuple((f.name, f.size or 0) for f in pulled)
        if sizes != shown:  # a new file (an .ovf's disks) or a size the server learned
            report.files(
                [FileProgress(n, s, _done(f)) for (n, s), f in zip(sizes, pulled, strict=True)]
            )
            shown = sizes
        for f in pulled:
            report.progress(f.name, _done(f))
        total = sum(_done(f) for f in pulled)
        expected = sum(s for _, s in sizes) or 1
        if pulled and all(f.status is TransferStatus.READY for f in pulled):
            retrier.succeeded()
            return pulled
        try:
            watch.observe(total - last_total)
        except Stalled as exc:
            retrier.failed(exc, stall=True)  # STALLED in the row; StalledError at the limit
            watch = StallWatch(retrier, f"import {source.name}")
        last_total = total
        keep_alive.maybe(min(99, total * 100 // expected))
        control.wait(POLL_SECONDS)


def _done(info: UpdateFileInfo) -> int:
    return info.bytes_transferred or 0


@dataclass(frozen=True)
class SourceFacts:
    """What the source itself says of a file (a HEAD from this computer), when it answers."""

    length: int | None = None
    sha1: str | None = None  # from a "Digest: sha=..." header (RFC 3230)


def _source_facts(info: UpdateFileInfo) -> SourceFacts:
    """Best effort: the client may not reach the source the server pulled from (another
    network), so a HEAD that fails only means there is nothing more to compare."""
    endpoint = info.source_endpoint
    if endpoint is None:
        return SourceFacts()
    try:
        return head_source(endpoint.uri, endpoint.ssl_certificate_thumbprint)
    except Exception as exc:
        log.info("no HEAD of %s from here: %s", endpoint.uri, exc)
        return SourceFacts()


def head_source(url: str, thumbprint: str | None) -> SourceFacts:
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        if not thumbprint:
            return SourceFacts()
        # the certificate is the one the user accepted, by its SHA-1, as the server checks it
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=HEAD_TIMEOUT, context=context
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=HEAD_TIMEOUT)
    try:
        conn.connect()
        if thumbprint:
            assert isinstance(conn.sock, ssl.SSLSocket)
            der = conn.sock.getpeercert(binary_form=True) or b""
            if sha1_thumbprint(hashlib.sha1(der).hexdigest()) != sha1_thumbprint(thumbprint):
                return SourceFacts()  # not the certificate accepted: believe nothing it says
        conn.request("HEAD", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            return SourceFacts()
        length = response.getheader("Content-Length")
        return SourceFacts(
            int(length) if length and length.isdigit() else None,
            _digest_sha1(response.getheader("Digest") or ""),
        )
    finally:
        conn.close()


def _digest_sha1(header: str) -> str | None:
    for part in header.split(","):
        algorithm, _, value = part.strip().partition("=")
        if algorithm.strip().lower() == "sha":
            try:
                return base64.b64decode(value.strip()).hex()
            except ValueError:
                return None
    return None


def verify_pull(
    received: UpdateFileInfo, stored: FileInfo | None, source: SourceFacts
) -> tuple[Verification, str | None]:
    """The item's File.Info against what the server received (its size and the checksum it
    computed while pulling) and against what the source says (Content-Length, a SHA-1 Digest).
    Verified when the item holds the bytes the server hashed, of the length the source gave."""
    name = received.name
    if stored is None:
        raise IntegrityError(f"{name} is missing from the item after the import")
    size = stored.size
    for what, expected in (
        ("the server received", received.size),
        ("the source announced", source.length),
    ):
        if expected is not None and size is not None and size != expected:
            raise IntegrityError(f"{name}: the item holds {size} bytes, {what} {expected}")
    theirs = stored.checksum_info
    if theirs is None or not theirs.checksum:
        return Verification.SIZE_ONLY if size is not None else Verification.UNVERIFIED, None
    value = theirs.checksum.lower()
    algorithm = theirs.effective_algorithm
    pulled = received.checksum_info
    if (
        pulled is not None
        and pulled.checksum
        and pulled.effective_algorithm is algorithm
        and pulled.checksum.lower() != value
    ):
        raise IntegrityError(
            f"{name}: the item's {algorithm.value} is {value}, the server computed "
            f"{pulled.checksum.lower()} while importing"
        )
    if source.sha1 is not None and algorithm.value == "SHA1" and source.sha1 != value:
        raise IntegrityError(f"{name}: the source's SHA1 is {source.sha1}, the item's {value}")
    return Verification.VERIFIED, f"{algorithm.value}:{value}"
