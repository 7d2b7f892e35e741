"""Fan-out: one local file or template (an .ovf and its files, an .ova's members) uploaded
into several items (libraries, servers) at once, each file read from disk and hashed (SHA-1)
once.

Per file, one reader thread (`SharedReader`, started when the first target reaches that
file's PUT) reads it into a `BlockRing`, hands each block to the hasher and offers it to
every target. Each target runs the upload workflow's steps on its own thread, with its own
update session (ended on every way out), retries and verification against the one hash; it
sends the files one after another (a template's .mf and .cert first). A target takes its
blocks from a bounded window (`WINDOW` blocks): one that falls further behind the leading one
(a slow link, a 503 streak) is let go by the reader, which goes at the fastest target's pace
and never waits for a slower one, and goes on from its own read of the file where it stood;
a PUT that must be sent again reads the file on its own too. A target that fails does so
alone, with its reason; the job fails naming the targets that did, once the others are done.

The whole fan-out is one job (`JobSpec.fanout_targets`): the read is shared only while the
targets run at the same moment, which the queue guarantees for one job and not for several
(its parallel limit, one upload per item), and one cancel or pause stops every target. A
paused fan-out ends its sessions and starts again from the beginning when resumed.

Each target a run verified is recorded in the job (`JobSpec.fanout_sent`: its item and that
item's content version, and the local files' sizes and times); a retry or resume skips it
while both are unchanged, and sends to it again when either changed. A target whose server
could not be reached when the job was made (`library_id` empty: only its library's name is
known) finds its library by name when it runs, or fails alone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import BinaryIO

from cl_desktop.api import AddSpec, ContentLibraryClient, errors
from cl_desktop.api.resources import new_client_token
from cl_desktop.api.streams import CHUNK_SIZE, Block, BlockRing

from .context import CleanupKind, KeepAlive, Reporter, WorkflowContext
from .control import JobControl, Retrier, StallWatch, with_retries
from .errors import (
    IntegrityError,
    Interrupted,
    LocalError,
    NotConnected,
    TransferError,
    describe,
)
from .hashing import BackgroundHasher
from .jobs import (
    FanoutSent,
    FanoutTarget,
    FileProgress,
    JobSnapshot,
    JobSpec,
    Phase,
    ServerRef,
    Verification,
    verdict,
)
from .ovf import LocalFile
from .upload import (
    _changed,
    _check_manifest,
    _check_received,
    _check_unchanged,
    _create_session,
    _delete_session,
    _end_session,
    _finish_session,
    _manifest_checksum,
    _manifest_hasher,
    _open_local,
    collect_upload_plan,
    delete_if_empty,
    resolve_item,
    update_keep_alive,
    verify_upload,
)

log = logging.getLogger(__name__)

WINDOW = 32  # blocks (of up to 1 MiB) a target may lag behind the leading one: more than
# the socket buffers let one PUT run ahead of another without being slower
START_WAIT = 5.0  # seconds the reader waits for every target to reach its PUT
HASH_DEPTH = 8  # the hasher's queue (BackgroundHasher's default)

KNOWN_ERRORS = (errors.ContentLibraryError, LocalError)  # a target's failure that is no bug
Connector = Callable[[ServerRef], ContentLibraryClient]
OnSent = Callable[[FanoutSent], None]  # a target verified: kept in the job for a retry


class _LetGo(Exception):
    """The reader let this target go (too far behind, or the read failed): read on your own."""


class _Window:
    """The blocks the reader offered one target and it has not taken yet (at most `size`)."""

    def __init__(self, size: int, cond: threading.Condition) -> None:
        self._cond = cond  # shared by the windows of one reader: it waits for the leader
        self._blocks: deque[Block] = deque()
        self._size = size
        self.arrived = False  # the target is at its PUT
        self.let_go = False  # no more blocks: the target reads the file itself
        self.fell_behind = False
        self._ended = False

    # --- the target's side

    def arrive(self) -> None:
        with self._cond:
            self.arrived = True
            self._cond.notify_all()

    def take(self, control: JobControl) -> Block | None:
        """The next block (the caller releases it), None at the end of the file."""
        with self._cond:
            while True:
                if self._blocks:
                    self._cond.notify_all()  # room again: the reader may go on
                    return self._blocks.popleft()
                if self.let_go:
                    raise _LetGo
                if self._ended:
                    return None
                self._cond.wait(0.2)
                control.check()

    def leave(self) -> None:
        with self._cond:
            self._drop()

    # --- the reader's side

    def wait_arrival(self, deadline: float) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: self.arrived or self.let_go, max(0.0, deadline - time.monotonic())
            )
            if not self.arrived:
                self._drop()  # still setting up (or retrying): it reads on its own

    @property
    def has_room(self) -> bool:  # (under the lock)
        return not self.let_go and len(self._blocks) < self._size

    def offer(self, block: Block) -> None:
        with self._cond:
            if self.let_go:
                return
            if len(self._blocks) >= self._size:
                self.fell_behind = True
                self._drop()
                return
            block.hold()
            self._blocks.append(block)
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def _drop(self) -> None:
        self.let_go = True
        while self._blocks:
            self._blocks.popleft().release()
        self._cond.notify_all()


class SharedReader:
    """Reads `f` once (`bytes_read`), hashes it once (`sha1`; and in its manifest's algorithm
    when that is not SHA-1, for an .ova member), and offers every block to each target's
    `_Window`. Starts when the first target reaches the file's PUT (`start`), then waits up to
    `start_wait` for the others, and afterwards for the leading target only."""

    def __init__(
        self, f: LocalFile, targets: int, window: int = WINDOW, start_wait: float | None = None
    ) -> None:
        self.file = f
        self._cond = threading.Condition()
        self.windows = [_Window(window, self._cond) for _ in range(targets)]
        self.bytes_read = 0
        self._start_wait = START_WAIT if start_wait is None else start_wait
        # enough blocks that the reader never waits for a target: each holds at most its
        # window plus the one it is sending; each hasher its queue and the one it hashes
        self._blocks = window + 2 * targets + 2 * HASH_DEPTH + 3
        self._stop = threading.Event()
        self._done = threading.Event()
        self._digests: tuple[str, str] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fanout-read", daemon=True)
        self._started = threading.Lock()

    def start(self) -> None:
        """Begin (once): the first target is at this file's PUT."""
        if self._started.acquire(blocking=False):
            self._thread.start()

    def stop(self) -> None:
        """Stop reading (the job was cancelled or paused, or it ended) and let every target go."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def digests(self, control: JobControl) -> tuple[str, str]:
        """(the file's SHA-1, its hash in its manifest's algorithm), once it was all read."""
        while not self._done.wait(0.2):
            control.check()
        if self._error is not None or self._digests is None:
            raise self._error or TransferError(f"{self.file.name} was not read")
        return self._digests

    def _wait_for_the_leader(self) -> None:
        """Read no further ahead than the leading target's window: the reader goes at the
        fastest target's pace, and a target a whole window behind the leader is let go."""
        with self._cond:
            while not self._stop.is_set():
                attached = [w for w in self.windows if not w.let_go]
                if not attached or any(w.has_room for w in attached):
                    return  # (with none left, the file is still read for its one hash)
                self._cond.wait(0.2)
        raise Interrupted(False)

    def _run(self) -> None:
        f = self.file
        hasher = BackgroundHasher("sha1", HASH_DEPTH)
        listed = _manifest_hasher(f)  # an .ova member listed in another algorithm
        try:
            deadline = time.monotonic() + self._start_wait
            for window in self.windows:
                window.wait_arrival(deadline)
            ring = BlockRing(self._blocks, CHUNK_SIZE)  # only now: one file's ring at a time
            with _open_local(f) as source:
                while self.bytes_read < f.size:
                    self._wait_for_the_leader()
                    block = ring.take()
                    try:
                        space = block.space(min(ring.size, f.size - self.bytes_read))
                        n = source.readinto(space)  # type: ignore[attr-defined]
                        if not n:
                            raise _changed(f)
                        block.filled(n)
                        hasher.update(block)
                        if listed is not None:
                            listed.update(block)
                        for window in self.windows:
                            window.offer(block)
                    finally:
                        block.release()
                    self.bytes_read += n
            _check_unchanged(f)
            sha1 = hasher.hexdigest()
            self._digests = (sha1, listed.hexdigest() if listed is not None else sha1)
            for window in self.windows:
                window.end()
        except BaseException as exc:
            self._error = exc
            hasher.hexdigest()  # ends its thread
            if listed is not None:
                listed.hexdigest()
            for window in self.windows:
                window.leave()  # each reads on its own, and meets the same problem or not
        finally:
            self._done.set()


