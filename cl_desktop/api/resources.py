"""The SDK-shaped services of the client: one class per vSphere SDK service.

`client.update_sessions`, `client.update_session_files`, `client.download_sessions`,
`client.download_session_files`, `client.item_files`, `client.storage`, plus `libraries`,
`items` and `datastores` for browsing. Each operation is written once with its `/api` and `/rest`
paths side by side, so the two dialects cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import quote

from .errors import NotFound
from .models import (
    AddSpec,
    DatastoreSummary,
    Dialect,
    DownloadFileInfo,
    DownloadSessionModel,
    EndpointType,
    FileInfo,
    ItemModel,
    LibraryModel,
    LibraryType,
    StorageBacking,
    StorageBackingType,
    StorageInfo,
    UpdateFileInfo,
    UpdateSessionModel,
    ValidationResult,
    WarningBehavior,
    decode,
    decode_list,
    encode,
)

M = TypeVar("M")


class ApiCaller(Protocol):
    """What the services need of the client: its dialect and one call per operation."""

    @property
    def dialect(self) -> Dialect: ...

    def call(self, *args: Any, **kwargs: Any) -> Any: ...  # ContentLibraryClient.call


def new_client_token() -> str:
    return str(uuid.uuid4())


def _rest_id(value: str) -> str:
    return "id:" + quote(value, safe="")


def _q(value: str) -> str:
    return quote(value, safe="")


def _opt(**members: Any) -> dict[str, Any]:
    return {key: encode(val) for key, val in members.items() if val is not None}


class _Service:
    def __init__(self, client: ApiCaller) -> None:
        self._client = client

    def _call(self, *args: Any, **kwargs: Any) -> Any:
        return self._client.call(*args, **kwargs)

    def _patch(self, api_path: str, rest_path: str, op: str, **members: Any) -> None:
        """An update: PATCH with only the members given (the server keeps the rest)."""
        spec = _opt(**members)
        self._call("PATCH", api_path, rest_path, body=spec, rest_body={"update_spec": spec}, op=op)


class Datastores(_Service):
    """vcenter.Datastore list: what libraries can be created on."""

    def list(self) -> tuple[DatastoreSummary, ...]:
        value = self._call("GET", "/vcenter/datastore", "/vcenter/datastore", op="list datastores")
        return decode_list(DatastoreSummary, value)


class Libraries(_Service):
    def list(self) -> tuple[str, ...]:
        value = self._call(
            "GET", "/content/library", "/com/vmware/content/library", op="list libraries"
        )
        return tuple(value or ())

    def get(self, library_id: str) -> LibraryModel:
        value = self._call(
            "GET",
            f"/content/library/{_q(library_id)}",
            f"/com/vmware/content/library/{_rest_id(library_id)}",
            op="get library",
        )
        return decode(LibraryModel, value)

    def list_models(self) -> tuple[LibraryModel, ...]:
        """Every library with its details (skipping any deleted meanwhile)."""
        models = []
        for library_id in self.list():
            try:
                models.append(self.get(library_id))
            except NotFound:
                continue
        return tuple(models)

    def find(self, name: str | None = None, type: LibraryType | None = None) -> tuple[str, ...]:
        spec = _opt(name=name, type=type)
        value = self._call(
            "POST",
            "/content/library",
            "/com/vmware/content/library",
            action="find",
            body=spec,
            rest_body={"spec": spec},
            op="find library",
        )
        return tuple(value or ())

    def create_local(
        self,
        name: str,
        datastore_id: str,
        *,
        description: str = "",
        client_token: str | None = None,
    ) -> str:
        spec = {
            "name": name,
            "description": description,
            "type": LibraryType.LOCAL.value,
            "storage_backings": [
                encode(StorageBacking(StorageBackingType.DATASTORE, datastore_id=datastore_id))
            ],
        }
        value = self._call(
            "POST",
            "/content/local-library",
            "/com/vmware/content/local-library",
            body=spec,
            rest_body={"create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"create library {name!r}",
        )
        return str(value)

    def update(
        self, library_id: str, *, name: str | None = None, description: str | None = None
    ) -> None:
        """Rename a local library or change its description."""
        self._patch(
            f"/content/local-library/{_q(library_id)}",
            f"/com/vmware/content/local-library/{_rest_id(library_id)}",
            "update library",
            name=name,
            description=description,
        )

    def delete_local(self, library_id: str) -> None:
        """Delete a local library; the server deletes its items with it."""
        self._call(
            "DELETE",
            f"/content/local-library/{_q(library_id)}",
            f"/com/vmware/content/local-library/{_rest_id(library_id)}",
            op="delete library",
        )


class Items(_Service):
    def list(self, library_id: str) -> tuple[str, ...]:
        value = self._call(
            "GET",
            "/content/library/item",
            "/com/vmware/content/library/item",
            query={"library_id": library_id},
            op="list items",
        )
        return tuple(value or ())

    def get(self, item_id: str) -> ItemModel:
        value = self._call(
            "GET",
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            op="get item",
            lean=True,  # one per item: a big library's listing is thousands of these
        )
        return decode(ItemModel, value)

    def list_models(self, library_id: str) -> tuple[ItemModel, ...]:
        models = []
        for item_id in self.list(library_id):
            try:
                models.append(self.get(item_id))
            except NotFound:
                continue
        return tuple(models)

    def find(
        self,
        *,
        name: str | None = None,
        library_id: str | None = None,
        type: str | None = None,
        cached: bool | None = None,
        source_id: str | None = None,
    ) -> tuple[str, ...]:
        spec = _opt(name=name, library_id=library_id, type=type, cached=cached, source_id=source_id)
        value = self._call(
            "POST",
            "/content/library/item",
            "/com/vmware/content/library/item",
            action="find",
            body=spec,
            rest_body={"spec": spec},
            op="find item",
        )
        return tuple(value or ())

    def create(
        self,
        library_id: str,
        name: str,
        *,
        type: str | None = None,
        description: str | None = None,
        client_token: str | None = None,
    ) -> str:
        spec = _opt(library_id=library_id, name=name, type=type, description=description)
        value = self._call(
            "POST",
            "/content/library/item",
            "/com/vmware/content/library/item",
            body=spec,
            rest_body={"create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"create item {name!r}",
        )
        return str(value)

    def copy(
        self,
        item_id: str,
        library_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        client_token: str | None = None,
    ) -> str:
        """The server copies the item (its files on the datastore) into a new item in
        `library_id`; the new item's id. Servers without the operation answer 404."""
        spec = _opt(library_id=library_id, name=name, description=description)
        value = self._call(
            "POST",
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            action="copy",
            body=spec,
            rest_body={"destination_create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"copy item {item_id}",
        )
        return str(value)

    def update(
        self, item_id: str, *, name: str | None = None, description: str | None = None
    ) -> None:
        self._patch(
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            "update item",
            name=name,
            description=description,
        )

    def delete(self, item_id: str) -> None:
        self._call(
            "DELETE",
            f"/content/library/item/{_q(item_id)}",
            f"/com/vmware/content/library/item/{_rest_id(item_id)}",
            op="delete item",
        )


class ItemFiles(_Service):
    """library.item.File: the files stored for an item."""

    def list(self, item_id: str) -> tuple[FileInfo, ...]:
        value = self._call(
            "GET",
            f"/content/library/item/{_q(item_id)}/file",
            "/com/vmware/content/library/item/file",
            rest_query={"library_item_id": item_id},
            op="list item files",
        )
        return decode_list(FileInfo, value)

    def get(self, item_id: str, name: str) -> FileInfo:
        value = self._call(
            "GET" if self._client.dialect is Dialect.API else "POST",
            f"/content/library/item/{_q(item_id)}/file",
            f"/com/vmware/content/library/item/file/{_rest_id(item_id)}",
            action=None if self._client.dialect is Dialect.API else "get",
            query={"name": name},
            rest_query={},
            rest_body={"name": name},
            op=f"get file {name!r}",
        )
        return decode(FileInfo, value)


class Storage(_Service):
    """library.item.Storage: where an item's files are stored."""

    def list(self, item_id: str) -> tuple[StorageInfo, ...]:
        value = self._call(
            "GET",
            f"/content/library/item/{_q(item_id)}/storage",
            "/com/vmware/content/library/item/storage",
            rest_query={"library_item_id": item_id},
            op="list item storage",
        )
        return decode_list(StorageInfo, value)

    def get(self, item_id: str, file_name: str) -> tuple[StorageInfo, ...]:
        """One entry per storage backing holding the file."""
        api = self._client.dialect is Dialect.API
        value = self._call(
            "GET" if api else "POST",
            f"/content/library/item/{_q(item_id)}/storage",
            f"/com/vmware/content/library/item/storage/{_rest_id(item_id)}",
            action=None if api else "get",
            query={"file_name": file_name},
            rest_query={},
            rest_body={"file_name": file_name},
            op=f"get storage of {file_name!r}",
        )
        return decode_list(StorageInfo, value)


class SessionService(_Service, Generic[M]):
    """What update and download sessions share: create, get, list, cancel, fail, delete."""

    _API = ""
    _REST = ""
    _KIND = ""
    _model: type[M]

    def _create(self, spec: dict[str, Any], client_token: str | None) -> str:
        value = self._call(
            "POST",
            self._API,
            self._REST,
            body=spec,
            rest_body={"create_spec": spec},
            client_token=client_token or new_client_token(),
            op=f"create {self._KIND} session",
        )
        return str(value)

    def get(self, session_id: str) -> M:
        value = self._call(
            "GET",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            op=f"get {self._KIND} session",
        )
        model = decode(self._model, value)
        # vCenter leaves `id` out of get results; fill it in for callers.
        if getattr(model, "id", None):
            return model
        return dataclasses.replace(model, id=session_id)  # type: ignore[type-var]

    def list(self, item_id: str | None = None) -> tuple[str, ...]:
        """Ids of the calling user's sessions, optionally of one item."""
        value = self._call(
            "GET",
            self._API,
            self._REST,
            query={"library_item_id": item_id} if item_id else None,
            op=f"list {self._KIND} sessions",
        )
        return tuple(value or ())

    def cancel(self, session_id: str) -> None:
        self._action(session_id, "cancel")

    def fail(self, session_id: str, client_error_message: str) -> None:
        self._action(session_id, "fail", {"client_error_message": client_error_message})

    def delete(self, session_id: str) -> None:
        self._call(
            "DELETE",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            op=f"delete {self._KIND} session",
        )

    def _action(self, session_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        self._call(
            "POST",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            action=action,
            body=body if body is not None else {},
            op=f"{action} {self._KIND} session",
        )


class UpdateSessions(SessionService[UpdateSessionModel]):
    """library.item.UpdateSession: uploads into an item."""

    _API = "/content/library/item/update-session"
    _REST = "/com/vmware/content/library/item/update-session"
    _KIND = "update"
    _model = UpdateSessionModel

    def create(
        self,
        item_id: str,
        *,
        warning_behavior: tuple[WarningBehavior, ...] = (),
        client_token: str | None = None,
    ) -> str:
        spec: dict[str, Any] = {"library_item_id": item_id}
        if warning_behavior:
            spec["warning_behavior"] = encode(warning_behavior)
        return self._create(spec, client_token)

    def update(self, session_id: str, warning_behavior: tuple[WarningBehavior, ...]) -> None:
        spec = {"warning_behavior": encode(warning_behavior)}
        self._call(
            "PATCH",
            f"{self._API}/{_q(session_id)}",
            f"{self._REST}/{_rest_id(session_id)}",
            body=spec,
            rest_body={"update_spec": spec},
            op="update update session",
        )

    def keep_alive(self, session_id: str, client_progress: int | None = None) -> None:
        self._action(session_id, "keep-alive", _opt(client_progress=client_progress))

    def complete(self, session_id: str) -> None:
        self._action(session_id, "complete")


class UpdateSessionFiles(_Service):
    """library.item.updatesession.File: the files of an update session."""

    _API = "/content/library/item/update-session"
    _REST = "/com/vmware/content/library/item/updatesession/file"

    def add(self, session_id: str, spec: AddSpec) -> UpdateFileInfo:
        body = encode(spec)
        value = self._call(
            "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if self._client.dialect is Dialect.API else "add",
            body=body,
            rest_body={"file_spec": body},
            op=f"add file {spec.name!r}",
        )
        return decode(UpdateFileInfo, value)

    def get(self, session_id: str, file_name: str) -> UpdateFileInfo:
        api = self._client.dialect is Dialect.API
        value = self._call(
            "GET" if api else "POST",
            f"{self._API}/{_q(session_id)}/file/{_q(file_name)}",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if api else "get",
            rest_body={"file_name": file_name},
            op=f"get upload file {file_name!r}",
        )
        return decode(UpdateFileInfo, value)

    def list(self, session_id: str) -> tuple[UpdateFileInfo, ...]:
        value = self._call(
            "GET",
            f"{self._API}/{_q(session_id)}/file",
            self._REST,
            rest_query={"update_session_id": session_id},
            op="list upload files",
        )
        return decode_list(UpdateFileInfo, value)

    def remove(self, session_id: str, file_name: str) -> None:
        api = self._client.dialect is Dialect.API
        self._call(
            "DELETE" if api else "POST",
            f"{self._API}/{_q(session_id)}/file/{_q(file_name)}",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if api else "remove",
            rest_body={"file_name": file_name},
            op=f"remove upload file {file_name!r}",
        )

    def validate(self, session_id: str) -> ValidationResult | None:
        """The server's check of the session's files; None if the server sent no result
        (vcsim answers an empty 200)."""
        value = self._call(
            "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action="validate",
            op="validate upload files",
        )
        return None if value is None else decode(ValidationResult, value)


class DownloadSessions(SessionService[DownloadSessionModel]):
    """library.item.DownloadSession: downloads from an item."""

    _API = "/content/library/item/download-session"
    _REST = "/com/vmware/content/library/item/download-session"
    _KIND = "download"
    _model = DownloadSessionModel

    def create(self, item_id: str, *, client_token: str | None = None) -> str:
        return self._create({"library_item_id": item_id}, client_token)

    def keep_alive(self, session_id: str, progress: int | None = None) -> None:
        """Download sessions take `progress` (update sessions `client_progress`)."""
        self._action(session_id, "keep-alive", _opt(progress=progress))


class DownloadSessionFiles(_Service):
    """library.item.downloadsession.File: prepare files and get their download links."""

    _API = "/content/library/item/download-session"
    _REST = "/com/vmware/content/library/item/downloadsession/file"

    def list(self, session_id: str) -> tuple[DownloadFileInfo, ...]:
        value = self._call(
            "GET",
            f"{self._API}/{_q(session_id)}/file",
            self._REST,
            rest_query={"download_session_id": session_id},
            op="list download files",
        )
        return decode_list(DownloadFileInfo, value)

    def get(self, session_id: str, file_name: str) -> DownloadFileInfo:
        api = self._client.dialect is Dialect.API
        value = self._call(
            "GET" if api else "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action=None if api else "get",
            query={"file_name": file_name},
            rest_query={},
            rest_body={"file_name": file_name},
            op=f"get download file {file_name!r}",
        )
        if value is None:  # vcsim: a file never prepared
            raise NotFound(f"{file_name!r} is not prepared", operation="get download file")
        return decode(DownloadFileInfo, value)

    def prepare(
        self, session_id: str, file_name: str, endpoint_type: EndpointType = EndpointType.HTTPS
    ) -> DownloadFileInfo:
        body = {"file_name": file_name, "endpoint_type": endpoint_type.value}
        value = self._call(
            "POST",
            f"{self._API}/{_q(session_id)}/file",
            f"{self._REST}/{_rest_id(session_id)}",
            action="prepare",
            body=body,
            op=f"prepare {file_name!r}",
        )
        return decode(DownloadFileInfo, value)
