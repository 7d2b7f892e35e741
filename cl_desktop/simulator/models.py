"""State objects of the service and their JSON (wire) forms.

Libraries, items and item files are durable (see ``store.py``); logins and
update/download sessions live in memory only, as transient leases.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .certs import MAX_CERT_FILE, Certificate, signature_preview
from .errors import localizable

JSON = dict[str, Any]

DATASTORE_ID = "datastore-1"
DATASTORE_NAME = "datastore1"
CHECKSUM_ALGORITHMS = ("SHA1", "MD5", "SHA256", "SHA512")


def iso_time(ts: float) -> str:
    """ISO-8601 UTC with milliseconds, as vCenter prints times: 2022-11-23T20:06:05.707Z."""
    whole = int(ts)
    millis = int((ts - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def storage_backing() -> JSON:
    return {"type": "DATASTORE", "datastore_id": DATASTORE_ID}


# -- durable ------------------------------------------------------------------------


@dataclass
class ItemFile:
    """A file stored in a library item (one version of it)."""

    name: str
    size: int
    version: int
    sha1: str
    blob: str  # path of the content, relative to the data dir

    def checksum_info(self) -> JSON:
        return {"algorithm": "SHA1", "checksum": self.sha1}

    def info(self) -> JSON:
        """File.Info of ``/content/library/item/{id}/file``."""
        return {
            "name": self.name,
            "size": self.size,
            "cached": True,
            "version": str(self.version),
            "checksum_info": self.checksum_info(),
        }

    def storage_info(self, library_id: str, item_id: str) -> JSON:
        """Storage.Info: the file as it lies on the datastore."""
        uri = (
            f"ds:///vmfs/volumes/{DATASTORE_ID}/contentlib-{library_id}/"
            f"{item_id}/{self.name}_{self.version}"
        )
        return {
            "storage_backing": storage_backing(),
            "storage_uris": [uri],
            "checksum_info": self.checksum_info(),
            "name": self.name,
            "size": self.size,
            "cached": True,
            "version": str(self.version),
        }

    def to_dict(self) -> JSON:
        return {
            "name": self.name,
            "size": self.size,
            "version": self.version,
            "sha1": self.sha1,
            "blob": self.blob,
        }

    @classmethod
    def from_dict(cls, data: JSON) -> ItemFile:
        return cls(
            data["name"], int(data["size"]), int(data["version"]), data["sha1"], data["blob"]
        )


@dataclass
class Item:
    id: str
    library_id: str
    name: str
    description: str
    type: str
    creation_time: float
    last_modified_time: float
    content_version: int = 1
    metadata_version: int = 1
    version: int = 1
    files: dict[str, ItemFile] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(file.size for file in self.files.values())

    def model(self) -> JSON:
        """ItemModel."""
        return {
            "id": self.id,
            "library_id": self.library_id,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "size": self.size,
            # Every stored file is on disk, so the item is cached once it has content.
            "cached": bool(self.files),
            "content_version": str(self.content_version),
            "metadata_version": str(self.metadata_version),
            "version": str(self.version),
            "creation_time": iso_time(self.creation_time),
            "last_modified_time": iso_time(self.last_modified_time),
        }

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "library_id": self.library_id,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "creation_time": self.creation_time,
            "last_modified_time": self.last_modified_time,
            "content_version": self.content_version,
            "metadata_version": self.metadata_version,
            "version": self.version,
            "files": [file.to_dict() for file in self.files.values()],
        }

    @classmethod
    def from_dict(cls, data: JSON) -> Item:
        files = [ItemFile.from_dict(file) for file in data.get("files", [])]
        return cls(
            id=data["id"],
            library_id=data["library_id"],
            name=data["name"],
            description=data.get("description", ""),
            type=data.get("type", ""),
            creation_time=float(data["creation_time"]),
            last_modified_time=float(data["last_modified_time"]),
            content_version=int(data.get("content_version", 1)),
            metadata_version=int(data.get("metadata_version", 1)),
            version=int(data.get("version", 1)),
            files={file.name: file for file in files},
        )


@dataclass
class Library:
    id: str
    name: str
    description: str
    creation_time: float
    last_modified_time: float
    version: int = 1
    type: str = "LOCAL"

    def model(self, server_guid: str) -> JSON:
        """LibraryModel."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "creation_time": iso_time(self.creation_time),
            "last_modified_time": iso_time(self.last_modified_time),
            "version": str(self.version),
            "storage_backings": [storage_backing()],
            "server_guid": server_guid,
            "publish_info": {"published": False, "authentication_method": "NONE"},
            "optimization_info": {"optimize_remote_publishing": False},
            "state_info": {"state": "ACTIVE"},
        }

    def to_dict(self) -> JSON:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "type": self.type,
            "creation_time": self.creation_time,
            "last_modified_time": self.last_modified_time,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, data: JSON) -> Library:
        return cls(
            id=data["id"],
            name=data["name"],
            description=data.get("description", ""),
            creation_time=float(data["creation_time"]),
            last_modified_time=float(data["last_modified_time"]),
            version=int(data.get("version", 1)),
            type=data.get("type", "LOCAL"),
        )