class _Source:
    """The body of one target's PUT: the reader's blocks while it keeps up, then (or from the
    start, when sent again) its own read of the file from where it stands. Counts the bytes
    it read itself (`own_bytes`)."""

    def __init__(self, f: LocalFile, window: _Window | None, control: JobControl) -> None:
        self._file = f
        self._window = window
        self._control = control
        self._block: Block | None = None
        self._at = 0  # in the current block
        self.position = 0
        self.own_bytes = 0
        self._own: BinaryIO | None = None

    def readinto(self, space: memoryview) -> int:
        if self._own is None and self._window is not None:
            try:
                return self._from_reader(space)
            except _LetGo:
                log.info("%s: reading the file itself from byte %d", self._file.name, self.position)
                self._window = None
        return self._read_own(space)

    def _from_reader(self, space: memoryview) -> int:
        if self._block is None:
            assert self._window is not None
            self._block = self._window.take(self._control)
            self._at = 0
            if self._block is None:
                return 0
        block = self._block
        n = min(len(space), len(block) - self._at)
        space[:n] = block.view[self._at : self._at + n]
        self._at += n
        self.position += n
        if self._at == len(block):
            self._block = None
            block.release()
        return n

    def _read_own(self, space: memoryview) -> int:
        f = self._file
        if self._own is None:
            self._own = _open_local(f)
            self._own.seek(f.offset + self.position)
        left = f.size - self.position
        n: int = self._own.readinto(space[:left]) if left > 0 else 0  # type: ignore[attr-defined]
        if not n and left > 0:
            raise _changed(f)
        self.position += n
        self.own_bytes += n
        return n

    def close(self) -> None:
        if self._block is not None:
            self._block.release()
            self._block = None
        if self._window is not None:
            self._window.leave()
        if self._own is not None:
            self._own.close()


