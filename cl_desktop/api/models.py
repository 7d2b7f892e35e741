"""Typed models of the Content Library item API: frozen dataclasses and enums, decoded leniently.

Member names are the JSON names of both dialects. Decoding ignores unknown members (vcsim leaks
internal Go fields), maps absent optional members to None and `null` lists to empty tuples, and
keeps enum values a newer server may add instead of failing on them.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any, TypeVar, cast

T = TypeVar("T")


class Dialect(StrEnum):
    """The REST dialect a server speaks (detected at login)."""

    API = "api"  # /api, vSphere 7.0U2 and later
    REST = "rest"  # /rest/com/vmware, vSphere 6.5 to 7.0U1 and vcsim


class VapiEnum(StrEnum):
    """A vAPI enumeration: an upper-case string that a newer server may extend."""

    @classmethod
    def _missing_(cls, value: object) -> VapiEnum | None:
        # "Newer versions of the enumerated type may contain new values" (the seed): keep them.
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = value
        member._value_ = value
        return member

    def __str__(self) -> str:
        return str(self.value)


class LibraryType(VapiEnum):
    LOCAL = "LOCAL"
    SUBSCRIBED = "SUBSCRIBED"


class StorageBackingType(VapiEnum):
    DATASTORE = "DATASTORE"
    OTHER = "OTHER"


class ChecksumAlgorithm(VapiEnum):
    """File.ChecksumAlgorithm; the server's default is SHA1."""

    SHA1 = "SHA1"
    MD5 = "MD5"
    SHA256 = "SHA256"
    SHA512 = "SHA512"

    @property
    def hashlib_name(self) -> str:
        return self.value.lower()


class UpdateSessionState(VapiEnum):
    ACTIVE = "ACTIVE"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELED = "CANCELED"


class DownloadSessionState(VapiEnum):
    ACTIVE = "ACTIVE"
    CANCELED = "CANCELED"
    ERROR = "ERROR"


class TransferStatus(VapiEnum):
    """Status of a file in an update session."""

    WAITING_FOR_TRANSFER = "WAITING_FOR_TRANSFER"
    TRANSFERRING = "TRANSFERRING"
    VALIDATING = "VALIDATING"
    READY = "READY"
    ERROR = "ERROR"


class PrepareStatus(VapiEnum):
    """Status of a file in a download session."""

    UNPREPARED = "UNPREPARED"
    PREPARE_REQUESTED = "PREPARE_REQUESTED"
    PREPARING = "PREPARING"
    PREPARED = "PREPARED"
    ERROR = "ERROR"


class SourceType(VapiEnum):
    NONE = "NONE"
    PUSH = "PUSH"
    PULL = "PULL"


class EndpointType(VapiEnum):
    HTTPS = "HTTPS"
    DIRECT = "DIRECT"


class PreviewState(VapiEnum):
    UNAVAILABLE = "UNAVAILABLE"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    PREPARING = "PREPARING"
    AVAILABLE = "AVAILABLE"


class WarningType(VapiEnum):
    SELF_SIGNED_CERTIFICATE = "SELF_SIGNED_CERTIFICATE"
    EXPIRED_CERTIFICATE = "EXPIRED_CERTIFICATE"
    NOT_YET_VALID_CERTIFICATE = "NOT_YET_VALID_CERTIFICATE"
    UNTRUSTED_CERTIFICATE = "UNTRUSTED_CERTIFICATE"


@dataclass(frozen=True)
class LocalizableMessage:
    id: str = ""
    default_message: str = ""
    args: tuple[str, ...] = ()
    localized: str | None = None

    def __str__(self) -> str:
        return self.localized or self.default_message or self.id


@dataclass(frozen=True)
class ChecksumInfo:
    checksum: str
    algorithm: ChecksumAlgorithm | None = None

    @property
    def effective_algorithm(self) -> ChecksumAlgorithm:
        """The seed: 'If not specified the default checksum algorithm is SHA1'."""
        return self.algorithm or ChecksumAlgorithm.SHA1


@dataclass(frozen=True)
class TransferEndpoint:
    uri: str
    ssl_certificate_thumbprint: str | None = None
    ssl_certificate: str | None = None


@dataclass(frozen=True)
class StorageBacking:
    type: StorageBackingType | None = None
    datastore_id: str | None = None
    storage_uri: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """The CIS (login) session."""

    user: str = ""
    created_time: datetime | None = None
    last_accessed_time: datetime | None = None


@dataclass(frozen=True)
class DatastoreSummary:
    datastore: str
    name: str = ""
    type: str | None = None
    free_space: int | None = None
    capacity: int | None = None


@dataclass(frozen=True)
class LibraryModel:
    id: str | None = None
    name: str | None = None
    description: str | None = None
    type: LibraryType | None = None
    creation_time: datetime | None = None
    last_modified_time: datetime | None = None
    last_sync_time: datetime | None = None
    version: str | None = None
    storage_backings: tuple[StorageBacking, ...] = ()
    server_guid: str | None = None


@dataclass(frozen=True)
class ItemModel:
    id: str | None = None
    library_id: str | None = None
    name: str | None = None
    description: str | None = None
    type: str | None = None
    size: int | None = None
    cached: bool | None = None
    content_version: str | None = None
    metadata_version: str | None = None
    version: str | None = None
    creation_time: datetime | None = None
    last_modified_time: datetime | None = None
    last_sync_time: datetime | None = None
    source_id: str | None = None


@dataclass(frozen=True)
class FileInfo:
    """File.Info of a library item (com.vmware.content.library.item.File.Info)."""

    name: str
    size: int | None = None
    cached: bool | None = None
    version: str | None = None
    checksum_info: ChecksumInfo | None = None
    file_download_endpoint: TransferEndpoint | None = None


