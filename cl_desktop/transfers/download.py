"""The download workflow (DownloadSession): create, prepare, poll, GET into NAME.part with
resume, verify, atomic rename, delete. A file appears under its final name only when verified;
an .ova (ova_writer) only when every member it holds was."""

from __future__ import annotations

import dataclasses
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
    FileInfo,
    PrepareStatus,
    errors,
)
from cl_desktop.api.streams import BlockRing

from . import ova_writer
from .context import KeepAlive, Reporter, WorkflowContext, delete_session, end_session
from .control import Retrier, StallWatch, with_retries
from .errors import DiskFullError, IntegrityError, Interrupted, LocalFileError, TransferError
from .hashing import BackgroundHasher, BackgroundWriter, feed_file, file_digest
from .jobs import (
    Direction,
    Existing,
    FileProgress,
    JobSnapshot,
    JobSpec,
    JobState,
    Phase,
    Verification,
)
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
    names = list(spec.file_names) or list(item_files)
    if not names:
        raise TransferError("the item has no files to download")
    missing = [n for n in names if n not in item_files]
    if missing:
        raise TransferError(f"the item has no file named {', '.join(missing)}")
    if spec.as_ova and sum(map(ova_writer.is_descriptor, names)) != 1:
        raise TransferError(
            "only an OVF template (one .ovf descriptor and its files) can be saved as an .ova"
        )
    target, skip = _choose_target(spec, item.name or item_id, names)
    if str(target) != spec.target:
        report.destination(str(target))
    if skip:
        _skipped(report, target, names, sizes)
        return
    in_set = len(names) > 1 and not spec.as_ova  # several files: their own folder

    live = _LiveSession(ctx, item_id)
    try:
        live.start()
        listed = with_retries(control, lambda: client.download_session_files.list(live.id))
        wanted = _select(listed, spec.file_names)
        progress = [FileProgress(f.name, f.size or sizes.get(f.name) or 0) for f in wanted]
        if spec.as_ova:
            mtime = int(item.last_modified_time.timestamp()) if item.last_modified_time else 0
            _download_ova(ctx, live, progress, target, item_files, algorithms, mtime)
        else:
            report.files(progress)
            folder = target if in_set else dest
            targets = {f.name: folder / safe_local_name(f.name) for f in wanted}
            _check_free_space(dest, targets, {p.name: p.size for p in progress})
            _make_folder(folder)
            total = sum(p.size for p in progress) or 1
            done_before = 0
            for entry in progress:
                algorithm = algorithms.get(entry.name, "sha1")
                final = _download_one(
                    ctx, live, entry, targets[entry.name], done_before, total, algorithm, in_set
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


def local_paths(job: JobSnapshot) -> list[str]:
    """The files a finished download wrote: the .ova, the lone file, or each file of the set
    in the job's folder (none when it failed or was skipped)."""
    spec = job.spec
    if (
        spec.direction is not Direction.DOWNLOAD
        or job.state is not JobState.DONE
        or job.verification is Verification.SKIPPED
        or not spec.target
    ):
        return []
    if spec.as_ova or len(job.files) <= 1:
        return [spec.target]
    return [local_path(spec, f.name, len(job.files)) for f in job.files]


def local_path(spec: JobSpec, name: str, count: int) -> str:
    """Where the download of `spec` (`count` files, its target chosen) writes the file `name`:
    into the .ova, as the lone file, or in the job's folder."""
    if spec.as_ova or count <= 1:
        return spec.target
    return str(Path(spec.target) / safe_local_name(name))


def _choose_target(spec: JobSpec, item_name: str, names: list[str]) -> tuple[Path, bool]:
    """Where the job writes, decided once (its first run) and kept in the spec: one file as
    itself, several in `DEST/ITEM/` under the server's names (so a descriptor still names its
    disks), an .ova as `DEST/ITEM.ova`. When that exists, `spec.existing` decides for the
    whole set: overwrite it, skip the job, or keep both (`ITEM (2)/`, `name (2).ext`).
    (path, skip)"""
    if spec.target:
        return Path(spec.target), False  # an earlier run chose: find its .part files again
    dest = Path(spec.dest_dir)
    if spec.as_ova:
        candidate = dest / f"{safe_local_name(item_name)}.ova"
    elif len(names) > 1:
        candidate = dest / safe_local_name(item_name)
    else:
        candidate = dest / safe_local_name(names[0])
    if not candidate.exists():
        return candidate, False
    if spec.existing is Existing.SKIP:
        return candidate, True
    if spec.existing is Existing.OVERWRITE:
        return candidate, False
    if len(names) > 1 and not spec.as_ova:  # a folder: "ITEM (2)", whatever dots it has
        return unique_path(candidate, keep_suffix=False), False
    return unique_path(candidate), False


def _skipped(
    report: Reporter, target: Path, names: list[str], sizes: dict[str, int | None]
) -> None:
    log.info("%s exists: skipped", target)
    report.files([FileProgress(n, sizes.get(n) or 0) for n in names])
    report.note(f"{target.name} exists: skipped")
    for name in names:
        report.file_done(name, Verification.SKIPPED, None, "")


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LocalFileError(f"cannot create the folder {folder}: {exc.strerror}") from exc


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
            max_interval=control.policy.keep_alive_max,
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
    in_set: bool = False,
) -> Path:
    part = target.with_name(target.name + PART_SUFFIX)
    written, streamed = _fetch(ctx, live, entry, part, done_before, total, algorithm)
    ctx.report.phase(Phase.VERIFYING, entry.name)
    verification, checksum = _verify(
        ctx, _file_info(ctx, live, entry.name), entry, part, written, algorithm, streamed
    )
    final = _final_name(target, ctx.spec.existing, in_set)
    os.replace(part, final)  # atomic: the final name only ever holds a complete, checked file
    ctx.report.file_done(entry.name, verification, checksum, live.id)
    return final