@dataclass
class TargetOutcome:
    target: FanoutTarget
    label: str
    verification: Verification | None = None
    error: BaseException | None = None
    own_bytes: int = 0  # read from the file by this target itself (behind, or sent again)
    fell_behind: bool = False
    item_id: str = ""
    skipped: bool = False  # verified by an earlier run and unchanged since: not sent again


@dataclass
class FanoutResult:
    bytes_read: int  # by the shared reader
    outcomes: list[TargetOutcome]


class _TargetReporter:
    """One target's view of the job's Reporter: its progress is the job's row named after the
    target; its session and item stay its own (the job's fields hold one of each)."""

    def __init__(self, report: Reporter, label: str, server: ServerRef) -> None:
        self._report = report
        self._label = label
        self._server = server  # the target's: what it leaves is cleaned up there
        self.item_id = ""
        self.created = False

    def phase(self, phase: Phase, note: str = "") -> None:
        pass  # the job's phase is the fan-out's

    def files(self, files: list[FileProgress]) -> None:
        pass

    def progress(self, name: str, done: int) -> None:
        self._report.progress(self._label, done)

    def file_sent(self, name: str) -> None:
        self._report.file_sent(self._label)

    def file_done(
        self, name: str, verification: Verification, checksum: str | None, session_id: str
    ) -> None:
        self._report.file_done(self._label, verification, checksum, session_id)

    def session(self, session_id: str | None) -> None:
        pass

    def item(self, item_id: str, item_name: str, created: bool = False) -> None:
        self.item_id = item_id
        self.created = self.created or created

    def note(self, text: str) -> None:
        pass

    def cleanup_later(
        self, kind: CleanupKind, target: str, server: ServerRef | None = None
    ) -> None:
        # recorded for the target's server (another one's too): done when it is reachable
        self._report.cleanup_later(kind, target, server or self._server)

    def source_session(self, session_id: str | None) -> None:
        pass  # (a copy's; a fan-out has none)

    def destination(self, path: str) -> None:
        pass


def fanout_labels(targets: tuple[FanoutTarget, ...]) -> list[str]:
    """Each target's row name, unique within the job."""
    labels: list[str] = []
    for target in targets:
        label, n = target.label, 2
        while label in labels:
            label, n = f"{target.label} ({n})", n + 1
        labels.append(label)
    return labels