# -- transient ----------------------------------------------------------------------


@dataclass
class Login:
    user: str
    readonly: bool
    created: float
    last_accessed: float


@dataclass(frozen=True)
class Principal:
    """The caller of an API operation."""

    user: str
    readonly: bool


@dataclass
class UploadFile:
    """A file of an update session (UpdateSession File.Info)."""

    name: str
    source_type: str  # PUSH | PULL | NONE (an item file carried over unchanged)
    status: str
    keep_in_storage: bool = True
    carried: ItemFile | None = None  # the item's file, when not replaced in this session
    expected_size: int | None = None
    expected_checksum: JSON | None = None  # {"algorithm", "checksum"} from the AddSpec
    source_endpoint: JSON | None = None
    size: int | None = None
    sha1: str | None = None
    checksum: str | None = None  # in the AddSpec's algorithm (SHA1 when none was given)
    bytes_transferred: int = 0
    error: JSON | None = None
    token: str | None = None
    temp: Path | None = None
    source_size: int | None = None  # a PULL source's Content-Length, once it answered
    puller: Any = None  # the running pulls.Puller of a PULL file (aborted with the session)
    # Bumped whenever a new transfer starts or the file is re-added, so a stale
    # transfer notices that it no longer owns the file.
    generation: int = 0

    @property
    def algorithm(self) -> str:
        if self.expected_checksum is not None:
            return str(self.expected_checksum.get("algorithm") or "SHA1")
        return "SHA1"

    def info(self, base: str) -> JSON:
        if self.carried is not None:
            return {
                "name": self.name,
                "source_type": "NONE",
                "status": "READY",
                "size": self.carried.size,
                "checksum_info": self.carried.checksum_info(),
                "bytes_transferred": 0,
                "keep_in_storage": True,
            }
        out: JSON = {
            "name": self.name,
            "source_type": self.source_type,
            "status": self.status,
            "bytes_transferred": self.bytes_transferred,
            "keep_in_storage": self.keep_in_storage,
        }
        if self.source_type == "PUSH" and self.token is not None:
            out["upload_endpoint"] = {"uri": data_uri(base, self.token, self.name)}
        if self.source_endpoint is not None:
            out["source_endpoint"] = self.source_endpoint
        if self.status == "READY" and self.size is not None:
            out["size"] = self.size
            out["checksum_info"] = {"algorithm": self.algorithm, "checksum": self.checksum}
        elif self.expected_checksum is not None:
            out["checksum_info"] = dict(self.expected_checksum)
        elif self.source_type == "PULL" and self.source_size is not None:
            out["size"] = self.source_size  # known from the source before the bytes are in
        if self.status == "ERROR" and self.error is not None:
            out["error_message"] = self.error
        return out


@dataclass
class Session:
    """What update and download sessions share: owner, item, state, progress, idle clock."""

    id: str
    user: str
    item_id: str
    content_version: str
    last_activity: float
    state: str = "ACTIVE"
    client_progress: int = 0
    error_message: JSON | None = None
    gone: bool = False  # set when deleted or expired, so running transfers stop

    def model(self, timeout: float) -> JSON:
        """The session model (vCenter leaves ``id`` out of get/list results)."""
        out: JSON = {
            "library_item_id": self.item_id,
            "library_item_content_version": self.content_version,
            "state": self.state,
            "client_progress": self.client_progress,
            "expiration_time": iso_time(self.last_activity + timeout),
        }
        if self.error_message is not None:
            out["error_message"] = self.error_message
        return out


