"""What a transfer job is: its request, its state, and the snapshots the queue publishes.

Everything here is immutable so that it can cross threads (worker -> queue -> GUI) safely.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from .meter import eta_seconds


class Direction(StrEnum):
    UPLOAD = "upload"
    DOWNLOAD = "download"
    COPY = "copy"  # an item from one library into another (same server or another one)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def finished(self) -> bool:
        """Terminal: the job runs again only if it is retried."""
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELED)

    # What the user may do to a job in this state: the queue's commands and the window's
    # actions both ask here, so a menu never offers what the queue would ignore.

    def can_cancel(self) -> bool:
        return not self.finished

    def can_pause(self) -> bool:
        return self in (JobState.QUEUED, JobState.RUNNING)

    def can_resume(self) -> bool:
        return self is JobState.PAUSED

    def can_retry(self) -> bool:
        return self in (JobState.FAILED, JobState.CANCELED)

    def can_remove(self) -> bool:
        """Finished or paused; a running or queued job is cancelled first."""
        return self.finished or self is JobState.PAUSED


class Verification(StrEnum):
    """How sure we are that the bytes on the other side are the bytes we meant."""

    VERIFIED = "verified"  # a checksum computed while streaming matched the server's
    SIZE_ONLY = "size only"  # the server offered no checksum; the sizes matched
    UNVERIFIED = "unverified"
    CONSUMED = "consumed by the server"  # an OVF .mf/.cert: read on complete, not kept
    SKIPPED = "skipped"  # a download whose target existed, with the policy "skip"


class FailureKind(StrEnum):
    """Which family a job's error belongs to, kept with the job so that a later reader (the CLI's
    exit code, the window) decides by the error's type, never by its title."""

    SERVER = "server"  # the server or the conversation with it
    INTEGRITY = "integrity"  # the bytes did not match
    LOCAL = "local"  # this machine: disk, files, names
    INTERNAL = "internal"  # escaped the engine's own errors: a bug


class Existing(StrEnum):
    """What a download does when its target (the file, the item's folder, the .ova) exists."""

    KEEP_BOTH = "keep-both"  # a free name: "name (2).ext", "ITEM (2)/" with the names inside
    OVERWRITE = "overwrite"
    SKIP = "skip"  # the job ends done, nothing written


class Phase(StrEnum):
    """The step a running job is in, for the user to see."""

    WAITING = "waiting"
    CHECKING = "checking files"
    PREPARING = "preparing"
    TRANSFERRING = "transferring"
    VERIFYING = "verifying"
    FINISHING = "finishing"
    RETRYING = "retrying"  # an API call failed and is tried again soon
    RECONNECTING = "reconnecting"  # the server is unreachable: tried again within a window
    STALLED = "stalled"  # the connection is open but (almost) no bytes move
    WAITING_FOR_LOGIN = "waiting for login"  # its server is not connected in this run
    # paused on preview warnings of a signed OVF: the user allows them or refuses the upload
    NEEDS_DECISION = "needs a decision"


@dataclass(frozen=True)
class ServerRef:
    """Which server and account a job talks to (the password is looked up, never stored)."""

    url: str
    username: str
    dialect: str = "auto"
    ca_file: str | None = None
    pin_sha256: str | None = None

    @property
    def label(self) -> str:
        """'user@host[:port]' (the port only when not 443): how the window names the server."""
        parts = urlsplit(self.url if "://" in self.url else f"https://{self.url}")
        host = parts.hostname or self.url
        if ":" in host:  # an IPv6 address keeps its brackets
            host = f"[{host}]"
        port = parts.port
        return f"{self.username}@{host}" + (f":{port}" if port not in (None, 443) else "")


@dataclass(frozen=True)
class FanoutTarget:
    """One library (and item) a fan-out upload fills: into `item_id`, or into a new item
    `item_name` (an item of that name found when the job runs is used instead)."""

    server: ServerRef
    library_id: str
    item_id: str | None = None
    item_name: str = ""
    library_name: str = ""  # for the job's rows: "user@host Library/Item"

    @property
    def label(self) -> str:
        return f"{self.server.label} {self.library_name or self.library_id}/{self.item_name}"


@dataclass(frozen=True)
class FanoutSent:
    """A fan-out target (`index` into `fanout_targets`) that a run verified: its item, that
    item's content version afterwards, and the local file(s) as they were sent (`source`:
    sizes and modification times). A retry skips the target while both are unchanged."""

    index: int
    item_id: str
    content_version: str
    source: str
    verification: str = "verified"
    attempt: int = 0  # the job's run that sent it: a later run that skipped it has another