def run_fanout(
    ctx: WorkflowContext,
    connector: Connector,
    *,
    window: int = WINDOW,
    start_wait: float | None = None,
    on_sent: OnSent | None = None,
) -> FanoutResult:
    """Upload the spec's file (or template: an .ovf with its files, an .ova's members) into
    every `fanout_targets` item, but those `fanout_sent` says an earlier run verified and that
    did not change since; raises when any target failed (after all have ended), naming each.
    `on_sent` hears of each target verified, before its row says so."""
    spec, report = ctx.spec, ctx.report
    report.phase(Phase.CHECKING)
    files, notes = collect_upload_plan(spec.paths)
    if notes:
        report.note("; ".join(notes))
    # a template's manifest and certificate first (vCenter refuses them after the
    # descriptor), then the rest; each target sends them one after another, in this order
    files = [f for f in files if _early(f)] + [f for f in files if not _early(f)]
    targets = spec.fanout_targets
    labels = fanout_labels(targets)
    total = sum(f.size for f in files)
    report.files([FileProgress(label, total) for label in labels])
    readers = [SharedReader(f, len(targets), window, start_wait) for f in files]
    outcomes = [TargetOutcome(t, label) for t, label in zip(targets, labels, strict=True)]
    stamp = source_stamp(spec.paths)
    sent = {s.index: s for s in spec.fanout_sent if s.source == stamp}
    report.phase(Phase.TRANSFERRING)
    try:
        with ThreadPoolExecutor(len(targets), thread_name_prefix="fanout") as pool:
            futures = [
                pool.submit(
                    _run_target,
                    ctx,
                    connector,
                    outcome,
                    files,
                    readers,
                    index,
                    _Sent(sent.get(index), stamp, on_sent),
                )
                for index, outcome in enumerate(outcomes)
            ]
            for outcome, future in zip(outcomes, futures, strict=True):
                outcome.error = future.exception()
    finally:
        for reader in readers:
            reader.stop()
    for index, outcome in enumerate(outcomes):
        outcome.fell_behind = any(r.windows[index].fell_behind for r in readers)
    skipped = [o.label for o in outcomes if o.skipped]
    if skipped:  # the row says so (the history records too)
        report.note(
            f"verified by an earlier run and unchanged, not sent again: {', '.join(skipped)}"
        )
    result = FanoutResult(sum(r.bytes_read for r in readers), outcomes)
    log.info(
        "fan-out of %s: read %d bytes once; %s",
        ", ".join(f.name for f in files),
        result.bytes_read,
        "; ".join(f"{o.label}: own reads {o.own_bytes}" for o in outcomes),
    )
    _raise_failures(outcomes)
    return result


def fanout_history(job: JobSnapshot, label: str) -> dict[str, str]:
    """A fan-out's history record of the target `label`: its server, library and item, and
    whether this run skipped it (verified by an earlier one, unchanged since)."""
    targets = job.spec.fanout_targets
    labels = fanout_labels(targets)
    if label not in labels:
        return {}
    index = labels.index(label)
    target = targets[index]
    sent = next((s for s in job.spec.fanout_sent if s.index == index), None)
    extra = {
        "target_server": target.server.url,
        "target_user": target.server.username,
        "target_library_id": target.library_id,
        "target_item_id": sent.item_id if sent else (target.item_id or ""),
    }
    if sent is not None and sent.attempt < job.attempts:
        extra["skipped"] = f"verified by run {sent.attempt} and unchanged since"
    return extra


def source_stamp(paths: tuple[str, ...]) -> str:
    """The local files as they are now (sizes and modification times): a target verified
    with other ones is sent again."""
    stats = [os.stat(p) for p in paths]
    return ";".join(f"{st.st_size}:{st.st_mtime_ns}" for st in stats)


@dataclass
class _Sent:
    """One target's record from an earlier run (None: none), and where to record this one's."""

    earlier: FanoutSent | None
    stamp: str
    on_sent: OnSent | None


def _early(f: LocalFile) -> bool:
    return f.name.lower().endswith((".mf", ".cert"))


def _raise_failures(outcomes: list[TargetOutcome]) -> None:
    failed = [o for o in outcomes if o.error is not None]
    if not failed:
        return
    stop = next((o.error for o in failed if isinstance(o.error, Interrupted)), None)
    if stop is not None:
        raise stop
    bug = next((o.error for o in failed if not isinstance(o.error, KNOWN_ERRORS)), None)
    if bug is not None:
        raise bug  # the queue logs it as what it is
    reasons = "; ".join(f"{o.label}: {': '.join(describe(o.error))}" for o in failed if o.error)
    summary = f"{len(failed)} of {len(outcomes)} targets failed: {reasons}"
    if all(isinstance(o.error, IntegrityError) for o in failed):
        raise IntegrityError(summary) from failed[0].error
    raise TransferError(summary) from failed[0].error