def _final_name(target: Path, existing: Existing, in_set: bool) -> Path:
    """Inside the job's own folder the names are the server's; a lone file (or .ova) that
    appeared since the job chose its name is kept unless the user chose to overwrite."""
    return target if in_set or existing is Existing.OVERWRITE else unique_path(target)


def _fetch(
    ctx: WorkflowContext,
    live: _LiveSession,
    entry: FileProgress,
    part: Path,
    done_before: int,
    total: int,
    algorithm: str,
    base: int = 0,
) -> tuple[int, str]:
    """Prepare `entry` and GET it into `part` from `base` (an archive member's data offset),
    with retries and resume: (bytes of the file written, their digest)."""
    client, control, report = ctx.client, ctx.control, ctx.report
    report.phase(Phase.PREPARING, entry.name)
    uri = _prepared_uri(ctx, live, entry.name)
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
            result = _get_once(ctx, uri, part, entry, algorithm, on_progress, retrier, base)
            retrier.succeeded()
            return result
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


def _download_ova(
    ctx: WorkflowContext,
    live: _LiveSession,
    progress: list[FileProgress],
    target: Path,
    item_files: dict[str, FileInfo],
    algorithms: dict[str, str],
    mtime: int,
) -> None:
    """Stream the template's files into `target`.part as one tar, each member verified as it
    completes; the archive gets its final name only once every member matched. A resumed job
    keeps the members an earlier run wrote whole and right, and the next one's bytes (Range)."""
    report = ctx.report
    part = target.with_name(target.name + PART_SUFFIX)
    entries = {p.name: p for p in progress}
    names = [p.name for p in progress]
    descriptor = next(n for n in names if ova_writer.is_descriptor(n))
    sums = {n: f.checksum_info for n, f in item_files.items() if f.checksum_info}
    generated: dict[str, bytes] = {}  # member name -> bytes we write ourselves (the manifest)
    make_manifest = not any(n.lower().endswith(".mf") for n in names) and all(
        sums.get(n) and sums[n].checksum for n in names
    )  # the server consumed the uploaded .mf: one from its own checksums takes its place
    total = sum(p.size for p in progress) or 1
    needed = total + (len(names) + 3) * 3 * ova_writer.BLOCK
    _check_free_space(target.parent, {target.name: target}, {target.name: needed})
    sources: dict[str, str] = {}  # member name -> the server's file name

    def placed(names_in_order: list[str], start: int) -> list[ova_writer.Member]:
        rows = []
        for name in names_in_order:
            member_name = safe_local_name(name)
            if name in entries:
                sources[member_name] = name
                rows.append((member_name, entries[name].size))
            else:
                rows.append((member_name, len(generated[member_name])))
        return ova_writer.layout(rows, mtime, start)

    def after_descriptor(first: ova_writer.Member) -> list[ova_writer.Member]:
        refs = ova_writer.references(_read(part, first.data_at, first.size), descriptor)
        rest = ova_writer.member_order(descriptor, names, refs)[1:]
        if make_manifest:
            rows = [(n, sums[n].effective_algorithm.value, sums[n].checksum.lower())
                    for n in [descriptor, *rest]]  # fmt: skip
            name = ova_writer.manifest_name(descriptor)
            generated[safe_local_name(name)] = ova_writer.manifest(rows)
            rest.insert(0, name)
        return placed(rest, first.end)

    def whole(member: ova_writer.Member) -> bool:
        source = sources.get(member.name, "")
        return have >= member.end and _whole(
            part, member, generated.get(member.name), sums.get(source)
        )

    have = part.stat().st_size if part.exists() else 0
    members = placed([descriptor], 0)
    kept = 0
    if whole(members[0]):
        members += after_descriptor(members[0])
        kept = 1
        while kept < len(members) and whole(members[kept]):
            kept += 1
    kept_names = {sources[m.name] for m in members[:kept] if m.name in sources}
    report.files([dataclasses.replace(p, done=p.size if p.name in kept_names else 0)
                  for p in progress])  # fmt: skip
    for name in kept_names:  # written and verified by an earlier run: kept as they are
        verification, checksum = _kept_verification(sums.get(name))
        report.file_done(name, verification, checksum, live.id)
    done_before = sum(entries[n].size for n in kept_names)
    index = kept
    while index < len(members):  # grows once, when the descriptor is in
        member = members[index]
        _write_at(part, member.header_at, member.header, keep=_partial(have, member))
        have = 0  # from here on, nothing an earlier run wrote is kept
        source = sources.get(member.name)
        if source is None:  # the manifest we write ourselves
            data = generated[member.name] + ova_writer.padding(member.size)
            _write_at(part, member.data_at, data)
        else:
            entry, algorithm = entries[source], algorithms.get(source, "sha1")
            written, streamed = _fetch(
                ctx, live, entry, part, done_before, total, algorithm, member.data_at
            )
            report.phase(Phase.VERIFYING, source)
            verification, checksum = _verify(
                ctx, _file_info(ctx, live, source), entry, part, written, algorithm,
                streamed, base=member.data_at,
            )  # fmt: skip
            _write_at(part, member.data_at + member.size, ova_writer.padding(member.size))
            report.file_done(source, verification, checksum, live.id)
            done_before += member.size
        if index == 0:  # the descriptor is in: it orders the rest
            members += after_descriptor(member)
        index += 1
    _write_at(part, members[-1].end, ova_writer.END_OF_ARCHIVE, sync=True)
    final = _final_name(target, ctx.spec.existing, False)
    os.replace(part, final)  # every member matched: the archive may have its final name
    log.info("wrote %s (%d members)", final, len(members))