@dataclass
class UpdateSession(Session):
    warning_behavior: list[JSON] | None = None
    files: dict[str, UploadFile] = field(default_factory=dict)
    # complete was called while PULL files were still transferring: the session completes
    # (or fails) by itself once they are done
    completing: bool = False

    def model(
        self, timeout: float, now: float | None = None, trusted: Sequence[Certificate] = ()
    ) -> JSON:
        """UpdateSessionModel: the shared members plus preview and warning behaviour."""
        out = super().model(timeout)
        if self.state == "ACTIVE":
            out["preview_info"] = self.preview_info(time.time() if now is None else now, trusted)
        if self.warning_behavior is not None:
            out["warning_behavior"] = self.warning_behavior
        return out

    def preview_info(self, now: float, trusted: Sequence[Certificate]) -> JSON:
        """What an ACTIVE session tells about the OVF it receives: NOT_APPLICABLE without a
        descriptor, PREPARING until the .ovf has arrived, then AVAILABLE; a signed OVF (a
        .cert beside it) carries its signer's certificate_info and the warnings it raises
        (certs.py), each `ignored` as the session's warning behaviour says."""
        sent = [f for f in self.files.values() if f.source_type != "NONE"]
        descriptors = [f for f in sent if f.name.lower().endswith(".ovf")]
        if not descriptors:
            return {"state": "NOT_APPLICABLE"}
        signatures = [f for f in sent if f.name.lower().endswith(".cert")]
        if any(f.status not in ("READY", "ERROR") for f in descriptors + signatures):
            return {"state": "PREPARING"}  # the descriptor or its signature still arrives
        if not signatures:
            return {"state": "AVAILABLE", "warnings": []}
        content = b""  # a .cert that failed to arrive is a signature that cannot be read
        if signatures[0].temp is not None:
            try:
                with signatures[0].temp.open("rb") as source:
                    content = source.read(MAX_CERT_FILE)
            except OSError:
                pass
        preview: JSON = {"state": "AVAILABLE", **signature_preview(content, now, trusted)}
        ignored = {b.get("type") for b in self.warning_behavior or [] if b.get("ignored")}
        for warning in preview["warnings"]:
            warning["ignored"] = warning["type"] in ignored
        return preview

    def unignored_warnings(self, now: float, trusted: Sequence[Certificate]) -> list[JSON]:
        """The preview's warnings the client has not ignored: they fail the session at
        complete."""
        preview = self.preview_info(now, trusted)
        return [w for w in preview.get("warnings", []) if not w["ignored"]]


@dataclass
class DownloadFile:
    """A file of a download session (DownloadSession File.Info)."""

    name: str
    size: int
    sha1: str
    blob: Path
    status: str = "UNPREPARED"
    bytes_transferred: int = 0
    token: str | None = None
    error: JSON | None = None
    stage: int = 0  # bumped per prepare request so stale stage timers do nothing

    def info(self, base: str) -> JSON:
        out: JSON = {
            "name": self.name,
            "status": self.status,
            "bytes_transferred": self.bytes_transferred,
        }
        if self.status == "PREPARED" and self.token is not None:
            out["size"] = self.size
            out["checksum_info"] = {"algorithm": "SHA1", "checksum": self.sha1}
            out["download_endpoint"] = {"uri": data_uri(base, self.token, self.name)}
        if self.status == "ERROR" and self.error is not None:
            out["error_message"] = self.error
        return out


@dataclass
class DownloadSession(Session):
    """DownloadSessionModel is exactly the shared session model."""

    files: dict[str, DownloadFile] = field(default_factory=dict)


def data_uri(base: str, token: str, name: str) -> str:
    """The URI of a data endpoint; it carries its own token, as on vCenter."""
    return f"{base}/cls/data/{token}/{quote(name, safe='')}"


def client_error(message: str) -> JSON:
    return localizable("com.vmware.vdcs.cls-main.client_error", message, [message])