@dataclass(frozen=True)
class JobSpec:
    """What the user asked for.

    Upload: `paths` into `item_id`, or into a new item `item_name` in `library_id` when
    `item_id` is None (`unique_name` picks a free name instead of failing on a clash).
    Import from URL (PULL): an UPLOAD whose `source_url` the server fetches itself (no
    `paths`); `source_thumbprint` is the https source's SHA-1 thumbprint ("AA:BB:...").
    Download: the files `file_names` (all when empty) of `item_id` into `dest_dir`: one file
    as itself, several in their own folder `dest_dir/ITEM/`, or (`as_ova`) an OVF template as
    one `dest_dir/ITEM.ova`; `existing` says what to do when that target exists. `target` is
    the path chosen on the job's first run (kept, so a resumed job finds its .part files).
    Copy: the item `item_id` (named `item_name`) of `library_id` on `server` into
    `target_library_id` on `target_server` (None: the same server): into the existing item
    `target_item_id`, or a new item `target_item_name` (the source's name when empty; a free
    "NAME (2)" on a clash).
    """

    direction: Direction
    server: ServerRef
    library_id: str
    item_id: str | None = None
    item_name: str = ""
    item_type: str | None = None
    paths: tuple[str, ...] = ()
    dest_dir: str = ""
    file_names: tuple[str, ...] = ()
    unique_name: bool = False
    # upload: the preview warnings of a signed OVF (WarningType values) this job may ignore
    ignore_warnings: tuple[str, ...] = ()
    source_url: str = ""
    source_thumbprint: str = ""
    as_ova: bool = False
    existing: Existing = Existing.KEEP_BOTH
    target: str = ""
    target_server: ServerRef | None = None
    target_library_id: str = ""
    target_item_id: str | None = None
    target_item_name: str = ""
    # fan-out: the one file of `paths` into each of these (the job's own server, library and
    # item are those of the first); read and hashed once for all of them
    fanout_targets: tuple[FanoutTarget, ...] = ()
    # fan-out: the targets verified by a run (kept: a retry does not send to them again)
    fanout_sent: tuple[FanoutSent, ...] = ()

    @property
    def is_pull(self) -> bool:
        return bool(self.source_url)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        raw: dict[str, Any] = json.loads(text)
        raw["direction"] = Direction(raw["direction"])
        raw["server"] = ServerRef(**raw["server"])
        raw["paths"] = tuple(raw.get("paths", ()))
        raw["file_names"] = tuple(raw.get("file_names", ()))
        raw["ignore_warnings"] = tuple(raw.get("ignore_warnings", ()))
        raw["existing"] = Existing(raw.get("existing") or Existing.KEEP_BOTH)
        raw["fanout_targets"] = tuple(
            FanoutTarget(**{**t, "server": ServerRef(**t["server"])})
            for t in raw.get("fanout_targets", ())
        )
        raw["fanout_sent"] = tuple(FanoutSent(**t) for t in raw.get("fanout_sent", ()))
        if raw.get("target_server"):
            raw["target_server"] = ServerRef(**raw["target_server"])
        return cls(**raw)

    @property
    def copy_target(self) -> ServerRef:
        """Where a copy writes: its target server, or its own server."""
        return self.target_server or self.server

    @property
    def title(self) -> str:
        if self.direction is Direction.COPY:
            name = self.item_name or self.item_id or ""
            into = self.target_item_name or self.target_item_id or name
            where = f" on {self.target_server.label}" if self.target_server else ""
            return f"{name} -> {into}{where}"
        if self.direction is Direction.UPLOAD and self.source_url:
            return f"{self.source_url} -> {self.item_name or self.item_id}"
        if self.direction is Direction.UPLOAD:
            names = ", ".join(p.replace("\\", "/").rsplit("/", 1)[-1] for p in self.paths)
            if self.fanout_targets:
                return f"{names} -> {len(self.fanout_targets)} libraries"
            return f"{names} -> {self.item_name or self.item_id}"
        name = self.item_name or self.item_id or ""
        if self.target:
            return f"{name} -> {self.target}"
        if self.as_ova and self.item_name:
            return f"{name} -> {os.path.join(self.dest_dir, self.item_name + '.ova')}"
        if self.as_ova:
            return f"{name} -> {self.dest_dir} (as .ova)"
        return f"{name} -> {self.dest_dir}"