@dataclass(frozen=True)
class StorageInfo:
    """Storage.Info: where one file of an item lives on one storage backing."""

    name: str
    storage_backing: StorageBacking | None = None
    storage_uris: tuple[str, ...] = ()
    size: int | None = None
    cached: bool | None = None
    version: str | None = None
    checksum_info: ChecksumInfo | None = None
    file_download_endpoint: TransferEndpoint | None = None


@dataclass(frozen=True)
class WarningBehavior:
    type: WarningType
    ignored: bool = False


@dataclass(frozen=True)
class CertificateInfo:
    issuer: str | None = None
    subject: str | None = None
    self_signed: bool | None = None
    x509: str | None = None


@dataclass(frozen=True)
class PreviewWarningInfo:
    type: WarningType
    message: LocalizableMessage | None = None
    ignored: bool = False


@dataclass(frozen=True)
class PreviewInfo:
    state: PreviewState
    certificate_info: CertificateInfo | None = None
    warnings: tuple[PreviewWarningInfo, ...] = ()
    cert_chain: tuple[str, ...] = ()


@dataclass(frozen=True)
class UpdateSessionModel:
    id: str | None = None
    library_item_id: str | None = None
    library_item_content_version: str | None = None
    error_message: LocalizableMessage | None = None
    client_progress: int | None = None
    state: UpdateSessionState | None = None
    expiration_time: datetime | None = None
    preview_info: PreviewInfo | None = None
    warning_behavior: tuple[WarningBehavior, ...] = ()


@dataclass(frozen=True)
class AddSpec:
    """updatesession File.AddSpec."""

    name: str
    source_type: SourceType = SourceType.PUSH
    source_endpoint: TransferEndpoint | None = None
    size: int | None = None
    checksum_info: ChecksumInfo | None = None


@dataclass(frozen=True)
class UpdateFileInfo:
    """File.Info of a file in an update session."""

    name: str
    source_type: SourceType | None = None
    size: int | None = None
    checksum_info: ChecksumInfo | None = None
    source_endpoint: TransferEndpoint | None = None
    upload_endpoint: TransferEndpoint | None = None
    bytes_transferred: int | None = None
    status: TransferStatus | None = None
    error_message: LocalizableMessage | None = None
    keep_in_storage: bool | None = None


@dataclass(frozen=True)
class ValidationError:
    name: str
    error_message: LocalizableMessage | None = None


@dataclass(frozen=True)
class ValidationResult:
    has_errors: bool = False
    missing_files: tuple[str, ...] = ()
    invalid_files: tuple[ValidationError, ...] = ()


@dataclass(frozen=True)
class DownloadSessionModel:
    id: str | None = None
    library_item_id: str | None = None
    library_item_content_version: str | None = None
    error_message: LocalizableMessage | None = None
    client_progress: int | None = None
    state: DownloadSessionState | None = None
    expiration_time: datetime | None = None


@dataclass(frozen=True)
class DownloadFileInfo:
    """File.Info of a file in a download session."""

    name: str
    size: int | None = None
    bytes_transferred: int | None = None
    status: PrepareStatus | None = None
    download_endpoint: TransferEndpoint | None = None
    checksum_info: ChecksumInfo | None = None
    error_message: LocalizableMessage | None = None


# --- decoding and encoding ---------------------------------------------------------------------

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(text: str) -> datetime:
    """ISO-8601 from vCenter ("...707Z") or vcsim (Go RFC3339Nano with an offset)."""
    text = _FRACTION.sub(r"\1", text.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def decode(cls: type[T], data: Any) -> T:
    """Build the dataclass `cls` from JSON `data`, leniently (see the module docstring)."""
    return cast(T, _converter(cls)(data))


_CONVERTERS: dict[Any, Callable[[Any], Any]] = {}


def _converter(tp: Any) -> Callable[[Any], Any]:
    """The decoder of one type, its type hints read once: a big library decodes
    thousands of items, and walking the hints each time cost a tenth of an item GET."""
    converter = _CONVERTERS.get(tp)
    if converter is None:
        converter = _CONVERTERS[tp] = _make_converter(tp)
    return converter


def _make_converter(tp: Any) -> Callable[[Any], Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(tp) if arg is not type(None)]
        convert = _converter(inner[0])
        return lambda data: None if data is None else convert(data)
    if origin is tuple:
        entry = _converter(typing.get_args(tp)[0])
        return lambda data: tuple(entry(value) for value in (data or ()))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = [(field.name, _converter(hints[field.name])) for field in dataclasses.fields(tp)]
        cls = tp

        def build(data: Any) -> Any:
            if not isinstance(data, dict):
                raise ValueError(
                    f"expected an object for {cls.__name__}, got {type(data).__name__}"
                )
            kwargs = {}
            for name, convert in fields:
                value = data.get(name)
                if value is not None:
                    kwargs[name] = convert(value)
            return cls(**kwargs)

        return build
    if tp is datetime:
        return parse_time
    if tp in (bool, int, str) or (isinstance(tp, type) and issubclass(tp, Enum)):
        return cast(Callable[[Any], Any], tp)
    return lambda data: data


def decode_list(cls: type[T], data: Any) -> tuple[T, ...]:
    return tuple(decode(cls, entry) for entry in (data or ()))


def encode(value: Any) -> Any:
    """JSON for a model or spec: None members are left out, enums become their strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            field.name: encode(getattr(value, field.name))
            for field in dataclasses.fields(value)
            if getattr(value, field.name) is not None
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [encode(entry) for entry in value]
    if isinstance(value, datetime):
        return format_time(value)
    return value