def _run_target(
    ctx: WorkflowContext,
    connector: Connector,
    outcome: TargetOutcome,
    files: list[LocalFile],
    readers: list[SharedReader],
    index: int,
    sent: _Sent,
) -> None:
    try:
        target = outcome.target
        same_server = target.server == ctx.spec.server
        client = ctx.client if same_server else _connected(connector, target.server, ctx)
        if _unchanged(client, ctx.control, sent.earlier):
            assert sent.earlier is not None
            outcome.skipped, outcome.item_id = True, sent.earlier.item_id
            outcome.verification = Verification(sent.earlier.verification)
            log.info("fan-out to %s: verified by an earlier run, unchanged", outcome.label)
            ctx.report.file_done(outcome.label, outcome.verification, None, "")
            return
        if not target.library_id:  # its server was unreachable when the job was made
            target = replace(target, library_id=_library_named(client, target))
        own_spec = JobSpec(
            ctx.spec.direction,
            target.server,
            target.library_id,
            item_id=target.item_id,
            item_name=target.item_name,
            paths=ctx.spec.paths,
            ignore_warnings=ctx.spec.ignore_warnings,
        )
        report = _TargetReporter(ctx.report, outcome.label, target.server)
        tctx = replace(
            ctx, client=client, spec=own_spec, report=report, client_token=new_client_token()
        )
        _upload_target(tctx, report, outcome, files, readers, index, sent)
    except BaseException as exc:
        log.info("fan-out to %s failed: %s", outcome.label, exc)
        raise
    finally:
        for reader in readers:  # the files it will not send: the reader waits for it no more
            reader.windows[index].leave()


def _unchanged(
    client: ContentLibraryClient, control: JobControl, earlier: FanoutSent | None
) -> bool:
    """Whether the item an earlier run verified still holds that content (its version)."""
    if earlier is None or not earlier.content_version:
        return False
    try:
        item = with_retries(control, lambda: client.items.get(earlier.item_id))
    except (errors.NotFound, errors.InvalidArgument):
        return False  # deleted since: made again
    return item.content_version == earlier.content_version


def _library_named(client: ContentLibraryClient, target: FanoutTarget) -> str:
    """The id of the target's library, by its name (case-insensitive, as the CLI finds it)."""
    name = target.library_name.lower()
    found = [m.id for m in client.libraries.list_models() if (m.name or "").lower() == name]
    if not found or not found[0]:
        raise errors.NotFound(
            f"no library named {target.library_name!r} on {target.server.label}",
            operation="find library",
        )
    return found[0]


def _connected(
    connector: Connector, server: ServerRef, ctx: WorkflowContext
) -> ContentLibraryClient:
    """The target's client; a server whose login is still under way (the window connects a
    fan-out's other servers when it starts) is waited for, within the reconnect window."""
    control = ctx.control
    deadline = time.monotonic() + control.policy.reconnect_window
    while True:
        try:
            return connector(server)
        except NotConnected:
            if time.monotonic() > deadline:
                raise
            control.wait(0.5)