@dataclass(frozen=True)
class FileProgress:
    name: str
    size: int
    done: int = 0
    verification: Verification | None = None
    checksum: str | None = None  # "ALGORITHM:hex" once known


def verdict(files: Iterable[FileProgress]) -> Verification:
    """How sure a finished job is of its bytes: as sure as its least sure file.

    Files the server consumes (an OVF's .mf/.cert) are not kept, so they do not count; a job
    with no file that counts is unverified.
    """
    kinds = [f.verification for f in files if f.verification is not Verification.CONSUMED]
    if kinds and all(k is Verification.SKIPPED for k in kinds):
        return Verification.SKIPPED
    if kinds and all(k is Verification.VERIFIED for k in kinds):
        return Verification.VERIFIED
    if kinds and all(k in (Verification.VERIFIED, Verification.SIZE_ONLY) for k in kinds):
        return Verification.SIZE_ONLY
    return Verification.UNVERIFIED


# The preview warnings of a signed OVF package (the server's WarningType values), in words.
WARNING_WORDS = {
    "SELF_SIGNED_CERTIFICATE": "the signing certificate is self-signed",
    "EXPIRED_CERTIFICATE": "the signing certificate has expired",
    "NOT_YET_VALID_CERTIFICATE": "the signing certificate is not valid yet",
    "UNTRUSTED_CERTIFICATE": "the signing certificate is not trusted by the server",
}


def warning_words(kind: str) -> str:
    return WARNING_WORDS.get(kind, f"the server warns: {kind}")


@dataclass(frozen=True)
class SignatureWarning:
    type: str  # SELF_SIGNED_CERTIFICATE, ...
    message: str = ""  # the server's words


@dataclass(frozen=True)
class WarningDecision:
    """Preview warnings of a signed OVF that the job may not ignore by itself: the user allows
    them (the job resumes into the same session) or refuses the upload. With what the server
    says about the signer's certificate."""

    warnings: tuple[SignatureWarning, ...]
    subject: str = ""
    issuer: str = ""
    self_signed: bool | None = None
    valid_from: str = ""  # "2026-01-31 12:00 UTC", when the certificate could be read
    valid_until: str = ""

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(w.type for w in self.warnings)

    def summary(self) -> str:
        """ "the signing certificate is self-signed; ... has expired" for a row or a line."""
        return "; ".join(warning_words(w.type) for w in self.warnings)


@dataclass(frozen=True)
class JobSnapshot:
    """One job as the queue sees it at one moment."""

    id: int
    spec: JobSpec
    state: JobState
    phase: Phase = Phase.WAITING
    position: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    speed: float = 0.0  # bytes per second, rolling average
    files: tuple[FileProgress, ...] = ()
    item_id: str | None = None
    session_id: str | None = None
    verification: Verification | None = None
    error_title: str = ""
    error_message: str = ""
    failure: FailureKind | None = None  # set with error_title when the job failed
    attempts: int = 0
    # the job created `item_id` itself: if it ends without filling it, the item is deleted
    item_created: bool = False
    # what the row should say besides the state: "reconnecting, try 2, next in 8 s", "x.vmdk
    # will be sent again from its start", ... (errors go to error_title/error_message)
    note: str = ""
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    # paused for the user to allow or refuse a signed OVF's preview warnings (not persisted:
    # after a restart the job asks again when it reaches them)
    decision: WarningDecision | None = None
    # a copy's download session on its source server (`session_id` is then the update
    # session on the target, `item_id` the target item)
    source_session_id: str | None = None

    @property
    def eta(self) -> float | None:
        """Seconds left at the current speed, or None when unknown."""
        if self.state is not JobState.RUNNING or self.bytes_total <= 0:
            return None
        return eta_seconds(max(0, self.bytes_total - self.bytes_done), self.speed)

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.bytes_total if self.bytes_total else 0.0


@dataclass(frozen=True)
class HistoryRecord:
    """One finished file transfer: the audit trail row (exported as CSV and JSON)."""

    job_id: int
    server: str
    user: str
    direction: str
    library_id: str
    item_id: str
    item_name: str
    session_id: str
    file: str
    bytes: int
    checksum: str
    verification: str
    started_at: str
    duration_s: float
    outcome: str
    error: str = ""
    extra: dict[str, str] = field(default_factory=dict)