def _whole(part: Path, member: ova_writer.Member, content: bytes | None,
           checksum: ChecksumInfo | None) -> bool:  # fmt: skip
    """An earlier run wrote this member whole and right: its header, then its bytes (the
    manifest's, or a file whose digest is the server's checksum)."""
    if _read(part, member.header_at, len(member.header)) != member.header:
        return False
    if content is not None:
        return _read(part, member.data_at, member.size) == content
    if checksum is None or not checksum.checksum:
        return True  # no checksum: the size is all there is to compare (as for a fresh copy)
    algorithm = checksum.effective_algorithm.hashlib_name
    return file_digest(part, algorithm, member.size, member.data_at) == checksum.checksum.lower()


def _kept_verification(checksum: ChecksumInfo | None) -> tuple[Verification, str | None]:
    if checksum is None or not checksum.checksum:
        return Verification.SIZE_ONLY, None
    return (
        Verification.VERIFIED,
        f"{checksum.effective_algorithm.value}:{checksum.checksum.lower()}",
    )


def _partial(have: int, member: ova_writer.Member) -> int:
    """How much of `member`'s data an earlier run left to resume with Range (its header must
    be the same); at least one byte is always fetched again, so the GET has a range to send."""
    if have <= member.data_at:
        return 0
    return min(have - member.data_at, max(0, member.size - 1))


def _write_at(part: Path, at: int, data: bytes, keep: int = 0, sync: bool = False) -> None:
    """Cut `part` at `at`, write `data` there (and keep `keep` bytes that already followed
    it: a member's partial data, checked again by the member's digest)."""
    try:
        with _open_part(part) as sink:
            if not keep or _read(part, at, len(data)) != data:
                keep = 0
            sink.truncate(at + len(data) + keep)
            sink.seek(at)
            sink.write(data)
            if sync:
                sink.flush()
                os.fsync(sink.fileno())
    except OSError as exc:
        raise _write_error(exc, part) from exc


def _read(part: Path, at: int, size: int) -> bytes:
    try:
        with part.open("rb") as source:
            source.seek(at)
            return source.read(size)
    except FileNotFoundError:
        return b""


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
    base: int = 0,
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
        ours = file_digest(part, algorithm.hashlib_name, written, base)
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
    base: int = 0,
) -> tuple[int, str]:
    """One GET into NAME.part (from `base`: an archive member), resuming from its size:
    (bytes of the file written, their digest)."""
    offset = max(0, (part.stat().st_size if part.exists() else 0) - base)
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
                feed_file(part, digest, stream.offset, base)
            sink.seek(base + stream.offset)
            sink.truncate()
            writer = BackgroundWriter(sink, lambda exc: _write_error(exc, part))
            try:
                written = stream.offset
                size = stream.total_size or entry.size
                # received into a few reused blocks, each handed to the writer and the
                # hasher (no copy) and reused once both are done with it
                for block in stream.blocks(BlockRing()):
                    try:
                        nbytes = len(block)
                        if entry.size and written + nbytes > entry.size:
                            part.unlink(missing_ok=True)  # not the file the server listed
                            raise IntegrityError(
                                f"{entry.name}: the server sent more than its {entry.size:,} bytes"
                            )
                        writer.write(block)
                        digest.update(block)
                    finally:
                        block.release()
                    written += nbytes
                    watch.observe(nbytes)
                    on_progress(written, nbytes)
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