def _upload_target(
    ctx: WorkflowContext,
    report: _TargetReporter,
    outcome: TargetOutcome,
    files: list[LocalFile],
    readers: list[SharedReader],
    index: int,
    sent: _Sent,
) -> None:
    client, control = ctx.client, ctx.control
    spec = ctx.spec
    if spec.item_id is None:  # an item of that name made since (an earlier run): fill it
        found = with_retries(
            control, lambda: client.items.find(name=spec.item_name, library_id=spec.library_id)
        )
        if found:
            ctx = replace(ctx, spec=replace(spec, item_id=found[0]))
    item_id = resolve_item(ctx)
    try:
        session_id = _create_session(ctx, item_id)
        sha1s: dict[str, str] = {}
        transient: set[str] = set()
        try:
            keep_alive = update_keep_alive(ctx, session_id)
            done = 0
            for f, reader in zip(files, readers, strict=True):
                keep, sha1 = _send(ctx, session_id, outcome, f, reader, index, keep_alive, done)
                sha1s[f.name] = sha1
                if not keep:
                    transient.add(f.name)
                _check_received(ctx, session_id, f, sha1)  # before complete: never damaged
                done += f.size
            _finish_session(ctx, session_id)
        except Interrupted:
            _end_session(ctx, session_id, None)
            raise
        except BaseException as exc:
            _end_session(ctx, session_id, describe(exc)[1])
            raise
        _delete_session(ctx, session_id)
        stored = {i.name: i for i in with_retries(control, lambda: client.item_files.list(item_id))}
        verified = []
        for f in files:
            if f.name not in stored and f.name in transient:  # an .mf/.cert the server read
                verified.append(FileProgress(f.name, f.size, f.size, Verification.CONSUMED))
                continue
            verification, checksum = verify_upload(f, stored.get(f.name), sha1s[f.name])
            verified.append(FileProgress(f.name, f.size, f.size, verification, checksum))
        outcome.verification = verdict(verified)
        outcome.item_id = item_id
        if sent.on_sent is not None:  # kept before the row says done: a retry skips it
            version = _content_version(client, item_id)
            sent.on_sent(
                FanoutSent(index, item_id, version, sent.stamp, outcome.verification.value)
            )
        # the row's checksum: the file's, when the target got one file
        single = verified[0].checksum if len(verified) == 1 else None
        report.file_done(files[0].name, outcome.verification, single, session_id)
    except BaseException:
        if report.created:  # an item this target made stays only when it holds the file
            try:
                delete_if_empty(client, item_id)
            except Exception as exc:
                log.warning("could not remove the empty item %s now: %s", item_id, exc)
                report.cleanup_later(CleanupKind.ITEM, item_id)
        raise


def _content_version(client: ContentLibraryClient, item_id: str) -> str:
    """The item's content version now ("" when it cannot be read: a retry sends again)."""
    try:
        return client.items.get(item_id).content_version or ""
    except errors.ContentLibraryError as exc:
        log.info("could not read the content version of %s: %s", item_id, exc)
        return ""


def _send(
    ctx: WorkflowContext,
    session_id: str,
    outcome: TargetOutcome,
    f: LocalFile,
    reader: SharedReader,
    index: int,
    keep_alive: KeepAlive,
    before: int,
) -> tuple[bool, str]:
    """PUT one file into the session, from the reader's blocks at first, retried on its own
    (`before`: the bytes of the target's earlier files, for its row's progress); (kept in
    storage?, the file's SHA-1, the reader's)."""
    client, control, report = ctx.client, ctx.control, ctx.report
    retrier = Retrier(control, stopped=f"the server stopped receiving {f.name}")
    shared: _Window | None = reader.windows[index]
    add = AddSpec(f.name, size=f.size, checksum_info=_manifest_checksum(f))
    logins = 0
    while True:
        control.check()
        watch = StallWatch(retrier, f"upload {f.name} to {outcome.label}")
        last = [0]

        def on_progress(done: int, last: list[int] = last, watch: StallWatch = watch) -> None:
            control.check()
            watch.observe(done - last[0])
            control.throttle(done - last[0])
            keep_alive.maybe()  # (the progress it reports is the job's, not one target's)
            last[0] = done
            report.progress(f.name, before + done)

        source = _Source(f, shared, control)
        shared = None  # a PUT sent again reads the file itself
        try:
            info = with_retries(control, lambda: client.update_session_files.add(session_id, add))
            if info.upload_endpoint is None:
                raise TransferError(f"the server gave no upload address for {f.name}")
            _check_unchanged(f)
            reader.start()  # (the first target at this file starts it)
            reader.windows[index].arrive()
            client.upload(
                info.upload_endpoint.uri,
                source,  # type: ignore[arg-type]
                f.size,
                progress=on_progress,
                op=f"upload {f.name} to {outcome.label}",
                stall_seconds=control.policy.stall_seconds,
            )
            _check_unchanged(f)
            retrier.succeeded()
            break
        except errors.Unauthenticated:
            logins += 1
            if logins > 2:
                raise
            with_retries(control, client.renew_login)
        except Exception as exc:
            log.info("PUT of %s to %s failed: %s", f.name, outcome.label, exc)
            retrier.failed(exc, stall=True)
        finally:
            source.close()
            outcome.own_bytes += source.own_bytes
    sha1, listed = reader.digests(control)
    _check_manifest(f, listed)  # an .ova member's manifest line, before complete
    return info.keep_in_storage is not False, sha1
